"""Which engine file calls which, checked against the engine's layers.

The engine's folders are its layers, in the order a reload passes through
them (LAYERS below).  Every engine file includes hotreload.h, so includes say
nothing; calls do.  A file "calls" another when it names a function (hr_*) or
a type object (hr_*_Type) the other defines.  Prints one line per file with
the files it calls, then every call from a layer to a higher one and every
circle (strongly connected group of files), and exits 1 when there is either.

    python tools/layers.py [ENGINE_FOLDER]
"""
import pathlib
import re
import sys

ENGINE = pathlib.Path(__file__).resolve().parent.parent / "src" / "hotreload" / "_engine"

# The folders, lowest first: a file may call files of its own layer (without a
# circle) and of the layers before it, never of one after it.
LAYERS = ("base", "text", "run", "commit", "reload", "bind")

# CPython's layout: the return type on its own line, the name at column 0.
DEFINITION = re.compile(r"^(hr_\w+)\(", re.M)
NAME = re.compile(r"\b(hr_\w+)\b")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def read_files(folder):
    """"layer/stem" -> its C text with comments and strings taken out."""
    texts = {}
    for path in sorted(folder.glob("*/*.c")):
        if path.parent.name not in LAYERS:
            raise SystemExit(f"{path}: not in a layer's folder ({', '.join(LAYERS)})")
        texts[f"{path.parent.name}/{path.stem}"] = STRING.sub('""', COMMENT.sub(" ", path.read_text()))
    stems = [name.split("/")[1] for name in texts]
    if len(set(stems)) != len(stems):
        # valgrind and gdb name frames by file name alone.
        raise SystemExit("two engine files have the same name")
    return texts


def rank(name):
    return LAYERS.index(name.split("/")[0])


def upward(graph):
    """(caller, callee) pairs where a layer calls a higher one."""
    return [(a, b) for a in sorted(graph) for b in sorted(graph[a]) if rank(b) > rank(a)]


def owners(texts):
    """function name -> the file that defines it."""
    return {name: stem for stem, text in texts.items() for name in DEFINITION.findall(text)}


def call_graph(texts):
    """file -> set of other files whose functions it names."""
    owner = owners(texts)
    graph = {}
    for stem, text in texts.items():
        graph[stem] = {owner[n] for n in NAME.findall(text) if owner.get(n, stem) != stem}
    return graph


def circles(graph):
    """The strongly connected groups of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main(argv):
    folder = pathlib.Path(argv[1]) if len(argv) > 1 else ENGINE
    texts = read_files(folder)
    graph = call_graph(texts)
    width = max(map(len, graph))
    for stem in sorted(graph, key=lambda s: (rank(s), s)):
        print(f"{stem:<{width}}  -> {', '.join(sorted(graph[stem], key=lambda s: (rank(s), s))) or '-'}")
    print()
    owner = owners(texts)
    wrong = upward(graph)
    for a, b in wrong:
        names = sorted({n for n in NAME.findall(texts[a]) if owner.get(n) == b})
        print(f"upward: {a} calls {b} ({', '.join(names)})")
    groups = circles(graph)
    for group in groups:
        pairs = [f"{a}<->{b}" for i, a in enumerate(group) for b in group[i + 1:]
                 if b in graph[a] and a in graph[b]]
        print(f"circle of {len(group)}: {', '.join(group)}" + (f" (both ways: {', '.join(pairs)})" if pairs else ""))
    if wrong or groups:
        return 1
    print(f"no circle, and no layer calls a higher one ({' < '.join(LAYERS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
