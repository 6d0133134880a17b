"""The package as tools see it: its version, and its public names as type
checkers read them.

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
