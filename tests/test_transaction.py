"""One transaction per reload: all of the batch, or nothing.

A failed reload raises ReloadError and leaves every module dict, class dict
and function of the batch exactly as before (compared by identity with a
Snapshot, see conftest).  Also here: the Report, ReloadError's attributes,
refused modules and logging.
"""
import logging
import sysconfig

import pytest

import hotreload

GAME_V1 = """
    import $events

    LIMIT = 10
    PLAYERS = {}

    def bonus(x, y=1, *, z=2):
        return x + y + z

    def deco(fn):
        def wrapper(*args):
            return fn(*args) * 2
        return wrapper

    @deco
    def damage(n):
        return n

    class Player:
        SPEED = 1

        def attack(self):
            return "attack v1"

        @classmethod
        def make(cls):
            return cls()

        @staticmethod
        def version():
            return 1

        @property
        def power(self):
            return 1

        class Stats:
            def total(self):
                return 1
"""

# Changes everything above, then fails at the end of the module body.
GAME_V2_BODY = """
    import $events

    LIMIT = 99
    PLAYERS = {"reset": True}
    NEW_NAME = "added"

    def bonus(x, y=5, *, z=7):
        "changed"
        return x * y * z

    def deco(fn):
        def wrapper(*args):
            return fn(*args) * 3
        return wrapper

    @deco
    def damage(n):
        return -n

    def added():
        return "added"

    class Player:
        SPEED = 2

        def attack(self):
            return "attack v2"

        @classmethod
        def make(cls):
            return None

        @staticmethod
        def version():
            return 2

        @property
        def power(self):
            return 2

        def added_method(self):
            return "added"

        class Stats:
            def total(self):
                return 2
"""


def assert_unchanged(before, after):
    diff = before.diff(after)
    assert diff == [], "the failed reload changed:\n  " + "\n  ".join(diff)


def assert_game_v1_behaviour(m, player):
    assert m.LIMIT == 10
    assert m.bonus(1) == 4
    assert m.damage(3) == 6
    assert player.attack() == "attack v1"
    assert m.Player.version() == 1
    assert player.power == 1
    assert m.Player.Stats().total() == 1
    assert not hasattr(m, "NEW_NAME") and not hasattr(m, "added")
    assert not hasattr(player, "added_method")


def test_syntax_error_is_refused_and_changes_nothing(workspace):
    m = workspace.load("game", GAME_V1)
    player = m.Player()
    before = workspace.snapshot(m)
    workspace.edit("game", GAME_V2_BODY + """
    def broken(:
        pass
    """)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(m)
    err = info.value
    assert isinstance(err, Exception)
    assert err.module == m.__name__
    assert isinstance(err.__cause__, SyntaxError)
    assert err.reason, "the error must say why"
    assert m.__name__ in str(err) and err.reason in str(err)
    assert_unchanged(before, workspace.snapshot(m))
    assert_game_v1_behaviour(m, player)


def test_exception_in_module_body_is_refused_and_changes_nothing(workspace):
    m = workspace.load("game", GAME_V1)
    player = m.Player()
    before = workspace.snapshot(m)
    workspace.edit("game", GAME_V2_BODY + """
    raise RuntimeError("boom at import")
    """)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(m)
    err = info.value
    assert err.module == m.__name__
    assert isinstance(err.__cause__, RuntimeError)
    assert str(err.__cause__) == "boom at import"
    assert m.__name__ in str(err)
    assert_unchanged(before, workspace.snapshot(m))
    assert_game_v1_behaviour(m, player)


def test_exception_in_changed_class_body_is_refused_and_changes_nothing(workspace):
    m = workspace.load("game", GAME_V1)
    player = m.Player()
    before = workspace.snapshot(m)
    workspace.edit("game", GAME_V2_BODY.replace(
        "        SPEED = 2\n", "        SPEED = 2 // 0\n"))
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(m)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert_unchanged(before, workspace.snapshot(m))
    assert_game_v1_behaviour(m, player)


def test_exception_in_rerun_decorator_is_refused_and_changes_nothing(workspace):
    m = workspace.load("game", GAME_V1)
    player = m.Player()
    before = workspace.snapshot(m)
    workspace.edit("game", GAME_V2_BODY.replace(
        "    def deco(fn):\n", "    def deco(fn):\n        raise ValueError('bad decorator')\n"))
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(m)
    assert isinstance(info.value.__cause__, ValueError)
    assert_unchanged(before, workspace.snapshot(m))
    assert_game_v1_behaviour(m, player)


def test_second_module_of_batch_fails_first_is_unchanged(workspace):
    a = workspace.load("game", GAME_V1)
    player = a.Player()
    b = workspace.load("b", """
        def f():
            return 1
    """)
    before = workspace.snapshot(a, b)
    workspace.edit("game", GAME_V2_BODY)
    workspace.edit("b", """
        def f():
            return 2

        raise KeyError("b fails")
    """)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(a, b)
    assert info.value.module == b.__name__
    assert isinstance(info.value.__cause__, KeyError)
    assert_unchanged(before, workspace.snapshot(a, b))
    assert_game_v1_behaviour(a, player)
    assert b.f() == 1


def test_dependent_module_fails_its_dependency_is_unchanged(workspace):
    """b imports from a, so a is processed first; b's failure must still
    undo a, whatever order the batch was given in."""
    a = workspace.load("a", """
        BASE = 1

        def f():
            return "a v1"
    """)
    b = workspace.load("b", """
        from $a import BASE
        LIMIT = BASE * 2
    """)
    before = workspace.snapshot(a, b)
    workspace.edit("a", """
        BASE = 2

        def f():
            return "a v2"
    """)
    workspace.edit("b", """
        from $a import BASE
        LIMIT = BASE * 2 / 0
    """)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(b, a)
    assert info.value.module == b.__name__
    assert_unchanged(before, workspace.snapshot(a, b))
    assert (a.BASE, a.f(), b.BASE, b.LIMIT) == (1, "a v1", 1, 2)


def test_changed_slots_are_refused_with_the_class_named(workspace):
    """Decision: a change of __slots__ cannot be applied in place (instance
    layout); it is refused.  ReloadError.object is the object's __qualname__
    in its module ("Point"); the module is in ReloadError.module."""
    m = workspace.load("a", """
        class Point:
            __slots__ = ("x",)

            def __init__(self):
                self.x = 1

        def f():
            return 1
    """)
    point = m.Point()
    before = workspace.snapshot(m)
    workspace.edit("a", """
        class Point:
            __slots__ = ("x", "y")

            def __init__(self):
                self.x = 1
                self.y = 2

        def f():
            return 2
    """)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(m)
    err = info.value
    assert err.module == m.__name__
    assert err.object == "Point"
    assert "Point" in str(err) and m.__name__ in str(err) and err.reason in str(err)
    assert_unchanged(before, workspace.snapshot(m))
    assert m.f() == 1 and point.x == 1


def test_new_code_runs_without_touching_the_live_module(workspace):
    """While the new source executes, the live module still has the old
    functions and none of the new names."""
    m = workspace.load("a", """
        def f():
            return "old"
    """)
    workspace.edit("a", """
        import sys
        import $events

        def f():
            return "new"

        NEW = 1
        _live = sys.modules["$a"]
        $events.EVENTS.append(("during", _live.f(), hasattr(_live, "NEW")))
    """)
    hotreload.reload(m)
    seen = [e for e in workspace.events.EVENTS if e[0] == "during"]
    assert seen == [("during", "old", False)]
    assert m.f() == "new" and m.NEW == 1


def test_reload_succeeds_after_a_failed_attempt_is_fixed(workspace):
    m = workspace.load("game", GAME_V1)
    player = m.Player()
    workspace.edit("game", GAME_V2_BODY + "\n    1 / 0\n")
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload(m)
    workspace.edit("game", GAME_V2_BODY)
    hotreload.reload(m)
    assert m.LIMIT == 99
    assert player.attack() == "attack v2"
    assert m.damage(3) == -9
    assert player.added_method() == "added"


def test_refused_module_in_batch_changes_nothing(workspace):
    m = workspace.load("a", """
        def f():
            return 1
    """)
    before = workspace.snapshot(m)
    workspace.edit("a", """
        def f():
            return 2
    """)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(m, "sys")
    assert info.value.module == "sys"
    assert_unchanged(before, workspace.snapshot(m))
    assert m.f() == 1


# -- which modules may be reloaded --------------------------------------------

@pytest.mark.parametrize("name", ["sys", "math", "_json"])
def test_builtin_and_extension_modules_are_refused(workspace, name):
    __import__(name)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(name)
    assert info.value.module == name
    assert name in str(info.value)
    assert info.value.reason


def test_standard_library_module_is_refused_by_default(workspace):
    import json

    dumps = json.dumps
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(json)
    assert info.value.module == "json"
    assert "json" in str(info.value)
    assert json.dumps is dumps


def test_site_packages_module_is_refused_by_default(workspace):
    import pluggy

    site_dirs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    assert any(pluggy.__file__.startswith(d) for d in site_dirs), (
        f"test premise: pluggy should be installed in site-packages, found {pluggy.__file__}"
    )
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload("pluggy")
    assert info.value.module == "pluggy"


# -- Report, ReloadError, logging ---------------------------------------------

def test_report_attributes(workspace):
    m = workspace.load("a", """
        KEEP = []

        def changed():
            return 1

        def same():
            return 1

        def gone():
            return 1
    """)
    workspace.edit("a", """
        KEEP = []

        def changed():
            return 2

        def same():
            return 1

        def new():
            return 1
    """)
    report = hotreload.reload(m)
    name = m.__name__
    assert isinstance(report, hotreload.Report)
    assert report.modules == [name]
    assert report.updated == [f"{name}.changed"]
    assert report.added == [f"{name}.new"]
    assert report.removed == [f"{name}.gone"]
    assert report.replaced == []
    for attr in ("modules", "updated", "added", "removed", "kept", "replaced"):
        value = getattr(report, attr)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), attr
    assert isinstance(report.seconds, float) and report.seconds >= 0.0


def test_report_str_is_a_short_summary_naming_the_module(workspace):
    m = workspace.load("a", """
        def f():
            return 1
    """)
    workspace.edit("a", """
        def f():
            return 2
    """)
    text = str(hotreload.reload(m))
    assert m.__name__ in text
    assert 0 < len(text.splitlines()) <= 5, f"not a short summary:\n{text}"


def test_reload_logs_at_info_naming_the_module(workspace, caplog):
    m = workspace.load("a", """
        def f():
            return 1
    """)
    workspace.edit("a", """
        def f():
            return 2
    """)
    caplog.set_level(logging.INFO, logger="hotreload")
    hotreload.reload(m)
    records = [
        r for r in caplog.records
        if (r.name == "hotreload" or r.name.startswith("hotreload."))
        and r.levelno == logging.INFO
    ]
    assert any(m.__name__ in r.getMessage() for r in records), (
        f"no INFO record of logger 'hotreload' names {m.__name__}: "
        f"{[r.getMessage() for r in caplog.records]}"
    )


def test_a_refusal_raised_to_the_caller_is_not_logged(workspace, caplog):
    """ReloadError goes to whoever called reload(), reload_changed() or
    hotfix(): the caller decides what to tell, and a program that handles
    it sees no second report in its logs."""
    m = workspace.load("a", """
        def f():
            return 1
    """)
    workspace.edit("a", """
        def f(:
            return 2
    """)
    caplog.set_level(logging.DEBUG, logger="hotreload")
    for call in (lambda: hotreload.reload(m), hotreload.reload_changed,
                 lambda: hotreload.hotfix("raise ValueError('no')\n")):
        with pytest.raises(hotreload.ReloadError):
            call()
    assert [r for r in caplog.records if r.name.startswith("hotreload")] == []
    assert m.f() == 1


@pytest.mark.parametrize("raised", ["KeyboardInterrupt()", "SystemExit(3)"])
def test_keyboard_interrupt_and_exit_in_module_body_propagate_and_change_nothing(workspace, raised):
    """Ctrl-C (or sys.exit) while the new code runs is the user's to handle:
    it is not turned into ReloadError, and nothing was changed."""
    m = workspace.load("a", """
        def f():
            return 1
    """)
    f = m.f
    workspace.edit("a", f"""
        def f():
            return 2
        raise {raised}
    """)
    expected = KeyboardInterrupt if raised.startswith("Keyboard") else SystemExit
    with pytest.raises(expected):
        hotreload.reload(m)
    assert m.f is f and f() == 1
    assert not hotreload.reloading()


def test_reloading_is_true_only_while_a_reload_runs(workspace):
    m = workspace.load("a", """
        import hotreload
        SEEN = []
    """)
    workspace.edit("a", """
        import hotreload
        SEEN = [hotreload.reloading()]
    """)
    assert not hotreload.reloading()
    hotreload.reload(m)
    assert m.SEEN == [True]
    assert not hotreload.reloading()


def test_a_file_emptied_mid_save_is_refused_and_changes_nothing(workspace):
    """An empty file where there was code is most likely a save caught
    between truncating and writing: applying it would remove every name."""
    m = workspace.load("a", """
        def f():
            return 1
    """)
    with open(m.__file__, "w"):
        pass
    with pytest.raises(hotreload.ReloadError, match="empty"):
        hotreload.reload(m)
    assert m.f() == 1


def test_reload_inside_a_hotfix_script_is_refused(workspace):
    m = workspace.load("a", "X = 1\n")
    workspace.edit("a", "X = 2\n")
    with pytest.raises(hotreload.ReloadError):
        hotreload.hotfix(f"import hotreload, {m.__name__}\nhotreload.reload({m.__name__})\n")
    assert m.X == 1


def test_hotfix_source_with_a_lone_surrogate_is_refused_cleanly():
    with pytest.raises((hotreload.ReloadError, UnicodeEncodeError)):
        hotreload.hotfix('x = "\udcff"\n')
