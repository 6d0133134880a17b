"""The engine's folders are the stages of a reload, and calls go one way.

tools/layers.py reads the engine's C files and fails on a call from a folder
to a later one, or on files that call each other in a circle; it runs here
so that a change that breaks the layering fails the suite.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "layers.py")

pytestmark = pytest.mark.skipif(not os.path.exists(TOOL), reason="run from the source tree only")


def test_no_stage_calls_a_later_one_and_no_circle():
    proc = subprocess.run([sys.executable, TOOL], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith(
        "no circle, and no layer calls a higher one (base < text < run < commit < reload < bind)")


def test_the_tool_finds_a_call_upward_and_a_circle(tmp_path):
    """Two files of a made-up engine: base/low.c calls text/high.c, which
    calls it back."""
    (tmp_path / "base").mkdir()
    (tmp_path / "text").mkdir()
    (tmp_path / "base" / "low.c").write_text("int\nhr_low(void)\n{\n    return hr_high();\n}\n")
    (tmp_path / "text" / "high.c").write_text("int\nhr_high(void)\n{\n    return hr_low();\n}\n")
    proc = subprocess.run([sys.executable, TOOL, str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert "upward: base/low calls text/high (hr_high)" in proc.stdout
    assert "circle of 2: base/low, text/high" in proc.stdout
