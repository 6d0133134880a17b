"""The slice of the real-code corpus that matches today (corpus/run.py).

Each row reloads a library's modules in one process and runs the library's
own test suite, against a fresh process on the same files; `make corpus`
runs every library and scenario.  The sources come from the package index
(`make test` fetches them first; otherwise this does, with pip).
"""
import os
import subprocess
import sys

import pytest

CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "corpus")
SLICE = "idna,more-itertools,toolz,jinja2"


@pytest.mark.parametrize("scenario", ["a", "b", "c"])
def test_corpus_slice(tmp_path, scenario):
    out = subprocess.run(
        [sys.executable, os.path.join(CORPUS, "run.py"), "--libraries", SLICE,
         "--scenarios", scenario, "--work", str(tmp_path), "--results", str(tmp_path / "results")],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert " 0 mismatched" in out.stdout
