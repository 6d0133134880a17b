"""Statements whose text changed more than their meaning (shape.c).

A statement that only a formatter changed (quotes, line breaks inside
brackets, parentheses) does not run again; a class whose statement changed
only inside the bodies of its methods is not made again: those methods take
their new code.  Each test compares with what a fresh import of the edited
text makes, or with how often it runs code at import.
"""
import inspect
import sys
import textwrap
import traceback

import pytest

import hotreload


def fresh(source):
    """The namespace the edited text makes in a fresh process."""
    namespace = {"__name__": "fresh"}
    exec(textwrap.dedent(source), namespace)
    return namespace


SIX_TAIL = """
    import sys

    class Finder:
        def find_spec(self, name, path, target=None):
            return None

    _finder = Finder()
    for i, f in enumerate(sys.meta_path):
        if {condition}:
            del sys.meta_path[i]
            break
    sys.meta_path.append(_finder)
"""


def test_a_reformatted_statement_that_acts_does_not_run_again(workspace):
    # six ends this way: a changed loop taking the finder out, run again
    # without the unchanged append after it, left sys.meta_path without it.
    m = workspace.load("m", SIX_TAIL.format(condition="type(f).__name__ == 'Finder'"))
    try:
        workspace.edit("m", SIX_TAIL.format(condition='(type(f).__name__ ==\n                "Finder")'))
        hotreload.reload(m)
        finders = [f for f in sys.meta_path if type(f).__name__ == "Finder"]
        assert finders == [m._finder]
    finally:
        sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "Finder"]


def test_a_statement_whose_tree_changed_runs_again(workspace):
    m = workspace.load("m", """
        LOG = []
        LOG.append(1)
    """)
    workspace.edit("m", """
        LOG = []
        LOG.append(1.0)
    """)
    hotreload.reload(m)
    # 1 and 1.0 are equal, yet another constant: the statement changed.
    assert m.LOG == [1, 1.0] and type(m.LOG[1]) is float


def test_a_reformatted_statement_that_makes_a_sentinel_keeps_the_live_one(workspace):
    # jinja2.utils: running it again made a second sentinel, which the
    # values the first run stored are not.
    m = workspace.load("m", """
        missing = type("MissingType", (), {"__repr__": lambda x: "missing"})()

        class Loop:
            _after = missing

            def done(self):
                return self._after is missing
    """)
    live = m.missing
    workspace.edit("m", """
        missing = type(
            'MissingType', (), {'__repr__': lambda x: 'missing'}
        )()

        class Loop:
            _after = missing

            def done(self):
                return (self._after is missing)
    """)
    hotreload.reload(m)
    assert m.missing is live and m.Loop().done() is True


METACLASS_LOCKED = """
    class Meta(type):
        made = 0

        def __new__(mcs, name, bases, ns):
            mcs.made += 1
            return super().__new__(mcs, name, bases, ns)

    class Node(metaclass=Meta):
        def value(self):
            return {v}

    def _failing_new(*args, **kwargs):
        raise TypeError("can't create custom node types")

    Meta.__new__ = staticmethod(_failing_new)
    del _failing_new
"""


def test_a_method_body_of_a_class_whose_metaclass_locked_itself_after_use(workspace):
    # jinja2.nodes ends this way: making the class again is refused.
    m = workspace.load("m", METACLASS_LOCKED.format(v=1))
    node = m.Node()
    live = m.Node
    workspace.edit("m", METACLASS_LOCKED.format(v=2))
    report = hotreload.reload(m)
    assert m.Node is live and node.value() == 2
    assert f"{m.__name__}.Node.value" in report.updated
    assert m.Meta.made == 1


def test_a_method_body_edit_does_not_run_init_subclass_or_the_metaclass_again(workspace):
    source = """
        REGISTRY = []

        class Base:
            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                REGISTRY.append(cls.__name__)

        class Plugin(Base):
            def run(self):
                return "{v}"
    """
    m = workspace.load("m", source.format(v="old"))
    registry = m.REGISTRY
    workspace.edit("m", source.format(v="new"))
    hotreload.reload(m)
    assert m.REGISTRY is registry and registry == fresh(source.format(v="new"))["REGISTRY"]
    assert m.Plugin().run() == "new" and m.Base.__subclasses__() == [m.Plugin]


def test_property_accessors_are_told_apart_by_their_lines(workspace):
    source = """
        class Box:
            def __init__(self):
                self._v = 0

            @property
            def v(self):
                return self._v

            @v.setter
            def v(self, value):
                self._v = value * {k}
    """
    m = workspace.load("m", source.format(k=1))
    box, getter = m.Box(), m.Box.v.fget
    workspace.edit("m", source.format(k=10))
    hotreload.reload(m)
    box.v = 2
    assert box.v == 20 and m.Box.v.fget is getter


def test_methods_keep_their_live_defaults_cells_and_marks(workspace):
    source = """
        import abc

        _marker = object()

        class Base(abc.ABC):
            @abc.abstractmethod
            def area(self):
                return {v}

            def get(self, key, default=_marker):
                return default is _marker

        class Square(Base):
            def area(self):
                return super().area() + 1
    """
    m = workspace.load("m", source.format(v=1))
    get, area = m.Base.get, m.Square.area
    workspace.edit("m", source.format(v=10))
    hotreload.reload(m)
    assert m.Square().area() == 11 and m.Square.area is area
    assert m.Base.get is get and m.Square().get("k") is True
    assert m.Base.__abstractmethods__ == frozenset({"area"})
    with pytest.raises(TypeError):
        m.Base()


def test_a_later_statement_that_runs_sees_the_new_methods(workspace):
    source = """
        class Config:
            def label(self):
                return "{v}"

        DEFAULT = Config().label() + "{tail}"
    """
    m = workspace.load("m", source.format(v="old", tail=""))
    workspace.edit("m", source.format(v="new", tail="!"))
    hotreload.reload(m)
    assert m.DEFAULT == "new!" == fresh(source.format(v="new", tail="!"))["DEFAULT"]


def test_a_method_that_starts_using_super_makes_the_class_again(workspace):
    m = workspace.load("m", """
        class A:
            def f(self):
                return 1

        class B(A):
            def f(self):
                return 2
    """)
    b = m.B()
    workspace.edit("m", """
        class A:
            def f(self):
                return 1

        class B(A):
            def f(self):
                return super().f() + 10
    """)
    hotreload.reload(m)
    assert b.f() == 11


def test_a_reformatted_method_takes_its_new_lines(workspace):
    m = workspace.load("m", """
        class C:
            def f(self, a, b):
                raise ValueError(a)
    """)
    workspace.edit("m", """
        class C:
            def f(self,
                  a,
                  b):
                raise ValueError(
                    a)
    """)
    hotreload.reload(m)
    with pytest.raises(ValueError) as info:
        m.C().f(1, 2)
    assert traceback.extract_tb(info.tb)[-1].lineno == 6
    assert inspect.getsource(m.C.f).splitlines()[0].strip() == "def f(self,"


def test_method_bodies_of_a_module_reloaded_with_the_module_it_imports(workspace):
    workspace.write("base", """
        def helper():
            return 1
    """)
    m = workspace.load("m", """
        from $base import helper

        class C:
            def f(self):
                return helper()
    """)
    base = sys.modules[workspace.name("base")]
    c = m.C()
    workspace.edit("base", """
        def helper():
            return 10
    """)
    workspace.edit("m", """
        from $base import helper

        class C:
            def f(self):
                return helper() + 1
    """)
    report = hotreload.reload(base, m)
    assert c.f() == 11 and f"{m.__name__}.C.f" in report.updated


def test_a_changed_method_docstring_behind_a_wrapper_makes_the_class_again(workspace):
    source = """
        import functools

        class C:
            @functools.lru_cache(maxsize=None)
            def f(self):
                {doc}
                return 1
    """
    m = workspace.load("m", source.format(doc="pass"))
    workspace.edit("m", source.format(doc='"""Computes one."""'))
    hotreload.reload(m)
    assert m.C.f.__doc__ == "Computes one." == fresh(source.format(doc='"""Computes one."""'))["C"].f.__doc__


def test_a_function_local_named_like_a_deleted_name_runs_nothing_else(workspace):
    # six: `for attr in _moved_attributes: ...; del attr`, and later a def
    # whose body loops `for attr in assigned`.  Running that def again does
    # not read the module's `attr`, so the loop that bound it stays put.
    source = """
        REGISTERED = []
        for attr in ("a", "b"):
            REGISTERED.append(attr)
        del attr

        def update_wrapper(wrapper, wrapped, assigned=("__doc__",)):
            for attr in assigned:
                setattr(wrapper, attr, getattr(wrapped, attr))
            return {v}
    """
    m = workspace.load("m", source.format(v="wrapper"))
    workspace.edit("m", source.format(v="wrapper if wrapper else None"))
    hotreload.reload(m)
    assert m.REGISTERED == fresh(source.format(v="wrapper"))["REGISTERED"] == ["a", "b"]
    assert not hasattr(m, "attr")


# six's `_SixMetaPathImporter`: a table of the modules it knows.
IMPORTER = """
    class Importer:
        def __init__(self):
            self.known = {{}}

        def add(self, obj, *names):
            for name in names:
                self.known[name] = obj
"""


def test_a_statement_acting_again_on_a_table_is_followed_by_the_later_ones(workspace):
    # six: a loop registers each moved module in `_importer`, and further
    # down some entries are registered again with the real lazy module.
    # When the loop runs again (its list changed), the later registration
    # runs again too, or the table ends with the loop's entry.
    source = IMPORTER + """
    _importer = Importer()
    _moved = {moved}
    for attr in _moved:
        _importer.add("moved:" + attr, attr)
    del attr
    _importer.add("lazy", "b")
"""
    m = workspace.load("m", source.format(moved='["a", "b"]'))
    importer = m._importer
    workspace.edit("m", source.format(moved='["a", "b", "c"]'))
    hotreload.reload(m)
    expected = fresh(source.format(moved='["a", "b", "c"]'))["_importer"].known
    assert m._importer is importer and importer.known == expected
    assert expected == {"a": "moved:a", "b": "lazy", "c": "moved:c"}


def test_a_module_acted_on_is_not_an_object_of_this_module(workspace):
    # `sys.path.append(...)` acts on an imported module: a changed statement
    # acting on sys does not make every other one acting on it run again.
    source = """
        import sys
        sys.path.append("/hr-shapes-{v}")
        sys.path.append("/hr-shapes-unchanged")
    """
    try:
        m = workspace.load("m", source.format(v=1))
        workspace.edit("m", source.format(v=2))
        hotreload.reload(m)
        assert sys.path.count("/hr-shapes-unchanged") == 1
        assert sys.path.count("/hr-shapes-2") == 1
    finally:
        sys.path[:] = [p for p in sys.path if not p.startswith("/hr-shapes-")]


def test_a_refused_reload_puts_back_what_a_statement_that_ran_put_in_a_table(workspace):
    source = """
        TABLE = {{"a": 1}}
        HANDLERS = []
        TABLE["b"] = {v}
        HANDLERS.append({v})
        {tail}
    """
    m = workspace.load("m", source.format(v=2, tail=""))
    table, handlers = dict(m.TABLE), list(m.HANDLERS)
    workspace.edit("m", source.format(v=3, tail="raise RuntimeError('refused')"))
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload(m)
    assert m.TABLE == table and m.HANDLERS == handlers


def test_a_loop_acting_on_a_table_runs_again_after_a_new_act_before_it(workspace):
    source = """
        TABLE = {{}}
        {first}
        for _key in ["b", "d"]:
            TABLE[_key] = 4
    """
    m = workspace.load("m", source.format(first=""))
    workspace.edit("m", source.format(first='TABLE["d"] = 2'))
    hotreload.reload(m)
    assert m.TABLE == fresh(source.format(first='TABLE["d"] = 2'))["TABLE"] == {"b": 4, "d": 4}


LAZY_REGISTRY = """
    import types

    class Lazy(types.ModuleType):
        pass

    class Attr:
        # six's MovedAttribute: resolves once, then deletes itself from the
        # class, so only the first instance of Lazy ever resolves it.
        def __get__(self, obj, tp):
            setattr(obj, "x", 42)
            delattr(obj.__class__, "x")
            return 42

    Lazy.x = Attr()
""" + IMPORTER + """
    _importer = Importer()
    MOVED = {moved}
    for _name in MOVED:
        _importer.add("moved", _name)
    _importer.add(Lazy("a"), "a", "a.alias")
    {tail}
"""


def test_a_statement_acting_again_keeps_the_live_object_it_made(workspace):
    # six 1.16 -> 1.17: the loop runs again (its list changed), so the later
    # registration runs again; the lazy module it makes again must not
    # replace the live one, whose class already gave up its descriptor.
    m = workspace.load("m", LAZY_REGISTRY.format(moved='["a", "b"]', tail=""))
    lazy = m._importer.known["a"]
    assert lazy.x == 42
    workspace.edit("m", LAZY_REGISTRY.format(moved='["a", "b", "c"]', tail=""))
    hotreload.reload(m)
    expected = fresh(LAZY_REGISTRY.format(moved='["a", "b", "c"]', tail=""))["_importer"].known
    assert sorted(m._importer.known) == sorted(expected) == ["a", "a.alias", "b", "c"]
    assert m._importer.known["a"] is lazy and m._importer.known["a.alias"] is lazy
    assert m._importer.known["a"].x == 42
    assert m._importer.known["b"] == m._importer.known["c"] == "moved"


def test_a_refused_reload_puts_back_what_a_statement_put_in_an_objects_table(workspace):
    m = workspace.load("m", LAZY_REGISTRY.format(moved='["a", "b"]', tail=""))
    known = dict(m._importer.known)
    workspace.edit("m", LAZY_REGISTRY.format(moved='["a", "b", "c"]', tail="raise RuntimeError('refused')"))
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload(m)
    assert m._importer.known == known
    assert all(m._importer.known[k] is v for k, v in known.items())


@pytest.mark.parametrize("before, after", [
    ("", 'for _key in ["a", "c"]:\n            TABLE[_key] = Box(2)'),
    ('for _key in ["a", "c"]:\n            TABLE[_key] = Box(2)',
     'for _key in ["a", "c"]:\n            TABLE[_key] = Box(3)'),
], ids=["new-loop-before", "changed-loop-before"])
def test_a_later_loop_over_the_same_variable_keeps_the_boxes_it_made(workspace, before, after):
    # An unchanged loop over `_key` after a new or changed loop over `_key`:
    # it reads only the `_key` it binds itself, so nothing it reads changed;
    # it runs again (it acts on TABLE after the other one, and binds `_key`
    # last), and the boxes it makes again give way to the live ones.
    source = """
        class Box:
            def __init__(self, n):
                self.n = n

        TABLE = {{}}
        {first}
        for _key in ["a", "b"]:
            TABLE[_key] = Box(1)
    """
    m = workspace.load("m", source.format(first=before))
    boxes = dict(m.TABLE)
    workspace.edit("m", source.format(first=after))
    hotreload.reload(m)
    expected = fresh(source.format(first=after))
    assert {k: v.n for k, v in m.TABLE.items()} == {k: v.n for k, v in expected["TABLE"].items()}
    assert m.TABLE["a"] is boxes["a"] and m.TABLE["b"] is boxes["b"]
    assert m._key == expected["_key"] == "b"


def test_a_refused_reload_puts_back_what_a_statement_put_in_a_nested_table(workspace):
    source = """
        REG = {{"handlers": {{}}, "order": []}}
        REG["handlers"]["a"] = {v}
        REG["order"].append({v})
        {tail}
    """
    m = workspace.load("m", source.format(v=1, tail=""))
    workspace.edit("m", source.format(v=2, tail="raise RuntimeError('refused')"))
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload(m)
    assert m.REG == {"handlers": {"a": 1}, "order": [1]}
