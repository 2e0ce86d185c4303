"""The agent WebSocket: whole sessions driven by a scripted browser that runs the cells in a
real kernel, against the scripted model engine (which writes a bug on purpose)."""

from __future__ import annotations

import asyncio
import json

import pytest

from jupyter_autocoder.testing.scripted_engine import ScriptedReply

BUGGY = "Here you go.\n```python\nanswer = 41 + one\nprint(answer)\n```"
FIXED = "Fixed: `one` was not defined.\n```python\none = 1\nanswer = 41 + one\nprint(answer)\n```"


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


def _types(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]


def _text(events: list[dict], round_number: int | None = None) -> str:
    return "".join(
        e["text"] for e in events if e["type"] == "token" and round_number in (None, e["round"])
    )


async def test_a_whole_session_bug_error_fix_done(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    scripted_engine.enqueue(BUGGY, FIXED)
    run_cell, on_interrupt = kernel_cells
    browser = await open_browser(run_cell=run_cell, on_interrupt=on_interrupt)

    events = await browser.turn(
        {
            "type": "start",
            "notebook": "work/demo.ipynb",
            "request": "Put 41 + 1 into `answer` and print it.",
            "context": {"cells": [{"source": "import math", "output": "", "execution_count": 1}]},
        }
    )

    assert _types(events)[0] == "started"
    started = events[0]
    assert (
        started["mode"] == "agent"
        and started["turn"] == 1
        and started["notebook"] == "work/demo.ipynb"
    )
    assert all(e["session"] == started["session"] and e["turn"] == 1 for e in events)
    # round 1: the model's buggy code runs in the kernel and fails with the real error
    assert _text(events, 1) == BUGGY
    executions = [e for e in events if e["type"] == "execution"]
    assert executions[0]["ok"] is False
    assert executions[0]["result"]["status"] == "error"
    assert "NameError" in executions[0]["feedback"] and "one" in executions[0]["feedback"]
    # round 2: the fix runs cleanly and prints 42
    assert _text(events, 2) == FIXED
    assert executions[-1]["ok"] is True
    assert executions[-1]["result"]["outputs"][0]["text"] == "42\n"
    done = events[-1]
    assert done["type"] == "done" and done["reason"] == "success" and done["success"] is True
    assert done["code"] == "one = 1\nanswer = 41 + one\nprint(answer)"
    assert done["rounds"] == 2

    # the browser was asked for the two cells, then for a silent check that `answer` exists
    purposes = [(r["purpose"], r["code"]) for r in browser.run_requests]
    assert purposes[0] == ("code", "answer = 41 + one\nprint(answer)")
    assert purposes[1] == ("code", "one = 1\nanswer = 41 + one\nprint(answer)")
    assert [p for p, _ in purposes[2:]] == ["probe"]
    # the model was told the notebook's context, then the real error
    first, second = scripted_engine.history
    assert "import math" in first.messages[-1]["content"]
    assert "NameError" in second.messages[-1]["content"]
    assert first.body["user"] == "notebook:work/demo.ipynb"  # its lane in the fair queue
    assert browser.errors == []


async def test_a_turn_can_set_its_own_round_limit(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    scripted_engine.enqueue(BUGGY, FIXED)
    run_cell, on_interrupt = kernel_cells
    browser = await open_browser(run_cell=run_cell, on_interrupt=on_interrupt)
    request = {
        "type": "start",
        "notebook": "limit.ipynb",
        "request": "Put 41 + 1 into `answer`.",
        "max_rounds": 1,
    }

    events = await browser.turn(request)

    assert [e["max_rounds"] for e in events if e["type"] == "round"] == [1]
    done = events[-1]
    assert done["reason"] == "max_rounds" and done["success"] is False and done["rounds"] == 1
    assert len(scripted_engine.history) == 1  # the fix was never asked for
    # the next turn without a limit of its own has the server's again
    events = await browser.turn(
        {"type": "continue", "notebook": "limit.ipynb", "remark": "Try again."}
    )
    assert [e["max_rounds"] for e in events if e["type"] == "round"][
        0
    ] == autocoder.agents.settings.max_rounds


async def test_continue_keeps_the_conversation(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    scripted_engine.enqueue(
        "```python\nanswer = 6 * 7\nprint(answer)\n```",
        "```python\nprint(answer * 2)\n```",
    )
    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell)
    first = await browser.turn({"type": "start", "notebook": "n.ipynb", "request": "compute 6*7"})
    second = await browser.turn(
        {"type": "continue", "notebook": "n.ipynb", "remark": "now double it"}
    )

    assert first[-1]["success"] and second[-1]["success"]
    assert second[0]["session"] == first[0]["session"] and second[0]["turn"] == 2
    assert [e for e in second if e["type"] == "execution"][-1]["result"]["outputs"][0][
        "text"
    ] == "84\n"
    asked = scripted_engine.history[-1].messages
    assert any("compute 6*7" in m["content"] for m in asked)
    assert "now double it" in asked[-1]["content"]


async def test_chat_mode_answers_without_running_anything(open_browser, scripted_engine, autocoder):
    scripted_engine.enqueue("Use `df.describe()`.\n```python\ndf.describe()\n```")
    browser = await open_browser()
    events = await browser.turn(
        {
            "type": "start",
            "notebook": "chat.ipynb",
            "request": "how do I summarise df?",
            "mode": "chat",
        }
    )
    assert _types(events) == ["started", "round"] + ["token"] * (len(events) - 3) + ["done"]
    assert events[-1]["reason"] == "answered" and events[-1]["success"] is True
    assert events[-1]["answer"] == _text(events)
    assert browser.run_requests == []


async def test_agent_and_chat_send_the_notebook_context_within_the_configured_budget(
    open_browser, scripted_engine, autocoder
):
    # c.AutoCoder.context_budget is the panel's budget too, as it is the magic's.
    autocoder.agents.settings.context_budget = 1000
    scripted_engine.enqueue("Nothing to run here.", "Nothing to say.")
    browser = await open_browser()
    long_cell = {
        "source": "rows = [\n" + "    1,\n" * 700 + "]",
        "output": "",
        "execution_count": 1,
    }
    assert len(long_cell["source"]) < 6000  # within the budget the server used to fall back to
    for mode in ("agent", "chat"):
        start = {"type": "start", "notebook": f"budget-{mode}.ipynb", "request": "what is in rows?"}
        await browser.turn({**start, "mode": mode, "context": {"cells": [long_cell]}})

    assert len(scripted_engine.history) == 2
    for asked in scripted_engine.history:
        request = asked.messages[-1]["content"]
        assert "characters cut" in request and len(request) < 1200
        assert request.endswith("what is in rows?")


async def test_install_asks_for_approval_and_a_decline_is_told_to_the_model(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    scripted_engine.enqueue(
        "```python\nimport definitely_not_installed_pkg\n```",
        "```python\nprint('without it')\n```",
    )
    asked = []

    def decline(request):
        asked.append(request)
        return False

    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell, approve=decline)
    events = await browser.turn(
        {"type": "start", "notebook": "a.ipynb", "request": "use the package"}
    )

    assert [request["kind"] for request in asked] == ["install"]
    assert asked[0]["packages"] == ["definitely_not_installed_pkg"]
    approvals = [e for e in events if e["type"] == "approval"]
    assert [a["status"] for a in approvals] == ["pending", "declined"]
    assert "declined" in scripted_engine.history[1].messages[-1]["content"]
    assert events[-1]["success"] is True
    assert all(r["purpose"] != "install" for r in browser.run_requests)


async def test_stop_while_an_approval_is_pending_declines_it_and_ends_the_turn(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    scripted_engine.enqueue(
        "```sh\npip install some-package\n```\n```python\nimport some_package\n```"
    )
    run_cell, _ = kernel_cells
    browser = await open_browser(
        run_cell=run_cell, approve=lambda request: None
    )  # the user looks away
    browser.send({"type": "start", "notebook": "p.ipynb", "request": "use some-package"})
    (pending,) = await browser.wait_for(
        lambda: [
            m
            for m in browser.by_notebook["p.ipynb"]
            if m["type"] == "approval" and m["status"] == "pending"
        ]
    )
    assert pending["request"]["kind"] == "install" and pending["request"]["packages"] == [
        "some-package"
    ]
    await asyncio.sleep(0.5)  # the session is now waiting for the answer
    browser.send({"type": "stop", "notebook": "p.ipynb"})
    (done,) = await browser.wait_for(
        lambda: [m for m in browser.by_notebook["p.ipynb"] if m["type"] == "done"], 10
    )
    assert done["reason"] == "stopped"
    statuses = [m["status"] for m in browser.by_notebook["p.ipynb"] if m["type"] == "approval"]
    assert statuses == ["pending", "declined"]
    # nothing was installed or run (a silent probe had asked whether it is installed)
    assert [r for r in browser.run_requests if r["purpose"] != "probe"] == []
    # the answer that comes too late is refused, not taken
    browser.send({"type": "approval", "id": pending["request"]["id"], "approved": True})
    assert "no approval" in (await browser.next_error(0))["message"]


async def test_stop_ends_the_turn_and_the_stream(open_browser, scripted_engine, autocoder):
    scripted_engine.enqueue(ScriptedReply("x" * 4000, chunk_size=2, delay=0.01))
    browser = await open_browser()
    browser.send({"type": "start", "notebook": "s.ipynb", "request": "write a lot"})
    await browser.wait_for(
        lambda: [m for m in browser.by_notebook["s.ipynb"] if m["type"] == "token"]
    )
    browser.send({"type": "stop", "notebook": "s.ipynb"})
    done = await browser.wait_for(
        lambda: [m for m in browser.by_notebook["s.ipynb"] if m["type"] == "done"], timeout=10
    )
    assert done[0]["reason"] == "stopped"
    (request,) = scripted_engine.history
    # The engine sees the closed stream at its next write; under load that takes a while.
    for _ in range(50):
        if request.cancelled:
            break
        await asyncio.sleep(0.1)
    assert request.cancelled and request.chunks_sent < 2000


async def test_a_cell_past_its_timeout_is_interrupted_and_reported(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    autocoder.autocoder_config.exec_timeout = 1.5
    scripted_engine.enqueue(
        "```python\nimport time\nstate = 'kept'\ntime.sleep(60)\n```",
        "```python\nprint(state)\n```",
    )
    run_cell, on_interrupt = kernel_cells
    browser = await open_browser(run_cell=run_cell, on_interrupt=on_interrupt)
    events = await browser.turn({"type": "start", "notebook": "t.ipynb", "request": "sleep"})

    interrupts = [m for m in browser.by_notebook["t.ipynb"] if m["type"] == "interrupt"]
    assert [i["reason"] for i in interrupts] == ["timeout"]
    assert interrupts[0]["id"] == browser.run_requests[0]["id"]
    first = next(e for e in events if e["type"] == "execution")
    assert first["result"]["timed_out"] is True and first["result"]["status"] == "timeout"
    assert first["result"]["duration"] < 15
    # interrupted, not restarted: the variable set before the sleep survived
    assert events[-1]["success"] is True
    assert [e for e in events if e["type"] == "execution"][-1]["result"]["outputs"][0][
        "text"
    ] == "kept\n"


async def test_four_sessions_at_once_do_not_mix_tokens(
    open_browser, scripted_engine, engine_responder, autocoder
):
    def responder(body):
        word = body["messages"][-1]["content"].split("WORD=")[1].split()[0]
        code = f"```python\nprint('{word}')\n```"
        return ScriptedReply(f"Printing {word} now.\n{code}", chunk_size=3, delay=0.002)

    engine_responder.function = responder
    words = ["alpha", "bravo", "charlie", "delta"]

    def fake_kernel(word):
        async def run_cell(request):
            assert word in request["code"]
            return {
                "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{word}\n"}],
                "status": "ok",
            }

        return run_cell

    browsers = [await open_browser(run_cell=fake_kernel(word)) for word in words]
    turns = await asyncio.gather(
        *(
            browser.turn(
                {
                    "type": "start",
                    "notebook": f"{word}.ipynb",
                    "request": f"print WORD={word} please",
                }
            )
            for browser, word in zip(browsers, words)
        )
    )
    for browser, word, events in zip(browsers, words, turns):
        assert _text(events) == f"Printing {word} now.\n```python\nprint('{word}')\n```"
        assert events[-1]["success"] is True and events[-1]["code"] == f"print('{word}')"
        assert {m.get("notebook") for m in browser.messages if m["type"] != "hello"} == {
            f"{word}.ipynb"
        }
    assert len(scripted_engine.history) == 4
    assert len({json.dumps(r.body["user"]) for r in scripted_engine.history}) == 4


async def test_closing_the_socket_stops_its_turn(open_browser, scripted_engine, autocoder):
    scripted_engine.enqueue(ScriptedReply("y" * 4000, chunk_size=2, delay=0.01))
    browser = await open_browser()
    browser.send({"type": "start", "notebook": "c.ipynb", "request": "write"})
    await browser.wait_for(
        lambda: [m for m in browser.by_notebook["c.ipynb"] if m["type"] == "token"]
    )
    await browser.close()
    for _ in range(100):
        if autocoder.agents.running == 0:
            break
        await asyncio.sleep(0.05)
    assert autocoder.agents.running == 0
    await asyncio.sleep(0.2)
    assert scripted_engine.history[0].cancelled
