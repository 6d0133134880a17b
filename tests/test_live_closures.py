"""Live closures: functions made at run time from code of a reloaded module.

A factory's handlers, lambdas stored in a registry, methods of classes
defined inside functions, decorator wrappers around functions of OTHER
modules: each is its own function object holding the old nested code.  After
the reload each runs the new code found at the same place in the source,
keeping its closure cells (and their values).  One whose definition is gone
keeps its old code and is listed in `report.stale`.

Frames already running (suspended generators and coroutines) finish on the
code they started with; new ones start on the new code.
"""
import asyncio

import pytest

import hotreload

def cells(fn):
    """A function's closure cells by free-variable name."""
    return dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))


FACTORY_V1 = """
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
"""


def test_handlers_made_by_a_factory_run_the_new_code_with_their_cells(workspace):
    m = workspace.load("a", FACTORY_V1)
    red, blue = m.make_handler("red"), m.make_handler("blue")
    assert red(1) == ("v1", "red", 1)
    workspace.edit("a", FACTORY_V1.replace('("v1", tag, x)', '("v2", tag, x * 10)'))
    report = hotreload.reload(m)
    assert red(1) == ("v2", "red", 10) and blue(2) == ("v2", "blue", 20)
    assert m.make_handler("green")(3) == ("v2", "green", 30)
    new_code = m.make_handler("any").__code__
    assert red.__code__ is new_code and blue.__code__ is new_code, (
        "the live closure takes the very code object nested in the new factory")
    assert report.stale == []


def test_counter_cell_keeps_counting_under_the_new_code(workspace):
    m = workspace.load("a", FACTORY_V1)
    by_one, by_five = m.make_counter(1), m.make_counter(5)
    count_cell = cells(by_one)["count"]
    assert [by_one(), by_one(), by_five()] == [("v1", 1), ("v1", 2), ("v1", 5)]
    workspace.edit("a", FACTORY_V1.replace('("v1", count)', '("v2", count * 100)'))
    hotreload.reload(m)
    assert by_one() == ("v2", 300)
    assert by_one() == ("v2", 400)
    assert by_five() == ("v2", 1000)
    assert cells(by_one)["count"] is count_cell, "the cell itself is kept, not a copy"


def test_closure_whose_new_code_uses_fewer_variables(workspace):
    source = """
        def make(a, b):
            def both():
                return ("v1", a, b)
            return both
    """
    m = workspace.load("a", source)
    fn = m.make("A", "B")
    workspace.edit("a", source.replace('("v1", a, b)', '("v2", b)'))
    report = hotreload.reload(m)
    assert fn() == ("v2", "B")
    assert fn.__code__.co_freevars == ("b",)
    assert report.stale == []


def test_lambdas_in_a_registry_of_another_module_run_the_new_code(workspace):
    source = """
        import $events

        def make(n):
            return lambda x: ("v1", n, x)

        def register_all():
            for n in range(3):
                $events.HANDLERS.append(make(n))
            $events.HANDLERS.append(lambda x: ("direct v1", x))
    """
    m = workspace.load("a", source)
    m.register_all()
    handlers = list(workspace.events.HANDLERS)
    workspace.edit("a", source.replace('"v1"', '"v2"').replace('"direct v1"', '"direct v2"'))
    report = hotreload.reload(m)
    assert workspace.events.HANDLERS == handlers, "the registry is not touched"
    assert [h(7) for h in handlers] == [
        ("v2", 0, 7), ("v2", 1, 7), ("v2", 2, 7), ("direct v2", 7)]
    assert report.stale == []


def test_repeated_lambdas_are_matched_by_their_position(workspace):
    source = """
        def pair():
            return (lambda: "first v1", lambda: "second v1")
    """
    m = workspace.load("a", source)
    first, second = m.pair()
    workspace.edit("a", source.replace("first v1", "first v2").replace("second v1", "second v2"))
    hotreload.reload(m)
    assert (first(), second()) == ("first v2", "second v2")


def test_lambdas_made_in_a_comprehension_run_the_new_code(workspace):
    """Up to 3.11 a comprehension is a nested function of its own; from 3.12
    it is inlined.  Either way the lambdas it made are live closures."""
    source = """
        def make_all():
            return [lambda x, i=i: ("v1", i, x) for i in range(3)]
    """
    m = workspace.load("a", source)
    made = m.make_all()
    workspace.edit("a", source.replace('"v1"', '"v2"'))
    hotreload.reload(m)
    assert [f(0) for f in made] == [("v2", 0, 0), ("v2", 1, 0), ("v2", 2, 0)]


def test_closures_nested_two_levels_deep(workspace):
    source = """
        def outer(a):
            def middle(b):
                def inner(c):
                    return ("v1", a, b, c)
                return inner
            return middle
    """
    m = workspace.load("a", source)
    middle = m.outer(1)
    inner = middle(2)
    workspace.edit("a", source.replace('("v1", a, b, c)', '("v2", a + b + c)'))
    hotreload.reload(m)
    assert inner(3) == ("v2", 6), "the innermost live closure"
    assert middle(20)(300) == ("v2", 321), "the middle one makes new-code closures"


def test_closure_made_by_a_method(workspace):
    source = """
        class Button:
            def __init__(self, label):
                self.label = label

            def callback(self):
                return lambda: ("v1", self.label)
    """
    m = workspace.load("a", source)
    on_click = m.Button("ok").callback()
    workspace.edit("a", source.replace('"v1"', '"v2"'))
    hotreload.reload(m)
    assert on_click() == ("v2", "ok")


def test_decorator_wrappers_around_functions_of_other_modules(workspace):
    """The wrappers live in a module that is NOT reloaded; their code comes
    from the decorator's module, which is."""
    a = workspace.load("a", """
        def logged(fn):
            def wrapper(*args):
                return ("v1", fn(*args))
            return wrapper
    """)
    b = workspace.load("b", """
        from $a import logged

        @logged
        def double(x):
            return x * 2
    """)
    double = b.double
    assert double(1) == ("v1", 2)
    workspace.edit("a", """
        def logged(fn):
            def wrapper(*args):
                return ("v2", fn(*args), args)
            return wrapper
    """)
    hotreload.reload(a)
    assert b.double is double
    assert double(1) == ("v2", 2, (1,))


# -- classes defined inside functions ---------------------------------------------

LOCAL_CLASS_V1 = """
    class Base:
        def value(self):
            return 1

    def make_class(extra):
        class Local(Base):
            def value(self):
                return ("v1", super().value(), extra)

            @property
            def label(self):
                return "v1 label"
        return Local
"""


def test_methods_of_a_class_made_inside_a_function_run_the_new_code(workspace):
    m = workspace.load("a", LOCAL_CLASS_V1)
    local_cls = m.make_class("x")
    obj = local_cls()
    assert obj.value() == ("v1", 1, "x")
    workspace.edit("a", LOCAL_CLASS_V1
                   .replace('("v1", super().value(), extra)', '("v2", super().value(), extra)')
                   .replace('"v1 label"', '"v2 label"')
                   .replace("return 1", "return 100"))
    report = hotreload.reload(m)
    assert obj.value() == ("v2", 100, "x"), "super() still finds the local class"
    assert obj.label == "v2 label"
    assert type(obj) is local_cls
    assert report.stale == []


# -- stale closures ------------------------------------------------------------------

@pytest.mark.parametrize("change", ["deleted", "renamed"])
def test_closure_whose_definition_is_gone_keeps_its_old_code_and_is_stale(workspace, change):
    m = workspace.load("a", FACTORY_V1)
    handler = m.make_handler("red")
    old_code = handler.__code__
    if change == "deleted":
        new_body = 'return lambda x: ("v2 lambda", tag, x)'
    else:
        new_body = ('def on_event(x):\n            return ("v2", tag, x)\n'
                    '        return on_event')
    workspace.edit("a", FACTORY_V1.replace(
        'def handler(x):\n            return ("v1", tag, x)\n        return handler', new_body))
    report = hotreload.reload(m)
    assert m.make_handler("blue")(1)[0].startswith("v2"), "the factory itself is updated"
    assert handler.__code__ is old_code
    assert handler(1) == ("v1", "red", 1)
    assert f"{m.__name__}.make_handler.<locals>.handler" in report.stale
    assert not any("make_counter" in name for name in report.stale)


def test_closure_whose_new_code_needs_a_missing_variable_is_stale(workspace):
    m = workspace.load("a", FACTORY_V1)
    handler = m.make_handler("red")
    workspace.edit("a", FACTORY_V1.replace(
        'def handler(x):\n            return ("v1", tag, x)',
        'prefix = "#"\n        def handler(x):\n            return ("v2", prefix + tag, x)'))
    report = hotreload.reload(m)
    assert handler(1) == ("v1", "red", 1), "its closure has no cell for `prefix`"
    assert f"{m.__name__}.make_handler.<locals>.handler" in report.stale
    assert m.make_handler("blue")(1) == ("v2", "#blue", 1)


# -- running generators and coroutines -------------------------------------------------

def test_suspended_generator_finishes_old_code_new_one_starts_new_code(workspace):
    source = """
        def countdown(n):
            while n > 0:
                yield ("v1", n)
                n -= 1
    """
    m = workspace.load("a", source)
    running = m.countdown(3)
    assert next(running) == ("v1", 3)
    workspace.edit("a", source.replace('("v1", n)', '("v2", n)'))
    hotreload.reload(m)
    assert next(running) == ("v1", 2), "the suspended frame continues the old code"
    assert list(running) == [("v1", 1)]
    assert list(m.countdown(2)) == [("v2", 2), ("v2", 1)]


def test_suspended_generator_of_a_live_closure(workspace):
    """The generator function is itself a closure made by a factory: the
    live closure takes the new code; its running generator does not."""
    source = """
        def make_stream(tag):
            def stream():
                for i in range(3):
                    yield ("v1", tag, i)
            return stream
    """
    m = workspace.load("a", source)
    stream = m.make_stream("s")
    running = stream()
    assert next(running) == ("v1", "s", 0)
    workspace.edit("a", source.replace('("v1", tag, i)', '("v2", tag, i)'))
    hotreload.reload(m)
    assert next(running) == ("v1", "s", 1)
    assert list(stream()) == [("v2", "s", 0), ("v2", "s", 1), ("v2", "s", 2)]
    assert list(running) == [("v1", "s", 2)]


def test_suspended_coroutine_finishes_old_code_new_one_starts_new_code(workspace):
    source = """
        import types

        @types.coroutine
        def pause():
            yield "paused"

        async def job(n):
            await pause()
            return ("v1", n)
    """
    m = workspace.load("a", source)
    running = m.job(1)
    assert running.send(None) == "paused"
    workspace.edit("a", source.replace('("v1", n)', '("v2", n)'))
    hotreload.reload(m)
    with pytest.raises(StopIteration) as finished:
        running.send(None)
    assert finished.value.value == ("v1", 1), "the suspended frame finishes the old code"
    fresh = m.job(2)
    assert fresh.send(None) == "paused"
    with pytest.raises(StopIteration) as finished:
        fresh.send(None)
    assert finished.value.value == ("v2", 2)


def test_async_closure_made_before_the_reload_runs_the_new_code(workspace):
    source = """
        def make_task(name):
            async def task():
                return ("v1", name)
            return task
    """
    m = workspace.load("a", source)
    task = m.make_task("t")
    workspace.edit("a", source.replace('"v1"', '"v2"'))
    hotreload.reload(m)
    assert asyncio.run(task()) == ("v2", "t")
