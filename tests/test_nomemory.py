"""Allocation failures during a reload: never a crash, never half applied.

Each scenario runs in a child process (nomemory_sweep.py) that makes the
allocations of one reload fail, one at a time, with CPython's
`_testcapi.set_nomemory`, and checks after each attempt that the modules
are exactly as before (the reload raised) or exactly as a reload without
failures leaves them (it returned).  What may escape: `ReloadError` with a
`MemoryError` in its cause or context, or a bare `MemoryError`.

By default each scenario's sweep fails every one of its first 60 allocations,
then one in n/60;
HOTRELOAD_NOMEMORY_FULL=1 (set by `make sanitizers`) fails every one.  The
counts are printed (pytest -s) and, with HOTRELOAD_NOMEMORY_SUMMARY=path,
appended to that file as JSON lines.

CPython itself is not proof against allocation failures: its compiler
crashes 3.10, 3.11 and 3.13 when one of its allocations fails (a plain
`compile()` under `set_nomemory` does, with no hotreload involved), and
importlib's decode_source crashes 3.12 and 3.13.  So the child runs under
gdb, and a crash is judged by its C stack (the sanitizer's report, under
`make sanitize`): with the engine's own code on top it fails the test;
inside CPython's code it is counted as CPython's (with the engine function
that called in, listed), and the sweep goes on past it in a new child.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

try:
    import _testcapi
except ImportError:  # pragma: no cover (a CPython built without its test modules)
    _testcapi = None

pytestmark = [
    pytest.mark.skipif(_testcapi is None or not hasattr(_testcapi, "set_nomemory"),
                       reason="needs _testcapi.set_nomemory (CPython's test C API)"),
    pytest.mark.skipif(shutil.which("gdb") is None,
                       reason="needs gdb, to tell a crash in CPython from one in the engine"),
]

SWEEP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nomemory_sweep.py")
SCENARIOS = ["functions", "classes", "enums", "dataclasses", "from_imports", "hooks",
             "closures", "syntax_error", "body_raises"]
FULL = os.environ.get("HOTRELOAD_NOMEMORY_FULL") == "1"
# New children after CPython's own crashes, per scenario.
RESTARTS = 400 if FULL else 40
FRAME = re.compile(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+) .*?(?: at (\S+):\d+)?$")
# A sanitizer's stack: "    #3 0x7f... in function file.c:123"
SANITIZER_FRAME = re.compile(r"^#(\d+) 0x[0-9a-f]+ in (\S+) (\S+?)(?::\d+)*$")
SANITIZER_RUNTIME = ("libsanitizer", "__interceptor_", "__asan", "__sanitizer", "__ubsan")


def child(scenario, folder, *args, start=0):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__import__("hotreload").__file__)))]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["HR_SWEEP_START"] = str(start)
    # A preloaded sanitizer runtime (make sanitize) is for the child, not
    # for gdb, which hangs under it.
    preload = env.pop("LD_PRELOAD", None)
    setup = ["-ex", f"set environment LD_PRELOAD={preload}"] if preload else []
    command = ["gdb", "-q", "-batch", "-nx", *setup, "-ex", "run", "-ex", "bt", "--args",
               sys.executable, SWEEP, scenario, str(folder), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)


def last_attempt(stderr):
    lines = [line for line in stderr.splitlines() if line.startswith("attempt n=")]
    return int(lines[-1].split()[1][2:]) if lines else None


def crash_stack(stdout):
    """(function, source file) of each frame gdb printed for a crash, innermost
    first; None when the child did not crash."""
    if "Program received signal" not in stdout and "Program terminated" not in stdout:
        return None
    frames = []
    for line in stdout.splitlines():
        match = FRAME.match(line.strip())
        if match:
            frames.append((match.group(2), match.group(3) or ""))
    return frames


def sanitizer_stack(stderr):
    """(function, source file) of each frame of the first sanitizer report,
    innermost first, the sanitizer's own frames left out; None without one."""
    start = max(stderr.find("ERROR: AddressSanitizer"), stderr.find("runtime error:"))
    if start < 0:
        return None
    frames = []
    for line in stderr[start:].splitlines()[1:]:
        match = SANITIZER_FRAME.match(line.strip())
        if match is None:
            if frames:
                break  # the end of the first stack
            continue
        function, source = match.group(2), match.group(3)
        if not any(mark in function or mark in source for mark in SANITIZER_RUNTIME):
            frames.append((function, source))
    return frames


def judge(frames):
    """'engine' when the crash is in the engine's own code, else a description
    of CPython's crash and the engine function that called into it."""
    for depth, (function, source) in enumerate(frames):
        if "hotreload/_engine/" in source:
            if depth == 0:
                return "engine"
            return f"{frames[0][0]} in CPython, called by the engine's {function}"
    return f"{frames[0][0] if frames else '?'} in CPython, outside the engine"


def result_of(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_failed_allocation_leaves_the_module_before_or_after(scenario, tmp_path):
    totals = {"attempts": 0, "failed": 0, "refused": 0, "applied": 0, "half": 0,
              "unexplained": 0, "cpython_crashes": 0, "engine_crashes": 0}
    problems, crashes, start, finished, skip = [], {}, 0, False, 1
    for run in range(RESTARTS):
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        proc = child(scenario, folder, *(["full"] if FULL else []), start=start)
        frames = crash_stack(proc.stdout)
        saved = folder / "progress.json"  # the counts up to the last attempt
        if saved.exists():
            result = json.loads(saved.read_text(encoding="utf-8"))
            problems += result["problems"]
            for key, value in result["counts"].items():
                if key in totals:
                    totals[key] += value
            totals["allocations"] = result["counts"]["allocations"]
        broken = re.search(r"CPython broken after attempt n=(\d+)", proc.stderr)
        if frames is None and broken is None:
            finished = result_of(proc.stdout) is not None
            break
        if broken:
            # Not a crash: CPython was left broken in that process.
            n, where = int(broken.group(1)), "CPython left broken by a failed allocation"
        else:
            n = last_attempt(proc.stderr)
            reported = sanitizer_stack(proc.stderr)
            where = judge(reported if reported is not None else frames)
        if where == "engine" or n is None:
            totals["engine_crashes"] += 1
            pytest.fail(f"{scenario}: crashed at n={n} in the engine\n{proc.stdout[-4000:]}")
        totals["cpython_crashes"] += 1
        crashes[where] = crashes.get(where, 0) + 1
        # Past the crash; CPython's crashes come in runs (a whole compile),
        # so a crash on a run's first attempt doubles the jump.
        skip = skip * 2 if n == start else 1
        start = n + max(1, n // 60) * skip
    print(f"\n{scenario}: {json.dumps(totals)} CPython's crashes: {json.dumps(crashes)}")
    summary = os.environ.get("HOTRELOAD_NOMEMORY_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(json.dumps({"python": sys.version.split()[0], "scenario": scenario,
                                **totals, "crashes": crashes}) + "\n")
    assert problems == []
    assert totals["half"] == 0
    assert finished, f"the sweep did not reach the end of the reload: {RESTARTS} crashes of CPython's"


def test_the_units_array_failing_is_refused_without_a_crash(tmp_path):
    """The first allocation of a reload is its units array: batch_clear()
    walked the NULL array (reload.c)."""
    proc = child("functions", tmp_path, "only=0")
    assert crash_stack(proc.stdout) is None, proc.stdout[-3000:]
    result = result_of(proc.stdout)
    assert result["problems"] == [] and result["counts"]["refused"] == 1
