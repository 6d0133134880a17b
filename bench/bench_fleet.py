"""From a push to the last acknowledgement, for fleets of 1, 20 and 100 processes.

A redis-server of the benchmark's own runs on a free loopback port (no
persistence).  N agent processes (``hotreload.fleet.Agent``) each import a
small module ``app`` from a folder of their own and run a main loop that
calls into it every `TICK` seconds, as a game server's tick would: a
change set waits at most a tick for a safe point.  The
benchmark, as the operator, pushes a new source of ``app`` with
``hotreload.fleet.Operator.push`` and times the call: publishing the signed
change set, every agent reading it, checking it, applying it on its main
thread at the next safe point, and the last acknowledgement read back.
Figures: median, minimum and maximum over `PUSHES` pushes per fleet size,
and the median of the agents' own apply times (from their acknowledgements).

Beside them, the floor of the same work without a fleet: the same reload
(``_hotreload.reload_sources`` of the same module with the same new text)
done locally in this one process.

All processes share the machine's cores, so the figure for 100 processes
includes the scheduling of 100 interpreters on them.

Run ``python bench/bench_fleet.py`` (``--quick``: 1 and 20 processes, fewer
pushes), or call `run` and `format_block`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SIZES = (1, 20, 100)
QUICK_SIZES = (1, 20)
PUSHES = 7
QUICK_PUSHES = 3
LOCAL_RELOADS = 50
SECRET = "bench-secret"
GROUP = "bench"
TICK = 0.01  # a 100 Hz server tick
START_TIMEOUT = 120.0

# A module of a few functions and a class, as a small game module would be;
# each push changes one body.
APP = '''\
SPEED = 3


class Player:
    def __init__(self, name):
        self.name = name
        self.hp = 100

    def hit(self, damage):
        self.hp -= damage
        return self.hp


def damage(level):
    return level * {value}


def heal(player, amount):
    player.hp = min(100, player.hp + amount)
    return player.hp
'''

AGENT = '''\
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hotreload
hotreload.install()
import app
from hotreload import fleet

fleet.Agent(sys.argv[1], group="bench", secret=os.environ["HOTRELOAD_FLEET_SECRET"],
            on_event=lambda event: None).start()
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    app.damage(2)
    time.sleep(float(sys.argv[3]))
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    import hotreload

    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(hotreload.__file__)))
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    environ["HOTRELOAD_FLEET_SECRET"] = SECRET
    return environ


def _wait(predicate, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {timeout:g} s for {what}")
        time.sleep(0.05)


def measure_fleet(url: str, size: int, pushes: int, folder: str) -> dict:
    """Starts ``size`` agents, pushes ``pushes`` times; the figures."""
    from hotreload.fleet import Operator

    group = f"{GROUP}{size}"
    procs = []
    try:
        for index in range(size):
            where = os.path.join(folder, f"{group}-{index}")
            os.makedirs(where)
            with open(os.path.join(where, "app.py"), "w") as f:
                f.write(APP.format(value=1))
            with open(os.path.join(where, "agent.py"), "w") as f:
                f.write(AGENT.replace('"bench"', repr(group)))
            procs.append(subprocess.Popen(
                [sys.executable, "agent.py", url, str(START_TIMEOUT * 3), str(TICK)], cwd=where,
                env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Operator(url, group=group, secret=SECRET) as operator:
            _wait(lambda: len(operator.live()) == size, f"{size} agents", START_TIMEOUT)
            times, applies = [], []
            for push in range(pushes):
                source = APP.format(value=push + 2).encode()
                started = time.perf_counter()
                result = operator.push(modules={"app": source}, timeout=60)
                times.append(time.perf_counter() - started)
                if not result.ok or len(result.acks) != size:
                    raise RuntimeError(f"push {push + 1} to {size} processes: "
                                       f"{len(result.acks)} acknowledged, ok={result.ok}")
                applies += [ack.seconds for ack in result.acks.values()]
                time.sleep(0.2)  # the fleet settles (heartbeats) before the next
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
    return {
        "processes": size,
        "pushes": pushes,
        "median_ms": statistics.median(times) * 1000,
        "min_ms": min(times) * 1000,
        "max_ms": max(times) * 1000,
        "apply_median_ms": statistics.median(applies) * 1000,
    }


def measure_local(folder: str, reloads: int) -> dict:
    """The same reload in this process, without a fleet."""
    import hotreload
    from hotreload import _hotreload

    where = os.path.join(folder, "local")
    os.makedirs(where)
    with open(os.path.join(where, "bench_fleet_app.py"), "w") as f:
        f.write(APP.format(value=1))
    sys.path.insert(0, where)
    hotreload.install()
    try:
        import bench_fleet_app  # noqa: F401

        times = []
        for i in range(reloads):
            source = APP.format(value=i + 2).encode()
            started = time.perf_counter()
            _hotreload.reload_sources({"bench_fleet_app": source})
            times.append(time.perf_counter() - started)
    finally:
        sys.path.remove(where)
        sys.modules.pop("bench_fleet_app", None)
    return {"reloads": reloads, "median_ms": statistics.median(times) * 1000}


def run(quick: bool = False) -> dict:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make bench installs it)")
    sizes, pushes = (QUICK_SIZES, QUICK_PUSHES) if quick else (SIZES, PUSHES)
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            import redis

            client = redis.Redis.from_url(url)

            def answers() -> bool:
                try:
                    return bool(client.ping())
                except redis.RedisError:
                    return False

            _wait(answers, "redis-server", 10)
            fleets = [measure_fleet(url, size, pushes, folder) for size in sizes]
        finally:
            server.kill()
            server.wait()
        local = measure_local(folder, LOCAL_RELOADS)
    return {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "cores": os.cpu_count(),
        "tick_ms": TICK * 1000,
        "fleets": fleets,
        "local": local,
    }


def format_block(result: dict) -> str:
    """The human-readable block of `run`'s result."""
    local = result["local"]["median_ms"]
    lines = [
        "== fleet: from `hotreload push` to the last acknowledgement (hotreload.fleet)",
        f"python        {result['python']['version']} ({result['python']['executable']})",
        f"machine       {result['cores']} cores shared by every process and redis-server",
        "workload      one body of a small module changed per push; each agent's main "
        f"loop ticks every {result['tick_ms']:g} ms",
        f"local         the same reload in one process, no fleet: {local:.2f} ms (median of "
        f"{result['local']['reloads']})",
    ]
    for fleet in result["fleets"]:
        lines.append(
            f"{fleet['processes']:>3} processes push to last ack: median {fleet['median_ms']:.1f} ms "
            f"(min {fleet['min_ms']:.1f}, max {fleet['max_ms']:.1f}; {fleet['pushes']} pushes); "
            f"apply in each process {fleet['apply_median_ms']:.2f} ms (median)")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    """The figures as the table of results.md."""
    local = result["local"]["median_ms"]
    lines = [
        f"Fleet (hotreload.fleet, CPython {result['python']['version']}, {result['cores']} cores "
        f"shared by every process; agents ticking every {result['tick_ms']:g} ms): from "
        "`hotreload push` to the last acknowledgement, median of the pushes; the same reload "
        f"done locally in one process: {local:.2f} ms.",
        "",
        "| processes | push to last ack (median) | min | max | apply in each process (median) |",
        "|---|---|---|---|---|",
    ]
    for fleet in result["fleets"]:
        lines.append(f"| {fleet['processes']} | {fleet['median_ms']:.1f} ms | "
                     f"{fleet['min_ms']:.1f} ms | {fleet['max_ms']:.1f} ms | "
                     f"{fleet['apply_median_ms']:.2f} ms |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 and 20 processes, fewer pushes")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    args = parser.parse_args()
    result = run(quick=args.quick)
    print(format_block(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
