"""The command line: ``hotreload run``, ``push``, ``status`` and ``demo``.

    hotreload run [options] script.py [args...]
    hotreload run [options] -m package.module [args...]
    hotreload push URL --group G (FILES... | --hotfix SCRIPT | --rollback) [options]
    hotreload status URL --group G
    hotreload demo
    hotreload --version

``run`` runs a program as ``python script.py`` (or ``python -m``) would,
with ``hotreload.install()`` done first and a `Watcher` applying every save
of the modules it imports.  Each reload prints one line on stderr; a
refused one prints why, with the user's code where it went wrong.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import runpy
import signal
import sys
import sysconfig
from typing import List, Optional, Tuple

import hotreload
from hotreload import _hotreload
from hotreload.changes import Event, internal_file
from hotreload.frameworks import ReloaderRefused, refuse_reloaders
from hotreload.watch import DEFAULT_POLL, Watcher

PREFIX = "[hotreload] "


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotreload run",
        usage="hotreload run [options] (script.py | -m module) [args...]",
        description="Run a Python program and reload the modules it imports when "
        "their files are saved. The program itself runs as __main__, which is not "
        "reloaded: put the code to reload in modules.",
    )
    parser.add_argument("--watch", metavar="DIR", action="append", default=[],
                        help="folder to watch, with its subfolders, instead of the default "
                        "(repeatable). Default: the script's folder; with -m, or for a "
                        "command installed with Python (flask, uvicorn), the current "
                        "folder. Never a folder inside site-packages or the standard "
                        "library, whose modules are not reloaded: refused")
    parser.add_argument("--exclude", metavar="GLOB", action="append", default=[],
                        help="ignore files whose relative path, name or folder matches "
                        "(repeatable)")
    parser.add_argument("--poll", metavar="SECONDS", type=_seconds,
                        help="poll os.stat every SECONDS instead of native events "
                        f"(the default without watchdog: every {DEFAULT_POLL:g} s)")
    parser.add_argument("--apply", choices=("main", "thread"), default="main",
                        help="where reloads run: at the main thread's next safe point "
                        "(default), or on the watcher's thread (for a main thread "
                        "blocked in C)")
    parser.add_argument("--hotfix-dir", metavar="DIR",
                        help="run each new *.py file that appears in DIR once as a "
                        "hotfix script (hotreload.hotfix)")
    parser.add_argument("--fleet", metavar="URL",
                        help="also apply what `hotreload push` sends to --group over the "
                        "Redis server at URL (README, \"Fleet\")")
    parser.add_argument("--group", default="default", help="the fleet group (with --fleet)")
    parser.add_argument("--secret-file", metavar="PATH",
                        help="the fleet's shared secret (with --fleet; default: the "
                        "environment variable HOTRELOAD_FLEET_SECRET)")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    loudness.add_argument("-v", "--verbose", action="store_true",
                          help="print every name each reload touched")
    return parser


Split = Tuple[List[str], Optional[str], Optional[str], List[str]]


def _split(parser: argparse.ArgumentParser, argv: List[str]) -> Split:
    """Splits ``run``'s arguments into (its options, script, module, the
    program's arguments) at the script or ``-m MODULE``, as Python does:
    everything after belongs to the program, even what looks like an option."""
    takes_value = {
        option
        for action in parser._actions
        if action.nargs != 0
        for option in action.option_strings
    }
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")):
            module = arg[2:] or (argv[i + 1] if i + 1 < len(argv) else None)
            if module is None:
                parser.error("-m takes a module name")
            rest = argv[i + 1:] if arg[2:] else argv[i + 2:]
            return argv[:i], None, module, rest
        if arg == "--":
            if i + 1 >= len(argv):
                break
            return argv[:i], argv[i + 1], None, argv[i + 2:]
        if not arg.startswith("-") or arg == "-":
            return argv[:i], arg, None, argv[i + 1:]
        i += 2 if arg in takes_value else 1
    return argv, None, None, []


def _printer(quiet: bool, verbose: bool):
    def tell(event: Event) -> None:
        if quiet and not event.problem:
            return
        print(PREFIX + event.format(verbose), file=sys.stderr, flush=True)

    return tell


def _main_spec(module: str):
    """The spec of the file ``python -m module`` runs (a package's
    ``__main__``), or None if it cannot be found (runpy will say why)."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(module + ".__main__")
    except (ImportError, ValueError):
        return None
    return spec


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _denied(folder: str) -> Optional[str]:
    """The folder of site-packages or the standard library that holds
    ``folder`` (whose modules the folder policy never reloads), or None."""
    if _hotreload.source_allowed(os.path.join(folder, "__init__.py")):
        return None
    real = os.path.realpath(folder)
    holders = [d.rstrip(os.sep) for d in hotreload.configure()["deny"]]
    # The nearest: a venv's site-packages is inside its lib/pythonX.Y.
    return max((d for d in holders if _inside(real, d)), key=len, default=real)


def _scripts_folders() -> List[str]:
    """Where pip puts the commands it installs (flask, uvicorn, django-admin)."""
    folders = [sysconfig.get_path("scripts")]
    if f"{os.name}_user" in sysconfig.get_scheme_names():
        folders.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    return [os.path.realpath(folder) for folder in folders]


def _default_folders(script: Optional[str], module: Optional[str]) -> List[str]:
    """What to watch when --watch is not given.

    A script: its folder, but for a command that pip installed with the
    interpreter (flask, uvicorn): it runs the project of the current folder,
    as -m does.  With -m: the current folder, which ``python -m`` puts
    first on sys.path, and the folder that holds the top-level package when
    it is elsewhere and its modules reload (a package on PYTHONPATH, or
    installed in editable mode); never the package's own folder in
    site-packages, whose modules are not reloaded (``-m uvicorn`` would
    watch every installed package and none of the app).
    """
    cwd = os.path.realpath(os.getcwd())
    if script is not None:
        folder = os.path.dirname(os.path.realpath(script))
        return [cwd] if folder in _scripts_folders() else [folder]
    try:
        spec = importlib.util.find_spec(module.split(".")[0])  # imports nothing
    except (ImportError, ValueError):
        spec = None
    package_folder = None
    if spec is not None and spec.submodule_search_locations:
        package_folder = os.path.dirname(list(spec.submodule_search_locations)[0])
    elif spec is not None and isinstance(spec.origin, str) and os.path.isfile(spec.origin):
        package_folder = os.path.dirname(spec.origin)
    folders = [cwd]
    if package_folder is not None:
        package_folder = os.path.realpath(package_folder)
        if not _inside(package_folder, cwd) and _denied(package_folder) is None:
            folders.append(package_folder)
    return folders


def _watched_folders(parser: argparse.ArgumentParser, given: List[str],
                     script: Optional[str], module: Optional[str]) -> List[str]:
    """The folders to watch; a folder inside site-packages or the standard
    library is refused (usage error): watching it would reload nothing."""
    if given:
        for folder in given:
            denied = _denied(os.path.abspath(folder))
            if denied is not None:
                parser.error(f"--watch {folder}: it is in {denied}, whose modules "
                             "are not reloaded (site-packages, the standard library): "
                             "watch your project's folder")
        return given
    folders = _default_folders(script, module)
    denied = _denied(folders[0])
    if denied is not None:
        parser.error(f"the folder to watch by default, {folders[0]}, is in {denied}, "
                     "whose modules are not reloaded (site-packages, the standard "
                     "library): run from your project's folder, or pass --watch DIR")
    return folders


def run(argv: List[str]) -> int:
    """``hotreload run``: returns the exit status (SystemExit passes through)."""
    parser = _run_parser()
    options, script, module, args = _split(parser, argv)
    opts = parser.parse_args(options)
    if script is None and module is None:
        parser.error("a script or -m module is required")
    if script is not None and not os.path.isfile(script):
        parser.error(f"can't open file {script!r}: no such file")

    # As `python script.py` / `python -m module` set them up.
    if script is not None:
        sys.argv = [script] + args
        sys.path[0] = os.path.dirname(os.path.realpath(script))
    else:
        sys.argv = ["-m"] + args  # run_module puts the module's file in argv[0]
        sys.path[0] = os.getcwd()

    hotreload.install()  # before anything of the program is imported
    agent = _start_agent(parser, opts) if opts.fleet else None
    main_file = script
    if module is not None:
        spec = _main_spec(module)
        main_file = spec.origin if spec is not None else None
    watcher = None
    if isinstance(main_file, str):  # else runpy says what is wrong, as Python would
        folders = _watched_folders(parser, opts.watch, script, module)
        try:
            watcher = Watcher(
                folders,
                exclude=opts.exclude,
                poll=opts.poll,
                apply=opts.apply,
                hotfix_dir=opts.hotfix_dir,
                script=main_file,
                on_event=_printer(opts.quiet, opts.verbose),
            )
        except NotADirectoryError as error:
            parser.error(str(error))
        except hotreload.ReloadError as error:  # a --hotfix-dir others can write to
            parser.error(f"--hotfix-dir: {error.reason}")
        watcher.thread_hint = "--apply thread"  # what the "waiting" line advises
        if opts.verbose:
            print(PREFIX + watcher.describe(), file=sys.stderr, flush=True)
        watcher.start()
        # A web framework's own reloader would serve from a child process
        # that hotreload cannot reach: stopped with a message (frameworks.py).
        head = options + ([script] if script is not None else ["-m", module])
        name = module if module is not None else os.path.splitext(os.path.basename(script))[0]
        refuse_reloaders(head, name, args)
    try:
        if script is not None:
            runpy.run_path(script, run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except ReloaderRefused as refusal:
        print(PREFIX + str(refusal), file=sys.stderr, flush=True)
        return 2
    except SystemExit:
        raise
    except BaseException as error:
        if watcher is not None:
            watcher.stop()
        _print_uncaught(error)
        if isinstance(error, KeyboardInterrupt):
            _die_of_sigint()
            return 130
        return 1
    finally:
        if watcher is not None:
            watcher.stop()
        if agent is not None:
            agent.stop()
    return 0


def _start_agent(parser: argparse.ArgumentParser, opts: argparse.Namespace):
    """The fleet agent of ``run --fleet``, started before the program
    imports its modules: the change sets the group's history holds for them
    apply as soon as they are imported."""
    from hotreload import fleet

    try:
        secret = fleet.load_secret(opts.secret_file)
        return fleet.Agent(opts.fleet, group=opts.group, secret=secret,
                           on_event=_printer(opts.quiet, opts.verbose)).start()
    except fleet.FleetError as error:
        parser.error(str(error))


def _fleet_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"hotreload {command}")
    parser.add_argument("url", help="the Redis server (redis://host:port/db, rediss:// for TLS)")
    parser.add_argument("--group", required=True, help="the group of processes")
    if command == "push":
        parser.description = ("Publish a new version to a group's processes and wait for "
                              "each live one to acknowledge it. Exits 1 if any refused or "
                              "did not answer.")
        parser.add_argument("files", metavar="FILES", nargs="*", default=[],
                            help="module source files, as MODULE=FILE or FILE (the module "
                            "name is found from the package folders above it)")
        parser.add_argument("--hotfix", metavar="SCRIPT",
                            help="a hotfix script to run in every process")
        parser.add_argument("--rollback", action="store_true",
                            help="publish again, as a new version, what the modules of the "
                            "current version were before it")
        parser.add_argument("--canary", metavar="N", type=int, default=0,
                            help="apply to N processes first; stop on any refusal")
        parser.add_argument("--timeout", metavar="S", type=_seconds, default=10.0,
                            help="seconds to wait for the acknowledgements (default 10)")
        parser.add_argument("--secret-file", metavar="PATH",
                            help="the fleet's shared secret (default: the environment "
                            "variable HOTRELOAD_FLEET_SECRET)")
    return parser


def _sources(parser: argparse.ArgumentParser, files: List[str]):
    from hotreload.fleet import module_name

    modules = {}
    for item in files:
        name, _, path = item.partition("=") if "=" in item else ("", "", item)
        name = name or module_name(path)
        try:
            with open(path, "rb") as f:
                modules[name] = f.read()
        except OSError as error:
            parser.error(f"cannot read {path}: {error.strerror}")
    return modules


def push(argv: List[str]) -> int:
    """``hotreload push``: 0 when every live process applied the version."""
    parser = _fleet_parser("push")
    opts = parser.parse_intermixed_args(argv)  # FILES may come after the options
    if sum(map(bool, (opts.files, opts.hotfix, opts.rollback))) != 1:
        parser.error("give one of: module FILES, --hotfix SCRIPT, --rollback")
    if opts.canary < 0:
        parser.error(f"--canary must be 0 or more, not {opts.canary}")
    from hotreload import fleet

    def tell(ack) -> None:
        print(ack.line(), flush=True)

    try:
        unreachable = fleet.redis_error()
    except fleet.FleetError as error:
        print(f"hotreload push: {error}", file=sys.stderr)
        return 2
    script = modules = None
    if opts.hotfix:
        try:
            with open(opts.hotfix, encoding="utf-8") as f:
                script = f.read()
        except (OSError, UnicodeDecodeError) as error:
            parser.error(f"cannot read {opts.hotfix}: {error}")
    elif opts.files:
        modules = _sources(parser, opts.files)
    try:
        with fleet.Operator(opts.url, group=opts.group,
                            secret=fleet.load_secret(opts.secret_file)) as operator:
            if opts.rollback:
                result = operator.rollback(timeout=opts.timeout, canary=opts.canary, tell=tell)
            else:
                result = operator.push(modules=modules, script=script, canary=opts.canary,
                                       timeout=opts.timeout, tell=tell)
    except fleet.FleetError as error:
        print(f"hotreload push: {error}", file=sys.stderr)
        return 2
    except unreachable as error:
        print(f"hotreload push: Redis at {opts.url}: {error}", file=sys.stderr)
        return 2
    for beat in result.silent:
        print(f"{beat['host']} pid {beat['pid']}: did not answer in {opts.timeout:g} s")
    counts = {}
    for ack in result.acks.values():
        outcome = "applied" if ack.outcome == "already applied" else ack.outcome
        counts[outcome] = counts.get(outcome, 0) + 1
    total = result.live
    parts = [f"{counts.get('applied', 0)} applied", f"{counts.get('refused', 0)} refused",
             f"{len(result.silent)} did not answer"]
    print(f"version {result.version}: " + ", ".join(parts) + f" (of {total} live processes)")
    if result.stopped:
        print(result.stopped)
    return 0 if result.ok else 1


def status(argv: List[str]) -> int:
    """``hotreload status``: every live process, its version and module hashes."""
    opts = _fleet_parser("status").parse_args(argv)
    from hotreload import fleet

    try:
        unreachable = fleet.redis_error()
    except fleet.FleetError as error:
        print(f"hotreload status: {error}", file=sys.stderr)
        return 2
    try:
        with fleet.Operator(opts.url, group=opts.group) as operator:
            current, live = operator.current(), operator.live()
    except unreachable as error:
        print(f"hotreload status: Redis at {opts.url}: {error}", file=sys.stderr)
        return 2
    behind = sum(1 for beat in live if beat["version"] != current)
    print(f"group {opts.group}: version {current}, {len(live)} live processes"
          + (f", {behind} not on version {current}" if behind else ""))
    for beat in live:
        hashes = " ".join(f"{name}={digest[:12]}" for name, digest in sorted(beat["modules"].items()))
        print(f"{beat['host']} pid {beat['pid']}: version {beat['version']}"
              + (f" ({hashes})" if hashes else ""))
    return 0


def _print_uncaught(error: BaseException) -> None:
    """Print an exception that ended the program as Python would (through
    sys.excepthook), without the frames of hotreload and runpy."""
    tb = error.__traceback__
    while tb is not None and internal_file(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    if tb is None and isinstance(error, ImportError):
        # runpy could not find the program: say it as `python -m` does.
        print(f"{sys.executable}: {error}", file=sys.stderr)
        return
    sys.excepthook(type(error), error.with_traceback(tb), tb)


def _die_of_sigint() -> None:
    """End as Python ends on an uncaught KeyboardInterrupt: killed by SIGINT,
    which a shell reports as status 130 and which stops a calling script's
    loop too."""
    sys.stdout.flush()
    sys.stderr.flush()
    if hasattr(signal, "SIGINT") and hasattr(os, "kill"):
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


USAGE = """\
usage: hotreload run [options] (script.py | -m module) [args...]
       hotreload push URL --group G (FILES... | --hotfix SCRIPT | --rollback) [options]
       hotreload status URL --group G
       hotreload demo
       hotreload --version

  run    run a program; reload the modules it imports when their files are saved
         (`hotreload run --help` for its options)
  push   publish a change to a fleet of processes over Redis and wait for their answers
  status every live process of a fleet group: its version and module hashes
  demo   a small game server that edits its own code while it runs"""


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``hotreload`` and ``python -m hotreload``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv else None
    if command == "run":
        return run(argv[1:])
    if command == "push":
        return push(argv[1:])
    if command == "status":
        return status(argv[1:])
    if command == "demo":
        from hotreload import demo

        return demo.main(argv[1:])
    if command in ("-h", "--help"):
        print(USAGE)
        return 0
    if command in ("-V", "--version"):
        print(f"hotreload {hotreload.__version__}")
        return 0
    print(USAGE, file=sys.stderr)
    return 2
