"""Live closures known without a walk of the heap (base/watcher.c, 3.12+).

Once a reload has found the closures of a function's nested code (with one
walk), CPython's function watcher tells the engine of every later one: the
next reloads of that function read them from its notes.  These tests check
that the notes stay complete: closures made after a reload, made by the
reload's own run, given the code through __code__, freed and made again at
the same addresses, and made in a sub-interpreter, all take the new code,
reload after reload, as a walk would have found them.  HOTRELOAD_TRACE
says whether a reload walked.

Each case runs in a fresh interpreter, whose watcher starts with its
first reload that watches code.
"""
import json
import textwrap
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.version_info < (3, 12), reason="function watchers are 3.12+")


def factory(version, extra=""):
    return f'''
def make(n):
    def handler():
        return ({version}, n)
    return handler

KEPT = make(100)
{extra}
'''


SCENARIO = """
    import contextlib, gc, io, json
    def source(version, extra=""):
        return FACTORY.format(version=version, extra=extra)
    write("shop", source(1))
    import shop
    held = [shop.make(i) for i in range(3)]           # before any reload
    seen, walked = [], []

    def reload(version, extra=""):
        write("shop", source(version, extra))
        trace = io.StringIO()
        with contextlib.redirect_stderr(trace):
            hotreload.reload(shop)
        seen.append([h() for h in held] + [shop.KEPT()])
        walked.append("heap walk (closures known)" not in trace.getvalue())

    reload(2)                                         # walks, then watches
    held.append(shop.make(3))                         # made from watched code
    reload(3)
    gc.collect()
    for _ in range(200):                              # freed, addresses reused
        doomed = [shop.make(9) for _ in range(50)]
        del doomed
    def outer(n):
        return lambda: n
    fresh = outer(4)
    fresh.__code__ = held[0].__code__                 # given the code by hand
    held.append(fresh)
    write("sink", "HELD = []\\n")
    import sink
    run_made = "import sink\\nsink.HELD.append(make(7))"
    reload(4, run_made)                               # the run makes a closure,
    held.append(sink.HELD[0])                         # held outside the module
    reload(5, run_made)
    print(json.dumps({"seen": seen, "walked": walked}))
"""


def run(isolated):
    script = f"FACTORY = {factory('{version}', '{extra}')!r}\n" + textwrap.dedent(SCENARIO)
    return json.loads(isolated(script, env={"HOTRELOAD_TRACE": "1"}).splitlines()[-1])


def test_closures_take_the_new_code_reload_after_reload(isolated):
    seen = run(isolated)["seen"]
    assert seen == [
        [[2, 0], [2, 1], [2, 2], [2, 100]],
        [[3, 0], [3, 1], [3, 2], [3, 3], [3, 100]],
        [[4, 0], [4, 1], [4, 2], [4, 3], [4, 4], [4, 100]],
        [[5, 0], [5, 1], [5, 2], [5, 3], [5, 4], [5, 7], [5, 100]],
    ]


def test_only_the_first_reload_of_a_factory_walks_the_heap(isolated):
    assert run(isolated)["walked"] == [True, False, False, False]


def test_the_watched_code_does_not_grow_with_the_reloads(isolated):
    """Each reload watches the new nested code of a factory; the old one is
    freed once no closure holds it, and the code watcher forgets it: after
    twenty reloads the engine watches what it watched after two."""
    out = isolated(
        """
        import gc, json
        from hotreload import _hotreload
        write("shop", FACTORY.format(version=0, extra=""))
        import shop
        held = [shop.make(i) for i in range(5)]
        counts, junk = [], []
        for version in range(1, 21):
            write("shop", FACTORY.format(version=version, extra=""))
            hotreload.reload(shop)
            gc.collect()
            # Code kept alive takes the freed addresses, so that a note
            # that outlived its code would show as one more.
            junk.extend(compile(f"def f{i}(): pass", "junk", "exec") for i in range(20))
            counts.append(_hotreload._watched_codes())
        print(json.dumps({"counts": counts, "seen": held[4]()}))
        """.replace("FACTORY", repr(factory("{version}", "{extra}")))
    )
    result = json.loads(out.splitlines()[-1])
    assert result["seen"] == [20, 4]
    counts = result["counts"]
    assert counts[0] >= 1
    assert counts[-1] == counts[1], counts


def test_code_watched_after_its_closures_were_made_notes_the_next_ones(isolated):
    """The watcher remembers the last code it found unwatched, so that a
    loop making closures asks once.  When that code becomes watched (the
    first reload of its factory walks), the closures made from then on must
    be noted all the same: the second reload finds them without a walk,
    and gives them the new code."""
    out = isolated(
        """
        import contextlib, io, json
        write("shop", FACTORY.format(version=1, extra=""))
        write("bank", FACTORY.format(version=10, extra=""))
        import shop, bank
        held = [shop.make(0)]

        def reload(module, version):
            # The run's last function made is a closure of the new nested
            # code, which the reload then watches.
            extra = f"NEW_{version} = make(-1)"
            write(module.__name__, FACTORY.format(version=version, extra=extra))
            trace = io.StringIO()
            with contextlib.redirect_stderr(trace):
                hotreload.reload(module)
            return "heap walk (closures known)" not in trace.getvalue()

        walks = [reload(shop, 2)]               # shop's code watched: notes begin
        early = [bank.make(i) for i in range(3)]  # bank's code seen, not watched
        walks.append(reload(bank, 11))          # walks: bank's code watched now
        late = [bank.make(i) for i in range(3, 6)]
        walks.append(reload(bank, 12))          # must know `late` without a walk
        print(json.dumps({"walks": walks, "seen": [f() for f in early + late]}))
        """.replace("FACTORY", repr(factory("{version}", "{extra}"))),
        env={"HOTRELOAD_TRACE": "1"},
    )
    result = json.loads(out.splitlines()[-1])
    assert result["walks"] == [True, True, False]
    assert result["seen"] == [[12, i] for i in range(6)]


def test_the_watcher_starts_with_the_first_code_it_watches(isolated):
    """A program pays for the watcher (a call per function made and freed)
    only once a reload has code to watch: importing and installing the
    engine, or reloading modules without closures, adds none.  CPython's
    next free watcher slot tells (ctypes)."""
    out = isolated(
        """
        import ctypes, json
        from hotreload import _hotreload
        CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.py_object, ctypes.py_object)
        keep = CALLBACK(lambda event, func, value: 0)
        def next_free_slot():
            add = ctypes.pythonapi.PyFunction_AddWatcher
            add.restype = ctypes.c_int
            slot = add(keep)
            ctypes.pythonapi.PyFunction_ClearWatcher(slot)
            return slot
        slots = [next_free_slot()]
        write("plain", "def f():\\n    return 1\\n")
        import plain
        write("plain", "def f():\\n    return 2\\n")
        hotreload.reload(plain)
        slots.append(next_free_slot())
        write("shop", FACTORY.format(version=1, extra=""))
        import shop
        held = shop.make(1)
        write("shop", FACTORY.format(version=2, extra=""))
        hotreload.reload(shop)
        slots.append(next_free_slot())
        print(json.dumps({"slots": slots, "watched": _hotreload._watched_codes(),
                          "seen": held(), "plain": plain.f()}))
        """.replace("FACTORY", repr(factory("{version}", "{extra}")))
    )
    result = json.loads(out.splitlines()[-1])
    assert result["slots"] == [0, 0, 1]
    assert result["watched"] >= 1 and result["seen"] == [2, 1] and result["plain"] == 2


def test_a_noted_closure_given_other_code_is_forgotten_when_freed(isolated):
    """The watcher lets a freed function go without a lookup when it holds
    the code last found unwatched (the loop making closures of one code):
    noted functions hold watched code.  A noted closure given other code
    through __code__ breaks that, so from then on its freeing must still
    drop its note, even after functions of that same code were made (and
    the next reload must not read a freed function from the notes)."""
    out = isolated(
        """
        import gc, json
        from hotreload import _hotreload
        write("shop", FACTORY.format(version=1, extra=""))
        import shop
        held = [shop.make(i) for i in range(4)]
        write("shop", FACTORY.format(version=2, extra=""))
        hotreload.reload(shop)                  # walks: held and KEPT noted
        counts = [_hotreload._noted_closures()]
        def outer(n):
            return lambda: ("other", n)
        stray = held.pop()
        stray.__code__ = outer(0).__code__      # a noted closure, unwatched code
        made = [(lambda: i) for i in range(3)]  # another code, remembered in its turn,
        made += [outer(i) for i in range(100)]  # then stray's: remembered as unwatched
        del made
        counts.append(_hotreload._noted_closures())
        del stray
        gc.collect()
        counts.append(_hotreload._noted_closures())
        one = held.pop()                        # the common case: watched code freed
        del one
        gc.collect()
        counts.append(_hotreload._noted_closures())
        junk = [outer(i) for i in range(1000)]  # the freed addresses taken again
        write("shop", FACTORY.format(version=3, extra=""))
        hotreload.reload(shop)
        print(json.dumps({"counts": counts, "seen": [h() for h in held] + [shop.KEPT()]}))
        """.replace("FACTORY", repr(factory("{version}", "{extra}")))
    )
    result = json.loads(out.splitlines()[-1])
    first = result["counts"][0]
    assert first >= 5  # the four held and KEPT
    assert result["counts"] == [first, first, first - 1, first - 2]
    assert result["seen"] == [[3, 0], [3, 1], [3, 100]]


def test_the_notes_follow_random_makes_frees_and_code_changes(isolated):
    """Hypothesis drives a pool of closures: made by the watched factory or
    by two others, given one another's code through __code__, freed, with
    reloads of the factory between.  After each reload every closure that
    holds the factory's code runs the new version (the notes were
    complete), the others keep theirs, and once the pool is freed the notes
    are back to what they were (no freed function stays noted: the next
    reload would read it).  Derandomized: the same examples every run."""
    out = isolated(
        """
        import gc, json
        from hypothesis import given, settings, strategies as st
        from hotreload import _hotreload
        write("shop", FACTORY.format(version=1, extra=""))
        import shop
        write("shop", FACTORY.format(version=2, extra=""))
        hotreload.reload(shop)                  # shop's nested code watched from here
        def outer(n):
            return lambda: ("outer", n)
        def third(n):
            return lambda: ("third", n)
        factories = {"shop": lambda n: shop.make(n), "outer": outer, "third": third}
        kinds = st.sampled_from(sorted(factories))
        step = st.one_of(
            st.tuples(st.just("make"), kinds),
            st.tuples(st.just("code"), st.integers(0, 40), kinds),
            st.tuples(st.just("free"), st.integers(0, 40)),
            st.tuples(st.just("reload")),
        )
        version = [2]
        reloads_left = [150]

        def runs(function, kind):
            return function()[0] == (version[0] if kind == "shop" else kind)

        @settings(max_examples=150, deadline=None, database=None, derandomize=True)
        @given(st.lists(step, max_size=40))
        def check(steps):
            gc.collect()
            before = _hotreload._noted_closures()
            pool = []                           # [function, kind of the code it holds]
            for s in steps:
                if s[0] == "make":
                    pool.append([factories[s[1]](len(pool)), s[1]])
                elif s[0] == "code" and pool:
                    at = s[1] % len(pool)       # (no name left holding the function)
                    pool[at][0].__code__ = factories[s[2]](-1).__code__
                    pool[at][1] = s[2]
                elif s[0] == "free" and pool:
                    del pool[s[1] % len(pool)]
                elif s[0] == "reload" and reloads_left[0] > 0:
                    reloads_left[0] -= 1
                    version[0] += 1
                    write("shop", FACTORY.format(version=version[0], extra=""))
                    hotreload.reload(shop)
                    assert all(runs(f, kind) for f, kind in pool), (steps, pool)
            assert all(runs(f, kind) for f, kind in pool), (steps, pool)
            while pool:                         # each freed just after a function of the
                function, kind = pool.pop()     # code it holds is made: the case the
                factories[kind](-2)             # watcher's shortcut for frees must tell
                del function                    # apart
            gc.collect()
            assert _hotreload._noted_closures() == before, (steps, before)

        check()
        print(json.dumps({"reloads": 150 - reloads_left[0]}))
        """.replace("FACTORY", repr(factory("{version}", "{extra}"))),
        timeout=300,
    )
    assert json.loads(out.splitlines()[-1])["reloads"] > 20
