"""Watching folders and reloading what changed, at a safe point.

    watcher = hotreload.Watcher(["src"]).start()   # in the main thread
    ...                                            # the program runs; saves apply
    watcher.stop()

A `Watcher` notices saved ``.py`` files in its folders (with the
``watchdog`` library when it is installed, which uses inotify on Linux, or
by polling ``os.stat``), waits until a burst of saves has been quiet for
``quiet`` seconds (an editor writes a file in several steps), then reloads
the modules of those files whose bytes differ from the source they were
built from, in one transaction, through a `Reloader` (see
``hotreload.changes``): a touch does nothing, and a save that does not
compile is told once and changes nothing until the next good save.

Where the reload runs: by default on the main thread, at its next safe
point between two bytecodes (``hotreload.call_on_main_thread``), so no
second thread changes functions and classes while the main thread runs
them: the program sees the change between two of its own steps.  A main
thread blocked in C (waiting on a socket, in ``time.sleep``) applies it
when it comes back to Python code; a program whose main thread stays in C
for good passes ``apply="thread"`` to have the watcher's thread apply it
(the engine commits without running Python code, so no thread sees a
half-updated module, but the other threads go on running while it is
prepared).  A reload still queued ``WAIT_NOTICE`` seconds after it was
queued is told once, as a ``"waiting"`` event: a save that seems to do
nothing is never silent.

Before it queues a reload, the watcher's thread has the statements that
changed compiled in a helper process (``hotreload.ahead``), without the
interpreter's lock: the main thread then waits only for loading that code,
running what changed and the commit (``precompile=False`` turns it off).
"""
from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

import hotreload
from hotreload import _hotreload
from hotreload.ahead import CompileHelper, compile_ahead
from hotreload.changes import Event, Reloader

__all__ = ["Watcher", "Debouncer", "DEFAULT_EXCLUDE", "DEFAULT_POLL"]

log = logging.getLogger("hotreload")

#: Never watched: hidden files and folders (editor swap and lock files,
#: .git, .venv) and bytecode caches.
DEFAULT_EXCLUDE = (".*", "__pycache__")
#: Seconds between two scans when polling.
DEFAULT_POLL = 0.25
#: Seconds a reload queued for the main thread may wait before the watcher
#: says why it has not applied (once per wait).  A main thread that runs
#: Python code reaches a safe point within a few milliseconds; one that has
#: not in this long is blocked in C, and may stay so.
WAIT_NOTICE = 2.0


class Debouncer:
    """Tells when a burst of pokes has been quiet for ``quiet`` seconds.

    ``poke()`` from any thread; ``wait()`` blocks until a burst is due and
    consumes it.  ``clock`` is for tests.
    """

    def __init__(self, quiet: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet = quiet
        self._clock = clock
        self._last: Optional[float] = None
        self._closed = False
        self._condition = threading.Condition()

    def poke(self) -> None:
        """Something happened: the burst goes on (or starts)."""
        with self._condition:
            self._last = self._clock()
            self._condition.notify_all()

    def due_in(self) -> Optional[float]:
        """Seconds until the current burst is due (zero or less: due now),
        or None when there is no burst."""
        with self._condition:
            return None if self._last is None else self._last + self.quiet - self._clock()

    def take(self) -> bool:
        """Consume the burst if it is due; whether it was."""
        with self._condition:
            left = self.due_in()
            if left is None or left > 0:
                return False
            self._last = None
            return True

    def wait(self) -> bool:
        """Block until a burst is due and consume it (True), or until
        ``close()`` (False)."""
        with self._condition:
            while not self._closed:
                if self.take():
                    return True
                self._condition.wait(self.due_in())
            return False

    def close(self) -> None:
        """Wake ``wait()`` for good."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


def _watchdog_available() -> bool:
    try:
        import watchdog.observers  # noqa: F401
    except ImportError:
        return False
    return True


class _ShutdownRaceFilter(logging.Filter):
    """Drops the one error watchdog's inotify emitter logs when it is stopped
    while a read is in flight ("queue_events() called when the thread is
    inactive"): a benign race inside watchdog, which, with logging not
    configured, Python's last-resort handler would print on the program's
    stderr at exit.  Every other watchdog message passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


def _quiet_watchdog_shutdown_race() -> None:
    logger = logging.getLogger("watchdog.observers.inotify")
    if not any(isinstance(f, _ShutdownRaceFilter) for f in logger.filters):
        logger.addFilter(_ShutdownRaceFilter())


class Watcher:
    """Reloads the modules whose files change in some folders.

    - ``folders``: folders watched, with their subfolders; only ``.py``
      files count.
    - ``exclude``: glob patterns; a file is ignored when one matches its
      path relative to the watched folder, its name, or the name of a
      folder on the way (``"tests"``, ``"build/*"``, ``"*_pb2.py"``).
      ``DEFAULT_EXCLUDE`` always applies.  The watcher does not reload the
      modules of files it ignores.
    - ``poll``: seconds between scans to poll ``os.stat`` instead of using
      watchdog; when watchdog is not installed, polling is used anyway
      (every ``DEFAULT_POLL`` seconds if ``poll`` is None).
    - ``quiet``: seconds without a save before the burst is applied.
    - ``apply``: ``"main"`` (at the main thread's next safe point) or
      ``"thread"`` (on the watcher's own thread); see the module docstring.
    - ``hotfix_dir``: a folder where each new ``*.py`` file (new bytes at a
      path) is run once as a hotfix script (``hotreload.hotfix``); files
      already there when the watcher starts are not run.  A folder that
      other users can write to (it, or a folder above it) is refused with
      ``ReloadError``, as each script in it would be (README, "Trust
      model").
    - ``script``: the program's ``__main__`` file, if watched: its edits
      cannot be applied, and the watcher says so once per content.
    - ``on_event``: called with each `Event` (on the thread that applied;
      a ``"waiting"`` event on a thread of the watcher's); by default
      events are logged to the ``hotreload`` logger.
    - ``reloader``: the `Reloader` to apply with (one is made by default).
    - ``precompile``: compile the changed statements in a helper process
      before the reload is queued, off the interpreter's lock (see
      ``hotreload.ahead``); the reload's result is the same either way.

    ``backend`` is ``"watchdog"`` or ``"poll"``.  ``thread_hint`` is how
    the ``"waiting"`` event tells the user to apply on the watcher's thread
    (``hotreload run`` sets it to its option).  Use as a context manager,
    or ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        folders: Iterable[str] = (".",),
        *,
        exclude: Iterable[str] = (),
        poll: Optional[float] = None,
        quiet: float = 0.05,
        apply: str = "main",
        hotfix_dir: Optional[str] = None,
        script: Optional[str] = None,
        on_event: Optional[Callable[[Event], None]] = None,
        reloader: Optional[Reloader] = None,
        precompile: bool = True,
    ) -> None:
        if apply not in ("main", "thread"):
            raise ValueError(f"apply must be 'main' or 'thread', not {apply!r}")
        if poll is not None and not poll > 0:
            raise ValueError(f"poll must be more than 0 seconds, not {poll!r}")
        if isinstance(folders, (str, os.PathLike)):
            folders = [folders]
        self.folders = [os.path.realpath(os.fspath(f)) for f in folders]
        self.hotfix_dir = os.path.realpath(hotfix_dir) if hotfix_dir is not None else None
        for folder in self._roots():
            if not os.path.isdir(folder):
                raise NotADirectoryError(f"not a folder: {folder}")
        if self.hotfix_dir is not None:
            # Every script there would be refused: say so now, once.
            _hotreload._check_writers(self.hotfix_dir)
        self.exclude = tuple(DEFAULT_EXCLUDE) + tuple(exclude)
        self.backend = "poll" if poll is not None or not _watchdog_available() else "watchdog"
        self.poll = DEFAULT_POLL if poll is None else float(poll)
        self.apply = apply
        self.script = os.path.realpath(script) if script is not None else None
        self.on_event = on_event or _log_event
        self.reloader = reloader or Reloader()
        self._debouncer = Debouncer(quiet)
        self._lock = threading.Lock()
        self._sources: Set[str] = set()  # changed files, not yet applied
        self._script_changed = False
        self._hotfixes: List[str] = []
        self._queued = False  # an application waits on the main thread
        self._wait_timer: Optional[threading.Timer] = None  # tells a long wait
        self.thread_hint = 'Watcher(apply="thread")'
        self._running = False
        self._threads: List[threading.Thread] = []
        self._observer = None  # watchdog's, when it is the backend
        self._snapshot: Dict[str, Tuple[int, int, int]] = {}  # the last poll's
        self._stop = threading.Event()
        self._helper = CompileHelper() if precompile else None

    # -- life cycle -------------------------------------------------------
    def start(self) -> "Watcher":
        """Start watching (changes made from now on are seen); returns self."""
        if self._running:
            return self
        self._running = True
        self._stop.clear()
        if self.hotfix_dir is not None:
            for path in self._scan([self.hotfix_dir]):
                self.reloader.seen(path)
        if self.script is not None:
            self.reloader.seen(self.script)
        if self.backend == "watchdog":
            self._start_watchdog()
        else:
            self._snapshot = self._scan(self._roots())
            self._spawn(self._poll_loop, "hotreload-poll")
        self._spawn(self._debounce_loop, "hotreload-watch")
        return self

    def stop(self) -> None:
        """Stop watching; an application already queued does nothing."""
        if not self._running:
            return
        self._running = False
        self._stop.set()
        self._debouncer.close()
        with self._lock:
            self._stop_wait_timer()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads = []
        if self._helper is not None:
            self._helper.close()
        self._debouncer = Debouncer(self._debouncer.quiet)  # a closed one stays closed

    def __enter__(self) -> "Watcher":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def describe(self) -> str:
        """One line: what is watched and how."""
        if self.backend == "watchdog":
            how = "watchdog (native events)"
        else:
            how = f"polling every {self.poll:g} s"
            if not _watchdog_available():
                how += " (install watchdog for native events)"
        where = ", ".join(self.folders)
        extra = f"; hotfix scripts from {self.hotfix_dir}" if self.hotfix_dir else ""
        return f"watching {where} with {how}; applying on the {self.apply} thread{extra}"

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _roots(self) -> List[str]:
        roots = list(self.folders)
        if self.hotfix_dir is not None and self.hotfix_dir not in roots:
            roots.append(self.hotfix_dir)
        return roots

    @staticmethod
    def _inside(path: str, folders: Iterable[str]) -> Optional[str]:
        """The folder (of ``folders``) that holds ``path``, if any."""
        for folder in folders:
            if path == folder or path.startswith(folder.rstrip(os.sep) + os.sep):
                return folder
        return None

    # -- which files count ------------------------------------------------
    def _wanted(self, path: str) -> bool:
        """Whether a change to ``path`` may matter: a ``.py`` file inside a
        watched folder (or the hotfix folder), not excluded."""
        if not path.endswith(".py"):
            return False
        if self._is_hotfix(path):
            root = self.hotfix_dir
        else:
            root = self._inside(path, self.folders)
            if root is None:
                return False
        relative = os.path.relpath(path, root)
        if any(fnmatch.fnmatch(relative, pattern) for pattern in self.exclude):
            return False
        return not any(
            fnmatch.fnmatch(part, pattern)
            for part in relative.split(os.sep)
            for pattern in self.exclude
        )

    def _is_hotfix(self, path: str) -> bool:
        return self.hotfix_dir is not None and os.path.dirname(path) == self.hotfix_dir

    def _changed(self, path: str) -> None:
        """A wanted file was created, modified, moved or deleted."""
        with self._lock:
            if self._is_hotfix(path):
                if path not in self._hotfixes:
                    self._hotfixes.append(path)
            elif path == self.script:
                self._script_changed = True
            else:
                self._sources.add(path)
        self._debouncer.poke()

    # -- noticing changes -------------------------------------------------
    def _start_watchdog(self) -> None:
        _quiet_watchdog_shutdown_race()
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                # Opening or reading a file (as the reload itself does) is
                # not a change.
                if event.is_directory or event.event_type not in (
                    "created", "modified", "moved", "deleted", "closed"
                ):
                    return
                for path in (event.src_path, getattr(event, "dest_path", "")):
                    path = os.fsdecode(path)
                    if path and watcher._wanted(path):
                        watcher._changed(path)

        observer = Observer()
        handler = Handler()
        for root in self._roots():
            observer.schedule(handler, root, recursive=True)
        observer.daemon = True
        observer.start()  # the watches are in place when this returns
        self._observer = observer

    def _scan(self, roots: List[str]) -> Dict[str, Tuple[int, int, int]]:
        """Every wanted file under ``roots``: (mtime_ns, size, inode).
        Folders and files that cannot be read are left out."""
        found: Dict[str, Tuple[int, int, int]] = {}
        pending = list(roots)
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not any(fnmatch.fnmatch(entry.name, p) for p in self.exclude):
                            pending.append(entry.path)
                    elif self._wanted(entry.path):
                        info = entry.stat()
                        found[entry.path] = (info.st_mtime_ns, info.st_size, info.st_ino)
                except OSError:
                    continue
        return found

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll):
            snapshot = self._scan(self._roots())
            for path in set(snapshot) | set(self._snapshot):
                if snapshot.get(path) != self._snapshot.get(path):
                    self._changed(path)
            self._snapshot = snapshot

    # -- applying -----------------------------------------------------------
    def _debounce_loop(self) -> None:
        debouncer = self._debouncer
        while debouncer.wait():
            if self._compile_ahead() and debouncer.due_in() is not None:
                # Files changed while the helper compiled: the reload would
                # find text it has no code for.  The next burst compiles
                # what is there then, and applies it.
                continue
            if self.apply == "thread":
                self._apply_guarded()
                continue
            with self._lock:
                if self._queued:
                    continue  # the queued application will see this burst too
                self._queued = True
            try:
                hotreload.call_on_main_thread(self._apply_queued)
            except RuntimeError:
                # CPython's pending-call queue is full: try again shortly.
                with self._lock:
                    self._queued = False
                debouncer.poke()
                continue
            with self._lock:
                if self._queued:  # else it applied already
                    self._wait_timer = threading.Timer(WAIT_NOTICE, self._tell_waiting)
                    self._wait_timer.name = "hotreload-wait"
                    self._wait_timer.daemon = True
                    self._wait_timer.start()

    def _compile_ahead(self) -> bool:
        """Has what the next reload will compile compiled in the helper,
        off the lock (see hotreload.ahead); any failure only leaves the
        reload to compile it.  Whether it compiled anything."""
        if self._helper is None or not self._helper.available():
            return False
        with self._lock:
            paths = set(self._sources)
        if not paths:
            return False
        try:
            names, _ = _hotreload.changed(paths, [])
            modules = []
            for name in names:
                path = _hotreload.source_path(name)
                with open(path, "rb") as f:
                    modules.append((name, path, f.read()))
            return compile_ahead(self._helper, modules) > 0
        except (hotreload.ReloadError, OSError, ValueError, SyntaxError) as exc:
            # A file gone, unreadable or not decodable: the reload reports it.
            log.debug("hotreload: nothing compiled ahead: %s: %s", type(exc).__name__, exc)
            return False

    def _apply_queued(self) -> None:
        with self._lock:
            self._queued = False
            self._stop_wait_timer()
        if self._running:
            self.apply_now()

    def _stop_wait_timer(self) -> None:
        """The wait is over (applied, or the watcher stops); under the lock."""
        if self._wait_timer is not None:
            self._wait_timer.cancel()
            self._wait_timer = None

    def _tell_waiting(self) -> None:
        """The timer of a queued application: it has not applied in
        WAIT_NOTICE seconds.  Pending calls run only between two bytecodes
        of the main thread, so its main thread is blocked in C (every
        blocking call checked so far delays them: time.sleep, a lock's or
        an Event's wait, thread.join, select, socket.accept)."""
        with self._lock:
            if self._wait_timer is not threading.current_thread():
                return  # applied, or stopped, since the timer fired
            self._wait_timer = None
            files = sorted(os.path.basename(path) for path in self._sources | set(self._hotfixes))
        what = ", ".join(files) if files else "the last save"
        event = Event("waiting", f"waiting to reload {what}: the main thread has run no "
                      f"Python code for {WAIT_NOTICE:g} s (blocked in C: time.sleep, a lock, "
                      "thread.join, select, a socket or a C library's loop?); the reload "
                      "applies when it runs Python code again, or at once on the watcher's "
                      f"thread with {self.thread_hint}")
        try:
            self.on_event(event)
        except Exception:
            log.exception("the watcher could not tell that a reload waits")

    def _apply_guarded(self) -> None:
        try:
            self.apply_now()
        except Exception:
            # The watcher's thread must outlive a failing on_event.
            log.exception("the watcher could not apply a change")

    def apply_now(self) -> List[Event]:
        """Apply what the watcher has noticed so far, on the calling thread;
        returns the events (each was also passed to ``on_event``)."""
        with self._lock:
            sources, self._sources = self._sources, set()
            script, self._script_changed = self._script_changed, False
            hotfixes, self._hotfixes = self._hotfixes, []
        events: List[Event] = []
        if sources:
            events += self.reloader.apply(sources)
        for path in hotfixes:
            events += self.reloader.hotfix(path)
        if script:
            events += self.reloader.script_changed(self.script)
        for event in events:
            self.on_event(event)
        return events


def _log_event(event: Event) -> None:
    log.log(logging.WARNING if event.problem else logging.INFO, "%s", event.format())
