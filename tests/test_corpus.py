"""The slice of the real-code corpus that matches today (corpus/run.py).

Each row reloads a library's modules in one process and runs the library's
own test suite, against a fresh process on the same files; `make corpus`
runs every library and scenario.  The sources come from the package index
(`make test` fetches them first; otherwise this does, with pip).  Also how
a row is judged when corpus/libraries.py lists it as a known mismatch.
"""
import importlib.util
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


def judge(entry, scenario, fresh, reload):
    """corpus/run.py's judge(), loaded under a name of its own (it puts its
    folder on sys.path to import its neighbours: put back as it was)."""
    path = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location("corpus_run", os.path.join(CORPUS, "run.py"))
        run = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(run)
    finally:
        sys.path[:] = path
    return run.judge(entry, scenario, fresh, reload)


PASSED = {"imported": ["m"], "outcomes": {"t::a": "passed", "t::b": "passed"}}
ONE_FAILED = {"imported": ["m"], "outcomes": {"t::a": "passed", "t::b": "failed"}}
REFUSED = {"refused": "ReloadError: cannot reload m"}
KNOWN = {"name": "lib", "known": {"a": "why it differs"}}


def test_a_known_row_is_shown_not_failed_and_fails_once_it_matches():
    assert judge({"name": "lib"}, "a", PASSED, PASSED) == ("match", [], False)
    assert judge({"name": "lib"}, "a", PASSED, ONE_FAILED) == (
        "DIFF", ["t::b: fresh passed, reload failed"], True)
    assert judge(KNOWN, "a", PASSED, ONE_FAILED) == (
        "known (diff)", ["t::b: fresh passed, reload failed"], False)
    assert judge(KNOWN, "a", PASSED, REFUSED)[::2] == ("known (refused)", False)
    # Known for another scenario only; a crash is never known.
    assert judge(KNOWN, "c", PASSED, ONE_FAILED)[::2] == ("DIFF", True)
    assert judge(KNOWN, "a", PASSED, {"crash": "exit status -11"})[::2] == ("CRASH", True)
    result, problems, fails = judge(KNOWN, "a", PASSED, PASSED)
    assert (result, fails) == ("MATCHES", True)
    assert "take it off corpus/libraries.py" in problems[0]


def test_unsteady_probes_are_left_out_of_the_comparison():
    def probes(**counts):
        return dict(PASSED, probes=counts)

    entry = {"name": "lib", "unsteady": ["m:f@1"]}
    assert judge(entry, "b", probes(**{"m:f@1": 5, "m:g@2": 1}),
                 probes(**{"m:f@1": 7, "m:g@2": 1})) == ("match", [], False)
    assert judge(entry, "b", probes(**{"m:f@1": 5, "m:g@2": 1}),
                 probes(**{"m:f@1": 5, "m:g@2": 2}))[::2] == ("DIFF", True)
