"""`hotreload run` end to end, in a child process.

The child runs a small program (a script and a module it imports) that
prints a value each tick.  The test edits the module and reads the child's
output: the value changes with the same pid (no restart), a save that does
not compile is told once on stderr and the old code keeps running, the next
good save applies, and the program's exit status comes back.  Every wait is
bounded, and the child is killed if the test fails.
"""
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import hotreload
from hotreload.watch import WAIT_NOTICE

pytestmark = pytest.mark.alone

TIMEOUT = 15.0
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(hotreload.__file__)))

APP = """
import os, sys, time
import lib

print("pid", os.getpid(), flush=True)
for tick in range(3000):               # 30 s at most: never hang a test
    print("value", lib.value(), flush=True)
    if os.path.exists("stop"):
        sys.exit(int(open("stop").read()))
    time.sleep(0.01)
sys.exit(99)
"""
LIB = """
def value():
    return {}
"""


def env():
    environ = dict(os.environ)
    environ["PYTHONPATH"] = PACKAGE_PARENT
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    environ.pop("PYTHONSTARTUP", None)
    return environ


class Child:
    """A child process whose stdout and stderr lines are read as they come."""

    def __init__(self, args, cwd, **popen):
        self.proc = subprocess.Popen(
            args, cwd=str(cwd), env=env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
        )
        self.out, self.err = [], []
        self._lines = queue.Queue()
        self._readers = []
        for stream, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            reader = threading.Thread(target=self._read, args=(stream, into), daemon=True)
            reader.start()
            self._readers.append(reader)

    def _read(self, stream, into):
        for line in stream:
            into.append(line.rstrip("\n"))
            self._lines.put(None)

    def wait_for(self, predicate, what):
        """Waits until predicate(out, err) holds; fails after TIMEOUT."""
        deadline = time.monotonic() + TIMEOUT
        while not predicate(self.out, self.err):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and self._lines.empty():
                if predicate(self.out, self.err):
                    return
                pytest.fail(f"waited for {what}\n--- stdout\n" + "\n".join(self.out[-20:])
                            + "\n--- stderr\n" + "\n".join(self.err), pytrace=False)
            try:
                self._lines.get(timeout=min(left, 0.1))
            except queue.Empty:
                pass

    def wait_for_value(self, value):
        line = f"value {value}"
        self.wait_for(lambda out, err: line in out, line)
        return len(self.out) - 1 - self.out[::-1].index(line)

    def finish(self):
        """The exit status, once the child has exited and its output is read."""
        try:
            return self.proc.wait(TIMEOUT)
        finally:
            self.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for reader in self._readers:
            reader.join(TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def program(tmp_path):
    """Writes app.py and lib.py; returns a function starting `hotreload run`."""
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "lib.py").write_text(LIB.format(1))
    children = []

    def start(*options, args=("app.py",)):
        child = Child([sys.executable, "-m", "hotreload", "run", *options, *args], tmp_path)
        children.append(child)
        return child

    yield start
    for child in children:
        child.close()


def stop(folder, status):
    """Asks the program to exit with `status` (the file appears whole)."""
    (folder / "stop.tmp").write_text(str(status))
    os.replace(folder / "stop.tmp", folder / "stop")


def errors(child):
    """The refusals the child told, but for a save caught half-written.

    `Path.write_text` truncates the file, then writes it, as many editors
    do: a watcher that polls may see the empty file in between, which the
    engine refuses ("a save in progress?") and changes nothing; the next
    poll sees the whole file.  That refusal is right, and it comes or not
    with the timing of the machine, so it is not counted."""
    return [line for line in child.err if line.startswith("[hotreload] cannot reload")
            and "(a save in progress?)" not in line]


@pytest.mark.parametrize("options", [(), ("--poll", "0.05")], ids=["watchdog", "poll"])
def test_run_applies_saves_without_a_restart(program, tmp_path, options):
    child = program(*options)
    child.wait_for_value(1)
    lib = tmp_path / "lib.py"

    lib.write_text(LIB.format(2))
    child.wait_for_value(2)

    broken = LIB.format(3).replace("value():", "value(:")
    lib.write_text(broken)
    child.wait_for(lambda out, err: errors(child), "the error line")
    told = len(child.out)
    child.wait_for(lambda out, err: len(out) > told + 3, "more ticks")
    assert set(child.out[told:]) == {"value 2"}, "a broken save must change nothing"
    lib.write_text(broken)  # the same bytes again: not told again
    time.sleep(0.3)  # (lets the watcher see it separately; not an assertion)

    lib.write_text(LIB.format(4))
    child.wait_for_value(4)
    stop(tmp_path, 7)
    assert child.finish() == 7
    assert [line for line in child.out if line.startswith("pid")] == [f"pid {child.proc.pid}"]
    assert len(errors(child)) == 1, child.err
    assert "SyntaxError" in errors(child)[0]
    assert "    def value(:" in child.err
    reloads = [line for line in child.err if line.startswith("[hotreload] lib: 1 updated")]
    assert len(reloads) == 2, child.err


def test_run_quiet_prints_errors_only_and_verbose_prints_names(program, tmp_path):
    quiet = program("--quiet")
    quiet.wait_for_value(1)
    (tmp_path / "lib.py").write_text(LIB.format(2))
    quiet.wait_for_value(2)
    stop(tmp_path, 0)
    assert quiet.finish() == 0
    assert quiet.err == []

    os.unlink(tmp_path / "stop")
    verbose = program("--verbose")
    verbose.wait_for_value(2)
    (tmp_path / "lib.py").write_text(LIB.format(3))
    verbose.wait_for_value(3)
    stop(tmp_path, 0)
    assert verbose.finish() == 0
    assert verbose.err[0].startswith("[hotreload] watching ")
    assert "  updated: lib.value" in verbose.err


def test_run_applies_on_the_watchers_thread_when_asked(program, tmp_path):
    # The main thread sits in C (a lock) while the reload applies.
    (tmp_path / "blocked.py").write_text(textwrap.dedent("""
        import threading, time
        import lib
        done = threading.Event()

        def ticker():
            while not done.is_set():
                if lib.value() == 2:
                    print("value 2", flush=True)
                    done.set()
                time.sleep(0.01)

        threading.Thread(target=ticker, daemon=True).start()
        print("value 1", flush=True)
        done.wait(30)
    """))
    child = program("--apply", "thread", args=("blocked.py",))
    child.wait_for_value(1)
    (tmp_path / "lib.py").write_text(LIB.format(2))
    child.wait_for_value(2)
    assert child.finish() == 0


def save(path, text):
    """Saves a file whole (a new file renamed over it), so that no watcher
    sees it half-written."""
    draft = path.with_name(path.name + ".draft")
    draft.write_text(text)
    os.replace(draft, path)


def waiting_lines(child):
    return [line for line in child.err if line.startswith("[hotreload] waiting to reload")]


def test_run_says_why_a_save_waits_for_a_main_thread_blocked_in_c(program, tmp_path):
    """The main thread joins a thread (blocked in C: no pending call runs);
    the save's reload is queued for it.  After WAIT_NOTICE seconds one line
    says why nothing happens and what to do, and only one however long the
    wait and however many saves; when the main thread is back in Python
    code the reload applies with its usual line."""
    (tmp_path / "joined.py").write_text(textwrap.dedent("""
        import os, threading, time
        import lib

        def wait_for_go():
            for _ in range(6000):  # 60 s at most: never hang a test
                if os.path.exists("go"):
                    return
                time.sleep(0.01)

        print("value", lib.value(), flush=True)
        thread = threading.Thread(target=wait_for_go)
        thread.start()
        thread.join()
        print("value", lib.value(), flush=True)
    """))
    child = program(args=("joined.py",))
    child.wait_for_value(1)
    saved = time.monotonic()
    save(tmp_path / "lib.py", LIB.format(2))
    child.wait_for(lambda out, err: waiting_lines(child), "the waiting line")
    waited = time.monotonic() - saved
    assert waited >= WAIT_NOTICE, f"told after {waited:.2f} s"
    assert waiting_lines(child)[0].startswith("[hotreload] waiting to reload lib.py: the main "
                                              "thread has run no Python code for 2 s")
    assert waiting_lines(child)[0].endswith("with --apply thread")
    save(tmp_path / "lib.py", LIB.format(3))  # a second save in the same wait
    time.sleep(WAIT_NOTICE + 1.0)
    assert len(waiting_lines(child)) == 1, child.err
    assert child.out == ["value 1"], "nothing applies while the main thread is in C"
    (tmp_path / "go").write_text("")
    child.wait_for_value(3)
    assert child.finish() == 0
    others = [line for line in child.err if line not in waiting_lines(child)]
    assert len(waiting_lines(child)) == 1 and len(others) == 1, child.err
    assert others[0].startswith("[hotreload] lib: 1 updated"), child.err


def test_run_says_nothing_of_waits_when_the_main_thread_runs_python(program, tmp_path):
    """APP's main thread sleeps 10 ms at a time: each save applies at once,
    and no waiting line comes even well after the notice's delay."""
    child = program()
    child.wait_for_value(1)
    save(tmp_path / "lib.py", LIB.format(2))
    child.wait_for_value(2)
    time.sleep(WAIT_NOTICE + 1.0)
    stop(tmp_path, 0)
    assert child.finish() == 0
    assert len(child.err) == 1 and child.err[0].startswith("[hotreload] lib: 1 updated"), child.err


def test_run_applies_hotfix_scripts_dropped_in_a_folder(program, tmp_path):
    fixes = tmp_path / "fixes"
    fixes.mkdir()
    child = program("--hotfix-dir", str(fixes))
    child.wait_for_value(1)
    (fixes / "fix1.py").write_text(textwrap.dedent("""
        import hotreload, lib

        def value():
            return 5

        hotreload.patch(lib.value, value)
    """))
    child.wait_for_value(5)
    stop(tmp_path, 0)
    assert child.finish() == 0
    assert any(line.startswith("[hotreload] hotfix fix1.py applied") for line in child.err)


def test_run_refuses_a_hotfix_folder_others_can_write(tmp_path):
    """Anyone could drop a script there and have it run in the program."""
    fixes = tmp_path / "fixes"
    fixes.mkdir()
    os.chmod(fixes, 0o777)
    (tmp_path / "x.py").write_text("print('ran')\n")
    ours = subprocess.run([sys.executable, "-m", "hotreload", "run", "--hotfix-dir", str(fixes),
                           "x.py"], cwd=str(tmp_path), env=env(), capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert ours.returncode == 2 and ours.stdout == ""
    assert (f"--hotfix-dir: {fixes} is writable by others (owner root, mode 0777)"
            in ours.stderr)


def test_run_says_the_script_itself_is_not_reloaded(program, tmp_path):
    child = program()
    child.wait_for_value(1)
    with open(tmp_path / "app.py", "a") as f:
        f.write("# edited\n")
    child.wait_for(lambda out, err: any("__main__" in line for line in err), "the notice")
    stop(tmp_path, 0)
    assert child.finish() == 0


# ---------------------------------------------------------------------------
# Running the program as Python would


PROBE = """
import json, sys
print(json.dumps({"name": __name__, "argv": sys.argv[1:], "path0": sys.path[0]}), flush=True)
mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "exit":
    sys.exit(int(sys.argv[2]))
if mode == "message":
    sys.exit("goodbye")
if mode == "interrupt":
    raise KeyboardInterrupt
if mode == "error":
    def inner():
        raise ValueError("boom")
    inner()
"""


def run_both(tmp_path, *args, module=False):
    """Runs the probe with python and with `hotreload run`; both results."""
    pkg = tmp_path / "probe_pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "main.py").write_text(PROBE)
    (tmp_path / "probe.py").write_text(PROBE)
    target = ["-m", "probe_pkg.main"] if module else ["probe.py"]
    results = []
    for prefix in ([sys.executable], [sys.executable, "-m", "hotreload", "run"]):
        results.append(subprocess.run(
            prefix + target + list(args), cwd=str(tmp_path), env=env(),
            capture_output=True, text=True, timeout=TIMEOUT,
        ))
    return results


@pytest.mark.parametrize("module", [False, True], ids=["script", "module"])
@pytest.mark.parametrize("args", [(), ("exit", "3"), ("message",), ("a", "-v", "--x")])
def test_run_behaves_as_python(tmp_path, module, args):
    python, ours = run_both(tmp_path, *args, module=module)
    assert ours.returncode == python.returncode
    assert ours.stdout == python.stdout
    assert ours.stderr == python.stderr


def test_run_exits_on_keyboard_interrupt_as_python_does(tmp_path):
    python, ours = run_both(tmp_path, "interrupt")
    assert python.returncode == -signal.SIGINT  # what a shell reports as 130
    assert ours.returncode == python.returncode
    assert ours.stderr.splitlines()[-1] == "KeyboardInterrupt"


def test_run_prints_the_users_traceback_without_hotreloads_frames(tmp_path):
    python, ours = run_both(tmp_path, "error")
    assert ours.returncode == python.returncode == 1
    assert ours.stderr.splitlines()[-1] == "ValueError: boom"
    assert 'raise ValueError("boom")' in ours.stderr
    assert "hotreload" not in ours.stderr and "runpy" not in ours.stderr


def test_run_reports_a_missing_module_as_python_does(tmp_path):
    ours = subprocess.run([sys.executable, "-m", "hotreload", "run", "-m", "no_such_module"],
                          cwd=str(tmp_path), env=env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert ours.returncode == 1
    assert ours.stderr.strip().endswith("No module named no_such_module")


@pytest.mark.parametrize("argv", [["run"], ["run", "missing.py"], ["nothing"],
                                  ["run", "--watch", "missing_dir", "x.py"],
                                  ["run", "--poll", "0", "x.py"]])
def test_cli_usage_errors_exit_2(tmp_path, argv):
    (tmp_path / "x.py").write_text("")
    ours = subprocess.run([sys.executable, "-m", "hotreload", *argv], cwd=str(tmp_path),
                          env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert ours.returncode == 2
    assert "usage: hotreload" in ours.stderr


def test_the_console_script_runs_the_same_command(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "hotreload")
    if not os.path.exists(script):
        pytest.skip("the package is not installed with its console script here")
    (tmp_path / "probe.py").write_text(PROBE)
    result = subprocess.run([script, "run", "probe.py", "exit", "4"], cwd=str(tmp_path),
                            env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 4
    assert '"path0": "%s"' % os.path.realpath(tmp_path) in result.stdout


# ---------------------------------------------------------------------------
# What is watched by default: the project, never site-packages or the stdlib


def watched(cwd, *args, pythonpath=(), stdin=""):
    """The folders `hotreload run -v ARGS` (run in cwd) says it watches."""
    environ = env()
    environ["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), environ["PYTHONPATH"]])
    result = subprocess.run([sys.executable, "-m", "hotreload", "run", "-v", *args],
                            cwd=str(cwd), env=environ, input=stdin, capture_output=True,
                            text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if "] watching " in line)
    return line.split("] watching ", 1)[1].split(" with ", 1)[0].split(", ")


@pytest.mark.parametrize("args", [("-m", "pytest", "--version"), ("-m", "json.tool")],
                         ids=["site-packages", "stdlib"])
def test_run_m_watches_the_current_folder_not_the_modules_own(tmp_path, args):
    """`-m uvicorn app:app` must watch the app, not every installed package."""
    assert watched(tmp_path, *args, stdin="{}") == [os.path.realpath(tmp_path)]


def test_run_m_also_watches_its_package_where_it_reloads(tmp_path):
    """A package on PYTHONPATH (or installed in editable mode) outside the
    current folder is watched too."""
    package = tmp_path / "src" / "tool"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("print('ran')\n")
    work = tmp_path / "work"
    work.mkdir()
    assert watched(work, "-m", "tool", pythonpath=[tmp_path / "src"]) == [
        os.path.realpath(work), os.path.realpath(tmp_path / "src")]


def test_run_of_an_installed_command_watches_the_current_folder(tmp_path):
    """`hotreload run .venv/bin/flask ...` runs the project of the current
    folder, as `-m flask` does: not the interpreter's bin folder."""
    import sysconfig

    command = os.path.join(sysconfig.get_path("scripts"), "pytest")
    if not os.path.exists(command):
        pytest.skip("pytest is not installed with its console script here")
    assert watched(tmp_path, command, "--version") == [os.path.realpath(tmp_path)]


def refused_folder(cwd, *args):
    result = subprocess.run([sys.executable, "-m", "hotreload", "run", *args], cwd=str(cwd),
                            env=env(), input="{}", capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert result.returncode == 2 and result.stdout == "", result
    return result.stderr.splitlines()[-1]


def test_run_refuses_to_watch_site_packages_or_the_stdlib(tmp_path):
    site_packages = os.path.dirname(os.path.dirname(os.path.realpath(pytest.__file__)))
    stdlib = os.path.dirname(os.path.realpath(os.__file__))
    json_folder = os.path.join(stdlib, "json")
    assert refused_folder(tmp_path, "--watch", site_packages, "-m", "json.tool") == (
        f"hotreload run: error: --watch {site_packages}: it is in {site_packages}, whose "
        "modules are not reloaded (site-packages, the standard library): watch your "
        "project's folder")
    assert refused_folder(tmp_path, "--watch", json_folder, "-m", "json.tool") == (
        f"hotreload run: error: --watch {json_folder}: it is in {stdlib}, whose modules "
        "are not reloaded (site-packages, the standard library): watch your project's folder")
    assert refused_folder(json_folder, "-m", "json.tool") == (
        f"hotreload run: error: the folder to watch by default, {json_folder}, is in "
        f"{stdlib}, whose modules are not reloaded (site-packages, the standard library): "
        "run from your project's folder, or pass --watch DIR")


@pytest.mark.parametrize("option", ["--version", "-V"])
def test_version_is_printed_and_exits_0(tmp_path, option):
    ours = subprocess.run([sys.executable, "-m", "hotreload", option], cwd=str(tmp_path),
                          env=env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        0, f"hotreload {hotreload.__version__}\n", "")


def test_the_console_script_prints_the_version(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "hotreload")
    if not os.path.exists(script):
        pytest.skip("the package is not installed with its console script here")
    result = subprocess.run([script, "--version"], cwd=str(tmp_path), env=env(),
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert (result.returncode, result.stdout) == (0, f"hotreload {hotreload.__version__}\n")
