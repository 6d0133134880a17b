"""The incremental split (hr_split_again, statements.c) against the full one.

A reload splits the new text of a module by taking, from the split of the
text the module was built from, the statements before the first change and
those after the last one, moved; only the text in between is scanned.  The
result must be exactly what splitting the whole new text gives: every
statement's kind, offsets, lines, names and normalized text.  The texts
here are real modules of the standard library with random edits made of
the pieces that change how lines group into statements (a clause that
continues the statement above, a decorator, an opened bracket or string,
blank and comment lines, indentation, line endings), at random places.
"""
import sysconfig
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotreload import _hotreload

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SOURCES = [
    (STDLIB / name).read_bytes()
    for name in ("textwrap.py", "fractions.py", "dataclasses.py", "string.py", "bisect.py")
    if (STDLIB / name).exists()
]

PIECES = [
    b"else:\n    pass\n", b"elif x:\n", b"except Exception:\n    pass\n", b"finally:\n",
    b"@decorator\n", b"@decorator(1)\n", b"def f(x):\n    return x\n", b"class C:\n    a = 1\n",
    b"if x:\n    y = 1\n", b"x = (\n", b")\n", b"'''\n", b'"', b"'", b"#", b"# comment\n", b"\n",
    b"\n\n", b"    ", b"\t", b"\\\n", b"\r\n", b"\r", b"x = 1; y = 2\n", b"f'{x}'\n", b"[", b"]",
    b"async def g():\n    await h()\n", b"from a import (b,\n    c)\n", b"import os\n", b"pass\n",
    b"\xef\xbb\xbf", b"lambda: 0\n", b"match x:\n    case 1:\n        pass\n",
]


EDITS = st.lists(
    st.tuples(st.integers(0, 10**6), st.booleans(), st.integers(0, 40), st.integers(0, len(PIECES))),
    min_size=1, max_size=3,
)


def apply_edits(old, edits):
    """A real module after the edits: (where, at a line's start, bytes cut,
    piece) each, `where` taken modulo the text's length."""
    new = old
    for where, line_start, cut, piece in edits:
        at = where % (len(new) + 1)
        if line_start:  # edits at a line's start are the interesting ones
            at = new.rfind(b"\n", 0, at) + 1
        new = new[:at] + (PIECES[piece] if piece < len(PIECES) else b"") + new[at + cut:]
    return new


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(SOURCES) - 1), EDITS)
def test_split_again_is_the_full_split(source, edits):
    old = SOURCES[source]
    new = apply_edits(old, edits)
    again, full = _hotreload._split_again(old, new), _hotreload._split(new)
    if again != full:
        first = next(i for i, (a, b) in enumerate(zip(again + [None] * len(full), full + [None] * len(again)))
                     if a != b)
        raise AssertionError(f"statement {first}: split again {again[first] if first < len(again) else None}"
                             f", full {full[first] if first < len(full) else None}")


# What the edit replaced: among them what a statement left in the common
# beginning may be continued by (a clause, a body, the def a decorator
# awaits) and nothing at all (the new text adds to the old one's end, where
# a string left open ends the scanner's last statement).
REPLACED = [b"x = 1\n", b"", b"\n", b"if x:\n    y\n", b"@d\n", b"def f():\n", b"else:\n"]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300), st.binary(max_size=300),
       st.sampled_from(REPLACED))
# A statement in the common beginning that the new text's next bytes
# join: the old text's last, with no newline to end it, or a string left
# open; one ending with a "\r" that a "\n" now follows.
@example(b"", b"\x00", b"\x00", b"")
@example(b'x = "', b"\n", b"\n", b"")
@example(b"x = 1\r", b"\n", b"y = 2\n", b"")
@example(b"@d\n", b"def f():\n    pass\n", b"", b"x = 1\n")  # decorators awaiting a def
def test_split_again_of_arbitrary_bytes(head, middle, tail, replaced):
    """Whatever the bytes: the same statements as a full split, no crash."""
    old = head + replaced + tail
    new = head + middle + tail
    assert _hotreload._split_again(old, new) == _hotreload._split(new)


def test_a_clause_added_after_an_unchanged_statement_joins_it():
    old = b"a = 1\nif x:\n    y = 1\nb = 2\nc = 3\n"
    new = b"a = 1\nif x:\n    y = 1\nelse:\n    y = 2\nb = 2\nc = 3\n"
    split = _hotreload._split_again(old, new)
    assert split == _hotreload._split(new)
    assert [s["line"] for s in split] == [1, 2, 6, 7]
