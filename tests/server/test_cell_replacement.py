"""What the panel's side of the socket is told, so that the notebook the agent leaves holds
no trail of failed attempts and the model knows the kernel: a correction replaces the cell
of the code it corrects (`run_cell`'s `replaces`), the variables and `@name` details the
panel collected reach the model, and an install of a package the kernel has is answered
from a silent probe, without asking the user."""

from __future__ import annotations

from importlib.metadata import version

import pytest

BUGGY = "Here you go.\n```python\nanswer = 41 + one\nprint(answer)\n```"
FIXED = "Fixed.\n```python\none = 1\nanswer = 41 + one\nprint(answer)\n```"


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


async def test_a_correction_replaces_the_cell_of_the_code_it_corrects(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    scripted_engine.enqueue(BUGGY, FIXED, "```python\nprint(answer * 2)\n```")
    run_cell, on_interrupt = kernel_cells
    browser = await open_browser(run_cell=run_cell, on_interrupt=on_interrupt)

    first = await browser.turn(
        {"type": "start", "notebook": "r.ipynb", "request": "42 in `answer`"}
    )
    assert first[-1]["reason"] == "success" and first[-1]["rounds"] == 2
    code_runs = [r for r in browser.run_requests if r["purpose"] == "code"]
    assert [r["replaces"] for r in code_runs] == [None, code_runs[0]["id"]]
    assert all(r["replaces"] is None for r in browser.run_requests if r["purpose"] != "code")

    # The next turn's code is a new cell: the user asked for something else.
    second = await browser.turn({"type": "continue", "notebook": "r.ipynb", "remark": "double it"})
    assert second[-1]["reason"] == "success"
    code_runs = [r for r in browser.run_requests if r["purpose"] == "code"]
    assert len(code_runs) == 3 and code_runs[2]["replaces"] is None


async def test_the_panel_s_variables_and_at_name_details_reach_the_model(
    open_browser, scripted_engine, autocoder
):
    scripted_engine.enqueue("Nothing to run.")
    browser = await open_browser()
    context = {
        "cells": [],
        "variables": [
            {"name": "df", "type_name": "pandas DataFrame", "summary": "178 rows x 14 columns"}
        ],
        "attached": [
            {
                "name": "df",
                "type_name": "pandas DataFrame",
                "summary": "describe():\n alcohol mean 13.0",
            }
        ],
    }
    await browser.turn(
        {"type": "start", "notebook": "v.ipynb", "request": "plot @df", "context": context}
    )
    told = scripted_engine.history[0].messages[-1]["content"]
    assert "The request names @df, the variable df (pandas DataFrame) in the kernel:" in told
    assert "alcohol mean 13.0" in told
    assert "- df (pandas DataFrame): 178 rows x 14 columns" in told
    assert told.index("@df, the variable") < told.index("Variables in the kernel:")


async def test_an_installed_package_is_answered_by_a_probe_without_asking(
    open_browser, kernel_cells, scripted_engine, autocoder
):
    scripted_engine.enqueue(
        "```sh\npip install pandas\n```\n```python\nimport pandas\nprint('ok')\n```"
    )
    asked = []
    run_cell, _ = kernel_cells
    browser = await open_browser(
        run_cell=run_cell, approve=lambda request: asked.append(request) or True
    )
    events = await browser.turn({"type": "start", "notebook": "p.ipynb", "request": "use pandas"})

    installs = [e for e in events if e["type"] == "install"]
    assert [(e["status"], e["packages"]) for e in installs] == [("present", ["pandas"])]
    assert installs[0]["message"] == f"installed already: pandas {version('pandas')}"
    assert asked == [] and not [e for e in events if e["type"] == "approval"]
    assert [r["purpose"] for r in browser.run_requests][:2] == ["probe", "code"]
    assert all(r["purpose"] != "install" for r in browser.run_requests)
    assert events[-1]["success"] is True
