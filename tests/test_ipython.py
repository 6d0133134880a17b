"""The IPython extension, in IPython's own InteractiveShell.

`%load_ext hotreload` reloads changed modules before each cell; `%hotreload`
shows the status and turns it off, on, or reloads now.  A refused reload is
printed and the cell runs anyway.
"""
import pytest

import hotreload

pytest.importorskip("IPython")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from traitlets.config import Config  # noqa: E402

V1 = """
    class Player:
        def __init__(self):
            self.hp = 100

        def hit(self):
            return "hit v1"
"""
V2 = V1.replace('"hit v1"', '"hit v2"')
V3 = V1.replace('"hit v1"', '"hit v3"')


@pytest.fixture
def shell(workspace):
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    try:
        yield shell
    finally:
        if "hotreload" in shell.extension_manager.loaded:
            shell.run_line_magic("unload_ext", "hotreload")
        shell.history_manager.end_session()
        InteractiveShell.clear_instance()


def run(shell, code):
    """Runs a cell; returns its result (the cell must not raise)."""
    result = shell.run_cell(code)
    assert result.error_before_exec is None and result.error_in_exec is None, result
    return result.result


def test_load_ext_installs_and_reloads_before_each_cell(shell, workspace):
    hotreload.uninstall()
    run(shell, "%load_ext hotreload")
    assert hotreload.installed()
    name = workspace.name("game")
    workspace.write("game", V1)
    run(shell, f"import {name} as game\nplayer = game.Player()\nplayer.hp = 42")
    workspace.edit("game", V2)
    assert run(shell, "player.hit(), player.hp") == ("hit v2", 42)
    assert shell.user_ns["player"].__class__ is shell.user_ns["game"].Player


def test_modules_imported_before_the_extension_are_reloaded(shell, workspace):
    hotreload.uninstall()
    workspace.write("game", V1)
    run(shell, f"import {workspace.name('game')} as game\nplayer = game.Player()")
    run(shell, "%load_ext hotreload")
    workspace.edit("game", V2)
    assert run(shell, "player.hit()") == "hit v2"
    workspace.edit("game", V3)
    assert run(shell, "player.hit()") == "hit v3"


def test_hotreload_off_stops_and_on_resumes(shell, workspace):
    run(shell, "%load_ext hotreload")
    workspace.write("game", V1)
    run(shell, f"import {workspace.name('game')} as game\nplayer = game.Player()")
    run(shell, "%hotreload off")
    workspace.edit("game", V2)
    assert run(shell, "player.hit()") == "hit v1"
    run(shell, "%hotreload on")
    assert run(shell, "player.hit()") == "hit v2"


def test_hotreload_now_reloads_and_says_so(shell, workspace, capsys):
    run(shell, "%load_ext hotreload")
    workspace.write("game", V1)
    run(shell, f"import {workspace.name('game')} as game\nplayer = game.Player()")
    run(shell, "%hotreload off")
    workspace.edit("game", V2)
    capsys.readouterr()
    run(shell, "%hotreload now")
    out = capsys.readouterr().out
    assert f"[hotreload] {workspace.name('game')}: 2 updated" in out
    assert shell.user_ns["player"].hit() == "hit v2"
    run(shell, "%hotreload now")
    assert "nothing to reload" in capsys.readouterr().out


def test_a_refused_reload_is_printed_once_and_the_cell_still_runs(shell, workspace, capsys):
    run(shell, "%load_ext hotreload")
    workspace.write("game", V1)
    run(shell, f"import {workspace.name('game')} as game\nplayer = game.Player()")
    workspace.edit("game", V1.replace("def hit(self):", "def hit(self)"))
    capsys.readouterr()
    assert run(shell, "player.hit()") == "hit v1"
    err = capsys.readouterr().err
    assert err.startswith(f"[hotreload] cannot reload {workspace.name('game')}")
    assert "def hit(self)" in err
    assert run(shell, "player.hit()") == "hit v1"
    assert capsys.readouterr().err == ""
    run(shell, "%hotreload")
    assert "waiting for a good save" in capsys.readouterr().out
    workspace.edit("game", V2)
    assert run(shell, "player.hit()") == "hit v2"


def test_hotreload_status(shell, workspace, capsys):
    run(shell, "%load_ext hotreload")
    workspace.write("game", V1)
    run(shell, f"import {workspace.name('game')} as game")
    capsys.readouterr()
    run(shell, "%hotreload status")
    out = capsys.readouterr().out
    assert out.startswith("[hotreload] on; import hook installed;")
    assert "modules recorded" in out and "last: no reload yet" in out
    workspace.edit("game", V2)
    run(shell, "1")
    run(shell, "%hotreload")
    assert f"last: {workspace.name('game')}: 2 updated" in capsys.readouterr().out


def test_unload_ext_stops_reloading(shell, workspace):
    run(shell, "%load_ext hotreload")
    workspace.write("game", V1)
    run(shell, f"import {workspace.name('game')} as game\nplayer = game.Player()")
    run(shell, "%unload_ext hotreload")
    workspace.edit("game", V2)
    assert run(shell, "player.hit()") == "hit v1"
    assert "hotreload" not in shell.magics_manager.magics["line"]


def test_the_extension_entry_points_are_exported():
    from hotreload import ipython

    assert hotreload.load_ipython_extension is ipython.load_ipython_extension
    assert hotreload.unload_ipython_extension is ipython.unload_ipython_extension
