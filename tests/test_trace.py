"""HOTRELOAD_TRACE: each stage of a reload logged with its time, off by default.

The switch is read once, when the engine is imported, so each case runs in a
child process with the environment it needs.
"""
import os
import re
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""\
    import os, sys
    import hotreload
    folder = sys.argv[1]
    sys.path.insert(0, folder)
    hotreload.install()
    path = os.path.join(folder, "traced.py")
    with open(path, "w") as f:
        f.write("def answer():\\n    return 1\\n")
    import traced
    with open(path, "w") as f:
        f.write("def answer():\\n    return 2\\n")
    hotreload.reload(traced)
    assert traced.answer() == 2
""")

STAGES = ["traced: plan", "traced: execute", "traced: diff", "heap walk", "commit", "hooks"]


def run(tmp_path, trace):
    env = dict(os.environ)
    env.pop("HOTRELOAD_TRACE", None)
    if trace is not None:
        env["HOTRELOAD_TRACE"] = trace
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("hotreload: ")]


def test_each_stage_is_logged_with_its_time_in_order(tmp_path):
    lines = run(tmp_path, "1")
    stages = [re.fullmatch(r"hotreload: (.+) (\d+\.\d{3}) ms", line) for line in lines]
    assert all(stages), lines
    names = [m.group(1) for m in stages]
    positions = [names.index(stage) for stage in STAGES]
    assert positions == sorted(positions), names


def test_off_by_default_and_with_0(tmp_path):
    assert run(tmp_path, None) == []
    assert run(tmp_path, "0") == []
