"""A reload and the program's garbage collector.

The engine tells what a reload made from what existed by setting the
program's objects aside while the new code runs (a splice of the
collector's lists, whatever the program froze or never collected), then
collects what the reload made, alone.  What the program sees of its own
objects and of its collector must not change: its frozen objects stay
frozen, its garbage waits for its own collections, its hooks find its
objects with gc.get_objects(), and the twins a reload made and dropped are
collected even when the program disabled collection.

Each case runs in a fresh interpreter: collector state is the process's.
"""
import json
import textwrap

import pytest

GAME = """
    class Base:
        pass

    class Player(Base):
        def hp(self):
            return 1
"""

# A new method makes the class statement run: a twin class is made, poured
# into Player and dropped.  The hook counts the live players the way a
# migration hook would.
GAME_EDITED = """
    import gc, sink

    class Base:
        pass

    class Player(Base):
        def hp(self):
            return 2

        def mana(self):
            return 5

    def __reload_module__(old):
        sink.SEEN.append(sum(1 for o in gc.get_objects() if type(o) is Player))
"""

SCENARIO = """
    import gc, json, weakref
    write("sink", "SEEN = []\\n")
    write("game", GAME)
    import game
    players = [game.Player() for _ in range(1000)]
    filler = [[i] for i in range(20000)]
    MODE = {mode!r}
    if "freeze" in MODE:
        gc.freeze()
    if "disable" in MODE:
        gc.disable()

    class Junk:
        pass

    junk = Junk()
    junk.me = junk  # the program's own cyclic garbage
    junk_alive = weakref.ref(junk)
    del junk
    frozen = gc.get_freeze_count()
    count = gc.get_count()[0]
    write("game", GAME_EDITED)
    hotreload.reload(game)
    import sink
    seen = {{
        "hp": players[0].hp(),
        "mana": players[0].mana(),
        "subclasses": [c.__name__ for c in game.Base.__subclasses__()],
        "hook_saw": sink.SEEN,
        "listed": sum(1 for o in gc.get_objects() if type(o) is game.Player),
        "frozen_kept": gc.get_freeze_count() == frozen,
        "junk_alive": junk_alive() is not None,
        "count_kept": gc.get_count()[0] >= count // 2,
    }}
    gc.collect()
    seen["junk_collected"] = junk_alive() is None
    print(json.dumps(seen))
"""


def run(isolated, mode):
    script = f"GAME = {GAME!r}\nGAME_EDITED = {GAME_EDITED!r}\n" + textwrap.dedent(SCENARIO).format(mode=mode)
    return json.loads(isolated(script).splitlines()[-1])


@pytest.mark.parametrize("mode", ["enabled", "disabled", "frozen", "frozen and disabled"])
def test_the_program_keeps_its_collector(isolated, mode):
    seen = run(isolated, mode)
    assert (seen["hp"], seen["mana"]) == (2, 5)
    # The twin class was collected, whatever the program did to its
    # collector: Base lists one Player.
    assert seen["subclasses"] == ["Player"]
    # The hook ran with the program's objects in place.
    assert seen["hook_saw"] == [1000]
    assert seen["listed"] == 1000
    assert seen["frozen_kept"]
    assert seen["junk_collected"]
    if "disable" in mode:
        # Collection is off: the program's garbage waits for its own
        # gc.collect(), and the counts that schedule it are not reset.
        assert seen["junk_alive"]
        assert seen["count_kept"]


MOVED = """
    import gc, json
    write("game", GAME)
    import game
    players = [game.Player() for _ in range(100)]
    gc.disable()
    write("game", "import gc\\n" + textwrap.dedent(GAME_EDITED).replace("import gc, sink", "import sink")
          + "\\ngc.{call}()\\n")
    write("sink", "SEEN = []\\n")
    hotreload.reload(game)
    gc.unfreeze()
    gc.collect()
    print(json.dumps({{"hp": players[0].hp(), "mana": players[0].mana(),
                      "subclasses": [c.__name__ for c in game.Base.__subclasses__()]}}))
"""


@pytest.mark.parametrize("call", ["collect", "freeze"])
def test_new_code_that_moves_the_generations(isolated, call):
    """A module body that collects or freezes while the reload runs moves
    what the reload made out of the youngest generation: the engine then
    looks at every object instead, and the reload is as right."""
    script = f"GAME = {GAME!r}\nGAME_EDITED = {GAME_EDITED!r}\n" + textwrap.dedent(MOVED).format(call=call)
    seen = json.loads(isolated(script).splitlines()[-1])
    assert seen == {"hp": 2, "mana": 5, "subclasses": ["Player"]}


FROZEN_STATE = """
    import gc, json
    write("server", '''
        def make(n):
            def handler():
                return n
            return handler

        class Player:
            def __init__(self):
                self.migrated = 0
    ''')
    import server
    handlers = [server.make(n) for n in range(3)]
    players = [server.Player() for _ in range(5)]
    gc.freeze()  # start-up done: a forking server freezes what it loaded
    write("server", '''
        def make(n):
            def handler():
                return n * 10
            return handler

        class Player:
            def __init__(self):
                self.migrated = 0

            def __reload_instance__(self):
                self.migrated += 1
    ''')
    hotreload.reload(server)
    print(json.dumps({"handlers": [h() for h in handlers],
                      "migrated": [p.migrated for p in players]}))
"""


def test_what_the_program_froze_is_reloaded_too(isolated):
    """gc.freeze() hides objects from gc.get_objects() and from CPython's
    object walk; the engine's walk sees them: live closures made before the
    freeze take the new code, frozen instances get their hook."""
    seen = json.loads(isolated(FROZEN_STATE).splitlines()[-1])
    assert seen == {"handlers": [0, 10, 20], "migrated": [1] * 5}
