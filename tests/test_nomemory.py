"""Allocation failures during a reload: never a crash, never half applied.

Each scenario runs in a child process (nomemory_sweep.py) that makes the
allocations of one reload fail, one at a time, with CPython's
`_testcapi.set_nomemory`, and checks after each attempt that the modules
are exactly as before (the reload raised) or exactly as a reload without
failures leaves them (it returned).  What may escape: `ReloadError` with a
`MemoryError` in its cause or context, or a bare `MemoryError`.

By default each scenario's sweep samples about 150 of its allocations;
HOTRELOAD_NOMEMORY_FULL=1 (set by `make sanitizers`) fails every one.  The
counts are printed (pytest -s) and, with HOTRELOAD_NOMEMORY_SUMMARY=path,
appended to that file as JSON lines.

CPython itself is not proof against allocation failures (importlib's
decode_source, run by a reload, crashes 3.12 and 3.13 with no hotreload
involved): a crash while Python code runs (the innermost frame is not the
sweep's own) is counted as CPython's and the sweep goes on after it; a
crash with the engine's C code on top fails the test.
"""
import json
import os
import subprocess
import sys

import pytest

try:
    import _testcapi
except ImportError:  # pragma: no cover (a CPython built without its test modules)
    _testcapi = None

pytestmark = pytest.mark.skipif(
    _testcapi is None or not hasattr(_testcapi, "set_nomemory"),
    reason="needs _testcapi.set_nomemory (CPython's test C API)")

SWEEP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nomemory_sweep.py")
SCENARIOS = ["functions", "classes", "enums", "dataclasses", "from_imports", "hooks",
             "closures", "syntax_error", "body_raises"]
FULL = os.environ.get("HOTRELOAD_NOMEMORY_FULL") == "1"
RESTARTS = 12


def child(scenario, folder, *args, start=0):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__import__("hotreload").__file__)))]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["HR_SWEEP_START"] = str(start)
    return subprocess.run([sys.executable, "-X", "faulthandler", SWEEP, scenario, str(folder),
                           *args], env=env, capture_output=True, text=True, timeout=1800)


def last_attempt(stderr):
    lines = [line for line in stderr.splitlines() if line.startswith("attempt n=")]
    return int(lines[-1].split()[1][2:]) if lines else None


def innermost_frame(stderr):
    """The innermost Python frame faulthandler printed."""
    for line in stderr.splitlines():
        if line.strip().startswith("File "):
            return line.strip()
    return ""


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_failed_allocation_leaves_the_module_before_or_after(scenario, tmp_path):
    totals = {"attempts": 0, "failed": 0, "refused": 0, "applied": 0, "half": 0,
              "cpython_crashes": 0, "engine_crashes": 0}
    problems, crashes, start = [], [], 0
    for run in range(RESTARTS):
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        proc = child(scenario, folder, *(["full"] if FULL else []), start=start)
        if proc.returncode == 0:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            problems += result["problems"]
            for key, value in result.get("counts", {}).items():
                if key in totals:
                    totals[key] += value
            totals["allocations"] = result.get("counts", {}).get("allocations")
            break
        n = last_attempt(proc.stderr)
        frame = innermost_frame(proc.stderr)
        ours = "nomemory_sweep.py" in frame
        totals["engine_crashes" if ours else "cpython_crashes"] += 1
        crashes.append(f"n={n} status {proc.returncode}: {frame}")
        if ours or n is None:
            pytest.fail(f"{scenario}: crashed at n={n} with the engine on top\n{proc.stderr[-3000:]}")
        start = n + 1
    print(f"\n{scenario}: {json.dumps(totals)} crashes: {crashes}")
    summary = os.environ.get("HOTRELOAD_NOMEMORY_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(json.dumps({"python": sys.version.split()[0], "scenario": scenario,
                                **totals, "crashes": crashes}) + "\n")
    assert problems == []
    assert totals["half"] == 0


def test_the_units_array_failing_is_refused_without_a_crash(tmp_path):
    """The first allocation of a reload is its units array: batch_clear()
    walked the NULL array (reload.c)."""
    proc = child("functions", tmp_path, "only=0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["problems"] == [] and result["counts"]["refused"] == 1
