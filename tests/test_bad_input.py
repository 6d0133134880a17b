"""Bad input: every refusal is a ReloadError that names the module (or the
object) and the reason, and nothing changes.

Built-in and extension modules, the standard library and site-packages are
in test_transaction.py; this file covers what is left: modules without a
source file, files that are gone, undecodable or not Python, modules that
left sys.modules, things that are not modules, reloads started from inside
a reload (its own module body, a hook, another thread), modules importing
each other, hooks that raise, bad declarations, bad hotfix scripts.
"""
import os
import py_compile
import sys
import threading
import types

import pytest

import hotreload
from conftest import reload_refused

V1 = """
    PLAYERS = {}

    def f():
        return 1

    class Player:
        def attack(self):
            return 1
"""
V2 = V1.replace("return 1", "return 2")


refused = reload_refused


def assert_unchanged(before, after):
    diff = before.diff(after)
    assert diff == [], "the refused reload changed:\n  " + "\n  ".join(diff)


def assert_names_module(error, name):
    assert error.module == name
    assert name in str(error)


# -- modules without a readable Python source --------------------------------

def test_module_made_at_run_time_has_no_source_and_is_refused(workspace):
    module = types.ModuleType(workspace.name("made"))
    module.value = 1
    sys.modules[module.__name__] = module
    for target in (module, module.__name__):
        error = refused(target)
        assert_names_module(error, module.__name__)
        assert "no source file" in error.reason
    assert vars(module)["value"] == 1


def test_namespace_package_has_no_source_and_is_refused(workspace):
    (workspace.root / workspace.name("space")).mkdir()
    package = workspace.load("space")
    error = refused(package)
    assert_names_module(error, package.__name__)
    assert "no source file" in error.reason


def test_module_loaded_from_bytecode_only_is_refused(workspace):
    path = workspace.write("compiled", V1)
    py_compile.compile(str(path), cfile=str(path) + "c", doraise=True)
    path.unlink()
    module = workspace.load("compiled")
    assert module.__file__.endswith(".pyc")
    before = workspace.snapshot(module)
    error = refused(module)
    assert_names_module(error, module.__name__)
    assert "not Python source" in error.reason and module.__file__ in error.reason
    assert_unchanged(before, workspace.snapshot(module))


def test_deleted_file_is_refused_and_changes_nothing(workspace):
    m = workspace.load("a", V1)
    before = workspace.snapshot(m)
    workspace.path("a").unlink()
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert "cannot read its source file" in error.reason
    assert isinstance(error.__cause__, FileNotFoundError)
    assert_unchanged(before, workspace.snapshot(m))
    assert m.f() == 1


def test_undecodable_file_is_refused_and_changes_nothing(workspace):
    """Bad UTF-8 and no coding cookie: the import system would not decode it."""
    m = workspace.load("a", V1)
    before = workspace.snapshot(m)
    workspace.path("a").write_bytes(b"def f():\n    return '\xff\xfe caf\xe9'\n")
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert "cannot decode its source file" in error.reason
    assert isinstance(error.__cause__, UnicodeDecodeError)
    assert_unchanged(before, workspace.snapshot(m))


@pytest.mark.parametrize("bad, reason, cause", [
    (b"'\xc3'", "cannot decode its source file", UnicodeDecodeError),
    (b"'\xed\xa0\x80'", "cannot decode its source file", UnicodeDecodeError),
    (b"'\x00'", "null byte at offset", None),
], ids=["cut character", "surrogate", "null byte"])
def test_bad_bytes_in_a_later_edit_are_refused(workspace, bad, reason, cause):
    """After a reload the engine keeps the module's text and reads a new
    version only where it changed: bad bytes there are refused as in a
    whole file, with the file's offset."""
    m = workspace.load("a", V1)
    workspace.write("a", V2)
    hotreload.reload(m)
    before = workspace.snapshot(m)
    good = workspace.path("a").read_bytes()
    data = good.replace(b"return 2", b"return " + bad, 1)
    workspace.path("a").write_bytes(data)
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert reason in error.reason
    if cause is not None:
        assert isinstance(error.__cause__, cause)
        assert error.__cause__.start == data.index(bad) + 1
    else:
        assert f"offset {data.index(bad) + 1}" in error.reason
    assert_unchanged(before, workspace.snapshot(m))
    workspace.path("a").write_bytes(good.replace(b"return 2", b"return 3", 1))
    hotreload.reload(m)
    assert m.f() == 3


def test_file_with_a_coding_cookie_is_decoded_as_it_says(workspace):
    m = workspace.load("a", V1)
    workspace.path("a").write_bytes(
        b"# -*- coding: latin-1 -*-\ndef f():\n    return 'caf\xe9'\n")
    hotreload.reload(m)
    assert m.f() == "caf\xe9"


@pytest.mark.parametrize("content", [
    pytest.param(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)), id="binary"),
    pytest.param(b"This file holds prose, not Python: it will not compile.\n", id="prose"),
    pytest.param(b'{"json": [1, 2, 3], "is": "not python either"}\n{"x": }\n', id="json"),
])
def test_file_that_is_not_python_is_refused_and_changes_nothing(workspace, content):
    m = workspace.load("a", V1)
    before = workspace.snapshot(m)
    workspace.path("a").write_bytes(content)
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert_unchanged(before, workspace.snapshot(m))


def test_null_byte_does_not_cut_the_source_short(workspace):
    """Found while writing this file: the compiler takes a C string, so the
    text after a null byte was dropped and the reload "succeeded" with half
    the module, where an import refuses the file."""
    m = workspace.load("a", V1)
    before = workspace.snapshot(m)
    workspace.path("a").write_bytes(
        b"def f():\n    return 2\n\x00\ndef g():\n    return 3\n")
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert "null byte" in error.reason
    assert_unchanged(before, workspace.snapshot(m))
    assert m.f() == 1


def test_module_whose_file_is_not_a_python_file_is_refused(workspace, tmp_path):
    data = tmp_path / "settings.txt"
    data.write_text("value = 1\n")
    module = types.ModuleType(workspace.name("settings"))
    module.__file__ = str(data)
    sys.modules[module.__name__] = module
    error = refused(module)
    assert_names_module(error, module.__name__)
    assert "not Python source" in error.reason and str(data) in error.reason


# -- things that are not (or no longer) imported modules ---------------------

def test_module_removed_from_sys_modules_is_refused(workspace):
    m = workspace.load("a", V1)
    name = m.__name__
    workspace.edit("a", V2)
    del sys.modules[name]
    error = refused(m)
    assert_names_module(error, name)
    assert "no longer the one in sys.modules" in error.reason
    error = refused(name)
    assert_names_module(error, name)
    assert "not imported" in error.reason
    assert m.f() == 1


def test_module_replaced_in_sys_modules_is_refused(workspace):
    m = workspace.load("a", V1)
    sys.modules[m.__name__] = types.ModuleType(m.__name__)
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert "removed or replaced" in error.reason


def test_name_of_no_imported_module_is_refused(workspace):
    name = workspace.name("never_imported")
    error = refused(name)
    assert_names_module(error, name)
    assert "not imported" in error.reason


def test_sys_modules_entry_that_is_not_a_module_is_refused(workspace):
    name = workspace.name("impostor")
    sys.modules[name] = object()
    error = refused(name)
    assert_names_module(error, name)
    assert "not a module" in error.reason


@pytest.mark.parametrize("target", [42, None, len, hotreload.Report, b"bytes"],
                         ids=["int", "None", "function", "class", "bytes"])
def test_target_that_is_not_a_module_is_refused(workspace, target):
    m = workspace.load("a", V1)
    workspace.edit("a", V2)
    error = refused(m, target)
    assert error.module is None
    assert "expected a module or a module name" in error.reason and repr(target) in error.reason
    assert m.f() == 1, "the batch is refused as a whole"


# -- a reload started while one is under way ---------------------------------

def test_module_reloading_itself_from_its_body_is_refused(workspace):
    """The new module body calls hotreload.reload() on its own module while
    the reload runs it: refused, so the body raises and the outer reload is
    refused as well, with nothing changed; the engine is usable after."""
    m = workspace.load("a", V1)
    before = workspace.snapshot(m)
    workspace.edit("a", V2 + """
    import hotreload
    hotreload.reload(__name__)
    """)
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert "already under way" in error.reason
    assert_unchanged(before, workspace.snapshot(m))
    workspace.edit("a", V2)
    hotreload.reload(m)
    assert m.f() == 2


def test_reload_from_a_hook_is_refused_and_the_commit_undone(workspace):
    other = workspace.load("b", V1)
    m = workspace.load("a", V1)
    before = workspace.snapshot(m, other)
    workspace.edit("b", V2)
    workspace.edit("a", V2 + """
    import hotreload

    def __reload_module__(old):
        hotreload.reload("$b")
    """)
    error = refused(m)
    assert_names_module(error, other.__name__)
    assert "already under way" in error.reason and "hook" in error.reason
    assert_unchanged(before, workspace.snapshot(m, other))
    assert m.f() == other.f() == 1


def test_hook_that_raises_undoes_the_commit(workspace):
    m = workspace.load("a", V1)
    player = m.Player()
    before = workspace.snapshot(m)
    workspace.edit("a", V2 + """
    ADDED = 1

    def __reload_module__(old):
        raise LookupError("migration failed")
    """)
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert "hook" in error.reason and "undone" in error.reason
    assert isinstance(error.__cause__, LookupError)
    assert_unchanged(before, workspace.snapshot(m))
    assert m.f() == 1 and player.attack() == 1 and not hasattr(m, "ADDED")
    workspace.edit("a", V2)
    hotreload.reload(m)
    assert m.f() == 2, "the record still holds the version before the hook"


def test_reload_from_another_thread_while_one_runs_is_refused(workspace):
    """The module body waits for a thread that asks for a reload: the GIL
    is free, the engine is busy, the thread is told so."""
    other = workspace.load("b", V1)
    m = workspace.load("a", V1)
    workspace.edit("b", V2)
    seen = []

    def reload_other():
        try:
            hotreload.reload(other)
            seen.append("reloaded")
        except hotreload.ReloadError as error:
            seen.append(error)

    def from_the_body():
        thread = threading.Thread(target=reload_other)
        thread.start()
        thread.join()

    workspace.events.CALL_FROM_BODY = from_the_body
    workspace.edit("a", V2 + """
    import $events
    $events.CALL_FROM_BODY()
    """)
    hotreload.reload(m)
    assert m.f() == 2
    [error] = seen
    assert isinstance(error, hotreload.ReloadError), error
    assert_names_module(error, other.__name__)
    assert "another thread" in error.reason
    assert other.f() == 1
    hotreload.reload(other)
    assert other.f() == 2


def test_patch_from_another_thread_during_a_hotfix_is_refused(workspace):
    """A patch() of another thread must not slip into the running hotfix
    script's transaction."""
    m = workspace.load("a", V1)
    seen = []

    def patch_from_a_thread():
        def g():
            return "thread"
        try:
            hotreload.patch(m.f, g)
            seen.append("patched")
        except hotreload.ReloadError as error:
            seen.append(error)

    def from_the_script():
        thread = threading.Thread(target=patch_from_a_thread)
        thread.start()
        thread.join()

    workspace.events.CALL_FROM_SCRIPT = from_the_script
    hotreload.hotfix(workspace.source("""
        import hotreload, $a, $events

        class Player:
            def attack(self):
                return "hotfix"

        hotreload.patch($a.Player, Player)
        $events.CALL_FROM_SCRIPT()
    """))
    assert m.Player().attack() == "hotfix"
    [error] = seen
    assert isinstance(error, hotreload.ReloadError), error
    assert "another thread" in error.reason
    assert m.f() == 1


# -- modules that import each other ------------------------------------------

CYCLE_A = """
    def name():
        return "a1"

    def both():
        return name() + "+" + $b.name()

    import $b
"""
CYCLE_B = """
    from $a import name as a_name

    def name():
        return "b1"

    def both():
        return a_name() + "+" + name()
"""


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_modules_importing_each_other_reload_together(workspace, order):
    workspace.write("b", CYCLE_B)
    a = workspace.load("a", CYCLE_A)
    b = sys.modules[workspace.name("b")]
    both_a, both_b = a.both, b.both
    workspace.edit("a", CYCLE_A.replace('"a1"', '"a2"'))
    workspace.edit("b", CYCLE_B.replace('"b1"', '"b2"'))
    report = hotreload.reload(*(a, b) if order == "ab" else (b, a))
    assert sorted(report.modules) == sorted([a.__name__, b.__name__])
    assert both_a() == both_b() == "a2+b2"
    assert b.a_name is a.name


def test_modules_importing_each_other_reload_changed(workspace):
    workspace.write("b", CYCLE_B)
    a = workspace.load("a", CYCLE_A)
    workspace.edit("a", CYCLE_A.replace('"a1"', '"a2"'))
    workspace.edit("b", CYCLE_B.replace('"b1"', '"b2"'))
    report = hotreload.reload_changed()
    assert len(report.modules) == 2
    assert a.both() == "a2+b2"


# -- declarations --------------------------------------------------------------

@pytest.mark.parametrize("declaration", ["__reload_keep__", "__reload_update__"])
@pytest.mark.parametrize("value", ['"PLAYERS"', '("PLAYERS", 1)', "5", "[b'PLAYERS']",
                                   "names_from_a_call()"])
def test_declaration_that_is_not_a_sequence_of_names_is_refused(workspace, declaration, value):
    m = workspace.load("a", V1)
    before = workspace.snapshot(m)
    workspace.edit("a", f"    {declaration} = {value}\n" + V2)
    error = refused(m)
    assert_names_module(error, m.__name__)
    assert declaration in error.reason
    assert_unchanged(before, workspace.snapshot(m))


# -- hotfix scripts ------------------------------------------------------------

@pytest.mark.parametrize("source, reason", [
    ("import sys\n\x00\nsys.exit('the rest ran')\n", "null byte"),
    ("x = '\udc80'\n", "cannot be encoded"),
    ("def broken(:\n", "does not compile"),
])
def test_hotfix_script_that_is_not_python_is_refused(workspace, source, reason):
    """A lone surrogate used to reach the compiler as a NULL pointer (a
    crash), and a null byte cut the script short."""
    m = workspace.load("a", V1)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.hotfix(source)
    assert reason in info.value.reason
    assert info.value.object == "<hotfix>"
    assert m.f() == 1


def test_hotfix_file_that_does_not_exist_is_refused(workspace, tmp_path):
    missing = tmp_path / "fix.py"
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.hotfix(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)
