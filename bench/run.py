"""Entry point of ``make bench``: run every benchmark, print its block, then
the summary table of the whole run.

Benchmarks (see each module's docstring for what its figures mean):

* core    (bench_core.py)    scenarios 1, 2 and 4: reload of a big game-like
                             module with a live heap (one body edited, every
                             body edited, instance hooks), every tool side by
                             side with the floor (importlib.reload), and
                             scenarios 1 and 2 at 0 to 10M objects, with
                             the collector on and off, for the plot;
* modules (bench_modules.py) scenario 3: many small modules loaded, one
                             edited: finding what changed;
* import  (bench_import.py)  scenario 5: overhead of hotreload.install() on
                             ordinary imports;
* memory  (bench_memory.py)  scenario 6: what a reloader keeps per module;
* watch   (bench_watch.py)   latency from a save to the new code running in
                             `hotreload run`, native events and polling;
* fleet   (bench_fleet.py)   from `hotreload push` to the last acknowledgement
                             for 1, 20 and 100 agent processes over a Redis of
                             its own, beside the same reload done locally;
* scale   (bench_scale.py)   what a reload costs as the heap, the module and the
                             change grow (issue 13), on every interpreter named
                             in HOTRELOAD_BENCH_PYTHONS (``make bench`` names
                             each one present), else this one.

The tools are the floor, hotreload and the peers a user would pick instead:
IPython's autoreload (superreload, and IPython 9's %autoreload) and jurigged;
a peer that is not installed is reported as such (``make bench`` installs
them into the bench environment).

How to extend:

* a new benchmark: a module with ``run(quick=False) -> dict`` and
  ``format_block(result) -> str``, listed in `BENCHMARKS`;
* a new reloader to compare: a subclass of `bench_core.Tool`, added to
  `bench_core.TOOLS` (and a `bench_modules.Finder` for scenario 3);
* a new kind of edit: a `bench_core.Scenario` in `bench_core.SCENARIOS`;
* a new output: a function taking the dict of all results, added to
  `reporters()`.

Options: ``--quick`` (smaller sizes, fewer runs), ``--only core,import``,
``--json PATH`` (all results as JSON), ``--out DIR`` (where results.md and
results.png go; by default bench/ for a full run, nowhere for ``--quick`` or
``--only``).  The exit status is 1 if hotreload failed a correctness check
(performance targets missed are only reported).
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
import bench_fleet  # noqa: E402
import bench_import  # noqa: E402
import bench_memory  # noqa: E402
import bench_modules  # noqa: E402
import bench_report  # noqa: E402
import bench_scale  # noqa: E402
import bench_watch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Benchmark:
    name: str
    run: Callable[..., dict]
    format_block: Callable[[dict], str]


BENCHMARKS = [
    Benchmark("core", bench_core.run, bench_core.format_block),
    Benchmark("modules", bench_modules.run, bench_modules.format_block),
    Benchmark("import", bench_import.run, bench_import.format_block),
    Benchmark("memory", bench_memory.run, bench_memory.format_block),
    Benchmark("watch", bench_watch.run, bench_watch.format_block),
    Benchmark("fleet", bench_fleet.run, bench_fleet.format_block),
    Benchmark("scale", bench_scale.run, bench_scale.format_block),
]


def write_json(path: str) -> Callable[[dict], None]:
    def reporter(results: dict) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        print(f"results written to {path}")

    return reporter


def write_summary(folder: str | None, seconds: float) -> Callable[[dict], None]:
    """Print the summary table; write it to folder/results.md and the plot to
    folder/results.png (when `folder` is given)."""

    def reporter(results: dict) -> None:
        text = bench_report.summary(results, seconds)
        if "fleet" in results:
            text += "\n" + bench_fleet.markdown(results["fleet"])
        if "scale" in results:
            text += "\n" + bench_scale.markdown(results["scale"])
        print(text)
        if folder is None:
            return
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "results.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"summary written to {path}")
        png = os.path.join(folder, "results.png")
        why_not = bench_report.plot(results, png)
        print(f"plot written to {png}" if why_not is None else f"no plot: {why_not}")

    return reporter


def reporters(args, seconds: float) -> list[Callable[[dict], None]]:
    """Outputs made from the results of all benchmarks, after they ran."""
    folder = args.out if args.out else (None if args.quick or args.only else HERE)
    out = [write_summary(folder, seconds)]
    if args.json:
        out.append(write_json(args.json))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    parser.add_argument("--only", help="comma-separated benchmark names: " + ",".join(b.name for b in BENCHMARKS))
    parser.add_argument("--json", metavar="PATH", help="write all results as JSON")
    parser.add_argument("--out", metavar="DIR", help="write results.md and results.png there")
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
    seconds = time.perf_counter() - start
    print(f"all benchmarks: {seconds:.1f} s\n")
    for report in reporters(args, seconds):
        report(results)
    correct = all(results.get(name, {}).get("correct", True) for name in ("core", "modules"))
    correct = correct and not ("scale" in results and bench_scale.failed(results["scale"]))
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
