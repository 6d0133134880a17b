"""The summary of a whole ``make bench`` run: one table, the targets, a plot.

`summary(results)` turns the results of every benchmark (see run.py) into
Markdown: the interpreter, date and machine; one table of every scenario
against every tool (median seconds, the floor of the tool's own process, the
ratio, peak memory, rounds, and whether the result was correct); the import
overhead and memory tables; the targets with MET / NOT MET; what each peer
did.  It is printed, and written to ``bench/results.md``; `plot` draws
``bench/results.png``: reload time against heap size for each tool.
"""
from __future__ import annotations

import datetime
import importlib.metadata
import math
import os
import platform

import bench_core
import bench_import
import bench_memory
import bench_modules
import bench_watch

TARGET_IPYTHON_RATIO = 20.0
TARGET_HOOK_MS = 50.0
ORDER = ("floor", "hotreload", "ipython_super", "ipython_auto", "jurigged")
COLORS = {"hotreload": "tab:blue", "ipython_super": "tab:orange", "ipython_auto": "tab:green",
          "jurigged": "tab:red"}


def _seconds(ms: float | None) -> str:
    """Seconds to three significant digits, without exponents."""
    if ms is None:
        return "-"
    s = ms / 1e3
    if s <= 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(s)))
    return f"{s:.{digits}f}"


def _label(name: str) -> str:
    return bench_core.TOOLS[name].label


def machine() -> str:
    """System, processor and number of cores."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {model or 'unknown processor'}, {os.cpu_count()} cores"


def _core_rows(core: dict) -> list[list[str]]:
    """Rows of scenarios 1, 2 and 4: per scenario the floor, then each tool."""
    rows = []
    workers = core["workers"]
    home = workers.get("hotreload") if "error" not in workers.get("hotreload", {"error": 1}) else None
    home = home or next((w for w in workers.values() if "error" not in w), None)
    for sname in bench_core.DEFAULT_SCENARIOS:
        scenario = bench_core.SCENARIOS[sname]
        title = scenario.title
        if sname == "hooks":
            title += f" ({core['sizes']['n_instances']:,} instances)"
        else:
            title += f" ({scenario.bodies_edited} {'body' if scenario.bodies_edited == 1 else 'bodies'})"
        first = True

        def row(*cells):
            nonlocal first
            rows.append([title if first else "", *cells])
            first = False

        if home is not None:
            floor = home["scenarios"].get(sname, {}).get("tools", {}).get("floor")
            if floor:
                row(_label("floor"), _seconds(floor["median_ms"]), "", "1.00x", _mib(floor),
                    str(floor["rounds"]), floor["verdict"])
        for name in ORDER[1:]:
            if name in core["missing"]:
                row(_label(name), core["missing"][name], "", "", "", "", "")
                continue
            w = workers.get(name)
            if w is None:
                continue
            if "error" in w:
                row(_label(name), f"failed to run: {w['error']}", "", "", "", "", "")
                continue
            sc = w["scenarios"].get(sname, {})
            if "skipped" in sc:
                row(_label(name), f"not run: {sc['skipped']}", "", "", "", "", "")
                continue
            fig, floor = sc["tools"][name], sc["tools"]["floor"]
            if fig.get("stopped"):
                cap = fig["stopped"]["after_s"]
                time_text = f"> {cap:g} (stopped)"
                ratio = f"> {cap * 1e3 / floor['median_ms']:.0f}x" if floor["median_ms"] else "-"
            else:
                time_text = _seconds(fig["median_ms"])
                ratio = f"{sc['ratio'][name]:.2f}x" if name in sc["ratio"] else "-"
            row(_label(name), time_text, _seconds(floor["median_ms"]), ratio, _mib(fig),
                str(fig["rounds"]), fig["verdict"])
    return rows


def _mib(fig: dict) -> str:
    return "-" if fig.get("peak_kib") is None else f"{fig['peak_kib'] / 1024:.1f}"


def _module_rows(mods: dict) -> list[list[str]]:
    """Rows of scenario 3: finding with each number of modules loaded, then
    one edit found and reloaded."""
    rows = []
    workers = mods["workers"]
    floor = workers.get("floor", {})
    sizes = mods["sizes"]
    for size in sizes:
        title = f"3. find the changed module, {size} loaded"
        first = True
        for name, w in workers.items():
            if name == "floor":
                continue
            cell = title if first else ""
            first = False
            if "error" in w:
                rows.append([cell, _label(name), f"failed to run: {w['error']}", "", "", "", "", ""])
                continue
            found = w.get("find", {}).get(str(size)) or w.get("find", {}).get(size)
            if found is None:
                rows.append([cell, _label(name), w.get("no_find", "-"), "", "", "", "", ""])
            else:
                rows.append([cell, _label(name) + (" reload_changed()" if name == "hotreload" else " check()"),
                             _seconds(found["median_ms"]), "", "", "", "", ""])
    title = f"3. one of {max(sizes)} edited: find + reload"
    first = True
    for name, w in workers.items():
        if "error" in w:
            rows.append([title if first else "", _label(name), f"failed to run: {w['error']}", "", "", "", "", ""])
            first = False
            continue
        ratio = "1.00x" if name == "floor" else (
            f"{w['edit_ms'] / floor['edit_ms']:.2f}x" if floor.get("edit_ms") else "-")
        how = {"floor": ", told which", "jurigged": ", told which file"}.get(name, "")
        rows.append([title if first else "", _label(name) + how, _seconds(w["edit_ms"]),
                     "" if name == "floor" else _seconds(floor.get("edit_ms")), ratio, "-",
                     str(w["edit_rounds"]), w["verdict"]])
        first = False
    for name, why in mods["missing"].items():
        rows.append(["", _label(name), why, "", "", "", "", ""])
    return rows


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return out


def targets(results: dict) -> list[tuple[str, str, bool | None]]:
    """(what, the figure, met) for each target; met is None when the figure
    is missing."""
    out = []
    core = results.get("core")
    hot = core["workers"].get("hotreload", {}) if core else {}
    scen = hot.get("scenarios", {}) if "error" not in hot else {}
    for sname, what in (("one_body", "scenario 1: reload within 1.2x of the floor"),
                        ("all_bodies", "scenario 2: reload within 1.2x of the floor")):
        ratio = scen.get(sname, {}).get("ratio", {}).get("hotreload")
        out.append((what, "-" if ratio is None else f"{ratio:.2f}x",
                    None if ratio is None else ratio <= bench_core.TARGET_RATIO))
    hooks = scen.get("hooks", {}).get("tools", {}).get("hotreload", {}).get("median_ms")
    plain = scen.get("all_bodies", {}).get("tools", {}).get("hotreload", {}).get("median_ms")
    if core:
        for name, how in (("ipython_super", "superreload"), ("ipython_auto", "%autoreload")):
            w = core["workers"].get(name, {})
            fig = w.get("scenarios", {}).get("hooks", {}).get("tools", {}).get(name, {})
            if name == "ipython_super":
                what = "scenario 4: at least 20x faster than IPython's autoreload (superreload)"
            else:
                what = "scenario 4, for information: IPython 9's %autoreload (deduperreload; runs no hook)"
            if hooks and fig.get("median_ms"):
                ratio = fig["median_ms"] / hooks
                met = ratio >= TARGET_IPYTHON_RATIO if name == "ipython_super" else None
                out.append((what, f"{ratio:.1f}x", met))
            elif name == "ipython_super":
                out.append((what, "-", None))
        if hooks and plain:
            out.append(("scenario 4: the hook pass (hooks - no hooks) under 50 ms",
                        f"{hooks - plain:.1f} ms", hooks - plain < TARGET_HOOK_MS))
    imp = results.get("import")
    if imp:
        counted = imp.get("instruction_count")
        figure = counted["overhead_percent"] if counted else imp["overhead_percent"]
        how = "instructions, callgrind" if counted else "median wall time"
        out.append(("scenario 5: import overhead of install() under 3 %", f"{figure:+.2f} % ({how})",
                    figure < bench_import.TARGET_PERCENT))
    mods = results.get("modules")
    if mods:
        big = max(mods["sizes"])
        found = mods["workers"].get("hotreload", {}).get("find", {})
        found = found.get(str(big)) or found.get(big)
        out.append((f"scenario 3: finding the changed module among {big} under 5 ms",
                    "-" if not found else f"{found['median_ms']:.2f} ms",
                    None if not found else found["median_ms"] < bench_modules.TARGET_FIND_MS))
    watch = results.get("watch")
    if watch and watch.get("native"):
        median = watch["native"]["median_ms"]
        out.append(("watch: from a save to the new code running in `hotreload run`, native events, "
                    "under 100 ms", f"{median:.0f} ms (median)", median < bench_watch.TARGET_MS))
    return sorted(out, key=lambda target: target[0].split(":")[0])


def summary(results: dict, seconds: float | None = None) -> str:
    """The whole run as Markdown (see the module's docstring)."""
    core = results.get("core")
    py = platform.python_version()
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        "# hotreload benchmarks: side by side with the peers",
        "",
        f"CPython {py}, {now}, {machine()}.",
    ]
    if seconds is not None:
        lines[-1] += f" The benchmarks ran in {seconds:.0f} s."
    import hotreload  # its version is the package's, whatever the distribution is named

    versions = [f"hotreload {hotreload.__version__}"]
    for dist in ("ipython", "jurigged"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist} not installed")
    lines[-1] += " Versions: " + ", ".join(versions) + "."
    if core:
        home = next((w for w in core["workers"].values() if "error" not in w), None)
        if home:
            s = home["sizes"]
            lines += [
                "",
                f"Scenarios 1, 2, 4: a generated game-like module ({s['module_lines']:,} lines: "
                f"{s['functions']} functions, {s['classes']} classes of {s['methods_per_class']} methods, "
                f"a property, a classmethod and a staticmethod) with {s['instances_per_module']:,} live "
                f"instances and {s['objects']:,} unrelated live objects "
                f"({home['gc_tracked']:,} gc-tracked objects in hotreload's process). "
                "Each tool runs in a process of its own with the floor (`importlib.reload`), "
                "interleaved round by round; *ratio* is the tool's median over the floor's median "
                "in that process (*floor s*). *peak MiB*: resident memory at the peak of a reload above "
                "what it was before. *correct*: after every reload, the module computes the new "
                "results, references taken before the first reload (a function, a bound method of "
                "an old instance, a property, a classmethod) run the new code, and the module's data "
                "(`LEVEL_DATA`, `CONFIG`) are the same objects; hotreload also keeps its function and "
                "class objects; in scenario 4 the hook ran on old instances.",
            ]
    header = ["scenario", "tool", "median s", "floor s", "ratio", "peak MiB", "rounds", "correct"]
    rows = _core_rows(core) if core else []
    if results.get("modules"):
        rows = _insert_modules(rows, _module_rows(results["modules"]), core)
    lines += [""] + _table(header, rows)

    imp = results.get("import")
    if imp:
        med, counted = imp["median_ms"], imp.get("instruction_count")
        lines += [
            "",
            f"Scenario 5, import overhead of `install()`: {imp['packages']} standard-library packages "
            f"({imp['modules']['without']} modules) imported in a fresh process.",
            "",
            "| measure | without install() | with install() | overhead |",
            "|---|---|---|---|",
            f"| wall time, median of {imp['runs']} | {med['without']:.1f} ms | {med['with']:.1f} ms "
            f"| {imp['overhead_percent']:+.1f} % |",
        ]
        if counted:
            ins = counted["instructions"]
            lines.append(f"| instructions (callgrind) | {ins['without']:,} | {ins['with']:,} "
                         f"| {counted['overhead_percent']:+.2f} % |")
    mem = results.get("memory")
    if mem and "error" not in mem["variants"].get("none", {"error": 1}):
        n = mem["modules"]
        none = mem["variants"]["none"]
        lines += [
            "",
            f"Scenario 6, memory kept per loaded module: {n} generated modules of "
            f"{mem['source_bytes'] / n:.0f} bytes of source each, imported in a fresh process. "
            "*traced*: Python allocations still held after the imports (tracemalloc); "
            "*RSS*: growth of the resident set (another process).",
            "",
            "| tool | traced B/module | of the modules' own | RSS B/module |",
            "|---|---|---|---|",
            f"| no reloader (the modules' own cost) | {none['traced'] / n:.0f} | 100 % | {none['rss'] / n:.0f} |",
        ]
        for variant, v in mem["variants"].items():
            if variant == "none":
                continue
            if "error" in v:
                lines.append(f"| {_label(variant)} | failed to run: {v['error']} | | |")
                continue
            traced = bench_memory.per_module(mem, variant, "traced")
            rss = bench_memory.per_module(mem, variant, "rss")
            label = _label(variant) + " adds"
            if "records" in v:
                r = v["records"]
                label += (f" (its records hold {r['held'] / max(1, r['modules']):.0f} B/module, "
                          f"{r['source'] / max(1, r['modules']):.0f} B of it source text)")
            lines.append(f"| {label} | {traced:.0f} | {traced / (none['traced'] / n):+.1%} | {rss:.0f} |")

    watch = results.get("watch")
    if watch:
        parts = []
        if watch.get("native"):
            parts.append(f"{watch['native']['median_ms']:.0f} ms with native events (watchdog; 50 ms of it "
                         "is the quiet period that absorbs an editor's burst of writes)")
        parts.append(f"{watch['poll']['median_ms']:.0f} ms polling every {watch['poll_interval_s']:g} s")
        lines += ["", f"Latency from a save to the new code running in `hotreload run` (median of "
                      f"{watch['saves']} saves): " + ", ".join(parts) + "."]

    lines += ["", "Targets:", ""]
    for what, figure, met in targets(results):
        mark = "MET" if met else ("NOT MET" if met is False else ("info" if figure != "-" else "NOT MEASURED"))
        lines.append(f"- {what}: {figure} — **{mark}**")

    notes = _peer_notes(results)
    if notes:
        lines += ["", "What the tools did:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _insert_modules(core_rows: list, module_rows: list, core) -> list:
    """Scenario 3's rows go between scenario 2's and scenario 4's."""
    if not core:
        return module_rows
    cut = next((i for i, r in enumerate(core_rows) if r[0].startswith("4.")), len(core_rows))
    return core_rows[:cut] + module_rows + core_rows[cut:]


def _peer_notes(results: dict) -> list[str]:
    """What each tool reported, where it was stopped, and the first failure
    of each kind (the table's *correct* column names the kinds)."""
    out = []
    core = results.get("core")
    if core:
        for name, w in core["workers"].items():
            for note in w.get("notes", []):
                out.append(f"{_label(name)}: {note}")
            first: dict = {}
            for sname, sc in w.get("scenarios", {}).items():
                fig = sc.get("tools", {}).get(name, {})
                title = bench_core.SCENARIOS[sname].title
                if fig.get("stopped"):
                    out.append(f"{_label(name)}, {title}: {fig['stopped']['detail']} "
                               f"(cap {fig['stopped']['after_s']:g} s)")
                for kind, detail in fig.get("failures", []):
                    first.setdefault(kind, f"{title}, {detail}")
            for kind, where in first.items():
                out.append(f"{_label(name)}, first \"{kind}\": {where}")
    mods = results.get("modules")
    if mods:
        for name, w in mods["workers"].items():
            for note in w.get("notes", []):
                out.append(f"{_label(name)}, scenario 3: {note}")
            if name != "floor" and w.get("failures"):
                kind, detail = w["failures"][0]
                out.append(f"{_label(name)}, scenario 3, first failure: {kind}: {detail}")
    return out


def plot(results: dict, path: str) -> str | None:
    """Reload time against heap size (0 to 10M unrelated objects) for each
    tool, four panels: one body and every body edited, each with the
    collector on and under gc.disable(); to `path`.  Returns why not if it
    cannot (matplotlib missing, no sweep)."""
    core = results.get("core")
    if not core or not core.get("sweep"):
        return "no heap sweep in these results"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    from matplotlib.ticker import FuncFormatter

    panels = [(sc, col) for sc in bench_core.SWEEP_SCENARIOS for col in bench_core.SWEEP_COLLECTORS]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), sharex=True)
    for ax, (scenario, collector) in zip(axes.flat, panels):
        floor_points = []
        for name in [n for n in ORDER if n in core["sweep"]]:
            points = core["sweep"][name].get(collector, {})
            xs, ys, stopped_x, stopped_y = [], [], [], []
            for n, by_scenario in sorted(points.items(), key=lambda kv: int(kv[0])):
                figs = by_scenario.get(scenario, {}).get("tools", {})
                if name == "hotreload" and figs.get("floor", {}).get("median_ms"):
                    floor_points.append((int(n), figs["floor"]["median_ms"] / 1e3))
                mine = figs.get(name, {})
                if mine.get("stopped"):
                    stopped_x.append(int(n))
                    stopped_y.append(mine["stopped"]["after_s"])
                elif mine.get("median_ms") is not None:
                    xs.append(int(n))
                    ys.append(mine["median_ms"] / 1e3)
            color = COLORS.get(name)
            if xs:
                ax.plot(xs, ys, marker="o", linewidth=2, color=color, label=_label(name), zorder=3)
            if stopped_x:
                ax.plot(stopped_x, stopped_y, linestyle="none", marker="^", markersize=10, color=color,
                        label=f"{_label(name)}: stopped at the cap, took longer", zorder=3)
        if floor_points:
            floor_points.sort()
            ax.plot([x for x, _ in floor_points], [y for _, y in floor_points], marker="s",
                    color="black", linestyle="--", linewidth=1, label=_label("floor"), zorder=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e6:g}M"))
        collected = "collector on" if collector == "on" else "gc.disable() from the start"
        ax.set_title(f"{bench_core.SCENARIOS[scenario].title}, {collected}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel(f"unrelated live objects (and {core['sizes']['n_instances']:,} instances "
                      "per copy of the module)")
    for ax in axes[:, 0]:
        ax.set_ylabel("reload time, s (log)")
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3)
    fig.suptitle(f"Reload time against heap size, CPython {platform.python_version()}, "
                 f"{datetime.date.today()}", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
