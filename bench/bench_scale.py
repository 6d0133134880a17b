"""Scale benchmark: what a reload costs as the program and the change grow.

Each case puts hotreload beside its floor, ``importlib.reload`` of the same
source in the same process (two copies of the module, ``floor_*`` and
``hr_*``, edited the same way and reloaded round by round, the two taking
turns to go first), and prints the median of each and their ratio against
the case's target (issue 13).  Every case runs in a fresh interpreter of
its own (a worker: ``python bench_scale.py --worker CASE``), on every
interpreter given (``make bench`` gives each one present); a worker also
checks that the reload took (the edited code runs), and a wrong result
fails the case.

Cases:

* ``gc_off_one_body``  one body edited in the game module (bench/gamegen.py)
                       of a program that runs with ``gc.disable()``, with 2M
                       live objects: what the reload made is told apart and
                       collected without a scan of the heap;
* ``frozen_one_body``  the same in a program that froze its start-up state
                       (``gc.freeze()``) and then disabled collection;
* ``closures_every_body``  every body edited in a module of closure
                       factories, with 3M live objects of which 3,000 live
                       closures: after the first reload, which walks the
                       heap once, the function watcher (3.12+) knows them;
* ``constant_3000``    a constant read by 3,000 module-level statements is
                       edited: the statements that read it run again;
* ``modules_3000``     3,000 small modules edited, one ``hotreload.reload``
                       call against 3,000 ``importlib.reload`` calls;
* ``big_every_body``   every body of a 50,000-line module edited;
* ``big_one_body``     one body of it edited (target in milliseconds);
* ``watcher_pause``  the longest pause a 1 ms ticker on the main thread
                       sees while the watcher applies an every-body edit of
                       a 10k-line module, the changed statements compiled
                       ahead in a helper process (hotreload.ahead), against
                       importlib.reload's pause on the main thread;
* ``watcher_overhead`` what the function watcher (3.12+, base/watcher.c)
                       costs the running program: making and freeing a
                       closure in a loop, in a process where a reload has
                       left code watched, against one without hotreload
                       (ratio of the best timings, 7 per process, the
                       processes alternating five times; 1.00 before 3.12;
                       also the ratio of the instructions the loop executes,
                       counted by callgrind, which no load on the machine
                       changes); beside it, on 3.12+, the same for a
                       watcher that does nothing (bench/noop_watcher.c,
                       compiled for the interpreter): CPython's own
                       dispatch, the floor under any watcher's cost.

``--quick`` shrinks every size tenfold (a smoke run; the targets hold for
the full sizes).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gamegen  # noqa: E402

ROUNDS = 7
# Rounds of the cases timed against the floor, the two sides taking turns
# to go first: 10 timed, the first left out.
PAIRED_ROUNDS = 11
WORKER_TIMEOUT_S = 900


@dataclass
class Case:
    name: str
    label: str
    target: float
    unit: str  # "x" (ratio to the floor) or "ms" (hotreload's own time)
    run: Callable[[bool], dict]


# --------------------------------------------------------------------------
# The worker's side


class Workspace:
    """A folder on sys.path with two copies of each module, written per step."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="hr-scale-")
        sys.path.insert(0, self.root)
        self.stamp = 1_000_000_000

    def write(self, name: str, source: str) -> None:
        path = os.path.join(self.root, name + ".py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        self.stamp += 2
        os.utime(path, ns=(self.stamp * 10**9, self.stamp * 10**9))

    def write_both(self, name: str, source: str) -> None:
        self.write("floor_" + name, source)
        self.write("hr_" + name, source)
        importlib.invalidate_caches()


def paired_rounds(rounds: int, write: Callable[[int], None], floor: Callable[[], None],
                  ours: Callable[[], None], check: Callable[[int], None],
                  collecting: bool) -> tuple[list[float], list[float]]:
    """Per round: writes step r, then times the floor's reload and ours,
    the floor first in odd rounds and second in even ones, so that neither
    always runs on the caches or the collector's counts the other left.
    With the collector on, garbage is collected before each timed reload,
    so that neither pays for collecting what the other left (the floor's
    old module is cyclic garbage); under gc.disable() nothing is.  Returns
    the seconds of each side, round 1 (which warms caches up) left out."""
    floor_s: list[float] = []
    ours_s: list[float] = []

    def timed(step: Callable[[], None], into: list[float]) -> None:
        if collecting:
            gc.collect()
        t0 = time.perf_counter()
        step()
        into.append(time.perf_counter() - t0)

    for r in range(1, rounds + 1):
        write(r)
        sides = [(floor, floor_s), (ours, ours_s)]
        for step, into in sides if r % 2 else reversed(sides):
            timed(step, into)
        check(r)
    return floor_s[1:], ours_s[1:]


def medians(floor_s: list[float], ours_s: list[float]) -> dict:
    floor_ms = statistics.median(floor_s) * 1e3
    hr_ms = statistics.median(ours_s) * 1e3
    return {"floor_ms": floor_ms, "hotreload_ms": hr_ms, "ratio": hr_ms / floor_ms,
            "rounds": len(ours_s)}


def timed_rounds(ws: Workspace, names: list[str], source_of: Callable[[str, int], str],
                 check: Callable[[int], None], rounds: int) -> dict:
    """Imports floor_* and hr_* of each name at step 0, then per round writes
    step r and reloads the floor copies (importlib.reload, one call each)
    and the hr copies (one hotreload.reload call); returns the medians."""
    import hotreload

    for name in names:
        ws.write_both(name, source_of(name, 0))
    floors = [importlib.import_module("floor_" + n) for n in names]
    hotreload.install()
    hrs = [importlib.import_module("hr_" + n) for n in names]

    def write(r: int) -> None:
        for name in names:
            ws.write_both(name, source_of(name, r))

    def floor() -> None:
        for m in floors:
            importlib.reload(m)

    return medians(*paired_rounds(rounds, write, floor, lambda: hotreload.reload(*hrs), check,
                                  collecting=gc.isenabled()))


def game_one_body(quick: bool, collector: str) -> dict:
    ws = Workspace()
    n_objects = 200_000 if quick else 2_000_000
    heap = []

    def source(name, r):
        return gamegen.generate(0, func0_version=r)

    def check(r):
        m = sys.modules["hr_game"]
        expected = sys.modules["floor_game"].func_0(5)
        if m.func_0(5) != expected:
            raise AssertionError(f"round {r}: func_0 gives {m.func_0(5)}, not {expected}")

    for name in ("game",):
        ws.write_both(name, source(name, 0))
    importlib.import_module("floor_game")
    heap.append(gamegen.build_objects(n_objects))
    if collector == "frozen":
        gc.freeze()
    gc.disable()
    result = timed_rounds(ws, ["game"], source, check, PAIRED_ROUNDS)
    result["live_objects"] = n_objects
    result["gc_count_after"] = gc.get_count()[0]
    return result


def closures_every_body(quick: bool) -> dict:
    """A module of 200 factories, each returning a handler that closes over
    its argument; the program holds 3,000 handlers made by the factories of
    the hr copy (and as many of the floor copy) among 3M live objects."""
    ws = Workspace()
    n_factories = 200
    n_closures = 300 if quick else 3_000
    n_objects = 300_000 if quick else 3_000_000

    def source(name, r):
        out = ['"""Closure factories (bench_scale)."""', ""]
        for i in range(n_factories):
            out += [
                f"def make_{i}(n):",
                f"    k = n * {i + 1}",
                "    def handler(x):",
                f"        return x + k + {r * 1000 + i}",
                "    return handler",
                "",
            ]
        return "\n".join(out)

    def check(r):
        h = handlers[0]
        if h(1) != 1 + 0 + r * 1000:
            raise AssertionError(f"round {r}: a live closure gives {h(1)}")

    ws.write_both("factories", source("factories", 0))
    handlers: list = []
    import hotreload

    hotreload.install()
    floor_m = importlib.import_module("floor_factories")
    hr_m = importlib.import_module("hr_factories")
    for j in range(n_closures):
        handlers.append(getattr(hr_m, f"make_{j % n_factories}")(j // n_factories))
        handlers.append(getattr(floor_m, f"make_{j % n_factories}")(j // n_factories))
    filler = gamegen.build_objects(n_objects - 2 * n_closures)
    gc.collect()
    result = medians(*paired_rounds(
        PAIRED_ROUNDS, lambda r: ws.write_both("factories", source("factories", r)),
        lambda: importlib.reload(floor_m), lambda: hotreload.reload(hr_m), check,
        collecting=True))
    del filler
    result.update(live_objects=n_objects, live_closures=n_closures)
    return result


def constant_3000(quick: bool) -> dict:
    """``LIMIT`` is read by 3,000 module-level statements; the edit changes
    LIMIT alone, so every statement that reads it must run again."""
    ws = Workspace()
    n = 300 if quick else 3000

    def source(name, r):
        out = ['"""A constant read by many statements (bench_scale)."""', "", f"LIMIT = {r + 10}", ""]
        out += [f"T_{i} = LIMIT * {i} + {i % 7}" for i in range(n)]
        return "\n".join(out) + "\n"

    def check(r):
        m = sys.modules["hr_constant"]
        if m.T_7 != (r + 10) * 7 + 0:
            raise AssertionError(f"round {r}: T_7 is {m.T_7}")

    return timed_rounds(ws, ["constant"], source, check, PAIRED_ROUNDS)


def modules_3000(quick: bool) -> dict:
    ws = Workspace()
    n = 300 if quick else 3000
    names = [f"small_{i}" for i in range(n)]

    def source(name, r):
        return gamegen.generate_small(int(name.split("_")[1]), r)

    def check(r):
        m = sys.modules["hr_small_7"]
        f = sys.modules["floor_small_7"]
        if m.helper_0(3) != f.helper_0(3):
            raise AssertionError(f"round {r}: helper_0 gives {m.helper_0(3)}")

    result = timed_rounds(ws, names, source, check, 5)
    result["modules"] = n
    return result


def big_module(quick: bool, every: bool) -> dict:
    ws = Workspace()
    n_funcs, n_classes = (160, 40) if quick else (1600, 400)

    def source(name, r):
        if every:
            return gamegen.generate(r, n_funcs=n_funcs, n_classes=n_classes)
        return gamegen.generate(0, n_funcs=n_funcs, n_classes=n_classes, func0_version=r)

    def check(r):
        m, f = sys.modules["hr_big"], sys.modules["floor_big"]
        if m.func_0(5) != f.func_0(5) or m.func_3(2) != f.func_3(2):
            raise AssertionError(f"round {r}: the new bodies did not take")

    result = timed_rounds(ws, ["big"], source, check, PAIRED_ROUNDS)
    result["lines"] = len(source("big", 0).splitlines())
    return result


OVERHEAD_LOOP = """
import sys, time
sys.path.insert(0, ROOT)
sys.dont_write_bytecode = True   # each process starts from SOURCE, never a cached edit
if WATCH == "noop":
    import noop_watcher
    noop_watcher.add()
elif WATCH:
    import hotreload, importlib, os
    with open(os.path.join(ROOT, "watched_factories.py"), "w") as f:
        f.write(SOURCE)
    hotreload.install()
    import watched_factories as w
    keep = [w.make(i) for i in range(1000)]
    for step in (2, 3):          # the first walks once: its nested code is watched
        with open(w.__file__, "w") as f:   # now; the second reads the notes
            f.write(SOURCE.replace("n + 1", f"n + {step}"))
        importlib.invalidate_caches()
        hotreload.reload(w)
    # What is measured is a program with watched code and noted closures:
    # fail rather than time a process where the watcher has nothing to do.
    from hotreload import _hotreload
    if sys.version_info >= (3, 12) and not _hotreload._watched_codes():
        raise SystemExit("no code is watched: the loop would not measure the watcher")
    if [k() for k in keep[:2]] != [3, 4]:
        raise SystemExit("the live closures did not take the new code")

def make(n):
    return lambda: n

def loop(count):
    for i in range(count):
        f = make(i)

best = float("inf")
for _ in range(REPS):
    t0 = time.perf_counter()
    loop(N)
    best = min(best, time.perf_counter() - t0)
print(best)
"""


def build_noop_watcher(folder: str) -> bool:
    """Compiles bench/noop_watcher.c for this interpreter into `folder`:
    False where it cannot be (before 3.12, or no compiler)."""
    import shlex
    import sysconfig

    if sys.version_info < (3, 12):
        return False
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")
    target = os.path.join(folder, "noop_watcher" + sysconfig.get_config_var("EXT_SUFFIX"))
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "noop_watcher.c")
    built = subprocess.run(compiler + ["-O2", "-shared", "-fPIC", "-I",
                                       sysconfig.get_paths()["include"], source, "-o", target],
                           capture_output=True, text=True)
    return built.returncode == 0


def watcher_overhead(quick: bool) -> dict:
    """Closures made and freed in a loop, without hotreload, with a watcher
    that does nothing (CPython's dispatch alone) and with hotreload's: wall
    time (the case's ratio; best of each process), and the instructions the
    loop executes, counted by callgrind (deterministic, where valgrind is
    installed)."""
    import bench_import

    ws = Workspace()
    source = "def make(n):\n    def handler():\n        return n + 1\n    return handler\n"
    ws.write("watched_factories", source)
    n = 200_000 if quick else 2_000_000
    variants = [False, True] + (["noop"] if build_noop_watcher(ws.root) else [])

    def program(watch, count, reps):
        return (f"ROOT = {ws.root!r}\nWATCH = {watch!r}\nN = {count}\nREPS = {reps}\n"
                f"SOURCE = {source!r}\n" + OVERHEAD_LOOP)

    # The processes alternate, five times each, and each keeps its best:
    # the machine's speed drifts more between two processes than the
    # watcher costs.
    timings = {watch: float("inf") for watch in variants}
    for _ in range(5):
        for watch in variants:
            out = subprocess.run([sys.executable, "-c", program(watch, n, 7)],
                                 capture_output=True, text=True, check=True)
            timings[watch] = min(timings[watch], float(out.stdout.strip().splitlines()[-1]))
    floor_ms, hr_ms = timings[False] * 1e3, timings[True] * 1e3
    result = {"floor_ms": floor_ms, "hotreload_ms": hr_ms, "ratio": hr_ms / floor_ms,
              "wall_ratio": hr_ms / floor_ms, "closures_made": n}
    if "noop" in timings:
        result["noop_watcher_ms"] = timings["noop"] * 1e3
        result["noop_watcher_ratio"] = timings["noop"] / timings[False]
    # The loop's own instructions: a run of it minus the same process with
    # an empty loop (start-up, the reloads).
    counted = n // 20
    loop_instructions = {}
    for watch in variants:
        full = bench_import.count_instructions(program(watch, counted, 1))
        empty = bench_import.count_instructions(program(watch, 0, 1))
        if full is None or empty is None:
            return result
        loop_instructions[watch] = full - empty
    result["instructions_per_closure"] = {
        "without": loop_instructions[False] / counted, "with": loop_instructions[True] / counted,
    }
    result["instruction_ratio"] = loop_instructions[True] / loop_instructions[False]
    if "noop" in loop_instructions:
        result["instructions_per_closure"]["noop_watcher"] = loop_instructions["noop"] / counted
        result["noop_instruction_ratio"] = loop_instructions["noop"] / loop_instructions[False]
    return result


def tick_until(done: Callable[[], bool], limit_s: float = 20.0) -> float:
    """A 1 ms ticker on this (the main) thread until done(): returns the
    longest gap it saw between two ticks, in seconds."""
    worst = 0.0
    last = time.perf_counter()
    deadline = last + limit_s
    while not done():
        time.sleep(0.001)
        now = time.perf_counter()
        worst = max(worst, now - last)
        last = now
        if now > deadline:
            raise AssertionError(f"not applied within {limit_s:g} s")
    return worst


def watcher_pause(quick: bool) -> dict:
    """The longest pause a 1 ms ticker on the main thread sees while the
    watcher applies an every-body edit of a 10k-line module (compiled
    ahead in its helper process, hotreload.ahead), against the pause of
    importlib.reload of the same edit, run on the main thread as a program
    would.  Also given: the watcher's pause with compiling ahead off."""
    import hotreload

    ws = Workspace()
    n_funcs, n_classes = (32, 8) if quick else (320, 80)

    def source(r):
        return gamegen.generate(r, n_funcs=n_funcs, n_classes=n_classes)

    ws.write_both("ten", source(0))
    floor_m = importlib.import_module("floor_ten")
    hotreload.install()
    hr_m = importlib.import_module("hr_ten")
    gaps = {"floor": [], "ahead": [], "alone": []}
    for r in range(1, ROUNDS + 1):
        ws.write("floor_ten", source(r))
        importlib.invalidate_caches()
        applied = []

        def floor_step():
            if not applied:
                importlib.reload(floor_m)
                applied.append(True)
                return False
            return True

        gaps["floor"].append(tick_until(floor_step))
    step = ROUNDS
    for variant in ("ahead", "alone"):
        # The floor's copy is not watched: the watcher would reload it too
        # (in full: imported before install()), on the main thread.
        watcher = hotreload.Watcher([ws.root], poll=0.02, quiet=0.02, apply="main",
                                    exclude=["floor_*"], precompile=variant == "ahead",
                                    on_event=lambda event: None)
        watcher.start()
        try:
            for _ in range(ROUNDS):
                step += 1
                # What the new code answers, from the floor's copy, before the
                # save the watcher sees: else the watcher may apply it during
                # the floor's reload, where no tick measures it.
                ws.write("floor_ten", source(step))
                importlib.invalidate_caches()
                importlib.reload(floor_m)
                expected = floor_m.func_0(5), floor_m.func_3(2)
                ws.write("hr_ten", source(step))
                gaps[variant].append(tick_until(lambda: (hr_m.func_0(5), hr_m.func_3(2)) == expected))
        finally:
            watcher.stop()
    lines = len(source(0).splitlines())
    # The first round of each warms caches up.
    floor_ms = statistics.median(gaps["floor"][1:]) * 1e3
    hr_ms = statistics.median(gaps["ahead"][1:]) * 1e3
    return {"floor_ms": floor_ms, "hotreload_ms": hr_ms, "ratio": hr_ms / floor_ms,
            "without_compiling_ahead_ms": statistics.median(gaps["alone"][1:]) * 1e3,
            "lines": lines}


CASES = [
    Case("gc_off_one_body", "one body, gc.disable(), 2M objects", 0.10, "x",
         lambda q: game_one_body(q, "disabled")),
    Case("frozen_one_body", "one body, gc.freeze() + gc.disable(), 2M objects", 0.10, "x",
         lambda q: game_one_body(q, "frozen")),
    Case("closures_every_body", "every body, closure factories, 3M objects", 1.15, "x",
         closures_every_body),
    Case("constant_3000", "a constant read by 3,000 statements", 1.10, "x", constant_3000),
    Case("modules_3000", "3,000 modules, one reload call", 1.00, "x", modules_3000),
    Case("big_every_body", "every body of a 50k-line module", 1.10, "x",
         lambda q: big_module(q, True)),
    Case("big_one_body", "one body of a 50k-line module", 1.0, "ms",
         lambda q: big_module(q, False)),
    Case("watcher_overhead", "closures made in a loop, watcher on vs off", 1.05, "x",
         watcher_overhead),
    Case("watcher_pause", "main-thread pause, watcher, every body of 10k lines", 0.25, "x",
         watcher_pause),
]
BY_NAME = {c.name: c for c in CASES}


def worker(name: str, quick: bool) -> None:
    result = BY_NAME[name].run(quick)
    print(json.dumps(result))


# --------------------------------------------------------------------------
# The driver


def run_case(python: str, case: Case, quick: bool) -> dict:
    cmd = [python, os.path.abspath(__file__), "--worker", case.name] + (["--quick"] if quick else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def version_of(python: str) -> str:
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True)
    return out.stdout.strip() or python


def run(quick: bool = False, pythons: list[str] | None = None, only: list[str] | None = None) -> dict:
    pythons = pythons or os.environ.get("HOTRELOAD_BENCH_PYTHONS", "").split() or [sys.executable]
    cases = [c for c in CASES if not only or c.name in only]
    results: dict = {"quick": quick, "interpreters": {}}
    for python in pythons:
        version = version_of(python)
        per_case = {}
        for case in cases:
            figures = run_case(python, case, quick)
            if "error" not in figures:
                value = figures["hotreload_ms"] if case.unit == "ms" else figures["ratio"]
                figures["met"] = value <= case.target
            per_case[case.name] = figures
            print(f"  scale {version} {case.name}: {describe(case, figures)}", file=sys.stderr)
        results["interpreters"][version] = per_case
    return results


def describe(case: Case, figures: dict) -> str:
    if "error" in figures:
        return "FAILED: " + figures["error"]
    target = f"{case.target:g} ms" if case.unit == "ms" else f"{case.target:.2f}x"
    value = (f"{figures['hotreload_ms']:.2f} ms" if case.unit == "ms"
             else f"{figures['ratio']:.3f}x")
    return (f"floor {figures['floor_ms']:.2f} ms, hotreload {figures['hotreload_ms']:.2f} ms: "
            f"{value} (target {target}, {'met' if figures['met'] else 'MISSED'})" + extras(figures))


def extras(figures: dict) -> str:
    """What a case measured besides its ratio, as "; name value" parts."""
    parts = []
    if "instruction_ratio" in figures:
        parts.append(f"instructions {figures['instruction_ratio']:.3f}x (callgrind)")
    if "noop_watcher_ratio" in figures:
        noop = f"a watcher that does nothing {figures['noop_watcher_ratio']:.3f}x"
        if "noop_instruction_ratio" in figures:
            noop += f", instructions {figures['noop_instruction_ratio']:.3f}x"
        parts.append(noop)
    if "without_compiling_ahead_ms" in figures:
        parts.append(f"without compiling ahead {figures['without_compiling_ahead_ms']:.1f} ms")
    return "".join(f"; {p}" for p in parts)


def format_block(result: dict) -> str:
    lines = ["Scale (issue 13): hotreload against importlib.reload of the same source, "
             "medians" + (" (--quick sizes: targets are for the full ones)" if result["quick"] else "")]
    for version, per_case in result["interpreters"].items():
        lines.append(f"  CPython {version}")
        for case in CASES:
            if case.name in per_case:
                lines.append(f"    {case.label:<52} {describe(case, per_case[case.name])}")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The figures as a table per interpreter, for results.md."""
    versions = list(result["interpreters"])
    lines = ["Scale (issue 13): hotreload against `importlib.reload` of the same source in the same "
             "process, medians; *value* is the ratio, or hotreload's own time where the target is "
             "one.", "",
             "| case | target | " + " | ".join(f"CPython {v}" for v in versions) + " |",
             "|---|---|" + "---|" * len(versions)]
    for case in CASES:
        cells = []
        for v in versions:
            figures = result["interpreters"][v].get(case.name)
            if figures is None:
                cells.append("")
            elif "error" in figures:
                cells.append("FAILED")
            else:
                value = (f"{figures['hotreload_ms']:.2f} ms" if case.unit == "ms"
                         else f"{figures['ratio']:.2f}x")
                cells.append(f"{value} ({figures['floor_ms']:.1f} / {figures['hotreload_ms']:.1f} ms"
                             + extras(figures) + ")" + ("" if figures["met"] else " **missed**"))
        target = f"{case.target:g} ms" if case.unit == "ms" else f"{case.target:.2f}x"
        lines.append(f"| {case.label} | {target} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("(floor / hotreload ms in brackets)")
    return "\n".join(lines) + "\n"


def failed(result: dict) -> bool:
    """A wrong reload (a worker's check) fails the run; a missed target does not."""
    return any("error" in f for per in result["interpreters"].values() for f in per.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--python", action="append", help="interpreter to run (repeatable)")
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.quick)
        return
    result = run(args.quick, args.python, args.only.split(",") if args.only else None)
    print(format_block(result))
    sys.exit(1 if failed(result) else 0)


if __name__ == "__main__":
    main()
