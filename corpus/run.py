"""The real-code corpus (issue 11): reload popular libraries and run their own tests.

    python corpus/run.py [--libraries six,idna] [--scenarios abc] [--fetch-only]

For each library of corpus/libraries.py and each scenario, two processes run
the library's test suite on the same files: one reloads into them
(corpus/child.py, side "reload"), the other imports them fresh (side
"fresh", the oracle).  A row matches when the reload was not refused, no
process crashed, every test has the same outcome in both, and (scenario b)
every probe ran as often in both.

    a  every module rewritten by ast.unparse (the same code, other text), reloaded
    b  a probe call at the top of every function and method, everything reloaded;
       the probes count the calls the tests make through objects made before it
    c  the files of release `old` replaced by those of release `new`, reloaded,
       then the new release's test suite

The sources are fetched with pip (`pip download --no-binary :all:`) into the
cache folder on first use; the tests' requirements are installed with pip
into the running environment.  Prints a table and exits 1 on any mismatch.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import edits  # noqa: E402
from libraries import BY_NAME, LIBRARIES  # noqa: E402

REPO = os.path.dirname(HERE)
SCENARIOS = {"a": "a neutral edit", "b": "b probes", "c": "c upgrade"}
TIMEOUT = 900


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args],
                   check=True)


def fetch(cache, name, version):
    """The unpacked sdist of name==version in the cache, downloaded on first use."""
    tree = os.path.join(cache, "src", f"{name}-{version}")
    if os.path.isdir(tree):
        return tree
    download = tempfile.mkdtemp(prefix="download-", dir=cache)
    try:
        pip("download", "--no-binary", ":all:", "--no-deps", "-d", download, f"{name}=={version}")
        (archive,) = os.listdir(download)
        unpack = os.path.join(download, "unpacked")
        with tarfile.open(os.path.join(download, archive)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(unpack, filter="data")
            else:  # an interpreter older than the tarfile filters (3.9.16)
                tar.extractall(unpack)
        (top,) = os.listdir(unpack)
        os.makedirs(os.path.dirname(tree), exist_ok=True)
        os.replace(os.path.join(unpack, top), tree)
    finally:
        shutil.rmtree(download)
    return tree


def library_files(tree, entry):
    """(path, module name) of every module file of the library, tests left out."""
    root = os.path.join(tree, entry["root"])
    out = []
    for top in entry["modules"]:
        if os.path.isfile(os.path.join(root, top + ".py")):
            out.append((os.path.join(root, top + ".py"), top))
            continue
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(d for d in dirs if d not in ("tests", "test", "__pycache__"))
            package = os.path.relpath(folder, root).replace(os.sep, ".")
            for name in sorted(files):
                if name.endswith(".py") and name != "__main__.py":
                    module = package if name == "__init__.py" else f"{package}.{name[:-3]}"
                    out.append((os.path.join(folder, name), module))
    return out


def edited_copy(tree, final, entry, scenario):
    """Copy `tree` to `final`, with every library module edited for `scenario`."""
    shutil.copytree(tree, final)
    for path, module in library_files(final, entry):
        with open(path, encoding="utf-8") as file:
            text = file.read()
        new = edits.neutral_edit(text) if scenario == "a" else edits.add_probes(text, module)[0]
        with open(path, "w", encoding="utf-8") as file:
            file.write(new)


def run_side(work, spec, log):
    """Runs corpus/child.py on `spec`; returns its result, or one with "crash" set."""
    spec = dict(spec, out=os.path.join(work, "result.json"))
    spec_path = os.path.join(work, "spec.json")
    with open(spec_path, "w", encoding="utf-8") as file:
        json.dump(spec, file)
    # A temporary folder of its own: what one side leaves there (lark's cache of
    # built grammars, keyed by the grammar) would spare the other side work.
    tmp = tempfile.mkdtemp(prefix=f"tmp-{spec['side']}-", dir=work)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", TMPDIR=tmp)
    with open(log, "w", encoding="utf-8") as out:
        try:
            proc = subprocess.run([sys.executable, os.path.join(HERE, "child.py"), spec_path],
                                  stdout=out, stderr=subprocess.STDOUT, env=env, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return {"crash": f"timed out after {TIMEOUT} s (log: {log})"}
    if proc.returncode < 0 or not os.path.exists(spec["out"]):
        return {"crash": f"exit status {proc.returncode} (log: {log})"}
    with open(spec["out"], encoding="utf-8") as file:
        result = json.load(file)
    os.remove(spec["out"])
    return result


def run_row(entry, scenario, cache, results, work=None):
    """Both sides of one row, in the same folder one after the other."""
    old = fetch(cache, entry["name"], entry["old"])
    new = fetch(cache, entry["name"], entry["new"])
    base = tempfile.mkdtemp(prefix=f"corpus-{entry['name']}-", dir=work)
    try:
        tree, final = os.path.join(base, "tree"), os.path.join(base, "final")
        if scenario == "c":
            start = old
            shutil.copytree(new, final)
        else:
            start = new
            edited_copy(new, final, entry, scenario)
        spec = dict(scenario=scenario, tree=tree, final=final, root=entry["root"],
                    modules=entry["modules"], tests=entry["tests"], pytest=entry.get("pytest", []))
        sides = {}
        for side, source in (("fresh", final), ("reload", start)):
            shutil.copytree(source, tree)
            log = os.path.join(results, f"{entry['name']}-{scenario}-{side}.log")
            sides[side] = run_side(base, dict(spec, side=side), log)
            shutil.rmtree(tree)
    finally:
        shutil.rmtree(base)
    with open(os.path.join(results, f"{entry['name']}-{scenario}.json"), "w") as file:
        json.dump(sides, file, indent=1, sort_keys=True)
    return sides


def compare(fresh, reload, scenario, unsteady=()):
    """The differences between the two sides, as short lines (none: a match);
    the probes named in `unsteady` are not compared."""
    for side, result in (("fresh", fresh), ("reload", reload)):
        if "crash" in result:
            return [f"{side} process crashed: {result['crash']}"]
    if reload.get("refused"):
        return [f"refused: {reload['refused']}"]
    problems = []
    if fresh["imported"] != reload["imported"]:
        problems.append("imported modules differ: "
                        f"{sorted(set(fresh['imported']) ^ set(reload['imported']))}")
    a, b = fresh["outcomes"], reload["outcomes"]
    for nodeid in sorted(set(a) | set(b)):
        if a.get(nodeid) != b.get(nodeid):
            problems.append(f"{nodeid}: fresh {a.get(nodeid, 'absent')}, reload {b.get(nodeid, 'absent')}")
    if scenario == "b":
        pa, pb = fresh["probes"], reload["probes"]
        for key in sorted((set(pa) | set(pb)) - set(unsteady)):
            if pa.get(key, 0) != pb.get(key, 0):
                problems.append(f"probe {key}: fresh {pa.get(key, 0)}, reload {pb.get(key, 0)}")
    return problems


def verdict(fresh, reload, problems):
    if not problems:
        return "match"
    if "crash" in reload or "crash" in fresh:
        return "CRASH"
    return "REFUSED" if reload.get("refused") else "DIFF"


def judge(entry, scenario, fresh, reload):
    """(result shown, differences, whether the row fails the run) of one row.

    A difference or refusal that corpus/MISMATCHES.md explains and leaves open
    (the entry's `known`) is shown, not failed; a crash always fails, and so
    does a known row that matches, until it leaves the list, so that the list
    stays true."""
    problems = compare(fresh, reload, scenario, entry.get("unsteady", ()))
    result = verdict(fresh, reload, problems)
    expected = entry.get("known", {}).get(scenario)
    if expected and result in ("DIFF", "REFUSED"):
        return f"known ({result.lower()})", problems, False
    if expected and result == "match":
        return "MATCHES", [f"listed as a known mismatch ({expected}) but matches: "
                           "take it off corpus/libraries.py"], True
    return result, problems, bool(problems)


def tally(result):
    if "crash" in result:
        return "crash"
    if result.get("refused"):
        return "-"
    outcomes = list(result["outcomes"].values())
    failed = sum(o in ("failed", "error", "collect-error") for o in outcomes)
    return f"{outcomes.count('passed')}/{failed}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", default=",".join(BY_NAME),
                        help="comma-separated names from corpus/libraries.py (default: all)")
    parser.add_argument("--scenarios", default="abc", help="letters among a, b, c (default: abc)")
    parser.add_argument("--cache", default=os.path.join(REPO, ".venv", "corpus-cache"),
                        help="where the sdists are kept (default: .venv/corpus-cache)")
    parser.add_argument("--results", default=None,
                        help="where each row's logs and results go (default: build/corpus-X.Y)")
    parser.add_argument("--work", default=None,
                        help="where the rows' files are written (default: the temporary folder); "
                        "hotreload refuses files in folders others can write to")
    parser.add_argument("--fetch-only", action="store_true",
                        help="fetch the sources and install the tests' requirements, run nothing")
    args = parser.parse_args(argv)
    entries = [BY_NAME[name] for name in args.libraries.split(",")]
    scenarios = [s for s in args.scenarios if s in SCENARIOS]
    os.makedirs(args.cache, exist_ok=True)
    deps = sorted({dep for entry in entries for dep in entry.get("deps", [])})
    if deps:
        pip("install", *deps)
    for entry in entries:
        fetch(args.cache, entry["name"], entry["old"])
        fetch(args.cache, entry["name"], entry["new"])
    if args.fetch_only:
        return 0
    minor = "%d.%d" % sys.version_info[:2]
    results = args.results or os.path.join(REPO, "build", f"corpus-{minor}")
    os.makedirs(results, exist_ok=True)

    header = ("library", "scenario", "modules", "reload ms", "passed/failed", "fresh", "probe calls",
              "fresh", "result")
    widths = (30, 14, 7, 9, 13, 13, 11, 11, 8)
    line = "  ".join(f"{{:{w}}}" for w in widths)
    print(f"CPython {minor}; logs and results in {results}")
    print(line.format(*header))
    mismatches, known = [], []
    started = time.perf_counter()
    rows = [(entry, scenario) for entry in entries for scenario in scenarios]
    for entry, scenario in rows:
        sides = run_row(entry, scenario, args.cache, results, args.work)
        fresh, reload = sides["fresh"], sides["reload"]
        result, problems, fails = judge(entry, scenario, fresh, reload)
        version = entry["new"] if scenario != "c" else f"{entry['old']}->{entry['new']}"
        seconds = reload.get("reload_seconds")
        probes = (sum(reload.get("probes", {}).values()), sum(fresh.get("probes", {}).values()))
        print(line.format(
            f"{entry['name']} {version}", SCENARIOS[scenario], len(reload.get("reloaded", [])),
            "-" if seconds is None else f"{seconds * 1000:.1f}", tally(reload), tally(fresh),
            probes[0] if scenario == "b" else "-", probes[1] if scenario == "b" else "-",
            result), flush=True)
        if fails:
            mismatches.append((entry["name"], scenario, problems, reload, ""))
        elif problems:
            known.append((entry["name"], scenario, problems, reload, " (known)"))
    print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s, "
          f"{len(mismatches)} mismatched" + (f", {len(known)} known (corpus/MISMATCHES.md)" if known else ""))
    for name, scenario, problems, reload, label in mismatches + known:
        print(f"\n{name} {SCENARIOS[scenario]}{label}: {len(problems)} differences")
        for problem in problems[:8]:
            print(f"  {problem}")
        if len(problems) > 8:
            print(f"  ... ({len(problems) - 8} more)")
        differing = [nodeid for nodeid in reload.get("failures", {})
                     if any(problem.startswith(nodeid + ":") for problem in problems)]
        for nodeid in differing[:1]:
            text = reload["failures"][nodeid]
            print(f"  first failure after the reload, {nodeid}:")
            print("    " + "\n    ".join(text.strip().splitlines()[-12:]))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
