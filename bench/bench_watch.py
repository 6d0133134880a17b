"""Latency from a save to the new code running, in ``hotreload run``.

A child process runs ``hotreload run --quiet app.py``; ``app.py`` imports
``lib`` and ticks every millisecond on its main thread, and on the first tick
that sees a new ``lib.VERSION`` (the new code running) prints the version and
``time.time()``.  The parent writes ``lib.py`` with the next version, notes
``time.time()`` just before the write, and reads the child's line: the
difference is the latency the user sees, from the save to the first tick on
the new code.  It covers noticing the change (inotify through watchdog, or a
stat poll), the watcher's quiet period (50 ms, which absorbs an editor's
burst of writes), waiting for the main thread's next safe point, and the
reload itself.

Two variants: native events (watchdog; skipped when it is not installed)
and polling at the default interval.  Figures: median, minimum and maximum
over `SAVES` saves, each well apart from the last and at a random phase of
the poll interval.  Target: a median under
100 ms with native events.

Run ``python bench/bench_watch.py`` (``--quick`` for fewer saves), or call
`run` and `format_block`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

TARGET_MS = 100.0
SAVES = 20
QUICK_SAVES = 5
# Seconds between two saves, so each is a burst of its own; drawn at random so
# that the saves fall at every phase of the poll interval.
PAUSE = (0.2, 0.45)
TIMEOUT = 10.0

APP = """\
import sys, time
import lib

seen = lib.VERSION
print("ready", flush=True)
while seen < {last}:
    if lib.VERSION != seen:
        seen = lib.VERSION
        print(seen, time.time(), flush=True)
    time.sleep(0.001)
"""

LIB = """\
VERSION = {version}


def tick():
    return {version}
"""


def _watchdog_available() -> bool:
    try:
        import watchdog.observers  # noqa: F401
    except ImportError:
        return False
    return True


def measure(options: list[str], saves: int) -> list[float]:
    """Latencies in ms of `saves` saves in a child run with `options`."""
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as folder:
        with open(os.path.join(folder, "app.py"), "w") as f:
            f.write(APP.format(last=saves))
        lib = os.path.join(folder, "lib.py")
        with open(lib, "w") as f:
            f.write(LIB.format(version=0))
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        child = subprocess.Popen(
            [sys.executable, "-m", "hotreload", "run", "--quiet", *options, "app.py"],
            cwd=folder, env=env, stdout=subprocess.PIPE, text=True,
        )
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(l) for l in child.stdout], daemon=True)
        reader.start()
        try:
            if lines.get(timeout=TIMEOUT).strip() != "ready":
                raise RuntimeError("the child did not start")
            latencies = []
            pauses = random.Random(4)
            for version in range(1, saves + 1):
                time.sleep(pauses.uniform(*PAUSE))
                written = time.time()
                with open(lib, "w") as f:
                    f.write(LIB.format(version=version))
                seen, applied = lines.get(timeout=TIMEOUT).split()
                if int(seen) != version:
                    raise RuntimeError(f"expected version {version}, the child ran {seen}")
                latencies.append((float(applied) - written) * 1000)
            child.wait(TIMEOUT)
            return latencies
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            reader.join(TIMEOUT)
            child.stdout.close()


def _summary(latencies: list[float]) -> dict:
    return {
        "latencies_ms": latencies,
        "median_ms": statistics.median(latencies),
        "min_ms": min(latencies),
        "max_ms": max(latencies),
    }


def run(quick: bool = False) -> dict:
    from hotreload.watch import DEFAULT_POLL

    saves = QUICK_SAVES if quick else SAVES
    result = {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "saves": saves,
        "poll_interval_s": DEFAULT_POLL,
        "native": _summary(measure([], saves)) if _watchdog_available() else None,
        "poll": _summary(measure(["--poll", str(DEFAULT_POLL)], saves)),
    }
    return result


def format_block(result: dict) -> str:
    """The human-readable block of `run`'s result."""
    lines = [
        "== watch: latency from a save to the new code running in `hotreload run`",
        f"python        {result['python']['version']} ({result['python']['executable']})",
        f"workload      {result['saves']} saves of a module; the child ticks every 1 ms on its "
        "main thread",
        "figures       time.time() of the first tick on the new code minus that of the save",
    ]
    for name, label in (("native", "native (watchdog)"),
                        ("poll", f"polling every {result['poll_interval_s']:g} s")):
        figures = result[name]
        if figures is None:
            lines.append(f"  {label:<24} skipped: watchdog is not installed")
            continue
        lines.append(f"  {label:<24} median {figures['median_ms']:6.1f} ms   "
                     f"min {figures['min_ms']:6.1f} ms   max {figures['max_ms']:6.1f} ms")
    native = result["native"]
    if native is not None:
        verdict = "MET" if native["median_ms"] < TARGET_MS else "NOT MET"
        lines.append(f"  verdict                  native median {native['median_ms']:.1f} ms"
                     f"   target < {TARGET_MS:g} ms: {verdict}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SAVES} saves per variant")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    args = parser.parse_args()
    result = run(quick=args.quick)
    print(format_block(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
