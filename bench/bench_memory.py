"""Scenario 6: what a reloader keeps per loaded module.

To reload in place, hotreload records the source text each module was built
from (``install()``'s import hook): a reload compares the new source with
it, statement by statement.  That costs memory for every module imported
afterwards.  This benchmark imports a package of `N_MODULES` generated small
modules (`gamegen.generate_small`) in fresh processes, with each tool set up
as it would be in a user's process, and measures what the imports cost:

* ``traced``: memory allocated through Python's allocators and still held
  after the imports (``tracemalloc``, started right before them): exact and
  repeatable;
* ``rss``: growth of the resident set size over the imports (in a process of
  its own without tracemalloc, whose bookkeeping would count).

Variants: ``none`` (no reloader: the modules' own cost), ``hotreload``
(``install()``), ``ipython_auto`` (a ``ModuleReloader`` as ``%autoreload``
keeps, after its next check has seen the new modules: their mtimes, and
deduperreload's copy of every module's source text), ``jurigged`` (its
registry's import sniffer, as ``jurigged.watch()`` sets up: a copy of every
module's source text).  A tool's cost is its figure minus ``none``'s, per
module, and as a percentage of what the modules cost by themselves.

For hotreload the records are also measured directly: the sizes of the
objects held by ``hotreload._hotreload._records()`` for the package's modules
(the source bytes, the record tuple and its integers; the path string is the
one the module's spec holds), per module.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import re
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_core  # noqa: E402
import gamegen  # noqa: E402

N_MODULES = 500
QUICK = {"n_modules": 100}
VARIANTS = ("none", "hotreload", "ipython_auto", "jurigged")


def _rss_kib() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))
    except OSError:
        return None


def _setup(variant: str, folder: str):
    """Set the tool up as a user's process would, before the imports; returns
    what to call after them (a tool that notices new modules later)."""
    if variant == "hotreload":
        bench_core.require_hotreload().install()
    elif variant == "ipython_auto":
        from IPython.extensions.autoreload import ModuleReloader

        reloader = ModuleReloader()
        reloader.enabled = True
        return reloader.check
    elif variant == "jurigged":
        from jurigged.register import registry
        from jurigged.utils import glob_filter

        registry.auto_register(filter=glob_filter(os.path.join(folder, "*")))
    return None


def _records_bytes(package: str) -> dict:
    """Bytes held by hotreload's records of the package's modules."""
    from hotreload import _hotreload

    records = {k: v for k, v in _hotreload._records().items() if k.startswith(package + ".")}
    held = source = 0
    for name, (path, text, mtime, size) in records.items():
        held += sys.getsizeof((path, text, mtime, size)) + sys.getsizeof(text)
        held += sys.getsizeof(mtime) + sys.getsizeof(size)
        if path is not sys.modules[name].__spec__.origin:
            held += sys.getsizeof(path)
        source += len(text)
    return {"modules": len(records), "held": held, "source": source}


def worker(spec: dict) -> dict:
    """Import the package with ``spec["variant"]`` set up; ``spec["trace"]``
    chooses tracemalloc (traced bytes) or not (resident set size)."""
    variant, n = spec["variant"], spec["n_modules"]
    ws = bench_core.Workspace()
    package = "pkg_memory"
    try:
        ws.write(f"{package}.__init__", '"""A package of generated small modules."""\n')
        for i in range(n):
            ws.write(f"{package}.mod_{i}", gamegen.generate_small(i))
        after = _setup(variant, ws.dir)
        gc.collect()
        rss0 = _rss_kib()
        if spec["trace"]:
            tracemalloc.start()
        for i in range(n):
            importlib.import_module(f"{package}.mod_{i}")
        if after is not None:
            after()
        gc.collect()
        result = {"variant": variant, "modules": n}
        if spec["trace"]:
            result["traced"] = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        else:
            rss1 = _rss_kib()
            result["rss"] = None if rss0 is None else (rss1 - rss0) * 1024
        if variant == "hotreload":
            result["records"] = _records_bytes(package)
        files = [ws.path(f"{package}.mod_{i}") for i in range(n)]
        result["source_bytes"] = sum(os.path.getsize(f) for f in files)
    finally:
        ws.close()
    return result


def run(quick: bool = False) -> dict:
    """Two workers per variant (traced, then resident set size).  Result keys:
    ``modules``, ``missing``, ``variants`` (name -> ``traced``, ``rss`` in
    bytes, and for hotreload ``records``), ``source_bytes`` (of the package's
    module files)."""
    n = QUICK["n_modules"] if quick else N_MODULES
    script = os.path.abspath(__file__)
    runnable, missing = bench_core.tools_to_run([v for v in VARIANTS if v != "none"])
    result: dict = {"modules": n, "missing": missing, "variants": {}}
    for variant in ["none", *runnable]:
        merged: dict = {}
        for trace in (True, False):
            done = bench_core.spawn(script, {"variant": variant, "n_modules": n, "trace": trace}, timeout=120)
            if "error" in done:
                merged = done
                break
            merged.update(done)
        result["variants"][variant] = merged
        result["source_bytes"] = merged.get("source_bytes", result.get("source_bytes"))
    return result


def per_module(result: dict, variant: str, key: str) -> float | None:
    """Bytes per module that `variant` adds to the modules' own cost."""
    v, none = result["variants"].get(variant, {}), result["variants"].get("none", {})
    if v.get(key) is None or none.get(key) is None:
        return None
    return (v[key] - none[key]) / result["modules"]


def format_block(result: dict) -> str:
    n = result["modules"]
    none = result["variants"].get("none", {})
    lines = [
        "== memory: what a reloader keeps per loaded module",
        f"workload      {n} generated small modules imported in a fresh process; "
        f"their files hold {result.get('source_bytes', 0) / n:.0f} bytes each",
    ]
    if "error" in none:
        return "\n".join(lines + [f"  FAILED TO RUN: {none['error']}"])
    lines.append(f"  no reloader (the modules' own cost)    traced {none['traced'] / n:8.0f} B/module   "
                 f"RSS {none['rss'] / n:8.0f} B/module")
    labels = {name: cls.label for name, cls in bench_core.TOOLS.items()}
    for variant, v in result["variants"].items():
        if variant == "none":
            continue
        if "error" in v:
            lines.append(f"  {labels[variant]:<38} FAILED TO RUN: {v['error']}")
            continue
        traced, rss = per_module(result, variant, "traced"), per_module(result, variant, "rss")
        lines.append(
            f"  {labels[variant] + ' adds':<38} traced {traced:8.0f} B/module ({traced / (none['traced'] / n):+.1%})   "
            f"RSS {rss:8.0f} B/module"
        )
        if "records" in v:
            r = v["records"]
            lines.append(f"  {'':<38} records: {r['held'] / max(1, r['modules']):.0f} B/module held "
                         f"({r['source'] / max(1, r['modules']):.0f} B of source text), {r['modules']} modules")
    for name, why in result["missing"].items():
        lines.append(f"  {labels[name]}: {why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK}")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    print(format_block(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.exit(bench_core.worker_main(sys.argv[1:], worker))
    sys.exit(main())
