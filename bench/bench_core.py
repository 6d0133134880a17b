"""Core benchmark: in-place reload of a big module against the floor.

The floor is ``importlib.reload(module)``: compile the new source and execute
it in the module's namespace.  Any reload has to compile and execute the new
source, so this is the least a reload can cost; what hotreload adds on top
(matching old and new objects, pouring new code into old functions, keeping
data, walking the heap for instances) is measured as the ratio
``hotreload / floor``.  The target is a ratio of at most 1.2.

Everything happens in ONE process, with a live heap (see `gamegen`): per game
module 100,000 instances of its classes, and 1,000,000 unrelated gc-tracked
objects.  Each tool reloads its own copy of the generated module
(``game_floor``, ``game_hotreload``): importlib.reload rebinds every name of
the module dict to new objects, which would mislead hotreload if it reloaded
the same module afterwards.

Each scenario runs a number of rounds.  In round ``r`` the source of each
module is rewritten to step ``r`` of the scenario, then each tool reloads its
module, timed (wall time around the call; for hotreload also
``report.seconds``, the engine's own time).  The figures are medians over
the rounds.  After every round each module is checked:

* fresh (every tool): the module's functions, methods, property, classmethod
  and staticmethod return what the new source computes.  For the floor this
  proves that the new source was really compiled and run.
* in place (hotreload): references taken right after the first import (a
  function ``f = mod.func_0``, a bound method of an old instance, the old
  class, the data list and dict) see the new code and are still the objects
  the module holds.

Run ``python bench/bench_core.py`` (``--quick`` for smaller sizes), or call
`run` and `format_block`.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import gamegen

TARGET_RATIO = 1.2
ROUNDS = 7
QUICK = {"rounds": 3, "n_instances": 10_000, "n_objects": 100_000}


# --------------------------------------------------------------------------
# Tools: the ways of reloading a module being compared


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


class Tool:
    """A way of reloading a module.

    name:           short key, also used in the module's name (game_<name>).
    label:          how the tool is printed.
    in_place:       old references (functions, bound methods, classes, data)
                    must see the new code after a reload.
    own_figure:     what the tool's own time figure is, if it reports one.
    setup():        called once, before the tool's module is first imported
                    (an import hook is installed here).
    reload(module): reload it; returns (wall seconds, the tool's own figure
                    in seconds or None).
    teardown():     called once at the end.
    """

    name = "tool"
    label = "tool"
    in_place = False
    own_figure: str | None = None

    def setup(self) -> None:
        pass

    def reload(self, module) -> tuple[float, float | None]:
        raise NotImplementedError

    def teardown(self) -> None:
        pass


class Floor(Tool):
    """``importlib.reload``: compile and execute the new source, nothing more.

    Its module is imported before hotreload's hook is installed, so hotreload
    never records it; later reloads still ask ``sys.meta_path`` for the spec,
    so an installed hook's find_spec runs (as it would in a user's process).
    """

    name = "floor"
    label = "importlib.reload (floor)"

    def reload(self, module):
        t0 = time.perf_counter()
        importlib.reload(module)
        return time.perf_counter() - t0, None


class Hotreload(Tool):
    """``hotreload.reload``: in-place reload.  Its own figure is ``report.seconds``."""

    name = "hotreload"
    label = "hotreload.reload"
    in_place = True
    own_figure = "report.seconds"

    def __init__(self) -> None:
        self.hotreload = require_hotreload()

    def setup(self):
        self.hotreload.install()

    def reload(self, module):
        t0 = time.perf_counter()
        report = self.hotreload.reload(module)
        wall = time.perf_counter() - t0
        return wall, report.seconds

    def teardown(self):
        self.hotreload.uninstall()


def default_tools() -> list[Tool]:
    """The floor first (the ratios are relative to it; its module is imported
    before any import hook is installed), then the tools measured against it."""
    return [Floor(), Hotreload()]


# --------------------------------------------------------------------------
# Scenarios: which edits are made between rounds


@dataclass
class Scenario:
    """A sequence of sources.  ``source(0)`` is the starting point (reloaded
    untimed, as a warm-up); ``source(1..rounds)`` are the timed rounds."""

    name: str
    description: str
    source: Callable[[int], str]
    bodies_edited: int


def default_scenarios() -> list[Scenario]:
    return [
        Scenario(
            "all_bodies",
            "every function and method body edited",
            lambda step: gamegen.generate(version=step),
            gamegen.edited_bodies(),
        ),
        Scenario(
            "one_body",
            "only the body of func_0 edited",
            lambda step: gamegen.generate(version=0, func0_version=step),
            1,
        ),
    ]


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
        return os.path.join(self.dir, module_name + ".py")

    def write(self, module_name: str, source: str) -> None:
        path = self.path(module_name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        self._mtime = max(int(time.time()), self._mtime + 1)
        os.utime(path, (self._mtime, self._mtime))
        importlib.invalidate_caches()

    def check_no_bytecode(self) -> None:
        cache = os.path.join(self.dir, "__pycache__")
        if os.path.exists(cache):
            raise RuntimeError(f"bytecode was cached in {cache}: the floor would not compile")

    def close(self) -> None:
        sys.dont_write_bytecode = self._saved_dont_write
        if self.dir in sys.path:
            sys.path.remove(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


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
    twin.__dict__.update(obj.__dict__)
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


def check_fresh(module, probe: Probe, ref: dict) -> list[str]:
    """Failures of the module's *current* objects against the reference."""
    failures = []
    cname = probe.cls.__name__
    cls = getattr(module, cname)
    last = f"func_{gamegen.N_FUNCS - 1}"
    twin = _like(probe.instance, ref)
    pairs = {
        "mod.func_0(3)": (module.func_0(3), ref["func_0"](3)),
        f"mod.{last}(5)": (getattr(module, last)(5), ref[last](5)),
        f"mod.{cname}.power (old instance)": (cls.power.fget(probe.instance), twin.power),
        f"mod.{cname}.rule(2, 3)": (cls.rule(2, 3), ref[cname].rule(2, 3)),
        f"mod.{cname}.scaled(4)": (cls.scaled(4), ref[cname].scaled(4)),
        f"mod.{cname}.tick(instance)": (cls.tick(probe.instance), twin.tick()),
    }
    for what, (got, want) in pairs.items():
        if got != want:
            failures.append(f"{what} = {got!r}, new source gives {want!r}")
    return failures


def check_in_place(module, probe: Probe, ref: dict) -> list[str]:
    """Failures of the references taken before any reload."""
    failures = []
    twin = _like(probe.instance, ref)
    pairs = {
        "old func_0(3)": (probe.func(3), ref["func_0"](3)),
        "old bound method instance.tick()": (probe.bound(), twin.tick()),
        "old instance.power": (probe.instance.power, twin.power),
        "old instance.update(2)": (probe.instance.update(2), twin.update(2)),
        "old class .scaled(4)": (probe.cls.scaled(4), ref[probe.cls.__name__].scaled(4)),
        "old class .rule(2, 3)": (probe.cls.rule(2, 3), ref[probe.cls.__name__].rule(2, 3)),
    }
    for what, (got, want) in pairs.items():
        if got != want:
            failures.append(f"{what} = {got!r}, new source gives {want!r}")
    identities = {
        "mod.func_0 is old func_0": module.func_0 is probe.func,
        "type(old instance) is mod class": getattr(module, probe.cls.__name__) is probe.cls,
        "mod.LEVEL_DATA is the old list": module.LEVEL_DATA is probe.data,
        "mod.CONFIG is the old dict": module.CONFIG is probe.config,
    }
    failures += [f"not true: {what}" for what, ok in identities.items() if not ok]
    return failures


# --------------------------------------------------------------------------
# The benchmark


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def run(
    rounds: int = ROUNDS,
    n_instances: int = gamegen.N_INSTANCES,
    n_objects: int = gamegen.N_OBJECTS,
    tools: list[Tool] | None = None,
    scenarios: list[Scenario] | None = None,
    quick: bool = False,
) -> dict:
    """Run every scenario with every tool in this process; return the figures.

    ``quick`` uses the `QUICK` sizes.  Result keys: ``python``, ``sizes``,
    ``compile_ms`` (median time of ``compile()`` of the module source: the
    biggest part of the floor), ``heap_build_s``, ``gc_tracked`` (objects the
    collector tracks at the start), ``tools`` (name -> label), ``scenarios``
    (name -> per tool: ``wall_ms`` and ``own_ms`` lists, their medians,
    ``warmup_ms``; ``ratio`` per tool: median wall / floor's median wall;
    ``failures``), ``correct``.
    """
    if quick:
        rounds, n_instances, n_objects = QUICK["rounds"], QUICK["n_instances"], QUICK["n_objects"]
    tools = tools if tools is not None else default_tools()
    scenarios = scenarios if scenarios is not None else default_scenarios()
    source0 = scenarios[0].source(0)

    result: dict = {
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
            "instances_per_module": n_instances,
            "modules": len(tools),
            "objects": n_objects,
            "rounds": rounds,
        },
        "compile_ms": _median([_time_compile(source0) * 1e3 for _ in range(5)]),
        "tools": {tool.name: tool.label for tool in tools},
        "own_figures": {tool.name: tool.own_figure for tool in tools},
        "scenarios": {},
    }

    ws = Workspace()
    names = {tool.name: f"game_{tool.name}" for tool in tools}
    modules = {}
    try:
        for tool in tools:
            ws.write(names[tool.name], source0)
            tool.setup()
            modules[tool.name] = importlib.import_module(names[tool.name])
        t0 = time.perf_counter()
        heap = gamegen.build_heap(modules, n_instances=n_instances, n_objects=n_objects)
        result["heap_build_s"] = time.perf_counter() - t0
        if n_objects and gamegen.count_tracked(heap.objects) < 1.0:
            raise RuntimeError("some unrelated objects are not gc-tracked: the heap is smaller than it says")
        result["gc_tracked"] = len(gc.get_objects())
        probes = {name: Probe.take(mod, heap.instances[name]) for name, mod in modules.items()}

        for scenario in scenarios:
            result["scenarios"][scenario.name] = _run_scenario(
                scenario, rounds, tools, modules, probes, names, ws
            )
        ws.check_no_bytecode()
    finally:
        for tool in reversed(tools):
            tool.teardown()
        for name in names.values():
            sys.modules.pop(name, None)
        ws.close()
    result["correct"] = not any(s["failures"] for s in result["scenarios"].values())
    return result


def _time_compile(source: str) -> float:
    t0 = time.perf_counter()
    compile(source, "game.py", "exec")
    return time.perf_counter() - t0


def _run_scenario(scenario, rounds, tools, modules, probes, names, ws) -> dict:
    """Warm-up step 0 (untimed), then `rounds` timed steps; check each step."""
    figures = {tool.name: {"wall_ms": [], "own_ms": []} for tool in tools}
    failures: list[str] = []
    for step in range(rounds + 1):
        source = scenario.source(step)
        ref = reference(source)
        # Alternate the order of the tools to cancel drift (heap growth, caches).
        order = tools if step % 2 == 0 else tools[::-1]
        for tool in order:
            mod = modules[tool.name]
            ws.write(names[tool.name], source)
            gc.collect()
            wall, own = tool.reload(mod)
            if step == 0:
                figures[tool.name]["warmup_ms"] = wall * 1e3
            else:
                figures[tool.name]["wall_ms"].append(wall * 1e3)
                figures[tool.name]["own_ms"].append(None if own is None else own * 1e3)
            where = f"{scenario.name} step {step} {tool.name}"
            found = check_fresh(mod, probes[tool.name], ref)
            if tool.in_place:
                found += check_in_place(mod, probes[tool.name], ref)
            failures += [f"{where}: {f}" for f in found]
    for fig in figures.values():
        fig["median_ms"] = _median(fig["wall_ms"])
        fig["own_median_ms"] = _median(fig["own_ms"])
    floor = figures[tools[0].name]["median_ms"]
    return {
        "description": scenario.description,
        "bodies_edited": scenario.bodies_edited,
        "tools": figures,
        "ratio": {name: fig["median_ms"] / floor for name, fig in figures.items() if name != tools[0].name},
        "failures": failures,
    }


# --------------------------------------------------------------------------
# Output


def format_block(result: dict) -> str:
    """The human-readable block of `run`'s result."""
    s = result["sizes"]
    py = result["python"]
    lines = [
        "== core: reload of a big module, live heap, against the floor (importlib.reload)",
        f"python        {py['implementation']} {py['version']} ({py['executable']})",
        f"module        {s['functions']} functions, {s['classes']} classes x "
        f"({s['methods_per_class']} methods + __init__, property, classmethod, staticmethod); "
        f"{s['module_lines']} lines, {s['module_bytes'] / 1024:.0f} KiB; "
        f"compile() {result['compile_ms']:.1f} ms",
        f"live heap     {s['instances_per_module']:,} instances per module x {s['modules']} modules, "
        f"{s['objects']:,} unrelated objects; {result['gc_tracked']:,} gc-tracked objects "
        f"(built in {result['heap_build_s']:.1f} s)",
        f"figures       median wall time of {s['rounds']} rounds; no bytecode cache, every reload compiles; "
        f"target hotreload/floor <= {TARGET_RATIO}x",
    ]
    labels = result["tools"]
    width = max(len(label) for label in labels.values()) + 2
    for name, sc in result["scenarios"].items():
        lines.append("")
        n = sc["bodies_edited"]
        lines.append(f"scenario {name}: {sc['description']} ({n} {'body' if n == 1 else 'bodies'})")
        floor_name = next(iter(labels))
        for tool, fig in sc["tools"].items():
            row = f"  {labels[tool]:<{width}}{fig['median_ms']:8.1f} ms"
            if fig["own_median_ms"] is not None:
                row += f"   ({result['own_figures'][tool]}: {fig['own_median_ms']:.1f} ms)"
            row += f"   warm-up {fig['warmup_ms']:.1f} ms"
            lines.append(row)
        for tool, ratio in sc["ratio"].items():
            verdict = "MET" if ratio <= TARGET_RATIO else "NOT MET"
            lines.append(
                f"  {'ratio ' + tool + '/' + floor_name:<{width}}{ratio:8.2f} x    "
                f"target <= {TARGET_RATIO}x: {verdict}"
            )
        if sc["failures"]:
            lines.append(f"  correctness   FAILED ({len(sc['failures'])} failures), first ones:")
            lines += [f"    {f}" for f in sc["failures"][:8]]
        else:
            lines.append(
                "  correctness   ok (every round: new results from the module; for in-place "
                "tools also from old function, bound method, property, class; data kept)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"smaller sizes: {QUICK}")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    args = parser.parse_args(argv)
    result = run(rounds=args.rounds, quick=args.quick)
    print(format_block(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0 if result["correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
