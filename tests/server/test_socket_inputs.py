"""Bad input on the agent WebSocket: every refused message gets a clear `error`, the socket
stays usable, and nothing on disk is touched."""

from __future__ import annotations

import json
import os

import pytest

from jupyter_autocoder.testing.scripted_engine import ScriptedReply

CODE_REPLY = "```python\nprint('fine')\n```"


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


@pytest.fixture
def autocoder_app_config():
    return {"max_message_bytes": 4096}


async def answer_ok(request):
    return {
        "outputs": [{"output_type": "stream", "name": "stdout", "text": ["fi", "ne\n"]}],
        "status": "ok",
    }


def _history_files(autocoder) -> dict[str, bytes]:
    directory = autocoder.agents.history.directory
    if not directory.exists():
        return {}
    return {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()}


BAD_MESSAGES = [
    ("{not json", None, "not JSON"),
    (b"\xff\xfe binary garbage", None, "not JSON"),
    ("[1, 2, 3]", None, "JSON object"),
    (json.dumps({"no": "type"}), None, "unknown message type None"),
    (
        json.dumps({"type": "launch_missiles"}),
        "launch_missiles",
        "unknown message type 'launch_missiles'",
    ),
    (
        json.dumps({"type": "start", "notebook": "a.ipynb"}),
        "start",
        "'request' must be a non-empty string",
    ),
    (
        json.dumps({"type": "start", "notebook": "a.ipynb", "request": "x", "mode": "yolo"}),
        "start",
        "'mode'",
    ),
    (
        json.dumps({"type": "start", "notebook": "a.ipynb", "request": "x", "context": "cells"}),
        "start",
        "'context'",
    ),
    (
        json.dumps({"type": "start", "notebook": "a.ipynb", "request": "x", "max_rounds": 0}),
        "start",
        "'max_rounds'",
    ),
    (
        json.dumps({"type": "start", "notebook": "a.ipynb", "request": "x", "max_rounds": "3"}),
        "start",
        "'max_rounds'",
    ),
    (json.dumps({"type": "start", "notebook": "", "request": "x"}), "start", "'notebook'"),
    (
        json.dumps({"type": "start", "notebook": "../outside.ipynb", "request": "x"}),
        "start",
        "outside the server root",
    ),
    (
        json.dumps({"type": "start", "notebook": "/etc/passwd", "request": "x"}),
        "start",
        "relative to the server root",
    ),
    (
        json.dumps({"type": "history", "notebook": "a/../../b.ipynb"}),
        "history",
        "outside the server root",
    ),
    (
        json.dumps({"type": "run_result", "id": "nope", "outputs": []}),
        "run_result",
        "no cell run with id 'nope'",
    ),
    (
        json.dumps({"type": "run_result", "id": "x", "outputs": "text"}),
        "run_result",
        "'outputs' must be a list",
    ),
    (
        json.dumps({"type": "approval", "id": "nope", "approved": True}),
        "approval",
        "no approval with id 'nope'",
    ),
    (
        json.dumps({"type": "approval", "id": "nope", "approved": "yes"}),
        "approval",
        "'approved' must be true or false",
    ),
    (
        json.dumps({"type": "continue", "notebook": "new.ipynb", "remark": "more"}),
        "continue",
        "no conversation",
    ),
    (
        json.dumps({"type": "start", "notebook": "a.ipynb", "request": "x" * 5000}),
        None,
        "the limit is 4096",
    ),
]


async def test_bad_messages_are_refused_clearly_and_the_socket_goes_on(
    open_browser, scripted_engine, autocoder
):
    # A history file is kept for notebooks that exist.
    open(os.path.join(autocoder.serverapp.root_dir, "kept.ipynb"), "w").write("{}")
    scripted_engine.enqueue(CODE_REPLY)
    browser = await open_browser(run_cell=answer_ok)
    await browser.turn({"type": "start", "notebook": "kept.ipynb", "request": "print fine"})
    files_before = _history_files(autocoder)
    assert len(files_before) == 1

    for raw, in_reply_to, words in BAD_MESSAGES:
        count = len(browser.errors)
        browser.send(raw)
        error = await browser.next_error(count)
        assert error["type"] == "error" and error["in_reply_to"] == in_reply_to, raw
        assert words in error["message"], (raw, error["message"])

    # nothing was written, moved or started by any of them
    assert _history_files(autocoder) == files_before
    assert len(scripted_engine.history) == 1
    assert not os.path.exists(os.path.join(autocoder.serverapp.root_dir, "..", "outside.ipynb"))
    # and the socket still works
    scripted_engine.enqueue(CODE_REPLY)
    events = await browser.turn({"type": "continue", "notebook": "kept.ipynb", "remark": "again"})
    assert events[-1]["success"] is True


async def test_a_symlink_out_of_the_root_is_refused(open_browser, autocoder, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.ipynb").write_text("{}")
    os.symlink(outside, os.path.join(autocoder.serverapp.root_dir, "link"))
    browser = await open_browser()
    browser.send({"type": "history", "notebook": "link/secret.ipynb"})
    error = await browser.next_error(0)
    assert (
        "outside the server root" in error["message"] and error["notebook"] == "link/secret.ipynb"
    )


async def test_a_second_start_while_a_turn_runs_is_refused_and_the_turn_goes_on(
    open_browser, scripted_engine, autocoder
):
    scripted_engine.enqueue(
        ScriptedReply("slow " * 100 + "\n" + CODE_REPLY, chunk_size=4, delay=0.003)
    )
    browser = await open_browser(run_cell=answer_ok)
    browser.send({"type": "start", "notebook": "busy.ipynb", "request": "one"})
    await browser.wait_for(
        lambda: [m for m in browser.by_notebook["busy.ipynb"] if m["type"] == "token"]
    )
    for message in (
        {"type": "start", "notebook": "busy.ipynb", "request": "two"},
        {"type": "reset", "notebook": "busy.ipynb"},
    ):
        count = len(browser.errors)
        browser.send(message)
        error = await browser.next_error(count)
        assert "stop it first" in error["message"] and error["notebook"] == "busy.ipynb"
    done = await browser.wait_for(
        lambda: [m for m in browser.by_notebook["busy.ipynb"] if m["type"] == "done"]
    )
    assert done[0]["success"] is True and done[0]["turn"] == 1
    assert len(scripted_engine.history) == 1


async def test_malformed_outputs_are_refused_and_a_corrected_answer_is_taken(
    open_browser, scripted_engine, autocoder
):
    scripted_engine.enqueue(CODE_REPLY)
    browser = await open_browser()  # answers run_cell by hand below
    browser.send({"type": "start", "notebook": "o.ipynb", "request": "print fine"})
    (request,) = await browser.wait_for(lambda: browser.run_requests)
    browser.send(
        {"type": "run_result", "id": request["id"], "outputs": [{"output_type": "hologram"}]}
    )
    error = await browser.next_error(0)
    assert error["in_reply_to"] == "run_result" and "hologram" in error["message"]
    browser.send(
        {
            "type": "run_result",
            "id": request["id"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "fine\n"}],
        }
    )
    done = await browser.wait_for(
        lambda: [m for m in browser.by_notebook["o.ipynb"] if m["type"] == "done"]
    )
    assert done[0]["success"] is True
    # an answer to a run that is over is refused too
    browser.send({"type": "run_result", "id": request["id"], "outputs": []})
    assert "no cell run" in (await browser.next_error(1))["message"]
