"""The child process of test_nomemory.py: one scenario's allocation sweep.

    python nomemory_sweep.py SCENARIO FOLDER [full]

Writes the scenario's modules in FOLDER, imports them and takes references
to their functions, classes, instances and closures.  Then, for n = 0, 1,
2, ... (every n with `full`, a sample of them otherwise), it makes the n-th
allocation of one reload fail (CPython's `_testcapi.set_nomemory(n, n+1)`)
and looks at the module afterwards:

  - the reload raised: the modules must be exactly as before (conftest's
    Snapshot, by identity, and the scenario's probe, by behaviour);
  - the reload returned: the probe must give what a reload without any
    failure gives; the modules are then reloaded back to the old source.

The engine's own entry point (`hotreload._hotreload.reload`) is called: the
Python layer's `hotreload.reload` only logs and wraps its result after the
transaction.  What may escape a reload whose allocation failed:
`ReloadError` with a `MemoryError` in its cause or context, or a bare
`MemoryError` (when the ReloadError itself could not be built).  A scenario
whose reload is refused anyway may also raise its usual ReloadError.

The sweep of a scenario ends at the first n past the reload's last
allocation: the failure is then still pending when the call returns, and a
probe allocation right after it meets it.

Prints one line of JSON: the counts and the problems found.  A crash is
the parent's to see (the exit status).
"""
import gc
import importlib
import json
import os
import sys
import textwrap
import time

import _testcapi

import hotreload
from hotreload import _hotreload

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import Snapshot  # noqa: E402  (the tests' folder, just added)

# Without `full`: every allocation of the first SAMPLE, then steps of n/SAMPLE.
SAMPLE = 60
VERBOSE = os.environ.get("HR_SWEEP_VERBOSE")  # by hand: what each attempt raised
START = int(os.environ.get("HR_SWEEP_START", 0))  # by hand, to debug


# -- scenarios --------------------------------------------------------------------
# Each: the old and new sources of its modules ("events" is never reloaded),
# the modules reloaded together, set-up (references taken before) and a probe
# (observable behaviour through those references).

EVENTS = """
HOOKS = []
"""

FUNCTIONS_OLD = """
import functools

LIMIT = 10
NAMES = ("a", "b")

def area(w, h=2):
    return ("v1", w * h)

def gone():
    return "gone"

@functools.lru_cache(maxsize=None)
def cached(x):
    return ("v1", x)

def caller():
    return area(3)
"""

FUNCTIONS_NEW = """
import functools

LIMIT = 20
NAMES = ("a", "b", "c")

def area(w, h=5):
    return ("v2", w + h)

@functools.lru_cache(maxsize=None)
def cached(x):
    return ("v2", x * 2)

def caller():
    return area(3), added()

def added():
    return "added"
"""

CLASSES_OLD = """
class Base:
    KIND = "base"

    def who(self):
        return "base-v1"


class Unit(Base):
    SPEED = 1

    def __init__(self, hp):
        self.hp = hp

    def attack(self):
        return ("v1", self.hp)

    @classmethod
    def make(cls):
        return cls(7)

    @staticmethod
    def helper():
        return "helper-v1"

    @property
    def label(self):
        return "unit-v1"

    def removed(self):
        return "removed"
"""

CLASSES_NEW = """
class Base:
    KIND = "base"

    def who(self):
        return "base-v2"


class Unit(Base):
    SPEED = 2

    def __init__(self, hp):
        self.hp = hp

    def attack(self):
        return ("v2", self.hp * 10)

    @classmethod
    def make(cls):
        return cls(8)

    @staticmethod
    def helper():
        return "helper-v2"

    @property
    def label(self):
        return "unit-v2"

    def added(self):
        return "added"
"""

ENUMS_OLD = """
import enum

class Color(enum.Enum):
    RED = 1
    GREEN = 2

    def describe(self):
        return ("v1", self.name)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 3
"""

ENUMS_NEW = """
import enum

class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 3

    def describe(self):
        return ("v2", self.name, self.value)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 5
"""

DATACLASSES_OLD = """
import dataclasses

@dataclasses.dataclass
class Point:
    x: int
    y: int = 0

    def norm(self):
        return ("v1", abs(self.x) + abs(self.y))


@dataclasses.dataclass(frozen=True)
class Tag:
    name: str

    def show(self):
        return "tag-v1:" + self.name
"""

DATACLASSES_NEW = """
import dataclasses

@dataclasses.dataclass
class Point:
    x: int
    y: int = 0
    z: int = 0

    def norm(self):
        return ("v2", abs(self.x) + abs(self.y) + abs(self.z))


@dataclasses.dataclass(frozen=True)
class Tag:
    name: str

    def show(self):
        return "tag-v2:" + self.name.upper()
"""

LIB_OLD = """
RATE = 2

def helper(x):
    return ("v1", x * RATE)
"""

LIB_NEW = """
RATE = 3

def helper(x):
    return ("v2", x * RATE)

def extra():
    return "extra"
"""

USER_OLD = """
from lib import helper, RATE

SCALED = RATE * 100

def use(x):
    return helper(x), RATE
"""

USER_NEW = """
from lib import helper, RATE, extra

SCALED = RATE * 100

def use(x):
    return helper(x), RATE, extra()
"""

HOOKS_OLD = """
import events

VERSION = 1

def __reload_module__(old):
    events.HOOKS.append(("module", VERSION, old["VERSION"]))


class Unit:
    LEVEL = 1

    def __init__(self, name):
        self.name = name

    def power(self):
        return ("v1", self.name)

    @classmethod
    def __reload_class__(cls):
        events.HOOKS.append(("class", cls.LEVEL))

    def __reload_instance__(self):
        events.HOOKS.append(("instance", self.name, self.power()))
"""

HOOKS_NEW = HOOKS_OLD.replace("VERSION = 1", "VERSION = 2").replace(
    "LEVEL = 1", "LEVEL = 2").replace('("v1", self.name)', '("v2", self.name * 2)')

CLOSURES_OLD = """
def make_handler(tag):
    def handler(x):
        return ("v1", tag, x)
    return handler

def make_counter(step):
    count = 0
    def tick():
        nonlocal count
        count += step
        return ("v1", count)
    return tick

HANDLERS = [make_handler("red"), lambda x: ("lambda-v1", x)]
"""

CLOSURES_NEW = """
def make_handler(tag):
    def handler(x):
        return ("v2", tag, x * 10)
    return handler

def make_counter(step):
    count = 0
    def tick():
        nonlocal count
        count += step
        return ("v2", count)
    return tick

HANDLERS = [make_handler("red"), lambda x: ("lambda-v1", x)]
"""

SYNTAX_NEW = FUNCTIONS_OLD.replace("def caller():", "def caller(:")

RAISES_NEW = FUNCTIONS_NEW + """
raise RuntimeError("the module body raised")
"""


def structure(module):
    """The names of a module and of its classes' members, and its plain data."""
    out = []
    for key, value in sorted(vars(module).items()):
        if key.startswith("__") and key != "__reload_module__":
            continue
        if isinstance(value, (int, str, tuple, float)):
            out.append((key, value))
        elif isinstance(value, type) and value.__module__ == module.__name__:
            out.append((key, sorted(k for k in vars(value) if k not in ("__dict__", "__weakref__"))))
        else:
            out.append((key, type(value).__name__))
    return out


def probe_functions(mods, refs):
    m = mods["mod"]
    return [refs["area"](4), refs["caller"](), refs["cached"](3), m.area is refs["area"],
            m.cached is refs["cached"], hasattr(m, "gone") and m.gone(),
            hasattr(m, "added") and m.added(), refs["area"].__defaults__]


def setup_functions(mods):
    m = mods["mod"]
    return {"area": m.area, "caller": m.caller, "cached": m.cached}


def setup_classes(mods):
    m = mods["mod"]
    return {"Unit": m.Unit, "Base": m.Base, "unit": m.Unit(3), "bound": m.Unit(4).attack}


def probe_classes(mods, refs):
    m, unit = mods["mod"], refs["unit"]
    return [unit.attack(), refs["bound"](), unit.who(), unit.label, unit.helper(),
            m.Unit.make().hp, m.Unit.SPEED, m.Unit is refs["Unit"], m.Base is refs["Base"],
            type(unit) is m.Unit, hasattr(unit, "removed") and unit.removed(),
            hasattr(unit, "added") and unit.added()]


def setup_enums(mods):
    m = mods["mod"]
    return {"Color": m.Color, "red": m.Color.RED, "Level": m.Level, "high": m.Level.HIGH}


def probe_enums(mods, refs):
    m = mods["mod"]
    return [refs["red"].describe(), [(c.name, c.value) for c in m.Color],
            [(c.name, int(c)) for c in m.Level], m.Color is refs["Color"],
            m.Color.RED is refs["red"], m.Level is refs["Level"], m.Level(1).name,
            sorted(m.Color.__members__), int(refs["high"])]


def setup_dataclasses(mods):
    m = mods["mod"]
    return {"Point": m.Point, "p": m.Point(1, -2), "Tag": m.Tag, "t": m.Tag("x")}


def probe_dataclasses(mods, refs):
    m, p = mods["mod"], refs["p"]
    fields = [f.name for f in __import__("dataclasses").fields(m.Point)]
    return [p.norm(), refs["t"].show(), fields, repr(m.Point(5)), m.Point is refs["Point"],
            m.Tag is refs["Tag"], m.Point(1, 2) == m.Point(1, 2)]


def setup_from_imports(mods):
    return {"use": mods["user"].use, "helper": mods["lib"].helper}


def probe_from_imports(mods, refs):
    lib, user = mods["lib"], mods["user"]
    return [refs["use"](2), refs["helper"](1), user.helper is lib.helper,
            lib.helper is refs["helper"], user.SCALED, user.RATE,
            hasattr(user, "extra") and user.extra()]


def setup_hooks(mods):
    m = mods["mod"]
    return {"Unit": m.Unit, "units": [m.Unit("a"), m.Unit("b")]}


def probe_hooks(mods, refs):
    m = mods["mod"]
    return [[u.power() for u in refs["units"]], m.Unit.LEVEL, m.VERSION, m.Unit is refs["Unit"]]


def setup_closures(mods):
    m = mods["mod"]
    return {"blue": m.make_handler("blue"), "tick": m.make_counter(5),
            "handlers": list(m.HANDLERS)}


def probe_closures(mods, refs):
    m = mods["mod"]
    tick = refs["tick"]
    # The counter's cell survives a reload: read it, do not advance it.
    count = tick.__closure__[[*tick.__code__.co_freevars].index("count")].cell_contents
    return [refs["blue"](2), [h(1) for h in refs["handlers"]], count,
            m.make_handler("green")(3), tick.__code__ is m.make_counter(1).__code__,
            refs["handlers"][0].__code__ is m.make_handler("x").__code__]


SCENARIOS = {
    "functions": ({"mod": (FUNCTIONS_OLD, FUNCTIONS_NEW)}, setup_functions, probe_functions),
    "classes": ({"mod": (CLASSES_OLD, CLASSES_NEW)}, setup_classes, probe_classes),
    "enums": ({"mod": (ENUMS_OLD, ENUMS_NEW)}, setup_enums, probe_enums),
    "dataclasses": ({"mod": (DATACLASSES_OLD, DATACLASSES_NEW)}, setup_dataclasses,
                    probe_dataclasses),
    "from_imports": ({"lib": (LIB_OLD, LIB_NEW), "user": (USER_OLD, USER_NEW)},
                     setup_from_imports, probe_from_imports),
    "hooks": ({"mod": (HOOKS_OLD, HOOKS_NEW)}, setup_hooks, probe_hooks),
    "closures": ({"mod": (CLOSURES_OLD, CLOSURES_NEW)}, setup_closures, probe_closures),
    "syntax_error": ({"mod": (FUNCTIONS_OLD, SYNTAX_NEW)}, setup_functions, probe_functions),
    "body_raises": ({"mod": (FUNCTIONS_OLD, RAISES_NEW)}, setup_functions, probe_functions),
}


# -- the sweep ----------------------------------------------------------------------

class Files:
    """The scenario's module files, switched between their two versions."""

    def __init__(self, folder, versions):
        self.folder = folder
        self.versions = versions
        self.stamp = int(time.time())
        self.current = None

    def write(self, which):
        if self.current == which:
            return
        for name, pair in self.versions.items():
            path = os.path.join(self.folder, name + ".py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(textwrap.dedent(pair[which]))
            self.stamp += 2
            os.utime(path, (self.stamp, self.stamp))
        importlib.invalidate_caches()
        self.current = which


def attempt(reload, targets, n, stop):
    """Reloads `targets` under `_testcapi.set_nomemory(n, stop)`: with
    stop = n + 1 only the n-th allocation fails, with stop = 0 every one from
    the n-th on.  Returns the exception raised (or None) and, with stop = 0,
    whether the reload made fewer than n allocations (a probe allocation
    right after it still succeeds).  Nothing here allocates between
    set_nomemory and remove_mem_hooks but the reload and the probe."""
    error = report = None
    _testcapi.set_nomemory(n, stop)
    try:
        report = reload(*targets)
    except BaseException as e:  # noqa: B036 (whatever escapes is judged below)
        error = e
    try:
        bytearray(64)
        short = True
    except MemoryError:
        short = False
    _testcapi.remove_mem_hooks()
    if VERBOSE and report is not None:
        os.write(2, f"  report: {report!r}\n".encode())
    return error, short


CPYTHON_BROKEN = 3  # the exit status that says so


def chain(error):
    """The exception and those it was raised from or during."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def main():
    scenario, folder = sys.argv[1], sys.argv[2]
    full = len(sys.argv) > 3 and sys.argv[3] == "full"
    # "only=N" (by hand, when a crash is to be debugged): that attempt alone.
    only = int(sys.argv[3][5:]) if len(sys.argv) > 3 and sys.argv[3].startswith("only=") else None
    versions, setup, probe = SCENARIOS[scenario]
    sys.dont_write_bytecode = True
    sys.path.insert(0, folder)
    with open(os.path.join(folder, "events.py"), "w", encoding="utf-8") as f:
        f.write(EVENTS)
    files = Files(folder, versions)
    files.write(0)
    hotreload.install()
    mods = {name: importlib.import_module(name) for name in versions}
    events = importlib.import_module("events")
    targets = tuple(mods[name] for name in versions)
    refs = setup(mods)
    reload = _hotreload.reload
    problems = []

    def reload_back(n):
        files.write(0)
        try:
            reload(*targets)
        except Exception as e:  # noqa: BLE001 (reported)
            problems.append(f"n={n}: reloading back to the old source failed: {e!r}")
            return False
        if probe(mods, refs) != old:
            problems.append(f"n={n}: the old source reloaded back does not behave as before: "
                            f"{probe(mods, refs)!r} != {old!r}")
            return False
        return True

    def reload_works(n):
        """After an unexplained refusal: whether the reload still succeeds
        without any failure (and back), as it did at the start."""
        files.write(1)
        try:
            reload(*targets)
        except hotreload.ReloadError:
            return False
        return reload_back(n)

    # The two ends, without any failure.
    old = probe(mods, refs)
    files.write(1)
    try:
        reload(*targets)
        new = probe(mods, refs)
        hooks = len(events.HOOKS)
        refused = False
    except hotreload.ReloadError:
        new, hooks, refused = None, 0, True
    if not refused:
        assert new != old, "the scenario's probe does not see the change"
        if not reload_back(-1):
            print(json.dumps({"problems": problems}))
            return
    del events.HOOKS[:]

    counts = {"attempts": 0, "failed": 0, "refused": 0, "applied": 0, "half": 0,
              "unexplained": 0, "allocations": 0}

    def run(n, stop):
        """One attempt; returns whether an allocation failed in it."""
        files.write(1)
        os.write(2, b"attempt n=%d stop=%d\n" % (n, stop))  # the last names a crash's n
        before = Snapshot(*targets)
        del events.HOOKS[:]
        error, short = attempt(reload, targets, n, stop)
        counts["attempts"] += 1
        if VERBOSE:
            os.write(2, f"  -> {error!r} {[type(e).__name__ for e in chain(error)]}\n".encode())
        now = probe(mods, refs)
        if error is None:
            if refused:
                problems.append(f"n={n}: a reload refused without failures succeeded")
                counts["half"] += 1
            elif now != new or len(events.HOOKS) != hooks:
                problems.append(f"n={n}: half applied: {now!r} != {new!r} "
                                f"(hooks ran {len(events.HOOKS)} times, not {hooks})")
                counts["half"] += 1
            else:
                counts["applied"] += 1
            if not refused:
                reload_back(n)
        else:
            kinds = [type(e).__name__ for e in chain(error)]
            if not isinstance(error, (MemoryError, hotreload.ReloadError)):
                problems.append(f"n={n}: raised {error!r} (chain {kinds})")
            elif not (refused or "MemoryError" in kinds):
                # Refused, but not for the failed allocation: CPython's own
                # code sometimes loses the MemoryError (a SystemError "error
                # return without exception set", a compiler that returns
                # NULL with nothing set).  Counted, not a problem: the module
                # must still be exactly as before.
                counts["unexplained"] += 1
            diff = before.diff(Snapshot(*targets))
            if diff or now != old:
                problems.append(f"n={n}: refused but changed: {diff[:5]} {now!r} != {old!r}")
                counts["half"] += 1
            else:
                counts["refused"] += 1
            if not refused and "MemoryError" not in kinds and not reload_works(n):
                # CPython was left broken by the failed allocation (3.11's
                # compiler: every later compile of the new source raises
                # "co_code is malformed"): this process can tell nothing
                # more.  The parent counts it as CPython's and goes on past n
                # in a fresh one, as after a crash.
                os.write(2, b"CPython broken after attempt n=%d\n" % n)
                os._exit(CPYTHON_BROKEN)
        # A reload that succeeds (or is refused as without failures) may have
        # tolerated the failed allocation, or ended before it.
        happened = (error is not None and not refused) or (stop == 0 and not short)
        # The exceptions sit in reference cycles (traceback, frame): collected
        # now, their MemoryErrors return to CPython's free list (16 of them);
        # with more alive at once, PyErr_NoMemory hands out one static
        # instance that every raise shares.
        error = None
        gc.collect()
        return happened

    progress = os.path.join(folder, "progress.json")

    def fails(n):
        """Whether the reload makes more than n allocations: the n-th fails
        alone, then (unless the reload raised) every one from the n-th on.
        The counts so far are saved after each n, for the parent to read
        should CPython crash in the next."""
        happened = run(n, n + 1) or run(n, 0)
        if happened:
            counts["failed"] += 1
        else:
            counts["allocations"] = n
        with open(progress + ".new", "w", encoding="utf-8") as f:
            json.dump({"counts": counts, "problems": problems[:20]}, f)
        os.replace(progress + ".new", progress)  # whole, even if the next attempt crashes
        return happened

    started = time.monotonic()
    if only is not None:
        fails(only)
    else:
        # Every allocation with `full`; otherwise every one of the first
        # SAMPLE, then steps that grow with n (about SAMPLE attempts for each
        # doubling of the reload's length).  The sequence depends on n alone,
        # so a run restarted past a crash goes on where it was.
        n = START
        while fails(n) and len(problems) < 20:
            n += 1 if full else max(1, n // SAMPLE)
    counts["seconds"] = round(time.monotonic() - started, 2)
    counts["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps({"counts": counts, "problems": problems[:20]}))


if __name__ == "__main__":
    main()
