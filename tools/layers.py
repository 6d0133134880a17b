"""Which engine file calls which: the map issue 12's layering is checked against.

Every engine file includes hotreload.h, so includes say nothing; calls do.  A
file "calls" another when it names a function (hr_*) or a type object
(hr_*_Type) the other defines.  Prints one line per file with the files it
calls, then every circle (strongly connected group of files), and exits 1 when
there is one.

    python tools/layers.py [ENGINE_FOLDER]
"""
import pathlib
import re
import sys

ENGINE = pathlib.Path(__file__).resolve().parent.parent / "src" / "hotreload" / "_engine"

# CPython's layout: the return type on its own line, the name at column 0.
DEFINITION = re.compile(r"^(hr_\w+)\(", re.M)
NAME = re.compile(r"\b(hr_\w+)\b")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def read_files(folder):
    """file stem -> its C text with comments and strings taken out."""
    return {path.stem: STRING.sub('""', COMMENT.sub(" ", path.read_text()))
            for path in sorted(folder.glob("*.c"))}


def call_graph(texts):
    """file -> set of other files whose functions it names."""
    owner = {}
    for stem, text in texts.items():
        for name in DEFINITION.findall(text):
            owner[name] = stem
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
    graph = call_graph(read_files(folder))
    width = max(map(len, graph))
    for stem in sorted(graph):
        print(f"{stem:<{width}}  -> {', '.join(sorted(graph[stem])) or '-'}")
    groups = circles(graph)
    print()
    if not groups:
        print("no circle")
        return 0
    for group in groups:
        pairs = [f"{a}<->{b}" for i, a in enumerate(group) for b in group[i + 1:]
                 if b in graph[a] and a in graph[b]]
        print(f"circle of {len(group)}: {', '.join(group)}" + (f" (both ways: {', '.join(pairs)})" if pairs else ""))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
