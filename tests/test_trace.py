"""HOTRELOAD_TRACE: each stage of a reload logged with its time, off by default.

The switch is read once, when the engine is imported, so each case runs in a
fresh interpreter with the environment it needs.
"""
import re

SCRIPT = """
    import io
    write("traced", "def answer():\\n    return 1\\n")
    import traced
    write("traced", "def answer():\\n    return 2\\n")
    sys.stderr = log = io.StringIO()
    hotreload.reload(traced)
    sys.stderr = sys.__stderr__
    assert traced.answer() == 2
    print(log.getvalue(), end="")
"""

STAGES = ["traced: plan", "traced: execute", "traced: diff", "heap walk", "commit", "hooks"]


def test_each_stage_is_logged_with_its_time_in_order(isolated):
    lines = isolated(SCRIPT, env={"HOTRELOAD_TRACE": "1"}).splitlines()
    stages = [re.fullmatch(r"hotreload: (.+) (\d+\.\d{3}) ms", line) for line in lines]
    assert lines and all(stages), lines
    names = [m.group(1) for m in stages]
    positions = [names.index(stage) for stage in STAGES]
    assert positions == sorted(positions), names


def test_off_by_default_and_with_0(isolated):
    assert isolated(SCRIPT, env={"HOTRELOAD_TRACE": ""}) == ""
    assert isolated(SCRIPT, env={"HOTRELOAD_TRACE": "0"}) == ""
