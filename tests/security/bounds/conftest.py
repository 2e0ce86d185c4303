"""Fixtures for the server's bounds: the server fixtures of tests/jupyter_server_fixtures.py
(a real jupyter_server with the extension, pytest-jupyter, in this process, so that its
memory is this process's; the scripted engine as a remote engine), a lean agent-socket
client that keeps only what a test asks it to keep, and the folder of the histories.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_server_fixtures import *  # noqa: F403 - the fixtures
from jupyter_server_fixtures import Responder

from jupyter_autocoder.testing.scripted_engine import ScriptedReply


@pytest.fixture
def engine_responder() -> Responder:
    # Floods of turns need an answer each: a reply without code, not an engine error.
    return Responder(empty=ScriptedReply(content="Nothing to run."))


@pytest.fixture
def sessions_dir(tmp_path) -> Path:
    return tmp_path / "sessions"


@pytest.fixture
def autocoder_config(scripted_config) -> dict:
    """`c.AutoCoder`: the scripted engine as a remote engine, two rounds a turn."""
    return {**scripted_config, "max_rounds": 2, "exec_timeout": 60.0}


@pytest.fixture
def autocoder_app_config(sessions_dir) -> dict:
    """`c.AutoCoderApp` of the server under test; tests add their limits."""
    return {"sessions_dir": str(sessions_dir)}


class AgentSocket:
    """The agent WebSocket with nothing kept but what `keep(message)` accepts (all by
    default); `run_cell` answers the server's cell runs when given."""

    def __init__(self, socket: Any, keep: Callable[[dict], bool] | None = None, run_cell=None):
        self.socket = socket
        self.keep = keep or (lambda message: True)
        self.run_cell = run_cell
        self.kept: list[dict] = []
        self.received = 0
        self._arrived = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())
        self._tasks: set[asyncio.Task] = set()

    async def _read(self) -> None:
        while True:
            raw = await self.socket.read_message()
            if raw is None:
                self._arrived.set()
                return
            self.received += 1
            message = json.loads(raw)
            if message.get("type") == "run_cell" and self.run_cell is not None:
                task = asyncio.ensure_future(self._answer(message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self.keep(message):
                self.kept.append(message)
            self._arrived.set()

    async def _answer(self, request: dict) -> None:
        answer = await self.run_cell(request)
        self.send({"type": "run_result", "id": request["id"], **answer})

    def send(self, message: dict) -> None:
        self.socket.write_message(json.dumps(message))

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
        async def until() -> Any:
            while True:
                value = predicate()
                if value:
                    return value
                if self._reader.done():
                    raise AssertionError(f"the socket closed; last messages: {self.kept[-3:]}")
                self._arrived.clear()
                try:  # a predicate may also turn true in a task of its own (a cell's answer)
                    await asyncio.wait_for(self._arrived.wait(), 0.1)
                except asyncio.TimeoutError:
                    pass

        return await asyncio.wait_for(until(), timeout)

    def of(self, kind: str, notebook: str | None = None) -> list[dict]:
        return [
            m
            for m in self.kept
            if m.get("type") == kind and (notebook is None or m.get("notebook") == notebook)
        ]

    async def turn(self, message: dict, timeout: float = 60.0) -> list[dict]:
        """Send `start` / `continue`; wait for its `done`; the turn's messages."""
        notebook = message["notebook"]
        before = len(self.of("started", notebook))
        refusals = len(self.of("error"))
        self.send(message)
        await self.wait_for(
            lambda: len(self.of("started", notebook)) > before or len(self.of("error")) > refusals,
            timeout,
        )
        if len(self.of("started", notebook)) == before:
            raise AssertionError(f"refused: {self.of('error')[-1]}")
        turn = self.of("started", notebook)[-1]["turn"]

        def events() -> list[dict]:
            return [m for m in self.kept if m.get("notebook") == notebook and m.get("turn") == turn]

        await self.wait_for(lambda: any(m["type"] == "done" for m in events()), timeout)
        return events()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.socket.close()
        try:
            await asyncio.wait_for(self._reader, 5)
        except Exception:
            pass


@pytest.fixture
def open_socket(jp_ws_fetch, autocoder):
    """`await open_socket(keep=..., run_cell=...)`: an AgentSocket past its `hello`."""
    sockets: list[AgentSocket] = []

    async def open_(**kwargs: Any) -> AgentSocket:
        socket = AgentSocket(await jp_ws_fetch("autocoder", "api", "agent"), **kwargs)
        await socket.wait_for(lambda: socket.received)
        sockets.append(socket)
        return socket

    yield open_
    for socket in sockets:
        socket.socket.close()
