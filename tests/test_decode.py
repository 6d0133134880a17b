"""The engine decodes source files in C exactly as importlib does.

importlib's decode_source (tokenize.detect_encoding, then universal
newlines) is the oracle: same text, or an error both ways.  The engine has
its own because it runs on every reload and CPython's Python version crashes
3.12 and 3.13 when an allocation fails inside it (tests/test_nomemory.py).
"""
import importlib.util

from hypothesis import given, settings, strategies as st

from hotreload import _hotreload

COOKIES = [
    b"# -*- coding: latin-1 -*-", b"# coding=utf_8", b"# vim: set fileencoding=iso-8859-15 :",
    b"#coding:cp1252", b"# coding: Latin_1-foo", b"  \t# codingXcoding: koi8-r", b"# coding: UTF-8",
    b"# coding: utf-8-sig", b"# coding: no-such-codec", b"#!/usr/bin/env python", b"# plain comment",
    b"# coding:", b"\x0c# coding: latin-1", b"x = 1  # coding: latin-1",
]
BODIES = [b"x = 1", b"s = '\xc3\xa9'", b"s = '\xe9'", b"s = '\x80'", b"", b"   ", b"pass"]
NEWLINES = [b"\n", b"\r\n", b"\r", b""]

line = st.one_of(st.sampled_from(COOKIES), st.sampled_from(BODIES), st.binary(max_size=8))
source = st.tuples(
    st.booleans(),
    st.lists(st.tuples(line, st.sampled_from(NEWLINES)), max_size=5),
).map(lambda t: (b"\xef\xbb\xbf" if t[0] else b"") + b"".join(a + b for a, b in t[1]))


def outcome(decode, data):
    try:
        return decode(data)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return "refused"


@settings(max_examples=600, deadline=None, derandomize=True)
@given(source)
def test_decodes_as_importlib_does(data):
    assert outcome(_hotreload._decode_source, data) == outcome(
        importlib.util.decode_source, data
    )


def test_examples():
    decode = _hotreload._decode_source
    assert decode(b"\xef\xbb\xbfx = 'caf\xc3\xa9'\r\ny = 2\r") == "x = 'café'\ny = 2"
    assert decode(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n") == "# -*- coding: latin-1 -*-\nx = 'é'\n"
    assert decode(b"\n# coding: cp1252\nx = '\x80'\n") == "\n# coding: cp1252\nx = '€'\n"


# A reload whose module's last text was the file's own bytes (UTF-8, no BOM,
# no \r) decodes only the lines that changed: the edits below cut and splice
# inside multi-byte characters, add \r, a BOM, a cookie, invalid or surrogate
# sequences, at the start, the end, or in the middle of the file.
PLAIN_LINES = [
    b"x = 1", b"s = 'caf\xc3\xa9'", b"e = '\xe2\x82\xac'", b"g = '\xf0\x9d\x84\x9e'", b"",
    b"def f():", b"    return '\xc3\xa9\xc3\xa9'", b"# comment \xc3\xa0", b"pass",
]
INSERTS = [
    b"", b"\xc3", b"\xa9", b"\xc3\xa9", b"\xe2\x82", b"\r", b"\r\n", b"\n", b"\x00", b"\xff",
    b"# coding: latin-1\n", b"# -*- coding: cp1252 -*-\n", b"\xed\xa0\x80", b"\xef\xbb\xbf",
    b"\xe9", b"x", b"\xf0\x9d\x84",
]
plain_source = st.lists(st.sampled_from(PLAIN_LINES), min_size=1, max_size=8).map(
    lambda lines: b"\n".join(lines) + b"\n")


@st.composite
def edited(draw):
    # Two first lines left alone most of the time: the cookie's lines, which
    # an edit must not reach for only the changed lines to be decoded.
    head = draw(st.sampled_from([b"a = 1\nb = 2\n", b"#!/usr/bin/env python\n", b""]))
    old = head + draw(plain_source)
    # Cuts at the bytes of multi-byte characters, where a partial decode
    # that starts or stops at the first or last changed byte goes wrong,
    # and at the starts of lines (a cookie on the second line).
    inside = [k for k, c in enumerate(old) if c >= 0x80]
    starts = [0] + [k + 1 for k, c in enumerate(old) if c == ord("\n")]
    position = st.one_of(st.integers(0, len(old)), st.sampled_from(starts),
                         *([st.sampled_from(inside)] if inside else []))
    i = draw(position)
    j = draw(st.one_of(position, st.integers(i, min(i + 3, len(old)))))
    i, j = min(i, j), max(i, j)
    insert = draw(st.one_of(st.sampled_from(INSERTS), st.sampled_from([b"\n", b"x"]),
                            st.binary(max_size=4)))
    return old, old[:i] + insert + old[j:]


def text_again(old, new):
    """The text a reload reads: bytes it did not decode are taken as they
    are (an invalid sequence among them then differs from any decoding)."""
    text = _hotreload._source_text_again(old, new)
    if isinstance(text, bytes):
        assert text is new
        return text.decode("utf-8", "surrogateescape"), True
    return text, False


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(edited())
def test_decoding_again_only_what_changed_decodes_as_importlib_does(pair):
    old, new = pair
    again = outcome(lambda data: text_again(old, data)[0], new)
    assert again == outcome(importlib.util.decode_source, new)


def test_decoding_again_reads_the_bytes_where_it_can():
    head = b"import os\n\nx = 1\n"
    old = head + b"def f():\n    return 'caf\xc3\xa9'\n"
    # An edit after the first two lines, still UTF-8 without \r: the bytes.
    assert text_again(old, old.replace(b"caf", b"th\xc3\xa9")) == (
        (head + b"def f():\n    return 'th\xc3\xa9\xc3\xa9'\n").decode(), True)
    # A \r: decoded, newlines made universal.
    assert text_again(old, old + b"y = 2\r\n") == (
        (old + b"y = 2\n").decode(), False)
    # A cookie on the first line: decoded as it says.
    text, plain = text_again(old, b"# coding: latin-1\n" + old[10:])
    assert (text, plain) == ((b"# coding: latin-1\n" + old[10:]).decode("latin-1"), False)
    # Half of a character left where the edit cut: refused, at the file's offset.
    cut = old.index(b"\xa9")
    try:
        _hotreload._source_text_again(old, old[:cut] + old[cut + 1:])
    except UnicodeDecodeError as error:
        assert error.start == cut - 1
    else:
        raise AssertionError("invalid UTF-8 was accepted")
