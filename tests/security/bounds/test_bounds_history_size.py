"""Run outputs are stored cut to a size (head and tail, the cut said), and a turn adds its
own steps to the history instead of rewriting every earlier turn, so that a long history
costs a turn nothing; a crash loses only the step in progress."""

from __future__ import annotations

import asyncio
import re

import pytest
from bounds_support import make_notebook, stdout_of

from jupyter_autocoder.server.history import HistoryStore

CODE = "```python\nprint('x' * 3_900_000)\n```"
BIG_STDOUT = "FIRST LINE\n" + "x" * 3_900_000 + "\nLAST LINE\n"


def history_bytes(sessions_dir) -> int:
    return sum(path.stat().st_size for path in sessions_dir.glob("*") if path.is_file())


def written_bytes() -> int:
    """Bytes this process has written through write() and the like (/proc/self/io)."""
    with open("/proc/self/io", encoding="ascii") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


@pytest.fixture
def autocoder_app_config(sessions_dir):
    return {"sessions_dir": str(sessions_dir), "history_output_chars": 20_000, "history_turns": 100}


async def test_big_outputs_are_stored_cut_with_head_and_tail(
    open_socket, autocoder, engine_responder, sessions_dir, jp_root_dir
):
    # Before the fix: three turns of 3.9 MB stdout made an 11.7 MB history file.
    engine_responder.function = lambda body: CODE
    notebook = make_notebook(jp_root_dir, "big.ipynb")
    socket = await open_socket(run_cell=stdout_of(BIG_STDOUT))
    for _ in range(3):
        events = await socket.turn(
            {"type": "start", "notebook": notebook, "request": "print a lot"}
        )
        assert events[-1]["success"] is True
    size = history_bytes(sessions_dir)
    assert size < 300_000, f"three turns of 3.9 MB output made {size} bytes of history"

    socket.kept.clear()
    socket.send({"type": "history", "notebook": notebook})
    (history,) = await socket.wait_for(lambda: socket.of("history", notebook))
    assert len(history["turns"]) == 3
    for turn in history["turns"]:
        (execution,) = [event for event in turn["events"] if event["type"] == "execution"]
        (output,) = execution["result"]["outputs"]
        text = output["text"]
        assert text.startswith("FIRST LINE\n") and text.endswith("\nLAST LINE\n")
        assert len(text) < 20_100
        marker = re.search(r"\n\[\.\.\. (\d+) characters cut \.\.\.\]\n", text)
        assert marker is not None, text[:200]
        assert int(marker.group(1)) == len(BIG_STDOUT) - (len(text) - len(marker.group(0)))


SMALL_CODE = "```python\nprint('small')\n```"


async def test_a_turn_does_not_rewrite_the_earlier_turns(
    open_socket, autocoder, engine_responder, sessions_dir, jp_root_dir
):
    # Before the fix: the whole history was rewritten and fsynced after each step of a turn.
    notebook = make_notebook(jp_root_dir, "long.ipynb")
    engine_responder.function = lambda body: SMALL_CODE
    socket = await open_socket(run_cell=stdout_of("y" * 15_000 + "\n"))
    for _ in range(30):
        await socket.turn({"type": "start", "notebook": notebook, "request": "earlier work"})
    history_size = history_bytes(sessions_dir)
    assert history_size > 450_000  # 30 turns of 15,000 characters of output each

    socket.run_cell = stdout_of("small\n")
    socket.kept.clear()
    before = written_bytes()
    for _ in range(10):
        events = await socket.turn({"type": "start", "notebook": notebook, "request": "more work"})
        assert events[-1]["success"] is True
    per_turn = (written_bytes() - before) / 10
    assert per_turn < history_size / 4, (
        f"a turn wrote {per_turn:.0f} bytes with a history of {history_size} bytes"
    )


async def test_a_crash_loses_only_the_step_in_progress(
    open_socket, autocoder, engine_responder, sessions_dir, jp_root_dir
):
    notebook = make_notebook(jp_root_dir, "crash.ipynb")
    answers = iter(["```python\nfirst_step = 1\n```", "```python\nsecond_step = 2\n```"])
    engine_responder.function = lambda body: next(answers)
    release = asyncio.Event()
    runs: list[str] = []

    async def run_cell(request):
        if request["purpose"] != "code":  # the guard's silent probes: a kernel without it
            return {"outputs": [], "status": "ok"}
        runs.append(request["code"])
        if len(runs) == 1:
            return {
                "outputs": [
                    {"output_type": "error", "ename": "NameError", "evalue": "x", "traceback": []}
                ],
                "status": "error",
            }
        await release.wait()  # the second step is in progress here
        return {"outputs": [], "status": "ok"}

    socket = await open_socket(run_cell=run_cell)
    socket.send({"type": "start", "notebook": notebook, "request": "two steps"})
    await socket.wait_for(lambda: len(runs) == 2)

    # What a server restarted now would read: the first step, whole; the turn cut off.
    on_disk = HistoryStore(sessions_dir, str(jp_root_dir)).load(notebook)
    (turn,) = on_disk.turns
    assert [
        event["type"] for event in turn["events"] if event["type"] in ("code", "execution")
    ] == [
        "code",
        "execution",
    ]
    assert turn["done"]["reason"] == "stopped"
    release.set()
    await socket.wait_for(lambda: socket.of("done", notebook))
