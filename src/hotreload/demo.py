"""``hotreload demo``: a game server that edits its own code while it runs.

The demo writes a small game server module, ``server_game.py``, in a
temporary folder, imports it (after ``hotreload.install()``) and runs its
tick loop on the main thread, with a `Watcher` on the folder.  Between
ticks it saves new versions of the module, as a developer would:

1. a bug fix in the damage formula,
2. a new method on the player class, used by the loop from then on,
3. a changed constant,
4. a save that does not compile,
5. the same change, fixed.

The watcher sees each save and applies it on the main thread between two
bytecodes; the loop goes on ticking.  The demo checks itself as it goes:
the same player objects keep their hit points and inventories (every tick's
hit points follow from the last ones), each change takes effect on the
existing objects, and the broken save is refused with nothing changed.  It
exits 0 if every step behaved as expected, 1 otherwise.
"""
from __future__ import annotations

import importlib
import os
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import hotreload
from hotreload.changes import Event
from hotreload.watch import Watcher

TICK = 0.15          # seconds between ticks
FRAME = 0.01         # the loop idles in slices this long, as a game loop's frames
TICKS_BETWEEN = 2    # ticks shown between a verified step and the next save
WATCHER_GRACE = 3.0  # seconds to wait for the watcher before reloading by hand

SERVER = '''\
"""server_game: a tiny game server.  hotreload's demo edits this file while it runs."""

GOBLIN_ATTACK = 12


class Player:
    def __init__(self, name, hp, armor, inventory):
        self.name = name
        self.hp = hp
        self.armor = armor
        self.inventory = list(inventory)

    def take_hit(self, attack):
        damage = attack + self.armor  # bug: armor should reduce the damage
        self.hp = max(0, self.hp - damage)
        return damage


PLAYERS = [Player("ann", 200, 4, ["sword"]), Player("bob", 200, 8, ["shield"])]


def tick(number):
    """One tick: the goblin hits every player; loot falls every third tick."""
    report = {"hits": {p.name: p.take_hit(GOBLIN_ATTACK) for p in PLAYERS}}
    if number % 3 == 0:
        for player in PLAYERS:
            player.inventory.append("potion")
        report["loot"] = "potion"
    return report
'''

DRINK_METHOD = '''
    def drink_potion(self):
        """Drinks a potion when hurt: +30 hp."""
        if self.hp < 150 and "potion" in self.inventory:
            self.inventory.remove("potion")
            self.hp += 30
            return True
        return False
'''


@dataclass
class Step:
    """One save of server_game.py and what it must do to the running server."""

    title: str
    edit: Callable[[str], str]
    refused: bool
    check: Callable[["Demo", dict], Optional[str]]  # None when right, else what is wrong
    shows: str  # what the verification tick shows, for the reader


def _add_drink(source: str) -> str:
    source = source.replace("        return damage\n", "        return damage\n" + DRINK_METHOD)
    return source.replace(
        "    return report\n",
        '    report["drank"] = [p.name for p in PLAYERS if p.drink_potion()]\n    return report\n',
    )


def _add_regen(colon: str) -> Callable[[str], str]:
    def edit(source: str) -> str:
        source = source.replace("GOBLIN_ATTACK = 20\n", "GOBLIN_ATTACK = 20\nREGEN = 2\n")
        return source.replace(
            "    return report\n",
            f"    for player in PLAYERS{colon}\n        player.hp += REGEN\n"
            '    report["regen"] = REGEN\n    return report\n',
        )

    return edit


def _hits_are(expected: dict) -> Callable[["Demo", dict], Optional[str]]:
    def check(demo: "Demo", report: dict) -> Optional[str]:
        if report["hits"] != expected:
            return f"hits were {report['hits']}, expected {expected}"
        return None

    return check


def _drinks(demo: "Demo", report: dict) -> Optional[str]:
    if not all(hasattr(p, "drink_potion") for p in demo.players):
        return "the existing players have no drink_potion method"
    if "drank" not in report:
        return "the tick loop does not call drink_potion"
    return None


def _nothing_changed(demo: "Demo", report: dict) -> Optional[str]:
    server = demo.server
    if server.tick.__code__ is not demo.tick_code_before or "REGEN" in vars(server):
        return "the refused save changed the module"
    if "regen" in report:
        return "the refused code ran"
    return _hits_are({"ann": 16, "bob": 12})(demo, report)


def _regenerates(demo: "Demo", report: dict) -> Optional[str]:
    return None if report.get("regen") == 2 else "the regeneration does not run"


STEPS = [
    Step("fix the damage formula (armor now reduces damage instead of adding to it)",
         lambda s: s.replace("damage = attack + self.armor  # bug: armor should reduce the damage",
                             "damage = max(1, attack - self.armor)"),
         False, _hits_are({"ann": 8, "bob": 4}), "ann now takes 8 per hit, bob 4"),
    Step("add Player.drink_potion() and have the tick loop call it",
         _add_drink, False, _drinks, "the existing players drink potions"),
    Step("make the goblin stronger: GOBLIN_ATTACK = 12 -> 20",
         lambda s: s.replace("GOBLIN_ATTACK = 12", "GOBLIN_ATTACK = 20"),
         False, _hits_are({"ann": 16, "bob": 12}), "ann now takes 16 per hit, bob 12"),
    Step("add regeneration, but save with a syntax error (a missing colon)",
         _add_regen(""), True, _nothing_changed, "the server runs on as before"),
    Step("save the regeneration again, fixed",
         _add_regen(":"), False, _regenerates, "everyone regenerates 2 hp per tick"),
]


class Demo:
    """The running server, the watcher, and the self-checks."""

    def __init__(self, folder: str, out=None) -> None:
        self.folder = folder
        self.path = os.path.join(folder, "server_game.py")
        self.out = out or sys.stdout
        self.events: List[Event] = []
        self.failures: List[str] = []
        self.number = 0
        self.in_tick = False
        self.mid_tick = False
        self.saved_at = 0.0

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def fail(self, what: str) -> None:
        self.failures.append(what)
        self.say(f"   FAILED  {what}")

    # -- the server ---------------------------------------------------------
    def start(self) -> None:
        self.source = SERVER
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(self.source)
        sys.path.insert(0, self.folder)
        importlib.invalidate_caches()
        hotreload.install()
        self.server = importlib.import_module("server_game")
        self.players = list(self.server.PLAYERS)
        self.player_list = self.server.PLAYERS
        self.player_class = self.server.Player
        self.watcher = Watcher([self.folder], on_event=self.on_event).start()

    def stop(self) -> None:
        self.watcher.stop()
        sys.path.remove(self.folder)
        sys.modules.pop("server_game", None)

    def state(self) -> dict:
        return {p.name: (p.hp, list(p.inventory)) for p in self.players}

    def tick(self) -> dict:
        """Runs one tick, prints it and checks that the state follows on."""
        self.number += 1
        before = self.state()
        self.in_tick = True
        report = self.server.tick(self.number)
        self.in_tick = False
        after = self.state()
        self.show(report, after)
        self.check_continuity(before, after, report)
        return report

    def show(self, report: dict, state: dict) -> None:
        hits = ", ".join(f"{name} {hit}" for name, hit in report["hits"].items())
        players = "   ".join(
            f"{name} {hp:3d} hp [{', '.join(inventory)}]" for name, (hp, inventory) in state.items()
        )
        notes = []
        if report.get("loot"):
            notes.append("loot: potion")
        if report.get("drank"):
            notes.append("drank: " + ", ".join(report["drank"]))
        if report.get("regen"):
            notes.append(f"regen +{report['regen']}")
        extra = f"   ({'; '.join(notes)})" if notes else ""
        self.say(f"tick {self.number:2d}  goblin hits {hits:<14}  {players}{extra}")

    def check_continuity(self, before: dict, after: dict, report: dict) -> None:
        """Live state survives: each tick's hit points and inventories follow
        from the previous tick's (a reset would break the sums)."""
        if self.mid_tick:  # a reload landed inside this tick: old and new code mixed
            self.mid_tick = False
            return
        if self.server.PLAYERS is not self.player_list or any(
            a is not b for a, b in zip(self.server.PLAYERS, self.players)
        ) or self.server.Player is not self.player_class:
            self.fail("the player objects were replaced")
        for name, (hp, inventory) in before.items():
            drank = name in report.get("drank", ())
            expected_hp = max(0, hp - report["hits"][name]) + 30 * drank + report.get("regen", 0)
            expected_items = len(inventory) + bool(report.get("loot")) - drank
            if after[name][0] != expected_hp or len(after[name][1]) != expected_items:
                self.fail(f"{name}'s state does not follow from the last tick: "
                          f"{before[name]} -> {after[name]}")

    # -- reloads --------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """The watcher's callback: runs on the main thread, between bytecodes
        (but for a "waiting" notice, told from the watcher's thread when a
        machine too busy kept the loop from a safe point for seconds: said,
        and not an outcome of the save)."""
        if event.kind == "waiting":
            self.say(f"  waiting {event.message}")
            return
        if self.in_tick:
            self.mid_tick = True
        elapsed = (time.perf_counter() - self.saved_at) * 1000
        when = f"during tick {self.number}" if self.in_tick else "between two ticks"
        if event.kind == "reloaded":
            self.say(f"  reload  {event.message}; applied {elapsed:.0f} ms after the save, "
                     f"{when}, on the main thread")
        else:
            lines = event.format().splitlines()
            self.say(f"  refused {lines[0]}")
            for line in lines[1:]:
                self.say(f"          {line}")
        self.events.append(event)

    def save(self, step: Step, number: int) -> None:
        self.say(f"\n  edit {number}/{len(STEPS)}  {step.title}")
        source = step.edit(self.source)
        if source == self.source:
            raise AssertionError(f"step {number} does not change the source")
        if not step.refused:
            self.source = source
        self.tick_code_before = self.server.tick.__code__
        self.saved_at = time.perf_counter()
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(source)

    def wait_for_reload(self) -> Optional[Event]:
        """Ticks until the watcher applied the save (or reloads by hand if it
        has not within WATCHER_GRACE seconds); returns the event."""
        count = len(self.events)
        deadline = time.monotonic() + WATCHER_GRACE
        while len(self.events) == count and time.monotonic() < deadline:
            self.idle(TICK)
            if len(self.events) == count:
                self.tick()
        if len(self.events) == count:
            self.say("  (the watcher did not apply the save in time: reloading from the loop)")
            for event in self.watcher.reloader.apply([self.path]):
                self.on_event(event)
        return self.events[-1] if len(self.events) > count else None

    def idle(self, seconds: float) -> None:
        """Waits between ticks.  A reload the watcher queued for the main
        thread applies as soon as a frame's sleep returns."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(FRAME)

    def run_step(self, step: Step, number: int) -> None:
        self.save(step, number)
        event = self.wait_for_reload()
        expected = "failed" if step.refused else "reloaded"
        if event is None or event.kind != expected:
            self.fail(f"expected the save to be {'refused' if step.refused else 'applied'}, "
                      f"got {event.kind if event else 'nothing'}")
            return
        report = self.tick()
        problem = step.check(self, report)
        if problem:
            self.fail(problem)
        else:
            self.say(f"   ok     same {len(self.players)} player objects, hp and inventories "
                     f"kept; {step.shows}")

    def run(self) -> int:
        started = time.perf_counter()
        self.say("hotreload demo: a game server that edits its own code while it runs")
        self.say(f"  server code: {self.path}")
        self.say(f"  {self.watcher.describe()}\n")
        for _ in range(TICKS_BETWEEN + 1):
            self.tick()
            self.idle(TICK)
        for number, step in enumerate(STEPS, 1):
            self.run_step(step, number)
            for _ in range(TICKS_BETWEEN):
                self.idle(TICK)
                self.tick()
        reloads = [e.report.seconds * 1000 for e in self.events if e.report is not None]
        refused = sum(e.kind == "failed" for e in self.events)
        self.say(f"\n{len(STEPS)} saves: {len(reloads)} applied "
                 f"({', '.join(f'{ms:.1f}' for ms in reloads)} ms each in the engine), "
                 f"{refused} refused, in one process (pid {os.getpid()}) that never "
                 f"restarted; {time.perf_counter() - started:.1f} s in all")
        if self.failures:
            self.say(f"demo FAILED: {len(self.failures)} check(s) did not hold")
            return 1
        self.say("every check held: the live objects kept their state and ran the new code")
        return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``hotreload demo``; returns the exit status."""
    if argv:
        print("usage: hotreload demo  (it takes no arguments)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="hotreload-demo-") as folder:
        demo = Demo(os.path.realpath(folder))
        demo.start()
        try:
            return demo.run()
        finally:
            demo.stop()


if __name__ == "__main__":
    sys.exit(main())
