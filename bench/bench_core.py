"""Core benchmark: reload of a big module with a live heap, every tool side by side.

The floor is ``importlib.reload(module)``: compile the new source and execute
it in the module's namespace.  Any reload has to compile and execute the new
source, so this is the least a reload can cost; what a tool adds on top
(matching old and new objects, pouring new code into old functions, keeping
data, walking the heap for instances) is measured as the ratio
``tool / floor``.  hotreload's target is a ratio of at most 1.2 without hooks.

The tools (see `TOOLS`; a peer that is not installed is reported as such):

* ``floor``          importlib.reload;
* ``hotreload``      hotreload.reload;
* ``ipython_super``  IPython's ``superreload``, the reload of ``%autoreload``
                     before IPython 9 and of ``%autoreload --full``;
* ``ipython_auto``   IPython 9's ``%autoreload``: ``ModuleReloader.check()``,
                     which patches the changed definitions (deduperreload)
                     where it can and falls back to superreload;
* ``jurigged``       jurigged's reload of a changed file, called directly.

Every tool runs in a process of its own (a worker: ``python bench_core.py
--worker SPEC``), because peers leave hooks behind that would slow the others
(jurigged's code registry installs an audit hook on every ``exec`` that
cannot be removed; IPython brings hundreds of modules onto the heap).  The
floor runs in every worker too, interleaved round by round with the tool, and
a tool's ratio is to the floor of its own worker: both see the same heap and
the same state of the machine.

A worker imports the generated game module (`gamegen`) once per tool
(``game_floor``, ``game_<tool>``), builds the live heap (per module 100,000
instances of its classes, and 1,000,000 unrelated gc-tracked objects), then
runs the scenarios.  In round ``r`` the source of each module is rewritten to
step ``r`` of the scenario, and each tool reloads its module, timed (wall
time around the call).  Step 0 is an untimed warm-up.  Figures per tool:

* ``median_ms``   median wall time of the timed rounds;
* ``peak_kib``    peak memory of a reload: the highest resident set size
                  during the call above the resident set size before it
                  (Linux's VmHWM, reset before each reload), the largest over
                  the rounds;
* ``failures``    what the correctness checks found (see `check`).

A scenario stops early, once a tool has spent ``budget_s`` seconds in its
timed rounds (at least one round): some peers take seconds per reload, and
the whole of ``make bench`` must stay within minutes.

The heap sweep (`run` with ``sweep``) runs scenarios 1 and 2 in further
workers at heaps of 0 to 10M unrelated objects, each once with the collector
on and once in a program that runs with ``gc.disable()`` (no collection
between reloads: everything made since start-up stays in the youngest
generation), for the plot of reload time against heap size.

Run ``python bench/bench_core.py`` (``--quick`` for smaller sizes), or call
`run` and `format_block`.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import gamegen

TARGET_RATIO = 1.2
ROUNDS = 7
BUDGET_S = 6.0
# Scenarios 1 and 2 are also run at these numbers of unrelated objects,
# with the collector on and off, for the plot.
SWEEP = (0, 1_000_000, 3_000_000, 10_000_000)
SWEEP_SCENARIOS = ("one_body", "all_bodies")
SWEEP_COLLECTORS = ("on", "off")
# IPython's %autoreload as IPython 9 runs it, and jurigged: the peers a user
# of a long-running program would pick (superreload is %autoreload's older
# path, close to it on this plot and left out to keep make bench short).
SWEEP_TOOLS = ("hotreload", "ipython_auto", "jurigged")
SWEEP_ROUNDS = 3
SWEEP_BUDGET_S = 4.0
# A reload that can be stopped (jurigged's) is stopped after this long: the
# figure is then a lower bound.
CAP_S = 20.0
SWEEP_CAP_S = 5.0
WORKER_TIMEOUT_S = 240
SWEEP_TIMEOUT_S = 600  # building 10M objects takes a while
QUICK = {
    "rounds": 3, "n_instances": 10_000, "n_objects": 100_000, "budget_s": 3.0, "cap_s": 5.0,
    "sweep": (0, 100_000), "sweep_rounds": 2, "sweep_budget_s": 2.0, "sweep_cap_s": 3.0,
}


# --------------------------------------------------------------------------
# Tools: the ways of reloading a module being compared


class Tool:
    """A way of reloading a module.

    name:           short key, also used in the module's name (game_<name>).
    label:          how the tool is printed.
    requires:       the package the tool needs (``pip install ...``), if any.
    keeps_identity: the tool promises that the module keeps its function and
                    class objects (checked; a tool that does not promise it
                    is still checked on what old references do).
    own_figure:     what the tool's own time figure is, if it reports one.
    skip:           scenario name -> why the tool does not run it.
    cap_s:          a tool that can stop a reload that takes longer (raising
                    `Stopped`) does so after this many seconds.
    setup():        called once, before the tool's module is first imported
                    (an import hook is installed here).
    prepare(m):     called once, right after the module's first import.
    reload(m):      reload it; returns (wall seconds, the tool's own figure in
                    seconds or None).
    problems():     errors the tool reported (and carried on) since the last
                    call: a peer that logs a failed reload has failed.
    notes():        what the tool did, for the report (which path it took).
    teardown():     called once at the end.
    """

    name = "tool"
    label = "tool"
    requires: str | None = None
    cap_s: float | None = None
    keeps_identity = False
    own_figure: str | None = None
    skip: dict = {}

    @classmethod
    def missing(cls) -> str | None:
        """None if the tool can run here, else what to install."""
        if cls.requires is None:
            return None
        try:
            importlib.import_module(cls.requires)
        except ImportError:
            return f"not installed (pip install {cls.requires})"
        return None

    def setup(self) -> None:
        pass

    def prepare(self, module) -> None:
        pass

    def reload(self, module) -> tuple[float, float | None]:
        raise NotImplementedError

    def problems(self) -> list[str]:
        return []

    def notes(self) -> list[str]:
        return []

    def teardown(self) -> None:
        pass


class Floor(Tool):
    """``importlib.reload``: compile and execute the new source, nothing more.

    Its module is imported before any tool's hook is installed, so hotreload
    never records it; later reloads still ask ``sys.meta_path`` for the spec,
    so an installed hook's find_spec runs (as it would in a user's process).
    """

    name = "floor"
    label = "importlib.reload (floor)"

    def reload(self, module):
        t0 = time.perf_counter()
        importlib.reload(module)
        return time.perf_counter() - t0, None


def require_hotreload():
    """Import hotreload and check its API; fail loudly if it is missing."""
    try:
        import hotreload
    except ImportError as exc:
        raise ImportError(
            "the benchmarks need the built hotreload package "
            "(make bench, or make dev and run with .venv/X.Y/bin/python)"
        ) from exc
    missing = [n for n in ("install", "uninstall", "reload", "reload_changed") if not hasattr(hotreload, n)]
    if missing:
        raise AttributeError(f"hotreload ({hotreload.__file__}) lacks {', '.join(missing)}")
    return hotreload


class Hotreload(Tool):
    """``hotreload.reload``: in-place reload.  Its own figure is ``report.seconds``."""

    name = "hotreload"
    label = "hotreload"
    requires = "hotreload"
    keeps_identity = True
    own_figure = "report.seconds"

    def __init__(self) -> None:
        self.hotreload = require_hotreload()
        self.migrated: list[int] = []

    def setup(self):
        self.hotreload.install()

    def reload(self, module):
        t0 = time.perf_counter()
        report = self.hotreload.reload(module)
        wall = time.perf_counter() - t0
        self.migrated.append(sum(report.instances.values()))
        return wall, report.seconds

    def notes(self):
        hooked = max(self.migrated, default=0)
        return [f"__reload_instance__ ran on up to {hooked:,} instances per reload"] if hooked else []

    def teardown(self):
        self.hotreload.uninstall()


class IPythonSuperreload(Tool):
    """IPython's ``superreload(module, reload=importlib.reload, old_objects=...)``,
    keeping ``old_objects`` across calls as ``%autoreload`` does: clear the
    module's namespace, importlib.reload, then pour each new function's code
    into the old ones remembered in ``old_objects``, copy each new class's
    dict into the old class, and move every instance of the old class to the
    new one, found with one ``gc.get_referrers`` walk of the heap per class.
    This is IPython's ``%autoreload`` before version 9, and ``%autoreload
    --full`` since."""

    name = "ipython_super"
    label = "IPython superreload"
    requires = "IPython"

    def setup(self):
        from IPython.extensions.autoreload import superreload

        self.superreload = superreload
        self.old_objects: dict = {}

    def reload(self, module):
        t0 = time.perf_counter()
        self.superreload(module, reload=importlib.reload, old_objects=self.old_objects)
        return time.perf_counter() - t0, None


class _LogRecords(logging.Handler):
    """Keeps the messages of a logger, for a peer that logs its failures."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        self.messages.append(message)


class IPythonAutoreload(Tool):
    """IPython 9's ``%autoreload``, as it runs before every cell:
    ``ModuleReloader.check()`` stats the watched modules and reloads one whose
    mtime moved, with deduperreload (compare old and new ASTs, re-execute only
    the changed definitions, patch them into the live ones) when it judges it
    can, else with superreload.  Configured as ``%autoreload explicit`` plus
    ``%aimport <module>``: only the benchmark's module is watched, so the
    figure is its reload, not the stat of every module in ``sys.modules``
    (that is scenario 3).  Failures are logged by IPython to the
    ``autoreload`` logger: they are collected as problems."""

    name = "ipython_auto"
    label = "IPython %autoreload"
    requires = "IPython"

    def setup(self):
        from IPython.extensions.autoreload import ModuleReloader

        self.log = _LogRecords()
        logging.getLogger("autoreload").addHandler(self.log)
        self.reloader = ModuleReloader()
        self.reloader.enabled = True
        self.reloader.check_all = False
        self.paths = {"deduperreload": 0, "superreload": 0}
        self._seen = 0
        deduper = self.reloader.deduper_reloader
        original = deduper.maybe_reload_module

        def counted(module):
            patched = original(module)
            self.paths["deduperreload" if patched else "superreload"] += 1
            return patched

        deduper.maybe_reload_module = counted

    def prepare(self, module):
        self.reloader.mark_module_reloadable(module.__name__)
        self.reloader.check()  # first sight: remembers the mtime and the source

    def reload(self, module):
        t0 = time.perf_counter()
        self.reloader.check()
        wall = time.perf_counter() - t0
        return wall, None

    def problems(self):
        found = [f"autoreload logged: {m}" for m in self.log.messages]
        self.log.messages.clear()
        done = sum(self.paths.values())
        if done == self._seen:
            found.append("check() did not reload the edited module")
        self._seen = done
        return found

    def notes(self):
        p = self.paths
        return [f"reloads by deduperreload: {p['deduperreload']}, "
                f"by the superreload fallback: {p['superreload']}"]


class Stopped(BaseException):
    """Raised by a tool whose reload ran past its time cap (a BaseException,
    so that a peer's ``except Exception`` does not swallow it)."""


class Jurigged(Tool):
    """jurigged, called synchronously: ``Registry.get(path).refresh()`` is what
    its watcher thread runs when the file changes (``Watcher.refresh``),
    without the thread and its 50 ms debounce.  refresh() parses the new file,
    matches its definitions with the old ones, re-executes only the changed
    ones and pours their code into the live functions (codefind's
    ``conform``).  To find the live functions holding a code object, codefind
    walks the heap with ``gc.get_referrers``, once per changed function (it
    only uses its cache for a function it has seen before, and only once a
    walk has taken more than 0.1 s): the walks are counted and timed in the
    notes.  jurigged is imported before the module, as ``python -m jurigged
    script.py`` does.

    A reload that runs past ``cap_s`` seconds is stopped at its next heap
    walk (`Stopped`): the figure is then a lower bound."""

    name = "jurigged"
    label = "jurigged"
    requires = "jurigged"
    skip = {"hooks": "no instance hook"}

    def setup(self):
        import codefind
        from jurigged.register import Registry

        self.registry = Registry()
        self.walks = 0
        self.walk_s = 0.0
        self.reloads = 0
        self._started = None
        self._errors: list[str] = []
        registry = codefind.code_registry
        walk = registry._get_functions

        def timed_walk(code):
            t0 = time.perf_counter()
            if self.cap_s is not None and self._started is not None and t0 - self._started > self.cap_s:
                raise Stopped(f"stopped after {t0 - self._started:.1f} s, at heap walk {self.walks + 1:,}")
            try:
                return walk(code)
            finally:
                self.walks += 1
                self.walk_s += time.perf_counter() - t0

        registry._get_functions = timed_walk

    def prepare(self, module):
        self.registry.prepare(module.__name__, module.__file__)
        self.codefile = self.registry.get(module.__file__)
        self.codefile.activity.register(self._event)

    def _event(self, event):
        if isinstance(event, Exception):
            self._errors.append(f"jurigged reported {type(event).__name__}: {event}")

    def reload(self, module):
        self._started = t0 = time.perf_counter()
        try:
            self.codefile.refresh()
        finally:
            self._started = None
        wall = time.perf_counter() - t0
        self.reloads += 1
        return wall, None

    def problems(self):
        found, self._errors = self._errors, []
        return found

    def notes(self):
        each = f", {self.walk_s / self.walks * 1e3:.0f} ms each" if self.walks else ""
        return [f"heap walks (gc.get_referrers): {self.walks:,} in {self.reloads} reloads{each}"]


TOOLS: dict[str, type[Tool]] = {
    cls.name: cls for cls in (Floor, Hotreload, IPythonSuperreload, IPythonAutoreload, Jurigged)
}
PEERS = ("ipython_super", "ipython_auto", "jurigged")


# --------------------------------------------------------------------------
# Scenarios: which edits are made between rounds


@dataclass
class Scenario:
    """A sequence of sources.  ``source(0)`` is the warm-up step (reloaded
    untimed); ``source(1..rounds)`` are the timed rounds.  ``check(module,
    probe, step)`` may add failures of its own (category, detail)."""

    name: str
    title: str
    description: str
    source: Callable[[int], str]
    bodies_edited: int
    check: Callable | None = None


def _check_hook(module, probe: "Probe", step: int) -> list[tuple[str, str]]:
    migrated = getattr(probe.instance, "migrated", None)
    if migrated != step:
        return [("hook not run", f"old instance .migrated = {migrated!r}, the hook sets {step}")]
    return []


SCENARIOS = {
    s.name: s
    for s in (
        Scenario(
            "one_body", "1. one body edited",
            "only the body of func_0 edited",
            lambda step: gamegen.generate(version=0, func0_version=step),
            1,
        ),
        Scenario(
            "all_bodies", "2. every body edited",
            "every function and method body edited",
            lambda step: gamegen.generate(version=step),
            gamegen.edited_bodies(),
        ),
        Scenario(
            "hooks", "4. instance hooks",
            "every body edited, and every class has __reload_instance__ (run on every live instance)",
            lambda step: gamegen.generate(version=step, hooks=True),
            gamegen.edited_bodies(),
            _check_hook,
        ),
    )
}
# In this order the warm-up steps are cheap: one_body starts from the
# imported source, all_bodies' warm-up edits func_0 alone.
DEFAULT_SCENARIOS = ("one_body", "all_bodies", "hooks")


# --------------------------------------------------------------------------
# The temporary folder holding the modules


class Workspace:
    """A temporary folder on ``sys.path`` holding one game module per tool.

    Makes sure a reload really re-reads and recompiles the source: no bytecode
    is written (``sys.dont_write_bytecode``; `check_no_bytecode` verifies that
    no ``__pycache__`` appeared), every write gets a strictly increasing
    mtime (whole seconds, as .pyc files and mtime-polling reloaders see it),
    and the import system's finder caches are invalidated before each reload.
    """

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="hotreload-bench-")
        self._saved_dont_write = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        sys.path.insert(0, self.dir)
        self._mtime = 0

    def path(self, module_name: str) -> str:
        return os.path.join(self.dir, *module_name.split(".")) + ".py"

    def write(self, module_name: str, source: str) -> None:
        path = self.path(module_name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        self._mtime = max(int(time.time()), self._mtime + 1)
        os.utime(path, (self._mtime, self._mtime))
        importlib.invalidate_caches()

    def check_no_bytecode(self) -> None:
        for folder, _, _ in os.walk(self.dir):
            if os.path.basename(folder) == "__pycache__":
                raise RuntimeError(f"bytecode was cached in {folder}: the floor would not compile")

    def close(self) -> None:
        sys.dont_write_bytecode = self._saved_dont_write
        if self.dir in sys.path:
            sys.path.remove(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# Peak memory of one call


class PeakMemory:
    """The peak resident set size of a call above the resident set size before
    it, from Linux's ``/proc/self/status`` (VmHWM, the high-water mark, reset
    through ``/proc/self/clear_refs``).  ``available`` is False elsewhere."""

    def __init__(self) -> None:
        try:
            self._reset()
            self._read("VmHWM")
            self.available = True
        except (OSError, AttributeError):
            self.available = False

    @staticmethod
    def _read(key: str) -> int:
        with open("/proc/self/status", encoding="ascii") as f:
            return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1))

    @staticmethod
    def _reset() -> None:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")

    def start(self) -> int | None:
        if not self.available:
            return None
        self._reset()
        return self._read("VmRSS")

    def peak_kib(self, before: int | None) -> int | None:
        return None if before is None else self._read("VmHWM") - before


# --------------------------------------------------------------------------
# Correctness checks


def reference(source: str) -> dict:
    """Execute `source` in a fresh namespace: what the new version computes."""
    namespace = {"__name__": "gamegen_reference"}
    exec(compile(source, "<gamegen reference>", "exec"), namespace)
    return namespace


def _like(obj, namespace: dict):
    """An instance of the reference class of `obj` with the same state."""
    cls = namespace[type(obj).__name__]
    twin = cls.__new__(cls)
    twin.__dict__.update({k: v for k, v in obj.__dict__.items() if k != "migrated"})
    return twin


# The instance probed: of a class other than Entity_0, whose `tick` method
# calls a module-level function.
PROBE_INDEX = 13


@dataclass
class Probe:
    """References taken right after the first import of a module."""

    func: object
    instance: object
    bound: object
    cls: type
    data: list
    config: dict

    @classmethod
    def take(cls, module, instances: list) -> "Probe":
        instance = instances[PROBE_INDEX % len(instances)]
        return cls(
            func=module.func_0,
            instance=instance,
            bound=instance.tick,
            cls=type(instance),
            data=module.LEVEL_DATA,
            config=module.CONFIG,
        )


def _compare(pairs: dict, category: str) -> list[tuple[str, str]]:
    return [
        (category, f"{what} = {got!r}, new source gives {want!r}")
        for what, (got, want) in pairs.items()
        if got != want
    ]


def check_fresh(module, probe: Probe, ref: dict) -> list[tuple[str, str]]:
    """The module's *current* objects compute what the new source computes
    (for the floor this proves that the new source really ran)."""
    cname = probe.cls.__name__
    cls = getattr(module, cname)
    last = f"func_{gamegen.N_FUNCS - 1}"
    twin = _like(probe.instance, ref)
    return _compare({
        "mod.func_0(3)": (module.func_0(3), ref["func_0"](3)),
        f"mod.{last}(5)": (getattr(module, last)(5), ref[last](5)),
        f"mod.{cname}.power (old instance)": (cls.power.fget(probe.instance), twin.power),
        f"mod.{cname}.rule(2, 3)": (cls.rule(2, 3), ref[cname].rule(2, 3)),
        f"mod.{cname}.scaled(4)": (cls.scaled(4), ref[cname].scaled(4)),
        f"mod.{cname}.tick(instance)": (cls.tick(probe.instance), twin.tick()),
    }, "new code not run")


def check_old_references(module, probe: Probe, ref: dict) -> list[tuple[str, str]]:
    """References taken before any reload run the new code, and the module's
    live data is still the same objects: what a reload must do for a running
    program, whatever the tool."""
    twin = _like(probe.instance, ref)
    cname = probe.cls.__name__
    failures = _compare({
        "old func_0(3)": (probe.func(3), ref["func_0"](3)),
        "old bound method instance.tick()": (probe.bound(), twin.tick()),
        "old instance.power": (probe.instance.power, twin.power),
        "old instance.update(2)": (probe.instance.update(2), twin.update(2)),
        "old class .scaled(4)": (probe.cls.scaled(4), ref[cname].scaled(4)),
        "old class .rule(2, 3)": (probe.cls.rule(2, 3), ref[cname].rule(2, 3)),
    }, "old references run old code")
    if module.LEVEL_DATA is not probe.data or module.CONFIG is not probe.config:
        failures.append(("data replaced", "mod.LEVEL_DATA / mod.CONFIG are new objects"))
    return failures


def check_identity(module, probe: Probe) -> list[tuple[str, str]]:
    """The module still holds the very function and class objects (for tools
    that promise it)."""
    identities = {
        "mod.func_0 is old func_0": module.func_0 is probe.func,
        "type(old instance) is mod class": getattr(module, probe.cls.__name__) is probe.cls,
    }
    return [("objects replaced", f"not true: {what}") for what, ok in identities.items() if not ok]


def check(tool: Tool, scenario: Scenario, module, probe: Probe, ref: dict, step: int) -> list[tuple[str, str]]:
    """Every check that applies to `tool` after a reload to `step`."""
    found = check_fresh(module, probe, ref) + check_old_references(module, probe, ref)
    if tool.keeps_identity:
        found += check_identity(module, probe)
    if scenario.check is not None:
        found += scenario.check(module, probe, step)
    return found


FAILURE_KINDS = (
    "error", "new code not run", "old references run old code", "data replaced",
    "objects replaced", "hook not run",
)


def verdict(failures: list) -> str:
    """``yes``, or ``no: `` and the kinds of failure found (in the order of
    `FAILURE_KINDS`)."""
    if not failures:
        return "yes"
    found = {kind for kind, _ in failures}
    return "no: " + ", ".join(kind for kind in FAILURE_KINDS if kind in found)


# --------------------------------------------------------------------------
# A worker: the floor and one tool in this process


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def worker(spec: dict) -> dict:
    """Run the floor and ``spec["tool"]`` through ``spec["scenarios"]`` in this
    process, on a heap of ``spec["n_instances"]`` instances per module and
    ``spec["n_objects"]`` unrelated objects; return the figures.

    Result keys: ``tool``, ``python``, ``sizes``, ``compile_ms`` (median time
    of ``compile()`` of the module source: the biggest part of the floor),
    ``heap_build_s``, ``gc_tracked`` (objects the collector tracks before
    the first reload), ``scenarios`` (name -> ``steps`` done, ``tools``
    (per tool: ``rounds``, ``wall_ms`` and ``own_ms`` lists and medians,
    ``warmup_ms``, ``peak_kib``, ``failures`` as [category, detail] pairs,
    ``verdict``, ``stopped`` if the tool's reload was stopped at its cap),
    ``ratio``, or ``skipped`` with the reason), ``notes``.
    """
    tool = TOOLS[spec["tool"]]()
    tool.cap_s = spec.get("cap_s")
    tools = [Floor(), tool] if tool.name != "floor" else [tool]
    scenarios = [SCENARIOS[name] for name in spec["scenarios"]]
    source0 = gamegen.generate(version=0)
    result: dict = {
        "tool": tool.name,
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "sizes": {
            "functions": gamegen.N_FUNCS,
            "classes": gamegen.N_CLASSES,
            "methods_per_class": len(gamegen.METHODS),
            "module_lines": source0.count("\n") + 1,
            "module_bytes": len(source0.encode()),
            "instances_per_module": spec["n_instances"],
            "modules": len(tools),
            "objects": spec["n_objects"],
        },
        "compile_ms": _median([_time_compile(source0) * 1e3 for _ in range(3)]),
        "scenarios": {},
    }
    ws = Workspace()
    names = {t.name: f"game_{t.name}" for t in tools}
    copies = {t.name: i for i, t in enumerate(tools)}
    modules = {}
    try:
        for t in tools:
            ws.write(names[t.name], _copy(source0, copies[t.name]))
            t.setup()
            modules[t.name] = importlib.import_module(names[t.name])
            t.prepare(modules[t.name])
        # Under gc.disable() from the start, as a game server runs: the heap
        # stays in the youngest generation, never collected.
        collecting = spec.get("collector", "on") == "on"
        if not collecting:
            gc.disable()
        t0 = time.perf_counter()
        heap = gamegen.build_heap(modules, n_instances=spec["n_instances"], n_objects=spec["n_objects"],
                                  settle=collecting)
        result["heap_build_s"] = time.perf_counter() - t0
        if spec["n_objects"] and gamegen.count_tracked(heap.objects) < 1.0:
            raise RuntimeError("some unrelated objects are not gc-tracked: the heap is smaller than it says")
        result["gc_tracked"] = len(gc.get_objects())
        probes = {name: Probe.take(mod, heap.instances[name]) for name, mod in modules.items()}
        stopped = None
        for scenario in scenarios:
            if scenario.name in tool.skip or stopped:
                why = tool.skip.get(scenario.name) or f"not run: the reload of {stopped} was stopped"
                result["scenarios"][scenario.name] = {"skipped": why}
                continue
            done = result["scenarios"][scenario.name] = _run_scenario(
                scenario, spec["rounds"], spec["budget_s"], tools, modules, probes, names, copies, ws,
                collecting
            )
            if done["tools"][tool.name].get("stopped"):
                stopped = scenario.name  # the module is left half-reloaded
        ws.check_no_bytecode()
        result["notes"] = tool.notes()
    finally:
        gc.enable()
        for t in reversed(tools):
            t.teardown()
        ws.close()
    return result


def _copy(source: str, index: int) -> str:
    """The source of the module copy `index`: `index` comment lines first, so
    that no two copies have equal code objects.  Code objects compare equal
    when their content and line numbers are, whatever their file; jurigged's
    code registry (codefind) keys its cache of functions by code object, and
    would patch the floor's copy of a function instead of its own."""
    return "".join(f"# module copy {i + 1}\n" for i in range(index)) + source


def _time_compile(source: str) -> float:
    t0 = time.perf_counter()
    compile(source, "game.py", "exec")
    return time.perf_counter() - t0


def _run_scenario(scenario, rounds, budget_s, tools, modules, probes, names, copies, ws,
                  collecting: bool = True) -> dict:
    """Warm-up step 0 (untimed), then timed steps until `rounds` are done or
    the last tool has spent `budget_s` in its timed rounds; check each step.
    With `collecting`, garbage is collected before each reload, so that no
    tool pays for another's; without, as in a program under gc.disable(),
    nothing is collected between reloads."""
    figures = {t.name: {"wall_ms": [], "own_ms": [], "peak_kib": [], "failures": []} for t in tools}
    memory = PeakMemory()
    spent = 0.0
    done = 0
    for step in range(rounds + 1):
        if step > 1 and spent >= budget_s:
            break
        source = scenario.source(step)
        ref = reference(source)
        # Alternate the order of the tools to cancel drift (heap growth, caches).
        order = tools if step % 2 == 0 else tools[::-1]
        for tool in order:
            fig = figures[tool.name]
            mod = modules[tool.name]
            ws.write(names[tool.name], _copy(source, copies[tool.name]))
            if collecting:
                gc.collect()
            before = memory.start()
            try:
                wall, own = tool.reload(mod)
            except Stopped as stop:  # the other tools still run this step
                fig["stopped"] = {"step": step, "detail": str(stop), "after_s": tool.cap_s}
                continue
            except Exception as exc:  # a failed reload is a result, reported as such
                fig["failures"].append(("error", f"step {step}: {type(exc).__name__}: {exc}"))
                continue
            peak = memory.peak_kib(before)
            if step == 0:
                fig["warmup_ms"] = wall * 1e3
            else:
                fig["wall_ms"].append(wall * 1e3)
                fig["own_ms"].append(None if own is None else own * 1e3)
                fig["peak_kib"].append(peak)
                if tool is tools[-1]:
                    spent += wall
            found = [("error", p) for p in tool.problems()]
            found += check(tool, scenario, mod, probes[tool.name], ref, step)
            fig["failures"] += [(kind, f"step {step}: {detail}") for kind, detail in found]
        done = step
        if any(fig.get("stopped") for fig in figures.values()):
            break
    for fig in figures.values():
        fig["rounds"] = len(fig["wall_ms"])
        fig["median_ms"] = _median(fig["wall_ms"])
        fig["own_median_ms"] = _median(fig["own_ms"])
        peaks = [p for p in fig.pop("peak_kib") if p is not None]
        fig["peak_kib"] = max(peaks) if peaks else None
        fig["verdict"] = verdict(fig["failures"])
        if fig.get("stopped") and fig["verdict"] == "yes":
            fig["verdict"] = "not known: reload stopped"
    floor = figures["floor"]["median_ms"]
    return {
        "description": scenario.description,
        "bodies_edited": scenario.bodies_edited,
        "steps": done,
        "tools": figures,
        "ratio": {
            name: fig["median_ms"] / floor
            for name, fig in figures.items()
            if name != "floor" and floor and fig["median_ms"] is not None
        },
    }


# --------------------------------------------------------------------------
# Running workers


def spawn(script: str, spec: dict, timeout: float = WORKER_TIMEOUT_S) -> dict:
    """Run ``python script --worker SPEC`` in a fresh interpreter and return the
    dict it wrote; on a crash or a timeout, ``{"error": why}`` (a tool that
    crashes the benchmark is a result too)."""
    with tempfile.TemporaryDirectory(prefix="hotreload-bench-worker-") as tmp:
        out = os.path.join(tmp, "result.json")
        command = [sys.executable, script, "--worker", json.dumps(spec), "--out", out]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish within {timeout:.0f} s"}
        if proc.returncode != 0 or not os.path.exists(out):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
            return {"error": f"worker exited with status {proc.returncode}: " + " | ".join(tail)}
        with open(out, encoding="utf-8") as f:
            result = json.load(f)
        result["worker_s"] = time.perf_counter() - t0
        return result


def worker_main(argv: list[str] | None, work: Callable[[dict], dict]) -> int:
    """The ``--worker SPEC --out PATH`` command line of a benchmark module."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    result = work(json.loads(args.worker))
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


def tools_to_run(names=None) -> tuple[list[str], dict[str, str]]:
    """The tools (other than the floor) that can run here, and why the
    others cannot."""
    names = list(names) if names is not None else ["hotreload", *PEERS]
    missing = {name: TOOLS[name].missing() for name in names}
    return [n for n in names if missing[n] is None], {n: why for n, why in missing.items() if why}


def run(quick: bool = False, tools: list[str] | None = None, sweep: bool = True) -> dict:
    """One worker per tool on the full heap (scenarios 1, 2 and 4), then one
    per tool and smaller heap for the sweep of scenario 2.

    Result keys: ``sizes`` (of the main heap), ``tools`` (name -> label),
    ``missing`` (name -> why it did not run), ``workers`` (name -> the
    worker's result, see `worker`), ``sweep`` (name -> collector "on" or
    "off" -> number of unrelated objects -> scenario -> the worker's
    figures), ``correct`` (hotreload passed every check).
    """
    q = QUICK if quick else {}
    sizes = {
        "n_instances": q.get("n_instances", gamegen.N_INSTANCES),
        "n_objects": q.get("n_objects", gamegen.N_OBJECTS),
    }
    names, missing = tools_to_run(tools)
    script = os.path.abspath(__file__)
    result: dict = {
        "sizes": sizes,
        "tools": {name: cls.label for name, cls in TOOLS.items()},
        "missing": missing,
        "workers": {},
        "sweep": {},
    }
    for name in names:
        spec = dict(sizes, tool=name, scenarios=list(DEFAULT_SCENARIOS), rounds=q.get("rounds", ROUNDS),
                    budget_s=q.get("budget_s", BUDGET_S), cap_s=q.get("cap_s", CAP_S))
        result["workers"][name] = spawn(script, spec)
        print(f"  core: {name} done in {result['workers'][name].get('worker_s', 0):.0f} s",
              file=sys.stderr, flush=True)
    if sweep:
        for name in [n for n in names if n in SWEEP_TOOLS]:
            t0 = time.perf_counter()
            for collector in SWEEP_COLLECTORS:
                points = result["sweep"].setdefault(name, {})[collector] = {}
                for n_objects in q.get("sweep", SWEEP):
                    spec = dict(sizes, n_objects=n_objects, tool=name, collector=collector,
                                scenarios=list(SWEEP_SCENARIOS),
                                rounds=q.get("sweep_rounds", SWEEP_ROUNDS),
                                budget_s=q.get("sweep_budget_s", SWEEP_BUDGET_S),
                                cap_s=q.get("sweep_cap_s", SWEEP_CAP_S))
                    done = spawn(script, spec, timeout=SWEEP_TIMEOUT_S)
                    points[n_objects] = {
                        sc: done.get("scenarios", {}).get(sc, done) for sc in SWEEP_SCENARIOS
                    }
            print(f"  core: {name} sweep done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    hot = result["workers"].get("hotreload", {"error": "not run"})
    result["correct"] = "error" not in hot and all(
        sc.get("tools", {}).get("hotreload", {}).get("verdict", "yes") == "yes"
        for sc in hot["scenarios"].values()
    )
    return result


# --------------------------------------------------------------------------
# Output


def _fmt_ms(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.1f} ms"


def _sweep_cell(name: str, figures: dict) -> str:
    """One point of the sweep: the tool's median and the floor's, or why not."""
    mine = figures.get("tools", {}).get(name, {})
    floor = figures.get("tools", {}).get("floor", {}).get("median_ms")
    def ms(value):
        return f"{value:.1f}" if value < 10 else f"{value:.0f}"

    if mine.get("stopped"):
        took = f"> {mine['stopped']['after_s'] * 1e3:.0f}"
    elif mine.get("median_ms") is not None:
        took = ms(mine["median_ms"])
    else:
        return "failed: " + str(figures.get("error", figures.get("skipped", "?")))[:60]
    return took + (f" / {ms(floor)}" if floor else "")


def format_block(result: dict) -> str:
    """The detailed block of `run`'s result: per scenario and tool, the
    figures, the failures found and the tool's notes."""
    labels = result["tools"]
    lines = ["== core: reload of a big module with a live heap; each tool in its own process with the floor"]
    any_worker = next((w for w in result["workers"].values() if "error" not in w), None)
    if any_worker:
        s, py = any_worker["sizes"], any_worker["python"]
        lines += [
            f"python        {py['implementation']} {py['version']} ({py['executable']})",
            f"module        {s['functions']} functions, {s['classes']} classes x "
            f"({s['methods_per_class']} methods + __init__, property, classmethod, staticmethod); "
            f"{s['module_lines']} lines, {s['module_bytes'] / 1024:.0f} KiB; "
            f"compile() {any_worker['compile_ms']:.1f} ms",
            f"live heap     {s['instances_per_module']:,} instances per module x {s['modules']} modules, "
            f"{s['objects']:,} unrelated objects; {any_worker['gc_tracked']:,} gc-tracked objects "
            f"(built in {any_worker['heap_build_s']:.1f} s)",
            "figures       median wall time; ratio = tool / floor of the same process; "
            "peak = resident set size at the peak of a reload above before it",
        ]
    for name, why in result["missing"].items():
        lines.append(f"{labels[name]}: {why}")
    for name, w in result["workers"].items():
        lines.append("")
        if "error" in w:
            lines.append(f"{labels[name]}: FAILED TO RUN: {w['error']}")
            continue
        lines.append(f"{labels[name]} (process of its own, {w['gc_tracked']:,} gc-tracked objects)")
        for sname, sc in w["scenarios"].items():
            title = SCENARIOS[sname].title
            if "skipped" in sc:
                lines.append(f"  {title}: not run ({sc['skipped']})")
                continue
            floor, fig = sc["tools"]["floor"], sc["tools"][name]
            ratio = sc["ratio"].get(name)
            took = _fmt_ms(fig["median_ms"])
            if fig.get("stopped"):
                took = f"> {fig['stopped']['after_s']:g} s"
            row = (f"  {title:<24} {took:>11}  floor {_fmt_ms(floor['median_ms']):>10}  "
                   f"ratio {'-' if ratio is None else f'{ratio:.2f}x':>7}  {fig['rounds']} rounds")
            if fig.get("own_median_ms") is not None:
                row += f"  (report.seconds {fig['own_median_ms']:.1f} ms)"
            if fig.get("peak_kib") is not None:
                row += f"  peak {fig['peak_kib'] / 1024:.1f} MiB"
            lines.append(row)
            if fig.get("stopped"):
                row += f"  ({fig['stopped']['detail']})"
            lines.append(f"    correct: {fig['verdict']}")
            for kind, detail in fig["failures"][:3]:
                lines.append(f"      {kind}: {detail}")
        for note in w.get("notes", []):
            lines.append(f"  note: {note}")
    if result["sweep"]:
        lines += ["", "sweep (reload time against unrelated objects on the heap): median ms, "
                  "tool / floor"]
        for scenario in SWEEP_SCENARIOS:
            for collector in SWEEP_COLLECTORS:
                lines.append(f"  {SCENARIOS[scenario].title}, collector {collector}"
                             + (" (gc.disable())" if collector == "off" else ""))
                for name, variants in result["sweep"].items():
                    cells = []
                    points = variants.get(collector, {})
                    for n, by_scenario in sorted(points.items(), key=lambda kv: int(kv[0])):
                        cells.append(f"{int(n) / 1e6:g}M: {_sweep_cell(name, by_scenario[scenario])}")
                    lines.append(f"    {labels[name]:<22} " + "   ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"smaller sizes: {QUICK}")
    parser.add_argument("--tools", help="comma-separated: " + ",".join(["hotreload", *PEERS]))
    parser.add_argument("--no-sweep", action="store_true", help="only the full heap")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    args = parser.parse_args(argv)
    result = run(quick=args.quick, tools=args.tools.split(",") if args.tools else None,
                 sweep=not args.no_sweep)
    print(format_block(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0 if result["correct"] else 1


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.exit(worker_main(sys.argv[1:], worker))
    sys.exit(main())
