"""Names imported elsewhere follow a reload (issue 11, item 2).

When a reload rebinds a module-level name (a data table, a constant, a
function replaced by a new object), every module that took it with
`from m import NAME` and still holds the old object gets the new one, in the
same transaction, even when only `m` was saved.
"""
import pytest

import hotreload
from hotreload import ReloadError

DATA_V1 = """
WEAPONS = {"sword": 10, "bow": 7}
SPEED = 3
"""

DATA_V2 = """
WEAPONS = {"sword": 12, "bow": 7}
SPEED = 4
"""

USER = """
from $data import WEAPONS, SPEED as MOVE

def damage(kind):
    return WEAPONS[kind]

def speed():
    return MOVE
"""


def test_only_the_data_module_saved(workspace):
    data = workspace.load("data", DATA_V1)
    user = workspace.load("user", USER)
    workspace.edit("data", DATA_V2)
    report = hotreload.reload(data)
    assert user.WEAPONS is data.WEAPONS
    assert user.damage("sword") == 12
    assert user.MOVE == 4 and user.speed() == 4  # an alias too
    assert f"{user.__name__}.WEAPONS" in report.replaced
    assert f"{user.__name__}.MOVE" in report.replaced


@pytest.mark.parametrize("order", ["data_first", "user_first"])
def test_reloaded_together_in_any_order(workspace, order):
    data = workspace.load("data", DATA_V1)
    user = workspace.load("user", USER)
    workspace.edit("data", DATA_V2)
    batch = (data, user) if order == "data_first" else (user, data)
    hotreload.reload(*batch)
    assert user.WEAPONS is data.WEAPONS and user.damage("sword") == 12


def test_a_name_of_its_own_is_left_alone(workspace):
    # `SPEED` here is the module's own, bound after the import: it holds the
    # same (cached) int object, but was not imported, and must not change.
    data = workspace.load("data", DATA_V1)
    other = workspace.load("other", """
        from $data import WEAPONS
        SPEED = 3
    """)
    assert other.SPEED is data.SPEED
    workspace.edit("data", DATA_V2)
    hotreload.reload(data)
    assert other.SPEED == 3
    assert other.WEAPONS is data.WEAPONS


def test_a_rebound_import_is_left_alone(workspace):
    # The importer rebinds the name after importing it: its value is its own.
    data = workspace.load("data", DATA_V1)
    other = workspace.load("other", """
        from $data import WEAPONS
        WEAPONS = dict(WEAPONS, axe=5)
    """)
    workspace.edit("data", DATA_V2)
    hotreload.reload(data)
    assert other.WEAPONS == {"sword": 10, "bow": 7, "axe": 5}


def test_an_importer_that_changed_the_value_keeps_it(workspace):
    data = workspace.load("data", DATA_V1)
    user = workspace.load("user", USER)
    user.WEAPONS = {"sword": 99}  # set at run time by other code
    workspace.edit("data", DATA_V2)
    hotreload.reload(data)
    assert user.WEAPONS == {"sword": 99}


def test_a_refused_reload_changes_no_importer(workspace):
    data = workspace.load("data", DATA_V1)
    user = workspace.load("user", USER)
    before = user.WEAPONS
    workspace.edit("data", DATA_V2 + "raise RuntimeError('no')\n")
    with pytest.raises(ReloadError):
        hotreload.reload(data)
    assert user.WEAPONS is before and data.WEAPONS is before


def test_a_hook_that_raises_undoes_the_importers_too(workspace):
    data = workspace.load("data", DATA_V1)
    user = workspace.load("user", USER)
    before = user.WEAPONS
    workspace.edit("data", DATA_V2 + """
def __reload_module__(old):
    raise RuntimeError("no")
""")
    with pytest.raises(ReloadError):
        hotreload.reload(data)
    assert user.WEAPONS is before and data.WEAPONS is before


def test_relative_import_in_a_package(workspace):
    workspace.write("pkg.data", DATA_V1)
    workspace.write("pkg.user", """
        from .data import WEAPONS
    """)
    data = workspace.load("pkg.data")
    user = workspace.load("pkg.user")
    workspace.edit("pkg.data", DATA_V2)
    hotreload.reload(data)
    assert user.WEAPONS is data.WEAPONS


@pytest.mark.parametrize("spelling", [
    "from . import data\nWEAPONS = data.WEAPONS\nfrom .data import SPEED",  # `from .x`
    "from  .  data import SPEED",                  # spaces after `from`
    "from \\\n    .data import SPEED",              # a continuation line
    "from $pkg_data import SPEED",                  # the package's full dotted name
    "from . import SPEED",                          # the package itself re-exported
])
def test_every_spelling_of_a_from_import_is_followed(workspace, spelling):
    """The importers are first told from the rest by their text: a module
    that names no batch module and imports nothing relatively is not split
    into statements.  Each spelling of a from-import must still be seen."""
    workspace.write("pkg.data", DATA_V1)  # the package's folder first: "pkg" is its __init__
    workspace.write("pkg", "from .data import SPEED\n" if "from . import SPEED" in spelling else "")
    workspace.write("pkg.user", spelling.replace("$pkg_data", workspace.name("pkg.data")) + "\n")
    pkg = workspace.load("pkg")
    data = workspace.load("pkg.data")
    user = workspace.load("pkg.user")
    workspace.edit("pkg.data", DATA_V2)
    batch = (data, pkg) if "from . import SPEED" in spelling else (data,)
    hotreload.reload(*batch)
    assert user.SPEED == 4 and data.SPEED == 4


A_CYCLE = """
K = 1

class Base:
    def hello(self):
        return "hello"

def fa():
    return b.fb() + K

import $b as b
"""
B_CYCLE = """
import $a as a
from $a import K, Base

class Child(Base):
    pass

def fb():
    return K
"""


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_a_cycle_takes_names_from_the_module_it_imports_them_from(workspace, order):
    """Two modules that import each other (fuzzer, several modules): `b`
    takes a's class by name while `a` imports `b` at its end.  In one
    reload, whatever the order given, `a` runs first and b's from-import,
    which changed, takes the new names, also one the live `a` lacks yet."""
    workspace.write("a", A_CYCLE)
    workspace.write("b", B_CYCLE)
    a = workspace.load("a")
    b = workspace.load("b")
    child = b.Child
    workspace.edit("a", A_CYCLE.replace("Base", "Root").replace("K = 1", "K = 2"))
    workspace.edit("b", B_CYCLE.replace("Base", "Root"))
    modules = {"a": a, "b": b}
    hotreload.reload(*[modules[short] for short in order])
    assert b.Child is child and child.__bases__ == (a.Root,) and b.Root is a.Root
    assert child().hello() == "hello" and a.fa() == 4 and not hasattr(a, "Base")


def test_a_from_import_of_a_name_the_batch_module_lacks_is_refused(workspace):
    workspace.write("a", A_CYCLE)
    workspace.write("b", B_CYCLE)
    a = workspace.load("a")
    b = workspace.load("b")
    workspace.edit("b", B_CYCLE.replace("K, Base", "K, Base, Missing"))
    workspace.edit("a", A_CYCLE.replace("K = 1", "K = 2"))
    with pytest.raises(ReloadError, match="cannot import name 'Missing'") as raised:
        hotreload.reload(a, b)
    assert raised.value.module == b.__name__
    assert a.K == 1 and b.K == 1


def test_a_reexport_of_a_decorated_function_takes_the_live_wrapper(workspace):
    """Project fuzz seed 30039: a package's `from .sub import f, g` changed
    in the same reload as f's body; f runs without its unchanged decorator,
    so the re-export takes the live wrapper, not the bare function."""
    sub = """
        import functools

        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*args):
                return ("wrapped", fn(*args))
            return wrapper

        @deco
        def f(x):
            return x

        def g():
            return "g"
    """
    workspace.write("pkg.sub", sub)
    workspace.write("pkg", "from .sub import f\n")
    pkg = workspace.load("pkg")
    sub_module = workspace.load("pkg.sub")
    wrapper = pkg.f
    workspace.edit("pkg.sub", sub.replace("return x", "return x + 1"))
    workspace.edit("pkg", "from .sub import f, g\n")
    hotreload.reload(pkg, sub_module)
    assert pkg.f is wrapper is sub_module.f and pkg.f(1) == ("wrapped", 2)
    assert pkg.g is sub_module.g
