"""The package as tools see it: its version, and its public names as type
checkers read them.

Type checkers must see every public name with its real type, though the
tools (Watcher, Reloader, Event, the IPython extension) are imported on first
use through a module __getattr__ (PEP 562): a program using each of them
passes ``mypy --strict``, and a misspelt name fails it.  mypy runs from this
interpreter's environment, so each interpreter checks with its own stdlib.
The engine's stub is compared with the engine by mypy's stubtest.

The version is written once, as ``hotreload.__version__``; pyproject.toml
has setuptools read it from the source text (the package cannot be imported
before its engine is built), so the installed distribution, whatever it is
named, carries the same version.
"""
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest

import hotreload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_version_is_a_release_string():
    assert isinstance(hotreload.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc|\.dev|\.post)\d+)?", hotreload.__version__)


def test_the_installed_distribution_has_the_packages_version():
    """Found by the file it installed (this package's __init__.py), not by
    its name: the distribution's name is not the import name's business."""
    init = os.path.realpath(hotreload.__file__)
    owners = [
        dist for dist in importlib.metadata.distributions()
        if any(str(f).replace("\\", "/").endswith("hotreload/__init__.py")
               and os.path.realpath(str(dist.locate_file(f))) == init
               for f in dist.files or ())
    ]
    assert owners, f"no installed distribution holds {init}"
    assert {dist.version for dist in owners} == {hotreload.__version__}


def test_setuptools_reads_the_version_without_importing_the_package():
    """pyproject.toml's `attr` would import the package (and its engine,
    not built yet at that point) if the assignment were not a literal that
    setuptools can read from the text."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        pyproject = f.read()
    project = pyproject.split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^version\s*=", project, re.M), "the version is written twice"
    assert re.search(r'^dynamic = \["version"\]$', project, re.M)
    assert re.search(r'^\[tool\.setuptools\.dynamic\]\nversion = \{ attr = "hotreload\.__version__" \}$',
                     pyproject, re.M)
    code = ("import sys\n"
            "from setuptools.config.expand import read_attr\n"
            "print(read_attr('hotreload.__version__', {'': 'src'}, '.'))\n"
            "assert 'hotreload' not in sys.modules and 'hotreload._hotreload' not in sys.modules\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == hotreload.__version__ + "\n"


# Every name of hotreload.__all__, used as a program would, with the types
# it should have written out: a name typed Any would pass any of them.
USER_PROGRAM = '''
"""A program that uses every public name of hotreload, as a strict user would."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import hotreload
from hotreload import Event, Reloader, ReloadError, Report, Watcher


def square(x: int) -> int:
    return x * x


def square_fixed(x: int) -> int:
    return x * x + 0


def tell(event: Event) -> None:
    kind: str = event.kind
    problem: bool = event.problem
    line: str = event.format(verbose=True)
    report: Optional[Report] = event.report
    error: Optional[BaseException] = event.error
    logging.getLogger("app").info("%s %s %s %s %s", kind, problem, line, report, error)


def main() -> None:
    version: str = hotreload.__version__
    settings: Dict[str, Any] = hotreload.configure(deny=["/opt"], allow=["/srv/app"],
                                                    follow_symlinks=False, shared_files=False)
    hotreload.install()
    on: bool = hotreload.installed()
    try:
        report: Report = hotreload.reload("game", "game.items")
    except ReloadError as error:
        reason: str = error.reason
        module: Optional[str] = error.module
        where: Optional[str] = error.object
        print(reason, module, where)
    else:
        names: List[str] = report.updated + report.added + report.removed + report.kept
        names += report.replaced + report.stale + report.modules
        classes: Dict[str, Dict[str, Any]] = report.classes
        instances: Dict[str, int] = report.instances
        seconds: float = report.seconds
        print(str(report), names, classes, instances, seconds)
    changed: Report = hotreload.reload_changed()
    patched: Report = hotreload.patch(square, square_fixed)
    fixed: Report = hotreload.hotfix("x = 1\\n")
    hotreload.call_on_main_thread(lambda: print("on the main thread"))
    busy: bool = hotreload.reloading()
    recorded: List[str] = hotreload.recorded()
    include: str = hotreload.get_include()
    with Watcher(["src"], exclude=["tests"], poll=0.5, quiet=0.1,
                 apply="thread", on_event=tell) as watcher:
        events: List[Event] = watcher.apply_now()
        described: str = watcher.describe()
    other = hotreload.Watcher("src").start()
    other.stop()
    reloader = Reloader()
    applied: List[Event] = reloader.apply(["src/game.py"]) + reloader.standing_errors()
    hotreload.uninstall()
    print(version, settings, on, changed, patched, fixed, busy, recorded, include, events,
          described, applied)


def ipython_extension(shell: Any) -> None:
    hotreload.load_ipython_extension(shell)
    hotreload.unload_ipython_extension(shell)
'''

MISSPELT = """
import hotreload

hotreload.nonexistent()
watcher = hotreload.Watchr
count: int = hotreload.Watcher(".")
reason: int = hotreload.ReloadError("x").reason
"""


def mypy(tmp_path, name, text, *options):
    pytest.importorskip("mypy")
    (tmp_path / name).write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir",
         str(tmp_path / ".mypy_cache"), *options, name],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=600,
    )


def test_the_user_program_names_every_public_name():
    for name in hotreload.__all__:
        assert re.search(rf"\b{name}\b", USER_PROGRAM), name


def test_every_public_name_passes_mypy_strict(tmp_path):
    proc = mypy(tmp_path, "program.py", USER_PROGRAM)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_a_misspelt_name_fails_mypy_strict(tmp_path):
    """No __getattr__ is seen by type checkers: unknown names are errors,
    and the lazy names have their types, not Any."""
    proc = mypy(tmp_path, "misspelt.py", MISSPELT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = proc.stdout.splitlines()
    assert errors[0] == 'misspelt.py:4: error: Module has no attribute "nonexistent"  [attr-defined]'
    assert errors[1].startswith('misspelt.py:5: error: Module has no attribute "Watchr"')
    assert errors[2].startswith('misspelt.py:6: error: Incompatible types in assignment '
                                '(expression has type "Watcher", variable has type "int")')
    assert errors[3].startswith('misspelt.py:7: error: Incompatible types in assignment '
                                '(expression has type "str", variable has type "int")')
    assert len(errors) == 4, proc.stdout


FLEET_PROGRAM = """
from typing import Dict, List, Optional

import hotreload


def main() -> None:
    agent = hotreload.fleet.Agent("redis://127.0.0.1", group="eu-1", secret=b"key",
                                  on_event=lambda event: print(event.format()))
    agent.start()
    version: int = agent.version
    hashes: Dict[str, str] = agent.modules
    agent.stop()
    operator = hotreload.fleet.Operator("redis://127.0.0.1", group="eu-1",
                                        secret=hotreload.fleet.load_secret(None))
    result = operator.push(modules={"game": b"x = 1\\n"}, canary=2, timeout=5.0,
                           tell=lambda ack: print(ack.line()))
    outcomes: List[str] = [ack.outcome for ack in result.acks.values()]
    ok: bool = result.ok
    current: int = operator.current()
    script: Optional[str] = hotreload.fleet.ChangeSet("eu-1", 1, "hotfix", script="x").script
    print(version, hashes, outcomes, ok, current, script)
"""


def test_a_fleet_program_passes_mypy_strict(tmp_path):
    proc = mypy(tmp_path, "fleet_program.py", FLEET_PROGRAM)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_engine_stub_matches_the_engine(tmp_path):
    """_hotreload.pyi is the whole contract of the C module: stubtest finds
    any name the stub lacks or has too many, and any parameter that differs
    (the engine's one-argument functions take it positionally only)."""
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy.stubtest", "hotreload._hotreload"],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_tools_stay_lazy_at_run_time():
    """The imports type checkers see are not made at run time: `import
    hotreload` loads no tool, the first use of a name does, and an unknown
    name is an AttributeError."""
    code = ("import sys, hotreload\n"
            "tools = ('hotreload.watch', 'hotreload.changes', 'hotreload.ipython')\n"
            "assert not [m for m in tools if m in sys.modules], sys.modules.keys()\n"
            "assert hotreload.Watcher.__module__ == 'hotreload.watch'\n"
            "assert 'hotreload.watch' in sys.modules and 'hotreload.ipython' not in sys.modules\n"
            "try:\n"
            "    hotreload.nonexistent\n"
            "except AttributeError as error:\n"
            "    print(error)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "module 'hotreload' has no attribute 'nonexistent'\n"
