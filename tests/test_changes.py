"""hotreload.Reloader: apply what changed on disk, tell each outcome once.

A save that does not compile is told once and changes nothing; the same
bytes seen again say nothing; the next good save applies.  A deleted file is
told once until it comes back.  Errors point at the user's code.
"""
import os
import sys

import pytest

import hotreload
from hotreload.changes import Event, Reloader

V1 = """
    def value():
        return 1

    class Player:
        def hit(self):
            return "hit v1"
"""
V2 = V1.replace("return 1", "return 2")
BROKEN = V1.replace("def value():", "def value(:")
BROKEN_OTHER = V1.replace("def value():", "def value()")


def kinds(events):
    return [event.kind for event in events]


def test_apply_reloads_an_edited_module_and_tells_it(workspace):
    m = workspace.load("a", V1)
    value = m.value
    reloader = Reloader()
    workspace.edit("a", V2)
    events = reloader.apply()
    assert kinds(events) == ["reloaded"]
    assert events[0].report.modules == [m.__name__]
    assert events[0].message == str(events[0].report)
    assert value() == 2
    assert reloader.apply() == []


def test_a_touch_is_not_a_change(workspace):
    workspace.load("a", V1)
    reloader = Reloader()
    workspace.touch("a")
    assert reloader.apply() == []
    assert reloader.apply([str(workspace.path("a"))]) == []


def test_a_broken_save_is_told_once_and_changes_nothing(workspace):
    m = workspace.load("a", V1)
    snapshot = workspace.snapshot(m)
    reloader = Reloader()
    workspace.edit("a", BROKEN)
    events = reloader.apply()
    assert kinds(events) == ["failed"]
    assert isinstance(events[0].error, hotreload.ReloadError)
    assert events[0].problem
    # The same bytes again (saved twice, touched, another look): nothing.
    assert reloader.apply() == []
    workspace.edit("a", BROKEN)
    workspace.touch("a")
    assert reloader.apply() == []
    assert reloader.apply([str(workspace.path("a"))]) == []
    assert workspace.snapshot(m).diff(snapshot) == []
    assert m.value() == 1
    assert reloader.standing_errors() == events


def test_a_different_broken_save_is_told_again(workspace):
    workspace.load("a", V1)
    reloader = Reloader()
    workspace.edit("a", BROKEN)
    assert kinds(reloader.apply()) == ["failed"]
    workspace.edit("a", BROKEN_OTHER)
    assert kinds(reloader.apply()) == ["failed"]


def test_the_next_good_save_applies_and_clears_the_error(workspace):
    m = workspace.load("a", V1)
    reloader = Reloader()
    workspace.edit("a", BROKEN)
    reloader.apply()
    workspace.edit("a", V2)
    assert kinds(reloader.apply()) == ["reloaded"]
    assert m.value() == 2
    assert reloader.standing_errors() == []
    # Broken again with bytes told before a good save: told again.
    workspace.edit("a", BROKEN)
    assert kinds(reloader.apply()) == ["failed"]


def test_a_deleted_file_is_told_once_until_it_comes_back(workspace):
    m = workspace.load("a", V1)
    reloader = Reloader()
    os.unlink(workspace.path("a"))
    events = reloader.apply()
    assert kinds(events) == ["gone"]
    assert m.__name__ in events[0].message
    assert reloader.apply() == []
    assert m.value() == 1
    workspace.write("a", V2)
    assert kinds(reloader.apply()) == ["reloaded"]
    os.unlink(workspace.path("a"))
    assert kinds(reloader.apply([str(workspace.path("a"))])) == ["gone"]


def test_apply_with_paths_reloads_only_the_modules_of_those_files(workspace):
    a = workspace.load("a", V1)
    b = workspace.load("b", V1)
    reloader = Reloader()
    workspace.edit("a", V2)
    workspace.edit("b", V2)
    events = reloader.apply([str(workspace.path("b"))])
    assert events[0].report.modules == [b.__name__]
    assert (a.value(), b.value()) == (1, 2)


def test_apply_with_paths_compares_bytes_whatever_the_mtime_says(workspace):
    # An edit that keeps the size within one tick of the file clock.
    m = workspace.load("a", V1)
    path = workspace.path("a")
    stat = os.stat(path)
    path.write_text(workspace.source(V2), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size
    events = Reloader().apply([str(path)])
    assert kinds(events) == ["reloaded"]
    assert m.value() == 2


def test_apply_reloads_changed_modules_in_one_transaction(workspace):
    a = workspace.load("a", V1)
    b = workspace.load("b", V1)
    reloader = Reloader()
    workspace.edit("a", V2)
    workspace.edit("b", BROKEN)
    paths = [str(workspace.path("a")), str(workspace.path("b"))]
    assert kinds(reloader.apply(paths)) == ["failed"]
    assert a.value() == 1
    workspace.edit("b", V2)
    events = reloader.apply(paths)
    assert sorted(events[0].report.modules) == sorted([a.__name__, b.__name__])
    assert (a.value(), b.value()) == (2, 2)


def test_a_save_refused_with_a_broken_one_applies_when_that_one_is_fixed(workspace):
    a = workspace.load("a", V1)
    b = workspace.load("b", V1)
    reloader = Reloader()
    workspace.edit("a", V2)
    workspace.edit("b", BROKEN)
    reloader.apply([str(workspace.path("a")), str(workspace.path("b"))])
    workspace.edit("b", V2)
    events = reloader.apply([str(workspace.path("b"))])  # only b is seen to change
    assert sorted(events[0].report.modules) == sorted([a.__name__, b.__name__])
    assert (a.value(), b.value()) == (2, 2)


@pytest.mark.no_install
def test_modules_imported_before_install_are_reloaded_too(workspace):
    m = workspace.load("a", V1)
    player = m.Player()
    hotreload.install()
    reloader = Reloader()
    workspace.edit("a", V2.replace('"hit v1"', '"hit v2"'))
    events = reloader.apply()
    assert kinds(events) == ["reloaded"]
    assert player.hit() == "hit v2" and m.value() == 2
    # The engine records the module from then on: the next edit is a
    # statement-by-statement reload like any other.
    workspace.edit("a", V1)
    assert kinds(reloader.apply([str(workspace.path("a"))])) == ["reloaded"]
    assert m.value() == 1


@pytest.mark.no_install
@pytest.mark.parametrize("broken", ["recorded", "adopted"])
def test_apply_reloads_adopted_and_recorded_modules_in_one_transaction(workspace, broken):
    """What the IPython extension runs before a cell: a module imported
    before install() (no recorded source) and a recorded one are one batch,
    so a broken file in either leaves the other as it was."""
    adopted = workspace.load("adopted", V1)
    hotreload.install()
    recorded = workspace.load("recorded", V1)
    assert recorded.__name__ in hotreload.recorded()
    assert adopted.__name__ not in hotreload.recorded()
    reloader = Reloader()
    before = workspace.snapshot(adopted, recorded)
    workspace.edit("adopted", BROKEN if broken == "adopted" else V2)
    workspace.edit("recorded", BROKEN if broken == "recorded" else V2)
    event, = reloader.apply()
    assert event.kind == "failed" and isinstance(event.error, hotreload.ReloadError)
    assert event.error.module == (adopted if broken == "adopted" else recorded).__name__
    assert before.diff(workspace.snapshot(adopted, recorded)) == []
    assert (adopted.value(), recorded.value()) == (1, 1)
    workspace.edit(broken, V2)
    event, = reloader.apply()
    assert sorted(event.report.modules) == sorted([adopted.__name__, recorded.__name__])
    assert (adopted.value(), recorded.value()) == (2, 2)


def test_error_events_show_the_users_code_not_hotreloads(workspace):
    workspace.load("a", V1)
    reloader = Reloader()
    workspace.edit("a", V1 + "\n    LIMIT = 1 / 0\n")
    event, = reloader.apply()
    text = event.format()
    first, *details = text.splitlines()
    assert first == str(event.error)
    assert "ZeroDivisionError" in first
    assert f'File "{workspace.path("a")}", line' in details[0]
    assert details[1].strip() == "LIMIT = 1 / 0"
    package = os.path.dirname(hotreload.__file__)
    assert package not in text


def test_syntax_error_events_show_the_line_and_a_caret(workspace):
    workspace.load("a", V1)
    reloader = Reloader()
    workspace.edit("a", BROKEN)
    event, = reloader.apply()
    details = event.format().splitlines()[1:]
    assert str(workspace.path("a")) in details[0]
    assert details[1].strip() == "def value(:"
    assert details[2].strip() == "^"


def test_verbose_format_lists_the_names(workspace):
    m = workspace.load("a", V1)
    reloader = Reloader()
    workspace.edit("a", V2)
    event, = reloader.apply()
    assert event.format() == event.message
    assert f"  updated: {m.__name__}.value" in event.format(verbose=True).splitlines()


HOTFIX = """
import hotreload
import {module} as game

def value():
    return {result}

hotreload.patch(game.value, value)
"""


def test_hotfix_runs_once_per_content(workspace, tmp_path):
    m = workspace.load("a", V1)
    reloader = Reloader()
    script = tmp_path / "fix.py"
    script.write_text(HOTFIX.format(module=m.__name__, result=10))
    events = reloader.hotfix(str(script))
    assert kinds(events) == ["hotfix"]
    assert events[0].report.updated == [f"{m.__name__}.value"]
    assert m.value() == 10
    assert reloader.hotfix(str(script)) == []
    script.write_text(HOTFIX.format(module=m.__name__, result=20))
    assert kinds(reloader.hotfix(str(script))) == ["hotfix"]
    assert m.value() == 20


def test_a_failing_hotfix_is_told_once_and_applies_nothing(workspace, tmp_path):
    m = workspace.load("a", V1)
    reloader = Reloader()
    script = tmp_path / "fix.py"
    script.write_text(HOTFIX.format(module=m.__name__, result=10) + "raise RuntimeError('no')\n")
    events = reloader.hotfix(str(script))
    assert kinds(events) == ["hotfix failed"]
    assert "RuntimeError" in events[0].message
    assert m.value() == 1
    assert reloader.hotfix(str(script)) == []


def test_script_changes_are_told_once_per_content(tmp_path):
    script = tmp_path / "main.py"
    script.write_text("print(1)\n")
    reloader = Reloader()
    reloader.seen(str(script))
    assert reloader.script_changed(str(script)) == []
    script.write_text("print(2)\n")
    events = reloader.script_changed(str(script))
    assert kinds(events) == ["script"] and "__main__" in events[0].message
    assert reloader.script_changed(str(script)) == []


def test_event_problem():
    assert not Event("reloaded", "m: 1 updated").problem
    assert not Event("hotfix", "hotfix x.py applied").problem
    assert all(Event(kind, "").problem for kind in ("failed", "gone", "unreadable", "script"))


def test_reloader_is_exported_lazily():
    assert hotreload.Reloader is Reloader
    assert hotreload.Event is Event
    assert "hotreload.changes" in sys.modules
    with pytest.raises(AttributeError):
        hotreload.NoSuchThing


def test_a_file_named_as_changed_is_read_whatever_its_stat_says(workspace):
    """A copy that keeps mtimes (rsync -t, an archive) can change the bytes
    and not the stat: the files a watcher names are read; a sweep of every
    module trusts the stat, and a touch is not a change."""
    m = workspace.load("a", V1)
    path = workspace.path("a")
    stat = os.stat(path)
    path.write_text(workspace.source(V1.replace("return 1", "return 7")))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size
    reloader = Reloader()
    assert reloader.apply() == [], "same stat: the sweep does not read the file"
    assert m.value() == 1
    changed, checked = hotreload._hotreload.changed([str(path)])
    assert (changed, checked) == ([m.__name__], [m.__name__])
    events = reloader.apply([str(path)])
    assert kinds(events) == ["reloaded"] and m.value() == 7


def test_changed_looks_only_at_imported_modules_of_the_named_files(workspace):
    a = workspace.load("a", V1)
    b = workspace.load("b", V1)
    workspace.edit("a", V2)
    workspace.edit("b", V2)
    missing = []
    assert hotreload._hotreload.changed([str(workspace.path("b"))], missing) == (
        [b.__name__], [b.__name__])
    del sys.modules[a.__name__]

    def ours(result):
        # Other modules of the process may be watched or recorded too.
        return tuple([n for n in names if n.startswith(workspace.prefix)] for names in result)

    assert ours(hotreload._hotreload.changed(None, missing)) == ([b.__name__], [b.__name__])
    os.remove(workspace.path("b"))
    assert ours(hotreload._hotreload.changed(None, missing)) == ([], [b.__name__])
    assert missing == [b.__name__]


@pytest.mark.no_install
def test_the_engine_watches_a_module_imported_before_install_until_it_is_recorded(workspace):
    """The one change detector covers modules without a record: watched from
    the file's bytes when watching began, a touch is not a change, and once a
    reload records the module it is followed as any recorded one."""
    from hotreload import _hotreload

    m = workspace.load("a", V1)
    hotreload.install()
    name, path = m.__name__, str(workspace.path("a"))

    def ours(result):
        changed, checked = result
        return [n for n in changed if n == name], [n for n in checked if n == name]

    assert name not in hotreload.recorded()
    assert _hotreload.watch_unrecorded(name, path) is True
    assert ours(_hotreload.changed()) == ([], [name])
    workspace.touch("a")
    assert ours(_hotreload.changed()) == ([], [name])
    workspace.edit("a", V2)
    assert ours(_hotreload.changed()) == ([name], [name])
    assert _hotreload.changed([path]) == ([name], [name])
    hotreload.reload(m)
    assert m.value() == 2 and name in hotreload.recorded()
    assert _hotreload.watch_unrecorded(name, path) is False
    assert ours(_hotreload.changed()) == ([], [name])


@pytest.mark.no_install
def test_the_engine_does_not_watch_what_the_policy_refuses(workspace):
    from hotreload import _hotreload

    m = workspace.load("a", V1)
    saved = hotreload.configure()
    try:
        hotreload.configure(deny=list(saved["deny"]) + [str(workspace.root)])
        assert _hotreload.watch_unrecorded(m.__name__, str(workspace.path("a"))) is False
    finally:
        hotreload.configure(deny=saved["deny"], allow=saved["allow"])
    assert _hotreload.changed([str(workspace.path("a"))]) == ([], [])
