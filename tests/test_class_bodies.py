"""A changed class body runs as a fresh import would run it (corpus/MISMATCHES.md).

A changed class statement runs again with its unchanged members left out; each
test here edits a class the way a real library's class reads, and compares the
reloaded module with the edited text run afresh.
"""
import textwrap

import pytest

import hotreload


def fresh(source):
    """The namespace the edited text makes in a fresh process."""
    namespace = {"__name__": "fresh"}
    exec(textwrap.dedent(source), namespace)
    return namespace


def reload_to(workspace, before, after):
    m = workspace.load("m", before)
    workspace.edit("m", after)
    hotreload.reload(m)
    return m


MARKER_BEFORE = """
    class C:
        _marker = object()

        def pop(self, default=_marker):
            return default is self._marker
"""


@pytest.mark.parametrize("spelling", ["_marker", "__marker"])
def test_a_default_reads_the_live_value_of_an_unchanged_class_attribute(workspace, spelling):
    # cachetools' Cache.pop(key, default=__marker): the unchanged line must
    # not make a second marker the class does not hold.
    before = MARKER_BEFORE.replace("_marker", spelling)
    after = before.replace("return default is", "found = default is").rstrip() + "\n"
    after += "            return found\n"
    m = workspace.load("m", before)
    live_marker = getattr(m.C, f"_C{spelling}" if spelling.startswith("__") else spelling)
    workspace.edit("m", after)
    hotreload.reload(m)
    assert fresh(after)["C"]().pop() is True
    assert m.C().pop() is True
    assert getattr(m.C, f"_C{spelling}" if spelling.startswith("__") else spelling) is live_marker


def test_an_unchanged_class_attribute_a_changed_one_reads_is_the_live_value(workspace):
    m = workspace.load("m", """
        class C:
            table = {}
            size = 1
    """)
    live_table = m.C.table
    m.C.table["x"] = 1
    workspace.edit("m", """
        class C:
            table = {}
            size = len(table) + 1
    """)
    hotreload.reload(m)
    assert m.C.table is live_table and m.C.size == 2


@pytest.mark.parametrize("alias", ["__copy__", "__iter__", "__foo__"])
def test_an_unchanged_dunder_alias_of_an_unchanged_method(workspace, alias):
    # jinja2.utils.LRUCache: `__copy__ = copy`.
    before = f"""
        class Cache:
            def g(self):
                return 1

            def copy(self):
                return 5

            {alias} = copy
    """
    m = workspace.load("m", before)
    live_copy = m.Cache.copy
    after = before.replace("return 1", "return 2")
    workspace.edit("m", after)
    hotreload.reload(m)
    assert m.Cache().g() == 2
    assert getattr(m.Cache, alias) is m.Cache.copy is live_copy


def test_members_a_kept_member_needs_are_there(workspace):
    # boltons.statsutils.Stats: bins(self, count=None) mentions `count`,
    # which reads the unchanged _calc_count.
    before = """
        class S:
            def _calc_count(self):
                return 1
            count = property(_calc_count)

            def bins(self, count=None):
                return count
    """
    after = before.replace("return count", "return (count, 2)")
    m = workspace.load("m", before)
    live_count = m.S.count
    workspace.edit("m", after)
    hotreload.reload(m)
    assert m.S().bins() == fresh(after)["S"]().bins() == (None, 2)
    assert m.S().count == 1 and m.S.count is live_count


def test_members_a_member_absent_from_the_live_class_needs_run_too(workspace):
    # `tmp` and `_helper` are gone from the live class (the body deletes
    # them), so they have no live value to lend: the changed member that
    # reads them needs them to run, and `_helper` needs `tmp` in turn.
    before = """
        class S:
            tmp = 3
            def _helper(self, k=tmp):
                return k
            value = property(_helper)
            def f(self):
                return 1
            del tmp, _helper
    """
    after = before.replace("value = property(_helper)", "value = property(_helper, doc='v')")
    m = reload_to(workspace, before, after)
    assert m.S().value == fresh(after)["S"]().value == 3
    assert not hasattr(m.S, "tmp") and not hasattr(m.S, "_helper")


def test_a_method_named_doc_stays_after_a_change_elsewhere(workspace):
    # toolz.functoolz.excepts: an instance property named __doc__.
    before = '''
        from functools import partial

        class InstanceProperty(property):
            def __init__(self, fget, classval=None):
                property.__init__(self, fget)
                self.classval = classval

            def __get__(self, obj, type=None):
                if obj is None:
                    return self.classval
                return property.__get__(self, obj, type)

        def instanceproperty(fget=None, classval=None):
            if fget is None:
                return partial(instanceproperty, classval=classval)
            return InstanceProperty(fget, classval=classval)

        class Excepts:
            """The class docstring"""

            def f(self):
                return 1

            @instanceproperty(classval=__doc__)
            def __doc__(self):
                return "an instance docstring"
    '''
    after = before.replace("return 1", "return 2")
    m = reload_to(workspace, before, after)
    expected = fresh(after)["Excepts"]
    assert m.Excepts().f() == 2
    assert m.Excepts().__doc__ == expected().__doc__ == "an instance docstring"
    assert m.Excepts.__doc__ == expected.__doc__ == "The class docstring"


def test_a_changed_docstring_still_reaches_the_class(workspace):
    before = '''
        class A:
            """one"""

            def f(self):
                return 1
    '''
    m = reload_to(workspace, before, before.replace("one", "two"))
    assert m.A.__doc__ == "two"


@pytest.mark.parametrize("holder", ["property", "descriptor"])
@pytest.mark.parametrize("changed", ["method", "holder"])
def test_a_method_the_module_deletes_from_its_class_stays_deleted(workspace, holder, changed):
    # boltons.statsutils: `mean = _StatsProperty('mean', _calc_mean)`, then
    # the module deletes the helpers from the class.
    before = """
        class P:
            def __init__(self, func):
                self.func = func

            def __get__(self, obj, objtype=None):
                return self if obj is None else self.func(obj)

        class S:
            def _calc_mean(self):
                return 10
            mean = HOLDER(_calc_mean)

        del S._calc_mean
    """.replace("HOLDER", "property" if holder == "property" else "P")
    if changed == "method":
        after = before.replace("return 10", "return 20")
    else:
        after = before.replace("(_calc_mean)", "((_calc_mean))")
    expected = fresh(after)["S"]
    m = reload_to(workspace, before, after)
    assert m.S().mean == expected().mean
    assert hasattr(m.S, "_calc_mean") is hasattr(expected, "_calc_mean") is False


def test_a_method_whose_del_leaves_the_source_comes_back(workspace):
    before = """
        class S:
            def _calc_mean(self):
                return 10
            mean = property(_calc_mean)

        del S._calc_mean
    """
    after = before.replace("return 10", "return 20").replace("del S._calc_mean", "")
    m = reload_to(workspace, before, after)
    assert m.S().mean == 20 and m.S()._calc_mean() == 20


@pytest.mark.parametrize("member", ["__name__", "__module__"])
def test_an_unchanged_member_named_like_a_class_attribute_of_type(workspace, member):
    # toolz.functoolz.excepts: `@property def __name__(self)`; a class
    # statement puts it in the class dict, where type.__setattr__ would
    # refuse it.
    before = f"""
        class Excepts:
            def f(self):
                return 1

            @property
            def {member}(self):
                return "instance"
    """
    m = reload_to(workspace, before, before.replace("return 1", "return 2"))
    assert m.Excepts().f() == 2 and getattr(m.Excepts(), member) == "instance"


@pytest.mark.parametrize("changed", ["first stub", "implementation", "other method"])
def test_overloads_end_with_their_implementation(workspace, changed):
    # jinja2: @t.overload stubs before the method that implements them.
    before = """
        import typing as t

        class Env:
            @t.overload
            def get(self, key: int) -> int: ...
            @t.overload
            def get(self, key: str) -> str: ...
            def get(self, key):
                return key

            def other(self):
                return 1
    """
    after = {
        "first stub": before.replace("key: int) -> int", "key: bytes) -> bytes"),
        "implementation": before.replace("return key", "return (key,)"),
        "other method": before.replace("return 1", "return 2"),
    }[changed]
    m = reload_to(workspace, before, after)
    assert m.Env().get(3) == fresh(after)["Env"]().get(3)
