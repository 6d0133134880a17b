"""Threads calling into a module while the main thread reloads it.

Eight threads call the module's functions, methods, properties, operators
and data in tight loops, through references taken before any reload, while
the main thread reloads it a thousand times between two versions.  The
commit runs no Python code, so a thread switch can fall between two reloads
but never inside a commit:

- no crash and no exception other than the one the user code raises;
- everything a single function object answers (its code's constants, its
  defaults, keyword defaults and closure cells) is of one version;
- a call that no reload overlapped (a sequence counter read before and after
  it, odd while a reload runs) sees one version everywhere, and it is the
  version of the last reload: no specialised call or attribute cache of a
  worker thread kept running old code.

Runs in a fresh interpreter (conftest's `isolated`): a crash must fail this
test, not end the test session.
"""

THREADS = 8
RELOADS = 1000

SCENARIO = r'''
import functools
import sys
import threading
import time
import traceback


# The two versions differ in what specialised calls cache (3.11+): the
# number of arguments and defaults, keyword-only arguments, closure cells,
# generator or not; a cache that outlived a patch would run new code with
# old assumptions (and read past a tuple) rather than merely answer "1".
V1 = """
import functools

LIMIT = 1

def tagged(fn):
    tag = 1
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return (tag, fn(*args, **kwargs))
    return wrapper

def f(a=1, b=1, *, k=1):
    cell = 1
    def inner():
        return cell
    return (1, a, b, k, inner())

def gen():
    yield 1

@tagged
def decorated(a=1):
    return (1, a)

def reads_limit():
    return LIMIT

def raiser():
    raise ValueError(1)

class Base:
    ATTR = 1

    def method(self, a=1):
        return (1, a)

    @classmethod
    def cm(cls):
        return 1

    @staticmethod
    def sm():
        return 1

    @property
    def prop(self):
        return 1

    def __len__(self):
        return 1

    def inherited(self):
        return 1

class Sub(Base):
    def method(self, a=1):
        return (1, a, super().method())
"""

V2 = """
import functools

LIMIT = 2

def tagged(fn):
    tag = 2
    scale = 2
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return (tag, scale, fn(*args, **kwargs))
    return wrapper

def f(a=2, *, k=2, j=2):
    cell, other = 2, 2
    def inner():
        return cell * other // 2
    return (2, a, k, j, inner())

def gen():
    return iter((2, 2))

@tagged
def decorated(a=2, b=2):
    return (2, a, b)

def reads_limit():
    return LIMIT

def raiser():
    raise ValueError(2)

class Base:
    ATTR = 2

    def method(self, a=2, b=2):
        return (2, a, b)

    @classmethod
    def cm(cls, a=2):
        return a

    @staticmethod
    def sm(*args):
        return 2

    @property
    def prop(self):
        return 2

    def __len__(self):
        return 2

    def inherited(self, *, a=2):
        return a

class Sub(Base):
    def method(self, a=2):
        return (2, a, super().method())
"""

SOURCES = {1: V1, 2: V2}
VERSIONS = (1, 2)


def source(version):
    return SOURCES[version]


write("shared", source(VERSIONS[0]))
import shared

# References taken before any reload, as a running program holds them.
f = shared.f
gen = shared.gen
decorated = shared.decorated
reads_limit = shared.reads_limit
raiser = shared.raiser
obj = shared.Base()
sub = shared.Sub()
bound = obj.method
partial = functools.partial(shared.f, "fixed")

sequence = [0]  # odd while a reload runs
stop = threading.Event()
failures = []
calls = [0] * THREADS
overlapped = [0] * THREADS  # probes that a reload overlapped


def probe():
    """One observation: (version seen, parts) where each part is what one
    function object answered."""
    try:
        raiser()
    except ValueError as error:
        raised = error.args[0]
    else:
        raise AssertionError("raiser() returned")
    by_partial = partial()
    parts = {
        "f": f(),
        "gen": tuple(gen()),
        "partial": by_partial[:1] + by_partial[2:],
        "decorated": decorated(),
        "bound": bound(),
        "method": obj.method(),
        "sub": sub.method(),
        "cm": shared.Base.cm(),
        "sm": obj.sm(),
        "prop": obj.prop,
        "len": len(obj),
        "inherited": sub.inherited(),
        "limit": reads_limit(),
        "global": shared.LIMIT,
        "attr": sub.ATTR,
        "raised": raised,
    }
    return parts


def objects(name, part):
    """What each function object involved answered: a wrapper and what it
    wraps, or a method and the one super() reaches, are two objects, and a
    reload may fall between them."""
    if name == "decorated":
        return [part[:-1], part[-1]]
    if name == "sub":
        return [part[:2], part[2]]
    return [part if isinstance(part, tuple) else (part,)]


def worker(index):
    try:
        while not stop.is_set():
            before = sequence[0]
            parts = probe()
            after = sequence[0]
            calls[index] += 1
            overlapped[index] += before != after or before % 2 == 1
            # A pause of 10 us between probes of some twenty calls: without it
            # the main thread waits for eight threads at every preemption
            # and a thousand reloads take a minute on 3.9.
            time.sleep(1e-5)
            seen = set()
            for name, part in parts.items():
                for answer in objects(name, part):
                    if len(set(answer)) != 1:
                        failures.append(f"thread {index}: {name} mixed versions: {part!r}")
                    seen.update(answer)
            if before == after and before % 2 == 0:
                expected = VERSIONS[(before // 2) % 2]
                if seen != {expected}:
                    failures.append(
                        f"thread {index}: no reload overlapped, expected version "
                        f"{expected} everywhere, saw {parts!r}")
            if len(failures) > 20:
                stop.set()
    except BaseException:
        failures.append(f"thread {index}: " + traceback.format_exc())
        stop.set()


sys.setswitchinterval(1e-5)  # preempt as often as the interpreter can
threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
for thread in threads:
    thread.start()
reloads = 0
try:
    for n in range(1, RELOADS + 1):
        if stop.is_set():
            break
        write("shared", source(VERSIONS[n % 2]))
        sequence[0] += 1
        hotreload.reload(shared)
        sequence[0] += 1
        reloads += 1
finally:
    stop.set()
    for thread in threads:
        thread.join()
assert not failures, "\n".join(failures[:20])
assert reloads == RELOADS, reloads
assert all(calls), calls
assert shared.f is f and type(obj) is shared.Base
print(reloads, sum(calls), min(calls), sum(overlapped))
'''


def test_eight_threads_call_while_the_main_thread_reloads_a_thousand_times(isolated):
    out = isolated(f"THREADS, RELOADS = {THREADS}, {RELOADS}\n" + SCENARIO, timeout=600)
    reloads, probes, fewest, overlapped = map(int, out.split())
    assert reloads == RELOADS
    # Every thread ran, and many probes ran while a reload was under way
    # (preempted mid-reload, or mid-probe by a whole reload).
    assert fewest > 0 and probes >= RELOADS, (probes, fewest)
    assert overlapped >= RELOADS // 10, (overlapped, probes)
