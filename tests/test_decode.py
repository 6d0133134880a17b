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
