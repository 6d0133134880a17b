"""hotreload.Watcher: notice saves, debounce them, apply them at a safe point.

The watcher runs in this process here; tests/test_cli.py runs it end to end
in `hotreload run`.  Every wait is bounded: a watcher that misses a save
fails the test after a few seconds instead of hanging it.
"""
import logging
import os
import threading
import time

import pytest

import hotreload
from hotreload.watch import WAIT_NOTICE, Debouncer, Watcher

pytestmark = pytest.mark.alone

BACKENDS = [
    pytest.param({}, id="watchdog"),
    pytest.param({"poll": 0.05}, id="poll"),
]
TIMEOUT = 10.0

V1 = """
    def value():
        return 1
"""
V2 = V1.replace("return 1", "return 2")


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


# ---------------------------------------------------------------------------
# Debouncer


def test_debouncer_is_due_a_quiet_period_after_the_last_poke():
    clock = FakeClock()
    debouncer = Debouncer(0.05, clock=clock)
    assert debouncer.due_in() is None and not debouncer.take()
    debouncer.poke()
    clock.now += 0.04
    assert not debouncer.take()
    debouncer.poke()  # the burst goes on: the quiet period starts again
    clock.now += 0.04
    assert debouncer.due_in() == pytest.approx(0.01)
    assert not debouncer.take()
    clock.now += 0.01
    assert debouncer.take()
    assert not debouncer.take(), "a burst is consumed once"
    assert debouncer.due_in() is None


def test_debouncer_wait_returns_once_per_burst():
    debouncer = Debouncer(0.2)
    fired = []

    def waiter():
        while debouncer.wait():
            fired.append(time.monotonic())

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    for _ in range(50):
        debouncer.poke()
    last_poke = time.monotonic()
    deadline = time.monotonic() + TIMEOUT
    while not fired and time.monotonic() < deadline:
        time.sleep(0.01)
    debouncer.close()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "close() must wake wait()"
    assert len(fired) == 1
    assert fired[0] - last_poke >= 0.2 - 0.01


def test_debouncer_close_wakes_a_waiting_thread():
    debouncer = Debouncer(0.05)
    result = []
    thread = threading.Thread(target=lambda: result.append(debouncer.wait()), daemon=True)
    thread.start()
    debouncer.close()
    thread.join(TIMEOUT)
    assert result == [False]


# ---------------------------------------------------------------------------
# Watcher


class Collector:
    """on_event for a watcher: remembers events and the thread they came on."""

    def __init__(self):
        self.events = []
        self.threads = []
        self.arrived = threading.Event()

    def __call__(self, event):
        self.events.append(event)
        self.threads.append(threading.current_thread())
        self.arrived.set()

    def wait_in_c(self, count=1, counts=None):
        """Waits (blocked in C, so the main thread runs no bytecode) for
        `count` events, or `count` of those `counts` accepts."""
        def seen():
            return len([e for e in self.events if counts is None or counts(e)])

        deadline = time.monotonic() + TIMEOUT
        while seen() < count and time.monotonic() < deadline:
            self.arrived.wait(0.05)
            self.arrived.clear()
        assert seen() >= count, f"no event within {TIMEOUT} s"

    def wait_running_bytecode(self, count=1):
        """Waits while running Python code: pending calls run in between."""
        deadline = time.monotonic() + TIMEOUT
        while len(self.events) < count and time.monotonic() < deadline:
            sum(range(100))
        assert len(self.events) >= count, f"no event within {TIMEOUT} s"


@pytest.mark.parametrize("backend", BACKENDS)
def test_watcher_applies_a_save_on_the_main_thread(workspace, backend):
    m = workspace.load("a", V1)
    value = m.value
    collector = Collector()
    with Watcher([workspace.root], on_event=collector, **backend) as watcher:
        assert watcher.backend == ("poll" if backend else "watchdog")
        workspace.edit("a", V2)
        collector.wait_running_bytecode()
    assert [e.kind for e in collector.events] == ["reloaded"]
    assert collector.threads == [threading.main_thread()]
    assert value() == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_watcher_can_apply_on_its_own_thread(workspace, backend):
    m = workspace.load("a", V1)
    collector = Collector()
    with Watcher([workspace.root], apply="thread", on_event=collector, **backend):
        workspace.edit("a", V2)
        collector.wait_in_c()
    assert collector.threads[0] is not threading.main_thread()
    assert m.value() == 2


def test_watcher_on_the_main_thread_waits_for_it_to_run_bytecode(workspace):
    # The reload is queued while the main thread is blocked in C; it applies
    # only when the main thread runs Python code again.
    m = workspace.load("a", V1)
    collector = Collector()
    release = threading.Event()
    seen_while_blocked = []

    def helper():
        deadline = time.monotonic() + TIMEOUT
        while not watcher._queued and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_while_blocked.append((watcher._queued, m.value()))
        release.set()

    # A long quiet period: the main thread is surely blocked when it ends.
    with Watcher([workspace.root], quiet=0.5, on_event=collector) as watcher:
        thread = threading.Thread(target=helper, daemon=True)
        thread.start()
        workspace.edit("a", V2)
        release.wait(TIMEOUT)  # blocked in C: no bytecode, no pending call
        collector.wait_running_bytecode()
    thread.join(TIMEOUT)
    assert seen_while_blocked == [(True, 1)]
    assert collector.threads == [threading.main_thread()]
    assert m.value() == 2


def test_watcher_says_once_per_wait_why_a_queued_reload_waits(workspace, monkeypatch):
    """The main thread blocks in C (one wait on an Event: no bytecode, so no
    pending call runs) while a save's reload is queued for it.  WAIT_NOTICE
    seconds after it was queued, one "waiting" event says why and what to
    do; a second save in the same wait says nothing more; once the main
    thread runs bytecode the reload applies.  A new wait is told anew."""
    m = workspace.load("a", V1)
    collector = Collector()
    values = []  # m.value() when each event came
    queued = []  # when each application was queued for the main thread

    def on_event(event):
        values.append(m.value())
        collector(event)

    def call_on_main_thread(fn):
        queued.append(time.monotonic())
        real(fn)

    real = hotreload.call_on_main_thread
    monkeypatch.setattr(hotreload, "call_on_main_thread", call_on_main_thread)
    release = threading.Event()
    saver_saw = []

    def saver():
        # While the main thread stays blocked: the notice, then a second
        # save, and no second notice well past the delay.
        saver_saw.append(collector.arrived.wait(TIMEOUT))
        saver_saw.append(time.monotonic())
        collector.arrived.clear()
        workspace.edit("a", V2.replace("return 2", "return 3"))
        saver_saw.append(collector.arrived.wait(WAIT_NOTICE + 1.0))
        release.set()

    with Watcher([workspace.root], on_event=on_event):
        thread = threading.Thread(target=saver, daemon=True)
        thread.start()
        workspace.edit("a", V2)
        assert release.wait(3 * TIMEOUT)  # blocked in C all along
        thread.join(TIMEOUT)
        collector.wait_running_bytecode(2)
        told, told_at, again = saver_saw
        assert told and not again, collector.events
        assert len(queued) == 1 and told_at - queued[0] >= WAIT_NOTICE
        assert [e.kind for e in collector.events] == ["waiting", "reloaded"]
        assert values == [1, 3] and m.value() == 3
        waiting = collector.events[0]
        assert waiting.problem and waiting.report is None
        assert waiting.message.startswith(
            f"waiting to reload {os.path.basename(workspace.path('a'))}: the main thread has "
            "run no Python code for 2 s")
        assert waiting.message.endswith('with Watcher(apply="thread")')
        assert collector.threads[0] is not threading.main_thread()

        collector.arrived.clear()
        workspace.edit("a", V1)
        assert collector.arrived.wait(TIMEOUT)
        collector.wait_running_bytecode(4)
    assert [e.kind for e in collector.events] == ["waiting", "reloaded", "waiting", "reloaded"]
    assert values == [1, 3, 3, 1] and len(queued) == 2


def test_watcher_tells_no_wait_to_a_main_thread_that_runs_bytecode(workspace):
    m = workspace.load("a", V1)
    collector = Collector()
    with Watcher([workspace.root], on_event=collector):
        workspace.edit("a", V2)
        collector.wait_running_bytecode()
        deadline = time.monotonic() + WAIT_NOTICE + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.01)  # a frame of a game loop
    assert [e.kind for e in collector.events] == ["reloaded"]
    assert m.value() == 2


def test_watcher_logs_a_wait_by_default(workspace, caplog):
    """Without on_event, a library user reads the wait in the hotreload
    logger, as a warning."""
    m = workspace.load("a", V1)
    told = threading.Event()

    class Signal(logging.Handler):
        def emit(self, record):
            if "waiting to reload" in record.getMessage():
                told.set()

    signal = Signal()
    logger = logging.getLogger("hotreload")
    logger.addHandler(signal)
    caplog.set_level(logging.INFO, logger="hotreload")
    try:
        with Watcher([workspace.root]):
            workspace.edit("a", V2)
            assert told.wait(TIMEOUT)  # blocked in C
            deadline = time.monotonic() + TIMEOUT
            while m.value() != 2 and time.monotonic() < deadline:
                pass  # bytecode: the reload applies
    finally:
        logger.removeHandler(signal)
    waits = [r for r in caplog.records if "waiting to reload" in r.getMessage()]
    assert len(waits) == 1 and waits[0].levelno == logging.WARNING
    assert 'Watcher(apply="thread")' in waits[0].getMessage()
    assert m.value() == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_watcher_ignores_excluded_and_foreign_files(workspace, backend):
    kept = workspace.load("kept", V1)
    skipped = workspace.load("skip", V1)
    collector = Collector()
    with Watcher([workspace.root], exclude=["*_skip.py"], apply="thread",
                 on_event=collector, **backend):
        workspace.edit("skip", V2)
        (workspace.root / "notes.txt").write_text("not python")
        workspace.edit("kept", V2)
        collector.wait_in_c()
    assert [e.report.modules for e in collector.events] == [[kept.__name__]]
    assert (kept.value(), skipped.value()) == (2, 1)


def test_watcher_excludes_hidden_folders_and_patterns_on_folders(workspace, tmp_path):
    watcher = Watcher([tmp_path], exclude=["build"])
    inside = str(tmp_path)
    assert watcher._wanted(os.path.join(inside, "pkg", "mod.py"))
    assert not watcher._wanted(os.path.join(inside, "pkg", "mod.txt"))
    assert not watcher._wanted(os.path.join(inside, ".venv", "lib", "x.py"))
    assert not watcher._wanted(os.path.join(inside, "__pycache__", "x.py"))
    assert not watcher._wanted(os.path.join(inside, "build", "x.py"))
    assert not watcher._wanted(os.path.join(inside, ".#mod.py"))
    assert not watcher._wanted(os.path.join(os.path.dirname(inside), "elsewhere.py"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_watcher_tells_a_broken_save_once(workspace, backend):
    # A save caught half-written (the file truncated, not yet written) is
    # refused as "a save in progress?" and changes nothing; whether the
    # watcher sees one depends on the machine's timing, so it is not counted,
    # nor waited for.
    def counted(event):
        return not (event.error is not None and "(a save in progress?)" in str(event.error))

    m = workspace.load("a", V1)
    collector = Collector()
    with Watcher([workspace.root], apply="thread", on_event=collector, **backend):
        workspace.edit("a", V1.replace("value():", "value(:"))
        collector.wait_in_c(1, counted)
        workspace.edit("a", V1.replace("value():", "value(:"))  # same bytes again
        workspace.edit("a", V2)
        collector.wait_in_c(2, counted)
    told = [e.kind for e in collector.events if counted(e)]
    assert told == ["failed", "reloaded"]
    assert m.value() == 2


def test_watcher_logs_a_refused_save_by_default(workspace, caplog):
    """The watcher handles ReloadError itself: without on_event it tells it
    in the hotreload logger, once, as a warning."""
    m = workspace.load("a", V1)
    told = threading.Event()

    class Signal(logging.Handler):
        def emit(self, record):
            if "does not compile" in record.getMessage():
                told.set()

    signal = Signal(logging.WARNING)
    logger = logging.getLogger("hotreload")
    logger.addHandler(signal)
    caplog.set_level(logging.INFO, logger="hotreload")
    try:
        with Watcher([workspace.root], apply="thread", precompile=False) as watcher:
            workspace.edit("a", V1.replace("value():", "value(:"))
            assert told.wait(TIMEOUT)
            watcher.apply_now()  # nothing new: not told again
    finally:
        logger.removeHandler(signal)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # A save caught half-written may be refused first (see
    # test_watcher_tells_a_broken_save_once): only the syntax error counts.
    refusals = [r for r in warnings if "does not compile" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].getMessage().startswith(
        f"cannot reload {m.__name__}: the new source does not compile"), warnings
    assert m.value() == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_watcher_runs_each_new_hotfix_script_once(workspace, tmp_path, backend):
    m = workspace.load("a", V1)
    fixes = tmp_path / "fixes"
    fixes.mkdir()
    (fixes / "old.py").write_text("raise SystemExit('a script present at start is not run')\n")
    script = f"""
import hotreload
import {m.__name__} as target

def value():
    return {{}}

hotreload.patch(target.value, value)
"""
    collector = Collector()
    with Watcher([workspace.root], hotfix_dir=fixes, apply="thread",
                 on_event=collector, **backend):
        (fixes / "fix1.py").write_text(script.format(10))
        collector.wait_in_c(1)
        assert m.value() == 10
        (fixes / "fix2.py").write_text(script.format(20))
        collector.wait_in_c(2)
    assert [e.kind for e in collector.events] == ["hotfix", "hotfix"]
    assert "fix1.py" in collector.events[0].message
    assert m.value() == 20


def test_watcher_says_the_main_script_cannot_be_reloaded(workspace):
    script = workspace.root / "main.py"
    script.write_text("print('v1')\n")
    collector = Collector()
    with Watcher([workspace.root], script=str(script), apply="thread", on_event=collector):
        script.write_text("print('v2')\n")
        collector.wait_in_c()
    assert [e.kind for e in collector.events] == ["script"]


def test_watcher_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError):
        Watcher([tmp_path], apply="elsewhere")
    with pytest.raises(ValueError):
        Watcher([tmp_path], poll=0)
    with pytest.raises(NotADirectoryError):
        Watcher([tmp_path / "missing"])


def test_watcher_is_exported():
    assert hotreload.Watcher is Watcher
