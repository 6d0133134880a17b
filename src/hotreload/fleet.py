"""Pushing a change to many processes over Redis, with acknowledgements.

    agent = hotreload.fleet.Agent("redis://10.0.0.5", group="eu-1", secret=key).start()
    ...                                         # the program runs; pushes apply

    hotreload push redis://10.0.0.5 --group eu-1 game/combat.py    # the operator

Every process runs an `Agent`; the operator runs `Operator` (the ``hotreload
push`` and ``hotreload status`` commands).  Redis carries everything, with
its own primitives only (README, "Fleet"), under the keys
``hotreload:<group>:...``:

- ``stream``: the change sets, in order (XADD).  Each entry is a ``body``
  (canonical JSON: group, version, kind, the module sources or the hotfix
  script, the canary targets, the content hash) and ``sig``, the HMAC-SHA256
  of the body's bytes with the fleet's shared secret.  The stream is the
  fleet's history: an agent that starts reads it from the beginning and
  applies, in order, each change set meant for it, so a process started
  after a push, or restarted, converges to the fleet's state.
- ``version``: the counter versions are allocated from (INCR).
- ``current``: the version last published to the whole group and refused
  by none; ``history``: the bodies of those versions, newest first (for
  ``--rollback``).
- ``agent:<id>``: each agent's heartbeat, a key with a TTL of ``TTL``
  seconds refreshed every ``BEAT`` seconds: pid, host, version, and the
  hash of the source each pushed module runs (what ``status`` shows).
- ``acks:<version>``: a stream each agent adds its outcome for that version
  to; ``push`` waits on it.

An agent applies a change set on the main thread at a safe point
(``hotreload.call_on_main_thread``), as the watcher does, in one
transaction: a module change set through ``_hotreload.reload_sources``,
which reloads the modules from the pushed text instead of their files (an
overlay: files are not written; see ``hotreload._leave_pushed`` for what a
later save does); a hotfix script as ``hotreload.hotfix`` runs one given
as text.

The trust model: only holders of the secret can make a change set an agent
applies.  Redis (or anyone who can write to it) can drop, delay or deliver
again any message, never forge one: a bad or missing signature, a version
not newer than the newest the process has handled (a replay; the change set
it runs, delivered again, is acknowledged as "already applied" and not
applied twice), another group's change set, a module the process has not
imported or whose file is outside the folders hotreload may reload: each is
refused, logged, acknowledged as refused, and changes nothing.  The secret
itself never travels over Redis; the code does, in clear.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import linecache
import logging
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type

import hotreload
from hotreload import ReloadError, _hotreload
from hotreload.changes import Event

__all__ = ["Agent", "Operator", "ChangeSet", "Ack", "PushResult", "FleetError",
           "load_secret", "sign", "verify", "module_name", "redis_error", "INSTALL_HINT"]

log = logging.getLogger("hotreload.fleet")

#: Seconds between two heartbeats of an agent, and the life of one: an agent
#: that has not beaten for TTL seconds (killed, frozen) is no longer live.
BEAT = 1.0
TTL = 3.0
#: What an environment without redis-py is told.
INSTALL_HINT = ("the fleet needs redis-py: pip install 'hotreload-engine[fleet]' "
                "(or pip install redis)")
#: Seconds acknowledgement streams are kept after their version is pushed.
ACK_LIFE = 24 * 3600
SECRET_ENV = "HOTRELOAD_FLEET_SECRET"


class FleetError(Exception):
    """The fleet cannot do what was asked (no redis-py, no secret, Redis
    unreachable, nothing to roll back to); the message says why."""


def redis_error() -> Type[Exception]:
    """redis-py's base exception (FleetError if redis-py is missing)."""
    error: Type[Exception] = _redis().RedisError
    return error


def _redis() -> Any:
    try:
        import redis
    except ImportError:
        raise FleetError(INSTALL_HINT) from None
    return redis


def load_secret(path: Optional[str] = None) -> bytes:
    """The fleet's shared secret: the bytes of the file ``path`` (its
    surrounding whitespace removed), else the environment variable
    HOTRELOAD_FLEET_SECRET.  FleetError if neither gives one."""
    if path is not None:
        try:
            with open(path, "rb") as f:
                secret = f.read().strip()
        except OSError as error:
            raise FleetError(f"cannot read the secret file {path}: {error.strerror}") from None
        if not secret:
            raise FleetError(f"the secret file {path} is empty")
        return secret
    secret = os.environ.get(SECRET_ENV, "").strip().encode()
    if not secret:
        raise FleetError(f"no fleet secret: give --secret-file PATH or set {SECRET_ENV}")
    return secret


def _connect(url: str, timeout: float) -> Any:
    """A client of the Redis server at ``url`` that does not retry on its
    own: the agent and the operator retry themselves, tell that Redis was
    lost, and catch up from where they were."""
    redis = _redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_connect_timeout=min(timeout, 2.0),
                                socket_timeout=timeout, retry=Retry(NoBackoff(), 0))


def _as_secret(secret: Any) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise FleetError("the fleet secret must be non-empty bytes or str")
    return secret


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- change sets ------------------------------------------------------------

@dataclass
class ChangeSet:
    """What one version of the fleet runs: module sources (``modules``:
    name -> bytes) or a hotfix ``script`` (text).  ``targets``: the agent ids
    it is for (a canary), or None for the whole group."""

    group: str
    version: int
    kind: str  # "modules" or "hotfix"
    modules: Dict[str, bytes] = field(default_factory=dict)
    script: Optional[str] = None
    targets: Optional[List[str]] = None

    @property
    def content_hash(self) -> str:
        """The hash of what runs, the same for a canary's change set and the
        whole group's of one version: a duplicate is recognised by it."""
        if self.kind == "hotfix":
            return _digest(b"hotfix\0" + (self.script or "").encode())
        parts = [b"modules"]
        for name in sorted(self.modules):
            parts += [name.encode(), _digest(self.modules[name]).encode()]
        return _digest(b"\0".join(parts))

    def encode(self) -> bytes:
        """The canonical body, the bytes that are signed: keys sorted, no
        spaces, sources in base64 (their bytes exactly, whatever encoding
        they declare)."""
        body = {
            "group": self.group,
            "version": self.version,
            "kind": self.kind,
            "modules": {name: base64.b64encode(src).decode() for name, src in self.modules.items()},
            "script": self.script,
            "targets": sorted(self.targets) if self.targets is not None else None,
            "hash": self.content_hash,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    @classmethod
    def decode(cls, body: bytes) -> "ChangeSet":
        """The change set of a body (ValueError if it is not one)."""
        try:
            raw = json.loads(body)
            change = cls(
                group=raw["group"], version=raw["version"], kind=raw["kind"],
                modules={name: base64.b64decode(src, validate=True)
                         for name, src in raw["modules"].items()},
                script=raw["script"], targets=raw["targets"],
            )
            stated = raw["hash"]
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ValueError(f"not a change set: {error}") from None
        if (not isinstance(change.group, str) or not isinstance(change.version, int)
                or change.kind not in ("modules", "hotfix")
                or (change.kind == "hotfix" and not isinstance(change.script, str))
                or (change.targets is not None and not isinstance(change.targets, list))):
            raise ValueError("not a change set: a field has the wrong type")
        if stated != change.content_hash:
            raise ValueError("not a change set: its hash does not match its content")
        return change


def sign(secret: bytes, body: bytes) -> str:
    """The HMAC-SHA256 of ``body`` with ``secret``, in hex."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: Optional[str]) -> bool:
    """Whether ``signature`` is the signature of ``body`` (in constant time)."""
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)


@dataclass
class Ack:
    """One agent's answer about one version."""

    agent: str
    pid: int
    host: str
    version: int
    outcome: str  # "applied", "already applied" or "refused"
    message: str = ""
    seconds: float = 0.0
    modules: Dict[str, str] = field(default_factory=dict)  # name -> hash of its source

    def line(self) -> str:
        where = f"{self.host} pid {self.pid}"
        if self.outcome == "refused":
            return f"{where}: refused: {self.message}"
        hashes = " ".join(f"{name}={digest[:12]}" for name, digest in sorted(self.modules.items()))
        took = f" in {self.seconds * 1000:.1f} ms" if self.outcome == "applied" else ""
        return f"{where}: {self.outcome} version {self.version}{took}" + (
            f" ({hashes})" if hashes else "")


def _keys(group: str) -> Dict[str, str]:
    base = f"hotreload:{group}:"
    return {name: base + name for name in ("stream", "version", "current", "history")} | {
        "agent": base + "agent:", "acks": base + "acks:"}


# -- the agent ----------------------------------------------------------------

class Agent:
    """Applies the change sets pushed to its group, in this process.

    - ``url``: the Redis server (``redis://host:port/db``, ``rediss://`` for
      TLS, with a user and password for an ACL).
    - ``group``: the processes that run the same program (a push goes to a
      group).
    - ``secret``: the fleet's shared secret (bytes or str; see
      `load_secret`).  It stays in this process.
    - ``on_event``: called with a `hotreload.Event` for each change set
      applied (``"fleet"``) or refused (``"fleet refused"``), on the
      agent's thread; by default logged.

    ``start()`` first applies, on the calling thread when it is the main
    thread, every change set the group's history holds for this process (it
    converges to the fleet's state), then listens on a thread of its own.
    Start it once the program has imported the modules pushes may change: a
    change set of the history that names a module not imported yet waits
    until it is.  ``stop()`` ends it.  ``version`` is the version this
    process runs (0: none pushed), ``modules`` the hash of each pushed
    module's source.
    """

    def __init__(self, url: str, *, group: str, secret: Any,
                 on_event: Optional[Callable[[Event], None]] = None) -> None:
        self._redis = _redis()
        self.url = url
        self.group = group
        self._secret = _as_secret(secret)
        self._keys = _keys(group)
        self.on_event = on_event or _log_event
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.version = 0
        self.content_hash: Optional[str] = None
        # The newest version of a genuine change set for this process that
        # was handled, applied or refused: one no newer is a replay, even
        # of a change set refused here (the process may accept it now).
        self._handled = 0
        self._waiting_for: Optional[int] = None  # told: catching up waits
        self.modules: Dict[str, str] = {}
        self._last_id = "0-0"  # the last stream entry handled
        self._caught_up = False  # the history before start() is handled
        self._unsent: List[Tuple[int, str]] = []  # acks Redis was down for
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._lock = threading.Lock()  # version, modules, _unsent
        self._beat_lock = threading.Lock()

    # -- life cycle -------------------------------------------------------
    def start(self) -> "Agent":
        """Catch up with the group's history, then listen; returns self."""
        with self._client() as client:
            try:
                self._caught_up = self._catch_up(client)
                self._beat(client)
            except self._redis.RedisError as error:
                log.warning("fleet agent: Redis at %s unreachable (%s): it catches up when "
                            "Redis answers", self.url, error)
        self._spawn(self._listen, "hotreload-fleet")
        self._spawn(self._heartbeat, "hotreload-fleet-beat")
        return self

    def stop(self) -> None:
        """Stop listening and beating; the heartbeat key is removed."""
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads = []
        try:
            with self._client() as client:
                client.delete(self._keys["agent"] + self.id)
        except self._redis.RedisError:
            pass  # it expires on its own

    def __enter__(self) -> "Agent":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _client(self) -> Any:
        return _connect(self.url, BEAT * 5)

    # -- heartbeat --------------------------------------------------------
    def _beat(self, client: Any) -> None:
        # Read and written under one lock: a beat of the heartbeat thread
        # must not land after the listener's beat of a newer version.
        with self._beat_lock:
            with self._lock:
                state = {"agent": self.id, "pid": self.pid, "host": self.host,
                         "version": self.version, "modules": dict(self.modules)}
            client.set(self._keys["agent"] + self.id, json.dumps(state), px=int(TTL * 1000))

    def _heartbeat(self) -> None:
        with self._client() as client:
            while not self._stop.wait(BEAT):
                try:
                    self._beat(client)
                except self._redis.RedisError:
                    pass  # the listener tells that Redis is down, once

    # -- listening --------------------------------------------------------
    def _listen(self) -> None:
        with self._client() as client:
            self._listen_with(client)

    def _listen_with(self, client: Any) -> None:
        delay = 0.1
        down = False
        while not self._stop.is_set():
            try:
                self._send_unsent(client)
                if down:
                    log.warning("fleet agent: Redis at %s answers again", self.url)
                    self._beat(client)  # a restarted Redis holds an old beat
                    down = False
                if not self._caught_up:
                    self._caught_up = self._catch_up(client)
                    if not self._caught_up:
                        self._stop.wait(BEAT)
                        continue
                # From the last entry handled: what was published while
                # Redis was down, or this process was busy, comes now.
                reply = client.xread({self._keys["stream"]: self._last_id}, count=100,
                                     block=int(BEAT * 1000))
                delay = 0.1
                for _, entries in reply or []:
                    for entry_id, fields in entries:
                        self._handle_guarded(client, fields)
                        self._last_id = entry_id.decode()
            except self._redis.RedisError as error:
                if not down:
                    log.warning("fleet agent: lost Redis at %s (%s); retrying", self.url, error)
                    down = True
                self._stop.wait(delay)
                delay = min(delay * 2, 2.0)

    def _catch_up(self, client: Any) -> bool:
        """Applies the history not yet handled, in order; whether it is all
        handled.  A change set that names a module this process has not
        imported yet stops it there (False): the listener tries again at
        each heartbeat, until the program has imported it."""
        while not self._stop.is_set():
            start = "-" if self._last_id == "0-0" else "(" + self._last_id
            entries = client.xrange(self._keys["stream"], min=start, count=100)
            if not entries:
                return True
            for entry_id, fields in entries:
                if not self._handle(client, fields, catching_up=True):
                    return False
                self._last_id = entry_id.decode()
        return False

    def _handle_guarded(self, client: Any, fields: Dict[bytes, bytes]) -> None:
        try:
            self._handle(client, fields, catching_up=False)
        except self._redis.RedisError:
            raise
        except Exception:
            # The listener must outlive a failing on_event: the process
            # would stop answering the fleet for good.
            log.exception("fleet agent: a change set could not be handled")

    # -- one change set -----------------------------------------------------
    def _handle(self, client: Any, fields: Dict[bytes, bytes], catching_up: bool) -> bool:
        """Checks, applies and acknowledges one stream entry.  False when,
        catching up, it must wait for the program to import its modules."""
        body = fields.get(b"body", b"")
        signature = fields.get(b"sig", b"").decode("ascii", "replace") or None
        try:
            change = ChangeSet.decode(body)
        except ValueError as error:
            log.warning("fleet agent: a stream entry was refused: %s", error)
            return True
        if not verify(self._secret, body, signature):
            # Acknowledged under the version it claims: push sees the refusal.
            self._refuse(client, change.version, "bad or missing signature (not made with "
                         "this fleet's secret): refused")
            return True
        if change.group != self.group:
            self._refuse(client, change.version, f"it is for group {change.group!r}, "
                         f"not {self.group!r}")
            return True
        if change.targets is not None and self.id not in change.targets:
            return True  # a canary for other processes
        with self._lock:
            running, running_hash = self.version, self.content_hash
        if change.version == running and change.content_hash == running_hash:
            # Delivered again (Redis retried, or the group's copy of a
            # canary's version): answered, not applied twice.
            self._ack(client, Ack(self.id, self.pid, self.host, change.version,
                                  "already applied", modules=self._hashes(change)))
            return True
        if change.version <= max(running, self._handled):
            self._refuse(client, change.version, f"version {change.version} is not newer "
                         f"than version {max(running, self._handled)}, which this process "
                         "already handled (a replayed or old change set)", change)
            return True
        missing, problem = self._not_applicable(change)
        if catching_up and missing:
            if self._waiting_for != change.version:
                self._waiting_for = change.version
                log.info("fleet agent: catching up with version %d waits until the program "
                         "imports %s", change.version, missing)
            return False
        self._handled = change.version
        if problem is not None:
            self._refuse(client, change.version, problem, change)
            return True
        outcome, message, seconds = self._apply(change)
        if outcome == "applied":
            with self._lock:
                self.version, self.content_hash = change.version, change.content_hash
                for name in change.modules:
                    hotreload._pushed[name] = change.version
                self.modules.update(self._hashes(change))
            self.on_event(Event("fleet", f"fleet version {change.version} applied in "
                                f"{seconds * 1000:.1f} ms"))
            self._ack(client, Ack(self.id, self.pid, self.host, change.version, "applied",
                                  seconds=seconds, modules=self._hashes(change)))
            try:
                self._beat(client)  # status tells the new version at once
            except self._redis.RedisError:
                pass  # the next beat tells it
        else:
            self._refuse(client, change.version, message, change)
        return True

    def _not_applicable(self, change: ChangeSet) -> Tuple[Optional[str], Optional[str]]:
        """(the first module of ``change`` not imported here, why the change
        set cannot be applied here), each None when there is none."""
        for name in sorted(change.modules):
            module = sys.modules.get(name)
            if module is None:
                return name, f"{name}: not imported by this process (not in sys.modules)"
            path = _hotreload.source_path(name) or getattr(module, "__file__", None)
            if not isinstance(path, str) or not _hotreload.source_allowed(path):
                return None, (f"{name}: its file {path} is outside the folders hotreload "
                              "may reload (hotreload.configure)")
        return None, None

    def _apply(self, change: ChangeSet) -> Tuple[str, str, float]:
        """Runs the change set on the main thread at its next safe point and
        waits for it: (outcome, ReloadError message, seconds)."""
        done = threading.Event()
        result: Dict[str, Any] = {}

        def apply() -> None:
            started = time.perf_counter()
            try:
                if change.kind == "modules":
                    hotreload._finish(_hotreload.reload_sources(dict(change.modules)))
                    _show_in_tracebacks(change.modules)
                else:
                    hotreload._finish(_hotreload.hotfix(
                        change.script, f"<fleet hotfix {change.version}>"))
                result["outcome"] = "applied"
            except ReloadError as error:
                result["outcome"], result["message"] = "refused", str(error)
            except BaseException as error:  # the fleet must answer whatever happened
                result["outcome"] = "refused"
                result["message"] = f"{type(error).__name__}: {error}"
            finally:
                result["seconds"] = time.perf_counter() - started
                done.set()

        if threading.current_thread() is threading.main_thread():
            apply()
        else:
            hotreload.call_on_main_thread(apply)
            while not done.wait(BEAT):
                if self._stop.is_set():
                    return "refused", "the agent stopped before the main thread applied", 0.0
        return result["outcome"], result.get("message", ""), result["seconds"]

    @staticmethod
    def _hashes(change: ChangeSet) -> Dict[str, str]:
        """The hash of the source each module of ``change`` now runs."""
        records = _hotreload._records()
        return {name: _digest(records[name][1]) for name in change.modules if name in records}

    def _refuse(self, client: Any, version: int, message: str,
                change: Optional[ChangeSet] = None) -> None:
        """Tells and acknowledges a refusal; for a genuine ``change``, with
        the hash of the source each of its modules still runs."""
        self.on_event(Event("fleet refused", f"fleet version {version} refused: {message}"))
        hashes = self._hashes(change) if change is not None else {}
        self._ack(client, Ack(self.id, self.pid, self.host, version, "refused", message,
                              modules=hashes))

    def _ack(self, client: Any, ack: Ack) -> None:
        payload = json.dumps(ack.__dict__)
        with self._lock:
            self._unsent.append((ack.version, payload))
        try:
            self._send_unsent(client)
        except self._redis.RedisError:
            pass  # kept: sent first when Redis answers again

    def _send_unsent(self, client: Any) -> None:
        """Sends the acknowledgements not sent yet (Redis was down)."""
        while True:
            with self._lock:
                if not self._unsent:
                    return
                version, payload = self._unsent[0]
            key = self._keys["acks"] + str(version)
            client.xadd(key, {"ack": payload})
            client.expire(key, ACK_LIFE)
            with self._lock:
                self._unsent.pop(0)


def _show_in_tracebacks(modules: Dict[str, bytes]) -> None:
    """Has tracebacks (linecache) show the pushed lines of each module, not
    those of its file, which no longer match the code that runs."""
    for name, source in modules.items():
        path = _hotreload.source_path(name)
        if path is not None:
            lines = _hotreload._decode_source(source).splitlines(True)
            # No mtime: linecache.checkcache() keeps the entry (as for
            # sources a loader gave) instead of reading the file again.
            linecache.cache[path] = (len(source), None, lines, path)


def _log_event(event: Event) -> None:
    log.log(logging.WARNING if event.problem else logging.INFO, "%s", event.message)


# -- the operator ---------------------------------------------------------------

@dataclass
class PushResult:
    """What a push came to: ``acks`` by agent id, the heartbeats of the
    live agents that did not answer, whether the version was published to
    the whole group (else ``stopped`` says why), and how many agents were
    live when it began."""

    version: int
    acks: Dict[str, Ack]
    silent: List[Dict[str, Any]]
    published: bool
    live: int
    stopped: str = ""

    @property
    def ok(self) -> bool:
        return self.published and not self.silent and all(
            ack.outcome != "refused" for ack in self.acks.values())


class Operator:
    """Publishes change sets to a group and reads its state (``hotreload
    push`` and ``hotreload status``)."""

    def __init__(self, url: str, *, group: str, secret: Any = None) -> None:
        redis = _redis()
        self._errors = redis.RedisError
        self.url = url
        self.group = group
        self._secret = _as_secret(secret) if secret is not None else None
        self._keys = _keys(group)
        self._client = _connect(url, 10.0)

    def close(self) -> None:
        """Closes the connection to Redis."""
        self._client.close()

    def __enter__(self) -> "Operator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def live(self) -> List[Dict[str, Any]]:
        """The heartbeats of the live agents, sorted by host and pid."""
        keys = sorted(self._client.scan_iter(match=self._keys["agent"] + "*", count=1000))
        beats = [json.loads(raw) for raw in (self._client.mget(keys) if keys else []) if raw]
        return sorted(beats, key=lambda beat: (beat["host"], beat["pid"], beat["agent"]))

    def current(self) -> int:
        """The fleet's current version (0: none)."""
        return int(self._client.get(self._keys["current"]) or 0)

    def _publish(self, change: ChangeSet) -> None:
        if self._secret is None:
            raise FleetError("publishing needs the fleet's secret")
        body = change.encode()
        self._client.xadd(self._keys["stream"], {"body": body, "sig": sign(self._secret, body)})

    def _wait(self, version: int, agents: Iterable[str], timeout: float,
              tell: Callable[[Ack], None]) -> Dict[str, Ack]:
        """The first acknowledgement of each of ``agents`` for ``version``,
        as they come (each told), until all answered or ``timeout`` seconds
        passed.  Redis lost meanwhile is retried until then."""
        waiting = set(agents)
        acks: Dict[str, Ack] = {}
        deadline = time.monotonic() + timeout
        last = "0-0"
        key = self._keys["acks"] + str(version)
        lost = False
        while waiting and time.monotonic() < deadline:
            block = max(1, int(min(deadline - time.monotonic(), 0.5) * 1000))
            try:
                reply = self._client.xread({key: last}, block=block)
            except self._errors as error:
                if not lost:
                    print(f"lost Redis at {self.url} ({error}); retrying until the timeout",
                          file=sys.stderr, flush=True)
                    lost = True
                time.sleep(0.2)
                continue
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    ack = Ack(**json.loads(fields[b"ack"]))
                    if ack.agent in waiting:
                        waiting.discard(ack.agent)
                        acks[ack.agent] = ack
                        tell(ack)
        return acks

    def push(self, *, modules: Optional[Dict[str, bytes]] = None, script: Optional[str] = None,
             canary: int = 0, timeout: float = 10.0,
             tell: Callable[[Ack], None] = lambda ack: None) -> PushResult:
        """Publishes a new version (module sources or a hotfix script) and
        waits for the live agents' acknowledgements.  With ``canary``, to
        that many agents first; any refusal or silence stops it there."""
        change = ChangeSet(self.group, 0, "hotfix" if script is not None else "modules",
                           modules=dict(modules or {}), script=script)
        live = self.live()
        change.version = int(self._client.incr(self._keys["version"]))
        newest = max((beat["version"] for beat in live), default=0)
        if change.version <= newest:
            # The counter was lost (a Redis without persistence restarted):
            # the processes would refuse the version as a replay.
            change.version = int(self._client.incrby(self._keys["version"],
                                                     newest + 1 - change.version))
        by_id = {beat["agent"]: beat for beat in live}
        acks: Dict[str, Ack] = {}
        first = list(by_id)[:canary] if canary > 0 else []
        if first:
            change.targets = first
            self._publish(change)
            acks = self._wait(change.version, first, timeout, tell)
            silent = [by_id[a] for a in first if a not in acks]
            refused = [a for a in acks.values() if a.outcome == "refused"]
            if silent or refused:
                why = f"{len(refused)} refused, {len(silent)} did not answer"
                return PushResult(change.version, acks, silent, False, len(by_id),
                                  stopped=f"canary stopped ({why}): version {change.version} "
                                  f"was not published to the other {len(by_id) - len(first)} "
                                  "processes")
            change.targets = None
        self._publish(change)
        rest = [agent for agent in by_id if agent not in acks]
        acks.update(self._wait(change.version, rest, timeout, tell))
        silent = [by_id[a] for a in rest if a not in acks]
        if all(ack.outcome != "refused" for ack in acks.values()):
            self._client.set(self._keys["current"], change.version)
            self._client.lpush(self._keys["history"], change.encode())
        return PushResult(change.version, acks, silent, True, len(by_id))

    def rollback(self, *, timeout: float = 10.0, canary: int = 0,
                 tell: Callable[[Ack], None] = lambda ack: None) -> PushResult:
        """Publishes again, as a new version, the source each module of the
        current version had in the version before it."""
        history = [ChangeSet.decode(raw) for raw in self._client.lrange(self._keys["history"], 0, -1)]
        if not history:
            raise FleetError(f"group {self.group!r} has no pushed version to roll back")
        current = history[0]
        if current.kind == "hotfix":
            raise FleetError(f"version {current.version} is a hotfix script, which cannot be "
                             "undone: push a script that undoes it")
        previous: Dict[str, bytes] = {}
        for name in current.modules:
            earlier = next((c.modules[name] for c in history[1:] if name in c.modules), None)
            if earlier is None:
                raise FleetError(f"{name}: no version before {current.version} pushed it; "
                                 "push its file to go back to it")
            previous[name] = earlier
        return self.push(modules=previous, timeout=timeout, canary=canary, tell=tell)


def module_name(path: str) -> str:
    """The dotted name of the module of the source file ``path``: its name
    and those of the package folders above it (folders with __init__.py)."""
    path = os.path.abspath(path)
    folder, base = os.path.split(path)
    parts = [] if base == "__init__.py" else [os.path.splitext(base)[0]]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        parts.insert(0, package)
    return ".".join(parts)
