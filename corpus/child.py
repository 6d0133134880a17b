"""One side of one corpus row, run in a process of its own by corpus/run.py.

    python corpus/child.py SPEC.json

SPEC holds: side ("fresh" or "reload"), scenario, tree (the folder the
library and its tests are in, and the current folder), root (the folder put
on sys.path), modules (the library's top-level names), tests and pytest (the
arguments), final (for "reload": the folder whose files replace the tree's
at the reload), out (where this writes its result as JSON).

Both sides import every module of the library, then run its test suite with
pytest in this process.  The "reload" side starts on the tree as it was,
records the sources (hotreload.install() before the first import), and makes
the edit at the reload point: it writes the final files over the tree and
calls hotreload.reload_changed().  For the scenarios a and b that point is
after pytest collected the tests, so the tests run through objects made
before the reload (the test modules' imports, parametrize values, module
level instances); for c (an upgrade) it is before pytest starts, since the
new release's tests need its new names.  The "fresh" side starts on the
final files and reloads nothing.
"""
import builtins
import collections
import filecmp
import importlib
import json
import os
import pkgutil
import random
import shutil
import sys
import time
import traceback

PROBES = collections.Counter()


def probe(key):
    PROBES[key] += 1


def library_modules(names):
    """Import every module of the library (tests and __main__ left out).

    Returns (sorted names imported, {name: error} of those that failed).
    """
    imported, failed = [], {}

    def attempt(name):
        try:
            importlib.import_module(name)
        except Exception as error:  # an optional dependency, a platform module
            failed[name] = f"{type(error).__name__}: {error}"
            return None
        imported.append(name)
        return sys.modules[name]

    def skip(name):
        parts = name.split(".")
        return "tests" in parts or "test" in parts or parts[-1] == "__main__"

    for top in names:
        module = attempt(top)
        if module is None or not hasattr(module, "__path__"):
            continue
        for info in pkgutil.walk_packages(module.__path__, top + ".", onerror=lambda name: None):
            if not skip(info.name) and info.name not in imported:
                attempt(info.name)
    return sorted(imported), failed


def sync(final, tree):
    """Make `tree` hold the files of `final`: changed and new files written in
    place, files that left deleted.  Returns the relative paths written."""
    written = []
    for folder, dirs, files in os.walk(final):
        rel = os.path.relpath(folder, final)
        os.makedirs(os.path.join(tree, rel), exist_ok=True)
        for name in files:
            src, dst = os.path.join(folder, name), os.path.join(tree, rel, name)
            if not os.path.exists(dst) or not filecmp.cmp(src, dst, shallow=False):
                shutil.copyfile(src, dst)
                written.append(os.path.normpath(os.path.join(rel, name)))
    for folder, dirs, files in os.walk(tree):
        rel = os.path.relpath(folder, tree)
        for name in files:
            if not os.path.exists(os.path.join(final, rel, name)):
                os.remove(os.path.join(folder, name))
    return written


class Recorder:
    """A pytest plugin: the outcome of every test, and the reload point."""

    def __init__(self, spec, result):
        self.spec, self.result = spec, result
        self.outcomes = result["outcomes"]
        self.failures = result["failures"]

    def pytest_collectreport(self, report):
        if report.failed:
            self.outcomes[report.nodeid or "<collection>"] = "collect-error"
            self.failures[report.nodeid] = str(report.longrepr)[-3000:]

    def pytest_runtest_logreport(self, report):
        if report.passed and report.when != "call":
            self.outcomes.setdefault(report.nodeid, "passed")
            return
        if report.skipped:
            outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
        elif report.failed:
            outcome = "failed" if report.when == "call" else "error"
            self.failures[report.nodeid] = str(report.longrepr)[-3000:]
        else:
            outcome = "xpassed" if hasattr(report, "wasxfail") else "passed"
        if self.outcomes.get(report.nodeid, "passed") == "passed":
            self.outcomes[report.nodeid] = outcome

    def pytest_collection_finish(self, session):
        if self.spec["scenario"] in ("a", "b"):
            reload_point(self.spec, self.result)
            if self.result["refused"]:
                session.items.clear()  # nothing to compare
        # The same random numbers on both sides (RRCache evicts at random).
        random.seed(0)
        PROBES.clear()


def reload_point(spec, result):
    if spec["side"] != "reload":
        return
    import hotreload

    result["written"] = sync(spec["final"], spec["tree"])
    importlib.invalidate_caches()
    start = time.perf_counter()
    try:
        report = hotreload.reload_changed()
    except Exception as error:
        result["refused"] = "".join(traceback.format_exception_only(type(error), error)).strip()
        return
    finally:
        result["reload_seconds"] = time.perf_counter() - start
    result["reloaded"] = report.modules
    result["report"] = str(report)
    result["stale"] = report.stale


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        spec = json.load(file)
    result = {"outcomes": {}, "failures": {}, "refused": None}
    builtins.__corpus_probe__ = probe
    os.chdir(spec["tree"])
    sys.path.insert(0, os.path.join(spec["tree"], spec["root"]))
    import pytest

    if spec["side"] == "reload":
        import hotreload

        hotreload.install()
    result["imported"], result["import_errors"] = library_modules(spec["modules"])
    if spec["scenario"] == "c":
        reload_point(spec, result)
        # The new release's modules, those the old one did not have included.
        result["imported"], result["import_errors"] = library_modules(spec["modules"])
    if result["refused"] is None:
        args = ["-q", "-p", "no:cacheprovider", "--rootdir", spec["tree"], *spec["pytest"], *spec["tests"]]
        result["exit"] = int(pytest.main(args, plugins=[Recorder(spec, result)]))
    result["probes"] = dict(PROBES)
    with open(spec["out"], "w", encoding="utf-8") as file:
        json.dump(result, file)
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
