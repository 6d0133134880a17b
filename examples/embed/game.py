"""The game that the C host (host.c) runs: the host calls tick(state) once per frame.

Edit this file while the host runs, then type "reload" on the host's console
(or just save: the host notices the file changed).  The next frame runs the
new code on the same players: try `self.hp += 3` in Player.update, or another
format in tick().
"""

players = {}  # name -> Player: live data, kept by every reload (this line does not change)


class Player:
    def __init__(self, name, hp):
        self.name = name
        self.hp = hp

    def update(self, state):
        self.hp -= 1  # poisoned


def spawn(name, hp=100):
    players[name] = Player(name, hp)


# Runs once, at import: a reload does not run unchanged statements again.
spawn("ann")
spawn("bob", 80)


def tick(state):
    """One frame.  `state` is the host's dict ({"frame": n}); returns the line it prints."""
    for player in players.values():
        player.update(state)
    return " ".join(f"{p.name}={p.hp}" for p in players.values())
