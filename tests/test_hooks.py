"""Class and instance hooks, called after the commit.

    __reload_class__(cls)     once per patched class (a classmethod, or a
                              plain function taking the class)
    __reload_instance__(self) once on every live instance of a patched class
                              and of its subclasses, in any module

Hooks record what they see in `$events`; the tests count those records
(per instance, by id) and compare them with `report.instances` and
`report.classes`.  A raising hook undoes the whole reload (Snapshot).
"""
import collections

import pytest

import hotreload

UNIT_V1 = """
    import $events

    class Unit:
        VERSION = 1

        def __init__(self, name):
            self.name = name

        def attack(self):
            return 1

        @classmethod
        def __reload_class__(cls):
            $events.record(("class", cls.__name__, cls.VERSION))

        def __reload_instance__(self):
            $events.record(("instance", id(self), self.attack()))
"""


def records(workspace, kind):
    """The `$events` records of one kind, without their tag."""
    return [event[1:] for event in workspace.events.EVENTS
            if isinstance(event, tuple) and event[0] == kind]


def instance_calls(workspace):
    """How many times the instance hook ran, per instance id."""
    return collections.Counter(event[0] for event in records(workspace, "instance"))


def bump(source):
    """UNIT_V1-like source with a changed class body (VERSION and attack)."""
    return source.replace("VERSION = 1", "VERSION = 2").replace("return 1", "return 2")


# -- __reload_class__ ----------------------------------------------------------

def test_class_hook_classmethod_runs_once_after_the_commit(workspace):
    m = workspace.load("a", UNIT_V1)
    unit_cls = m.Unit
    workspace.edit("a", bump(UNIT_V1))
    hotreload.reload(m)
    assert records(workspace, "class") == [("Unit", 2)], (
        "once, with the live class, after the new data is in it")
    assert m.Unit is unit_cls


def test_class_hook_as_a_plain_function_gets_the_live_class(workspace):
    source = """
        import $events

        class Unit:
            VERSION = 1

            def __reload_class__(cls):
                $events.record(("class", cls, cls.VERSION))
    """
    m = workspace.load("a", source)
    workspace.edit("a", bump(source))
    hotreload.reload(m)
    assert records(workspace, "class") == [(m.Unit, 2)]


def test_class_hook_runs_only_for_patched_classes(workspace):
    """Subclasses inherit the hook; only those whose statement changed are
    patched, so only theirs runs."""
    source = """
        import $events

        class Hooked:
            @classmethod
            def __reload_class__(cls):
                $events.record(("class", cls.__name__))

        class Changed(Hooked):
            def f(self):
                return "f1"

        class Unchanged(Hooked):
            def g(self):
                return "g1"

        class AlsoChanged(Hooked):
            def h(self):
                return "h1"
    """
    m = workspace.load("a", source)
    workspace.edit("a", source.replace('"f1"', '"f2"').replace('"h1"', '"h2"'))
    hotreload.reload(m)
    assert m.Changed().f() == "f2" and m.AlsoChanged().h() == "h2"
    assert sorted(records(workspace, "class")) == [("AlsoChanged",), ("Changed",)]


def test_class_hook_added_by_the_reload_runs_in_that_reload(workspace):
    m = workspace.load("a", """
        class Registry:
            def names(self):
                return []
    """)
    workspace.edit("a", """
        class Registry:
            def names(self):
                return sorted(self.known)

            @classmethod
            def __reload_class__(cls):
                if not hasattr(cls, "known"):
                    cls.known = {"initialised by the hook"}
    """)
    hotreload.reload(m)
    assert m.Registry.known == {"initialised by the hook"}
    assert m.Registry().names() == ["initialised by the hook"]


def test_no_hook_runs_when_the_class_did_not_change(workspace):
    source = UNIT_V1 + """
    def f():
        return 1
    """
    m = workspace.load("a", source)
    keep = [m.Unit("a"), m.Unit("b")]
    workspace.edit("a", source.replace("def f():\n        return 1", "def f():\n        return 2"))
    report = hotreload.reload(m)
    assert m.f() == 2
    assert records(workspace, "class") == []
    assert records(workspace, "instance") == []
    assert report.instances == {}
    assert all(unit.attack() == 1 for unit in keep)


# -- __reload_instance__ -------------------------------------------------------

def test_instance_hook_runs_once_on_every_live_instance(workspace):
    m = workspace.load("a", UNIT_V1)
    in_list = [m.Unit(f"unit{i}") for i in range(5)]
    in_dict = {"boss": m.Unit("boss")}
    holder = m.Unit("holder")
    holder.pet = m.Unit("pet")
    expected = [id(u) for u in in_list + [in_dict["boss"], holder, holder.pet]]
    workspace.edit("a", bump(UNIT_V1))
    report = hotreload.reload(m)
    calls = instance_calls(workspace)
    assert sorted(calls) == sorted(expected), "every live instance, and nothing else"
    assert set(calls.values()) == {1}, "exactly once each"
    assert {event[1] for event in records(workspace, "instance")} == {2}, (
        "the hook runs after the commit: the instance already runs the new code")
    assert report.instances == {f"{m.__name__}.Unit": len(expected)}


def test_instance_hook_reaches_instances_held_only_by_a_container(workspace):
    """Instances nobody names: only a tuple inside a list inside a closure."""
    m = workspace.load("a", UNIT_V1)

    def hidden():
        box = [(m.Unit("x"), m.Unit("y"))]
        return lambda: box

    getter = hidden()
    ids = [id(u) for u in getter()[0]]
    workspace.edit("a", bump(UNIT_V1))
    report = hotreload.reload(m)
    assert instance_calls(workspace) == collections.Counter(ids)
    assert report.instances == {f"{m.__name__}.Unit": 2}


def test_instance_hook_on_slotted_instances(workspace):
    source = """
        import $events

        class Cell:
            __slots__ = ("value",)

            def __init__(self, value):
                self.value = value

            def get(self):
                return self.value

            def __reload_instance__(self):
                $events.record(("instance", id(self), self.get()))
    """
    m = workspace.load("a", source)
    cells = [m.Cell(i) for i in range(3)]
    workspace.edit("a", source.replace("return self.value", "return self.value * 10"))
    report = hotreload.reload(m)
    assert instance_calls(workspace) == collections.Counter(id(c) for c in cells)
    assert sorted(e[1] for e in records(workspace, "instance")) == [0, 10, 20]
    assert report.instances == {f"{m.__name__}.Cell": 3}


def test_instance_hook_runs_on_subclass_instances_in_other_modules(workspace):
    a = workspace.load("a", UNIT_V1)
    b = workspace.load("b", """
        from $a import Unit

        class Archer(Unit):
            def attack(self):
                return super().attack() * 100
    """)
    c = workspace.load("c", """
        from $b import Archer

        class Sniper(Archer):
            pass
    """)
    units = [a.Unit("u")]
    archers = [b.Archer("a1"), b.Archer("a2")]
    snipers = [c.Sniper("s")]
    workspace.edit("a", bump(UNIT_V1))
    report = hotreload.reload(a)
    calls = instance_calls(workspace)
    assert calls == collections.Counter(id(x) for x in units + archers + snipers)
    results = dict(records(workspace, "instance"))
    assert [results[id(x)] for x in units + archers + snipers] == [2, 200, 200, 200]
    assert report.instances == {
        f"{a.__name__}.Unit": 1,
        f"{b.__name__}.Archer": 2,
        f"{c.__name__}.Sniper": 1,
    }


def test_instance_hook_runs_once_when_base_and_subclass_are_both_patched(workspace):
    a = workspace.load("a", UNIT_V1)
    b = workspace.load("b", """
        from $a import Unit

        class Archer(Unit):
            RANGE = 1
    """)
    archers = [b.Archer("a1"), b.Archer("a2")]
    workspace.edit("a", bump(UNIT_V1))
    workspace.edit("b", """
        from $a import Unit

        class Archer(Unit):
            RANGE = 2
    """)
    report = hotreload.reload(a, b)
    assert b.Archer.RANGE == 2
    assert instance_calls(workspace) == collections.Counter(id(x) for x in archers)
    assert report.instances == {f"{b.__name__}.Archer": 2}


def test_instance_hook_added_by_the_reload_initialises_a_new_field(workspace):
    """The seed's use: the new code adds a field in __init__ and a hook that
    gives it to the instances made before."""
    m = workspace.load("a", """
        class Player:
            def __init__(self, name):
                self.name = name

            def status(self):
                return self.name
    """)
    old = [m.Player("ann"), m.Player("bob")]
    workspace.edit("a", """
        class Player:
            def __init__(self, name):
                self.name = name
                self.mana = 3

            def status(self):
                return "%s:%d" % (self.name, self.mana)

            def __reload_instance__(self):
                if not hasattr(self, "mana"):
                    self.mana = 0
    """)
    report = hotreload.reload(m)
    assert [p.status() for p in old] == ["ann:0", "bob:0"]
    assert m.Player("cid").status() == "cid:3"
    assert report.instances == {f"{m.__name__}.Player": 2}


def test_instance_hook_migrates_a_renamed_dataclass_field(workspace):
    m = workspace.load("a", """
        from dataclasses import dataclass

        @dataclass
        class Crate:
            label: str
            weight: int = 1
    """)
    old = [m.Crate("a", 3), m.Crate("b")]
    workspace.edit("a", """
        from dataclasses import dataclass

        @dataclass
        class Crate:
            label: str
            mass: int = 1

            def __reload_instance__(self):
                if "weight" in self.__dict__:
                    self.mass = self.__dict__.pop("weight")
    """)
    report = hotreload.reload(m)
    assert [repr(c) for c in old] == ["Crate(label='a', mass=3)", "Crate(label='b', mass=1)"]
    assert old[0] == m.Crate("a", 3)
    assert report.instances == {f"{m.__name__}.Crate": 2}


def test_instance_hook_runs_after_the_class_hook(workspace):
    m = workspace.load("a", UNIT_V1)
    keep = m.Unit("x")
    workspace.edit("a", bump(UNIT_V1))
    hotreload.reload(m)
    kinds = [event[0] for event in workspace.events.EVENTS if isinstance(event, tuple)]
    assert kinds == ["class", "instance"]
    assert keep.attack() == 2


def test_no_hook_means_empty_report_instances(workspace):
    source = """
        class Plain:
            def f(self):
                return 1
    """
    m = workspace.load("a", source)
    keep = [m.Plain() for _ in range(10)]
    workspace.edit("a", source.replace("return 1", "return 2"))
    report = hotreload.reload(m)
    assert report.instances == {}
    assert keep[0].f() == 2
    assert report.classes[f"{m.__name__}.Plain"]["instances"] == 0


# -- the report ------------------------------------------------------------------

def test_report_classes_groups_members_and_instances(workspace):
    source = UNIT_V1 + """
        def retired(self):
            return "retired"

        def stable(self):
            return "stable"
    """
    m = workspace.load("a", source)
    keep = [m.Unit("x"), m.Unit("y")]
    workspace.edit("a", bump(source).replace('''def retired(self):
            return "retired"''', '''def heal(self):
            return "heal"'''))
    report = hotreload.reload(m)
    name = f"{m.__name__}.Unit"
    entry = report.classes[name]
    assert sorted(entry) == ["added", "instances", "removed", "updated"]
    assert entry["added"] == ["heal"]
    assert entry["removed"] == ["retired"]
    assert "attack" in entry["updated"] and "stable" not in entry["updated"]
    assert entry["instances"] == 2 == report.instances[name]
    assert keep[0].heal() == "heal"


# -- hooks that raise ------------------------------------------------------------

@pytest.mark.parametrize("hook", ["class", "instance"])
def test_raising_hook_undoes_the_reload(workspace, hook):
    m = workspace.load("a", UNIT_V1 + """
    def version():
        return 1
    """)
    units = [m.Unit("a"), m.Unit("b"), m.Unit("c")]
    before = workspace.snapshot(m)
    new_source = bump(UNIT_V1 + """
    def version():
        return 1

    def added():
        return "added"
    """).replace("def version():\n        return 1", "def version():\n        return 2")
    if hook == "class":
        new_source = new_source.replace(
            '$events.record(("class", cls.__name__, cls.VERSION))',
            'raise RuntimeError("class hook failed")')
    else:
        new_source = new_source.replace(
            '$events.record(("instance", id(self), self.attack()))',
            '$events.record("instance")\n'
            '            if $events.count("instance") == 2:\n'
            '                raise RuntimeError("instance hook failed")')
    workspace.edit("a", new_source)
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(m)
    assert before.diff(workspace.snapshot(m)) == []
    assert m.version() == 1 and not hasattr(m, "added")
    assert m.Unit.VERSION == 1
    assert [u.attack() for u in units] == [1, 1, 1]
    err = info.value
    assert isinstance(err.__cause__, RuntimeError)
    assert f"{hook} hook failed" in str(err.__cause__)
    assert "Unit" in str(err) and f"__reload_{hook}__" in str(err)


@pytest.mark.parametrize("hook", ["class", "instance"])
def test_raising_hook_error_names_module_and_class(workspace, hook):
    """As for every ReloadError (test_transaction): .module is the module's
    name, .object the class's __qualname__ in it."""
    m = workspace.load("a", UNIT_V1)
    keep = m.Unit("a")
    workspace.edit("a", bump(UNIT_V1).replace(
        f'$events.record(("{hook}"', f'raise RuntimeError(("{hook}"'))
    with pytest.raises(hotreload.ReloadError) as info:
        hotreload.reload(m)
    assert info.value.module == m.__name__
    assert info.value.object == "Unit"
    assert keep.attack() == 1


def test_instance_hook_defined_only_on_a_subclass_runs_when_the_base_is_patched(workspace):
    """Instances of a subclass are instances of the patched base: the
    subclass's own hook runs on them, though the base has none."""
    m = workspace.load("a", """
        class Base:
            def value(self):
                return 1

        class Child(Base):
            def __reload_instance__(self):
                self.seen = getattr(self, "seen", 0) + 1
    """)
    child, base = m.Child(), m.Base()
    workspace.edit("a", """
        class Base:
            def value(self):
                return 2

        class Child(Base):
            def __reload_instance__(self):
                self.seen = getattr(self, "seen", 0) + 1
    """)
    report = hotreload.reload(m)
    assert child.value() == 2
    assert child.seen == 1
    assert not hasattr(base, "seen")
    assert report.instances == {f"{m.__name__}.Child": 1}
