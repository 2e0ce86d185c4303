"""The guard of the user's variables through the agent WebSocket: the panel's kernel is
looked at with silent probes, and a change reaches the browser as a `variables_changed`
event that the schema allows (the scripted browser runs the cells in a real kernel)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


RELOADS = (
    "```python\nimport pandas as pd\n"
    "df = pd.DataFrame({'a': [1, 2, 3, 4]})\nprint(df['a'].mean())\n```"
)


async def test_a_reassignment_in_the_notebooks_kernel_is_sent_with_a_way_back(
    open_browser, kernel, kernel_cells, scripted_engine, autocoder
):
    kernel.guard("begin_turn")  # the shared kernel's guard forgets an earlier test's values
    assert kernel.run("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\n_original = df").ok
    scripted_engine.enqueue(RELOADS)
    run_cell, on_interrupt = kernel_cells
    browser = await open_browser(run_cell=run_cell, on_interrupt=on_interrupt)

    events = await browser.turn(
        {"type": "start", "notebook": "g.ipynb", "request": "Print the mean of a in df."}
    )

    assert events[-1]["success"] is True
    (changed,) = [event for event in events if event["type"] == "variables_changed"]
    assert changed["mode"] == "warn" and changed["round"] == 1
    assert changed["changes"] == [
        {
            "name": "df",
            "change": "reassigned",
            "details": [],
            "was": "pandas DataFrame, 2 rows x 1 column",
            "now": "pandas DataFrame, 4 rows x 1 column",
            "restorable": True,
            "restored": False,
        }
    ]
    # the guard ran as silent probes (begin the turn, before and after the run) and the
    # browser was asked to show only the model's cell
    assert [request["purpose"] for request in browser.guard_requests] == ["probe"] * 3
    assert [request["purpose"] for request in browser.run_requests] == ["code"]
    # what the panel's restore button runs in the kernel puts the user's frame back
    restore = (
        "print(__import__('json').dumps(__import__('jupyter_autocoder.executors.guard', "
        "fromlist=['guard']).call(get_ipython(), 'restore', {'name': 'df'})))"
    )
    answer = json.loads(kernel.run(restore).stdout)
    assert answer["restored"] is True
    assert kernel.run("assert df is _original").ok
    # kept in the history too, so that a reloaded page shows the notice
    browser.send({"type": "history", "notebook": "g.ipynb"})
    (history,) = await browser.wait_for(
        lambda: [m for m in browser.messages if m["type"] == "history"]
    )
    kept = [
        event for event in history["turns"][-1]["events"] if event["type"] == "variables_changed"
    ]
    assert kept[0]["changes"][0]["name"] == "df"
