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
]

BY_NAME = {entry["name"]: entry for entry in LIBRARIES}
