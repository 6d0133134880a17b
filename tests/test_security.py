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
"""
import os
import textwrap

import pytest

import hotreload

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
                        follow_symlinks=saved["follow_symlinks"])
    assert hotreload.configure() == saved


def refused(module):
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(module)
    error = info.value
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
