"""Reloading the same edit again and again leaves no objects behind.

A missing Py_DECREF in the engine shows as tracked objects (sets, dicts,
functions) that nothing owns: their number grows with every reload."""
import gc
import os

import hotreload

V1 = """
import enum, dataclasses, functools

X = 1

def deco(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)
    return wrapper

@deco
def f(a):
    return a + 1

def make(n):
    def h(x):
        return x + n
    return h

H = make(1)

class C:
    v = 1
    def m(self):
        return 1
    def __reload_instance__(self):
        self.z = 1

class E(enum.Enum):
    A = 1

@dataclasses.dataclass
class D:
    x: int = 1
"""

V2 = (V1.replace("return a + 1", "return a + 2").replace("return x + n", "return x * n")
      .replace("        return 1\n    def __reload", "        return 2\n    def __reload")
      .replace("    A = 1", "    A = 1\n    B = 2").replace("x: int = 1", "x: int = 1\n    y: int = 2")
      .replace("X = 1", "X = 2"))


def test_no_objects_left_behind_by_repeated_reloads(workspace):
    m = workspace.load("leaky", V1)
    instances = [m.C() for _ in range(5)]
    path = m.__file__

    def cycle(count):
        for i in range(count):
            with open(path, "w") as f:
                f.write(V2 if i % 2 == 0 else V1)
            os.utime(path, (1_000_000 + i, 1_000_000 + i))
            hotreload.reload(m)

    cycle(20)  # warm-up: caches and interned names settle
    gc.collect()
    before = len(gc.get_objects())
    cycle(300)
    gc.collect()
    after = len(gc.get_objects())
    assert m.f(1) == 2 and instances[0].z == 1
    # A leak of even one object per reload would show as 300 here.
    assert after - before < 30, f"{after - before} objects left behind by 300 reloads"
