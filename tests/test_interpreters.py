"""The engine refuses to build for an interpreter whose layouts it does not know.

The engine writes into CPython's objects (functions, types) and was tested on
CPython 3.9 to 3.13 with the GIL.  On a later version or a free-threaded
build it must stop the build with a message saying which versions are
supported, rather than build and misbehave.  The guard is in compat.h, the
one place version differences live; the test preprocesses it against a
stand-in Python.h that declares another interpreter.
"""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPAT = os.path.join(ROOT, "src", "hotreload", "_engine", "compat.h")
SUPPORTED = "hotreload supports CPython 3.9 to 3.13 with the GIL"

pytestmark = [
    pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler to preprocess with"),
    pytest.mark.skipif(not os.path.exists(COMPAT), reason="run from the source tree only"),
]


def preprocess(tmp_path, python_h):
    (tmp_path / "Python.h").write_text(python_h)
    return subprocess.run(
        ["cc", "-E", "-I", str(tmp_path), COMPAT],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    "version, why",
    [
        ("0x030E00F0", "object layouts are unknown"),  # 3.14.0
        ("0x030F00A1", "object layouts are unknown"),  # 3.15.0a1
        ("0x030800F0", "object layouts are unknown"),  # 3.8.0
    ],
)
def test_unknown_version_refused(tmp_path, version, why):
    result = preprocess(tmp_path, f"#define PY_VERSION_HEX {version}\n")
    assert result.returncode != 0
    assert SUPPORTED in result.stderr
    assert why in result.stderr


def test_free_threaded_build_refused(tmp_path):
    result = preprocess(tmp_path, "#define PY_VERSION_HEX 0x030D00F0\n#define Py_GIL_DISABLED 1\n")
    assert result.returncode != 0
    assert SUPPORTED in result.stderr
    assert "free-threaded" in result.stderr


@pytest.mark.parametrize("minor", range(9, 14))
def test_supported_versions_pass_the_guard(tmp_path, minor):
    result = preprocess(tmp_path, f"#define PY_VERSION_HEX 0x03{minor:02X}00F0\n")
    assert SUPPORTED not in result.stderr

