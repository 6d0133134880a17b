"""The source edits the corpus applies before a reload.

Both return new source text, or the text unchanged when the edit does not
apply; neither changes what the module does (the probes only count calls).
"""
import ast
import sys

PROBE = "__corpus_probe__"


def _same_tree(a, b):
    return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))


def neutral_edit(source):
    """The module as `ast.unparse` writes it: the same tree, other text.

    Comments go, quotes, spacing and parentheses change, so most statements
    and every def or class with a comment or a multi-line signature change
    text.  A module the round trip does not reproduce exactly (an old
    interpreter's unparse bug) gets a new last statement instead, so that it
    still counts as changed.
    """
    tree = ast.parse(source)
    text = ast.unparse(tree) + "\n"
    try:
        if _same_tree(source, text):
            return text
    except SyntaxError:
        pass
    return source + "\n__corpus_edit__ = 1\n"


def _functions(tree):
    """(qualified name, node) of every def, nested ones included."""
    out = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                out.append((f"{name}@{child.lineno}", child))
                walk(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return out


def _column(line, offset):
    """The character index of the UTF-8 byte `offset` of `line`."""
    return len(line.encode("utf-8")[:offset].decode("utf-8"))


def add_probes(source, module):
    """Each function and method starts with ``__corpus_probe__("module:qualname@line")``.

    The call goes before the first statement of the body (after a
    docstring); on a line of its own when the statement starts a line,
    otherwise (``def f(): return 1``) as ``probe; return 1`` on its line.
    Returns (new source, the probe keys).
    """
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    edits = []  # (line index, column, text)
    keys = []
    for qualname, node in _functions(tree):
        key = f"{module}:{qualname}"
        keys.append(key)
        call = f"{PROBE}({key!r})"
        body = node.body
        docstring = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                     and isinstance(body[0].value.value, str))
        if docstring and len(body) == 1:
            # After the docstring, on the line it ends on.
            end = body[0]
            index = end.end_lineno - 1
            edits.append((index, _column(lines[index], end.end_col_offset), f"; {call}"))
            continue
        first = body[1] if docstring else body[0]
        # A decorated statement starts at its first decorator, in the def's column.
        decorators = getattr(first, "decorator_list", None)
        index = (decorators[0].lineno if decorators else first.lineno) - 1
        column = _column(lines[first.lineno - 1], first.col_offset)
        if lines[index][:column].strip():
            edits.append((index, column, f"{call}; "))
        else:
            edits.append((index, 0, f"{lines[index][:column]}{call}\n"))
    for index, column, text in sorted(edits, reverse=True):
        lines[index] = lines[index][:column] + text + lines[index][column:]
    return "".join(lines), keys


if __name__ == "__main__":  # python corpus/edits.py FILE: show both edits
    with open(sys.argv[1], encoding="utf-8") as file:
        text = file.read()
    print(add_probes(text, "m")[0])
