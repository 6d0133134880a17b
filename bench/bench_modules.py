"""Scenario 3: many small modules loaded, one edited: finding what changed.

A program that reloads "whatever changed" first has to find it, and that
cost grows with what is loaded, not with what changed.  A package of small
generated modules (`gamegen.generate_small`, about 45 lines each) is
imported in two steps (`SIZES`: 100 modules, then 500), and each tool's way
of finding changed modules is timed with nothing changed; then one module
at a time is edited and the tool finds and reloads it.

* ``hotreload``:    ``reload_changed()``: a ``stat`` of every recorded module's
                    file, the source read again only when mtime or size moved.
                    Only modules imported after ``install()`` outside the
                    standard library and site-packages are recorded.
* ``ipython_auto``: IPython's ``%autoreload all`` before each cell:
                    ``ModuleReloader.check()`` stats the file of every module in
                    ``sys.modules`` (IPython's own included) and reloads those
                    whose mtime moved (deduperreload, else superreload).
* ``jurigged``:     has no call that finds changes: its watcher thread is told
                    of each file's change by the operating system (watchdog).
                    Only the reload is timed: ``Registry.get(path).refresh()``
                    of the edited file, named by the benchmark.
* ``floor``:        importlib.reload of the edited module, named by the
                    benchmark: what reloading it costs with no finding at all.

Figures, per tool and number of modules loaded: ``find_ms`` (median time of a
check that finds nothing, over `FIND_ROUNDS`); with every module loaded,
``edit_ms`` (median time from "one module was edited" to "it is reloaded",
over `EDIT_ROUNDS`, a different module each round) and its ratio to the
floor's.  hotreload's target: finding under 5 ms with 500 modules loaded.

Correctness after every edit: the edited module's function computes the new
result, so does a reference taken before (``old = mod.helper_4``) and a
method of an instance made before, and the module's ``TABLE`` list is still
the same object; nothing else was reloaded.

Each tool runs in a process of its own (``python bench_modules.py --worker
SPEC``), the floor too.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_core  # noqa: E402
import gamegen  # noqa: E402

SIZES = (100, 500)
FIND_ROUNDS = 15
EDIT_ROUNDS = 7
TARGET_FIND_MS = 5.0
QUICK = {"sizes": (50, 100), "find_rounds": 5, "edit_rounds": 3}


class Finder:
    """One tool's way of finding and reloading changed modules.

    setup(folder):  before the package is imported.
    loaded():       after a batch of imports (untimed: a tool that notices
                    new modules on its next check does so here).
    find():         look for changes when there are none; None if the tool
                    has no such call.
    reload(name):   the edited module `name` is found and reloaded; returns
                    the names of the modules reloaded, if the tool says.
    problems(), notes(): as for `bench_core.Tool`.
    """

    name = "finder"
    can_find = True
    no_find_reason = ""

    def setup(self, folder: str) -> None:
        pass

    def loaded(self) -> None:
        pass

    def find(self) -> None:
        raise NotImplementedError

    def reload(self, name: str) -> list[str] | None:
        raise NotImplementedError

    def problems(self) -> list[str]:
        return []

    def notes(self) -> list[str]:
        return []


class FloorFinder(Finder):
    name = "floor"
    can_find = False
    no_find_reason = "no finding: reloads the module it is given"

    def reload(self, name):
        importlib.reload(sys.modules[name])
        return None


class HotreloadFinder(Finder):
    name = "hotreload"

    def setup(self, folder):
        self.hotreload = bench_core.require_hotreload()
        self.hotreload.install()

    def find(self):
        report = self.hotreload.reload_changed()
        if report.modules:
            raise AssertionError(f"reload_changed() found changes where there were none: {report.modules}")

    def reload(self, name):
        return list(self.hotreload.reload_changed().modules)

    def notes(self):
        from hotreload import _hotreload

        return [f"{len(_hotreload._records())} modules recorded"]


class IPythonFinder(Finder):
    """``%autoreload all``: a ModuleReloader with ``check_all`` on."""

    name = "ipython_auto"

    def setup(self, folder):
        tool = self.tool = bench_core.IPythonAutoreload()
        tool.setup()
        tool.reloader.check_all = True
        self.reloaded: list[str] = []
        deduper = tool.reloader.deduper_reloader
        counted = deduper.maybe_reload_module

        def named(module):
            self.reloaded.append(module.__name__)
            return counted(module)

        deduper.maybe_reload_module = named

    def loaded(self):
        self.tool.reloader.check()  # first sight of the new modules: mtimes and sources

    def find(self):
        self.tool.reloader.check()
        if self.reloaded:
            raise AssertionError(f"check() reloaded modules where nothing changed: {self.reloaded}")

    def reload(self, name):
        self.reloaded = []
        self.tool.reloader.check()
        return self.reloaded

    def problems(self):
        return [p for p in self.tool.problems() if "did not reload" not in p]

    def notes(self):
        return self.tool.notes() + [f"{len(sys.modules)} modules in sys.modules, each stat()ed by check()"]


class JuriggedFinder(Finder):
    """jurigged's registry records each module of the folder as it is imported
    (its import sniffer, as ``jurigged.watch()`` sets up); the reload is what
    the watcher thread runs for the edited file."""

    name = "jurigged"
    can_find = False
    no_find_reason = "no such call (its watcher thread is told of changes by the OS)"

    def setup(self, folder):
        from jurigged.register import Registry
        from jurigged.utils import glob_filter

        self.registry = Registry()
        self.sniffer = self.registry.auto_register(filter=glob_filter(os.path.join(folder, "*")))
        self.errors: list[str] = []

    def reload(self, name):
        codefile = self.registry.get(sys.modules[name].__file__)
        codefile.activity.register(self._event)
        codefile.refresh()
        return None

    def _event(self, event):
        if isinstance(event, Exception):
            self.errors.append(f"jurigged reported {type(event).__name__}: {event}")

    def problems(self):
        found, self.errors = self.errors, []
        return found

    def notes(self):
        return ["each edit is a module's first change: its CodeFile (the parsed old source) is made "
                "then, as the watcher would on a first save"]


FINDERS = {cls.name: cls for cls in (FloorFinder, HotreloadFinder, IPythonFinder, JuriggedFinder)}


def _median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1e3


def worker(spec: dict) -> dict:
    """Run one tool through the scenario in this process (see the module's
    docstring); return its figures."""
    finder = FINDERS[spec["tool"]]()
    sizes = spec["sizes"]
    ws = bench_core.Workspace()
    package = f"pkg_{finder.name}"
    result: dict = {"tool": finder.name, "find": {}, "failures": []}
    try:
        ws.write(f"{package}.__init__", '"""A package of generated small modules."""\n')
        for i in range(max(sizes)):
            ws.write(f"{package}.mod_{i}", gamegen.generate_small(i))
        finder.setup(ws.dir)
        loaded = 0
        for size in sizes:
            for i in range(loaded, size):
                importlib.import_module(f"{package}.mod_{i}")
            loaded = size
            finder.loaded()
            if not finder.can_find:
                continue
            times = []
            for _ in range(spec["find_rounds"]):
                t0 = time.perf_counter()
                finder.find()
                times.append(time.perf_counter() - t0)
            result["find"][size] = {"median_ms": _median_ms(times), "sys_modules": len(sys.modules)}
        if not finder.can_find:
            result["no_find"] = finder.no_find_reason
        times = []
        for r in range(1, spec["edit_rounds"] + 1):
            index = (r * 97) % loaded
            name = f"{package}.mod_{index}"
            module = sys.modules[name]
            old_function, old_thing, table = module.helper_4, module.Thing(3), module.TABLE
            source = gamegen.generate_small(index, version=r)
            ws.write(name, source)
            t0 = time.perf_counter()
            reloaded = finder.reload(name)
            times.append(time.perf_counter() - t0)
            ref = bench_core.reference(source)
            module = sys.modules[name]
            found = [("error", p) for p in finder.problems()]
            found += bench_core._compare({
                "mod.helper_4(5)": (module.helper_4(5), ref["helper_4"](5)),
            }, "new code not run")
            found += bench_core._compare({
                "old helper_4(5)": (old_function(5), ref["helper_4"](5)),
                "old instance .norm()": (old_thing.norm(), ref["Thing"](3).norm()),
            }, "old references run old code")
            if module.TABLE is not table:
                found.append(("data replaced", "mod.TABLE is a new list"))
            if reloaded is not None and reloaded != [name]:
                found.append(("error", f"reloaded {reloaded}, expected [{name!r}]"))
            result["failures"] += [(kind, f"edit {r} ({name}): {detail}") for kind, detail in found]
        result["edit_ms"] = _median_ms(times)
        result["edit_rounds"] = len(times)
        result["modules"] = loaded
        result["verdict"] = bench_core.verdict(result["failures"])
        result["notes"] = finder.notes()
        ws.check_no_bytecode()
    finally:
        ws.close()
    return result


def run(quick: bool = False, tools: list[str] | None = None) -> dict:
    """One worker per tool (and the floor).  Result keys: ``sizes``,
    ``workers`` (tool name -> its result, see `worker`), ``missing``,
    ``correct`` (hotreload passed every check)."""
    q = QUICK if quick else {}
    spec = {
        "sizes": list(q.get("sizes", SIZES)),
        "find_rounds": q.get("find_rounds", FIND_ROUNDS),
        "edit_rounds": q.get("edit_rounds", EDIT_ROUNDS),
    }
    names, missing = bench_core.tools_to_run(tools or ["hotreload", "ipython_auto", "jurigged"])
    result = {"sizes": spec["sizes"], "missing": missing, "workers": {}}
    script = os.path.abspath(__file__)
    for name in ["floor", *names]:
        result["workers"][name] = bench_core.spawn(script, dict(spec, tool=name), timeout=120)
    hot = result["workers"].get("hotreload", {"error": "not run"})
    result["correct"] = hot.get("verdict") == "yes"
    return result


def format_block(result: dict) -> str:
    labels = {name: cls.label for name, cls in bench_core.TOOLS.items()}
    floor = result["workers"].get("floor", {})
    big = max(result["sizes"])
    lines = [
        "== modules: many small modules loaded, one edited: finding what changed",
        f"package       {', then '.join(str(s) for s in result['sizes'])} generated modules of ~45 lines; "
        "find = a check when nothing changed; edit = one module edited, found and reloaded",
    ]
    for name, why in result["missing"].items():
        lines.append(f"  {labels[name]}: {why}")
    for name, w in result["workers"].items():
        if "error" in w:
            lines.append(f"  {labels[name]:<26} FAILED TO RUN: {w['error']}")
            continue
        if w.get("find"):
            finds = "   ".join(f"find with {int(n)} loaded {f['median_ms']:6.2f} ms"
                               for n, f in sorted(w["find"].items(), key=lambda kv: int(kv[0])))
        else:
            finds = w.get("no_find", "")
        ratio = ""
        if name != "floor" and "edit_ms" in floor:
            ratio = f" ({w['edit_ms'] / floor['edit_ms']:.2f}x floor)"
        lines.append(f"  {labels[name]:<26} {finds}")
        lines.append(f"  {'':<26} edit one of {big}: {w['edit_ms']:.2f} ms{ratio}   correct: {w['verdict']}")
        for kind, detail in w["failures"][:2]:
            lines.append(f"  {'':<28}{kind}: {detail}")
        for note in w.get("notes", []):
            lines.append(f"  {'':<26} note: {note}")
    hot = result["workers"].get("hotreload", {})
    found = hot.get("find", {}).get(str(big)) or hot.get("find", {}).get(big)
    if found:
        met = "MET" if found["median_ms"] < TARGET_FIND_MS else "NOT MET"
        lines.append(f"  target: hotreload finds the change among {big} modules in < {TARGET_FIND_MS:g} ms: "
                     f"{found['median_ms']:.2f} ms, {met}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"smaller sizes: {QUICK}")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    print(format_block(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0 if result["correct"] else 1


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.exit(bench_core.worker_main(sys.argv[1:], worker))
    sys.exit(main())
