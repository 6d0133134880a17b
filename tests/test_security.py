"""The trust model (README, "Trust model"): hotreload runs code only from the
folders the user allows.

- A module's source is read through its real path, and refused when its
  symbolic links lead out of the folders that allow it or into a denied one,
  unless configure(follow_symlinks=True).
- A hotfix script file is read only from the allow list's folders when there
  is one (else from any folder not denied), under the same link rule; a
  script given as text is trusted as its caller is.
- Files that cannot be read as regular files (a FIFO, a folder) are refused
  without blocking, and reload_changed() skips them.
- A module source or hotfix file that users other than the process's own
  and root can change (the file or a folder above it belongs to another
  user, or its group or everyone may write to it; sticky folders excepted)
  is refused, unless configure(shared_files=True).  The tests run as root
  and make such files with chown and chmod under tmp_path, whose folders
  up to the root no other user can write (conftest sees to it).
"""
import os
import pwd
import sys
import textwrap

import pytest

import hotreload
from conftest import reload_refused

V1 = """
    def f():
        return 1
"""
V2 = V1.replace("return 1", "return 2")


@pytest.fixture
def policy():
    """configure() for this test; the settings in force before come back after."""
    saved = hotreload.configure()
    yield hotreload.configure
    hotreload.configure(deny=saved["deny"], allow=saved["allow"],
                        follow_symlinks=saved["follow_symlinks"],
                        shared_files=saved["shared_files"])
    assert hotreload.configure() == saved


def refused(module):
    error = reload_refused(module)
    assert error.module == module.__name__ and module.__name__ in str(error)
    return error


def linked_module(workspace, short, target):
    """Module `short` of the workspace as a symbolic link to the file `target`
    (written with V1), imported through the link."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(V1))
    link = workspace.root / (workspace.name(short) + ".py")
    link.symlink_to(target)
    return workspace.load(short)


# -- modules ---------------------------------------------------------------------

def test_link_into_a_denied_folder_is_refused_unless_followed(workspace, policy, tmp_path):
    denied = tmp_path / "denied"
    policy(deny=list(policy()["deny"]) + [denied])
    m = linked_module(workspace, "a", denied / "real_a.py")
    assert m.__file__ == str(workspace.path("a"))
    before = workspace.snapshot(m)
    (denied / "real_a.py").write_text(textwrap.dedent(V2))
    error = refused(m)
    assert "symbolic link" in error.reason and str(denied / "real_a.py") in error.reason
    assert "follow_symlinks" in error.reason
    assert before.diff(workspace.snapshot(m)) == []
    assert m.f() == 1
    policy(follow_symlinks=True)
    hotreload.reload(m)
    assert m.f() == 2


def test_link_out_of_an_allowed_folder_is_refused_unless_followed(workspace, policy, tmp_path):
    policy(allow=[workspace.root])
    m = linked_module(workspace, "a", tmp_path / "elsewhere" / "real_a.py")
    (tmp_path / "elsewhere" / "real_a.py").write_text(textwrap.dedent(V2))
    error = refused(m)
    assert "symbolic link" in error.reason
    assert m.f() == 1
    policy(follow_symlinks=True)
    hotreload.reload(m)
    assert m.f() == 2


def test_link_that_stays_in_the_allowed_folders_is_followed(workspace, policy):
    policy(allow=[workspace.root])
    m = linked_module(workspace, "a", workspace.root / "implementation" / "real_a.py")
    (workspace.root / "implementation" / "real_a.py").write_text(textwrap.dedent(V2))
    hotreload.reload(m)
    assert m.f() == 2


def test_link_between_two_folders_neither_listed_is_followed(workspace, tmp_path):
    """By default (no allow list) every folder but the denied ones is trusted
    alike, so a link from one to another changes nothing."""
    m = linked_module(workspace, "a", tmp_path / "elsewhere" / "real_a.py")
    (tmp_path / "elsewhere" / "real_a.py").write_text(textwrap.dedent(V2))
    hotreload.reload(m)
    assert m.f() == 2


def test_module_imported_through_a_linked_folder(workspace, policy, tmp_path, monkeypatch):
    """An allowed folder reached through a link: its real path is allowed
    too, so modules imported through either are reloaded."""
    link = tmp_path / "linked_modules"
    link.symlink_to(workspace.root, target_is_directory=True)
    monkeypatch.syspath_prepend(str(link))
    policy(deny=list(policy()["deny"]) + [tmp_path], allow=[link])
    workspace.write("a", V1)
    m = workspace.load("a")
    assert m.__file__.startswith(str(link))
    workspace.edit("a", V2)
    hotreload.reload(m)
    assert m.f() == 2


def test_configure_keeps_what_it_is_not_given(policy, tmp_path):
    before = policy()
    after = policy(follow_symlinks=True)
    assert after["follow_symlinks"] is True
    assert after["deny"] == before["deny"] and after["allow"] == before["allow"]
    after = policy(allow=[tmp_path])
    assert after["follow_symlinks"] is True
    assert str(tmp_path) + "/" in after["allow"]


# -- files other users can write ------------------------------------------------

OTHER_UID = 12345  # no user of the test machine


def owner_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def refused_for_writers(module, culprit, owner, mode):
    """The reload of `module` is refused because others can write `culprit`,
    with owner and mode named; nothing changed."""
    error = refused(module)
    assert str(culprit) in error.reason and "writable by others" in error.reason
    assert f"(owner {owner_name(owner)}, mode {mode:04o})" in error.reason
    assert "shared_files=True" in error.reason
    return error


@pytest.mark.parametrize("mode", [0o666, 0o646, 0o664, 0o620])
def test_source_file_writable_by_others_is_refused(workspace, policy, mode):
    m = workspace.load("a", V1)
    path = workspace.edit("a", V2)
    os.chmod(path, mode)
    before = workspace.snapshot(m)
    error = refused_for_writers(m, path, 0, mode)
    assert str(error) == (f"cannot reload {m.__name__}: {path} is writable by others (owner "
                          f"root, mode {mode:04o}); hotreload.configure(shared_files=True) "
                          "accepts such files")
    assert before.diff(workspace.snapshot(m)) == [] and m.f() == 1
    assert policy(shared_files=True)["shared_files"] is True
    hotreload.reload(m)
    assert m.f() == 2


def test_source_file_of_another_user_is_refused(workspace):
    m = workspace.load("a", V1)
    path = workspace.edit("a", V2)
    os.chown(path, OTHER_UID, -1)
    refused_for_writers(m, path, OTHER_UID, 0o644)
    assert m.f() == 1
    os.chown(path, os.geteuid(), -1)
    hotreload.reload(m)
    assert m.f() == 2


@pytest.mark.parametrize("how", ["world", "group", "owner"])
def test_source_in_a_folder_others_can_write_is_refused(workspace, policy, how):
    """Any folder from the file up to the root counts: here the workspace's
    parent, two levels above the module of a package."""
    workspace.write("pkg.a", V1)
    m = workspace.load("pkg.a")
    workspace.edit("pkg.a", V2)
    folder = workspace.root.parent
    mode = saved = os.stat(folder).st_mode & 0o7777
    if how == "owner":
        os.chown(folder, OTHER_UID, -1)
        owner = OTHER_UID
    else:
        mode |= 0o002 if how == "world" else 0o020
        os.chmod(folder, mode)
        owner = 0
    try:
        error = refused_for_writers(m, folder, owner, mode)
        assert f"{workspace.path('pkg.a')} is in {folder}, a folder writable" in error.reason
        assert m.f() == 1
        policy(shared_files=True)
        hotreload.reload(m)
        assert m.f() == 2
    finally:
        os.chown(folder, os.geteuid(), -1)
        os.chmod(folder, saved)


def test_own_file_in_a_sticky_folder_is_accepted(workspace, tmp_path, monkeypatch):
    """As in /tmp: others may add files to the folder but not replace ours."""
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    (sticky / "sticky_mod.py").write_text(textwrap.dedent(V1))
    monkeypatch.syspath_prepend(str(sticky))
    import sticky_mod
    try:
        (sticky / "sticky_mod.py").write_text(textwrap.dedent(V2))
        hotreload.reload(sticky_mod)
        assert sticky_mod.f() == 2
        # Not a file of another user, though, nor one others can write.
        os.chmod(sticky / "sticky_mod.py", 0o666)
        refused_for_writers(sticky_mod, sticky / "sticky_mod.py", 0, 0o666)
        os.chmod(sticky / "sticky_mod.py", 0o644)
        os.chown(sticky / "sticky_mod.py", OTHER_UID, -1)
        refused_for_writers(sticky_mod, sticky / "sticky_mod.py", OTHER_UID, 0o644)
        # A sticky folder belonging to another user is not trusted either.
        os.chown(sticky / "sticky_mod.py", os.geteuid(), -1)
        os.chown(sticky, OTHER_UID, -1)
        refused_for_writers(sticky_mod, sticky, OTHER_UID, 0o1777)
    finally:
        del sys.modules["sticky_mod"]


def test_the_real_path_is_checked_not_the_link(workspace, tmp_path):
    """A link in a private folder to a file in a shared one reads the shared one."""
    shared = tmp_path / "shared"
    m = linked_module(workspace, "a", shared / "real_a.py")
    (shared / "real_a.py").write_text(textwrap.dedent(V2))
    os.chmod(shared, 0o777)
    refused_for_writers(m, shared, 0, 0o777)
    assert m.f() == 1
    os.chmod(shared, 0o755)
    hotreload.reload(m)
    assert m.f() == 2



def test_reload_changed_is_checked_too(workspace):
    m = workspace.load("a", V1)
    path = workspace.edit("a", V2)
    os.chmod(path, 0o666)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload_changed()
    assert info.value.module == m.__name__ and "writable by others" in info.value.reason
    assert m.f() == 1


@pytest.mark.no_install
def test_module_imported_before_install_is_checked_too(workspace):
    """A module with no recorded source (the Reloader's adopted modules)."""
    m = workspace.load("a", V1)
    path = workspace.edit("a", V2)
    os.chmod(path, 0o666)
    refused_for_writers(m, path, 0, 0o666)
    assert m.f() == 1


def test_check_writers_of_a_folder(tmp_path, policy):
    hotreload._hotreload._check_writers(tmp_path)
    saved = os.stat(tmp_path).st_mode & 0o7777
    os.chmod(tmp_path, 0o777)
    try:
        with pytest.raises(hotreload.ReloadError) as info:
            hotreload._hotreload._check_writers(tmp_path)
        assert info.value.object == str(tmp_path)
        assert info.value.reason.startswith(f"{tmp_path} is writable by others (owner root, "
                                            "mode 0777)")
        policy(shared_files=True)
        hotreload._hotreload._check_writers(tmp_path)
    finally:
        os.chmod(tmp_path, saved)


# -- files that are not regular files -------------------------------------------

def test_folder_in_place_of_the_source_file_is_refused(workspace):
    m = workspace.load("a", V1)
    path = workspace.path("a")
    path.unlink()
    path.mkdir()
    error = refused(m)
    assert "cannot read its source file" in error.reason
    assert m.f() == 1


def test_fifo_in_place_of_the_source_file_does_not_block(isolated):
    """Opening a FIFO for reading waits for a writer: a FIFO put in place of
    a module's file must not hang reload() or reload_changed()."""
    out = isolated("""
        import logging
        write("piped", "def f():\\n    return 1\\n")
        import piped
        path = piped.__file__
        os.remove(path)
        os.mkfifo(path)
        try:
            hotreload.reload(piped)
        except hotreload.ReloadError as error:
            print("refused:", error.reason)
        logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
        print("changed:", hotreload.reload_changed().modules)
        print(piped.f())
    """, timeout=60)
    lines = out.splitlines()
    assert lines[0].startswith("refused: cannot read its source file")
    assert "piped: its source file is gone or cannot be read" in out
    assert "changed: []" in lines and lines[-1] == "1"


def test_watcher_does_not_block_on_a_fifo(isolated):
    """The Reloader (what the watcher and IPython apply saves with) reads the
    files it is told changed: a FIFO among them is unreadable, not a hang."""
    out = isolated("""
        write("piped", "def f():\\n    return 1\\n")
        import piped
        path = piped.__file__
        os.remove(path)
        os.mkfifo(path)
        reloader = hotreload.Reloader()
        for event in reloader.apply([path]) + reloader.apply():
            print(event.kind, event.message)
        print(piped.f())
    """, timeout=60)
    assert "unreadable piped: cannot read" in out
    assert out.splitlines()[-1] == "1"


# -- hotfix scripts -----------------------------------------------------------------

HOTFIX = """
import hotreload
import {module}

def f():
    return "hotfix"

hotreload.patch({module}.f, f)
"""


def hotfix_file(workspace, path, module):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HOTFIX.format(module=module.__name__))
    return path


def test_hotfix_file_anywhere_not_denied_without_an_allow_list(workspace, tmp_path):
    m = workspace.load("a", V1)
    hotreload.hotfix(hotfix_file(workspace, tmp_path / "fixes" / "fix.py", m))
    assert m.f() == "hotfix"


def test_hotfix_file_in_a_denied_folder_is_refused(workspace, policy, tmp_path):
    m = workspace.load("a", V1)
    policy(deny=list(policy()["deny"]) + [tmp_path / "fixes"])
    path = hotfix_file(workspace, tmp_path / "fixes" / "fix.py", m)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.hotfix(path)
    assert info.value.object == str(path) and "outside" in info.value.reason
    assert m.f() == 1


def test_hotfix_file_outside_the_allow_list_is_refused(workspace, policy, tmp_path):
    m = workspace.load("a", V1)
    policy(allow=[tmp_path / "fixes"])
    outside = hotfix_file(workspace, tmp_path / "downloads" / "fix.py", m)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.hotfix(outside)
    assert str(outside) in str(info.value) and "outside" in info.value.reason
    assert m.f() == 1
    hotreload.hotfix(hotfix_file(workspace, tmp_path / "fixes" / "fix.py", m))
    assert m.f() == "hotfix"


def test_hotfix_file_given_relative_to_an_allowed_folder(workspace, policy, tmp_path, monkeypatch):
    m = workspace.load("a", V1)
    policy(allow=[tmp_path / "fixes"])
    hotfix_file(workspace, tmp_path / "fixes" / "fix.py", m)
    monkeypatch.chdir(tmp_path / "fixes")
    hotreload.hotfix("fix.py")
    assert m.f() == "hotfix"


def test_hotfix_link_out_of_the_allowed_folder_is_refused_unless_followed(
        workspace, policy, tmp_path):
    m = workspace.load("a", V1)
    policy(allow=[tmp_path / "fixes"])
    real = hotfix_file(workspace, tmp_path / "downloads" / "fix.py", m)
    link = tmp_path / "fixes" / "fix.py"
    link.parent.mkdir()
    link.symlink_to(real)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.hotfix(link)
    assert "symbolic link" in info.value.reason and str(real) in info.value.reason
    assert m.f() == 1
    policy(follow_symlinks=True)
    hotreload.hotfix(link)
    assert m.f() == "hotfix"


def test_hotfix_text_is_trusted_as_its_caller(workspace, policy, tmp_path):
    m = workspace.load("a", V1)
    policy(allow=[tmp_path / "fixes"])
    hotreload.hotfix(HOTFIX.format(module=m.__name__))
    assert m.f() == "hotfix"


def test_hotfix_file_others_can_write_is_refused(workspace, policy, tmp_path):
    m = workspace.load("a", V1)
    path = hotfix_file(workspace, tmp_path / "fixes" / "fix.py", m)
    os.chmod(path, 0o646)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.hotfix(path)
    assert info.value.object == str(path)
    assert str(info.value) == (f"cannot reload ({path}): {path} is writable by others (owner "
                               "root, mode 0646); hotreload.configure(shared_files=True) "
                               "accepts such files")
    assert m.f() == 1
    os.chmod(path, 0o644)
    os.chmod(path.parent, 0o777)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.hotfix(path)
    assert f"{path} is in {path.parent}, a folder writable by others" in info.value.reason
    assert m.f() == 1
    policy(shared_files=True)
    hotreload.hotfix(path)
    assert m.f() == "hotfix"


def test_reloader_and_watcher_refuse_a_hotfix_folder_others_can_write(workspace, tmp_path):
    from hotreload.changes import Reloader
    from hotreload.watch import Watcher

    m = workspace.load("a", V1)
    fixes = tmp_path / "fixes"
    path = hotfix_file(workspace, fixes / "fix.py", m)
    os.chmod(fixes, 0o777)
    with pytest.raises(hotreload.ReloadError) as info:
        Watcher([workspace.root], hotfix_dir=fixes, poll=1)
    assert f"{fixes} is writable by others" in info.value.reason
    # A script dropped there later is not run either.
    event, = Reloader().hotfix(str(path))
    assert event.kind == "hotfix failed" and "a folder writable by others" in event.message
    assert m.f() == 1


# -- the Python layer asks the engine's policy ------------------------------------

@pytest.mark.no_install
def test_reloader_does_not_watch_a_module_linked_into_a_denied_folder(workspace, policy,
                                                                       tmp_path):
    """A module imported before install() is watched by the Reloader only when
    the engine's policy would reload it, links included: the Reloader asks
    the engine (source_allowed) rather than judging folders by their names."""
    from hotreload.changes import Reloader

    denied = tmp_path / "denied"
    policy(deny=list(policy()["deny"]) + [denied])
    linked = linked_module(workspace, "linked", denied / "real.py")
    plain = workspace.load("plain", V1)
    hotreload.install()
    assert hotreload._hotreload.source_allowed(str(workspace.path("plain"))) is True
    assert hotreload._hotreload.source_allowed(str(workspace.path("linked"))) is False
    reloader = Reloader()
    (denied / "real.py").write_text(textwrap.dedent(V2))
    workspace.edit("plain", V2)
    events = reloader.apply()
    assert [event.kind for event in events] == ["reloaded"]
    assert events[0].report.modules == [plain.__name__]
    assert linked.f() == 1 and plain.f() == 2
    policy(follow_symlinks=True)
    assert hotreload._hotreload.source_allowed(str(workspace.path("linked"))) is True
