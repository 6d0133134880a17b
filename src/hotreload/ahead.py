"""Compiling ahead: the changed statements of a save compiled off the lock.

A reload applied on the main thread pauses the program for as long as it
runs, and most of that time is the compiler: a 10,000-line module with every
body edited compiles in about 65 ms, while loading its compiled code takes
2.5 ms.  The compiler holds the interpreter's lock, so a thread would not
help; another process does.  Before the watcher queues a reload for the main
thread, it asks the engine which texts that reload will compile alone (the
statements whose text changed, ``_hotreload._alone_texts``), has a helper
process compile them (the same interpreter, with the same optimisation
level), and hands the engine the code (``_hotreload._precompiled_put``).
The watcher's thread waits for the helper without the lock; the main
thread runs meanwhile.  The reload then loads that code instead of
compiling the same text, and forgets what it did not use.

Nothing here can change what a reload does: code is used only for the exact
text and file name it was compiled from, as compile() would have made it.
When anything fails (no helper, a text that does not compile, a helper that
dies or does not answer in time), the reload compiles as it always did; a
text that does not compile is left to the reload, which reports it.  The
helper is started on first use (again if it died between two requests;
never again once a request failed) and stopped with the watcher.
"""
from __future__ import annotations

import logging
import marshal
import os
import re
import select
import struct
import subprocess
import sys
import threading
from typing import Iterable, List, Optional, Tuple

from hotreload import _hotreload

log = logging.getLogger("hotreload")

# The helper: reads a request (a marshalled list of (file name, text,
# lines)), answers with a marshalled list of code objects, None where the
# text does not compile.  Each text is compiled as if `lines` blank lines
# preceded it, as the engine's own moved pieces are (text/source.c): compiled
# where it is, then moved down, unless its code records the line it was
# compiled at (3.13's __firstlineno__ of a class body), which is compiled
# behind the blank lines.  Each message is its length (8 bytes,
# little-endian), then the bytes.
_HELPER = r"""
import marshal, struct, sys
read, write = sys.stdin.buffer, sys.stdout.buffer
CodeType = type(compile("", "", "exec"))
def exactly(n):
    data = b""
    while len(data) < n:
        chunk = read.read(n - len(data))
        if not chunk:
            raise SystemExit(0)
        data += chunk
    return data
def records_first_line(code):
    return "__firstlineno__" in code.co_names or any(
        isinstance(c, CodeType) and records_first_line(c) for c in code.co_consts)
def moved(code, lines):
    consts = tuple(moved(c, lines) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)
def at_its_lines(text, filename, lines):
    code = compile(text, filename, "exec", dont_inherit=True)
    if lines == 0:
        return code
    if records_first_line(code):
        return compile("\n" * lines + text, filename, "exec", dont_inherit=True)
    return moved(code, lines)
while True:
    jobs = marshal.loads(exactly(struct.unpack("<Q", exactly(8))[0]))
    codes = []
    for filename, text, lines in jobs:
        try:
            codes.append(at_its_lines(text.decode("utf-8"), filename, lines))
        except (SyntaxError, ValueError, UnicodeDecodeError):
            codes.append(None)
    answer = marshal.dumps(codes)
    write.write(struct.pack("<Q", len(answer)) + answer)
    write.flush()
"""

# A helper that has not answered in this long is stopped, and the reload
# compiles on its own.
TIMEOUT_S = 30.0


def _is_python(executable: str) -> bool:
    """Whether `executable` names a Python interpreter.  In a program that
    embeds Python (a game engine), sys.executable is the program itself:
    starting it with -c would start another copy of the game."""
    return bool(re.fullmatch(r"python(\d+(\.\d+)?)?", os.path.basename(executable or "")))


class CompileHelper:
    """A process of this same interpreter that compiles texts for the engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Optional[subprocess.Popen] = None
        self._broken = False  # could not start, or failed a request: not tried again

    def available(self) -> bool:
        return not self._broken and os.name == "posix" and _is_python(sys.executable)

    def _start(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is not None:
            self._stop()  # it died between two requests: a new one
        if self._process is None:
            # The same interpreter, isolated from the environment and the
            # user's site, with the program's optimisation level: its code
            # is what compile() makes here.
            optimize = ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", *optimize, "-c", _HELPER],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                close_fds=True,
            )
        return self._process

    def compile(self, jobs: List[Tuple[str, bytes, int]]) -> Optional[list]:
        """The code of each (file name, text, lines): the text compiled as
        if `lines` blank lines preceded it, None where it does not compile;
        None in all if the helper cannot answer."""
        if not jobs or not self.available():
            return None
        with self._lock:
            try:
                process = self._start()
                request = marshal.dumps(jobs)
                process.stdin.write(struct.pack("<Q", len(request)) + request)
                process.stdin.flush()
                size = struct.unpack("<Q", self._read(process, 8))[0]
                codes = marshal.loads(self._read(process, size))
            except (OSError, ValueError, EOFError, TypeError, struct.error) as exc:
                log.debug("hotreload: the compile helper failed (%s); reloads compile alone", exc)
                self._stop()
                self._broken = True
                return None
        if not isinstance(codes, list) or len(codes) != len(jobs):
            return None
        return codes

    @staticmethod
    def _read(process: subprocess.Popen, size: int) -> bytes:
        data = bytearray()
        fd = process.stdout.fileno()
        while len(data) < size:
            ready, _, _ = select.select([fd], [], [], TIMEOUT_S)
            if not ready:
                raise OSError(f"no answer in {TIMEOUT_S:g} s")
            chunk = os.read(fd, size - len(data))
            if not chunk:
                raise EOFError("the helper exited")
            data += chunk
        return bytes(data)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if process is not None:
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass

    def close(self) -> None:
        with self._lock:
            self._stop()


def compile_ahead(helper: CompileHelper, modules: Iterable[Tuple[str, str, bytes]]) -> int:
    """Compiles, in `helper`, what reloading each (module name, file name,
    new source) will compile alone, and hands the engine the code; returns
    how many texts.  A module any text of which does not compile gets
    nothing (the reload compiles it and reports the error)."""
    entries = []
    for name, filename, source in modules:
        try:
            texts = _hotreload._alone_texts(name, source)
        except (UnicodeDecodeError, SyntaxError, LookupError):
            # Not decodable as an import decodes it (bytes that are not the
            # declared encoding, a bad or unknown coding cookie): the reload
            # refuses it and says why; the other modules are compiled.
            continue
        codes = helper.compile([(filename, text, lines) for text, lines in texts]) if texts else None
        if codes is None or any(code is None for code in codes):
            continue
        entries += [(filename, text, lines, code) for (text, lines), code in zip(texts, codes)]
    _hotreload._precompiled_put(entries)
    return len(entries)
