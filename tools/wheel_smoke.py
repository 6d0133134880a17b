"""Smoke test of an installed hotreload: the one a wheel must pass.

Run by cibuildwheel after it installs each wheel (pyproject.toml,
[tool.cibuildwheel] test-command) and by tests/test_dist.py in a fresh
virtual environment.  It writes a module, imports it under
hotreload.install(), edits it, reloads it, and checks that a function object
taken before the reload runs the new code.  It also checks that hotreload and
its engine were imported from the interpreter's site-packages, not from a
source tree.

Prints one JSON line of what it found; exits non-zero with a message on
stderr if anything is wrong.  Run it with -I so that neither the current
folder nor PYTHONPATH can put a source tree first.
"""
import importlib.metadata
import json
import os
import sys
import sysconfig
import tempfile

OLD = "def greet():\n    return 'old'\n"
NEW = "def greet():\n    return 'new'\n"


def inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([path, folder]) == folder


def smoke(folder):
    import hotreload
    import hotreload._hotreload as engine

    site = sysconfig.get_paths()["platlib"]
    for module in (hotreload, engine):
        if not inside(module.__file__, site):
            raise SystemExit(f"{module.__name__} was imported from {module.__file__}, "
                             f"not from this interpreter's site-packages ({site})")

    path = os.path.join(folder, "smoke_module.py")
    with open(path, "w", encoding="utf-8") as file:
        file.write(OLD)
    sys.path.insert(0, folder)
    hotreload.install()
    import smoke_module

    greet = smoke_module.greet
    before = greet()
    with open(path, "w", encoding="utf-8") as file:
        file.write(NEW)
    report = hotreload.reload(smoke_module)
    after = greet()
    if (before, after) != ("old", "new") or smoke_module.greet is not greet:
        raise SystemExit(f"reload did not pour the new code into the old function: "
                         f"before {before!r}, after {after!r}, same object: "
                         f"{smoke_module.greet is greet} ({report})")
    return {
        "prefix": sys.prefix,
        "package": hotreload.__file__,
        "engine": engine.__file__,
        "distribution": importlib.metadata.distribution("hotreload-engine").metadata["Name"],
        "before": before,
        "after": after,
        "report": str(report),
    }


def main():
    sys.dont_write_bytecode = True
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(smoke(folder)))


if __name__ == "__main__":
    main()
