"""The import hook and its records: install, uninstall, reload_changed.

install() records, for every module imported afterwards, its file and the
source text it was built from; reload_changed() reloads the recorded modules
whose file on disk no longer holds that text.
"""
import importlib.machinery
import importlib.util
import sys

import pytest

import hotreload
from hotreload import ReloadError

V1 = """
    import $events

    $events.record("loaded")
    DATA = []

    def f():
        return 1
"""
V2 = V1.replace("return 1", "return 2")


def hotreload_finders():
    return [f for f in sys.meta_path if type(f).__module__.split(".")[0] == "hotreload"]


def test_install_is_idempotent(workspace):
    finders = list(sys.meta_path)
    assert len(hotreload_finders()) == 1, "install() must put one finder on sys.meta_path"
    hotreload.install()
    hotreload.install()
    assert sys.meta_path == finders


def test_uninstall_removes_the_finder_and_is_idempotent(workspace):
    hotreload.uninstall()
    assert hotreload_finders() == []
    without = list(sys.meta_path)
    hotreload.uninstall()
    assert sys.meta_path == without


def test_reload_changed_reloads_an_edited_module(workspace):
    m = workspace.load("a", V1)
    f = m.f
    workspace.edit("a", V2)
    report = hotreload.reload_changed()
    assert report.modules == [m.__name__]
    assert f() == 2
    assert workspace.events.count("loaded") == 1


def test_reload_changed_ignores_a_touched_but_unchanged_file(workspace):
    m = workspace.load("a", V1)
    workspace.touch("a")
    report = hotreload.reload_changed()
    assert report.modules == []
    assert m.f() == 1


def test_reload_changed_reloads_only_the_changed_modules(workspace):
    a = workspace.load("a", V1)
    b = workspace.load("b", """
        def g():
            return "b"
    """)
    workspace.edit("b", """
        def g():
            return "b2"
    """)
    report = hotreload.reload_changed()
    assert report.modules == [b.__name__]
    assert b.g() == "b2" and a.f() == 1


def test_reload_changed_orders_changed_modules_by_dependency(workspace):
    a = workspace.load("a", """
        BASE = 1
    """)
    b = workspace.load("b", """
        from $a import BASE
        LIMIT = BASE * 2
    """)
    workspace.edit("b", """
        from $a import BASE
        LIMIT = BASE * 3
    """)
    workspace.edit("a", """
        BASE = 10
    """)
    report = hotreload.reload_changed()
    assert report.modules == [a.__name__, b.__name__]
    assert (b.BASE, b.LIMIT) == (10, 30)


def test_second_reload_changed_finds_nothing(workspace):
    workspace.load("a", V1)
    workspace.edit("a", V2)
    hotreload.reload_changed()
    report = hotreload.reload_changed()
    assert report.modules == [], "the record must now hold the reloaded text"


def test_explicit_reload_updates_the_record(workspace):
    m = workspace.load("a", V1)
    workspace.edit("a", V2)
    hotreload.reload(m)
    assert hotreload.reload_changed().modules == []


def test_record_holds_the_text_the_module_was_built_from(workspace):
    """Editing a file and editing it back is no change."""
    m = workspace.load("a", V1)
    workspace.edit("a", V2)
    workspace.edit("a", V1)
    assert hotreload.reload_changed().modules == []
    assert m.f() == 1


def test_comment_only_edit_reloads_the_module_but_runs_nothing_again(workspace):
    """Decision: a file whose text differs only in comments is reloaded (its
    text differs from the record) but nothing in it runs again."""
    m = workspace.load("a", V1)
    data = m.DATA
    workspace.edit("a", "    # just a comment\n" + V1 + "    # and another\n")
    report = hotreload.reload_changed()
    assert report.modules == [m.__name__]
    assert report.updated == [] and report.added == [] and report.removed == []
    assert workspace.events.count("loaded") == 1
    assert m.DATA is data


def test_failed_reload_changed_leaves_the_module_pending(workspace):
    m = workspace.load("a", V1)
    workspace.edit("a", V2 + "\n    raise RuntimeError('not yet')\n")
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload_changed()
    assert m.f() == 1
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload_changed()
    workspace.edit("a", V2)
    report = hotreload.reload_changed()
    assert report.modules == [m.__name__]
    assert m.f() == 2


def test_module_imported_after_uninstall_is_not_recorded(workspace):
    hotreload.uninstall()
    m = workspace.load("a", V1)
    hotreload.install()
    workspace.edit("a", V2)
    assert hotreload.reload_changed().modules == []
    assert m.f() == 1


@pytest.mark.no_install
def test_module_imported_before_install_reloads_code_and_keeps_data(workspace):
    m = workspace.load("a", """
        PLAYERS = {}
        LIMIT = 5

        def f():
            return 1
    """)
    hotreload.install()
    f = m.f
    players = m.PLAYERS
    players["bob"] = 1
    workspace.edit("a", """
        PLAYERS = {"fresh": 0}
        LIMIT = 6

        def f():
            return 2

        def g():
            return "g"
    """)
    hotreload.reload(m)
    assert m.f is f and f() == 2
    assert m.g() == "g"
    assert m.PLAYERS is players and players == {"bob": 1}, "data of an unrecorded module is kept"
    assert m.LIMIT == 5


@pytest.mark.no_install
def test_module_imported_before_install_is_recorded_by_an_explicit_reload(workspace):
    """Decision: once reloaded, a module imported before install() has a
    record (the text just reloaded) and reload_changed() follows it."""
    m = workspace.load("a", V1)
    hotreload.install()
    workspace.edit("a", V2)
    assert hotreload.reload_changed().modules == [], "no record before the first reload"
    hotreload.reload(m)
    assert m.f() == 2
    workspace.edit("a", V1.replace("return 1", "return 3"))
    assert hotreload.reload_changed().modules == [m.__name__]
    assert m.f() == 3


def test_package_submodule_by_dotted_name(workspace):
    sub = workspace.load("pkg.sub", """
        def f():
            return 1
    """)
    workspace.edit("pkg.sub", """
        def f():
            return 2
    """)
    report = hotreload.reload(workspace.name("pkg.sub"))
    assert report.modules == [sub.__name__]
    assert sub.f() == 2
    assert hotreload.reload_changed().modules == []


def test_recorded_lists_module_names_without_copying_sources(workspace):
    m = workspace.load("a", "X = 1\n")
    names = hotreload.recorded()
    assert m.__name__ in names
    assert names == sorted(names)
    assert all(isinstance(name, str) for name in names)


def test_a_module_that_reassigns_its_file_is_reloaded_from_its_record(workspace):
    """toolz's tlz package sets its __file__ to toolz/__init__.py once
    imported: the file the hook recorded is the one reloaded, not the one
    __file__ names now (whose code would run in the wrong namespace)."""
    workspace.write("orig", """
        def only_in_orig():
            return "orig"
    """)
    m = workspace.load("mirror", """
        import sys
        import $orig

        def f():
            return 1

        sys.modules[__name__].__file__ = $orig.__file__
    """)
    f = m.f
    workspace.edit("mirror", """
        import sys
        import $orig

        def f():
            return 2

        sys.modules[__name__].__file__ = $orig.__file__
    """)
    assert hotreload.reload_changed().modules == [m.__name__]
    assert m.f is f and f() == 2
    assert not hasattr(m, "only_in_orig"), "the other module's code ran in this one"
    hotreload.reload(m)
    assert f() == 2 and not hasattr(m, "only_in_orig")


def test_a_module_a_loader_made_with_another_modules_file_is_left_alone(workspace):
    """A module a library's own import hook made (tlz.functoolz mirrors
    toolz.functoolz and takes its __file__) has no record: reloading it
    would run the other module's file in its namespace, so it is refused."""
    orig = workspace.load("orig", """
        def f():
            return 1
    """)
    name = workspace.name("made")
    made = importlib.util.module_from_spec(importlib.machinery.ModuleSpec(name, None))
    made.__file__ = orig.__file__
    made.g = lambda: "kept"
    sys.modules[name] = made
    with pytest.raises(ReloadError, match="left alone") as raised:
        hotreload.reload(name)
    assert raised.value.module == name
    assert vars(made).keys() == {"__name__", "__doc__", "__package__", "__loader__",
                                 "__spec__", "__file__", "g"}
