"""`hotreload run` under real web frameworks: Django, Flask, FastAPI on uvicorn.

Each test writes a small project into tmp_path: an entry point, and a
handler module, separate from it, whose view counts requests in a
module-level dict and answers "VERSION COUNT PID".  It starts the real
server under `hotreload run` on a free loopback port, keeps sending
requests from a thread, one after another, and saves the handler module
several times: good saves (a new VERSION) and broken ones (a SyntaxError, a
NameError while the module runs).  It checks that

- no request failed;
- the count went up by one with each request, across every save, in one
  process: the in-memory state was kept and the server never restarted;
- each good save was served within a second (from the moment the file was
  in place to the first answer with the new VERSION), and the versions came
  in the order they were saved;
- a broken save was never served: "broken" never appears, and answers after
  the refusal was told still show the last good VERSION;
- each broken save was told once, and each good one applied once.

The figures of each run (requests, failures, save-to-served times) are
printed (`pytest -s` or `-rP` shows them).

Other tests start each framework with its own reloader on, which would
serve from a child process out of hotreload's reach: `hotreload run` must
stop with the one line that gives the command to use, and nothing may be
left serving.  The last ones pin down what each framework takes in place
and what it does not, as the README says (a Django URLconf needs its caches
cleared, settings a restart; Flask refuses a new route; FastAPI serves a new
endpoint but keeps the parameters it read).

Every wait is bounded; the server is killed when a test ends.
"""
import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional

import pytest

from test_cli import Child

pytestmark = pytest.mark.alone

pytest.importorskip("django")
pytest.importorskip("flask")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

START_TIMEOUT = 20.0  # a server's start-up, on a loaded machine
WAIT = 10.0           # any other wait: far above what a step takes
SERVED_WITHIN = 1.0   # what a good save must take to be served
PAUSE = 0.005         # between two requests: the harness adds at most this
AFTER_REFUSAL = 5     # answers checked after a refused save was told
SERVED_FOR = 10       # answers of each good version before the next save

HANDLER = '''\
import os
{imports}
STATE = {{"count": 0}}
VERSION = {version!r}


{define}
    STATE["count"] += 1
    return {wrap}(f"{{VERSION}} {{STATE['count']}} {{os.getpid()}}")
'''

# Each framework: its project's files (the handler module is written
# apart), the handler's import, signature and response wrapper, and the
# `hotreload run` arguments that start it without its own reloader.
PROJECTS = {
    "django": dict(
        files={
            "manage.py": """
                import os, sys
                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
                from django.core.management import execute_from_command_line
                execute_from_command_line(sys.argv)
            """,
            "settings.py": """
                SECRET_KEY = "test only"
                DEBUG = False
                ALLOWED_HOSTS = ["127.0.0.1"]
                ROOT_URLCONF = "urls"
                INSTALLED_APPS = []
                MIDDLEWARE = []
                DATABASES = {}
            """,
            "urls.py": """
                from django.urls import path
                import handlers
                urlpatterns = [path("", handlers.index)]
            """,
        },
        imports="from django.http import HttpResponse",
        define="def index(request):",
        wrap="HttpResponse",
        command=["manage.py", "runserver", "127.0.0.1:{port}", "--noreload"],
    ),
    "flask": dict(
        files={
            "app.py": """
                from flask import Flask
                import handlers
                app = Flask(__name__)
                app.add_url_rule("/", view_func=handlers.index)
            """,
        },
        imports="",
        define="def index():",
        wrap="str",
        command=["-m", "flask", "--app", "app", "run", "--port", "{port}", "--no-reload"],
    ),
    "fastapi": dict(
        files={
            "main.py": """
                from fastapi import FastAPI
                from fastapi.responses import PlainTextResponse
                import handlers
                app = FastAPI()
                app.get("/", response_class=PlainTextResponse)(handlers.index)
            """,
        },
        imports="",
        define="def index():",
        wrap="str",
        command=["-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", "{port}"],
    ),
}

# The saves, in order: (VERSION, whether it is served).  A broken save's
# VERSION says "broken", which no answer may ever show.
SAVES = [("v2", True), ("broken-syntax", False), ("v3", True), ("broken-name", False),
         ("v4", True), ("v5", True)]


def handler_source(framework: str, version: str) -> str:
    project = PROJECTS[framework]
    source = HANDLER.format(version=version, imports=project["imports"],
                            define=project["define"], wrap=project["wrap"])
    if version == "broken-syntax":
        source += "\n\ndef helper(:\n    pass\n"
    elif version == "broken-name":
        source = source.replace(f"VERSION = {version!r}",
                                f"VERSION = {version!r} + NOT_DEFINED")
    return source


def save(path, text: str) -> float:
    """Saves as editors that write a temporary file and rename it do, so the
    server's watcher never reads a half-written file; returns when the new
    file is in place."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
    return time.monotonic()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_project(folder, framework: str) -> None:
    for name, text in PROJECTS[framework]["files"].items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    (folder / "handlers.py").write_text(handler_source(framework, "v1"))


@dataclass
class Answer:
    sent: float
    received: float
    body: Optional[str] = None   # None: the request failed
    error: str = ""

    @property
    def version(self) -> Optional[str]:
        return None if self.body is None else self.body.split()[0]


@dataclass
class Load:
    """Sends GET / from a thread, one request after another, each on a new
    connection, until stopped; records every answer or failure."""

    port: int
    answers: List[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._new = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Load":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(WAIT)

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
            try:
                connection.request("GET", "/", headers={"Connection": "close"})
                response = connection.getresponse()
                body = response.read().decode()
                answer = Answer(sent, time.monotonic(), body if response.status == 200 else None,
                                "" if response.status == 200 else f"status {response.status}")
            except (OSError, http.client.HTTPException) as error:
                answer = Answer(sent, time.monotonic(), error=f"{type(error).__name__}: {error}")
            finally:
                connection.close()
            with self._new:
                self.answers.append(answer)
                self._new.notify_all()
            self._stop.wait(PAUSE)

    def wait_for(self, predicate, what: str, server: Child) -> None:
        """Waits until predicate(answers) holds; fails after WAIT seconds or
        if the server has exited."""
        deadline = time.monotonic() + WAIT
        with self._new:
            while not predicate(self.answers):
                left = deadline - time.monotonic()
                if left <= 0 or server.proc.poll() is not None:
                    tail = [a.body or a.error for a in self.answers[-5:]]
                    pytest.fail(f"waited for {what}; last answers {tail}\n--- server stderr\n"
                                + "\n".join(server.err[-30:]), pytrace=False)
                self._new.wait(min(left, 0.1))


def wait_listening(port: int, server: Child) -> None:
    """Until the server accepts connections (bounded: START_TIMEOUT)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if server.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the server did not start\n--- stderr\n" + "\n".join(server.err),
                            pytrace=False)
            time.sleep(0.05)


class Server(Child):
    """`hotreload run ARGS` in a session of its own: what it leaves behind (a
    framework's child process, if hotreload let one start) is killed with it."""

    def __init__(self, args, cwd):
        super().__init__([sys.executable, "-m", "hotreload", "run", *args], cwd,
                         start_new_session=True)

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # the whole group is gone already
            pass
        super().close()


@pytest.fixture
def start(tmp_path):
    """Starts `hotreload run ARGS` in tmp_path; kills it when the test ends."""
    children = []

    def start(args):
        child = Server(args, tmp_path)
        children.append(child)
        return child

    yield start
    for child in children:
        child.close()


FIGURES = {}


@pytest.fixture(scope="module", autouse=True)
def print_figures():
    yield
    if FIGURES:
        print(f"\n--- hotreload run under web frameworks, CPython {sys.version.split()[0]}")
        for line in FIGURES.values():
            print(line)


@pytest.mark.parametrize("framework", sorted(PROJECTS))
def test_saves_apply_in_place_while_the_server_answers(tmp_path, start, framework):
    write_project(tmp_path, framework)
    port = free_port()
    command = [arg.format(port=port) for arg in PROJECTS[framework]["command"]]
    began = time.monotonic()
    server = start(command)
    wait_listening(port, server)
    started = time.monotonic() - began
    load = Load(port).start()
    try:
        load.wait_for(lambda answers: any(a.version == "v1" for a in answers), "v1", server)
        handlers = tmp_path / "handlers.py"
        latencies = {}
        refusals = 0
        for version, good in SAVES:
            saved = save(handlers, handler_source(framework, version))
            if good:
                load.wait_for(lambda answers: answers[-1].version == version, version, server)
                first = next(a for a in load.answers if a.version == version)
                latencies[version] = first.received - saved
                load.wait_for(lambda answers: len(answers) >= SERVED_FOR
                              and answers[-SERVED_FOR].version == version,
                              f"{SERVED_FOR} answers of {version}", server)
            else:
                refusals += 1
                server.wait_for(lambda out, err: len(refused(err)) == refusals,
                                f"the refusal of {version}")
                told = len(load.answers)
                load.wait_for(lambda answers: len(answers) >= told + AFTER_REFUSAL,
                              f"{AFTER_REFUSAL} answers after the refusal", server)
    finally:
        load.stop()
    answers = load.answers
    failed = [a for a in answers if a.body is None]
    FIGURES[framework] = (
        f"{framework}: {len(answers)} requests, {len(failed)} failed, server up in "
        f"{started:.1f} s, save to served: "
        + ", ".join(f"{v} {t * 1000:.0f} ms" for v, t in latencies.items()))
    print(FIGURES[framework])

    assert failed == [], failed[:5]
    served = [a.body.split() for a in answers]
    assert [int(count) for _, count, _ in served] == list(range(1, len(served) + 1)), \
        "the count must go on across saves: state kept, no restart"
    assert {int(pid) for _, _, pid in served} == {server.proc.pid}
    versions = [version for version, _, _ in served]
    assert not [v for v in versions if "broken" in v], "a broken save was served"
    order = ["v1"] + [version for version, good in SAVES if good]
    assert sorted(set(versions), key=versions.index) == order
    assert versions == sorted(versions, key=order.index), "versions came out of order"
    assert all(t < SERVED_WITHIN for t in latencies.values()), FIGURES[framework]

    errors = refused(server.err)
    assert len(errors) == 2, server.err
    assert "SyntaxError" in errors[0] and "NameError" in errors[1]
    applied = [line for line in server.err if line.startswith("[hotreload] handlers: ")]
    assert len(applied) == len(order) - 1, server.err


def refused(err: List[str]) -> List[str]:
    return [line for line in err if line.startswith("[hotreload] cannot reload handlers")]


# ---------------------------------------------------------------------------
# The frameworks' own reloaders


RELOADER_CASES = {
    "django runserver": (
        "django", ["manage.py", "runserver", "127.0.0.1:{port}"],
        "Django's autoreloader would serve from a child process that it restarts on "
        "each save, out of hotreload's reach: run `hotreload run manage.py runserver "
        "127.0.0.1:{port} --noreload` instead"),
    "flask run --debug": (
        "flask", ["-m", "flask", "--app", "app", "run", "--port", "{port}", "--debug"],
        "Werkzeug's reloader (flask --debug, app.run(debug=True)) would serve from a child "
        "process that it restarts on each save, out of hotreload's reach: run `hotreload "
        "run -m flask --app app run --port {port} --debug --no-reload` instead"),
    "flask app.run(debug=True)": (
        "flask", ["serve.py", "flask", "{port}"],
        "Werkzeug's reloader (flask --debug, app.run(debug=True)) would serve from a child "
        "process that it restarts on each save, out of hotreload's reach: pass "
        "use_reloader=False to app.run() or run_simple()"),
    "uvicorn --reload": (
        "fastapi", ["-m", "uvicorn", "main:app", "--port", "{port}", "--reload"],
        "uvicorn --reload would serve from a child process that it restarts on each save, "
        "out of hotreload's reach: run `hotreload run -m uvicorn main:app --port {port}` "
        "instead"),
    "uvicorn.run(reload=True)": (
        "fastapi", ["serve.py", "uvicorn", "{port}"],
        "uvicorn --reload would serve from a child process that it restarts on each save, "
        "out of hotreload's reach: pass reload=False to uvicorn.run()"),
    "uvicorn --workers 2": (
        "fastapi", ["-m", "uvicorn", "main:app", "--port", "{port}", "--workers", "2"],
        "uvicorn with 2 workers would serve from child processes, out of hotreload's "
        "reach: run one worker"),
}

# Servers started from a script, as many projects do.
SERVE = """
import sys
framework, port = sys.argv[1], int(sys.argv[2])
if framework == "flask":
    from app import app
    app.run(host="127.0.0.1", port=port, debug=True)
else:
    import uvicorn
    uvicorn.run("main:app", host="127.0.0.1", port=port, reload=True)
"""


@pytest.mark.parametrize("case", sorted(RELOADER_CASES))
def test_a_frameworks_own_reloader_is_stopped_with_the_command_to_use(tmp_path, start, case):
    framework, args, message = RELOADER_CASES[case]
    write_project(tmp_path, framework)
    (tmp_path / "serve.py").write_text(SERVE)
    port = free_port()
    server = start([arg.format(port=port) for arg in args])
    try:
        status = server.proc.wait(WAIT)
    except subprocess.TimeoutExpired:
        pytest.fail("hotreload let the server run with its own reloader\n--- stderr\n"
                    + "\n".join(server.err), pytrace=False)
    server.close()  # and its output is all read
    last = server.err[-1] if server.err else ""
    assert status == 2, server.err
    assert last.startswith("[hotreload] " + message.format(port=port)), last
    assert last.endswith(", and hotreload applies each save in place, in one process")
    # Nothing was left serving the app unwatched.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


OTHER_CHILDREN = """
import os, socket, subprocess, sys
# A child told RUN_MAIN or WERKZEUG_RUN_MAIN without the framework's
# reloader in this process, a socket bound by plain code: nothing to stop.
for name in ("RUN_MAIN", "WERKZEUG_RUN_MAIN"):
    subprocess.run([sys.executable, "-c", "pass"], env={**os.environ, name: "true"},
                   check=True)
with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
print("done", flush=True)
"""


def test_other_child_processes_and_sockets_are_left_alone(tmp_path, start):
    (tmp_path / "other.py").write_text(OTHER_CHILDREN)
    child = start(["other.py"])
    assert child.finish() == 0, child.err
    assert child.out == ["done"] and child.err == []


# ---------------------------------------------------------------------------
# What each framework takes in place, and what it does not (README, "Web
# frameworks"): each save is followed by the line hotreload prints for it,
# then by requests.


def source(*pieces: str) -> str:
    """The pieces of a module's text, each indented as it is written here."""
    return "\n".join(textwrap.dedent(piece).strip("\n") + "\n" for piece in pieces)


def fetch(port: int, path: str):
    """(status, body) of GET path."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


class Project:
    """A project in a folder, served under `hotreload run`."""

    def __init__(self, folder, start, files, args):
        self.folder = folder
        for name, text in files.items():
            self.write(name, text)
        self.port = free_port()
        self.server = start([arg.format(port=self.port) for arg in args])
        wait_listening(self.port, self.server)

    def write(self, name, text):
        save(self.folder / name, source(text))

    def save(self, name, text, told):
        """Saves `name` and waits for the next hotreload line that starts
        with `told`; returns that line."""
        before = len(self.lines(told))
        self.write(name, text)
        self.server.wait_for(lambda out, err: len(self.lines(told)) > before, told)
        return self.lines(told)[-1]

    def lines(self, told):
        return [line for line in self.server.err if line.startswith("[hotreload] " + told)]

    def get(self, path):
        return fetch(self.port, path)


DJANGO_URLS = """
    from django.urls import path
    import views
    urlpatterns = [path("", views.index), path("greet", views.greet){extra}]
"""
CLEAR_URL_CACHES = """
    def __reload_module__(old):
        from django.urls import clear_url_caches
        clear_url_caches()
"""


def test_django_urlconf_needs_its_caches_cleared_and_settings_a_restart(tmp_path, start):
    files = dict(PROJECTS["django"]["files"])
    files["settings.py"] = source(files["settings.py"], 'GREETING = "hello"')
    files["urls.py"] = DJANGO_URLS.format(extra="")
    files["views.py"] = """
        from django.conf import settings
        from django.http import HttpResponse

        def index(request):
            return HttpResponse("index")

        def greet(request):
            return HttpResponse(settings.GREETING)

        def extra(request):
            return HttpResponse("extra")
    """
    project = Project(tmp_path, start, files, PROJECTS["django"]["command"])
    assert project.get("/greet") == (200, "hello")

    with_extra = DJANGO_URLS.format(extra=', path("extra", views.extra)')
    project.save("urls.py", with_extra, "urls: ")
    assert project.get("/extra")[0] == 404, "Django's resolver kept its patterns"
    project.save("urls.py", source(with_extra, CLEAR_URL_CACHES), "urls: ")
    assert project.get("/extra") == (200, "extra")
    assert project.get("/") == (200, "index")

    settings = files["settings.py"].replace('"hello"', '"bonjour"')
    project.save("settings.py", settings, "settings: ")
    assert project.get("/greet") == (200, "hello"), "django.conf.settings is a copy"


FLASK_VIEWS = """
    from app import app

    @app.route("/")
    def index():
        return {version!r}
"""


def test_flask_refuses_a_new_route_and_nothing_changes(tmp_path, start):
    files = {"app.py": """
        from flask import Flask
        app = Flask(__name__)
        import views
    """, "views.py": FLASK_VIEWS.format(version="v1")}
    project = Project(tmp_path, start, files, PROJECTS["flask"]["command"])
    assert project.get("/") == (200, "v1")
    project.save("views.py", FLASK_VIEWS.format(version="v2"), "views: ")
    assert project.get("/") == (200, "v2")

    new_route = source(FLASK_VIEWS.format(version="v3"), """
        @app.route("/new")
        def new():
            return "new"
    """)
    told = project.save("views.py", new_route, "cannot reload views")
    assert "AssertionError: The setup method 'route' can no longer be called" in told
    assert project.get("/new")[0] == 404
    assert project.get("/") == (200, "v2"), "a refused reload changes nothing"


FASTAPI_ROUTES = """
    from main import app

    @app.get("/")
    {kind} index({parameters}):
        return f"{version} {{name}}"
"""


def test_fastapi_serves_new_endpoints_but_keeps_the_parameters_it_read(tmp_path, start):
    def routes(version, parameters='name: str = "default"', kind="def"):
        return FASTAPI_ROUTES.format(version=version, parameters=parameters, kind=kind)

    files = {"main.py": """
        from fastapi import FastAPI
        from fastapi.responses import PlainTextResponse
        app = FastAPI(default_response_class=PlainTextResponse)
        import routes
    """, "routes.py": routes("v1")}
    project = Project(tmp_path, start, files, PROJECTS["fastapi"]["command"])
    assert project.get("/?name=ann") == (200, "v1 ann")

    # A new parameter is not filled in: FastAPI read the signature once.
    project.save("routes.py", routes("v2", parameters='name: str = "default", '
                                     'greeting: str = "hi"').replace("{name}", "{greeting}"),
                 "routes: ")
    assert project.get("/?name=ann&greeting=hey") == (200, "v2 hi")

    new_endpoint = source(routes("v3"), """
        @app.get("/new")
        def new():
            return "new"
    """)
    project.save("routes.py", new_endpoint, "routes: ")
    assert project.get("/new") == (200, "new")
    assert project.get("/?name=ann") == (200, "v3 ann")

    project.save("routes.py", routes("v4", kind="async def"), "routes: ")
    assert project.get("/")[0] == 500, "FastAPI chose how to call it at the declaration"
