"""The names a plain assignment reads, read on its text (names.c).

Deciding which statements run again asks, for every statement that
mentions a rebound name, which names it reads.  For `name = <plain
expression>` the engine reads them on the text instead of parsing the
statement: a constant read by 3,000 statements made 3,000 parses.  These
tests hold that reading against Python's own parser: on every statement it
accepts as plain, it must give exactly the names the syntax tree loads, and
it must decline what it cannot read.
"""
import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from hotreload._hotreload import _simple_reads


def loaded_names(statement):
    tree = ast.parse(statement)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


NAMES = st.sampled_from(["a", "b", "LIMIT", "_x1", "print", "self", "Foo"])
NUMBERS = st.sampled_from(["0", "12", "1.5", "1e5", "0x1f", "1_000", "2j", ".5", "3."])
CONSTANTS = st.sampled_from(["None", "True", "False"])


def expressions(depth=3):
    atom = st.one_of(NAMES, NUMBERS, CONSTANTS)
    if depth == 0:
        return atom
    inner = expressions(depth - 1)
    return st.one_of(
        atom,
        st.tuples(inner, st.sampled_from([" + ", "*", " - ", " // ", " % ", " ** ", " | ",
                                          " and ", " or ", " in ", " is not ", " < "]),
                  inner).map(lambda p: f"({p[0]}){p[1]}({p[2]})"),
        st.tuples(st.sampled_from(["not ", "-", "~"]), inner).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(inner, NAMES).map(lambda p: f"({p[0]}).{p[1]}"),
        st.tuples(NAMES, NAMES).map(lambda p: f"{p[0]} . {p[1]}"),
        st.tuples(NAMES, st.lists(inner, max_size=3)).map(lambda p: f"{p[0]}({', '.join(p[1])})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]})[{p[1]}]"),
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.tuples(inner, inner, inner).map(lambda p: f"({p[0]} if {p[1]} else {p[2]})"),
        st.lists(inner, min_size=1, max_size=2).map(lambda items: "(\n    " + ",\n    ".join(items) + ")"),
    )


@settings(max_examples=400, deadline=None)
@given(NAMES, expressions())
def test_a_plain_assignment_reads_what_the_parser_loads(target, expression):
    statement = f"{target} = {expression}\n"
    assert _simple_reads(statement.encode()) == loaded_names(statement)


def test_what_it_cannot_read_goes_to_the_parser():
    for statement in [
        "a = lambda x: x + b\n",         # a parameter is not a read
        "a = [x for x in b]\n",          # nor a comprehension's variable
        "a = f(key=b)\n",                # a keyword is not a name
        "a = b = c\n",                   # two targets
        "a = 'text' + b\n",              # strings (f-strings hold expressions)
        "a = {b: c}\n",
        "a = b[1:2]\n",
        "a += b\n",                      # the target is read too
        "a.b = c\n",
        "a = (yield b)\n",
        "a = await b\n",
        "a = b \\\n    + c\n",
        "a = b  # c\n",
        "a = b; c = d\n",
        "a = type(b)\n",                 # a soft keyword: left to the parser
        "a = (b := c)\n",
    ]:
        assert _simple_reads(statement.encode()) is None, statement


def test_attributes_and_numbers_are_not_names():
    assert _simple_reads(b"a = b.c.d + e . f + 1e5 + 0x1f + 2j + x.y(z)\n") == {"b", "e", "x", "z"}
