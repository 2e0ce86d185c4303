"""Turns running at once are capped per socket and per user: a `start` beyond the cap is
refused with a clear message, and loses nothing (no turn recorded, no thread, the notebook
free for a later start)."""

from __future__ import annotations

import threading

import pytest
from bounds_support import make_notebook, stdout_of

CODE = "```python\nprint('working')\n```"


@pytest.fixture
def autocoder_app_config(sessions_dir):
    return {
        "sessions_dir": str(sessions_dir),
        "max_turns_per_socket": 3,
        "max_turns_per_user": 5,
    }


def turn_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("autocoder-turn-"))


async def test_a_flood_of_starts_on_one_socket_is_capped(
    open_socket, autocoder, engine_responder, jp_root_dir
):
    # Before the fix: 150 starts made 112 threads. The browser never answers `run_cell`, so
    # every turn that starts stays running (waiting for its cell) until it is stopped.
    engine_responder.function = lambda body: CODE
    socket = await open_socket()
    notebooks = [make_notebook(jp_root_dir, f"flood/n{number:03d}.ipynb") for number in range(150)]
    for notebook in notebooks:
        socket.send({"type": "start", "notebook": notebook, "request": "work"})
    await socket.wait_for(lambda: len(socket.of("started")) + len(socket.of("error")) >= 150)
    started = {message["notebook"] for message in socket.of("started")}
    refusals = socket.of("error")
    assert len(started) == 3 and len(refusals) == 147
    assert turn_threads() <= 3
    refusal = refusals[0]
    assert refusal["in_reply_to"] == "start" and refusal["notebook"] not in started
    assert "3 turns are already running on this connection" in refusal["message"]
    assert "c.AutoCoderApp.max_turns_per_socket" in refusal["message"]

    # Nothing of a refused notebook was kept: no turn in its history, no file.
    refused = refusal["notebook"]
    socket.send({"type": "history", "notebook": refused})
    (history,) = await socket.wait_for(lambda: socket.of("history", refused))
    assert history["turns"] == [] and history["running"] is False
    assert not autocoder.agents.history.file_for(refused).exists()

    # Once a turn ends, the refused notebook can start.
    for notebook in started:
        socket.send({"type": "stop", "notebook": notebook})
    await socket.wait_for(lambda: len(socket.of("done")) == 3)
    socket.run_cell = stdout_of("working\n")
    events = await socket.turn({"type": "start", "notebook": refused, "request": "work"})
    assert events[0]["turn"] == 1 and events[-1]["success"] is True


async def test_the_turns_of_one_user_are_capped_across_sockets(
    open_socket, autocoder, engine_responder, jp_root_dir
):
    engine_responder.function = lambda body: CODE
    first, second = await open_socket(), await open_socket()
    for number in range(3):
        first.send(
            {
                "type": "start",
                "notebook": make_notebook(jp_root_dir, f"u/a{number}.ipynb"),
                "request": "w",
            }
        )
    await first.wait_for(lambda: len(first.of("started")) == 3)
    for number in range(3):
        second.send(
            {
                "type": "start",
                "notebook": make_notebook(jp_root_dir, f"u/b{number}.ipynb"),
                "request": "w",
            }
        )
    await second.wait_for(lambda: len(second.of("started")) + len(second.of("error")) == 3)
    assert len(second.of("started")) == 2  # 5 for this user in all
    (refusal,) = second.of("error")
    assert "5 turns of this user are already running" in refusal["message"]
    assert "c.AutoCoderApp.max_turns_per_user" in refusal["message"]
    for socket in (first, second):
        for message in socket.of("started"):
            socket.send({"type": "stop", "notebook": message["notebook"]})
    await first.wait_for(lambda: len(first.of("done")) == 3)
    await second.wait_for(lambda: len(second.of("done")) == 2)
