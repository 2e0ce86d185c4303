"""Benchmark: does a long agent history slow a turn down? Prints JSON.

    python bench/bench_history.py [--earlier 200] [--stdout-bytes 200000] [--notebooks 4]
                                  [--turns 3]

A real `jupyter server` process with the extension reaches the scripted engine of this
process as a remote engine (the model's time is not what is measured); this process plays
the panel on the agent WebSocket and answers each cell with `--stdout-bytes` of stdout.

- Notebooks with 1 earlier turn, and notebooks with `--earlier` earlier turns: the long
  histories are written before the server starts, as copies of a real turn of the same
  server (one turn, as the server stores it), so both kinds hold the same turns.
- Each notebook's history is read first (its load is not timed); then `--turns` turns are
  run back to back on it (a turn waits for the previous one's last history write) and
  timed from the first `start` to the last `done`. Notebooks of both kinds alternate, so
  that a change of the machine's load hits both.
- turn_seconds: the median over notebooks of the time per turn; ratio: long / short
  (the target is at most 1.2). history_bytes: a notebook's history file before its turns.

Run it under `flock /tmp/cpu-heavy.lock` on a shared machine; the load average is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_autocoder.server.history import HistoryStore, NotebookHistory
from jupyter_autocoder.testing.scripted_engine import ScriptedEngine

OTHER_EXTENSIONS = (
    "jupyterlab",
    "jupyter_lsp",
    "jupyter_server_terminals",
    "notebook_shim",
    "notebook",
)
EMPTY_NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


class Server:
    """A `jupyter server` process with the extension, in directories of its own."""

    def __init__(self, base: Path, engine: ScriptedEngine, history_turns: int):
        self.base = base
        self.root = base / "root"
        self.sessions = base / "sessions"
        self.token = secrets.token_hex(16)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        extensions = {name: False for name in OTHER_EXTENSIONS}
        extensions["jupyter_autocoder"] = True
        config = {
            "ServerApp": {"jpserver_extensions": extensions},
            "AutoCoder": {
                "engine_url": engine.base_url,
                "api_key": engine.api_key,
                "model": "scripted",
                "load_on_start": False,
                "max_rounds": 1,
            },
            "AutoCoderApp": {"sessions_dir": str(self.sessions), "history_turns": history_turns},
        }
        for name in ("config", "data", "runtime", "root"):
            (base / name).mkdir(parents=True, exist_ok=True)
        (base / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("AUTOCODER_", "JUPYTER"))
        }
        environment.update(
            JUPYTER_CONFIG_DIR=str(self.base / "config"),
            JUPYTER_DATA_DIR=str(self.base / "data"),
            JUPYTER_RUNTIME_DIR=str(self.base / "runtime"),
        )
        log = open(self.base / "server.log", "ab")
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
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, timeout: float = 120.0) -> None:
        client = AsyncHTTPClient()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                response = await client.fetch(
                    f"http://127.0.0.1:{self.port}/autocoder/api/status",
                    headers={"Authorization": f"token {self.token}"},
                    raise_error=False,
                )
                if response.code == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError((self.base / "server.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # the extension folds the histories' steps on the way out
            self.process.wait(60)


class Panel:
    """The agent WebSocket, played as the panel: every cell answered with the same stdout."""

    def __init__(self, connection, stdout: str):
        self.connection = connection
        self.stdout = stdout
        self.messages: asyncio.Queue = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, server: Server, stdout: str) -> Panel:
        request = HTTPRequest(
            f"ws://127.0.0.1:{server.port}/autocoder/api/agent",
            headers={"Authorization": f"token {server.token}"},
        )
        connection = await websocket_connect(request, max_message_size=64 * 1024 * 1024)
        return cls(connection, stdout)

    async def _read(self) -> None:
        while True:
            raw = await self.connection.read_message()
            if raw is None:
                return
            message = json.loads(raw)
            if message["type"] == "run_cell":
                output = {"output_type": "stream", "name": "stdout", "text": self.stdout}
                self.send(
                    {"type": "run_result", "id": message["id"], "outputs": [output], "status": "ok"}
                )
            elif message["type"] in ("done", "history", "error"):
                await self.messages.put(message)

    def send(self, message: dict) -> None:
        self.connection.write_message(json.dumps(message))

    async def expect(self, kind: str, notebook: str) -> dict:
        while True:
            message = await asyncio.wait_for(self.messages.get(), 600)
            if message["type"] == "error" and message.get("notebook", notebook) == notebook:
                raise RuntimeError(f"refused: {message['message']}")
            if message["type"] == kind and message.get("notebook") == notebook:
                return message

    async def turns(self, notebook: str, count: int) -> float:
        """Seconds from the first `start` to the last `done` of `count` turns in a row."""
        started = time.perf_counter()
        for _ in range(count):
            self.send({"type": "start", "notebook": notebook, "request": "print the data"})
            done = await self.expect("done", notebook)
            if not done["success"]:
                raise RuntimeError(f"a turn failed: {done}")
        return time.perf_counter() - started


def copies_of_turn(turn: dict, count: int) -> list[dict]:
    turns = []
    for number in range(1, count + 1):
        copy = json.loads(json.dumps(turn))
        copy["turn"] = number
        turns.append(copy)
    return turns


async def bench(arguments: argparse.Namespace) -> dict:
    code = f"```python\nprint('x' * {arguments.stdout_bytes - 1})\n```"
    stdout = "x" * (arguments.stdout_bytes - 1) + "\n"
    engine = ScriptedEngine(model_name="scripted", responder=lambda body: code).start()
    base = Path(tempfile.mkdtemp(prefix="bench-history-"))
    server = Server(base, engine, history_turns=arguments.earlier + arguments.turns + 10)
    short = [f"short-{n}.ipynb" for n in range(arguments.notebooks)]
    long = [f"long-{n}.ipynb" for n in range(arguments.notebooks)]
    for name in ["template.ipynb", *short, *long]:
        (server.root / name).write_text(EMPTY_NOTEBOOK)
    try:
        # One real turn per short notebook (their one earlier turn), and a template turn.
        server.start()
        await server.wait_ready()
        panel = await Panel.open(server, stdout)
        for notebook in ["template.ipynb", *short]:
            await panel.turns(notebook, 1)
        panel.connection.close()
        server.stop()

        # The long histories: copies of the template's turn, as this server stored it.
        store = HistoryStore(server.sessions, str(server.root), max_turns=arguments.earlier + 10)
        (template,) = store.load("template.ipynb").turns
        for notebook in long:
            store.save(NotebookHistory(notebook, copies_of_turn(template, arguments.earlier)))
        sizes = {
            "1": store.file_for(short[0]).stat().st_size,
            str(arguments.earlier): store.file_for(long[0]).stat().st_size,
        }

        server.start()
        await server.wait_ready()
        panel = await Panel.open(server, stdout)
        for notebook in [*short, *long]:  # read every history once: its load is not timed
            panel.send({"type": "history", "notebook": notebook})
            await panel.expect("history", notebook)
        seconds: dict[str, list[float]] = {"1": [], str(arguments.earlier): []}
        for short_notebook, long_notebook in zip(short, long):
            seconds["1"].append(
                await panel.turns(short_notebook, arguments.turns) / arguments.turns
            )
            seconds[str(arguments.earlier)].append(
                await panel.turns(long_notebook, arguments.turns) / arguments.turns
            )
        panel.connection.close()
    finally:
        server.stop()
        engine.stop()
    medians = {key: statistics.median(values) for key, values in seconds.items()}
    return {
        "earlier_turns": [1, arguments.earlier],
        "stdout_bytes": arguments.stdout_bytes,
        "notebooks": arguments.notebooks,
        "turns_per_notebook": arguments.turns,
        "turn_seconds": {key: round(value, 4) for key, value in medians.items()},
        "turn_seconds_all": {key: [round(v, 4) for v in values] for key, values in seconds.items()},
        "ratio": round(medians[str(arguments.earlier)] / medians["1"], 3),
        "history_bytes": sizes,
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--earlier", type=int, default=200, help="earlier turns in the long histories"
    )
    parser.add_argument(
        "--stdout-bytes", type=int, default=200_000, help="stdout of each turn's cell"
    )
    parser.add_argument("--notebooks", type=int, default=4, help="notebooks of each kind")
    parser.add_argument(
        "--turns", type=int, default=3, help="turns timed per notebook, back to back"
    )
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(bench(arguments)), indent=2))


if __name__ == "__main__":
    main()
