"""Instance hooks: what ``__reload_instance__`` on every live instance costs,
and IPython's autoreload on the same reload.

One process, the live heap of the core benchmark (100,000 instances of the
game module's 50 classes among 1,000,000 unrelated objects), every function
and method body edited:

- ``hotreload, no hooks``: the module without ``__reload_instance__``;
- ``hotreload, hooks``: the same module where every class defines
  ``__reload_instance__`` (it sets ``self.migrated``): one walk over the heap
  finds the 100,000 instances and calls the hook on each;
- ``IPython superreload``: ``IPython.extensions.autoreload.superreload``,
  keeping its ``old_objects`` across calls as ``%autoreload`` does; it has no
  instance hook, and walks ``gc.get_referrers`` per class to update instances.

Each tool reloads its own copy of the module, with its own 100,000 instances.
The hook pass is the difference between the first two (target: under 50 ms);
the ratio is IPython's time over hotreload's with hooks.

Run ``python bench/bench_hooks.py`` (``--quick`` for a smaller heap).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gamegen  # noqa: E402

ROUNDS = 5
TARGET_HOOK_MS = 50.0


def _write(folder: str, name: str, source: str, stamp: list) -> None:
    path = os.path.join(folder, name + ".py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    stamp[0] += 2
    os.utime(path, (stamp[0], stamp[0]))
    importlib.invalidate_caches()


def run(rounds: int = ROUNDS, n_instances: int = gamegen.N_INSTANCES,
        n_objects: int = gamegen.N_OBJECTS, quick: bool = False) -> dict:
    import hotreload

    if quick:
        rounds, n_instances, n_objects = 2, 10_000, 100_000
    try:
        from IPython.extensions.autoreload import superreload
    except ImportError:  # measured only where IPython is installed
        superreload = None
    sys.dont_write_bytecode = True
    folder = tempfile.mkdtemp(prefix="hr-bench-hooks-")
    sys.path.insert(0, folder)
    stamp = [1_000_000_000]
    variants = {"plain": False, "hooks": True, "ipython": False}
    if superreload is None:
        del variants["ipython"]
    hotreload.install()
    modules = {}
    for key, hooks in variants.items():
        _write(folder, f"game_{key}", gamegen.generate(0, hooks=hooks), stamp)
        modules[key] = importlib.import_module(f"game_{key}")
    heap = gamegen.build_heap(modules, n_instances, n_objects)
    old_objects: dict = {}
    times: dict = {key: [] for key in variants}
    hooked_counts = []
    for version in range(1, rounds + 1):
        for key, hooks in variants.items():
            _write(folder, f"game_{key}", gamegen.generate(version, hooks=hooks), stamp)
            gc.collect()
            start = time.perf_counter()
            if key == "ipython":
                superreload(modules[key], reload=importlib.reload, old_objects=old_objects)
            else:
                report = hotreload.reload(modules[key])
                if key == "hooks":
                    hooked_counts.append(sum(report.instances.values()))
            times[key].append(time.perf_counter() - start)
        sample = heap.instances["hooks"][13]
        if getattr(sample, "migrated", None) != version:
            raise AssertionError(f"the hook did not run on an old instance (round {version})")
    median = {key: statistics.median(t) * 1000 for key, t in times.items()}
    result = {
        "python": platform.python_version(),
        "instances": n_instances,
        "objects": n_objects,
        "rounds": rounds,
        "median_ms": median,
        "hook_pass_ms": median["hooks"] - median["plain"],
        "hooked_instances": hooked_counts[-1],
    }
    if "ipython" in median:
        result["ipython_ratio"] = median["ipython"] / median["hooks"]
    hotreload.uninstall()
    return result


def format_block(result: dict) -> str:
    m = result["median_ms"]
    lines = [
        "== hooks: __reload_instance__ on every live instance, and IPython's autoreload",
        f"python        {result['python']}",
        f"heap          {result['instances']:,} instances per module, {result['objects']:,} "
        f"unrelated objects; every body edited; median of {result['rounds']} rounds",
        f"  hotreload, no hooks      {m['plain']:8.1f} ms",
        f"  hotreload, hooks         {m['hooks']:8.1f} ms   ({result['hooked_instances']:,} "
        "instances migrated)",
        f"  hook pass                {result['hook_pass_ms']:8.1f} ms   target < "
        f"{TARGET_HOOK_MS:g} ms: {'MET' if result['hook_pass_ms'] < TARGET_HOOK_MS else 'NOT MET'}",
    ]
    if "ipython" in m:
        lines.append(f"  IPython superreload      {m['ipython']:8.1f} ms   "
                     f"{result['ipython_ratio']:.0f}x hotreload with hooks")
    else:
        lines.append("  IPython superreload      not installed (pip install ipython)")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 instances, 100,000 objects")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    print(format_block(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
