"""`hotreload demo`: the first thing a new user runs.

It must finish by itself, quickly, and exit 0: the demo checks itself at
every step, so a reload that misbehaves makes it exit 1.
"""
import dataclasses
import os
import subprocess
import sys
import time

import pytest

import hotreload
from hotreload import demo

pytestmark = pytest.mark.alone

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(hotreload.__file__)))


def test_the_demo_runs_and_exits_0(tmp_path):
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "hotreload", "demo"], cwd=str(tmp_path),
                            env=env, capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < 10
    lines = result.stdout.splitlines()
    assert sum(line.startswith("  reload  server_game:") for line in lines) == 4
    assert sum(line.startswith("  refused cannot reload server_game") for line in lines) == 1
    assert sum(line.startswith("   ok ") for line in lines) == len(demo.STEPS)
    assert "FAILED" not in result.stdout
    assert lines[-1].startswith("every check held")


def test_the_demo_fails_when_a_step_does_not_behave(monkeypatch, capsys):
    wrong = dataclasses.replace(demo.STEPS[0], check=demo._hits_are({"ann": 1, "bob": 1}))
    monkeypatch.setattr(demo, "STEPS", [wrong])
    monkeypatch.setattr(demo, "TICKS_BETWEEN", 0)
    assert demo.main([]) == 1
    out = capsys.readouterr().out
    assert "FAILED  hits were {'ann': 8, 'bob': 4}" in out


def test_the_demo_takes_no_arguments(capsys):
    assert demo.main(["--fast"]) == 2
