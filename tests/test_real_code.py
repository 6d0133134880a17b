"""Code people really write, reloaded as a fresh import would run it (issue 11)."""
import functools
import textwrap

import pytest

import hotreload
from hotreload import ReloadError


def test_class_alias_of_an_unchanged_member_binds_the_live_one(workspace):
    m = workspace.load("m", """
        class A:
            def __bool__(self):
                return True

            def m(self):
                return 1
    """)
    live_bool = m.A.__bool__
    workspace.edit("m", """
        class A:
            def __bool__(self):
                return True

            __nonzero__ = __bool__

            def m(self):
                return 2
    """)
    hotreload.reload(m)
    assert m.A().m() == 2
    assert m.A.__nonzero__ is m.A.__bool__ is live_bool


def test_module_alias_of_a_patched_function_binds_the_live_one(workspace):
    m = workspace.load("m", """
        def handler():
            return 1
    """)
    live = m.handler
    workspace.edit("m", """
        def handler():
            return 2

        DEFAULT_HANDLER = handler
    """)
    hotreload.reload(m)
    assert m.DEFAULT_HANDLER is live and live() == 2


@pytest.mark.parametrize("decorator", ["functools.lru_cache(maxsize=None)", "functools.cache"])
def test_a_cache_forgets_what_the_old_body_computed(workspace, decorator):
    if decorator == "functools.cache" and not hasattr(functools, "cache"):
        pytest.skip("functools.cache is new in 3.9")
    source = f"""
        import functools

        @{decorator}
        def f(x):
            return x

        class A:
            @{decorator}
            def m(self, x):
                return x
    """
    m = workspace.load("m", source)
    f, a = m.f, m.A()
    assert f(3) == 3 and a.m(3) == 3  # cached
    workspace.edit("m", source.replace("return x", "return x * 10"))
    hotreload.reload(m)
    assert m.f is f
    assert f(3) == 30 and a.m(3) == 30


def test_a_cache_whose_function_did_not_change_is_kept(workspace):
    m = workspace.load("m", """
        import functools

        @functools.lru_cache(maxsize=None)
        def f(x):
            return object()

        def g():
            return 1
    """)
    first = m.f(1)
    workspace.edit("m", """
        import functools

        @functools.lru_cache(maxsize=None)
        def f(x):
            return object()

        def g():
            return 2
    """)
    hotreload.reload(m)
    assert m.f(1) is first


def test_a_base_cpython_cannot_give_is_refused_with_the_reason(workspace):
    m = workspace.load("m", """
        class Mixin:
            def hello(self):
                return "hi"

        class F:
            pass
    """)
    snapshot = workspace.snapshot(m)
    workspace.edit("m", """
        class Mixin:
            def hello(self):
                return "hi"

        class F(Mixin):
            pass
    """)
    with pytest.raises(ReloadError) as caught:
        hotreload.reload(m)
    assert caught.value.object == "F"
    assert "whose only base is object" in str(caught.value)
    assert not snapshot.diff(workspace.snapshot(m))


def test_a_base_cpython_can_give_is_given(workspace):
    m = workspace.load("m", """
        class Base:
            pass

        class Mixin(Base):
            def hello(self):
                return "hi"

        class F(Base):
            pass
    """)
    f = m.F()
    workspace.edit("m", """
        class Base:
            pass

        class Mixin(Base):
            def hello(self):
                return "hi"

        class F(Mixin):
            pass
    """)
    hotreload.reload(m)
    assert f.hello() == "hi" and isinstance(f, m.Mixin)


def test_a_rerun_statement_sees_a_name_the_module_deletes_later(workspace):
    # difflib does this: `import re`, a def whose default reads re, `del re`.
    source = """
        import re

        def is_junk(line, pat=re.compile(r"\\s*#?$$").match):
            return pat(line) is not None

        del re
    """
    m = workspace.load("m", source)
    live = m.is_junk
    workspace.edit("m", source.replace("return pat(line) is not None",
                                       "return bool(pat(line)) and 'junk'"))
    hotreload.reload(m)
    assert live is m.is_junk and live("   #") == "junk" and live("x") is False
    assert not hasattr(m, "re")  # deleted again


def test_a_deleted_helper_name_stays_deleted(workspace):
    source = """
        def _make(n):
            return lambda: n

        ONE = _make(1)
        del _make
    """
    m = workspace.load("m", source)
    workspace.edit("m", source.replace("ONE = _make(1)", "ONE = _make(1)\n        TWO = _make(2)"))
    hotreload.reload(m)
    assert m.ONE() == 1 and m.TWO() == 2
    assert not hasattr(m, "_make")


def test_aliases_of_a_deleted_function_run_its_new_code(workspace):
    source = """
        import $events

        def _f():
            return 1

        x = y = _f
        $events.record("aliased")
        del _f
    """
    m = workspace.load("m", source)
    x = m.x
    workspace.edit("m", source.replace("return 1", "return 2"))
    report = hotreload.reload(m)
    assert x() == 2, "a held alias runs the new code"
    assert m.x is x and m.y is m.x and m.x() == 2
    assert not hasattr(m, "_f")
    assert workspace.events.count("aliased") == 1
    assert f"{m.__name__}._f" in report.updated


def test_a_deleted_decorated_function_takes_its_new_code(workspace):
    source = """
        import functools

        @functools.lru_cache(maxsize=None)
        def _f(n):
            return n + 1

        x = _f
        del _f
    """
    m = workspace.load("m", source)
    x = m.x
    assert x(1) == 2
    workspace.edit("m", source.replace("n + 1", "n + 2"))
    hotreload.reload(m)
    assert x(1) == 3, "the held wrapper runs the new code, its old results forgotten"
    assert m.x(1) == 3
    assert not hasattr(m, "_f")


def test_subclasses_of_a_deleted_base_see_its_new_methods(workspace):
    source = """
        class _Base:
            def m(self):
                return 1

        class D(_Base):
            pass

        del _Base
    """
    m = workspace.load("m", source)
    D, base, d = m.D, m.D.__bases__[0], m.D()
    workspace.edit("m", source.replace("return 1", "return 2"))
    hotreload.reload(m)
    assert m.D is D and D.__bases__ == (base,), "the live base is kept, and patched"
    assert d.m() == 2 and D().m() == 2 and isinstance(d, base)
    assert not hasattr(m, "_Base")


def test_a_deleted_name_that_is_also_imported_stays_deleted(workspace):
    source = """
        import re

        def _f(pat=re.compile("a")):
            return 1

        x = _f
        del _f, re
    """
    m = workspace.load("m", source)
    x = m.x
    workspace.edit("m", source.replace("return 1", "return 2").replace('"a"', '"b"'))
    hotreload.reload(m)
    assert m.x is x and x() == 2 and x.__defaults__[0].pattern == "b"
    assert not hasattr(m, "_f") and not hasattr(m, "re")


def test_a_del_of_several_names_runs_again_for_one_of_them(workspace):
    source = """
        import re

        def _helper():
            return 0

        def f(pat=re.compile("a")):
            return pat.pattern

        del re, _helper
    """
    m = workspace.load("m", source)
    f = m.f
    workspace.edit("m", source.replace('"a"', '"b"'))
    hotreload.reload(m)
    assert m.f is f and f() == "b"
    assert not hasattr(m, "_helper") and not hasattr(m, "re")
    workspace.edit("m", source.replace('"a"', '"c"').replace("del re, _helper", "del re, _helper, _gone"))
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload(m)  # a new `del` of a name that is not there fails, as at an import
    assert f() == "b"


def test_a_deleted_base_whose_del_leaves_the_source_is_the_live_one(workspace):
    source = """
        class _Base:
            X = 1

            def m(self):
                return 1

        class D(_Base):
            pass

        del _Base
    """
    m = workspace.load("m", source)
    base, d = m.D.__bases__[0], m.D()
    workspace.edit("m", source.replace("return 1", "return 2").replace("del _Base", ""))
    hotreload.reload(m)
    assert m._Base is base and m.D.__bases__ == (base,)
    assert d.m() == 2 and d.X == 1


def test_a_class_changed_with_its_deleted_base_keeps_the_live_bases(workspace):
    source = """
        class Base:
            A = 1

            def m(self):
                return "m1"

        class _Mid(Base):
            def n(self):
                return "n1"

        class Leaf(_Mid):
            pass

        del _Mid
    """
    m = workspace.load("m", source)
    mid, leaf = m.Leaf.__bases__[0], m.Leaf()
    workspace.edit("m", source.replace('"m1"', '"m2"').replace('"n1"', '"n2"'))
    hotreload.reload(m)
    assert m.Leaf.__mro__[1:3] == (mid, m.Base)
    assert leaf.A == 1 and leaf.m() == "m2" and leaf.n() == "n2"


def test_a_class_a_factory_makes_again_takes_its_new_data(workspace):
    source = """
        import collections

        Point = collections.namedtuple("Point", "x y")
        Plain = type("Plain", (), {"LIMIT": 1, "get": lambda self: "v1"})
    """
    m = workspace.load("m", source)
    Point, Plain, p = m.Point, m.Plain, m.Point(1, 2)
    workspace.edit("m", source.replace('"x y"', '"x y z"').replace('"LIMIT": 1', '"LIMIT": 2')
                   .replace('"v1"', '"v2"'))
    hotreload.reload(m)
    assert m.Point is Point and Point._fields == ("x", "y", "z")
    assert Point(1, 2, 3).z == 3 and p.x == 1
    assert m.Plain is Plain and Plain.LIMIT == 2 and Plain().get() == "v2"


@pytest.mark.parametrize("change", ["add setter", "remove setter", "add deleter"])
def test_property_accessors_change_while_the_getter_does_not(workspace, change):
    getter = """
        class A:
            @property
            def x(self):
                return self.__dict__.get("_x", 1)
    """
    setter = """
            @x.setter
            def x(self, value):
                self.__dict__["_x"] = value
    """
    deleter = """
            @x.deleter
            def x(self):
                self.__dict__.pop("_x", None)
    """
    before, after = {
        "add setter": (getter, getter + setter),
        "remove setter": (getter + setter, getter),
        "add deleter": (getter + setter, getter + setter + deleter),
    }[change]
    m = workspace.load("m", before)
    a = m.A()
    workspace.edit("m", after)
    hotreload.reload(m)
    fresh = {}
    exec(textwrap.dedent(after), fresh)
    for accessor in ("fget", "fset", "fdel"):
        assert (getattr(m.A.x, accessor) is None) == (getattr(fresh["A"].x, accessor) is None)
    if change == "remove setter":
        with pytest.raises(AttributeError):
            a.x = 5
    else:
        a.x = 5
        assert a.x == 5
    if change == "add deleter":
        del a.x
        assert a.x == 1
