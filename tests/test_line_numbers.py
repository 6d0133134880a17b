"""Code that moved in its file but did not change takes its new line numbers.

A statement that does not run again keeps its live objects; when lines are
added or removed above it, its code must still say where it is now, as a
fresh import's would: co_firstlineno and the line tables of the function and
of everything nested in it, so that tracebacks, inspect.getsource and
debuggers point at the right lines.  Nothing runs again for it.
"""
import inspect
import sys
import traceback
import types

import pytest

import hotreload


def code_facts(code):
    """Everything about a code object's lines, nested code included."""
    lines = list(code.co_lines()) if hasattr(code, "co_lines") else code.co_lnotab
    positions = list(code.co_positions()) if hasattr(code, "co_positions") else None
    facts = [(code.co_qualname if hasattr(code, "co_qualname") else code.co_name,
              code.co_firstlineno, lines, positions)]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            facts += code_facts(const)
    return facts


def fresh_code(module, *names):
    """The code object a fresh import of the module's file makes for
    module-level `names[0]`, then members `names[1:]` (found by name among
    the nested code objects)."""
    with open(module.__file__, encoding="utf-8") as f:
        code = compile(f.read(), module.__file__, "exec")
    for name in names:
        code = next(c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    return code


def raising_line(fn, *args):
    try:
        fn(*args)
    except ZeroDivisionError:
        return traceback.extract_tb(sys.exc_info()[2])[-1].lineno
    raise AssertionError("expected ZeroDivisionError")


SOURCE = """
    import functools
    import $events

    def f(x=$events.record("default")):
        return 1 // 0

    def g():
        return 1
"""


def test_a_function_moved_by_blank_lines_takes_its_new_lines(workspace):
    m = workspace.load("a", SOURCE)
    f = m.f
    code = f.__code__
    assert raising_line(f) == 6
    workspace.edit("a", "\n\n# a comment\n" + workspace.source(SOURCE))
    hotreload.reload(m)
    assert m.f is f
    assert f.__code__.co_firstlineno == 8
    assert raising_line(f) == 9
    events = workspace.name("events")
    assert inspect.getsource(f) == f'def f(x={events}.record("default")):\n    return 1 // 0\n'
    assert code_facts(f.__code__) == code_facts(fresh_code(m, "f"))
    assert code.co_firstlineno == 5, "the old code object is not changed, only replaced"
    assert workspace.events.count("default") == 1, "the def must not run again"


def test_an_edit_above_moves_the_functions_below(workspace):
    m = workspace.load("a", SOURCE)
    f, g = m.f, m.g
    workspace.edit("a", SOURCE.replace("return 1\n", "x = 1\n        return x\n").replace(
        "import functools", "import functools\n    import os\n\n"))
    hotreload.reload(m)
    assert m.f is f and m.g is g
    assert code_facts(f.__code__) == code_facts(fresh_code(m, "f"))
    assert code_facts(g.__code__) == code_facts(fresh_code(m, "g"))
    assert workspace.events.count("default") == 1


NESTED = """
    import functools

    def make(base):
        def made(x):
            return base + x // 0
        return made

    handler = make(1)
    HANDLERS = [make(2)]

    def outer(n):
        squares = [i * i for i in range(n)]
        pick = lambda k: squares[k]
        def inner():
            return pick(0) // 0
        return inner

    @functools.lru_cache(maxsize=None)
    def cached(n):
        return n // 0

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            return fn(*args)
        return wrapper

    @deco
    def wrapped():
        return 1 // 0

    class Base:
        def m(self):
            return 1 // 0

        @classmethod
        def c(cls):
            return 1 // 0

        @staticmethod
        def s():
            return 1 // 0

        @property
        def p(self):
            return 1 // 0

        class Inner:
            def deep(self):
                return 1 // 0
"""


def test_nested_code_closures_wrappers_and_methods_move_too(workspace):
    m = workspace.load("a", NESTED)
    handler, listed, inner = m.handler, m.HANDLERS[0], m.outer(3)
    base = m.Base
    workspace.edit("a", "# moved\n\n\n\n" + workspace.source(NESTED))
    hotreload.reload(m)
    assert m.Base is base and m.handler is handler
    lines = workspace.source(NESTED).splitlines()

    def line_of(text, after=0):
        return 4 + next(i for i, line in enumerate(lines) if i >= after and text in line) + 1

    made = line_of("return base + x // 0")
    assert raising_line(handler, 1) == made
    assert raising_line(listed, 1) == made, "a closure held only by a list moves too"
    assert raising_line(inner) == line_of("return pick(0) // 0")
    assert raising_line(m.outer(2)) == line_of("return pick(0) // 0")
    assert raising_line(m.cached, 1) == line_of("return n // 0")
    assert raising_line(m.wrapped) == line_of("return 1 // 0", line_of("def wrapped") - 5)
    assert raising_line(base().m) == line_of("return 1 // 0", line_of("def m(") - 5)
    assert raising_line(base.c) == line_of("return 1 // 0", line_of("def c(") - 5)
    assert raising_line(base.s) == line_of("return 1 // 0", line_of("def s(") - 5)
    assert raising_line(lambda: base().p) == line_of("return 1 // 0", line_of("def p(") - 5)
    assert raising_line(base.Inner().deep) == line_of("return 1 // 0", line_of("def deep(") - 5)
    for name in ("make", "outer", "deco"):
        assert code_facts(getattr(m, name).__code__) == code_facts(fresh_code(m, name))
    assert code_facts(m.cached.__wrapped__.__code__) == code_facts(fresh_code(m, "cached"))
    assert code_facts(base.m.__code__) == code_facts(fresh_code(m, "Base", "m"))
    assert code_facts(base.Inner.deep.__code__) == code_facts(fresh_code(m, "Base", "Inner", "deep"))
    assert inspect.getsource(base.s).strip().startswith("@staticmethod")
    if sys.version_info >= (3, 13):
        assert base.__firstlineno__ == line_of("class Base")
        assert base.Inner.__firstlineno__ == line_of("class Inner")
    assert inspect.getsource(base).startswith("class Base:")


CLASS = """
    class K:
        def changed(self):
            return 1

        def same(self):
            return 1 // 0

        @property
        def prop(self):
            return 1 // 0
"""


def test_unchanged_methods_of_a_changed_class_take_their_new_lines(workspace):
    m = workspace.load("a", CLASS)
    k, same = m.K, m.K.same
    workspace.edit("a", "\n\n" + workspace.source(CLASS).replace(
        "return 1\n", "x = 2\n        return x\n"))
    hotreload.reload(m)
    assert m.K is k and k.same is same
    assert k().changed() == 2
    assert code_facts(same.__code__) == code_facts(fresh_code(m, "K", "same"))
    assert code_facts(k.prop.fget.__code__) == code_facts(fresh_code(m, "K", "prop"))
    if sys.version_info >= (3, 13):
        assert k.__firstlineno__ == 4


def test_a_blank_line_inside_a_class_moves_the_members_below_it(workspace):
    m = workspace.load("a", CLASS)
    same = m.K.same
    workspace.edit("a", workspace.source(CLASS).replace("def same", "\n    def same"))
    hotreload.reload(m)
    assert code_facts(same.__code__) == code_facts(fresh_code(m, "K", "same"))
    assert code_facts(m.K.changed.__code__) == code_facts(fresh_code(m, "K", "changed"))


def test_a_comment_edited_in_place_still_moves_the_function(workspace):
    source = """
        def f():
            # first
            return 1 // 0
    """
    m = workspace.load("a", source)
    f = m.f
    workspace.edit("a", "\n\n" + workspace.source(source).replace("first", "second, longer"))
    hotreload.reload(m)
    assert code_facts(f.__code__) == code_facts(fresh_code(m, "f"))


def test_moved_code_is_written_through_the_journal(workspace):
    source = """
        def f():
            return 1 // 0

        def __reload_module__(old):
            raise RuntimeError("refused")
    """
    m = workspace.load("a", source)
    code = m.f.__code__
    workspace.edit("a", "\n\n" + workspace.source(source))
    with pytest.raises(hotreload.ReloadError):
        hotreload.reload(m)
    assert m.f.__code__ is code, "an undone reload puts the old code back"


# Far enough down that the engine compiles what runs without the blank
# lines above it and moves the code afterwards (text/source.c).
FAR = "\n".join(f"K{i} = {i}" for i in range(150)) + '''

class Unit:
    LIMIT = 155

    def hit(self, x):
        return x // 0

    @property
    def power(self):
        return 1 // 0


def step(x):
    def inner():
        return x // 0
    return inner
'''


def test_code_compiled_far_down_the_file_has_the_lines_of_a_fresh_import(workspace):
    m = workspace.load("a", FAR)
    unit, inner = m.Unit(), m.step(1)
    # Bodies edited: the class is read alone, the def runs alone.
    workspace.edit("a", FAR.replace("return x // 0\n\n    @", "return (x + 1) // 0\n\n    @")
                   .replace("return x // 0\n    return inner", "return (x + 2) // 0\n    return inner"))
    hotreload.reload(m)
    assert raising_line(unit.hit, 1) == 156
    assert raising_line(inner) == 165
    assert code_facts(m.Unit.hit.__code__) == code_facts(fresh_code(m, "Unit", "hit"))
    assert code_facts(m.step.__code__) == code_facts(fresh_code(m, "step"))


def test_a_class_made_far_down_the_file_records_its_own_first_line(workspace):
    """A class the reload makes (here a new one) records the line of its
    statement on 3.13 (__firstlineno__, which inspect.getsource reads),
    as a fresh import's does: the code that makes it is compiled on its
    lines, not moved there, since the line it records is a constant of
    the class body.  Its other constants keep their values."""
    m = workspace.load("a", FAR)
    workspace.edit("a", FAR + "\n\nclass Extra:\n    LINE = 169\n")
    hotreload.reload(m)
    assert m.Extra.LINE == 169
    if sys.version_info >= (3, 13):
        assert m.Extra.__firstlineno__ == 169
    assert inspect.getsource(m.Extra) == "class Extra:\n    LINE = 169\n"
