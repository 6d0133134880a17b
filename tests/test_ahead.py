"""Compiling ahead (hotreload.ahead): the changed statements compiled in a
helper process, off the lock, before the reload that needs them.

The promise is that it changes nothing but where the compiling happens: a
module reloaded with code compiled ahead holds code equal, line for line,
to a twin reloaded without (the fuzzer checks the same on generated edits,
seeds 1, 4, 7...); a text that does not compile is left to the reload,
which refuses it as always; a helper that dies leaves the reloads to
compile alone; code is used only for the exact text and place it was
compiled from.
"""
import os
import threading
import time

import pytest

import hotreload
from hotreload import _hotreload
from hotreload.ahead import CompileHelper, compile_ahead
from hotreload.watch import Watcher

pytestmark = [pytest.mark.alone,
              pytest.mark.skipif(os.name != "posix", reason="the helper is started on POSIX only")]

V1 = '''
from __future__ import annotations
import functools

LIMIT = 10


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return ("logged", fn(*args))
    return wrapper


@logged
def decorated(x: int) -> int:
    return x + 1


def plain(x):
    return x * LIMIT


def factory(n):
    def handler(x):
        return x + n
    return handler


class Shape:
    sides = 0

    def area(self):
        return 0

    @property
    def name(self):
        return "shape"


class Square(Shape):
    sides = 4

    def area(self):
        return 1
'''

# Every body edited, lines moved down, a class body that runs again (a new
# attribute) and a new function.
V2 = '''
from __future__ import annotations
import functools

# two lines
# more
LIMIT = 20


def logged(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return ("logged twice", fn(*args))
    return wrapper


@logged
def decorated(x: int) -> int:
    return x + 2


def plain(x):
    return x * LIMIT + 1


def factory(n):
    def handler(x):
        return x + n * 2
    return handler


class Shape:
    sides = 0
    kind = "new attribute"

    def area(self):
        return -1

    @property
    def name(self):
        return "shape 2"


class Square(Shape):
    sides = 4

    def area(self):
        return 2


def added():
    return "added"
'''


@pytest.fixture
def helper():
    helper = CompileHelper()
    yield helper
    helper.close()


def functions_of(module):
    """name -> code of every function and method the module defines."""
    found = {}
    for name, value in vars(module).items():
        if callable(getattr(value, "__code__", None)) or hasattr(value, "__code__"):
            found[name] = value.__code__
        if isinstance(value, type) and value.__module__ == module.__name__:
            for key, member in vars(value).items():
                member = member.fget if isinstance(member, property) else member
                if hasattr(member, "__code__"):
                    found[f"{name}.{key}"] = member.__code__
    return found


def source_of(workspace, short):
    with open(workspace.path(short), "rb") as f:
        return f.read()


def test_code_compiled_ahead_equals_code_compiled_by_the_reload(workspace, helper):
    ahead, alone = workspace.load("ahead", V1), workspace.load("alone", V1)
    held = [ahead.factory(1), alone.factory(1)]
    workspace.edit("ahead", V2)
    workspace.edit("alone", V2)
    name = workspace.name("ahead")
    path = _hotreload.source_path(name)
    texts = compile_ahead(helper, [(name, path, source_of(workspace, "ahead"))])
    assert texts > 0
    hotreload.reload(ahead)
    hotreload.reload(alone)
    mine, theirs = functions_of(ahead), functions_of(alone)
    assert mine.keys() == theirs.keys()
    differing = [k for k in mine if mine[k] != theirs[k] or mine[k].co_firstlineno != theirs[k].co_firstlineno]
    assert differing == []
    # The live wrapper took the new code of its closure, the function it
    # wraps its new body.
    assert ahead.decorated(1) == alone.decorated(1) == ("logged twice", 3)
    assert ahead.plain(1) == 21 and ahead.added() == "added"
    assert ahead.Square().area() == 2 and ahead.Shape.kind == "new attribute"
    assert held[0](1) == held[1](1) == 3


def test_the_reload_uses_the_code_compiled_ahead(workspace):
    """White box: the engine runs the code it was given for a text at a
    place, so a wrong answer from the helper would show (the fuzzer's twin
    check relies on that), and only for that text at that place."""
    m = workspace.load("m", "def f():\n    return 1\n")
    name = m.__name__
    path = _hotreload.source_path(name)
    planted = compile("def f():\n    return 'compiled ahead'\n", path, "exec")

    workspace.edit("m", "def f():\n    return 2\n")
    [(text, lines)] = _hotreload._alone_texts(name, source_of(workspace, "m"))
    assert text == b"def f():\n    return 2\n" and lines == 0
    _hotreload._precompiled_put([(path, text, lines + 5, planted)])  # another place
    hotreload.reload(m)
    assert m.f() == 2

    workspace.edit("m", "def f():\n    return 3\n")
    [(text, lines)] = _hotreload._alone_texts(name, source_of(workspace, "m"))
    _hotreload._precompiled_put([(path, text, lines, planted)])
    hotreload.reload(m)
    assert m.f() == "compiled ahead"


def test_a_text_that_does_not_compile_is_left_to_the_reload(workspace, helper):
    m = workspace.load("m", "def f():\n    return 1\n\ndef g():\n    return 1\n")
    workspace.edit("m", "def f():\n    return 2\n\ndef g():\n    return 2 +\n")
    name = m.__name__
    put = compile_ahead(helper, [(name, _hotreload.source_path(name), source_of(workspace, "m"))])
    assert put == 0
    with pytest.raises(hotreload.ReloadError) as caught:
        hotreload.reload(m)
    assert "does not compile" in str(caught.value) and name in str(caught.value)
    assert m.f() == 1


@pytest.mark.parametrize("bad", [
    b"def f():\n    return '\xc3'\n",
    b"# coding: no-such-codec\ndef f():\n    return 2\n",
    b"\xef\xbb\xbf# coding: latin-1\ndef f():\n    return 2\n",
], ids=["not UTF-8", "unknown codec", "BOM and another cookie"])
def test_a_source_that_does_not_decode_is_left_to_the_reload(workspace, helper, bad):
    """Found by the fuzzer: a save that does not decode stopped the compile
    of every module of the batch with its UnicodeDecodeError (a watcher then
    compiled none ahead), and an unknown codec's LookupError escaped."""
    m = workspace.load("m", "def f():\n    return 1\n")
    other = workspace.load("other", "def f():\n    return 1\n")
    workspace.path("m").write_bytes(bad)
    workspace.edit("other", "def f():\n    return 2\n")
    modules = [(module.__name__, _hotreload.source_path(module.__name__), source_of(workspace, short))
               for module, short in ((m, "m"), (other, "other"))]
    assert compile_ahead(helper, modules) == 1  # the other module's one text
    with pytest.raises(hotreload.ReloadError) as caught:
        hotreload.reload(m)
    assert m.__name__ in str(caught.value)
    assert m.f() == 1
    hotreload.reload(other)
    assert other.f() == 2


def test_a_helper_that_died_is_started_again(workspace, helper):
    m = workspace.load("m", "def f():\n    return 1\n")
    name = m.__name__
    path = _hotreload.source_path(name)
    assert helper.compile([(path, b"x = 1\n", 0)]) is not None
    first = helper._process
    first.kill()
    first.wait()
    workspace.edit("m", "def f():\n    return 2\n")
    assert compile_ahead(helper, [(name, path, source_of(workspace, "m"))]) == 1
    assert helper._process is not first and first.stdin.closed
    hotreload.reload(m)
    assert m.f() == 2


def test_a_helper_that_cannot_start_leaves_the_reloads_to_compile(workspace, monkeypatch):
    m = workspace.load("m", "def f():\n    return 1\n")
    name = m.__name__
    monkeypatch.setattr("sys.executable", os.path.join(str(workspace.root), "python3"))  # not there
    helper = CompileHelper()
    workspace.edit("m", "def f():\n    return 2\n")
    assert compile_ahead(helper, [(name, _hotreload.source_path(name), source_of(workspace, "m"))]) == 0
    assert not helper.available()
    helper.close()
    hotreload.reload(m)
    assert m.f() == 2


@pytest.mark.parametrize("executable", ["/opt/game/bin/server", "", "/usr/bin/pythonw-launcher"])
def test_no_helper_where_the_executable_is_not_python(executable, monkeypatch):
    """A program embedding Python has itself as sys.executable: the helper
    would start another copy of it."""
    monkeypatch.setattr("sys.executable", executable)
    helper = CompileHelper()
    assert not helper.available()
    assert helper.compile([("x.py", b"x = 1\n", 0)]) is None
    assert helper._process is None


def test_the_watcher_compiles_ahead_and_stops_its_helper(workspace):
    m = workspace.load("m", V1)
    events = []
    applied = threading.Event()

    def on_event(event):
        events.append(event)
        applied.set()

    with Watcher([workspace.root], poll=0.02, quiet=0.02, apply="thread", on_event=on_event) as watcher:
        workspace.edit("m", V2)
        assert applied.wait(20), "the save was not applied"
        process = watcher._helper._process
        assert process is not None and process.poll() is None
    assert [e.kind for e in events] == ["reloaded"]
    assert m.plain(1) == 21 and m.added() == "added"
    deadline = time.monotonic() + 5
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is not None, "the helper outlived its watcher"


def test_a_save_during_the_compile_is_compiled_before_the_reload(workspace, monkeypatch):
    """A file saved again while the helper compiles the last save: the
    watcher does not queue a reload the helper has no code for, but compiles
    again what is there, then applies it."""
    import hotreload.watch as watch_module

    m = workspace.load("m", V1)
    calls = []
    real = watch_module.compile_ahead

    def compile_ahead(helper, modules):
        calls.append(("compiled", modules[0][2]))
        if len(calls) == 1:
            workspace.edit("m", V2.replace("return x + 2", "return x + 3"))  # saved again
            time.sleep(0.2)  # the poll sees it while this compile runs
        return real(helper, modules)

    def apply(paths):
        with open(workspace.path("m"), "rb") as f:
            calls.append(("applied", f.read()))
        return applied_by(paths)

    monkeypatch.setattr(watch_module, "compile_ahead", compile_ahead)
    applied = threading.Event()
    with Watcher([workspace.root], poll=0.02, quiet=0.05, apply="thread",
                 on_event=lambda event: applied.set()) as watcher:
        applied_by = watcher.reloader.apply
        monkeypatch.setattr(watcher.reloader, "apply", apply)
        workspace.edit("m", V2)
        assert applied.wait(20), "the saves were not applied"
    kinds = [kind for kind, _ in calls]
    first = kinds.index("applied")
    assert first >= 2 and set(kinds[:first]) == {"compiled"}, kinds
    # What was compiled last before the reload is what the reload found.
    assert calls[first - 1][1] == calls[first][1]
    assert m.decorated(1) == ("logged twice", 4)
