"""Explorations in the panel, through a real jupyter_server's agent WebSocket, with the
scripted model and a scripted browser that runs the cells in a real kernel: the plan waits
for the user's answer (edited, dropped, added steps), each step's Markdown and code cells
are asked for in order, a correction replaces its step's cell, the user can stop after a
step, and bad input (a missing file, a garbled or empty plan, a malformed `run_plan`) ends
with a clear message."""

from __future__ import annotations

import asyncio

import pytest

DATA = "a,b,kind\n1,2.5,x\n2,3.5,y\n3,4.5,x\n4,6.5,y\n"
PLAN = "1. Summary statistics of a and b\n2. Mean of b by kind\n3. Count the rows per kind"
STATS = "```python\nprint(df['b'].mean())\n```"
BUGGY_MEANS = "```python\nprint(df.groupby('kind')['b'].means())\n```"
MEANS = "```python\nprint(df.groupby('kind')['b'].mean())\n```"
COUNTS = "```python\nprint(df['kind'].value_counts())\n```"
SUMMARY = "- The mean of b is 4.25.\n- Kind y has the larger mean b, 5.0."


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


def _cells(browser) -> list[tuple[str, str]]:
    """The cells the panel was asked to make, in order: (purpose, first line)."""
    return [
        (r["purpose"], r["code"].strip().splitlines()[0])
        for r in browser.run_requests
        if r["purpose"] in ("code", "markdown")
    ]


async def _plan(browser, notebook: str) -> dict:
    return await browser.wait_for(
        lambda: [m for m in browser.by_notebook[notebook] if m["type"] == "plan" and m["review"]]
    )


async def test_an_exploration_waits_for_its_plan_then_makes_and_runs_the_cells(
    open_browser, kernel_cells, kernel, scripted_engine, autocoder, tmp_path
):
    (tmp_path / "data.csv").write_text(DATA)
    scripted_engine.enqueue(PLAN, STATS, BUGGY_MEANS, MEANS, COUNTS, SUMMARY)
    run_cell, on_interrupt = kernel_cells
    browser = await open_browser(run_cell=run_cell, on_interrupt=on_interrupt)
    notebook = "e.ipynb"
    browser.send(
        {"type": "start", "notebook": notebook, "request": "/explore data.csv", "mode": "explore"}
    )

    (plan,) = await _plan(browser, notebook)
    assert [s["title"] for s in plan["steps"]] == [
        "Summary statistics of a and b",
        "Mean of b by kind",
        "Count the rows per kind",
    ]
    # Nothing past the data's loading ran before the user's answer; the model planned once.
    assert _cells(browser) == [("code", "import pandas as pd")]
    assert len(scripted_engine.history) == 1
    plan_request = scripted_engine.history[0].messages[-1]["content"]
    assert "df" in plan_request and "kind" in plan_request  # the loaded columns, from the kernel

    # The user edits the first step, drops the third and adds one.
    browser.send(
        {
            "type": "run_plan",
            "notebook": notebook,
            "steps": ["Mean of b", "Mean of b by kind", " ", "Count the rows per kind"],
        }
    )
    events = await browser.wait_for(
        lambda: [m for m in browser.by_notebook[notebook] if m["type"] == "done"], 60
    )
    done = events[-1]
    assert done["reason"] == "success" and done["success"] is True, done
    turn = [m for m in browser.by_notebook[notebook] if m["type"] not in ("run_cell",)]
    assert sum(1 for m in turn if m["type"] == "done") == 1  # the steps' own ends stay inside
    steps = [(m["step"], m["status"]) for m in turn if m["type"] == "step"]
    assert steps == [
        (1, "running"),
        (1, "done"),
        (2, "running"),
        (2, "done"),
        (3, "running"),
        (3, "done"),
    ]
    final = [m for m in turn if m["type"] == "plan"][-1]
    assert [s["title"] for s in final["steps"]] == [
        "Mean of b",
        "Mean of b by kind",
        "Count the rows per kind",
    ]
    assert [m["text"] for m in turn if m["type"] == "summary"] == [f"## Summary\n\n{SUMMARY}"]

    # The notebook, as the panel was asked to make it: the opening above the load cell,
    # a heading and a code cell per step, the summary last.
    assert _cells(browser) == [
        ("code", "import pandas as pd"),
        ("markdown", "# Exploring data.csv"),
        ("markdown", "## 1. Mean of b"),
        ("code", "print(df['b'].mean())"),
        ("markdown", "## 2. Mean of b by kind"),
        ("code", "print(df.groupby('kind')['b'].means())"),
        ("code", "print(df.groupby('kind')['b'].mean())"),
        ("markdown", "## 3. Count the rows per kind"),
        ("code", "print(df['kind'].value_counts())"),
        ("markdown", "## Summary"),
    ]
    made = [r for r in browser.run_requests if r["purpose"] in ("code", "markdown")]
    load, opening = made[0], made[1]
    assert opening["above"] == load["id"]
    # Step 2's correction replaces its failed cell; each step's first code is a new cell.
    assert made[6]["replaces"] == made[5]["id"]
    assert [m["replaces"] for i, m in enumerate(made) if i != 6] == [None] * 9
    assert "4.25" in kernel.run("print(df['b'].mean())").stdout


async def test_the_user_stops_after_a_step(
    open_browser, kernel_cells, scripted_engine, engine_responder, autocoder, tmp_path
):
    (tmp_path / "data.csv").write_text(DATA)
    scripted_engine.enqueue(PLAN)
    run_cell, on_interrupt = kernel_cells
    browser = await open_browser(run_cell=run_cell, on_interrupt=on_interrupt)
    notebook = "s.ipynb"
    browser.send(
        {"type": "start", "notebook": notebook, "request": "explore data.csv", "mode": "explore"}
    )
    (plan,) = await _plan(browser, notebook)

    answers = iter([STATS, "- The mean of b is 4.25."])
    loop = asyncio.get_running_loop()
    stop = {"type": "stop", "notebook": notebook, "after_step": True}

    def answer(body: dict) -> str:
        text = next(answers)
        if text == STATS:  # while the first step is being written: stop after it
            loop.call_soon_threadsafe(browser.send, stop)  # the engine answers in a thread
        return text

    engine_responder.function = answer
    browser.send(
        {"type": "run_plan", "notebook": notebook, "steps": [s["title"] for s in plan["steps"]]}
    )
    events = await browser.wait_for(
        lambda: [m for m in browser.by_notebook[notebook] if m["type"] == "done"], 60
    )
    assert events[-1]["reason"] == "stopped"
    messages = browser.by_notebook[notebook]
    steps = [(m["step"], m["status"]) for m in messages if m["type"] == "step"]
    assert steps == [(1, "running"), (1, "done")]
    final = [m for m in messages if m["type"] == "plan"][-1]
    assert [s["status"] for s in final["steps"]] == ["done", "stopped", "stopped"]
    # The steps done are summarised, with numbers from their real outputs.
    assert [m["type"] for m in messages if m["type"] in ("summary", "exploration_done")] == [
        "summary",
        "exploration_done",
    ]
    assert _cells(browser)[-1] == ("markdown", "## Summary")
    assert len(scripted_engine.history) == 3  # the plan, one step, the summary


async def test_a_cancelled_plan_runs_nothing(
    open_browser, kernel_cells, scripted_engine, autocoder, tmp_path
):
    (tmp_path / "data.csv").write_text(DATA)
    scripted_engine.enqueue(PLAN)
    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell)
    notebook = "c.ipynb"
    browser.send(
        {"type": "start", "notebook": notebook, "request": "/explore data.csv", "mode": "explore"}
    )
    await _plan(browser, notebook)
    browser.send({"type": "run_plan", "notebook": notebook, "steps": []})
    events = await browser.wait_for(
        lambda: [m for m in browser.by_notebook[notebook] if m["type"] == "done"]
    )
    assert events[-1]["reason"] == "stopped"
    assert _cells(browser) == [("code", "import pandas as pd")]
    assert len(scripted_engine.history) == 1


async def test_a_stop_during_the_review_cancels_the_exploration(
    open_browser, kernel_cells, scripted_engine, autocoder, tmp_path
):
    (tmp_path / "data.csv").write_text(DATA)
    scripted_engine.enqueue(PLAN)
    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell)
    notebook = "t.ipynb"
    browser.send(
        {"type": "start", "notebook": notebook, "request": "/explore data.csv", "mode": "explore"}
    )
    await _plan(browser, notebook)
    browser.send({"type": "stop", "notebook": notebook})
    events = await browser.wait_for(
        lambda: [m for m in browser.by_notebook[notebook] if m["type"] == "done"]
    )
    assert events[-1]["reason"] == "stopped"
    # The plan's answer is no longer awaited: a late one is refused.
    errors = len(browser.errors)
    browser.send({"type": "run_plan", "notebook": notebook, "steps": ["x"]})
    error = await browser.next_error(errors)
    assert error["in_reply_to"] == "run_plan"
    assert "no exploration of this notebook is waiting" in error["message"]


async def test_a_missing_file_is_told_before_the_model_is_asked(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell)
    events = await browser.turn(
        {
            "type": "start",
            "notebook": "m.ipynb",
            "request": "/explore nowhere.csv",
            "mode": "explore",
        }
    )
    errors = [e for e in events if e["type"] == "error"]
    assert [e["message"] for e in errors] == ["no such data file: nowhere.csv"]
    assert events[-1]["type"] == "done" and events[-1]["reason"] == "error"
    assert scripted_engine.history == []
    assert _cells(browser) == []


async def test_a_missing_variable_and_an_empty_request_are_told(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell)
    events = await browser.turn(
        {"type": "start", "notebook": "v.ipynb", "request": "explore sales", "mode": "explore"}
    )
    assert "there is no variable 'sales' in the kernel" in events[-1]["message"]
    events = await browser.turn(
        {"type": "start", "notebook": "v.ipynb", "request": "/explore", "mode": "explore"}
    )
    assert "name one data file or DataFrame to explore" in events[-1]["message"]
    assert scripted_engine.history == []


@pytest.mark.parametrize("answer", ["I would look at the data first.", ""])
async def test_a_garbled_or_empty_plan_is_asked_again_once_then_told(
    answer, open_browser, kernel_cells, kernel, scripted_engine, autocoder
):
    kernel.run("import pandas as pd\nframe = pd.DataFrame({'a': [1, 2]})")
    scripted_engine.enqueue(answer, answer)
    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell)
    events = await browser.turn(
        {"type": "start", "notebook": "g.ipynb", "request": "explore frame", "mode": "explore"}
    )
    assert events[-1]["reason"] == "error"
    (error,) = [e for e in events if e["type"] == "error"]
    assert "the model's plan has no numbered steps, even when asked again" in error["message"]
    assert len(scripted_engine.history) == 2
    assert not [e for e in events if e["type"] == "plan"]
    assert _cells(browser) == []


async def test_malformed_plan_answers_are_refused(open_browser, autocoder):
    browser = await open_browser()
    bad = [
        {"type": "run_plan", "notebook": "x.ipynb", "steps": "1. everything"},
        {"type": "run_plan", "notebook": "x.ipynb", "steps": [1, 2]},
        {"type": "run_plan", "notebook": "x.ipynb", "steps": ["s"] * 21},
        {"type": "run_plan", "notebook": "x.ipynb", "steps": ["x" * 501]},
        {"type": "run_plan", "steps": ["a"]},
        {"type": "stop", "notebook": "x.ipynb", "after_step": "yes"},
        {"type": "run_plan", "notebook": "x.ipynb", "steps": ["a"]},  # nothing waits for it
    ]
    for message in bad:
        errors = len(browser.errors)
        browser.send(message)
        error = await browser.next_error(errors)
        assert error["in_reply_to"] == message["type"], (message, error)


async def test_a_step_that_never_runs_cleanly_becomes_markdown_in_place_of_its_cell(
    open_browser, kernel_cells, kernel, scripted_engine, autocoder
):
    kernel.run("import pandas as pd\nframe = pd.DataFrame({'b': [2.5, 3.5]})")
    scripted_engine.enqueue("1. Mean of b", BUGGY_MEANS.replace("df", "frame"))
    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell)
    notebook = "f.ipynb"
    browser.send(
        {
            "type": "start",
            "notebook": notebook,
            "request": "explore frame",
            "mode": "explore",
            "max_rounds": 1,
        }
    )
    (plan,) = await _plan(browser, notebook)
    browser.send({"type": "run_plan", "notebook": notebook, "steps": ["Mean of b"]})
    events = await browser.wait_for(
        lambda: [m for m in browser.by_notebook[notebook] if m["type"] == "done"], 60
    )
    assert events[-1]["reason"] == "success" and events[-1]["success"] is False
    assert events[-1]["message"] == "0 of 1 steps ran cleanly."
    made = [r for r in browser.run_requests if r["purpose"] in ("code", "markdown")]
    assert [(r["purpose"], r["code"].splitlines()[0][:31]) for r in made] == [
        ("markdown", "# Exploring frame"),
        ("markdown", "## 1. Mean of b"),
        ("code", "print(frame.groupby('kind')['b'"),
        ("markdown", "*This step did not run cleanly:"),
        ("markdown", "## Summary"),
    ]
    assert made[3]["replaces"] == made[2]["id"]  # the failing cell goes
    assert "nothing to summarise" in made[4]["code"]


async def test_an_exploration_leaves_the_agent_conversation_to_continue(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    scripted_engine.enqueue("```python\nanswer = 42\n```", "```python\nprint(answer)\n```")
    run_cell, _ = kernel_cells
    browser = await open_browser(run_cell=run_cell)
    notebook = "k.ipynb"
    first = await browser.turn({"type": "start", "notebook": notebook, "request": "42 in answer"})
    assert first[-1]["success"] is True
    await browser.turn(
        {"type": "start", "notebook": notebook, "request": "/explore gone.csv", "mode": "explore"}
    )
    later = await browser.turn({"type": "continue", "notebook": notebook, "remark": "print it"})
    assert later[-1]["success"] is True
    # The follow-up went with the first turn's conversation, not the exploration's.
    asked = scripted_engine.history[-1].messages
    assert any("42 in answer" in m["content"] for m in asked if m["role"] == "user")
