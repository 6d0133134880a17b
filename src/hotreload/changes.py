"""Applying what changed on disk, and telling what came of it once.

A watcher, the IPython extension and the demo all do the same thing when a
file may have changed: reload the modules whose files changed (or run a
hotfix script) and tell the user the outcome.  `Reloader` does it; each
outcome is an `Event`.  An outcome that would only repeat one already told
is not told again: a save that does not compile is told once, and seeing
the same bytes again (the editor saved twice, another module changed) says
nothing; a deleted file is told once, until it comes back.

    reloader = Reloader()
    for event in reloader.apply():     # never raises ReloadError
        print(event.format())
"""
from __future__ import annotations

import hashlib
import os
import runpy
import sys
import threading
import traceback
from dataclasses import dataclass
from importlib.machinery import SourceFileLoader
from stat import S_ISREG
from typing import Dict, Iterable, List, Optional, Set, Tuple

import hotreload
from hotreload import Report, ReloadError, _hotreload

__all__ = ["Event", "Reloader", "user_traceback"]

# Frames from these files are the machinery's, not the user's: they are left
# out of the tracebacks shown to the user.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_RUNPY = os.path.abspath(runpy.__file__)


def internal_file(filename: str) -> bool:
    """Whether code in ``filename`` is the machinery's (hotreload, runpy,
    importlib), which the user's tracebacks leave out."""
    return (
        filename.startswith(_PACKAGE_DIR)
        or filename == _RUNPY
        or filename.startswith("<frozen importlib")
        or filename.startswith("<frozen runpy")
    )


def user_traceback(tb, limit: int = 8) -> List[str]:
    """The frames of traceback ``tb`` that belong to the user's code (those of
    hotreload itself, runpy and importlib left out), formatted as the
    ``traceback`` module does: file, line, function and the source line.
    Only the innermost ``limit`` frames are kept."""
    frames = [frame for frame in traceback.extract_tb(tb) if not internal_file(frame.filename)]
    return traceback.format_list(frames[-limit:])


def _error_details(error: BaseException) -> List[str]:
    """Where in the user's code a refused reload or hotfix went wrong."""
    cause = error.__cause__
    if cause is None:
        return []
    if isinstance(cause, SyntaxError):
        # File, line, the source line and a caret; the message itself is
        # already in the first line of the event.
        return traceback.format_exception_only(type(cause), cause)[:-1]
    return user_traceback(cause.__traceback__)


PROBLEMS = ("failed", "gone", "unreadable", "hotfix failed", "script", "waiting",
            "fleet refused")


@dataclass
class Event:
    """One outcome to tell.

    ``kind`` is one of ``"reloaded"`` (``report`` says what changed),
    ``"hotfix"`` (a hotfix script applied; ``report``), ``"failed"`` (a
    reload was refused and nothing changed; ``error`` is the ReloadError),
    ``"hotfix failed"`` (``error``), ``"gone"`` / ``"unreadable"`` (a
    module's source file was deleted / cannot be read: the module keeps
    running what it has), ``"script"`` (the program's ``__main__`` file
    changed, which cannot be reloaded in place) and ``"waiting"`` (a
    watcher's reload queued for the main thread has not applied for
    ``hotreload.watch.WAIT_NOTICE`` seconds: the main thread is blocked in
    C; the reload's own event follows when it applies), ``"fleet"`` /
    ``"fleet refused"`` (a change set pushed to the fleet applied / was
    refused: ``hotreload.fleet``).  ``message`` is one
    line.
    """

    kind: str
    message: str
    report: Optional[Report] = None
    error: Optional[BaseException] = None

    @property
    def problem(self) -> bool:
        """Whether the user needs to act (everything but a success)."""
        return self.kind in PROBLEMS

    def format(self, verbose: bool = False) -> str:
        """The message; for an error, the user's code where it happened (file,
        line and source line); with ``verbose``, every name a reload touched."""
        lines = [self.message]
        if self.error is not None:
            lines += [line.rstrip("\n") for line in _error_details(self.error)]
        elif verbose and self.report is not None:
            for kind in ("updated", "added", "removed", "replaced", "kept", "stale"):
                names = getattr(self.report, kind)
                if names:
                    lines.append(f"  {kind}: {', '.join(names)}")
            for name, count in self.report.instances.items():
                lines.append(f"  {name}: __reload_instance__ ran on {count} instances")
        return "\n".join(lines)


def _read(path: str) -> Optional[bytes]:
    """The bytes of a regular file, or None if it cannot be read.  Opened
    without blocking and checked before reading: a FIFO put in place of a
    source file would otherwise hang the reader until something writes."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        with open(fd, "rb") as f:
            if not S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            return f.read()
    except OSError:
        return None


def _fingerprint(path: Optional[str]) -> Optional[bytes]:
    """A digest of a file's bytes, or None if it cannot be read."""
    data = None if path is None else _read(path)
    return None if data is None else hashlib.sha1(data).digest()


class Reloader:
    """Reloads changed modules and runs hotfix scripts; tells each outcome once.

    Modules imported before ``hotreload.install()`` have no recorded source;
    the Reloader asks the engine to watch the files of those already
    imported when it is made (those the folder policy allows), and the
    engine's change detector reports them when their bytes change: the
    engine runs such a module in full, keeps its data and records it from
    then on.

    Safe to call from several threads: one call applies at a time.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._told_errors: Dict[Optional[str], Tuple[Optional[bytes], str]] = {}
        self._told_missing: Set[str] = set()
        self._told_files: Dict[str, Optional[bytes]] = {}
        self._standing: List[Event] = []
        self._unapplied: Set[str] = set()  # files of the last refused batch
        self.last: Optional[Event] = None
        self._adopt_imported()

    def standing_errors(self) -> List[Event]:
        """Refused reloads not yet followed by a good one (already told)."""
        with self._lock:
            return list(self._standing)

    # -- modules ------------------------------------------------------------
    def apply(self, paths: Optional[Iterable[str]] = None) -> List[Event]:
        """Reload, in one transaction, the modules whose source changed.

        ``paths``: only the modules of these files (a watcher passes the
        files it saw change), and those of a batch refused before, which
        apply with it once it is fixed; None: every recorded module
        (``reload_changed()``).  Returns the events not told before: what
        was reloaded, or why nothing was (ReloadError is never raised), and
        source files gone missing.
        """
        with self._lock:
            events: List[Event] = []
            missing: List[str] = []
            if paths is not None:
                paths = self._unapplied | set(paths)
            try:
                changed, looked_at = _hotreload.changed(paths, missing)
                checked = set(looked_at)
                changed = hotreload._leave_pushed(changed)  # a fleet's push stays
                if changed:
                    # One transaction: a broken file refuses the whole batch.
                    events += self._reloaded(_hotreload.reload(*changed))
            except ReloadError as error:
                events += self._refused(error)
                if paths is not None:
                    self._unapplied = paths
            else:
                self._told_errors.clear()
                self._standing = []
                self._unapplied = set()
            events += self._missing(missing, checked)
            if events:
                self.last = events[-1]
            return events

    def _reloaded(self, raw: dict) -> List[Event]:
        report = hotreload._finish(raw)
        if not report.modules:
            return []
        return [Event("reloaded", str(report), report=report)]

    def _refused(self, error: ReloadError) -> List[Event]:
        module = getattr(error, "module", None)
        told = (_fingerprint(self._source_path(module)), str(error))
        if self._told_errors.get(module) == told:
            return []
        self._told_errors[module] = told
        event = Event("failed", str(error), error=error)
        self._standing = [e for e in self._standing if getattr(e.error, "module", None) != module]
        self._standing.append(event)
        return [event]

    def _missing(self, names: List[str], checked: Set[str]) -> List[Event]:
        # A module whose file is back is told again if the file goes again.
        self._told_missing -= checked - set(names)
        events = []
        for name in names:
            if name in self._told_missing:
                continue
            self._told_missing.add(name)
            path = self._source_path(name)
            if path is not None and os.path.exists(path):
                events.append(Event("unreadable", f"{name}: cannot read {path}; "
                                    "the module keeps running its current code"))
            else:
                events.append(Event("gone", f"{name}: its source file {path} is gone; "
                                    "the module keeps running its current code"))
        return events

    @staticmethod
    def _source_path(module: Optional[str]) -> Optional[str]:
        if module is None:
            return None
        path = _hotreload.source_path(module)
        if path is not None:
            return path
        return getattr(sys.modules.get(module), "__file__", None)

    # -- modules imported before install() ---------------------------------
    def _adopt_imported(self) -> None:
        recorded = set(hotreload.recorded())
        for name, module in list(sys.modules.items()):
            spec = getattr(module, "__spec__", None)
            path = getattr(spec, "origin", None)
            if (
                name not in recorded
                and name != "__main__"
                and isinstance(getattr(spec, "loader", None), SourceFileLoader)
                and isinstance(path, str)
            ):
                # The engine applies the folder policy, links included.
                _hotreload.watch_unrecorded(name, path)

    # -- other files -------------------------------------------------------
    def hotfix(self, path: str) -> List[Event]:
        """Run the hotfix script at ``path`` (see ``hotreload.hotfix``), once
        for each content the file has: the same bytes are not run again."""
        with self._lock:
            fingerprint = _fingerprint(path)
            if fingerprint is None or self._told_files.get(path) == fingerprint:
                return []
            self._told_files[path] = fingerprint
            name = os.path.basename(path)
            try:
                filename, source = hotreload._script(path)
                report = hotreload._finish(_hotreload.hotfix(source, filename))
            except ReloadError as error:
                event = Event("hotfix failed", f"hotfix {name} not applied: {error.reason}",
                              error=error)
            except (OSError, UnicodeDecodeError, SyntaxError) as error:
                # The file vanished or is not a Python source text.
                event = Event("hotfix failed", f"hotfix {name} not applied: "
                              f"{type(error).__name__}: {error}")
            else:
                event = Event("hotfix", f"hotfix {name} applied ({report})", report=report)
            self.last = event
            return [event]

    def seen(self, path: str) -> None:
        """Take the current bytes of ``path`` as already told (a hotfix script
        present before the watcher started, the program's own script)."""
        with self._lock:
            self._told_files[path] = _fingerprint(path)

    def script_changed(self, path: str) -> List[Event]:
        """The program's ``__main__`` file changed: say, once per content,
        that it cannot be reloaded in place."""
        with self._lock:
            fingerprint = _fingerprint(path)
            if fingerprint is None or self._told_files.get(path) == fingerprint:
                return []
            self._told_files[path] = fingerprint
            event = Event("script", f"{os.path.basename(path)} changed, but it runs as "
                          "__main__, which cannot be reloaded in place: the change applies "
                          "at the next start (put the code to reload in modules it imports)")
            self.last = event
            return [event]
