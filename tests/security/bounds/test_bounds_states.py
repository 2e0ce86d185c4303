"""The server keeps state for live notebooks only: a flood of `history` messages naming
notebooks that do not exist leaves its memory as it was and writes nothing, and the
notebooks it keeps in memory are capped (least recently used out; their history stays on
disk, so nothing is lost)."""

from __future__ import annotations

import gc

import pytest
from bounds_support import make_notebook, memory_kib, stdout_of

FLOOD = 20_000
CODE = "```python\nprint('ok')\n```"


def long_path(number: int) -> str:
    """A distinct path of about 4,000 characters (in directories of 200-character names)."""
    directories = "/".join(f"{letter * 200}" for letter in "abcdefghijklmnopqrs")
    return f"{directories}/notebook-{number:06d}.ipynb"


async def flood_history(socket, start: int, count: int, batch: int = 500) -> None:
    """`count` history messages for distinct notebooks, `batch` at a time, all answered."""
    for first in range(start, start + count, batch):
        expected = socket.received + min(batch, start + count - first)
        for number in range(first, min(first + batch, start + count)):
            socket.send({"type": "history", "notebook": long_path(number)})
        await socket.wait_for(lambda: socket.received >= expected, timeout=120)  # noqa: B023


async def test_history_requests_for_missing_notebooks_leave_memory_as_it_was(
    open_socket, autocoder, sessions_dir, jp_root_dir
):
    # Before the fix: a state per path, kept forever (264 -> 445 MB for 20,000 paths).
    socket = await open_socket(keep=lambda message: message["type"] == "error")
    await flood_history(socket, 0, 1000)  # warm up: buffers, caches, first allocations
    gc.collect()
    before = memory_kib()
    await flood_history(socket, 1000, FLOOD)
    gc.collect()
    grown_mib = (memory_kib() - before) / 1024
    assert socket.kept == []  # every message was answered with its (empty) history
    assert grown_mib < 50, f"{FLOOD} history messages grew the server by {grown_mib:.0f} MB"
    assert not list(sessions_dir.rglob("*.json*"))  # no history file for any of them

    # A real notebook is still served as before.
    make_notebook(jp_root_dir, "real.ipynb")
    socket.keep = lambda message: True
    socket.send({"type": "history", "notebook": "real.ipynb"})
    (history,) = await socket.wait_for(lambda: socket.of("history", "real.ipynb"))
    assert history["turns"] == [] and history["running"] is False


async def test_no_history_file_is_written_for_a_notebook_that_does_not_exist(
    open_socket, autocoder, scripted_engine, engine_responder, sessions_dir, jp_root_dir
):
    engine_responder.function = lambda body: CODE
    socket = await open_socket(run_cell=stdout_of("ok\n"))
    events = await socket.turn({"type": "start", "notebook": "ghost.ipynb", "request": "print ok"})
    assert events[-1]["success"] is True  # the turn itself works
    assert not list(sessions_dir.glob("*.json*")), (
        "a history file for a notebook that does not exist"
    )

    make_notebook(jp_root_dir, "real/one.ipynb")
    events = await socket.turn(
        {"type": "start", "notebook": "real/one.ipynb", "request": "print ok"}
    )
    assert events[-1]["success"] is True
    assert autocoder.agents.history.file_for("real/one.ipynb").exists()


@pytest.fixture
def autocoder_app_config(sessions_dir):
    return {"sessions_dir": str(sessions_dir), "max_notebook_sessions": 2}


async def test_the_notebooks_kept_in_memory_are_capped_and_nothing_is_lost(
    open_socket, autocoder, scripted_engine, engine_responder, jp_root_dir
):
    engine_responder.function = lambda body: CODE
    socket = await open_socket(run_cell=stdout_of("ok\n"))
    for name in ("a", "b", "c", "d"):
        make_notebook(jp_root_dir, f"{name}.ipynb")
        events = await socket.turn(
            {"type": "start", "notebook": f"{name}.ipynb", "request": f"task {name}"}
        )
        assert events[-1]["success"] is True
        assert len(autocoder.agents._notebooks) <= 2  # c.AutoCoderApp.max_notebook_sessions

    # a.ipynb left memory long ago: its history and its conversation come back from disk.
    socket.send({"type": "history", "notebook": "a.ipynb"})
    (history,) = await socket.wait_for(lambda: socket.of("history", "a.ipynb"))
    assert [turn["request"] for turn in history["turns"]] == ["task a"]
    events = await socket.turn({"type": "continue", "notebook": "a.ipynb", "remark": "and again"})
    assert events[0]["turn"] == 2 and events[-1]["success"] is True
    asked = scripted_engine.history[-1].messages
    assert any("task a" in message["content"] for message in asked)
    assert len(autocoder.agents._notebooks) <= 2
