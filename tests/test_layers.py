"""The engine's folders are the stages of a reload, and calls go one way.

tools/layers.py reads the engine's C files and fails on a call from a folder
to a later one, or on files that call each other in a circle; it runs here
so that a change that breaks the layering fails the suite.

Below it, the engine's one platform file: no other file speaks to the
operating system.
"""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "layers.py")

pytestmark = pytest.mark.skipif(not os.path.exists(TOOL), reason="run from the source tree only")


def test_no_stage_calls_a_later_one_and_no_circle():
    proc = subprocess.run([sys.executable, TOOL], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith(
        "no circle, and no layer calls a higher one (base < text < run < commit < reload < bind)")


def test_the_tool_finds_a_call_upward_and_a_circle(tmp_path):
    """Two files of a made-up engine: base/low.c calls text/high.c, which
    calls it back."""
    (tmp_path / "base").mkdir()
    (tmp_path / "text").mkdir()
    (tmp_path / "base" / "low.c").write_text("int\nhr_low(void)\n{\n    return hr_high();\n}\n")
    (tmp_path / "text" / "high.c").write_text("int\nhr_high(void)\n{\n    return hr_low();\n}\n")
    proc = subprocess.run([sys.executable, TOOL, str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert "upward: base/low calls text/high (hr_high)" in proc.stdout
    assert "circle of 2: base/low, text/high" in proc.stdout


# ---------------------------------------------------------------------------
# The platform layer: base/platform.c alone speaks to the operating system
# (hotreload.h, "base/platform.c"), so that a port to another system is that
# one file's work.  Every other engine file includes only headers of the C
# standard (C11), Python.h and the engine's own, and calls, declares and
# names nothing of POSIX.

ENGINE = os.path.join(ROOT, "src", "hotreload", "_engine")
PLATFORM = os.path.join("base", "platform.c")

# The headers of C11 (7.1.2): what every C compiler has.
C_HEADERS = {
    "assert.h", "complex.h", "ctype.h", "errno.h", "fenv.h", "float.h", "inttypes.h",
    "iso646.h", "limits.h", "locale.h", "math.h", "setjmp.h", "signal.h", "stdalign.h",
    "stdarg.h", "stdatomic.h", "stdbool.h", "stddef.h", "stdint.h", "stdio.h", "stdlib.h",
    "stdnoreturn.h", "string.h", "tgmath.h", "threads.h", "time.h", "uchar.h", "wchar.h",
    "wctype.h",
}
# time.h is C, but its clocks are not (clock_gettime is POSIX): it is
# allowed in platform.c alone, like every system header.
C_HEADERS_NOT_FOR_THE_ENGINE = {"time.h", "signal.h", "threads.h", "locale.h", "setjmp.h"}
OWN_HEADERS = {"Python.h", "hotreload/hotreload_api.h", "hotreload.h", "compat.h"}

# Functions of POSIX (and of the GNU and BSD C libraries) that Python.h
# makes visible on Linux: called anywhere but platform.c, they tie the
# engine to those systems.
SYSTEM_CALLS = (
    "open", "openat", "close", "read", "write", "pread", "lseek", "stat", "fstat", "lstat",
    "fstatat", "access", "realpath", "readlink", "getcwd", "chdir", "unlink", "rename",
    "mkdir", "rmdir", "opendir", "readdir", "closedir", "fcntl", "ioctl", "mmap", "munmap",
    "clock_gettime", "clock_getres", "gettimeofday", "nanosleep", "usleep", "sleep",
    "memmem", "memrchr", "rawmemchr", "strdup", "strndup", "strnlen", "strtok_r",
    "strcasecmp", "strncasecmp", "strsep", "stpcpy", "strerror_r", "geteuid", "getuid",
    "getegid", "getgid", "getpid", "getppid", "getpwuid", "getpwuid_r", "getpwnam",
    "getpwnam_r", "getgrgid", "getgrgid_r", "dlopen", "dlsym", "dlclose", "fork", "execv",
    "execve", "execvp", "pipe", "dup", "dup2", "select", "poll", "isatty", "fileno",
    "fdopen", "popen", "pclose", "sysconf", "posix_memalign", "sigaction", "kill",
    "gmtime_r", "localtime_r", "setenv", "unsetenv", "alloca",
)
SYSTEM_NAMES = re.compile(
    r"(?<![\w.>])(?:(?P<call>" + "|".join(SYSTEM_CALLS) + r")\s*\("
    r"|(?P<pthread>pthread_\w+)"
    r"|(?P<type>ssize_t|pid_t|uid_t|gid_t|mode_t|off_t|struct\s+(?:stat|timespec|timeval|passwd|group|dirent))\b)"
)
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"')


def system_uses(engine):
    """Every use of the system outside platform.c: (file, line, what)."""
    found = []
    for folder, _, files in os.walk(engine):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, engine)
            if relative == PLATFORM:
                continue
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for match in INCLUDE.finditer(text):
                header = match.group(1)
                if header in OWN_HEADERS or (header in C_HEADERS
                                             and header not in C_HEADERS_NOT_FOR_THE_ENGINE):
                    continue
                line = text.count("\n", 0, match.start()) + 1
                found.append((relative, line, f"#include <{header}>"))
            # Comments and strings are blanked, their line breaks kept.
            code = COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
            code = STRING.sub(lambda m: " " * len(m.group()), code)
            for match in SYSTEM_NAMES.finditer(code):
                line = code.count("\n", 0, match.start()) + 1
                what = match.group("call") or match.group("pthread") or match.group("type")
                found.append((relative, line, re.sub(r"\s+", " ", what)))
    return found


def test_only_the_platform_file_speaks_to_the_system():
    assert os.path.exists(os.path.join(ENGINE, PLATFORM))
    uses = system_uses(ENGINE)
    assert uses == [], "system headers or calls outside base/platform.c:\n" + "\n".join(
        f"  {file}:{line}: {what}" for file, line, what in uses)


def test_the_platform_check_finds_system_headers_calls_and_types(tmp_path):
    """A made-up engine: base/platform.c may do anything; text/scan.c may
    not, but may name the platform's functions, mention calls in comments
    and strings, and call struct members that share a system call's name."""
    (tmp_path / "base").mkdir()
    (tmp_path / "text").mkdir()
    (tmp_path / "base" / "platform.c").write_text(
        "#include <unistd.h>\n#include <sys/stat.h>\nint\nhr_os_x(void)\n{\n"
        "    struct stat s;\n    return stat(\"/\", &s) + (int)getpid();\n}\n")
    (tmp_path / "text" / "scan.c").write_text(
        '#include "hotreload.h"\n'
        "#include <string.h>\n"
        "#include <unistd.h>\n"
        "#include <time.h>\n"
        "/* read(2) and memmem(3) are named in a comment */\n"
        "static int\n"
        "scan(const char *t, size_t n, struct io *io)\n"
        "{\n"
        "    const char *m = \"open(\";\n"
        "    io->read(t);\n"
        "    ssize_t got = read(0, (void *)t, n);\n"
        "    return hr_memmem(t, n, m, 5) != NULL || memmem(t, n, \"a\", 1) != NULL\n"
        "           || hr_os_stat(NULL, NULL) || got;\n"
        "}\n")
    uses = system_uses(str(tmp_path))
    scan = os.path.join("text", "scan.c")
    assert uses == [
        (scan, 3, "#include <unistd.h>"),
        (scan, 4, "#include <time.h>"),
        (scan, 11, "ssize_t"),
        (scan, 11, "read"),
        (scan, 12, "memmem"),
    ]
