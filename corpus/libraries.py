"""The corpus: pure-Python libraries with good test suites, pinned.

Each entry names a release and the next one (scenario c upgrades from the
first to the second); the other scenarios use the newer release.  Both are
fetched as source distributions from the package index at run time, never
committed: an sdist holds the library and its tests.

    name      the distribution on the package index
    old, new  two consecutive releases
    root      the folder of the unpacked sdist that goes on sys.path
    modules   the top-level modules or packages that make up the library
    tests     the test files and folders pytest is given (relative to the sdist)
    pytest    extra pytest arguments (deselected tests say why)
    deps      requirements the tests need from the environment (installed by pip)
    unsteady  probes (scenario b) whose counts differ between two fresh processes:
              left out of the comparison
    known     scenario -> why its row differs from a fresh process or is refused, for
              what corpus/MISMATCHES.md explains and leaves open: run.py shows the row
              as "known" instead of failing, and fails when it matches again
"""

LIBRARIES = [
    dict(name="six", old="1.16.0", new="1.17.0", root=".", modules=["six"],
         tests=["test_six.py"]),
    dict(name="more-itertools", old="10.4.0", new="10.5.0", root=".", modules=["more_itertools"],
         tests=["tests"]),
    dict(name="toolz", old="0.12.0", new="0.12.1", root=".", modules=["toolz", "tlz"],
         tests=["toolz/tests"]),
    # Its conftest.py implements a hook with the `path` argument pytest 9 dropped; what it
    # did (leave out test files for another Python major version) is the --ignore-glob.
    dict(name="boltons", old="24.0.0", new="24.1.0", root=".", modules=["boltons"],
         tests=["tests"], pytest=["--noconftest", "--ignore-glob=*_py2*"]),
    dict(name="idna", old="3.7", new="3.8", root=".", modules=["idna"], tests=["tests"]),
    dict(name="cachetools", old="5.4.0", new="5.5.0", root="src", modules=["cachetools"],
         tests=["tests"]),
    # Its filterwarnings = error turns a deprecation warning of newer pytest releases into a
    # collection error.
    dict(name="click", old="8.1.6", new="8.1.7", root="src", modules=["click"], tests=["tests"],
         pytest=["-W", "ignore:Passing a non-Collection iterable to parametrize"]),
    dict(name="jinja2", old="3.1.3", new="3.1.4", root="src", modules=["jinja2"], tests=["tests"],
         deps=["markupsafe>=2.0"]),
    dict(name="simplejson", old="3.19.2", new="3.19.3", root=".", modules=["simplejson"],
         tests=["simplejson/tests"]),
    dict(name="decorator", old="5.1.0", new="5.1.1", root="src", modules=["decorator"],
         tests=["src/tests/test.py"]),
    # attrs writes the methods of its classes as source and compiles them (__init__,
    # __eq__, __repr__ ...) at class creation; hypothesis, which its tests use, imports it
    # too, so the reload reaches a library the test runner itself holds objects of.
    dict(name="attrs", old="25.3.0", new="25.4.0", root="src", modules=["attr", "attrs"],
         tests=["tests"], pytest=["-p", "_hypothesis_pytestplugin", "--hypothesis-seed=0"],
         deps=["hypothesis"]),
    # A grammar is a graph of live parser-element instances made at import time
    # (pyparsing_common, the helpers' module-level expressions) that the tests reuse.
    # The diagram, examples and matplotlib tests need packages the library does not.
    dict(name="pyparsing", old="3.3.2", new="3.3.3", root=".", modules=["pyparsing"],
         tests=["tests/test_simple_unit.py", "tests/test_unit.py", "tests/test_util.py"],
         known={"a": "core.py keeps the line of its own code in pa_call_line_synth, "
                     "computed before the reload moved that line",
                "c": "grammar objects made at import by the old __init__ lack the "
                     "max_count attribute the new one sets"}),
    dict(name="itsdangerous", old="2.1.2", new="2.2.0", root="src", modules=["itsdangerous"],
         tests=["tests"], deps=["freezegun"],
         known={"c": "refused: Serializer, a class of object alone, becomes Generic: "
                     "CPython cannot give a live class that base"}),
    # Schemas are classes made by a metaclass that registers each by name in a
    # module-level registry (class_registry); fields are instances declared in class bodies.
    # One test's parameters are the time of collection, so its ids differ between the
    # two processes: it is left out.
    dict(name="marshmallow", old="3.22.0", new="3.23.0", root="src", modules=["marshmallow"],
         tests=["tests"], pytest=["-k", "not test_invalid_datetime_deserialization"],
         deps=["simplejson"]),
    # The lexer's regular-expression tables are module-level data, compiled at import.
    dict(name="sqlparse", old="0.5.0", new="0.5.1", root=".", modules=["sqlparse"],
         tests=["tests"],
         known={"c": "refused: Token's __slots__ gain is_newline, a layout live tokens "
                     "cannot take"}),
    dict(name="tomlkit", old="0.13.0", new="0.13.2", root=".", modules=["tomlkit"],
         tests=["tests"], deps=["pyyaml"]),
    # A parser generator: grammars are read and built into parser tables at run time.
    # How often Symbol.__eq__ and __hash__ run differs from one fresh process to the
    # next (sets of objects hashed by address are walked in another order).
    dict(name="lark", old="1.2.1", new="1.2.2", root=".", modules=["lark"], tests=["tests"],
         unsteady=["lark.grammar:Symbol.__eq__@18", "lark.grammar:Symbol.__hash__@25"]),
]

BY_NAME = {entry["name"]: entry for entry in LIBRARIES}
