"""Web frameworks' own reloaders, stopped with a message under ``hotreload run``.

Django's ``runserver``, Werkzeug's reloader (``flask run --debug`` or
``--reload``, ``app.run(debug=True)``) and ``uvicorn --reload`` serve from a
child process that they start and kill again on every save; uvicorn's
``--workers N`` serves from N child processes.  Those children are plain
interpreters: hotreload, which reloads the process it runs, would watch a
parent that runs none of the app's code, and say nothing.  Running the
child under hotreload would not help either: the framework's own watcher
lives in it and restarts it on the same save, so in-memory state is lost
anyway.  So ``hotreload run`` stops the program, at the moment the framework
is about to start its child, with one line that gives the command that
turns the framework's reloader off; hotreload then applies each save in
place in the one server process.

The moment is seen without patching the frameworks, through an audit hook
(PEP 578), which sees it however the server was started (``manage.py``,
``python -m django``, ``flask run``, ``app.run()``, ``uvicorn.run()``,
``UVICORN_RELOAD=true``):

- ``subprocess.Popen`` with ``RUN_MAIN=true`` (Django) or
  ``WERKZEUG_RUN_MAIN=true`` (Werkzeug) in the child's environment but not in
  this process's own: the variable each framework sets to tell its child
  that it is the one to serve, so it names exactly that decision;
- ``socket.bind`` called by uvicorn's ``Config.bind_socket()``, which uvicorn
  calls only to hand the socket to a reloading supervisor or to worker
  processes (a single server binds in its event loop); the ``Config`` in that
  frame says which (uvicorn starts its child with multiprocessing, which
  raises no audit event of its own).
"""
from __future__ import annotations

import os
import shlex
import sys
from typing import List, Optional

__all__ = ["ReloaderRefused", "refuse_reloaders"]


class ReloaderRefused(SystemExit):
    """A framework was about to serve from a child process that hotreload
    cannot reach; the message says how to run it in one process.

    A SystemExit, so that a framework's ``except Exception`` does not take it
    for an error of its own and carry on."""


class _Program:
    """What ``hotreload run`` runs: ``head`` (its own options and the script
    or ``-m module``), ``name`` (the module, or the script's file name
    without ``.py``) and ``args`` (the program's arguments)."""

    def __init__(self, head: List[str], name: str, args: List[str]) -> None:
        self.head, self.name, self.args = list(head), name, list(args)

    def suggest(self, add: Optional[str] = None, drop: Optional[str] = None) -> str:
        """The command given, with ``add`` appended to the program's
        arguments or every ``drop`` left out of them."""
        args = [arg for arg in self.args if arg != drop]
        if add is not None:
            args.append(add)
        return "hotreload run " + " ".join(shlex.quote(arg) for arg in self.head + args)


_program: Optional[_Program] = None  # None: not armed
_hooked = False


def refuse_reloaders(head: List[str], name: str, args: List[str]) -> None:
    """From now on, stop the program with `ReloaderRefused` when a framework
    is about to serve from child processes.  ``head`` is what came before
    the program's arguments on the ``hotreload run`` command line (its
    options and the script or ``-m module``), ``name`` the module or the
    script's file name without ``.py``, ``args`` the program's arguments:
    the message gives the command back with the change to make.  Audit
    hooks cannot be removed, so the hook is added once per process."""
    global _program, _hooked
    _program = _Program(head, name, args)
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True


def _audit(event: str, args: tuple) -> None:
    # Called for every audited event of the process (each import, open,
    # compile...): return at once for all but the two that matter.
    if _program is None:
        return
    if event == "subprocess.Popen":
        message = _popen_message(args[3])
    elif event == "socket.bind":
        # The frame that called socket.bind (None if C code did, with no
        # Python frame: sys._getframe(1) would raise, and abort the bind).
        message = _uvicorn_message(sys._getframe().f_back)
    else:
        return
    if message is not None:
        raise ReloaderRefused(message)


def _sets(env, name: str) -> bool:
    """Whether the child's environment ``env`` sets ``name`` to "true" where
    this process's does not: the parent deciding that its child serves (a
    process that is itself such a child passes the variable on unchanged)."""
    get = getattr(env, "get", None)
    return get is not None and get(name) == "true" and os.environ.get(name) != "true"


def _popen_message(env) -> Optional[str]:
    program = _program
    if _sets(env, "RUN_MAIN") and "django.utils.autoreload" in sys.modules:
        if "runserver" in program.args:
            fix = f"run `{program.suggest(add='--noreload')}` instead"
        else:
            fix = "pass --noreload to runserver (use_reloader=False to call_command)"
        return _say("Django's autoreloader", fix)
    if _sets(env, "WERKZEUG_RUN_MAIN") and "werkzeug._reloader" in sys.modules:
        if program.name == "flask":
            fix = f"run `{program.suggest(add='--no-reload')}` instead"
        else:
            fix = "pass use_reloader=False to app.run() or run_simple()"
        return _say("Werkzeug's reloader (flask --debug, app.run(debug=True))", fix)
    return None


def _uvicorn_message(frame) -> Optional[str]:
    config = _uvicorn_config(frame)
    if config is None:
        return None
    if getattr(config, "should_reload", False):
        if "--reload" in _program.args:
            fix = f"run `{_program.suggest(drop='--reload')}` instead"
        else:
            fix = "pass reload=False to uvicorn.run() (or unset UVICORN_RELOAD)"
        return _say("uvicorn --reload", fix)
    workers = getattr(config, "workers", 1)
    if isinstance(workers, int) and workers > 1:
        return _say(f"uvicorn with {workers} workers",
                    "run one worker (drop --workers, or workers= in uvicorn.run())",
                    children=True)
    return None


def _uvicorn_config(frame):
    """The uvicorn ``Config`` whose ``bind_socket()`` is running in ``frame``
    (the one that called ``socket.bind``), or None."""
    if frame is None:
        return None
    code = frame.f_code
    if code.co_name != "bind_socket" or frame.f_globals.get("__name__") != "uvicorn.config":
        return None
    return frame.f_locals.get("self")


def _say(who: str, fix: str, children: bool = False) -> str:
    """The one line: who would serve from where, and what to run instead."""
    where = ("would serve from child processes" if children
             else "would serve from a child process that it restarts on each save")
    return (f"{who} {where}, out of hotreload's reach: {fix}, and hotreload "
            "applies each save in place, in one process")
