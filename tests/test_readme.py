"""The README's example runs as written.

The example's "... edit game.py ..." comment is the one step a reader does by
hand; the test performs that edit (fix Player.attack, add a method, change a
constant) and runs every other line of the block verbatim."""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

GAME_BEFORE = textwrap.dedent("""\
    DAMAGE = 10

    class Player:
        def __init__(self, name):
            self.name = name
            self.hp = 100

        def attack(self):
            return DAMAGE - 1  # the bug: off by one
""")

GAME_AFTER = textwrap.dedent("""\
    DAMAGE = 12

    class Player:
        def __init__(self, name):
            self.name = name
            self.hp = 100

        def attack(self):
            return DAMAGE

        def heal(self):
            self.hp = 100
""")


def usage_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Use", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_as_written(tmp_path):
    example = usage_example()
    edit_line = next(line for line in example.splitlines() if "edit game.py" in line)
    edit = f"open({str(tmp_path / 'game.py')!r}, 'w').write({GAME_AFTER!r})"
    script = example.replace(edit_line, edit)
    script += textwrap.dedent("""
        assert attack() == 12, attack()
        assert game.Player("bob").attack() == 12
        assert player.hp == 100 and hasattr(player, "heal")
        print("same player:", type(player) is game.Player)
    """)
    (tmp_path / "game.py").write_text(GAME_BEFORE)
    proc = subprocess.run(
        [sys.executable, "-B", "-c", script], cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # print(report): "game: 2 updated, 1 added, 1 replaced in 1.3 ms" or similar
    assert re.fullmatch(r"game: .*updated.* in \d+\.\d ms", lines[0]), lines
    assert "added" in lines[0]
    assert lines[-1] == "same player: True"
