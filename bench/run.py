"""Entry point of ``make bench``: run every benchmark and print its block.

Benchmarks (see each module's docstring for what its figures mean):

* core    (bench_core.py)    reload of a big game-like module with a live heap,
                             hotreload against the floor, importlib.reload;
* import  (bench_import.py)  overhead of hotreload.install() on ordinary imports;
* hooks   (bench_hooks.py)   __reload_instance__ on 100,000 live instances, and
                             IPython's autoreload on the same reload;
* watch   (bench_watch.py)   latency from a save to the new code running in
                             `hotreload run`, native events and polling.

How to extend:

* a new benchmark: a module with ``run(quick=False) -> dict`` and
  ``format_block(result) -> str``, listed in `BENCHMARKS`;
* a new reloader to compare (a peer such as IPython's autoreload or jurigged):
  a subclass of `bench_core.Tool`, added to `bench_core.default_tools()`;
* a new kind of edit: a `bench_core.Scenario` in
  `bench_core.default_scenarios()`;
* a new output (a table in bench/results.md, a plot): a function taking the
  dict of all results, added to `reporters()`.

Options: ``--quick`` (smaller sizes, fewer runs), ``--only core,import``,
``--json PATH`` (all results as JSON).  The exit status is 1 if a
correctness check failed (performance targets missed are only reported).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_core  # noqa: E402
import bench_hooks  # noqa: E402
import bench_import  # noqa: E402
import bench_watch  # noqa: E402


@dataclass
class Benchmark:
    name: str
    run: Callable[..., dict]
    format_block: Callable[[dict], str]


BENCHMARKS = [
    Benchmark("core", bench_core.run, bench_core.format_block),
    Benchmark("import", bench_import.run, bench_import.format_block),
    Benchmark("hooks", bench_hooks.run, bench_hooks.format_block),
    Benchmark("watch", bench_watch.run, bench_watch.format_block),
]


def write_json(path: str) -> Callable[[dict], None]:
    def reporter(results: dict) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        print(f"results written to {path}")

    return reporter


def reporters(args) -> list[Callable[[dict], None]]:
    """Outputs made from the results of all benchmarks, after they ran."""
    out = []
    if args.json:
        out.append(write_json(args.json))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    parser.add_argument("--only", help="comma-separated benchmark names: " + ",".join(b.name for b in BENCHMARKS))
    parser.add_argument("--json", metavar="PATH", help="write all results as JSON")
    args = parser.parse_args(argv)

    chosen = BENCHMARKS
    if args.only:
        wanted = args.only.split(",")
        unknown = set(wanted) - {b.name for b in BENCHMARKS}
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        chosen = [b for b in BENCHMARKS if b.name in wanted]

    results: dict = {}
    start = time.perf_counter()
    for bench in chosen:
        t0 = time.perf_counter()
        results[bench.name] = bench.run(quick=args.quick)
        print(bench.format_block(results[bench.name]))
        print(f"({bench.name}: {time.perf_counter() - t0:.1f} s)\n", flush=True)
    print(f"all benchmarks: {time.perf_counter() - start:.1f} s")
    for report in reporters(args):
        report(results)
    return 0 if results.get("core", {}).get("correct", True) else 1


if __name__ == "__main__":
    sys.exit(main())
