"""Session history per notebook on disk: its file format and atomic writes, the `history`
and `reset` messages, and a real server restart."""

from __future__ import annotations

import json
import os

import pytest

from jupyter_autocoder.agent.trace import read_trace
from jupyter_autocoder.server.history import HistoryStore, NotebookHistory, TurnRecord

FIRST = "First answer.\n```python\ntotal = 2 + 2\nprint(total)\n```"
SECOND = "Doubling it.\n```python\nprint(total * 2)\n```"


def _stdout(text):
    async def run_cell(request):
        return {
            "outputs": [{"output_type": "stream", "name": "stdout", "text": text}],
            "status": "ok",
        }

    return run_cell


# --- the store ------------------------------------------------------------------------


def test_a_turn_is_recorded_with_its_tokens_merged(tmp_path):
    store = HistoryStore(tmp_path / "sessions", str(tmp_path))
    history = NotebookHistory("a/b.ipynb")
    record = TurnRecord(1, "s1", "agent", "do it")
    history.turns.append(record.data)
    for event in [
        {"type": "round", "round": 1, "notebook": "a/b.ipynb", "session": "s1", "turn": 1},
        {"type": "token", "round": 1, "text": "He"},
        {"type": "token", "round": 1, "text": "llo"},
        {"type": "code", "round": 1, "code": "x"},
        {"type": "token", "round": 2, "text": "Again"},
        {"type": "done", "round": 2, "reason": "success", "success": True},
    ]:
        record.add(event)
    store.save(history)

    loaded = store.load("a/b.ipynb")
    (turn,) = loaded.turns
    assert [e["type"] for e in turn["events"]] == ["round", "token", "code", "token", "done"]
    assert turn["events"][1]["text"] == "Hello" and turn["events"][3]["text"] == "Again"
    assert "notebook" not in turn["events"][0]  # the turn's own fields are not repeated
    assert turn["done"]["reason"] == "success" and turn["finished_at"] >= turn["started_at"]
    assert [p.name for p in store.directory.iterdir()] == [
        store.file_for("a/b.ipynb").name
    ]  # no temp files


def test_a_turn_cut_off_by_a_crash_reads_as_stopped(tmp_path):
    store = HistoryStore(tmp_path, str(tmp_path))
    history = NotebookHistory("n.ipynb", [TurnRecord(1, "s", "agent", "long job").data])
    store.save(history)
    (turn,) = store.load("n.ipynb").turns
    assert turn["done"]["reason"] == "stopped"
    assert "server stopped" in turn["done"]["message"]


def test_an_unreadable_file_is_set_aside_not_overwritten(tmp_path):
    store = HistoryStore(tmp_path, str(tmp_path))
    path = store.file_for("n.ipynb")
    path.write_text('{"notebook": "n.ipynb", "turns": [')  # torn
    assert store.load("n.ipynb").turns == []
    (aside,) = [p for p in tmp_path.iterdir() if p.name.startswith(path.name + ".unreadable-")]
    assert aside.read_text() == '{"notebook": "n.ipynb", "turns": ['
    assert not path.exists()


def test_only_the_newest_turns_are_kept(tmp_path):
    store = HistoryStore(tmp_path, str(tmp_path), max_turns=3)
    history = NotebookHistory(
        "n.ipynb", [TurnRecord(n, "s", "chat", f"q{n}").data for n in range(1, 6)]
    )
    store.save(history)
    assert [t["request"] for t in store.load("n.ipynb").turns] == ["q3", "q4", "q5"]


def test_notebooks_of_different_roots_do_not_share_a_file(tmp_path):
    one = HistoryStore(tmp_path, str(tmp_path / "one"))
    two = HistoryStore(tmp_path, str(tmp_path / "two"))
    assert one.file_for("n.ipynb") != two.file_for("n.ipynb")


# --- over the socket --------------------------------------------------------------------


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


async def test_history_and_reset_over_the_socket(
    open_browser, scripted_engine, autocoder, jp_root_dir
):
    (jp_root_dir / "h.ipynb").write_text("{}")  # a history file is kept for notebooks that exist
    scripted_engine.enqueue(FIRST)
    browser = await open_browser(run_cell=_stdout("4\n"))
    events = await browser.turn({"type": "start", "notebook": "h.ipynb", "request": "add 2 and 2"})
    browser.send({"type": "history", "notebook": "./h.ipynb"})  # the same notebook, spelt otherwise
    history = await browser.wait_for(
        lambda: [m for m in browser.messages if m["type"] == "history"]
    )
    assert history[0]["notebook"] == "h.ipynb" and history[0]["running"] is False
    (turn,) = history[0]["turns"]
    assert turn["request"] == "add 2 and 2" and turn["session"] == events[0]["session"]
    tokens = [e for e in turn["events"] if e["type"] == "token"]
    assert len(tokens) == 1 and tokens[0]["text"] == FIRST
    assert turn["done"]["reason"] == "success"
    assert autocoder.agents.history.file_for("h.ipynb").exists()

    browser.send({"type": "reset", "notebook": "h.ipynb"})
    cleared = await browser.wait_for(
        lambda: [m for m in browser.messages if m["type"] == "history"][1:]
    )
    assert cleared[0]["turns"] == []
    assert not autocoder.agents.history.file_for("h.ipynb").exists()
    count = len(browser.errors)
    browser.send({"type": "continue", "notebook": "h.ipynb", "remark": "more"})
    assert "no conversation" in (await browser.next_error(count))["message"]


async def test_history_survives_a_server_restart(server_process, scripted_engine, tmp_path):
    config = {
        "AutoCoder": {
            "engine_url": scripted_engine.base_url,
            "api_key": scripted_engine.api_key,
            "model": "scripted",
            "load_on_start": False,
        }
    }
    scripted_engine.enqueue(FIRST, SECOND)
    notebook = tmp_path / "server" / "root" / "work" / "r.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}")  # a history file is kept for notebooks that exist
    first_server = await server_process(config, base=tmp_path / "server")
    browser = await first_server.browser(run_cell=_stdout("4\n"))
    first = await browser.turn(
        {"type": "start", "notebook": "work/r.ipynb", "request": "add 2 and 2"}
    )
    assert first[-1]["success"] is True
    await browser.close()
    await first_server.stop()
    assert first_server.process.returncode == 0, first_server.log()

    second_server = await server_process(config, base=tmp_path / "server")
    assert second_server.port != first_server.port
    browser = await second_server.browser(run_cell=_stdout("8\n"))
    browser.send({"type": "history", "notebook": "work/r.ipynb"})
    (history,) = await browser.wait_for(
        lambda: [m for m in browser.messages if m["type"] == "history"]
    )
    (turn,) = history["turns"]
    assert turn["request"] == "add 2 and 2" and turn["done"]["success"] is True
    assert [e["text"] for e in turn["events"] if e["type"] == "token"] == [FIRST]

    second = await browser.turn(
        {"type": "continue", "notebook": "work/r.ipynb", "remark": "double it"}
    )
    assert second[0]["turn"] == 2 and second[0]["session"] == first[0]["session"]
    assert second[-1]["success"] is True
    # the model saw the conversation from before the restart
    asked = scripted_engine.history[-1].messages
    assert any("add 2 and 2" in m["content"] for m in asked)
    assert any(m["role"] == "assistant" and m["content"] == FIRST for m in asked)
    await browser.close()
    await second_server.stop()

    # the traces of both servers' turns live beside the history
    sessions = tmp_path / "server" / "data" / "autocoder" / "sessions"
    traces = sorted((sessions / "traces").glob("*.jsonl"))
    assert len(traces) == 2
    restored = read_trace(traces[-1])
    assert any(r["type"] == "message" and r.get("content") == FIRST for r in restored)
    (history_file,) = sessions.glob("*.json")
    saved = json.loads(history_file.read_text())
    assert [t["turn"] for t in saved["turns"]] == [1, 2]
    assert not [p for p in os.listdir(sessions) if p.startswith(".tmp-")]
