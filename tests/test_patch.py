"""hotreload.patch(old, new): `old` behaves as `new`, in place.

Every existing reference to `old` (module attribute, `from` copy, partial,
bound method, registry entry) runs the new code; `old` keeps its identity.
"""
import functools

import pytest

import hotreload


@pytest.fixture
def game(workspace):
    return workspace.load("game", """
        import $events

        def attack(power, bonus=1):
            "Old attack."
            return power + bonus

        $events.HANDLERS.append(attack)

        class Player:
            def __init__(self):
                self.hp = 10

            def hit(self):
                return "hit v1"

            def taunt(self):
                return "taunt"
    """)


def test_patch_function_keeps_identity_and_runs_new_code(game):
    attack = game.attack

    def new_attack(power, bonus=1):
        return power * 100

    hotreload.patch(game.attack, new_attack)
    assert game.attack is attack
    assert attack(2) == 200


def test_patch_reaches_every_existing_reference(workspace, game):
    user = workspace.load("user", """
        from $game import attack

        def strike():
            return attack(3)
    """)
    p = functools.partial(game.attack, 4)
    registered = workspace.events.HANDLERS[0]

    def new_attack(power, bonus=1):
        return -power

    hotreload.patch(game.attack, new_attack)
    assert p() == -4, "partial"
    assert registered(5) == -5, "registry entry"
    assert user.attack(6) == -6 and user.strike() == -3, "from-import copy"


def test_patch_method_reaches_bound_methods_of_old_instances(game):
    player = game.Player()
    bound = player.hit

    def hit(self):
        return "hit v2, hp=%d" % self.hp

    hotreload.patch(game.Player.hit, hit)
    assert bound() == "hit v2, hp=10"
    assert game.Player().hit() == "hit v2, hp=10"


def test_patch_copies_defaults_kwdefaults_doc_annotations_and_dict(game):
    attack = game.attack

    def new_attack(power: int, bonus: int = 5, *, crit: float = 2.0) -> float:
        "New attack."
        return (power + bonus) * crit

    new_attack.tag = "patched"
    hotreload.patch(attack, new_attack)
    assert attack.__defaults__ == (5,)
    assert attack.__kwdefaults__ == {"crit": 2.0}
    assert attack.__doc__ == "New attack."
    assert attack.__annotations__ == {"power": int, "bonus": int, "crit": float, "return": float}
    assert attack.tag == "patched"
    assert attack(1) == 12.0


def test_patched_function_resolves_globals_as_new_does(workspace, game):
    """Decision: `old` behaves as `new`, so the names the new code reads
    (here a helper that exists only in the new function's module) are
    looked up where `new` looks them up."""
    source = workspace.load("fixes", """
        def _helper(power):
            return power * 7

        def attack(power, bonus=1):
            return _helper(power)
    """)
    hotreload.patch(game.attack, source.attack)
    assert game.attack(2) == 14


def test_patch_function_with_different_closure(isolated):
    """`new` is a closure with free variables, `old` has none."""
    isolated("""
        import functools
        write("target", '''
            def f(x):
                return x
        ''')
        import target
        f = target.f
        p = functools.partial(target.f, 1)

        def make(a, b):
            def g(x):
                return a * x + b
            return g

        hotreload.patch(target.f, make(10, 5))
        assert target.f is f
        assert f(2) == 25, f(2)
        assert p() == 15
        assert len(f.__closure__) == len(f.__code__.co_freevars) == 2
        # And back to a function without a closure.
        def plain(x):
            return -x
        hotreload.patch(f, plain)
        assert f(2) == -2 and p() == -1
        assert f.__closure__ is None
    """)


def test_patch_class_keeps_identity_and_old_instances_see_new_methods(game):
    cls = game.Player
    player = game.Player()

    class Player:
        def __init__(self):
            self.hp = 50

        def hit(self):
            return "hit v2"

        def heal(self):
            self.hp += 1
            return self.hp

    hotreload.patch(game.Player, Player)
    assert game.Player is cls
    assert isinstance(player, game.Player)
    assert player.hit() == "hit v2"
    assert player.heal() == 11, "old instance state is kept"
    assert game.Player().hp == 50
    with pytest.raises(AttributeError):
        player.taunt()


def test_patch_class_updates_classmethod_staticmethod_and_property(workspace):
    m = workspace.load("a", """
        class Shop:
            @classmethod
            def open(cls):
                return "open v1"

            @staticmethod
            def tax():
                return 1

            @property
            def name(self):
                return "v1"
    """)
    shop = m.Shop()
    opener = m.Shop.open
    tax = m.Shop.tax

    class Shop:
        @classmethod
        def open(cls):
            return "open v2 " + cls.__name__

        @staticmethod
        def tax():
            return 2

        @property
        def name(self):
            return "v2"

    hotreload.patch(m.Shop, Shop)
    assert opener() == "open v2 Shop"
    assert tax() == 2
    assert shop.name == "v2"


@pytest.mark.parametrize("replacement", [42, len, type("NotAFunction", (), {})],
                         ids=["int", "builtin", "class"])
def test_patch_function_with_non_function_is_refused_and_changes_nothing(game, replacement):
    """Decision: a kind mismatch is a refused patch, so ReloadError (not
    TypeError), with nothing changed."""
    attack = game.attack
    code, defaults, doc = attack.__code__, attack.__defaults__, attack.__doc__
    with pytest.raises(hotreload.ReloadError):
        hotreload.patch(game.attack, replacement)
    assert game.attack is attack
    assert attack.__code__ is code and attack.__defaults__ is defaults and attack.__doc__ is doc
    assert attack(2) == 3


def test_patch_class_with_function_is_refused_and_changes_nothing(game):
    cls = game.Player
    keys = dict(cls.__dict__)

    def not_a_class():
        return None

    with pytest.raises(hotreload.ReloadError):
        hotreload.patch(game.Player, not_a_class)
    assert game.Player is cls
    assert dict(cls.__dict__) == keys
    assert all(cls.__dict__[k] is v for k, v in keys.items())


def test_patch_builtin_function_is_refused(workspace):
    def fake_len(obj):
        return 0

    with pytest.raises(hotreload.ReloadError):
        hotreload.patch(len, fake_len)
    assert len([1, 2]) == 2
