"""Generator of a game-like module, and of a live heap to go with it.

The benchmarks need a module that looks like the code of a real game server:
many module-level functions that call each other, many classes with ordinary
methods, a property, a classmethod and a staticmethod, and module-level data.
`generate(version)` writes the source text of such a module.  Every function
and method body contains a constant derived from `version` (see `_k`), which
enters its result: going from one version to another is a real edit of every
body, and a test can tell which version of a body ran.

`build_heap(modules)` fills the running process with live objects: instances of
the module's classes (what a reload must keep working) and a much larger number
of unrelated, gc-tracked objects (what an engine that walks the heap must wade
through).

``python bench/gamegen.py VERSION`` prints the source of one version.

Sizes (defaults):
    N_FUNCS     module-level functions ``func_0 .. func_199``
    N_CLASSES   classes ``Entity_0 .. Entity_49``, each with:
                ``__init__``, the 10 methods of `METHODS`, the property
                ``power``, the classmethod ``scaled`` and the staticmethod
                ``rule``
    N_DATA      entries of the module-level list ``LEVEL_DATA`` (and of the
                dict ``CONFIG``), which a reload must keep as the same objects
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field

N_FUNCS = 200
N_CLASSES = 50
N_DATA = 300
N_INSTANCES = 100_000
N_OBJECTS = 1_000_000

# The 10 ordinary methods of every class.
METHODS = (
    "update", "move", "damage", "heal", "think",
    "score", "collide", "render_key", "tick", "serialize_key",
)


def edited_bodies(n_funcs: int = N_FUNCS, n_classes: int = N_CLASSES) -> int:
    """How many bodies differ between two versions: every function, and per
    class ``__init__``, the methods, the property, classmethod and staticmethod."""
    return n_funcs + n_classes * (len(METHODS) + 4)


def _k(version: int, salt: int) -> int:
    """The constant written into one body: distinct per body and per version."""
    return version * 7919 + salt


def generate(
    version: int,
    *,
    n_funcs: int = N_FUNCS,
    n_classes: int = N_CLASSES,
    n_data: int = N_DATA,
    func0_version: int | None = None,
    hooks: bool = False,
) -> str:
    """Return the source text of the game module at `version`.

    Every function and method body depends on `version`.  If `func0_version`
    is given, ``func_0`` alone uses that version instead: two sources that
    differ only in `func0_version` differ in exactly one function body (the
    "one body edited" scenario).

    The data (``LEVEL_DATA``, ``CONFIG``) does not depend on the version.
    With `hooks`, every class defines ``__reload_instance__`` (it records the
    version on the instance: ``self.migrated``), for the instance-hook pass.
    """
    out: list[str] = [
        '"""Generated game module (see bench/gamegen.py)."""',
        "import math",
        "",
        "LEVEL_DATA = [",
    ]
    out += [f"    ({i}, 'tile_{i}', {i * 0.5}, {i % 7})," for i in range(n_data)]
    out += ["]", "", "CONFIG = {"]
    out += [f"    'key_{i}': {i * 3}," for i in range(n_data)]
    out += ["}", ""]

    for i in range(n_funcs):
        v = func0_version if (i == 0 and func0_version is not None) else version
        out += _function(i, _k(v, i))

    for c in range(n_classes):
        out += _class(c, version, n_funcs, hooks)

    out += [
        "",
        f"CLASSES = [{', '.join(f'Entity_{c}' for c in range(n_classes))}]",
        "",
    ]
    return "\n".join(out)


def _function(i: int, k: int) -> list[str]:
    """Source lines of ``func_i``: a few lines of arithmetic; one in four
    functions also calls the previous one (chains are at most 4 long)."""
    lines = [
        "",
        "",
        f"def func_{i}(x, y=3):",
        f'    """Game rule {i}."""',
        f"    a = x * {i % 13 + 2} + y",
        f"    b = (a ^ {i * 31 % 256}) % 1009",
        f"    c = b + {k}",
        "    d = c * 2 - a if c > a else a - c",
    ]
    if i % 4 != 0:
        lines.append(f"    d += func_{i - 1}(x % 97, y + 1) % 1000")
    if i % 10 == 3:
        lines.append("    d += int(math.sqrt(abs(d)))")
    lines.append("    return d")
    return lines


def _class(c: int, version: int, n_funcs: int, hooks: bool = False) -> list[str]:
    """Source lines of class ``Entity_c``.  Methods read instance attributes,
    some call the previous method or a module-level function."""
    salt = 100_000 + c * 100
    lines = [
        "",
        "",
        f"class Entity_{c}:",
        f'    """Game entity of kind {c}."""',
        "",
        f"    KIND = {c}",
        f"    BASE = {c % 9 + 1}",
        "",
        "    def __init__(self, ident):",
        "        self.ident = ident",
        f"        self.hp = 100 + ident % {c + 7}",
        "        self.x = float(ident % 1000)",
        "        self.y = 0.0",
        f"        self.level = {_k(version, salt) % 5 + 1}",
    ]
    if hooks:
        lines += [
            "",
            "    def __reload_instance__(self):",
            f"        self.migrated = {version}",
        ]
    for m, name in enumerate(METHODS):
        k = _k(version, salt + 1 + m)
        lines += [
            "",
            f"    def {name}(self, dt=1):",
            f"        v = self.hp * {m + 2} + dt + {k}",
            f"        w = (v * {c + 3}) % 10007",
        ]
        if m % 3 == 1:
            lines.append(f"        w += self.{METHODS[m - 1]}(dt) % 100")
        if m % 3 == 2:
            lines.append(f"        w += func_{(c * 7 + m) % n_funcs}(self.ident % 50) % 100")
        lines.append("        return w + self.level")
    lines += [
        "",
        "    @property",
        "    def power(self):",
        f"        return self.hp * self.level + {_k(version, salt + 20)}",
        "",
        "    @classmethod",
        "    def scaled(cls, n):",
        f"        return n * cls.BASE + {_k(version, salt + 21)}",
        "",
        "    @staticmethod",
        "    def rule(a, b):",
        f"        return (a * b + {_k(version, salt + 22)}) % 9973",
    ]
    return lines


# --------------------------------------------------------------------------
# A package of small modules


def generate_small(index: int, version: int = 0) -> str:
    """Return the source of small module `index` of a package, at `version`:
    module data (``TABLE``, a list the reload must keep), five functions
    (``helper_0 .. helper_4``, the later ones calling the earlier ones) and a
    class ``Thing`` of three methods, about 45 lines.  Every body depends on
    `version`, as in `generate`."""
    k = _k(version, index)
    out = [
        f'"""Generated small module {index} of a package (see bench/gamegen.py)."""',
        "import math",
        "",
        f"TABLE = [(j, 'item_{index}_' + str(j)) for j in range({index % 7 + 5})]",
        f"LIMIT = {index % 17 + 3}",
    ]
    for f in range(5):
        out += ["", "", f"def helper_{f}(x):", f"    y = x * {f + 2} + {k + f}"]
        if f:
            out.append(f"    y += helper_{f - 1}(x % 11)")
        out.append("    return y % 100003")
    out += [
        "",
        "",
        "class Thing:",
        "    def __init__(self, v):",
        "        self.v = v",
        "",
        "    def value(self):",
        f"        return self.v * LIMIT + {k}",
        "",
        "    def describe(self):",
        f"        return 'thing %d of {index}' % self.value()",
        "",
        "    def norm(self):",
        f"        return int(math.sqrt(abs(self.value()))) + {k % 97}",
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------
# The live heap


class Blob:
    """An unrelated, gc-tracked object of the kind any program has plenty of."""

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.name = "blob"


@dataclass
class Heap:
    """Live objects kept alive for the whole benchmark.

    objects:   unrelated gc-tracked objects (small lists, dicts, `Blob`s).
    instances: per game module (by key), its live instances.
    """

    objects: list
    instances: dict = field(default_factory=dict)


def build_instances(module, n: int = N_INSTANCES) -> list:
    """`n` live instances of `module.CLASSES`, spread evenly over the classes.
    Instance ``i`` is of class ``CLASSES[i % len(CLASSES)]`` with ident ``i``."""
    classes = module.CLASSES
    nc = len(classes)
    return [classes[i % nc](i) for i in range(n)]


def build_objects(n: int = N_OBJECTS) -> list:
    """`n` unrelated live objects, all gc-tracked: a third small lists, a third
    dicts (holding a list, so that CPython does not untrack them), a third
    instances of `Blob`."""
    shared: list = []
    objects: list = [None] * n
    for i in range(n):
        r = i % 3
        if r == 0:
            objects[i] = [i, i + 1]
        elif r == 1:
            objects[i] = {"id": i, "tags": shared}
        else:
            objects[i] = Blob(i)
    return objects


def build_heap(modules: dict, n_instances: int = N_INSTANCES, n_objects: int = N_OBJECTS,
               settle: bool = True) -> Heap:
    """Build the live heap, once per process.

    `modules` maps a key to a generated module; each module gets `n_instances`
    instances of its own classes, so that every reloaded module sees the same
    heap.  With `settle`, collects garbage at the end so that timings start
    from a settled heap; without (a program under gc.disable()), what was
    made stays in the collector's youngest generation.
    """
    heap = Heap(objects=build_objects(n_objects))
    for key, mod in modules.items():
        heap.instances[key] = build_instances(mod, n_instances)
    if settle:
        gc.collect()
    return heap


def count_tracked(objects, sample: int = 3000) -> float:
    """Fraction of gc-tracked objects in an evenly spaced sample of `objects`."""
    step = max(1, len(objects) // sample)
    picked = objects[::step]
    return sum(gc.is_tracked(o) for o in picked) / max(1, len(picked))


if __name__ == "__main__":
    import sys

    print(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
