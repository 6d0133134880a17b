"""Reloading module-level functions: identity kept, new code everywhere.

Every old reference (the module attribute, a `from` copy, a partial, a bound
method, a registry entry, a decorator's wrapper) must run the new code.
"""
import asyncio
import functools
import inspect
import sys

import hotreload


def test_old_reference_runs_new_code_and_identity_is_kept(workspace):
    m = workspace.load("a", """
        def f():
            return 1
    """)
    f = m.f
    workspace.edit("a", """
        def f():
            return 2
    """)
    report = hotreload.reload(m)
    assert m.f is f, "the function object must survive the reload"
    assert f() == 2, "an old reference must run the new body"
    assert f"{m.__name__}.f" in report.updated


def test_reload_by_dotted_name_keeps_the_module_object(workspace):
    m = workspace.load("a", """
        def f():
            return 1
    """)
    namespace = m.__dict__
    workspace.edit("a", """
        def f():
            return 2
    """)
    report = hotreload.reload(m.__name__)
    assert report.modules == [m.__name__]
    assert m.f() == 2
    assert sys.modules[m.__name__] is m
    assert m.__dict__ is namespace


def test_partial_of_old_function_runs_new_code(workspace):
    m = workspace.load("a", """
        def add(x, y):
            return x + y
    """)
    p = functools.partial(m.add, 10)
    workspace.edit("a", """
        def add(x, y):
            return x * y
    """)
    hotreload.reload(m)
    assert p(3) == 30


def test_callback_stored_in_registry_of_other_module_runs_new_code(workspace):
    m = workspace.load("a", """
        import $events

        def on_hit():
            return "v1"

        $events.HANDLERS.append(on_hit)
    """)
    handlers = workspace.events.HANDLERS
    workspace.edit("a", """
        import $events

        def on_hit():
            return "v2"

        $events.HANDLERS.append(on_hit)
    """)
    hotreload.reload(m)
    assert len(handlers) == 1, "the unchanged registration statement must not run again"
    assert handlers[0] is m.on_hit
    assert handlers[0]() == "v2"


def test_from_import_copy_in_other_module_runs_new_code(workspace):
    a = workspace.load("a", """
        def price():
            return 10
    """)
    b = workspace.load("b", """
        from $a import price

        def total(n):
            return n * price()
    """)
    workspace.edit("a", """
        def price():
            return 25
    """)
    hotreload.reload(a)
    assert b.price is a.price
    assert b.price() == 25
    assert b.total(2) == 50


def test_defaults_and_keyword_only_defaults_are_updated(workspace):
    m = workspace.load("a", """
        def greet(name, punctuation=".", *, times=1):
            return (name + punctuation) * times
    """)
    greet = m.greet
    workspace.edit("a", """
        def greet(name, punctuation="!", *, times=2, sep=" "):
            return sep.join([name + punctuation] * times)
    """)
    hotreload.reload(m)
    assert greet.__defaults__ == ("!",)
    assert greet.__kwdefaults__ == {"times": 2, "sep": " "}
    assert greet("bob") == "bob! bob!"


def test_docstring_and_annotations_are_updated(workspace):
    m = workspace.load("a", """
        def f(x: int) -> int:
            "Old doc."
            return x
    """)
    f = m.f
    workspace.edit("a", """
        def f(x: str, y: float = 0.0) -> str:
            "New doc."
            return x
    """)
    hotreload.reload(m)
    assert f.__doc__ == "New doc."
    assert f.__annotations__ == {"x": str, "y": float, "return": str}


def test_removed_docstring_becomes_none(workspace):
    """Decision: deleting a docstring from the source leaves __doc__ None,
    as a fresh import would."""
    m = workspace.load("a", '''
        def f():
            """Old doc."""
            return 1
    ''')
    workspace.edit("a", """
        def f():
            return 2
    """)
    hotreload.reload(m)
    assert m.f.__doc__ is None
    assert m.f() == 2


def test_unchanged_function_keeps_its_code_object(workspace):
    m = workspace.load("a", """
        def f():
            return 1

        def g():
            return "g"
    """)
    g_code = m.g.__code__
    workspace.edit("a", """
        def f():
            return 2

        def g():
            return "g"
    """)
    report = hotreload.reload(m)
    assert m.g.__code__ is g_code, "an unchanged def must not be recompiled into the live function"
    assert f"{m.__name__}.g" not in report.updated
    assert f"{m.__name__}.f" in report.updated


def test_comment_and_blank_line_changes_leave_function_untouched(workspace):
    """Comments, blank lines and trailing whitespace are not changes: the live
    code object stays (its line numbers may be stale; that is accepted)."""
    m = workspace.load("a", """
        def f(x):
            y = x + 1
            return y
    """)
    code = m.f.__code__
    workspace.edit("a", """
        # a new comment at the top

        def f(x):   
            # explain
            y = x + 1   # inline comment

            return y
    """)
    report = hotreload.reload(m)
    assert m.f.__code__ is code
    assert report.updated == []


def test_added_function_is_added(workspace):
    m = workspace.load("a", """
        def f():
            return 1
    """)
    workspace.edit("a", """
        def f():
            return 1

        def g():
            return f() + 1
    """)
    report = hotreload.reload(m)
    assert m.g() == 2
    assert m.g.__globals__ is m.__dict__
    assert report.added == [f"{m.__name__}.g"]


def test_removed_function_is_removed_but_old_references_still_work(workspace):
    m = workspace.load("a", """
        def f():
            return 1

        def obsolete():
            return "still here"
    """)
    obsolete = m.obsolete
    workspace.edit("a", """
        def f():
            return 1
    """)
    report = hotreload.reload(m)
    assert not hasattr(m, "obsolete")
    assert f"{m.__name__}.obsolete" in report.removed
    assert obsolete() == "still here", "a removed function must stay callable through old references"


def test_function_turned_into_class_is_replaced(workspace):
    """Decision: a name whose kind changed (def -> class) cannot be patched in
    place; the module gets the new object and the name is listed in
    report.replaced (not in updated)."""
    m = workspace.load("a", """
        def Thing():
            return "function"
    """)
    old = m.Thing
    workspace.edit("a", """
        class Thing:
            kind = "class"
    """)
    report = hotreload.reload(m)
    assert isinstance(m.Thing, type) and m.Thing.kind == "class"
    assert f"{m.__name__}.Thing" in report.replaced
    assert f"{m.__name__}.Thing" not in report.updated
    assert old() == "function"


def test_generator_function_new_generators_run_new_code(workspace):
    m = workspace.load("a", """
        def numbers():
            yield 1
            yield 2
    """)
    numbers = m.numbers
    workspace.edit("a", """
        def numbers():
            yield 10
            yield 20
            yield 30
    """)
    hotreload.reload(m)
    assert list(numbers()) == [10, 20, 30]


def test_async_function_runs_new_code(workspace):
    m = workspace.load("a", """
        async def fetch():
            return "old"
    """)
    fetch = m.fetch
    workspace.edit("a", """
        import asyncio

        async def fetch():
            await asyncio.sleep(0)
            return "new"
    """)
    hotreload.reload(m)
    assert asyncio.run(fetch()) == "new"


def test_suspended_generator_of_old_code_finishes_safely(isolated):
    """Decision: a generator suspended in the old code finishes with the code
    it started with (its frame owns that code); new calls run the new code."""
    isolated("""
        write("gen", '''
            def count():
                yield "old-1"
                yield "old-2"
                yield "old-3"
        ''')
        import gen
        g = gen.count()
        assert next(g) == "old-1"
        write("gen", '''
            def count():
                total = 0
                for tag in ("new-1", "new-2"):
                    total += 1
                    yield tag
        ''')
        hotreload.reload(gen)
        assert list(g) == ["old-2", "old-3"]
        assert list(gen.count()) == ["new-1", "new-2"]
    """)


def test_reload_called_from_inside_the_module_being_reloaded(isolated):
    """A function of the module triggers the reload of its own module and
    keeps running: its own frame finishes the old code, the globals it looks
    up afterwards are the new ones."""
    out = isolated("""
        write("selfie", '''
            import hotreload

            def step():
                return "old step"

            def run():
                hotreload.reload(__name__)
                return step()
        ''')
        import selfie
        run = selfie.run
        write("selfie", '''
            import hotreload

            def step():
                return "new step"

            def run():
                hotreload.reload(__name__)
                return "new run: " + step()
        ''')
        print(run())
        print(run())
    """)
    assert out.splitlines() == ["new step", "new run: new step"]


# -- decorators -----------------------------------------------------------

def test_functools_wraps_wrapper_runs_new_wrapped_body(workspace):
    m = workspace.load("a", """
        import functools

        def shout(fn):
            @functools.wraps(fn)
            def wrapper(*args):
                return fn(*args).upper()
            return wrapper

        @shout
        def hello(name):
            return "hello " + name
    """)
    hello = m.hello
    workspace.edit("a", """
        import functools

        def shout(fn):
            @functools.wraps(fn)
            def wrapper(*args):
                return fn(*args).upper()
            return wrapper

        @shout
        def hello(name):
            return "goodbye " + name
    """)
    hotreload.reload(m)
    assert m.hello is hello
    assert hello("bob") == "GOODBYE BOB"


def test_wrapper_whose_decorator_left_the_source_forgets_what_it_wrapped(workspace):
    """Found by the fuzzer: the live wrapper takes the plain function's code
    but kept functools.wraps' __wrapped__, so inspect.signature still
    described the function it no longer wraps."""
    m = workspace.load("a", """
        import functools

        def logged(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                return fn(*args, **kwargs)
            return wrapper

        @logged
        def f(a):
            return a
    """)
    f = m.f
    workspace.edit("a", """
        import functools

        def logged(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                return fn(*args, **kwargs)
            return wrapper

        def f(a, b=2):
            return a + b
    """)
    hotreload.reload(m)
    assert m.f is f and f(1) == 3
    assert not hasattr(f, "__wrapped__")
    assert str(inspect.signature(f)) == "(a, b=2)"


def test_plain_closure_wrapper_runs_new_wrapped_body(workspace):
    """Decision: a wrapper that holds the original only in its closure (no
    functools.wraps, no __wrapped__) still runs the new body: the engine
    finds the wrapped function through the closure cells."""
    m = workspace.load("a", """
        def twice(fn):
            def inner(x):
                return fn(fn(x))
            return inner

        @twice
        def step(x):
            return x + 1
    """)
    step = m.step
    workspace.edit("a", """
        def twice(fn):
            def inner(x):
                return fn(fn(x))
            return inner

        @twice
        def step(x):
            return x * 10
    """)
    hotreload.reload(m)
    assert step(2) == 200


def test_decorator_does_not_run_again_when_only_body_changed(workspace):
    m = workspace.load("a", """
        import $events

        @$events.register
        def handler():
            return 1
    """)
    events = workspace.events
    workspace.edit("a", """
        import $events

        @$events.register
        def handler():
            return 2
    """)
    hotreload.reload(m)
    assert events.count(("register", "handler")) == 1, "the decorator must not run again"
    assert events.HANDLERS == [m.handler]
    assert events.HANDLERS[0]() == 2


def test_attributes_set_by_decorator_survive_body_only_change(workspace):
    m = workspace.load("a", """
        def tag(label):
            def apply(fn):
                fn.label = label
                return fn
            return apply

        @tag("v1")
        def f():
            return 1
    """)
    workspace.edit("a", """
        def tag(label):
            def apply(fn):
                fn.label = label
                return fn
            return apply

        @tag("v1")
        def f():
            return 2
    """)
    hotreload.reload(m)
    assert m.f() == 2
    assert m.f.label == "v1", "the decorator did not run again, so what it set must stay"


def test_changed_decorator_line_runs_decorator_again(workspace):
    m = workspace.load("a", """
        import $events

        def scaled(factor):
            $events.record("scaled")
            def deco(fn):
                def wrapper(x):
                    return fn(x) * factor
                return wrapper
            return deco

        @scaled(2)
        def f(x):
            return x + 1
    """)
    f = m.f
    assert f(1) == 4
    workspace.edit("a", """
        import $events

        def scaled(factor):
            $events.record("scaled")
            def deco(fn):
                def wrapper(x):
                    return fn(x) * factor
                return wrapper
            return deco

        @scaled(5)
        def f(x):
            return x + 1
    """)
    hotreload.reload(m)
    assert workspace.events.count("scaled") == 2
    assert m.f is f, "the live wrapper must be kept"
    assert f(1) == 10, "the live wrapper must take the new wrapper's closure"


def test_decorator_changed_in_same_reload_rewraps_function(workspace):
    m = workspace.load("a", """
        def bonus(fn):
            def wrapper():
                return fn() + 100
            return wrapper

        @bonus
        def score():
            return 1
    """)
    score = m.score
    workspace.edit("a", """
        def bonus(fn):
            def wrapper():
                return fn() + 1000
            return wrapper

        @bonus
        def score():
            return 1
    """)
    hotreload.reload(m)
    assert m.score is score
    assert score() == 1001


def test_function_dict_set_by_rerun_decorator_is_updated(workspace):
    m = workspace.load("a", """
        def tag(label):
            def apply(fn):
                fn.label = label
                return fn
            return apply

        @tag("v1")
        def f():
            return 1
    """)
    f = m.f
    workspace.edit("a", """
        def tag(label):
            def apply(fn):
                fn.label = label
                return fn
            return apply

        @tag("v2")
        def f():
            return 1
    """)
    hotreload.reload(m)
    assert m.f is f
    assert f.label == "v2"


def test_rewrapped_function_whose_free_variables_changed(isolated):
    """The new wrapper has more free variables, in another order, than the
    live one: the live wrapper must take the new closure as a whole."""
    isolated("""
        import functools
        write("deco", '''
            def scaled(factor):
                def deco(fn):
                    def wrapper(x):
                        return fn(x) * factor
                    return wrapper
                return deco

            @scaled(2)
            def f(x):
                return x
        ''')
        import deco
        f = deco.f
        p = functools.partial(deco.f, 3)
        assert sorted(f.__code__.co_freevars) == ["factor", "fn"]
        write("deco", '''
            def scaled(factor, offset=0):
                def deco(fn):
                    def wrapper(x):
                        return offset + fn(x) * factor + bias
                    bias = 1000
                    return wrapper
                return deco

            @scaled(3, offset=7)
            def f(x):
                return x
        ''')
        hotreload.reload(deco)
        assert deco.f is f
        assert len(f.__closure__) == len(f.__code__.co_freevars) == 4, f.__code__.co_freevars
        assert f(1) == 7 + 3 + 1000, f(1)
        assert p() == 7 + 9 + 1000, p()
    """)


# -- functions created during the reload use the live globals ---------------

def test_new_function_writing_a_global_updates_the_live_module(workspace):
    m = workspace.load("a", """
        HITS = 0
    """)
    workspace.edit("a", """
        HITS = 0

        def bump():
            global HITS
            HITS += 1
            return HITS
    """)
    hotreload.reload(m)
    assert m.bump.__globals__ is m.__dict__
    m.bump()
    m.bump()
    assert m.HITS == 2


def test_factory_made_function_in_rerun_statement_uses_live_globals(workspace):
    m = workspace.load("a", """
        SCALE = 1

        def make(k):
            def fn():
                return SCALE * k
            return fn

        triple = make(3)
    """)
    workspace.edit("a", """
        SCALE = 1

        def make(k):
            def fn():
                return SCALE * k + 1
            return fn

        triple = make(4)
    """)
    hotreload.reload(m)
    assert m.triple.__globals__ is m.__dict__
    m.SCALE = 10
    assert m.triple() == 41, "the function made during the reload must read the live globals"


def test_closure_of_unchanged_factory_in_rerun_statement_keeps_identity(workspace):
    """Found by the fuzzer: a statement named in __reload_update__ calls a
    factory that did not change; the closure it makes reads the live
    globals (the factory is the live one) and must still be poured into the
    live closure rather than replace it."""
    m = workspace.load("a", """
        __reload_update__ = ("handler",)

        def make(base):
            def handle(x):
                return base + x
            return handle

        handler = make(10)

        def other():
            return 1
    """)
    handler = m.handler
    workspace.edit("a", """
        __reload_update__ = ("handler",)

        def make(base):
            def handle(x):
                return base + x
            return handle

        handler = make(20)

        def other():
            return 2
    """)
    report = hotreload.reload(m)
    assert m.handler is handler
    assert handler(1) == 21
    assert f"{m.__name__}.handler" in report.updated


def test_lambda_in_changed_statement_keeps_identity_and_live_globals(workspace):
    """Decision: a name bound to a function of this module (here a lambda)
    whose statement changed keeps its function object, patched with the new
    code, like a def; so callbacks captured earlier run the new code."""
    m = workspace.load("a", """
        FACTOR = 2
        key = lambda x: x * FACTOR
    """)
    key = m.key
    workspace.edit("a", """
        FACTOR = 2
        key = lambda x: -x * FACTOR
    """)
    hotreload.reload(m)
    assert m.key is key
    assert m.key.__globals__ is m.__dict__
    m.FACTOR = 5
    assert key(1) == -5


def test_every_function_of_the_module_uses_the_live_globals(workspace):
    m = workspace.load("a", """
        def deco(fn):
            def wrapper():
                return fn()
            return wrapper

        @deco
        def f():
            return 1

        class C:
            def method(self):
                return 1
    """)
    workspace.edit("a", """
        def deco(fn):
            def wrapper():
                return fn() + 1
            return wrapper

        @deco
        def f():
            return 1

        def g():
            return 2

        handler = lambda: 3

        class C:
            def method(self):
                return 2

            def other(self):
                return 3
    """)
    hotreload.reload(m)
    functions = [m.deco, m.f, m.g, m.handler, m.C.method, m.C.other]
    functions += [cell.cell_contents for cell in m.f.__closure__]
    for fn in functions:
        assert fn.__globals__ is m.__dict__, f"{fn.__qualname__} has foreign globals"
