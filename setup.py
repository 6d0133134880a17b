"""Build script for the C engine.

Metadata lives in pyproject.toml; this file only describes the extension.

Environment switches (used by the Makefile, not needed for a normal install):
  HOTRELOAD_STRICT=1    -Wall -Wextra -Werror
  HOTRELOAD_DEBUG=1     -O0 -g3 -UNDEBUG (assertions on)
  HOTRELOAD_SANITIZE=1  AddressSanitizer and UndefinedBehaviorSanitizer
"""
import glob
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ENGINE = "src/hotreload/_engine"
# The public C API header (hotreload.get_include()); capi.c implements it.
INCLUDE = "src/hotreload/include"


def flag(name):
    return os.environ.get(name, "") not in ("", "0")


compile_args = ["-std=c11", "-fvisibility=hidden"]
link_args = []
if flag("HOTRELOAD_STRICT"):
    compile_args += ["-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers"]
if flag("HOTRELOAD_DEBUG"):
    compile_args += ["-O0", "-g3", "-UNDEBUG"]
if flag("HOTRELOAD_SANITIZE"):
    sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
    compile_args += sanitize + ["-O1", "-g"]
    link_args += sanitize

# Objects built with one set of switches must never be linked into a build
# with another: setuptools only recompiles a source older than its object,
# so a sanitized build would otherwise reuse the plain objects (and a plain
# one the sanitized).  Each set gets a build folder of its own.
variant = "-".join(
    name.lower() for name in ("STRICT", "DEBUG", "SANITIZE") if flag(f"HOTRELOAD_{name}")
) or "default"


class BuildExt(build_ext):
    """Links the engine without the interpreter's run path.

    An interpreter built with --enable-shared under its own prefix (pyenv's)
    hands extensions a link command with `-Wl,-rpath,<prefix>/lib`.  The
    engine needs nothing but libc, so that path would only carry the build
    machine's folders into a wheel (auditwheel leaves it there) and have the
    loader look for libc in them on the user's machine first.
    """

    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            self.compiler.linker_so = [
                arg for arg in self.compiler.linker_so if not arg.startswith(("-Wl,-rpath,", "-Wl,-rpath="))
            ]
        super().build_extensions()


setup(
    cmdclass={"build_ext": BuildExt},
    options={"build": {"build_base": f"build/{variant}"}},
    ext_modules=[
        Extension(
            "hotreload._hotreload",
            sources=sorted(glob.glob(f"{ENGINE}/*/*.c")),
            # Listed so that editing a header, or this script (its flags and
            # link command), rebuilds every engine file.
            depends=sorted(glob.glob(f"{ENGINE}/*.h") + glob.glob(f"{INCLUDE}/hotreload/*.h")) + ["setup.py"],
            include_dirs=[ENGINE, INCLUDE],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
    ]
)
