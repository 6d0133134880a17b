"""The statement splitter (statements.c), checked against the compiler.

The engine never builds `ast` objects to find statements; it scans the text.
These tests hold that scan against `ast.parse` on every module of the
running interpreter's standard library, on generated modules, and on the
lexical corners (strings of every form, f-strings, continuations, line
endings) where a hand-written scanner would go wrong.
"""
import ast
import bisect
import random
import re
import sys
import sysconfig
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotreload._hotreload import _split

KIND_OF_NODE = {
    ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "def",
    ast.ClassDef: "class",
    ast.Import: "import",
    ast.ImportFrom: "from",
}
NEWLINE = re.compile(rb"\r\n|\r|\n")
PY312 = sys.version_info >= (3, 12)


def parse(source):
    """ast.parse, with the warnings some stdlib files trigger silenced (the
    suite turns warnings into errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def dump(source):
    """The tree of `source` without positions, or the error's class name."""
    try:
        return ast.dump(parse(source))
    except (SyntaxError, ValueError) as error:
        return type(error).__name__


class Source:
    """Bytes with line lookups (every newline CPython accepts counts)."""

    def __init__(self, data):
        self.data = data
        # The compiler skips a byte order mark; so does the splitter.
        first = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        self.starts = [first] + [m.end() for m in NEWLINE.finditer(data)]

    def line_of(self, offset):
        return max(1, bisect.bisect_right(self.starts, offset))

    def line_start(self, line):
        return self.starts[line - 1]

    def line_text(self, line):
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.data)
        return self.data[start:end]

    def column(self, line):
        """Column of the first token on `line`, tabs to multiples of 8."""
        col = 0
        for byte in self.line_text(line):
            if byte == 0x20:
                col += 1
            elif byte == 0x09:
                col = (col // 8 + 1) * 8
            elif byte == 0x0C:
                col = 0
            else:
                break
        return col

    def only_gap(self, start, end):
        """True when data[start:end] holds only blank and comment lines."""
        return all(
            not line.strip() or line.strip().startswith(b"#")
            for line in NEWLINE.split(self.data[start:end])
        )


def units(nodes):
    """AST statements grouped as the splitter sees them: simple statements
    joined by ';' on one line form one unit, since a unit of the splitter
    ends at a newline."""
    groups = []
    for node in nodes:
        if groups and node.lineno == groups[-1][-1].end_lineno:
            groups[-1].append(node)
        else:
            groups.append([node])
    return groups


def first_line(node):
    decorators = getattr(node, "decorator_list", None)
    return decorators[0].lineno if decorators else node.lineno


def check_block(src, nodes, offset=0, indent=0, into_defs=True, check_norm=True,
                problems=None, where=""):
    """Splits src.data[offset:] at `indent` and compares with `nodes`.

    Returns the list of problems found (descriptions), recursing into class
    bodies (and def bodies when `into_defs`)."""
    problems = [] if problems is None else problems
    data = src.data
    stmts = _split(data[offset:], indent)
    base = src.line_of(offset) - 1
    groups = units(nodes)

    def problem(text):
        problems.append(f"{where}:{text}")

    if len(stmts) != len(groups):
        got = [(s["line"] + base, s["kind"]) for s in stmts]
        want = [(first_line(g[0]), KIND_OF_NODE.get(type(g[0]), "other")) for g in groups]
        problem(f"{len(stmts)} statements, the AST has {len(groups)}: {got[:40]} vs {want[:40]}")
        return problems

    for index, (stmt, group) in enumerate(zip(stmts, groups)):
        node, last = group[0], group[-1]
        start, end, head = (stmt[k] + offset for k in ("start", "end", "head"))
        line, head_line = stmt["line"] + base, stmt["head_line"] + base
        kind = KIND_OF_NODE.get(type(node), "other")
        at = f"{line}"
        if stmt["kind"] != kind:
            problem(f"{at}: kind {stmt['kind']}, the AST says {kind}")
        if head_line != node.lineno or line != first_line(node):
            problem(f"{at}: lines {line}/{head_line}, the AST says "
                    f"{first_line(node)}/{node.lineno}")
            continue
        if src.line_of(start) != line or src.line_of(head) != head_line:
            problem(f"{at}: offsets {start}/{head} are not on lines {line}/{head_line}")
        if src.column(line) != indent or data[src.line_start(line):start].strip():
            problem(f"{at}: start {start} is not the first token at column {indent}")
        if kind in ("def", "class"):
            if stmt["name"] != node.name:
                problem(f"{at}: name {stmt['name']!r}, the AST says {node.name!r}")
            keyword = b"class" if kind == "class" else (
                b"async" if isinstance(node, ast.AsyncFunctionDef) else b"def")
            if not data.startswith(keyword, head):
                problem(f"{at}: head {head} is not at {keyword!r}")
        elif stmt["name"] is not None or head != start:
            problem(f"{at}: {kind} with a name or a head")
        if end <= start or src.line_of(end - 1) != last.end_lineno:
            problem(f"{at}: end {end} is not on line {last.end_lineno}")
        elif end < len(data) and data[end - 1:end] not in (b"\n", b"\r"):
            problem(f"{at}: end {end} is not just past a newline")
        next_start = stmts[index + 1]["start"] + offset if index + 1 < len(stmts) else None
        if next_start is not None:
            gap_end = src.line_start(src.line_of(next_start))
            if not src.only_gap(end, gap_end):
                problem(f"{at}: code between {end} and the next statement")
        if not stmt["norm"].startswith(stmt["norm_decorators"]):
            problem(f"{at}: norm_decorators is not a prefix of norm")
        if bool(stmt["norm_decorators"]) != bool(getattr(node, "decorator_list", None)):
            problem(f"{at}: norm_decorators {stmt['norm_decorators']!r}")
        if check_norm:
            # The normalized text must still be the same program.
            raw = data[src.line_start(line):end]
            norm = stmt["norm"]
            if indent:
                raw, norm = b"if 1:\n" + raw, b"if 1:\n" + norm
            if dump(norm) != dump(raw):
                problem(f"{at}: norm is another program: {stmt['norm'][:300]!r}")
        if kind in ("def", "class"):
            check_body(src, stmt, node, offset, into_defs, check_norm, problems, where)
    # After the last statement: nothing but blank lines and comments until
    # a line indented less than the block (or the end).
    if stmts:
        tail = stmts[-1]["end"] + offset
        line = src.line_of(tail) if tail < len(data) else None
        while line is not None and line <= len(src.starts) and src.only_gap(
                src.line_start(line), src.line_start(line) + len(src.line_text(line))):
            line += 1
        if line is not None and line <= len(src.starts) and src.column(line) >= indent \
                and src.line_text(line).strip():
            problem(f"last statement ends at {tail} before code on line {line}")
    return problems


def check_body(src, stmt, node, offset, into_defs, check_norm, problems, where):
    """The body fields of a def/class, and its statements when recursing."""
    first = node.body[0]
    body_line = first_line(first)
    prefix = src.line_text(body_line)[: first.col_offset]
    indented = not prefix.strip() or bool(getattr(first, "decorator_list", None))
    at = f"{where}:{stmt['line'] + src.line_of(offset) - 1}"
    if not indented:
        if (stmt["body"], stmt["body_indent"]) != (-1, -1):
            problems.append(f"{at}: body {stmt['body']} for a one-line body")
        return
    body = stmt["body"] + offset
    if stmt["body"] < 0 or body != src.line_start(body_line):
        problems.append(f"{at}: body {stmt['body']} is not line {body_line}")
        return
    if stmt["body_indent"] != src.column(body_line):
        problems.append(f"{at}: body_indent {stmt['body_indent']}")
        return
    if isinstance(node, ast.ClassDef) or into_defs:
        check_block(src, node.body, body, stmt["body_indent"], into_defs, check_norm,
                    problems, where)


def assert_matches_ast(source, **options):
    """Splits `source` (str or bytes) and asserts it agrees with ast.parse."""
    data = source.encode() if isinstance(source, str) else source
    problems = check_block(Source(data), parse(data).body, where="<text>", **options)
    assert not problems, "\n".join(problems)


def split(source, indent=0):
    return _split(source.encode() if isinstance(source, str) else source, indent)


def norms(source):
    return [s["norm"] for s in split(source)]


# ---------------------------------------------------------------------------
# The standard library


TEST_TREES = {"test", "tests", "idle_test", "lib2to3"}


@pytest.fixture(scope="module")
def stdlib():
    """(path, in a test tree) for every stdlib module, read lazily: holding
    every tree at once would make the cyclic GC crawl."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return [
        (path, bool(TEST_TREES & set(path.relative_to(root).parts)))
        for path in sorted(root.rglob("*.py"))
        if "site-packages" not in path.parts
    ]


def parsed(files):
    """(path, data, tree) for the files the running compiler accepts."""
    for path, _ in files:
        data = path.read_bytes()
        try:
            data.decode("utf-8")
            tree = parse(data)
        except (SyntaxError, ValueError, UnicodeDecodeError):
            continue
        yield path, data, tree


def test_stdlib_modules_split_like_the_compiler(stdlib):
    """Every module outside the test trees: every statement, recursively
    through class and def bodies; and the normalized texts of the top-level
    statements, put together, are the same program as the module."""
    problems = []
    checked = 0
    for path, data, tree in parsed([f for f in stdlib if not f[1]]):
        check_block(Source(data), tree.body, check_norm=False, problems=problems,
                    where=str(path))
        if dump(b"".join(s["norm"] for s in _split(data))) != ast.dump(tree):
            problems.append(f"{path}: the normalized statements are another program")
        checked += 1
    assert checked > 500
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:30])


def test_stdlib_test_trees_split_like_the_compiler(stdlib):
    """The test suites (and lib2to3): structure only, through class bodies,
    which keeps the time down."""
    problems = []
    checked = 0
    for path, data, tree in parsed([f for f in stdlib if f[1]]):
        check_block(Source(data), tree.body, into_defs=False, check_norm=False,
                    problems=problems, where=str(path))
        checked += 1
    assert checked > 300
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:30])


def test_largest_stdlib_module_splits_fast(stdlib):
    path = max((f[0] for f in stdlib), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    tree = parse(data)
    _split(data)
    started = time.perf_counter()
    for _ in range(5):
        stmts = _split(data)
    per_split = (time.perf_counter() - started) / 5
    assert len(stmts) == len(units(tree.body))
    # Linear and allocation-light: far below the time ast.parse takes.
    assert per_split < 0.05, f"{path} ({len(data)} bytes): {per_split * 1000:.1f} ms"


# ---------------------------------------------------------------------------
# Statement boundaries and fields


def test_fields_of_a_decorated_method_class():
    src = (
        "import os, sys  # why\n"
        "from a.b import (c,\n"
        "    d)\n"
        "\n"
        "# a comment between statements\n"
        "@decorate(\n"
        "    1,\n"
        ")\n"
        "# between decorator and class\n"
        "@other\n"
        "class Name(\n"
        "        Base):  # header comment\n"
        "    # before the body\n"
        "\n"
        "    x = 1\n"
        "\n"
        "    def method(self):\n"
        "        return 2\n"
        "\n"
        "# trailing\n"
    )
    data = src.encode()
    imp, frm, cls = split(src)
    assert (imp["kind"], imp["start"], imp["end"], imp["line"]) == ("import", 0, 22, 1)
    assert imp["norm"] == b"import os, sys\n"
    assert (frm["kind"], frm["line"], frm["norm"]) == ("from", 2, b"from a.b import (c,\n    d)\n")
    assert cls["kind"] == "class" and cls["name"] == "Name"
    assert data[cls["start"]:].startswith(b"@decorate(")
    assert (cls["line"], cls["head_line"]) == (6, 11)
    assert data[cls["head"]:].startswith(b"class Name(")
    assert data[cls["body"]:].startswith(b"    x = 1\n")
    assert cls["body_indent"] == 4
    assert data[cls["end"] - 17:cls["end"]] == b"        return 2\n"
    assert cls["end"] == data.index(b"\n\n# trailing") + 1
    assert cls["norm_decorators"] == b"@decorate(\n    1,\n)\n@other\n"
    assert cls["norm"] == (
        b"@decorate(\n    1,\n)\n@other\nclass Name(\n        Base):\n"
        b"    x = 1\n    def method(self):\n        return 2\n"
    )
    x, method = split(data[cls["body"]:], cls["body_indent"])
    assert (x["kind"], x["norm"]) == ("other", b"    x = 1\n")
    assert (method["kind"], method["name"], method["line"]) == ("def", "method", 3)
    assert method["body_indent"] == 8
    assert_matches_ast(src)


def test_one_line_bodies_have_no_body():
    for src in ("def f(): pass\n", "class A: x = 1\n", "class A(B): x = 1; y = 2\n",
                "def f(x: int = {1: 2}) -> 'a:b': return x[1:]\n",
                "async def f(): await g()\n", "def f() -> lambda: 1: pass\n"):
        (stmt,) = split(src)
        assert (stmt["body"], stmt["body_indent"]) == (-1, -1), src
        assert_matches_ast(src)


def test_multi_line_headers():
    src = (
        "def f(\n"
        "    a,  # first\n"
        "    b: 'x:y' = {1: 2},\n"
        "):\n"
        "    return a\n"
        "class A(\n"
        "  Base,\n"
        "  metaclass=M):\n"
        "      pass\n"
        "def g(a,\n"
        "      b): return b\n"
    )
    f, a, g = split(src)
    data = src.encode()
    assert data[f["body"]:].startswith(b"    return a")
    assert (a["body_indent"], g["body"]) == (6, -1)
    assert_matches_ast(src)


def test_compound_statements_with_clauses_are_one_statement():
    src = (
        "if a:\n    x = 1\nelif b:\n    x = 2\nelse:\n    x = 3\n"
        "try:\n    import fast\nexcept ImportError:\n    fast = None\n"
        "except (OSError, ValueError) as e:\n    pass\nelse:\n    pass\nfinally:\n    done()\n"
        "for i in x:\n    break\nelse:\n    pass\n"
        "while x:\n    pass\nelse:\n    pass\n"
        "with a as b, c:\n    pass\n"
        "async def f():\n    async with a:\n        pass\n    async for i in b:\n        pass\n"
        "else_ = 1\nexcepted = 2\n"
    )
    stmts = split(src)
    assert [s["kind"] for s in stmts] == ["other"] * 5 + ["def", "other", "other"]
    assert stmts[1]["line"] == 7 and stmts[1]["norm"].startswith(b"try:\n    import fast\n")
    assert_matches_ast(src)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="except* needs Python 3.11")
def test_except_star():
    assert_matches_ast("try:\n    pass\nexcept* ValueError:\n    pass\nx = 1\n")


@pytest.mark.skipif(sys.version_info < (3, 10), reason="match needs Python 3.10")
def test_match_statement():
    src = (
        "match command.split():\n"
        "    case [action]:\n"
        "        pass\n"
        "    case [action, obj]:\n"
        "        pass\n"
        "    case _:\n"
        "        pass\n"
        "match = 1\n"
        "match(x)\n"
        "case = 2\n"
    )
    stmts = split(src)
    assert [s["line"] for s in stmts] == [1, 8, 9, 10]
    assert {s["kind"] for s in stmts} == {"other"}
    assert_matches_ast(src)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="type statements need Python 3.12")
def test_type_parameters_and_type_statement():
    src = "type Point[T] = tuple[T, T]\ndef f[T: int](x: T) -> T:\n    return x\nclass C[T]:\n    pass\n"
    stmts = split(src)
    assert [(s["kind"], s["name"]) for s in stmts] == [("other", None), ("def", "f"), ("class", "C")]
    assert_matches_ast(src)


def test_kinds_and_names():
    src = (
        "import a.b as c, d\n"
        "from . import x\n"
        "from.y import z\n"
        "from __future__ import annotations\n"
        "async def coroutine(): pass\n"
        "async \\\n  def spaced(): pass\n"
        "class  Spaced : pass\n"
        "def données(): pass\n"
        "class Ωmega: pass\n"
        "if TYPE_CHECKING:\n    import typing\n"
        "try:\n    import json\nexcept ImportError:\n    json = None\n"
        '"""A docstring."""\n'
        "define = 1\nimported = 2\nfrom_ = 3\nclasses = 4\n"
        "async_ = 5\n"
    )
    got = [(s["kind"], s["name"]) for s in split(src)]
    assert got == [
        ("import", None), ("from", None), ("from", None), ("from", None),
        ("def", "coroutine"), ("def", "spaced"), ("class", "Spaced"),
        ("def", "données"), ("class", "Ωmega"),
        ("other", None), ("other", None), ("other", None),
        ("other", None), ("other", None), ("other", None), ("other", None), ("other", None),
    ]
    stmts = split(src)
    data = src.encode()
    name = stmts[7]
    assert data[name["head"] + 4:].startswith("données".encode())
    assert_matches_ast(src)


def test_semicolons_keep_a_line_together():
    src = "import os; import sys\nx = 1; y = 2\n"
    stmts = split(src)
    assert [(s["kind"], s["line"]) for s in stmts] == [("import", 1), ("other", 2)]
    assert_matches_ast(src)


def test_decorators_and_comments_between():
    src = (
        "@a\n"
        "\n"
        "# comment\n"
        "@b(1,\n"
        "   2)  # trailing\n"
        "def f():\n"
        "    pass\n"
        "@property\n"
        "async def g(): pass\n"
    )
    f, g = split(src)
    assert (f["line"], f["head_line"], g["line"], g["head_line"]) == (1, 6, 8, 9)
    assert f["norm_decorators"] == b"@a\n@b(1,\n   2)\n"
    assert g["norm_decorators"] == b"@property\n"
    assert_matches_ast(src)


def test_block_stops_at_a_dedent():
    src = "class A:\n    x = 1\n\n  # shallow comment\n    y = 2\n    \nz = 3\n"
    (cls, z) = split(src)
    body = src.encode()[cls["body"]:]
    x, y = split(body, 4)
    assert (x["line"], y["line"]) == (1, 4)
    assert y["end"] == body.index(b"    \nz")
    assert_matches_ast(src)


def test_nested_body_split():
    src = (
        "class A:\n"
        "    @staticmethod\n"
        "    def f():\n"
        "        if x:\n"
        "            pass\n"
        "        else:\n"
        "            pass\n"
        "    class B: pass\n"
        "    s = '''\n"
        "text at column 0\n"
        "'''\n"
        "    t = (1,\n"
        "2)\n"
        "after = 1\n"
    )
    cls, after = split(src)
    body = src.encode()[cls["body"]:]
    stmts = split(body, 4)
    assert [(s["kind"], s["line"]) for s in stmts] == [
        ("def", 1), ("class", 7), ("other", 8), ("other", 11)]
    assert stmts[0]["norm_decorators"] == b"    @staticmethod\n"
    assert after["line"] == 14
    assert_matches_ast(src)


def test_indented_first_line_and_stray_indent_do_not_crash():
    stmts = split("  x = 1\ny = 2\n")
    assert [s["line"] for s in stmts] == [1, 2]
    assert split("", 4) == []
    assert split("x = 1\n", 4) == []


def test_empty_and_whitespace_only_texts():
    assert split(b"") == []
    assert split(b"\n\n   \n# only a comment\n\t\n") == []
    assert split(b"   ") == []


def test_text_without_trailing_newline():
    (a, b) = split("x = 1\ndef f(): return 2")
    assert b["end"] == len("x = 1\ndef f(): return 2")
    assert b["norm"] == b"def f(): return 2\n"
    assert norms("x = 1") == norms("x = 1\n")
    assert_matches_ast("x = 1\ndef f(): return 2")


def test_crlf_and_cr_line_endings():
    unix = "@d\ndef f(a,\n      b):\n    '''doc\n    more'''\n    return a  # c\nx = [1,\n  2]\n"
    for newline in ("\r\n", "\r"):
        other = unix.replace("\n", newline)
        stmts = split(other)
        assert [(s["kind"], s["line"], s["head_line"]) for s in stmts] == [
            ("def", 1, 2), ("other", 7, 7)]
        assert norms(other) == norms(unix)
        data = other.encode()
        assert data[stmts[0]["body"]:].startswith(b"    '''doc")
        assert stmts[0]["end"] == data.index(b"x = [")
        assert_matches_ast(other)


def test_tabs_are_columns_of_eight():
    src = "class A:\n\tx = 1\n\tdef f(self):\n\t\treturn 1\n\ty = 2\n"
    (cls,) = split(src)
    assert cls["body_indent"] == 8
    body = src.encode()[cls["body"]:]
    stmts = split(body, 8)
    assert [s["line"] for s in stmts] == [1, 2, 4]
    assert stmts[1]["body_indent"] == 16
    assert_matches_ast(src)
    # Spaces before a tab still reach the same tab stop.
    mixed = "def f():\n   \tx = 1\n   \treturn x\n"
    (f,) = split(mixed)
    assert f["body_indent"] == 8
    assert [s["line"] for s in split(mixed.encode()[f["body"]:], 8)] == [1, 2]
    assert_matches_ast(mixed)


def test_byte_order_mark_is_skipped():
    src = b"\xef\xbb\xbfimport os\nx = 1\n"
    stmts = split(src)
    assert [(s["kind"], s["start"]) for s in stmts] == [("import", 3), ("other", 13)]
    assert_matches_ast(src)


def test_form_feed_resets_the_column():
    src = "x = 1\n\x0c\ndef f():\n    pass\n\x0cy = 2\n"
    assert [s["line"] for s in split(src)] == [1, 3, 5]
    assert_matches_ast(src)


# ---------------------------------------------------------------------------
# Strings


def test_strings_hide_comments_brackets_and_newlines():
    src = (
        "a = '# not a comment'\n"
        'b = "(" + \'[\' + "{"\n'
        "c = '''\n"
        "x = 1\n"
        "def f(): pass\n"
        "'''\n"
        'd = """it\'s "quoted" \\""" still"""\n'
        "e = 'it\\'s'  # real comment\n"
        'f = r"\\"" + R"\\\\"\n'
        "g = rb'\\'' + Br'x' + bR'''a\\'''' + u'u'\n"
        "h = 'a\\\n"
        "b'\n"
        "i = 1\n"
    )
    stmts = split(src)
    assert [s["line"] for s in stmts] == [1, 2, 3, 7, 8, 9, 10, 11, 13]
    assert stmts[4]["norm"] == b"e = 'it\\'s'\n"
    assert_matches_ast(src)


def test_fstrings_of_every_version():
    src = (
        "a = f'{x!r:>{width}} {{literal}} {y:{{}}}'\n"
        'b = f"{d[\'k\']} {\'#\'}"\n'
        "c = f'''{\n"
        "    x\n"
        "}'''\n"
        'd = rf"\\{x}" + F"\\N{BULLET} {x:%H:%M}"\n'
        "e = f'{x:{\"#\"}^{n}}'\n"
        "g = f'}}{{'\n"
        "h = f'{x:{\"}\"}>{3}}' + 'a'\n"
        "i = 1\n"
    )
    stmts = split(src)
    assert [s["line"] for s in stmts] == [1, 2, 3, 6, 7, 8, 9, 10]
    assert_matches_ast(src)


@pytest.mark.skipif(not PY312, reason="PEP 701 f-strings need Python 3.12")
def test_pep701_fstrings():
    src = (
        'a = f"{d["k"]}"\n'
        'b = f"{f"{f"{x}"}"}"\n'
        'c = f"{x:{"#"}>{n}}"\n'
        "d = f'{\n"
        "    x  # a comment in a field\n"
        "}'\n"
        "e = f'{'\\n'.join(rows)}'\n"
        "g = f\"{'}'}\" + f'{\"{\"}'\n"
        'h = f"{x:{"}"}>{3}}" + "a"\n'
        "i = 1\n"
    )
    stmts = split(src)
    assert [s["line"] for s in stmts] == [1, 2, 3, 4, 7, 8, 9, 10]
    assert stmts[3]["norm"] == b"d = f'{\n    x  # a comment in a field\n}'\n"
    assert_matches_ast(src)


@pytest.mark.parametrize("text", [
    "x = '''never closed\ny = 1\n",
    'x = """\n',
    "x = 'abc\ny = 2\n",
    "x = f'{a\n",
    "x = f'{a:\n}'\n",
    "x = (1,\n2\n",
    "x = [\n",
    "x = f'''{'''\n",
    "x = f'{' * 10000,",
    "x = 1 \\",
    "x = '\\",
    "x = f'\\N{oops",
])
def test_malformed_rest_is_one_statement(text):
    src = "import os\n\ndef f():\n    return 1\n" + text
    data = src.encode()
    stmts = split(data)
    assert [s["kind"] for s in stmts] == ["import", "def", "other"]
    last = stmts[2]
    assert (last["start"], last["end"], last["line"]) == (data.index(b"x = "), len(data), 5)


def test_unterminated_string_takes_the_rest_raw():
    src = b"a = 1\nclass A:\n    s = '''\n\ndef f(): pass\n"
    a, rest = split(src)
    assert (rest["kind"], rest["start"], rest["end"], rest["line"]) == ("other", 6, len(src), 2)
    assert (rest["name"], rest["body"], rest["head"]) == (None, -1, 6)
    assert rest["norm"] == src[6:]
    assert rest["norm_decorators"] == b""


def test_deeply_nested_fstrings_do_not_exhaust_the_stack():
    deep = "x = " + "f'{" * 5000 + "1" + "}'" * 5000 + "\ny = 1\n"
    # Far deeper than CPython accepts: the rest is one malformed statement.
    assert [(s["line"], s["end"]) for s in split(deep)] == [(1, len(deep))]
    brackets = "x = " + "(" * 100000 + ")" * 100000 + "\ny = 1\n"
    assert [s["line"] for s in split(brackets)] == [1, 2]


def test_arbitrary_bytes_never_crash():
    rng = random.Random(1234)
    alphabet = b"\n\r\t \\'\"#{}()[]:@fbr def class import from else\xc3\xa9\x00"
    for _ in range(2000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        for indent in (0, 4):
            stmts = _split(data, indent)
            previous_end = 0
            for s in stmts:
                assert previous_end <= s["start"] <= s["head"] < s["end"] <= len(data)
                previous_end = s["end"]


# ---------------------------------------------------------------------------
# Normalization


def test_norm_ignores_comments_whitespace_blank_lines_and_continuations():
    plain = (
        "def f(a, b):\n"
        "    x = a + b\n"
        "    if x:\n"
        "        return [x,\n"
        "                1]\n"
        "    return 0\n"
    )
    noisy = (
        "def f(a, b):   # a comment\n"
        "    # a comment line\n"
        "\n"
        "    x = a + \\\n"
        "        b   \n"
        "  # a shallow comment\n"
        "    if x:\t\n"
        "\n"
        "        return [x,  # in brackets\n"
        "\n"
        "                # a comment line in brackets\n"
        "                1]\n"
        "\n"
        "    return 0\n"
    )
    assert norms(noisy) == norms(plain)
    assert norms(plain) == [plain.encode()]
    assert_matches_ast(noisy)


def test_norm_sees_every_change_inside_strings():
    base = norms("x = 'a # b'\n")
    assert norms("x = 'a # b'  # c\n") == base
    assert norms("x = 'a #  b'\n") != base
    assert norms("x = 'a # c'\n") != base
    tri = "s = '''\nline   \n\n  # not a comment\n'''\n"
    assert norms(tri) == [tri.encode()]
    assert norms(tri.replace("line   ", "line")) != norms(tri)
    assert norms(tri.replace("\n\n", "\n")) != norms(tri)
    assert norms("s = 'a\\\nb'\n") != norms("s = 'ab'\n")
    assert norms("s = f'{x!r}'\n") != norms("s = f'{x!s}'\n")


def test_norm_changes_with_code():
    assert norms("x = 1\n") != norms("x = 2\n")
    assert norms("def f():\n    return 1\n") != norms("def f():\n    return 1\n    return 1\n")
    assert norms("def f():\n    pass\n") != norms("def f():\n  pass\n")


def test_norm_decorators_follow_the_decorator_lines_only():
    def parts(src):
        (stmt,) = split(src)
        return stmt["norm_decorators"], stmt["norm"]

    base = parts("@cache\n@route('/a')\ndef f():\n    return 1\n")
    body_changed = parts("@cache\n@route('/a')\ndef f():\n    return 2\n")
    deco_changed = parts("@cache\n@route('/b')\ndef f():\n    return 1\n")
    commented = parts("@cache  # why\n\n@route('/a')\ndef f():\n    return 1\n")
    assert base[0] == body_changed[0] == commented[0] == b"@cache\n@route('/a')\n"
    assert deco_changed[0] != base[0]
    assert base[1] != body_changed[1] and base[1] == commented[1]
    assert parts("def f(): pass\n")[0] == b""


# ---------------------------------------------------------------------------
# Generated modules

NAMES = st.sampled_from(["a", "b", "x1", "_y", "données", "Ωmega"])
TEXT = st.text(alphabet="ab #'\"\\{}:\t", max_size=8)


@st.composite
def string_literals(draw):
    text = draw(TEXT)
    form = draw(st.sampled_from(["repr", "f", "raw", "bytes"]))
    if form == "f":
        return "f" + repr(text.replace("{", "{{").replace("}", "}}"))
    if form == "raw" and "'" not in text and not text.endswith("\\"):
        return "r'" + text + "'"
    if form == "bytes":
        return repr(text.encode())
    return repr(text)


def atoms():
    return st.one_of(
        st.integers(-5, 500).map(str), NAMES, string_literals(),
        st.just("f'{a!r:>{b}}'"), st.just("{'k': (1, 2)}"), st.just("(lambda q: q)"),
    )


# A generated statement is a list of lines (text, safe, in_string): `safe`
# when a comment may follow the line (it ends outside any string and is not
# continued by a backslash), `in_string` when the line continues a string
# literal, so that indenting the statement must leave it alone.
def code(text, safe=True):
    return (text, safe, False)


@st.composite
def simple_statements(draw):
    name = draw(NAMES)
    form = draw(st.sampled_from(["assign", "list", "triple", "continued", "import", "from",
                                 "call", "pass"]))
    if form == "assign":
        return [code(f"{name} = {draw(atoms())}")]
    if form == "list":
        items = draw(st.lists(atoms(), min_size=1, max_size=3))
        return [code(f"{name} = [")] + [code(f"    {item},") for item in items] + [code("]")]
    if form == "triple":
        inner = TEXT.filter(lambda t: "'" not in t and not t.endswith("\\"))
        opening, closing = draw(inner), draw(inner)
        return [code(f"{name} = '''{opening}", safe=False), (f"{closing}'''", True, True)]
    if form == "continued":
        return [code(f"{name} = {draw(atoms())} + \\", safe=False), code(f"    {draw(atoms())}")]
    if form == "import":
        return [code(f"import {name}")]
    if form == "from":
        return [code(f"from .{name} import {draw(NAMES)} as z")]
    if form == "call":
        return [code(f"{name}({draw(atoms())}, k={draw(atoms())})")]
    return [code("pass")]


def indent_lines(lines, by="    "):
    return [line if line[2] else (by + line[0],) + line[1:] for line in lines]


def flatten(statements):
    return [line for stmt in statements for line in stmt]


@st.composite
def decorators(draw):
    out = []
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.booleans()):
            out.append(code(f"@{draw(NAMES)}"))
        else:
            out += [code(f"@{draw(NAMES)}("), code(f"    {draw(atoms())},"), code(")")]
    return out


@st.composite
def defs(draw):
    name = draw(NAMES)
    keyword = draw(st.sampled_from(["def", "async def"]))
    head = draw(decorators())
    if draw(st.integers(0, 4)) == 0:
        return head + [code(f"{keyword} {name}(): return {draw(atoms())}")]
    body = flatten(draw(st.lists(simple_statements(), min_size=1, max_size=3)))
    return head + [code(f"{keyword} {name}(p, q={draw(atoms())}):")] + indent_lines(body)


@st.composite
def classes(draw):
    name = draw(NAMES)
    head = draw(decorators())
    if draw(st.integers(0, 4)) == 0:
        return head + [code(f"class {name}: x = {draw(atoms())}")]
    body = flatten(draw(st.lists(st.one_of(simple_statements(), defs()), min_size=1, max_size=3)))
    return head + [code(f"class {name}({draw(NAMES)}):")] + indent_lines(body)


@st.composite
def compounds(draw):
    body = indent_lines(draw(simple_statements()))
    if draw(st.booleans()):
        return [code("if a:")] + body + [code("elif b:"), code("    pass"), code("else:")] + body
    return [code("try:")] + body + [code("except E as e:"), code("    pass"),
                                    code("finally:"), code("    pass")]


MODULES = st.lists(st.one_of(simple_statements(), defs(), classes(), compounds()),
                   min_size=0, max_size=6)


def render(statements, noise):
    """The module's text; with `noise`, with comments, trailing whitespace
    and blank or comment-only lines wherever they cannot change the code."""
    out = []
    for stmt in statements:
        for index, (text, safe, _) in enumerate(stmt):
            line = text
            if noise and safe:
                line += "  # note ' \" {" if index % 2 else " \t"
            out.append(line + "\n")
            if noise and safe:
                out.append("\n" if index % 2 else "        # deep comment\n")
        if noise:
            out.append("# between\n\n")
    return "".join(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MODULES)
def test_generated_modules(statements):
    plain = render(statements, noise=False)
    noisy = render(statements, noise=True)
    assert_matches_ast(plain)
    assert_matches_ast(noisy)
    assert norms(noisy) == norms(plain)
    assert [s["norm_decorators"] for s in split(noisy)] == \
        [s["norm_decorators"] for s in split(plain)]
