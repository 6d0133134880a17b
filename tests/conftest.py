"""Shared fixtures for the hotreload test suite.

`workspace` gives each test a private folder on sys.path in which it writes
module files, imports them, edits them and reloads them.  Module names carry a
prefix made from the test's name, so no two tests ever share a module.  In the
sources a test writes, `$a` stands for the full name of the workspace module
`a` (`$$` is a literal dollar sign); `$events` is a module that every
workspace provides and that no test reloads: modules put their side effects
there so that tests can count them.

`isolated` runs a script in a fresh interpreter, for scenarios that could
crash the interpreter if the engine got them wrong (STYLE.md).

`Snapshot` records everything a failed reload must leave untouched, by
identity: module dicts, functions' code, defaults, closures, class dicts.

hotreload refuses files that other users can write, checking every folder up
to the root (README, "Trust model"); the tests write theirs under pytest's
temporary folder.  Where that sits in a folder others can write (a shared
TMPDIR that is not sticky), the tests' temporary folder moves next to the
interpreter's environment instead (--basetemp given on the command line
wins).
"""
import importlib
import itertools
import os
import re
import string
import subprocess
import sys
import tempfile
import textwrap
import time
import types

import pytest

import hotreload

EVENTS_SOURCE = '''
"""Side effects of the workspace modules land here; no test reloads it."""
EVENTS = []
HANDLERS = []


def record(tag):
    """Appends `tag` to EVENTS and returns how many events there are."""
    EVENTS.append(tag)
    return len(EVENTS)


def count(tag):
    return EVENTS.count(tag)


def register(fn):
    """A decorator that stores the function in a registry."""
    HANDLERS.append(fn)
    EVENTS.append(("register", fn.__name__))
    return fn
'''


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "no_install: the workspace fixture does not call hotreload.install()",
    )
    config.addinivalue_line(
        "markers",
        "alone: waits on timers, heartbeats, servers or a watcher's poll, so runs with no other "
        "test beside it (tools/pytest_on_cores runs the rest a file to each core)",
    )
    if config.option.basetemp is None:
        try:
            hotreload._hotreload._check_writers(tempfile.gettempdir())
        except hotreload.ReloadError:
            config.option.basetemp = os.path.join(sys.prefix, "pytest-tmp")


_serial = itertools.count()


class _ModuleNames:
    """Maps `$short` in a source template to the workspace's full module name."""

    def __init__(self, workspace):
        self._workspace = workspace

    def __getitem__(self, short):
        return self._workspace.name(short)


class Workspace:
    """A folder on sys.path holding this test's modules."""

    def __init__(self, root, prefix):
        self.root = root
        self.prefix = prefix
        # Every write moves the file's mtime two seconds further, so that
        # no cache keyed on (mtime, size) can ever mistake a new version for
        # an old one.
        self._stamp = int(time.time())

    # -- names and paths ------------------------------------------------
    def name(self, short):
        """Full module name of the workspace module `short` ("a", "pkg.sub")."""
        return f"{self.prefix}_{short}"

    def path(self, short):
        parts = self.name(short).split(".")
        folder = self.root.joinpath(*parts[:-1])
        as_package = folder / parts[-1]
        if as_package.is_dir():
            return as_package / "__init__.py"
        return folder / (parts[-1] + ".py")

    def source(self, text):
        """The dedented text with `$name` replaced by full module names."""
        return string.Template(textwrap.dedent(text)).substitute(_ModuleNames(self))

    # -- files ------------------------------------------------------------
    def write(self, short, text):
        """Writes module `short` (creating packages on the way); returns its path."""
        parts = self.name(short).split(".")
        folder = self.root
        for part in parts[:-1]:
            folder = folder / part
            folder.mkdir(exist_ok=True)
            init = folder / "__init__.py"
            if not init.exists():
                self._write_file(init, "")
        path = self.path(short)
        self._write_file(path, self.source(text))
        return path

    def _write_file(self, path, text):
        # Lone surrogates stand for bytes that are not UTF-8 (fuzz_edits).
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        self._stamp += 2
        os.utime(path, (self._stamp, self._stamp))
        importlib.invalidate_caches()

    def edit(self, short, text):
        """Rewrites the file of an existing module; does not reload it."""
        path = self.path(short)
        assert path.exists(), f"edit() of a module that was never written: {short}"
        self._write_file(path, self.source(text))
        return path

    def touch(self, short):
        """Moves the file's mtime forward without changing its text."""
        path = self.path(short)
        self._stamp += 2
        os.utime(path, (self._stamp, self._stamp))

    # -- modules ----------------------------------------------------------
    def load(self, short, text=None):
        """Writes the module when `text` is given, then imports and returns it."""
        if text is not None:
            self.write(short, text)
        return importlib.import_module(self.name(short))

    @property
    def events(self):
        """The `$events` module (imported on first use)."""
        return importlib.import_module(self.name("events"))

    def snapshot(self, *modules):
        return Snapshot(*modules)

    def cleanup(self):
        for name in list(sys.modules):
            if name == self.prefix or name.startswith(self.prefix + "_"):
                del sys.modules[name]


@pytest.fixture
def workspace(tmp_path, request, monkeypatch):
    """A private folder on sys.path for this test's modules (see module doc)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    stem = re.sub(r"\W+", "_", request.node.name.lower()).strip("_")
    stem = stem[len("test_"):] if stem.startswith("test_") else stem
    prefix = f"hrt{next(_serial)}_{stem[:32].rstrip('_')}"
    root = tmp_path / "modules"
    root.mkdir()
    ws = Workspace(root, prefix)
    ws.write("events", EVENTS_SOURCE)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        if request.node.get_closest_marker("no_install") is None:
            hotreload.install()
        yield ws
    finally:
        # uninstall() is idempotent, and a test marked no_install may have
        # installed the hook itself.
        hotreload.uninstall()
        ws.cleanup()
        if str(root) in sys.path:
            sys.path.remove(str(root))
        sys.path_importer_cache.pop(str(root), None)
        importlib.invalidate_caches()


def reload_refused(*targets):
    """The ReloadError a reload of `targets` raises; its reason is in its text."""
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(*targets)
    error = info.value
    assert error.reason and error.reason in str(error)
    return error


# ---------------------------------------------------------------------------
# Scenarios that may crash the interpreter: run them in a fresh one.

ISOLATED_PREAMBLE = '''
import importlib, os, sys, textwrap
sys.dont_write_bytecode = True
ROOT = {root!r}
sys.path.insert(0, ROOT)
import hotreload
hotreload.install()
_stamp = [{stamp}]


def write(name, source):
    """Writes module `name` in ROOT (a fresh folder of this interpreter)."""
    path = os.path.join(ROOT, name + ".py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(textwrap.dedent(source))
    _stamp[0] += 2
    os.utime(path, (_stamp[0], _stamp[0]))
    importlib.invalidate_caches()

'''


@pytest.fixture
def isolated(tmp_path):
    """Returns run(script): runs `script` in a fresh interpreter.

    The script sees `write(name, source)`, `hotreload` (installed) and a
    folder on sys.path of its own.  run() fails the test with the script's
    output if it exits non-zero or crashes; it returns the script's stdout.
    """
    root = tmp_path / "isolated"
    root.mkdir()
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(hotreload.__file__)))

    def run(script, timeout=120, env=None):
        """`env`: environment variables the interpreter gets besides ours."""
        path = root / "scenario.py"
        path.write_text(
            ISOLATED_PREAMBLE.format(root=str(root), stamp=int(time.time()))
            + textwrap.dedent(script),
            encoding="utf-8",
        )
        environment = {**os.environ, **(env or {}), "PYTHONPATH": package_parent}
        environment.pop("PYTHONSTARTUP", None)
        proc = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-W", "error", str(path)],
            cwd=str(root),
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            how = (
                f"crashed with signal {-proc.returncode}"
                if proc.returncode < 0
                else f"exited with status {proc.returncode}"
            )
            pytest.fail(
                f"isolated scenario {how}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}",
                pytrace=False,
            )
        return proc.stdout

    return run


# ---------------------------------------------------------------------------
# Snapshots for the transaction tests.

_NO_VALUE = object()  # an empty closure cell


class Snapshot:
    """Everything of some modules that a failed reload must leave as it was.

    Holds strong references to the objects it records, so identities cannot
    be recycled between the two snapshots that are compared.  Covers: the
    keys of each module dict and the identity of each value; for every
    function reachable from it (module level, methods, classmethods,
    staticmethods, property accessors, nested classes, functions wrapped by
    decorators): code, defaults, keyword defaults, closure and each cell's
    contents, doc, annotations, __dict__, globals, names; for every class
    defined in these modules: the keys of its __dict__, the identity of each
    value, its bases and mro.
    """

    def __init__(self, *modules):
        self.entries = {}
        self._seen = set()
        for module in modules:
            self._module(module)

    def diff(self, other):
        """Human-readable differences between self (before) and other (after)."""
        out = []
        for key in sorted(set(self.entries) | set(other.entries)):
            if key not in other.entries:
                out.append(f"{key}: gone")
                continue
            if key not in self.entries:
                out.append(f"{key}: appeared")
                continue
            how, before = self.entries[key]
            _, after = other.entries[key]
            same = before is after if how == "is" else before == after
            if not same:
                out.append(f"{key}: {before!r} -> {after!r}")
        return out

    def _is(self, key, value):
        self.entries[key] = ("is", value)

    def _eq(self, key, value):
        self.entries[key] = ("==", value)

    def _module(self, module):
        name = module.__name__
        self._is(f"sys.modules[{name!r}]", sys.modules.get(name))
        namespace = vars(module)
        self._is(f"{name}.__dict__", namespace)
        self._eq(f"{name} keys", tuple(sorted(namespace)))
        for key, value in list(namespace.items()):
            path = f"{name}.{key}"
            self._is(path, value)
            self._value(path, value, name)

    def _value(self, path, value, modname):
        if isinstance(value, types.FunctionType):
            self._function(path, value, modname)
        elif isinstance(value, type) and value.__module__ == modname:
            self._class(path, value, modname)
        elif isinstance(value, (classmethod, staticmethod)):
            self._is(f"{path}.__func__", value.__func__)
            self._value(f"{path}.__func__", value.__func__, modname)
        elif isinstance(value, property):
            for accessor in ("fget", "fset", "fdel"):
                fn = getattr(value, accessor)
                self._is(f"{path}.{accessor}", fn)
                if fn is not None:
                    self._value(f"{path}.{accessor}", fn, modname)

    def _function(self, path, fn, modname):
        if id(fn) in self._seen:
            return
        self._seen.add(id(fn))
        for attr in (
            "__code__", "__defaults__", "__kwdefaults__", "__closure__", "__doc__",
            "__annotations__", "__dict__", "__globals__", "__name__", "__qualname__",
            "__module__",
        ):
            self._is(f"{path}.{attr}", getattr(fn, attr))
        self._eq(f"{path}.__dict__ keys", tuple(sorted(fn.__dict__)))
        for key, value in fn.__dict__.items():
            self._is(f"{path}.__dict__[{key!r}]", value)
            self._value(f"{path}.__dict__[{key!r}]", value, modname)
        for index, cell in enumerate(fn.__closure__ or ()):
            try:
                contents = cell.cell_contents
            except ValueError:
                contents = _NO_VALUE
            cell_path = f"{path}.<cell {fn.__code__.co_freevars[index]}>"
            self._is(cell_path, contents)
            self._value(cell_path, contents, modname)

    def _class(self, path, cls, modname):
        if id(cls) in self._seen:
            return
        self._seen.add(id(cls))
        self._is(f"{path}.__bases__", cls.__bases__)
        self._eq(f"{path}.__mro__", cls.__mro__)
        namespace = cls.__dict__
        self._eq(f"{path} keys", tuple(sorted(namespace)))
        for key, value in list(namespace.items()):
            member = f"{path}.{key}"
            self._is(member, value)
            self._value(member, value, modname)
