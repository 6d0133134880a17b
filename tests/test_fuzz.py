"""Generated edits: a module is edited at random and reloaded after each edit.

After every reload the live module is compared with a fresh import of the
same text (see fuzz_edits.py for the generator and the oracle):

- a reload that succeeds leaves a module that behaves as the fresh import
  (same names, same kinds, every function, method, property, class and datum
  answering the same probes), and every function, class and method captured
  before it that still exists with the same kind is still the module's object;
- a source that must fail (syntax error, raising body) is refused with a
  ReloadError naming the module, and nothing changed: module and class dicts,
  functions' code, closures and defaults (conftest's Snapshot), the record,
  and the behaviour of the previous version;
- a risky edit (bases, enum members, __slots__) may be refused the same way.

`make test` runs a short run; `make fuzz` a long one.  Environment:
HOTRELOAD_FUZZ_SEEDS ("1-12", "3,7,40-45"), HOTRELOAD_FUZZ_STEPS (reloads per
seed).  A failure names its seed and step; rerun it alone with
HOTRELOAD_FUZZ_SEEDS=<seed>.

Every third seed runs as a forking game server does: collection disabled
and the program's state frozen (gc.freeze()) before each reload, so that
what the reload must find (live closures, instances, holders of the twins)
sits in the permanent generation, which CPython's own object walks leave
out (see Collector).

The seeds after those (1, 4, 7...) have what each reload compiles
compiled ahead in a helper process first, as the watcher does
(hotreload.ahead): the module's functions must then hold code equal to a
fresh import's, line for line, as they do when the reload compiles alone.
"""
import contextlib
import difflib
import gc
import importlib
import os

import pytest

import fuzz_edits
import hotreload
from hotreload import _hotreload
from hotreload.ahead import CompileHelper, compile_ahead


def _seeds(spec):
    seeds = []
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


SEEDS = _seeds(os.environ.get("HOTRELOAD_FUZZ_SEEDS", "1-24"))
STEPS = int(os.environ.get("HOTRELOAD_FUZZ_STEPS", "25"))
BROKEN = 0.12  # share of steps whose source must be refused
CRLF = 0.08  # share of the other steps whose file is saved with \r\n line endings


class Collector:
    """The collector mode of a seed: as the program found it, or disabled
    with everything frozen before each reload; restored at the end."""

    def __init__(self, seed):
        self.frozen = seed % 3 == 0

    def before_reload(self):
        if self.frozen:
            gc.freeze()

    @contextlib.contextmanager
    def running(self):
        was_enabled = gc.isenabled()
        if self.frozen:
            gc.disable()
        try:
            yield self
        finally:
            if self.frozen:
                gc.unfreeze()
                if was_enabled:
                    gc.enable()


class Ahead:
    """Compiles ahead, in a helper process, what each reload of a seed
    will compile (seeds 1, 4, 7...), beside a twin of the module that is
    reloaded without: both must end alike."""

    def __init__(self, seed):
        self.helper = CompileHelper() if seed % 3 == 1 else None
        self.twin = None

    def load(self, workspace, text):
        if self.helper is not None:
            self.twin = workspace.load("twin", text)

    def before_reload(self, workspace, module, new_text):
        if self.helper is None:
            return
        workspace.edit("twin", new_text)
        path = _hotreload.source_path(module.__name__)
        with open(path, "rb") as f:
            source = f.read()
        compile_ahead(self.helper, [(module.__name__, path, source)])

    def check(self, module, error):
        """The twin, reloaded without code compiled ahead, is refused when
        the module was, and else holds code equal to the module's in every
        function and method (the same lines too)."""
        if self.helper is None:
            return []
        try:
            hotreload.reload(self.twin)
            twin_error = None
        except hotreload.ReloadError as caught:
            twin_error = caught
        if (error is None) != (twin_error is None):
            return [f"compiled ahead: reload refused {error}, without: refused {twin_error}"]
        if error is not None:
            return []
        problems = []

        def code_of(obj):
            obj = getattr(obj, "__func__", obj)
            return obj.__code__ if isinstance(obj, fuzz_edits.types.FunctionType) else None

        live_ns, twin_ns = vars(module), vars(self.twin)
        for name, value in live_ns.items():
            pairs = [(name, value, twin_ns.get(name))]
            if isinstance(value, type) and isinstance(twin_ns.get(name), type) \
                    and value.__module__ == module.__name__:
                pairs += [(f"{name}.{k}", v, vars(twin_ns[name]).get(k)) for k, v in vars(value).items()]
            for path, live, other in pairs:
                have, want = code_of(live), code_of(other)
                if have is not None and want is not None and have != want:
                    problems.append(f"compiled ahead: {path} holds code unlike the twin's "
                                    f"(line {have.co_firstlineno}, twin {want.co_firstlineno})")
        return problems

    def close(self):
        if self.helper is not None:
            self.helper.close()


def _held_closures(module, model):
    """A closure from each factory, made before a reload and held by the
    program outside the module: only a walk of the heap finds it."""
    held = {}
    for factory in model.factories:
        make = vars(module).get(factory.name)
        if isinstance(make, fuzz_edits.types.FunctionType):
            held[factory.name] = make(3)
    return held


def _check_held(held, fresh):
    """Each held closure took its factory's new code, the code of one the
    fresh module's factory makes; it keeps its own cells (live state),
    so its results may differ.  A stale one (its new code needs a variable
    its cells do not have) keeps its old code and is left out."""
    problems = []
    for name, closure in held.items():
        make = vars(fresh).get(name)
        if not isinstance(make, fuzz_edits.types.FunctionType):
            continue
        expected = make(3)
        if not isinstance(expected, fuzz_edits.types.FunctionType) \
                or closure.__code__.co_freevars != expected.__code__.co_freevars:
            continue
        have, want = closure.__code__, expected.__code__
        if (have.co_code, have.co_consts, have.co_names) != (want.co_code, want.co_consts, want.co_names):
            problems.append(f"a closure {name}(3) made before the reload and held elsewhere "
                            f"kept its old code: constants {have.co_consts!r}, "
                            f"fresh {want.co_consts!r}")
    return problems


def _diff(old, new):
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), "before", "after"))


def _old_instances(module, instances):
    """One instance per plain class of the module, made when the class
    first appeared, kept as long as the class object is the same."""
    for name, value in vars(module).items():
        if not isinstance(value, type) or value.__module__ != module.__name__:
            continue
        if issubclass(value, fuzz_edits.enum.Enum) or fuzz_edits.dataclasses.is_dataclass(value):
            continue
        kept = instances.get(name)
        if kept is None or type(kept[0]) is not value:
            instances[name] = [value()]
    for name in list(instances):
        if not isinstance(vars(module).get(name), type):
            del instances[name]


def run_seed(workspace, seed, steps, fresh_folder):
    ahead = Ahead(seed)
    try:
        with Collector(seed).running() as collector:
            return _run_seed(workspace, seed, steps, fresh_folder, collector, ahead)
    finally:
        ahead.close()


def _run_seed(workspace, seed, steps, fresh_folder, collector, ahead):
    rng = fuzz_edits.random_for(seed)
    model = fuzz_edits.Model.random(rng)
    text = model.render()
    module = workspace.load("m", text)
    ahead.load(workspace, text)
    name = module.__name__
    fresh = fuzz_edits.fresh_module(text, fresh_folder)
    instances = {}
    _old_instances(module, instances)
    problems = fuzz_edits.compare(module, fresh, instances)
    assert not problems, f"seed {seed}: first import differs from a fresh one:\n" + "\n".join(problems)
    counts = {"applied": 0, "refused": 0, "broken": 0}
    for step in range(steps):
        captured = fuzz_edits.Captured(module)
        before = workspace.snapshot(module)
        record = _hotreload._records()[name]
        candidate = model.copy()
        edits, risky = candidate.mutate(rng.randint(1, 3))
        new_text = candidate.render()
        broken = None
        if rng.random() < BROKEN:
            new_text, broken = fuzz_edits.break_source(rng, new_text)
            edits.append(broken)
        assert "$" not in new_text
        # The same text saved with Windows line endings now and then: the
        # reload reads it as a fresh import does, whatever the last save's.
        saved = new_text.replace("\n", "\r\n") if not broken and rng.random() < CRLF else new_text
        workspace.edit("m", saved)

        def fail(message, problems=()):
            # Both versions whole, for a reproduction outside the fuzzer.
            kept = os.path.join(fresh_folder, "failure")
            os.makedirs(kept, exist_ok=True)
            for version, source in (("before", text), ("after", new_text)):
                with open(os.path.join(kept, version + ".py"), "w", encoding="utf-8",
                          errors="surrogateescape") as f:
                    f.write(source)
            pytest.fail(
                f"seed {seed}, step {step}: {message}\nedits: {edits}\n"
                + "".join(f"  {p}\n" for p in problems)
                + f"--- source diff\n{_diff(text, new_text)}"
                + f"(both versions: {kept}/before.py, after.py; "
                + f"replay: HOTRELOAD_FUZZ_SEEDS={seed} HOTRELOAD_FUZZ_STEPS={step + 1})",
                pytrace=False,
            )

        held = _held_closures(module, model)
        try:
            ahead.before_reload(workspace, module, saved)
            collector.before_reload()
            hotreload.reload(module)
            error = None
        except hotreload.ReloadError as caught:
            error = caught
        twin_problems = ahead.check(module, error)
        if twin_problems:
            fail("compiled ahead, the reload differs from one without", twin_problems)
        if error is None:
            if broken:
                fail(f"a source that must be refused ({broken}) was reloaded")
            new_fresh = fuzz_edits.fresh_module(new_text, fresh_folder)
            problems = fuzz_edits.compare(module, new_fresh, instances)
            problems += captured.check_identity(module)
            problems += captured.check_table(module, fuzz_edits.kept_boxes(model, candidate))
            problems += captured.check_behaviour(module, new_fresh)
            problems += _check_held(held, new_fresh)
            if _hotreload._records()[name][1] != saved.encode():
                problems.append("the record does not hold the reloaded text")
            if problems:
                fail("the reloaded module differs from a fresh import", problems)
            model, text, fresh = candidate, new_text, new_fresh
            _old_instances(module, instances)
            counts["applied"] += 1
            continue
        # Refused: it must say why, about this module, and change nothing.
        if not (broken or risky):
            fail(f"an edit that must apply was refused: {error}")
        problems = [f"snapshot: {line}" for line in before.diff(workspace.snapshot(module))]
        if error.module != name or not error.reason or name not in str(error):
            problems.append(f"the error does not name the module and the reason: {error!r}")
        if _hotreload._records()[name] != record:
            problems.append("the record changed")
        problems += fuzz_edits.compare(module, fresh, instances)
        problems += captured.check_identity(module)
        problems += captured.check_table(module, captured.table)
        if problems:
            fail(f"the refused reload ({error}) changed something", problems)
        counts["broken" if broken else "refused"] += 1
    return counts


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzzed_edits(workspace, seed, tmp_path):
    counts = run_seed(workspace, seed, STEPS, str(tmp_path))
    assert sum(counts.values()) == STEPS


def _reload_project(live, changed, mode, rng, collector):
    """Reloads the changed modules: together in one call, in a random order,
    or one by one; a module refused alone (it imports what another changed
    module does not have yet) is tried again once the others are reloaded."""
    order = rng.sample(changed, len(changed))
    collector.before_reload()
    if mode == "together":
        hotreload.reload(*[live[short] for short in order])
        return
    pending = order
    while pending:
        refused = []
        for short in pending:
            try:
                hotreload.reload(live[short])
            except hotreload.ReloadError as error:
                refused.append((short, error))
        if len(refused) == len(pending):
            raise refused[0][1]
        pending = [short for short, _ in refused]


def run_project(workspace, seed, steps, fresh_folder):
    """Several modules (fuzz_edits.Project) edited at random and reloaded,
    together or alone; compared with a fresh import of the same files under
    other names after every step."""
    with Collector(seed).running() as collector:
        return _run_project(workspace, seed, steps, fresh_folder, collector)


def _run_project(workspace, seed, steps, fresh_folder, collector):
    rng = fuzz_edits.random_for(f"project-{seed}")
    project = fuzz_edits.Project(rng)
    names = {short: workspace.name(short) for short in fuzz_edits.Project.ORDER}
    texts = project.render(names)
    for short in fuzz_edits.Project.ORDER:
        workspace.write(short, texts[short])
    live = {short: importlib.import_module(names[short]) for short in fuzz_edits.Project.ORDER}
    fresh = fuzz_edits.fresh_project(project.render, names, fresh_folder)
    problems = fuzz_edits.compare_project(live, fresh)
    assert not problems, f"seed {seed}: first import differs from a fresh one:\n" + "\n".join(problems)
    reloads = 0
    for step in range(steps):
        candidate = project.copy()
        edits = candidate.mutate()
        new_texts = candidate.render(names)
        changed = [short for short in fuzz_edits.Project.ORDER if new_texts[short] != texts[short]]
        if not changed:
            continue
        for short in changed:
            assert "$" not in new_texts[short]
            workspace.edit(short, new_texts[short])
        captured = {short: fuzz_edits.Captured(module) for short, module in live.items()}
        mode = rng.choice(("together", "alone"))

        def fail(message, problems=()):
            diffs = "".join(f"--- {short}\n{_diff(texts[short], new_texts[short])}" for short in changed)
            pytest.fail(
                f"project seed {seed}, step {step} ({mode}: {changed}): {message}\n"
                f"edits: {edits}\n" + "".join(f"  {p}\n" for p in problems) + diffs
                + f"(replay: HOTRELOAD_FUZZ_SEEDS={seed} HOTRELOAD_FUZZ_STEPS={step + 1})",
                pytrace=False,
            )

        try:
            _reload_project(live, changed, mode, rng, collector)
        except hotreload.ReloadError as error:
            fail(f"refused: {error}")
        reloads += 1
        new_fresh = fuzz_edits.fresh_project(candidate.render, names, fresh_folder)
        problems = fuzz_edits.compare_project(live, new_fresh)
        for short, module in live.items():
            problems += [f"{short}: {p}" for p in captured[short].check_identity(module)]
            problems += [f"{short}: {p}" for p in captured[short].check_behaviour(module, new_fresh[short])]
        records = _hotreload._records()
        problems += [f"{short}: the record does not hold the reloaded text" for short in changed
                     if records[names[short]][1] != new_texts[short].encode()]
        if problems:
            fail("the reloaded modules differ from a fresh import", problems)
        project, texts = candidate, new_texts
    return reloads


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzzed_projects(workspace, seed, tmp_path):
    run_project(workspace, seed, STEPS, str(tmp_path))
