"""The server fixtures, shared by the directories that test the server extension (tests/server,
tests/security/proxy, tests/security/bounds; each conftest imports them with `import *`):
a real jupyter_server with the extension on, the scripted engine, a scripted browser on
the agent WebSocket (running cells in the real kernel of tests/conftest.py), and `jupyter
server` processes. Every message the scripted browser receives is checked against the
protocol's JSON Schema (a test fails at its end when one did not match).

pytest-jupyter's fixtures are imported here and reach only the conftests that import this
module, rather than being declared with `pytest_plugins`: pytest refuses `pytest_plugins`
outside the top-level conftest, and it would put pytest-jupyter's autouse fixtures (a fresh
event loop and a ServerApp cleanup around every test) and its test-call hook on the whole
suite.

In these tests the server and the test share one event loop: nothing here may block it
(the kernel runs its cells in a thread).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema.exceptions import best_match
from pytest_jupyter.jupyter_server import *  # noqa: F403 - its fixtures
from traitlets.config import Config

from jupyter_autocoder.config import ENVIRONMENT_OVERRIDES, POLICY_VARIABLE
from jupyter_autocoder.server.protocol_schema import build_schema
from jupyter_autocoder.testing.scripted_engine import ScriptedEngine, ScriptedReply

REPO_ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_SCHEMA = build_schema()
_VALIDATORS: dict[str, jsonschema.Draft202012Validator] = {}


def _validator(definition: str) -> jsonschema.Draft202012Validator:
    validator = _VALIDATORS.get(definition)
    if validator is None:
        schema = {**PROTOCOL_SCHEMA, "anyOf": [{"$ref": f"#/$defs/{definition}"}]}
        validator = _VALIDATORS[definition] = jsonschema.Draft202012Validator(schema)
    return validator


def _messages_of_type(definition: str, kind: Any) -> list[str]:
    """The object definitions under a union whose `type` is `kind`."""
    schema = PROTOCOL_SCHEMA["$defs"][definition]
    if "oneOf" not in schema:
        const = schema.get("properties", {}).get("type", {}).get("const")
        return [definition] if const == kind else []
    members = [option["$ref"].rsplit("/", 1)[-1] for option in schema["oneOf"]]
    return [name for member in members for name in _messages_of_type(member, kind)]


def message_problem(definition: str, message: Any) -> str | None:
    """What is wrong with `message` by the protocol's schema (the most telling error), or
    None. `definition`: "ServerMessage", "ClientMessage" or another of its `$defs`."""
    errors = list(_validator(definition).iter_errors(message))
    if not errors:
        return None
    # In a union, the messages of the same `type` say more than "valid under none of them".
    kind = message.get("type") if isinstance(message, dict) else None
    same_type = _messages_of_type(definition, kind)
    closest = [list(_validator(name).iter_errors(message)) for name in same_type]
    error = best_match(min(closest, key=len) if closest else errors)
    where = "/".join(str(part) for part in error.absolute_path) or "the message"
    return f"{where}: {error.message}"


@pytest.fixture(name="message_problem")
def message_problem_fixture():
    return message_problem


@pytest.fixture(autouse=True)
def no_autocoder_environment():
    """The developer's own AUTOCODER_* variables must not change what these tests see, and
    what a server under test puts into the environment (for its kernels) must not outlive it."""
    names = (*ENVIRONMENT_OVERRIDES.values(), POLICY_VARIABLE)
    saved = {name: os.environ.pop(name, None) for name in names}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def autocoder_config() -> dict:
    """`c.AutoCoder` for the server under test; tests may change it before the server starts."""
    return {"load_on_start": False}


@pytest.fixture
def autocoder_app_config() -> dict:
    """`c.AutoCoderApp` for the server under test."""
    return {}


@pytest.fixture
def jp_server_config(autocoder_config, autocoder_app_config):
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"jupyter_autocoder": True}},
            "AutoCoder": autocoder_config,
            "AutoCoderApp": autocoder_app_config,
        }
    )


class Responder:
    """The scripted engine's answer when its queue of replies is empty: a test sets `function`;
    without one, `empty` (by default an engine error: a test that needs no model must not
    quietly get one)."""

    def __init__(self, empty: ScriptedReply | None = None) -> None:
        self.function: Callable[[dict], Any] | None = None
        self.empty = empty or ScriptedReply(
            status=500, error_message="the scripted engine has no reply left"
        )

    def __call__(self, body: dict) -> Any:
        if self.function is None:
            return self.empty
        return self.function(body)


@pytest.fixture
def engine_responder() -> Responder:
    return Responder()


@pytest.fixture
def scripted_engine(engine_responder):
    engine = ScriptedEngine(model_name="scripted", responder=engine_responder).start()
    yield engine
    # Its shutdown waits out the server's half-second poll: let that happen in the background.
    threading.Thread(target=engine.stop, daemon=True).start()


@pytest.fixture
def scripted_config(scripted_engine) -> dict:
    """`c.AutoCoder` pointing the server at the scripted engine (as a remote engine)."""
    return {
        "load_on_start": False,
        "engine_url": scripted_engine.base_url,
        "api_key": scripted_engine.api_key,
        "model": "scripted",
        "max_rounds": 3,
        "exec_timeout": 20.0,
    }


def extension_of(serverapp):
    (app,) = serverapp.extension_manager.extension_apps["jupyter_autocoder"]
    return app


@pytest.fixture
def autocoder(jp_serverapp, jp_asyncio_loop, http_server_client):
    """The started extension (pytest-jupyter does not run the extensions' start hooks),
    on a server that listens (http_server_client), so its proxy can be reached."""
    app = extension_of(jp_serverapp)
    jp_asyncio_loop.run_until_complete(app._start_jupyter_server_extension(jp_serverapp))
    return app


# --- the browser side of the agent WebSocket -------------------------------------------


def is_guard_probe(message: dict) -> bool:
    """A `run_cell` of the guard of the user's variables (executors/guard.py)."""
    return (
        message.get("purpose") == "probe" and "jupyter_autocoder.executors.guard" in message["code"]
    )


class ScriptedBrowser:
    """Plays the panel on one agent WebSocket: starts turns, runs the cells the server asks
    for (through `run_cell`), answers approvals, and files every message by notebook."""

    def __init__(
        self,
        socket: Any,
        run_cell: Callable[[dict], Awaitable[dict]] | None = None,
        approve: Callable[[dict], bool] = lambda request: True,
        on_interrupt: Callable[[dict], None] | None = None,
    ):
        self.socket = socket
        self.run_cell = run_cell
        self.approve = approve
        self.on_interrupt = on_interrupt
        self.messages: list[dict] = []  # everything, in order
        self.by_notebook: dict[str, list[dict]] = defaultdict(list)
        self.errors: list[dict] = []  # refused messages (errors without a session)
        self.run_requests: list[dict] = []
        self.guard_requests: list[dict] = []  # the silent probes of the variable guard
        self.schema_violations: list[str] = []  # messages that do not match the protocol's schema
        self._arrived = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            raw = await self.socket.read_message()
            if raw is None:
                return
            message = json.loads(raw)
            self.messages.append(message)
            problem = message_problem("ServerMessage", message)
            if problem is not None:
                self.schema_violations.append(f"{problem} in {raw[:300]}")
            if message["type"] == "error" and "session" not in message:
                self.errors.append(message)
            elif "notebook" in message:
                self.by_notebook[message["notebook"]].append(message)
            if message["type"] == "run_cell" and is_guard_probe(message):
                # The guard of the user's variables: the panel runs these silently.
                self.guard_requests.append(message)
                self._spawn(self._answer_guard(message))
            elif message["type"] == "run_cell":
                self.run_requests.append(message)
                if self.run_cell is not None:
                    self._spawn(self._answer_run(message))
            elif message["type"] == "interrupt" and self.on_interrupt is not None:
                self.on_interrupt(message)
            elif (
                message["type"] == "approval"
                and message["status"] == "pending"
                and self.approve is not None
            ):
                decision = self.approve(message["request"])
                if decision is not None:
                    self.send(
                        {"type": "approval", "id": message["request"]["id"], "approved": decision}
                    )
            self._arrived.set()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_guard(self, request: dict) -> None:
        """Run a guard probe in the kernel, if this browser has a real one; else answer as a
        kernel without the package would (the guard then stays off for the turn)."""
        if getattr(self.run_cell, "real_kernel", False):
            await self._answer_run(request)
            return
        error = {
            "output_type": "error",
            "ename": "ModuleNotFoundError",
            "evalue": "no kernel",
            "traceback": [],
        }
        self.send(
            {"type": "run_result", "id": request["id"], "outputs": [error], "status": "error"}
        )

    async def _answer_run(self, request: dict) -> None:
        answer = await self.run_cell(request)
        self.send({"type": "run_result", "id": request["id"], **answer})

    def send(self, message: dict | str | bytes) -> None:
        """A dict as JSON text; str as a text frame; bytes as a binary frame."""
        if isinstance(message, bytes):
            self.socket.write_message(message, binary=True)
        else:
            self.socket.write_message(message if isinstance(message, str) else json.dumps(message))

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Wait until `predicate()` is truthy (checked as messages arrive); returns its value."""

        async def until() -> Any:
            while True:
                value = predicate()
                if value:
                    return value
                if self._reader.done():
                    raise AssertionError(f"the socket closed; messages: {self.messages[-5:]}")
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(until(), timeout)

    def turn_events(self, notebook: str, turn: int) -> list[dict]:
        return [
            m
            for m in self.by_notebook[notebook]
            if m.get("turn") == turn and m["type"] not in ("run_cell", "interrupt")
        ]

    async def turn(self, message: dict, timeout: float = 60.0) -> list[dict]:
        """Send `start` / `continue` and wait for the turn's `done`; returns its events."""
        notebook = message["notebook"]
        started_before = sum(1 for m in self.by_notebook[notebook] if m["type"] == "started")
        errors_before = len(self.errors)
        self.send(message)
        started = await self.wait_for(
            lambda: (
                [m for m in self.by_notebook[notebook] if m["type"] == "started"][started_before:]
                or [
                    e
                    for e in self.errors[errors_before:]
                    if e.get("in_reply_to") == message["type"]
                ]
            ),
            timeout,
        )
        if started[0]["type"] == "error":
            raise AssertionError(f"refused: {started[0]['message']}")
        turn = started[0]["turn"]
        await self.wait_for(
            lambda: any(m["type"] == "done" for m in self.turn_events(notebook, turn)), timeout
        )
        return self.turn_events(notebook, turn)

    async def next_error(self, count_before: int, timeout: float = 10.0) -> dict:
        await self.wait_for(lambda: len(self.errors) > count_before, timeout)
        return self.errors[count_before]

    def check_schema(self) -> None:
        """Fails when the server sent a message that the protocol's schema does not allow."""
        problems = "\n".join(self.schema_violations)
        assert not problems, f"the server sent what the schema does not allow:\n{problems}"

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.socket.close()
        try:
            await asyncio.wait_for(self._reader, 5)
        except (asyncio.TimeoutError, Exception):
            pass


def kernel_runner(kernel) -> tuple[Callable[[dict], Awaitable[dict]], Callable[[dict], None]]:
    """`run_cell` and `on_interrupt` for a ScriptedBrowser that runs cells in a real kernel
    (in a thread, off the shared event loop), as the panel does in the notebook's kernel."""
    lock = threading.Lock()

    async def run_cell(request: dict) -> dict:
        if request["purpose"] == "markdown":
            return {"outputs": [], "status": "ok"}  # the panel puts the cell in; nothing runs

        def run() -> dict:
            with lock:
                result = kernel.run(request["code"], timeout=None)
            payload = result.to_dict()
            return {
                "outputs": payload["outputs"],
                "status": "interrupted"
                if result.status in ("interrupted", "timeout")
                else result.status,
                "execution_count": payload["execution_count"],
            }

        return await asyncio.get_running_loop().run_in_executor(None, run)

    def on_interrupt(message: dict) -> None:
        threading.Thread(target=kernel.interrupt, daemon=True).start()

    run_cell.real_kernel = True  # it can run the guard's probes too
    return run_cell, on_interrupt


@pytest.fixture
def kernel_cells(kernel):
    """(run_cell, on_interrupt) for a ScriptedBrowser that runs cells in the real kernel."""
    return kernel_runner(kernel)


@pytest.fixture
def open_browser(jp_ws_fetch, autocoder):
    """Open the agent WebSocket as a ScriptedBrowser; closed after the test."""
    browsers: list[ScriptedBrowser] = []

    async def open_(**kwargs: Any) -> ScriptedBrowser:
        socket = await jp_ws_fetch("autocoder", "api", "agent")
        browser = ScriptedBrowser(socket, **kwargs)
        hello = await browser.wait_for(
            lambda: [m for m in browser.messages if m["type"] == "hello"]
        )
        assert hello[0]["protocol"] == 1
        browsers.append(browser)
        return browser

    yield open_
    for browser in browsers:
        browser.socket.close()
    for browser in browsers:
        browser.check_schema()


# --- a real `jupyter server` process (restarts, the unauthenticated-access check) -------


class ServerProcess:
    """`python -m jupyter_server` with this extension, in directories of its own."""

    def __init__(self, base: Path, config: dict, env: dict[str, str] | None = None):
        import secrets
        import socket

        self.base = base
        self.root = base / "root"
        self.token = secrets.token_hex(16)
        self.config = config
        self.env = env or {}
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = None
        self.log_path = base / "server.log"
        self.browsers: list[ScriptedBrowser] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AUTOCODER_", "JUPYTER"))
        }
        for name in ("config", "data", "runtime"):
            (self.base / name).mkdir(parents=True, exist_ok=True)
        environment.update(
            JUPYTER_CONFIG_DIR=str(self.base / "config"),
            JUPYTER_DATA_DIR=str(self.base / "data"),
            JUPYTER_RUNTIME_DIR=str(self.base / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
            ),
        )
        environment.update(self.env)
        return environment

    async def start(self, timeout: float = 60.0) -> ServerProcess:
        import subprocess
        import sys
        import time

        from tornado.httpclient import AsyncHTTPClient

        self.root.mkdir(parents=True, exist_ok=True)
        (self.base / "config").mkdir(parents=True, exist_ok=True)
        config = json.loads(json.dumps(self.config))
        # Only this extension: the others installed here (jupyterlab, lsp...) cost seconds to start.
        others = {
            name: False
            for name in (
                "jupyterlab",
                "jupyter_lsp",
                "jupyter_server_terminals",
                "notebook_shim",
                "notebook",
            )
        }
        config.setdefault("ServerApp", {})["jpserver_extensions"] = {
            **others,
            "jupyter_autocoder": True,
        }
        (self.base / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.root_dir={self.root}",
                f"--IdentityProvider.token={self.token}",
            ],
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        client = AsyncHTTPClient()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log()}")
            try:
                response = await client.fetch(
                    f"{self.url}/autocoder/api/status",
                    headers=self.auth,
                    raise_error=False,
                    request_timeout=5,
                )
                if response.code == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not answer in {timeout} s: {self.log()}")
            await asyncio.sleep(0.2)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    async def stop(self) -> None:
        import signal

        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.process.wait, 30)
        except Exception:
            self.process.kill()
            await loop.run_in_executor(None, self.process.wait)
        self._log.close()

    async def browser(self, **kwargs: Any) -> ScriptedBrowser:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        socket = await websocket_connect(
            HTTPRequest(f"{self.ws_url}/autocoder/api/agent", headers=self.auth)
        )
        browser = ScriptedBrowser(socket, **kwargs)
        self.browsers.append(browser)
        await browser.wait_for(lambda: [m for m in browser.messages if m["type"] == "hello"])
        return browser


@pytest.fixture
def server_process(tmp_path):
    """Start `jupyter server` processes (`await server_process(config)`); stopped after the test."""
    started: list[ServerProcess] = []

    async def start(
        config: dict, base: Path | None = None, env: dict[str, str] | None = None
    ) -> ServerProcess:
        server = ServerProcess(base or tmp_path / f"server{len(started)}", config, env)
        started.append(server)
        return await server.start()

    yield start
    for server in started:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    for server in started:
        for browser in server.browsers:
            browser.check_schema()
