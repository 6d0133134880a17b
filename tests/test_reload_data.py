"""Only what changed runs again: data, side effects, dependencies, hooks.

The old and new sources are compared statement by statement.  A statement
runs again only if it is new, its text changed, it reads a name that a
re-run statement rebinds, or it imports a name that changed in a module of
the same batch.  Everything else keeps its live value and its side effects
are not repeated.
"""
import pytest

import hotreload


def test_unchanged_data_keeps_its_live_value(workspace):
    m = workspace.load("a", """
        PLAYERS = {}

        def greet(name):
            return "hi " + name
    """)
    players = m.PLAYERS
    players["bob"] = {"hp": 7}
    workspace.edit("a", """
        PLAYERS = {}

        def greet(name):
            return "hello " + name
    """)
    hotreload.reload(m)
    assert m.PLAYERS is players
    assert m.PLAYERS == {"bob": {"hp": 7}}
    assert m.greet("bob") == "hello bob"


def test_changed_data_statement_runs_again(workspace):
    m = workspace.load("a", """
        LIMIT = 10
    """)
    workspace.edit("a", """
        LIMIT = 20
    """)
    hotreload.reload(m)
    assert m.LIMIT == 20


def test_statements_reading_a_rebound_name_run_again_transitively(workspace):
    m = workspace.load("a", """
        import $events

        BASE = 10
        DOUBLE = BASE * 2
        LABEL = "limit=%d" % DOUBLE
        UNRELATED = [$events.record("unrelated")]
    """)
    unrelated = m.UNRELATED
    workspace.edit("a", """
        import $events

        BASE = 50
        DOUBLE = BASE * 2
        LABEL = "limit=%d" % DOUBLE
        UNRELATED = [$events.record("unrelated")]
    """)
    hotreload.reload(m)
    assert (m.BASE, m.DOUBLE, m.LABEL) == (50, 100, "limit=100")
    assert m.UNRELATED is unrelated, "a statement that reads no rebound name must not run again"
    assert workspace.events.count("unrelated") == 1


def test_side_effects_of_unchanged_statements_are_not_repeated(workspace):
    m = workspace.load("a", """
        import $events

        $events.record("loaded")
        TABLE = []
        for i in range(3):
            TABLE.append(i)

        def f():
            return 1
    """)
    for version in (2, 3):
        workspace.edit("a", f"""
            import $events

            $events.record("loaded")
            TABLE = []
            for i in range(3):
                TABLE.append(i)

            def f():
                return {version}
        """)
        hotreload.reload(m)
        assert m.f() == version
    assert workspace.events.count("loaded") == 1, "module-level side effects ran again"
    assert m.TABLE == [0, 1, 2]


def test_print_in_unchanged_statement_is_not_repeated(workspace, capsys):
    m = workspace.load("a", """
        print("loading module")

        def f():
            return 1
    """)
    assert "loading module" in capsys.readouterr().out
    workspace.edit("a", """
        print("loading module")

        def f():
            return 2
    """)
    hotreload.reload(m)
    assert "loading module" not in capsys.readouterr().out


def test_data_does_not_run_again_when_a_function_it_calls_changed(workspace):
    m = workspace.load("a", """
        import $events

        def load_players():
            $events.record("load_players")
            return ["alice"]

        players = load_players()
    """)
    players = m.players
    players.append("bob")
    workspace.edit("a", """
        import $events

        def load_players():
            $events.record("load_players")
            return ["alice", "carol"]

        players = load_players()
    """)
    hotreload.reload(m)
    assert m.players is players
    assert m.players == ["alice", "bob"]
    assert workspace.events.count("load_players") == 1
    assert m.load_players() == ["alice", "carol"]


def test_comment_and_whitespace_only_changes_run_nothing_again(workspace):
    m = workspace.load("a", """
        import $events

        $events.record("loaded")
        CACHE = {}
        TOTAL = (1 +
                 2)
    """)
    cache = m.CACHE
    workspace.edit("a", """
        # Header comment added.
        import $events


        $events.record("loaded")   # count loads
        CACHE = {}${trailing}
        TOTAL = (1 +   # first
                 2)
    """.replace("${trailing}", "    "))
    report = hotreload.reload(m)
    assert workspace.events.count("loaded") == 1
    assert m.CACHE is cache
    assert m.TOTAL == 3
    assert report.updated == [] and report.added == [] and report.removed == []


def test_new_statement_runs_and_sees_live_values(workspace):
    m = workspace.load("a", """
        PLAYERS = []
    """)
    m.PLAYERS.extend(["a", "b", "c"])
    workspace.edit("a", """
        PLAYERS = []
        COUNT = len(PLAYERS)
    """)
    report = hotreload.reload(m)
    assert m.COUNT == 3, "a new statement must run against the live values"
    assert m.PLAYERS == ["a", "b", "c"]
    assert f"{m.__name__}.COUNT" in report.added


def test_deleted_data_is_removed(workspace):
    m = workspace.load("a", """
        KEEP = 1
        OBSOLETE = 2
    """)
    workspace.edit("a", """
        KEEP = 1
    """)
    report = hotreload.reload(m)
    assert not hasattr(m, "OBSOLETE")
    assert m.KEEP == 1
    assert f"{m.__name__}.OBSOLETE" in report.removed


def test_name_set_at_run_time_is_left_alone(workspace):
    m = workspace.load("a", """
        def f():
            return 1
    """)
    m.injected = ["set", "by", "other", "code"]
    injected = m.injected
    workspace.edit("a", """
        def f():
            return 2
    """)
    report = hotreload.reload(m)
    assert m.injected is injected, "a name that never was in the source must not be removed"
    assert f"{m.__name__}.injected" not in report.removed


def test_rebinding_an_alias_does_not_touch_the_other_modules_function(workspace):
    """A name that referred to another module's function is simply rebound:
    that other function is not patched with the new target's code."""
    helpers = workspace.load("helpers", """
        def one():
            return 1

        def two():
            return 2
    """)
    m = workspace.load("a", """
        from $helpers import one, two

        handler = one
    """)
    workspace.edit("a", """
        from $helpers import one, two

        handler = two
    """)
    hotreload.reload(m)
    assert m.handler is helpers.two
    assert helpers.one() == 1, "the old target was corrupted"
    assert helpers.one.__code__ is not helpers.two.__code__


# -- __reload_keep__ and __reload_update__ ----------------------------------

def test_reload_keep_keeps_value_even_when_statement_changed(workspace):
    m = workspace.load("a", """
        __reload_keep__ = ("CACHE",)
        CACHE = {}
    """)
    cache = m.CACHE
    cache["warm"] = True
    workspace.edit("a", """
        __reload_keep__ = ("CACHE",)
        CACHE = {"seed": 1}
    """)
    report = hotreload.reload(m)
    assert m.CACHE is cache
    assert m.CACHE == {"warm": True}
    assert f"{m.__name__}.CACHE" in report.kept


def test_reload_keep_declared_by_the_new_source_applies_to_this_reload(workspace):
    """Decision: the new source's __reload_keep__ governs the reload that
    brings it in, so adding a name to it together with a change of the
    name's statement already protects the live value."""
    m = workspace.load("a", """
        SESSIONS = []
    """)
    m.SESSIONS.append("live")
    sessions = m.SESSIONS
    workspace.edit("a", """
        __reload_keep__ = ("SESSIONS",)
        SESSIONS = ["fresh"]
    """)
    hotreload.reload(m)
    assert m.SESSIONS is sessions
    assert m.__reload_keep__ == ("SESSIONS",)


def test_reload_update_runs_unchanged_statement_again(workspace):
    m = workspace.load("a", """
        import $events

        __reload_update__ = ("STAMP",)
        STAMP = $events.record("stamp")
        OTHER = $events.record("other")

        def f():
            return 1
    """)
    assert m.STAMP == 1
    workspace.edit("a", """
        import $events

        __reload_update__ = ("STAMP",)
        STAMP = $events.record("stamp")
        OTHER = $events.record("other")

        def f():
            return 2
    """)
    hotreload.reload(m)
    events = workspace.events
    assert events.count("stamp") == 2
    assert m.STAMP == 3
    assert events.count("other") == 1
    assert m.OTHER == 2


# -- batches and dependency order ---------------------------------------------

@pytest.mark.parametrize("order", ["a_first", "b_first"])
def test_from_import_of_changed_name_runs_again_in_same_batch(workspace, order):
    a = workspace.load("a", """
        BASE = 10
    """)
    b = workspace.load("b", """
        from $a import BASE

        LIMIT = BASE * 2
    """)
    workspace.edit("a", """
        BASE = 15
    """)
    batch = (a, b) if order == "a_first" else (b.__name__, a.__name__)
    hotreload.reload(*batch)
    assert a.BASE == 15
    assert b.BASE == 15, "b imports BASE from a, changed in the same batch"
    assert b.LIMIT == 30


@pytest.mark.parametrize("star", [False, True])
def test_from_import_in_same_batch_binds_the_live_function(workspace, star):
    """A changed from-import of a module reloaded in the same batch takes
    the live function (patched in place), never the throw-away new one."""
    lib = workspace.load("lib", """
        def helper(x):
            return ("v1", x)
    """)
    names = "*" if star else "helper"
    user = workspace.load("user", f"""
        from $lib import {names}

        def use(x):
            return helper(x)
    """)
    live = lib.helper
    workspace.edit("lib", """
        def helper(x):
            return ("v2", x)

        def extra():
            return "extra"
    """)
    workspace.edit("user", f"""
        from $lib import {"*" if star else "helper, extra"}

        def use(x):
            return helper(x), extra()
    """)
    hotreload.reload(lib, user)
    assert lib.helper is live
    assert user.helper is live
    assert user.use(1) == (("v2", 1), "extra")


def test_report_lists_modules_in_dependency_order(workspace):
    """Decision: report.modules lists the batch in the order it was
    processed: a module before those that import from it."""
    a = workspace.load("a", """
        BASE = 1
    """)
    b = workspace.load("b", """
        from $a import BASE
        LIMIT = BASE * 2
    """)
    workspace.edit("a", """
        BASE = 2
    """)
    report = hotreload.reload(b, a)
    assert report.modules == [a.__name__, b.__name__]
    assert b.LIMIT == 4


def test_dependency_order_follows_imports_across_three_modules(workspace):
    a = workspace.load("a", """
        UNIT = 1
    """)
    b = workspace.load("b", """
        from $a import UNIT
        STEP = UNIT * 10
    """)
    c = workspace.load("c", """
        from $b import STEP
        MAX = STEP * 10
    """)
    workspace.edit("a", """
        UNIT = 2
    """)
    report = hotreload.reload(c, a, b)
    assert report.modules == [a.__name__, b.__name__, c.__name__]
    assert (b.STEP, c.MAX) == (20, 200)


# -- __reload_module__ -------------------------------------------------------

def test_reload_module_hook_migrates_data_after_commit(workspace):
    m = workspace.load("a", """
        SCORES = [("alice", 3)]

        def version():
            return 1
    """)
    m.SCORES.append(("bob", 5))
    old_scores = m.SCORES
    workspace.edit("a", """
        import $events

        SCORES = {}

        def version():
            return 2

        def __reload_module__(old):
            import sys
            live = sys.modules[__name__]
            $events.EVENTS.append((
                "hook",
                version(),
                live.version(),
                type(old["SCORES"]).__name__,
                old is live.__dict__,
            ))
            SCORES.update(old["SCORES"])
    """)
    hotreload.reload(m)
    hooks = [e for e in workspace.events.EVENTS if e[0] == "hook"]
    assert hooks == [("hook", 2, 2, "list", False)], (
        "the hook must run once, after the commit, with the previous values in a separate dict"
    )
    assert m.SCORES == {"alice": 3, "bob": 5}
    assert old_scores == [("alice", 3), ("bob", 5)]


def test_reload_module_hook_sees_previous_values_of_all_names(workspace):
    m = workspace.load("a", """
        VERSION = 1

        def __reload_module__(old):
            pass
    """)
    m.runtime = "set at run time"
    workspace.edit("a", """
        import $events

        VERSION = 2

        def __reload_module__(old):
            $events.EVENTS.append(("hook", old["VERSION"], VERSION, old.get("runtime")))
    """)
    hotreload.reload(m)
    hooks = [e for e in workspace.events.EVENTS if e[0] == "hook"]
    assert hooks == [("hook", 1, 2, "set at run time")]


def test_star_import_of_batch_module_takes_new_values_and_reruns_readers(workspace):
    """`from a import *` in b, both reloaded: b gets a's new values, and a
    statement of b reading a star-imported name that changed runs again."""
    a = workspace.load("a", """
        BASE = 1
        _private = "p"
    """)
    b = workspace.load("b", """
        from $a import *
        LIMIT = BASE * 2
    """)
    workspace.edit("a", """
        BASE = 5
        _private = "q"
    """)
    hotreload.reload(b, a)
    assert b.BASE == 5
    assert b.LIMIT == 10
    assert not hasattr(b, "_private"), "a star import does not bring private names"
