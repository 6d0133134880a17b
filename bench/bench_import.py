"""Import overhead of ``hotreload.install()``.

Once installed, hotreload's import hook records the source file and source
text of every module imported afterwards.  This benchmark measures what that
costs on ordinary imports: in fresh subprocesses it imports a broad set of
standard-library packages (`PACKAGES`, a few hundred modules in all) and times
just those imports with ``time.perf_counter``, inside the subprocess.

Two variants, identical but for one call:

* without: ``import hotreload``, then the imports;
* with:    ``import hotreload; hotreload.install()``, then the imports.

``import hotreload`` happens in both, so the difference is install() and the
hook's work alone.  The variants are interleaved (without, with, without,
with, ...) so that drift on the machine hits both alike, after a few warm-up
runs of each that fill the OS file cache.  Figures: the median import time of
each variant, and the overhead ``median(with) / median(without) - 1`` in
percent (target: under 3%).  The overhead of the minima is printed too, as a
second, less noise-sensitive estimate.

Run ``python bench/bench_import.py`` (``--quick`` for fewer runs), or call
`run` and `format_block`.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import os
import json
import platform
import statistics
import re
import shutil
import subprocess
import sys

TARGET_PERCENT = 3.0
RUNS = 20
WARMUP = 3
QUICK = {"runs": 8, "warmup": 1}

# Broad, everyday standard-library imports (and everything they pull in).
PACKAGES = (
    "json", "decimal", "email.mime.text", "email.parser", "http.client",
    "http.server", "xml.etree.ElementTree", "xml.dom.minidom", "asyncio",
    "unittest", "unittest.mock", "logging.handlers", "argparse", "csv",
    "sqlite3", "urllib.request", "concurrent.futures", "dataclasses", "typing",
    "pathlib", "tarfile", "zipfile", "pydoc", "difflib", "inspect",
    "multiprocessing", "subprocess", "shutil", "tempfile", "fractions",
    "statistics", "ssl", "smtplib", "imaplib", "ftplib", "socketserver",
    "configparser", "plistlib", "pickle", "pprint", "textwrap", "gettext",
    "locale", "calendar", "uuid", "hashlib", "hmac", "secrets", "gzip", "bz2",
    "lzma", "sched", "queue", "heapq", "bisect", "enum", "functools",
    "contextlib", "ipaddress", "mimetypes", "wave", "colorsys", "timeit",
    "trace", "cProfile", "pstats", "doctest", "ast", "dis", "tokenize",
    "importlib.metadata", "zoneinfo", "html.parser", "webbrowser", "code",
    "cmd", "shlex", "glob", "fnmatch", "filecmp", "netrc", "string",
    "graphlib", "wsgiref.simple_server", "xmlrpc.client",
)

# The subprocess: both variants run exactly this, `install` being True or False.
CHILD = """\
import sys, time
import hotreload
if {install}:
    hotreload.install()
before = len(sys.modules)
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
print(t1 - t0, len(sys.modules) - before)
"""


def available(packages=PACKAGES) -> list[str]:
    """The packages this interpreter has (e.g. sqlite3 or ssl may be missing)."""
    return [p for p in packages if importlib.util.find_spec(p.split(".")[0]) is not None]


def child_source(packages: list[str], install: bool) -> str:
    imports = "\n".join(f"import {p}" for p in packages)
    return CHILD.format(install=install, imports=imports)


def run_child(source: str, python: str = sys.executable) -> tuple[float, int]:
    """Run one subprocess; return (seconds spent importing, modules imported)."""
    proc = subprocess.run([python, "-c", source], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the import benchmark's subprocess failed:\n{proc.stderr}")
    seconds, count = proc.stdout.split()
    return float(seconds), int(count)


def run(
    runs: int = RUNS,
    warmup: int = WARMUP,
    python: str = sys.executable,
    packages: list[str] | None = None,
    quick: bool = False,
) -> dict:
    """Interleave `runs` subprocesses of each variant; return the figures.

    Result keys: ``python``, ``packages`` (count), ``modules`` (modules newly
    imported per variant: should be equal), ``without_ms`` and ``with_ms``
    (all runs), ``median_ms`` and ``min_ms`` per variant, ``overhead_percent``
    (of the medians), ``overhead_min_percent`` (of the minima).
    """
    if quick:
        runs, warmup = QUICK["runs"], QUICK["warmup"]
    packages = available() if packages is None else packages
    sources = {v: child_source(packages, install=(v == "with")) for v in ("without", "with")}
    times: dict[str, list[float]] = {"without": [], "with": []}
    modules: dict[str, int] = {}
    for i in range(warmup + runs):
        for variant, source in sources.items():
            seconds, count = run_child(source, python)
            modules[variant] = count
            if i >= warmup:
                times[variant].append(seconds * 1e3)
    median = {v: statistics.median(t) for v, t in times.items()}
    minimum = {v: min(t) for v, t in times.items()}
    instructions = instruction_overhead(packages, python)
    return {
        "instruction_count": instructions,
        "python": {"version": platform.python_version(), "executable": python},
        "packages": len(packages),
        "runs": runs,
        "modules": modules,
        "without_ms": times["without"],
        "with_ms": times["with"],
        "median_ms": median,
        "min_ms": minimum,
        "overhead_percent": (median["with"] / median["without"] - 1) * 100,
        "overhead_min_percent": (minimum["with"] / minimum["without"] - 1) * 100,
    }


def count_instructions(source: str, python: str = sys.executable) -> int | None:
    """Instructions a subprocess executes, counted by valgrind's callgrind
    (deterministic: the same count on every run, whatever the machine is
    doing); None when valgrind is not installed."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    # A fixed hash seed: with a random one, set and dict orders (and so the
    # count) vary slightly from run to run.
    proc = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-c", source],
        capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"callgrind run failed:\n{proc.stderr[-2000:]}")
    match = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
    return int(match.group(1)) if match else None


def instruction_overhead(packages: list[str], python: str = sys.executable) -> dict | None:
    """The import workload's cost in instructions with and without install():
    each variant's process minus the same process importing nothing, so that
    starting the interpreter and importing hotreload cancel out.  The four
    callgrind runs are independent and their counts do not depend on the
    machine's load, so they run side by side, one per core."""
    runs = {
        (variant, workload): child_source(packages if workload == "full" else [], variant == "with")
        for variant in ("without", "with")
        for workload in ("full", "empty")
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {key: pool.submit(count_instructions, source, python) for key, source in runs.items()}
        counted = {key: future.result() for key, future in futures.items()}
    if None in counted.values():
        return None
    counts = {v: counted[(v, "full")] - counted[(v, "empty")] for v in ("without", "with")}
    return {
        "instructions": counts,
        "overhead_percent": (counts["with"] / counts["without"] - 1) * 100,
    }


def _iqr(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4)
    return f"{q[0]:.1f}..{q[2]:.1f}"


def format_block(result: dict) -> str:
    """The human-readable block of `run`'s result."""
    med, mn, mods = result["median_ms"], result["min_ms"], result["modules"]
    over = result["overhead_percent"]
    counted = result.get("instruction_count")
    # Wall time of fresh processes wanders by several percent from run to
    # run; the instruction count does not, so it decides when available.
    decisive = counted["overhead_percent"] if counted else over
    verdict = "MET" if decisive < TARGET_PERCENT else "NOT MET"
    lines = [
        "== import: overhead of hotreload.install() on ordinary imports",
        f"python        {result['python']['version']} ({result['python']['executable']})",
        f"workload      {result['packages']} standard-library packages, "
        f"{mods['without']} modules imported (with install(): {mods['with']}), in a fresh process",
        f"figures       import time inside the process; {result['runs']} interleaved runs per variant",
        f"  without install()   median {med['without']:7.1f} ms   min {mn['without']:7.1f} ms"
        f"   IQR {_iqr(result['without_ms'])} ms",
        f"  with install()      median {med['with']:7.1f} ms   min {mn['with']:7.1f} ms"
        f"   IQR {_iqr(result['with_ms'])} ms",
        f"  overhead            {over:+.1f} % (medians), {result['overhead_min_percent']:+.1f} % (minima)",
    ]
    if counted:
        ins = counted["instructions"]
        lines.append(
            f"  instructions        without {ins['without']:,}   with {ins['with']:,}   "
            f"overhead {counted['overhead_percent']:+.2f} % (callgrind, deterministic)"
        )
    lines.append(
        f"  verdict             {decisive:+.2f} % ({'instructions' if counted else 'medians'})"
        f"   target < {TARGET_PERCENT:g} %: {verdict}"
    )
    if mods["with"] != mods["without"]:
        lines.append(
            "  warning: the variants imported different numbers of modules; "
            "install() itself imports some, the comparison is skewed"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"fewer runs: {QUICK}")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    args = parser.parse_args(argv)
    result = run(runs=args.runs, quick=args.quick)
    print(format_block(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
