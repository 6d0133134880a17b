"""The fleet (hotreload.fleet, `hotreload push`, `status`, `run --fleet`)
against a real redis-server and 20 real agent processes.

A redis-server of the module's own runs on a free loopback port (with an
append-only file, so that a restart keeps its data), and 20 agent processes
are started once for the module: each imports a tiny module `app` from a
folder of its own, keeps the function object `app.answer` it imported, and
writes what that old object returns (and `app.FLAG`, which hotfix scripts
set) to a file whenever it changes.  "Applied" is proven from outside: the
old function object runs the new code.  Each agent also prints a line per
change set applied or refused, which the tests count: nothing applies twice.

The scenarios run in order on the same fleet, each from the state the one
before left.  redis-server missing is a failure, not a skip: CI installs it.
"""
import base64
import gc
import json
import linecache
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis

import hotreload
from hotreload import _hotreload, fleet

pytestmark = pytest.mark.alone

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(hotreload.__file__)))
SECRET = "s3cret-of-the-fleet-tests"
GROUP = "tests"
AGENTS = 20
TIMEOUT = 10.0

APP = "def answer():\n    return {}\n"

AGENT = """
import json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hotreload
hotreload.install()
import app
from hotreload import fleet

answer = app.answer  # the old function object: a push must reach it
out = sys.argv[2]
pause = os.path.join(os.path.dirname(out), "pause")


def tell(event):
    print(event.kind, event.message, flush=True)


if sys.argv[3] == "agent":
    agent = fleet.Agent(sys.argv[1], group="tests", secret=os.environ["HOTRELOAD_FLEET_SECRET"],
                        on_event=tell).start()
last = None
deadline = time.monotonic() + 120  # never outlive a test run
while time.monotonic() < deadline:
    state = json.dumps({"answer": answer(), "flag": getattr(app, "FLAG", None)})
    if state != last:
        with open(out + ".tmp", "w") as f:
            f.write(state)
        os.replace(out + ".tmp", out)
        last = state
    if os.path.exists(pause):  # the test makes this process slow: blocked in C
        with open(pause) as f:
            seconds = float(f.read())
        os.remove(pause)
        time.sleep(seconds)
    sum(range(200))
    time.sleep(0.01)
"""


def env():
    environ = dict(os.environ)
    environ["PYTHONPATH"] = PACKAGE_PARENT
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    environ["HOTRELOAD_FLEET_SECRET"] = SECRET
    environ.pop("PYTHONSTARTUP", None)
    return environ


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g} s for {what}", pytrace=False)
        time.sleep(0.02)


class RedisServer:
    """A redis-server on a loopback port of its own, data in ``folder``;
    ``restart()`` kills it (SIGKILL) and starts it again on the same port
    with the same data (append-only file, fsync at every write)."""

    def __init__(self, folder):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.fail("redis-server is not installed (make test installs Debian's "
                        "redis-server)", pytrace=False)
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def answers():
            try:
                with redis.Redis.from_url(self.url) as client:
                    return client.ping()
            except redis.RedisError:
                return False

        wait_until(answers, "redis-server to answer")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def restart(self):
        self.kill()
        self.start()


class Fleet:
    """The agents: their folders, processes and what each reports."""

    def __init__(self, root, server):
        self.root = root
        self.server = server
        self.procs = {}  # index -> Popen
        self.client = redis.Redis.from_url(server.url)

    def start(self, index, mode="agent"):
        folder = self.root / f"agent{index}"
        folder.mkdir()
        (folder / "app.py").write_text(APP.format(1))
        (folder / "agent.py").write_text(AGENT)
        log = open(folder / "log", "w")
        if mode == "run":
            args = [sys.executable, "-m", "hotreload", "run", "--fleet", self.server.url,
                    "--group", GROUP, "agent.py", self.server.url, str(folder / "out"), "run"]
        else:
            args = [sys.executable, "agent.py", self.server.url, str(folder / "out"), "agent"]
        self.procs[index] = subprocess.Popen(args, cwd=str(folder), env=env(), stdout=log,
                                             stderr=subprocess.STDOUT)
        log.close()

    def state(self, index):
        try:
            with open(self.root / f"agent{index}" / "out") as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def answers(self, indexes=None):
        return {i: (self.state(i) or {}).get("answer") for i in indexes or self.alive()}

    def pause(self, indexes, seconds):
        """Blocks the main thread of these agents in time.sleep (a slow
        process: a change set waits for its next safe point)."""
        for index in indexes:
            path = self.root / f"agent{index}" / "pause"
            (path.parent / "pause.tmp").write_text(str(seconds))
            os.replace(path.parent / "pause.tmp", path)
        wait_until(lambda: not any((self.root / f"agent{i}" / "pause").exists() for i in indexes),
                   "the agents to pause")

    def log(self, index):
        return (self.root / f"agent{index}" / "log").read_text()

    def alive(self):
        return sorted(i for i, proc in self.procs.items() if proc.poll() is None)

    def live_beats(self):
        keys = list(self.client.scan_iter(match=f"hotreload:{GROUP}:agent:*"))
        return [json.loads(raw) for raw in self.client.mget(keys) if raw] if keys else []

    def applied(self, index, version):
        return self.log(index).count(f"fleet version {version} applied")

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.client.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.kill()


@pytest.fixture(scope="module")
def agents(server, tmp_path_factory):
    """20 agents, two of them through `hotreload run --fleet`, all live."""
    group = Fleet(tmp_path_factory.mktemp("fleet"), server)
    try:
        for index in range(AGENTS):
            group.start(index, mode="run" if index < 2 else "agent")
        wait_until(lambda: len(group.live_beats()) == AGENTS
                   and all(group.state(i) for i in range(AGENTS)),
                   f"{AGENTS} agents to beat", timeout=30)
        yield group
    finally:
        group.stop()


def hotreload_cli(*args, timeout=30):
    """Runs `hotreload ARGS` to its end: (status, stdout + stderr)."""
    done = subprocess.run([sys.executable, "-m", "hotreload", *args], env=env(),
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def release(tmp_path, value):
    """A release folder with app.py returning ``value``; its file's path."""
    path = tmp_path / "app.py"
    path.write_text(APP.format(value) if isinstance(value, int) else value)
    return str(path)


def push(server, *args, timeout="5"):
    return hotreload_cli("push", server.url, "--group", GROUP, "--timeout", timeout, *args)


def current(server):
    with redis.Redis.from_url(server.url) as client:
        return int(client.get(f"hotreload:{GROUP}:current") or 0)


# -- the fleet, end to end --------------------------------------------------------

def test_push_reaches_every_process_and_status_tells_it(server, agents, tmp_path):
    status, out = push(server, release(tmp_path, 2))
    assert status == 0, out
    assert out.count(" applied version ") == AGENTS
    assert f"0 refused, 0 did not answer (of {AGENTS} live processes)" in out
    wait_until(lambda: set(agents.answers().values()) == {2}, "every old answer() to say 2")
    version = current(server)
    assert all(agents.applied(i, version) == 1 for i in agents.alive())
    status, out = hotreload_cli("status", server.url, "--group", GROUP)
    assert status == 0, out
    assert f"version {version}, {AGENTS} live processes" in out.splitlines()[0]
    assert out.count(f": version {version} (app=") == AGENTS


def test_a_refused_change_set_leaves_every_process_unchanged(server, agents, tmp_path):
    before = current(server)
    status, out = push(server, release(tmp_path, "def answer(:\n    return 3\n"))
    assert status == 1
    assert out.count("refused: cannot reload app") == AGENTS, out
    assert "0 applied" in out
    assert current(server) == before  # the fleet's version did not move
    time.sleep(0.1)
    assert set(agents.answers().values()) == {2}
    assert all(beat["version"] == before for beat in agents.live_beats())


def test_canary_stops_at_the_first_refusal_then_a_good_one_goes_on(server, agents, tmp_path):
    status, out = push(server, "--canary", "3", release(tmp_path, "def answer(:\n"))
    assert status == 1
    assert out.count("refused:") == 3, out
    assert "canary stopped" in out and f"other {AGENTS - 3} processes" in out
    assert f"0 applied, 3 refused, 0 did not answer (of {AGENTS} live processes)" in out
    refused_version = current(server) + 2  # the refused push above took one too
    assert sum(f"fleet version {refused_version} refused" in agents.log(i)
               for i in agents.alive()) == 3  # the others never saw it
    status, out = push(server, "--canary", "3", release(tmp_path, 4))
    assert status == 0, out
    assert out.count("applied version") == AGENTS
    wait_until(lambda: set(agents.answers().values()) == {4}, "every answer() to say 4")
    version = current(server)
    # The canaries got the version twice (their own, then the group's): once applied.
    assert all(agents.applied(i, version) == 1 for i in agents.alive())


def test_a_hotfix_script_runs_in_every_process(server, agents, tmp_path):
    script = tmp_path / "fix.py"
    script.write_text("import app\napp.FLAG = 'fixed'\n")
    status, out = push(server, "--hotfix", str(script))
    assert status == 0, out
    wait_until(lambda: all((agents.state(i) or {}).get("flag") == "fixed" for i in agents.alive()),
               "every process to run the hotfix")


def signed_entry(version, secret=SECRET, group=GROUP, value=9):
    change = fleet.ChangeSet(group, version, "modules",
                             modules={"app": APP.format(value).encode()})
    body = change.encode()
    return {"body": body, "sig": fleet.sign(secret.encode(), body)}


def acks_of(server, version):
    with redis.Redis.from_url(server.url) as client:
        entries = client.xrange(f"hotreload:{GROUP}:acks:{version}")
    return [json.loads(fields[b"ack"]) for _, fields in entries]


def test_forged_replayed_and_duplicate_messages_change_nothing(server, agents):
    client = agents.client
    stream = f"hotreload:{GROUP}:stream"
    version = current(server)
    running = dict(agents.answers())
    forged = int(client.incr(f"hotreload:{GROUP}:version"))
    client.xadd(stream, signed_entry(forged, secret="not-the-secret"))
    unsigned = int(client.incr(f"hotreload:{GROUP}:version"))
    client.xadd(stream, {"body": signed_entry(unsigned)["body"]})
    # A real, signed change set of an older version, published again.
    old = next(fields for _, fields in client.xrange(stream)
               if json.loads(fields[b"body"])["version"] < version
               and json.loads(fields[b"body"])["targets"] is None)
    client.xadd(stream, old)
    # The change set every process runs, delivered a second time.
    latest = next(fields for _, fields in reversed(client.xrange(stream))
                  if json.loads(fields[b"body"])["version"] == version)
    client.xadd(stream, latest)
    wait_until(lambda: len(acks_of(server, forged)) == AGENTS
               and len(acks_of(server, unsigned)) == AGENTS
               and len(acks_of(server, version)) >= 2 * AGENTS,
               "the refusals to be acknowledged")
    for ack in acks_of(server, forged) + acks_of(server, unsigned):
        assert ack["outcome"] == "refused" and "bad or missing signature" in ack["message"]
    old_version = json.loads(old[b"body"])["version"]
    replays = [a for a in acks_of(server, old_version) if "not newer" in a["message"]]
    assert len(replays) == AGENTS
    assert sum(a["outcome"] == "already applied" for a in acks_of(server, version)) == AGENTS
    time.sleep(0.1)
    assert agents.answers() == running
    assert all(beat["version"] == version for beat in agents.live_beats())


def background_push(server, *args, timeout="8"):
    return subprocess.Popen(
        [sys.executable, "-m", "hotreload", "push", server.url, "--group", GROUP,
         "--timeout", timeout, *args],
        env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc):
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out


def test_agents_killed_mid_push_are_reported_then_leave_status(server, agents, tmp_path):
    victims = agents.alive()[-3:]
    agents.pause(victims, 5)  # they receive the change set, but cannot apply it yet
    version = int(agents.client.get(f"hotreload:{GROUP}:version")) + 1
    pushing = background_push(server, release(tmp_path, 5), timeout="2.5")
    wait_until(lambda: len(acks_of(server, version)) >= AGENTS - 3, "the others' answers")
    for index in victims:
        agents.procs[index].send_signal(signal.SIGKILL)
    for index in victims:
        agents.procs[index].wait()
    status, out = finish(pushing)
    assert status == 1
    assert out.count("did not answer") == 3 + 1, out  # three lines and the summary
    assert f"{AGENTS - 3} applied" in out
    wait_until(lambda: set(agents.answers().values()) == {5}, "the others to run version 5")
    wait_until(lambda: len(agents.live_beats()) == AGENTS - 3, "the dead to leave status",
               timeout=fleet.TTL + 2)
    status, out = hotreload_cli("status", server.url, "--group", GROUP)
    assert f"{AGENTS - 3} live processes" in out
    assert str(agents.procs[victims[0]].pid) not in out


def test_redis_restarted_mid_push_applies_everything_once(server, agents, tmp_path):
    version = int(agents.client.get(f"hotreload:{GROUP}:version")) + 1
    slow = agents.alive()[:4]
    agents.pause(slow, 1.0)  # these apply, and answer, after the restart
    pushing = background_push(server, release(tmp_path, 6))
    wait_until(lambda: len(acks_of(server, version)) >= 1, "the first acknowledgement")
    server.restart()  # SIGKILL: the push and the agents lose it mid-way
    status, out = finish(pushing)
    assert status == 0, out
    assert "lost Redis" in out
    assert out.count("applied version") == len(agents.alive())
    wait_until(lambda: set(agents.answers().values()) == {6}, "every answer() to say 6")
    assert all(agents.applied(i, version) == 1 for i in agents.alive())
    # A beat that failed while Redis was down is sent again within one beat.
    wait_until(lambda: all(beat["version"] == version for beat in agents.live_beats()),
               "every heartbeat to tell the version", timeout=2 * fleet.BEAT + 1)
    status, out = hotreload_cli("status", server.url, "--group", GROUP)
    assert out.count(f": version {version} (app=") == len(agents.alive()), out


def test_a_process_started_late_converges_and_rollback_goes_back(server, agents, tmp_path):
    version = current(server)
    agents.start(50, mode="run")  # `hotreload run --fleet`, after every push
    wait_until(lambda: (agents.state(50) or {}).get("answer") == 6
               and (agents.state(50) or {}).get("flag") == "fixed", "the late process to converge")
    wait_until(lambda: any(b["version"] == version for b in agents.live_beats()
                           if b["pid"] == agents.procs[50].pid), "its heartbeat")
    status, out = push(server, "--rollback")
    assert status == 0, out
    assert out.count("applied version") == len(agents.alive())
    wait_until(lambda: set(agents.answers().values()) == {5}, "every answer() back to 5")


def test_a_redis_that_lost_its_data_gets_versions_the_fleet_accepts(server, agents, tmp_path):
    running = max(beat["version"] for beat in agents.live_beats())
    agents.client.flushall()  # as a Redis without persistence restarts: empty
    wait_until(lambda: len(agents.live_beats()) == len(agents.alive()), "the heartbeats again",
               timeout=2 * fleet.BEAT + 1)
    status, out = push(server, release(tmp_path, 7))
    assert status == 0, out
    assert f"version {running + 1}: {len(agents.alive())} applied" in out
    wait_until(lambda: set(agents.answers().values()) == {7}, "every answer() to say 7")


# -- one process, no Redis ----------------------------------------------------------

class FakeRedis:
    """The calls an agent makes to acknowledge and beat, recorded."""

    def __init__(self):
        self.acks = []

    def xadd(self, key, fields):
        self.acks.append((key, json.loads(fields["ack"])))

    def expire(self, key, seconds):
        pass

    def set(self, key, value, px=None):
        pass


@pytest.fixture
def local_agent(workspace):
    """An agent never started: its checks are called directly.  The modules
    it applies are forgotten as pushed afterwards."""
    pushed = dict(hotreload._pushed)
    yield fleet.Agent("redis://127.0.0.1:1/0", group=GROUP, secret=SECRET,
                      on_event=lambda event: None)
    hotreload._pushed.clear()
    hotreload._pushed.update(pushed)


def entry(change, secret=SECRET):
    body = change.encode()
    return {b"body": body, b"sig": fleet.sign(secret.encode(), body).encode()}


def test_signature_covers_every_field_that_decides_what_runs():
    change = fleet.ChangeSet(GROUP, 3, "modules", modules={"app": b"x = 1\n"}, targets=["a"])
    body = change.encode()
    signature = fleet.sign(b"k", body)
    assert fleet.verify(b"k", body, signature)
    assert not fleet.verify(b"other", body, signature)
    assert not fleet.verify(b"k", body, None)
    for field, value in [("version", 4), ("group", "other"), ("targets", ["b"]),
                         ("modules", {"app": b"x = 2\n"})]:
        tampered = fleet.ChangeSet(**{**change.__dict__, field: value}).encode()
        assert not fleet.verify(b"k", tampered, signature), field
    assert fleet.ChangeSet.decode(body) == change
    raw = json.loads(body)
    raw["modules"]["app"] = base64.b64encode(b"x = 3\n").decode()
    with pytest.raises(ValueError, match="hash does not match"):
        fleet.ChangeSet.decode(json.dumps(raw).encode())


def test_agent_checks_signature_group_version_and_modules(workspace, local_agent):
    module = workspace.load("mod", "def f():\n    return 1\n")
    name, old = module.__name__, module.f
    client = FakeRedis()
    good = fleet.ChangeSet(GROUP, 3, "modules", modules={name: b"def f():\n    return 2\n"})
    local_agent._handle(client, entry(good, secret="wrong"), catching_up=False)
    local_agent._handle(client, entry(fleet.ChangeSet(**{**good.__dict__, "group": "x"})),
                        catching_up=False)
    missing = fleet.ChangeSet(GROUP, 2, "modules", modules={"never_imported_mod": b""})
    local_agent._handle(client, entry(missing), catching_up=False)
    assert old() == 1 and local_agent.version == 0
    local_agent._handle(client, entry(good), catching_up=False)  # on the main thread: direct
    assert old() == 2 and local_agent.version == 3
    linecache.checkcache()
    assert linecache.getline(module.__file__, 2) == "    return 2\n"  # tracebacks: the pushed lines
    local_agent._handle(client, entry(good), catching_up=False)  # a duplicate
    older = fleet.ChangeSet(GROUP, 1, "modules", modules={name: b"def f():\n    return 0\n"})
    local_agent._handle(client, entry(older), catching_up=False)
    # Refused once, refused for good: its replay is not tried again.
    local_agent._handle(client, entry(missing), catching_up=False)
    assert old() == 2
    outcomes = [(ack["version"], ack["outcome"], ack["message"]) for _, ack in client.acks]
    assert outcomes[0][1] == "refused" and "signature" in outcomes[0][2]
    assert "for group 'x'" in outcomes[1][2]
    assert "never_imported_mod: not imported" in outcomes[2][2]
    assert outcomes[3][:2] == (3, "applied")
    assert outcomes[4][:2] == (3, "already applied")
    assert outcomes[5][1] == "refused" and "not newer than version 3" in outcomes[5][2]
    assert outcomes[6][:2] == (2, "refused") and "not newer than version 3" in outcomes[6][2]
    # A refusal tells the hash of the source the module still runs.
    assert client.acks[5][1]["modules"] == {name: fleet._digest(good.modules[name])}
    assert client.acks[3][1]["modules"] == {name: fleet._digest(good.modules[name])}


def test_agent_refuses_a_module_outside_the_allowed_folders(workspace, local_agent):
    module = workspace.load("mod", "def f():\n    return 1\n")
    name = module.__name__
    settings = hotreload.configure()
    hotreload.configure(deny=list(settings["deny"]) + [os.path.dirname(module.__file__)])
    try:
        client = FakeRedis()
        change = fleet.ChangeSet(GROUP, 1, "modules", modules={name: b"def f():\n    return 2\n"})
        local_agent._handle(client, entry(change), catching_up=False)
    finally:
        hotreload.configure(deny=settings["deny"])
    assert module.f() == 1
    assert "outside the folders hotreload may reload" in client.acks[0][1]["message"]


def test_reload_sources_is_one_transaction_and_keeps_the_folder_policy(workspace):
    mod_a = workspace.load("a", "def f():\n    return 1\n")
    mod_b = workspace.load("b", "def g():\n    return 1\n")
    a, b = mod_a.__name__, mod_b.__name__
    with pytest.raises(hotreload.ReloadError, match="does not compile"):
        _hotreload.reload_sources({a: b"def f():\n    return 2\n", b: b"def g(:\n"})
    assert mod_a.f() == 1 and mod_b.g() == 1
    report = _hotreload.reload_sources({a: b"def f():\n    return 2\n"})
    assert report["modules"] == [a] and mod_a.f() == 2
    assert _hotreload._records()[a][1] == b"def f():\n    return 2\n"
    with pytest.raises(TypeError, match="dict of module name"):
        _hotreload.reload_sources({a: "text"})
    with pytest.raises(hotreload.ReloadError, match="standard library"):
        _hotreload.reload_sources({"json": b"x = 1\n"})


def test_reload_sources_keeps_no_reference_to_texts_it_no_longer_runs(workspace):
    module = workspace.load("a", "def f():\n    return 0\n")
    first, second = b"def f():\n    return 1\n", b"def f():\n    return 2\n"
    broken = b"def f(:\n"
    baseline = [sys.getrefcount(first), sys.getrefcount(second), sys.getrefcount(broken)]
    for _ in range(50):
        _hotreload.reload_sources({module.__name__: first})
        _hotreload.reload_sources({module.__name__: second})
        with pytest.raises(hotreload.ReloadError):
            _hotreload.reload_sources({module.__name__: broken})
    gc.collect()
    # The record holds the text the module runs, and only that one.
    assert sys.getrefcount(first) == baseline[0]
    assert sys.getrefcount(second) == baseline[1] + 1
    assert sys.getrefcount(broken) == baseline[2]
    assert module.f() == 2


def test_a_save_does_not_undo_a_pushed_module(workspace, caplog):
    module = workspace.load("a", "def f():\n    return 1\n")
    name = module.__name__
    _hotreload.reload_sources({name: b"def f():\n    return 2\n"})
    hotreload._pushed[name] = 7
    try:
        workspace.edit("a", "def f():\n    return 3\n")
        with caplog.at_level("WARNING", logger="hotreload"):
            assert hotreload.reload_changed().modules == []
            assert hotreload.reload_changed().modules == []
            # The watcher's Reloader leaves it too, and says nothing more.
            assert hotreload.Reloader().apply() == []
        assert module.f() == 2
        told = [r.getMessage() for r in caplog.records if name in r.getMessage()]
        assert len(told) == 1 and "fleet version 7" in told[0]
        # A file saved as pushed is no change at all.
        workspace.edit("a", "def f():\n    return 2\n")
        del hotreload._pushed[name]
        assert hotreload.reload_changed().modules == [] and module.f() == 2
    finally:
        hotreload._pushed.pop(name, None)


def test_push_to_a_redis_that_does_not_answer_says_so():
    status, out = hotreload_cli("push", f"redis://127.0.0.1:{free_port()}/0", "--group", GROUP,
                                "--hotfix", __file__)
    assert status == 2
    assert out.startswith("hotreload push: Redis at redis://127.0.0.1:") and "onnect" in out


def test_run_fleet_needs_the_secret(tmp_path):
    environ = env()
    del environ["HOTRELOAD_FLEET_SECRET"]
    (tmp_path / "main.py").write_text("")
    done = subprocess.run([sys.executable, "-m", "hotreload", "run", "--fleet", "redis://x",
                           "main.py"], cwd=str(tmp_path), env=environ, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert "no fleet secret: give --secret-file PATH or set HOTRELOAD_FLEET_SECRET" in done.stderr


def test_push_without_redis_py_says_how_to_install_it(tmp_path):
    (tmp_path / "redis.py").write_text("raise ImportError('no redis here')\n")
    environ = env()
    environ["PYTHONPATH"] = os.pathsep.join([str(tmp_path), PACKAGE_PARENT])
    done = subprocess.run([sys.executable, "-m", "hotreload", "status", "redis://x", "--group",
                           "g"], env=environ, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == "hotreload status: " + fleet.INSTALL_HINT
    imported = subprocess.run(
        [sys.executable, "-c", "import hotreload, sys; hotreload.fleet.Agent; "
         "print('redis' in sys.modules)"],
        env=env(), capture_output=True, text=True, timeout=30)
    assert imported.stdout.strip() == "False"  # importing hotreload.fleet needs no redis
