"""Explorations with the scripted model in real kernels: the planned Markdown and code
cells, a failing step corrected (its cell holds the fix), a plot described to the model, a
stop after a step, the summary's numbers checked against the real outputs, the saved
notebook rerun by nbclient in a fresh kernel; bad input gets a clear error."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from jupyter_autocoder.agent import events as ev
from jupyter_autocoder.agent.explore import Exploration, load_code, parse_plan
from jupyter_autocoder.agent.settings import SessionSettings
from jupyter_autocoder.agent.summary_check import check_numbers, flag_unverified
from jupyter_autocoder.errors import ExplorationError
from jupyter_autocoder.headless import explore_file, rerun_failures
from jupyter_autocoder.llm.client import ModelClient

DATA = "a,b,kind\n1,2.5,x\n2,3.5,y\n3,4.5,x\n4,6.5,y\n"
PLAN = "Here is the plan:\n1. **Summary statistics**\n2. Mean of b by kind\n3. Plot b against a"
STATS = "```python\nprint(df.describe())\n```"
BUGGY_MEANS = "```python\nprint(df.groupby('kind')['b'].means())\n```"
MEANS = "```python\nprint(df.groupby('kind')['b'].mean())\n```"
PLOT = (
    "```python\nimport matplotlib.pyplot as plt\n"
    "ax = df.plot.scatter(x='a', y='b', title='b by a')\nplt.show()\n```"
)
SUMMARY = "- The mean of b is 4.25.\n- Kind y has the larger mean b, 5.0, against 3.5 for x."
INVENTED = "- Kind y averages 5.0.\n- Kind x has a mean b of 99.5."


def _settings(tmp_path, **overrides) -> SessionSettings:
    return SessionSettings(trace_dir=str(tmp_path / "traces"), **overrides)


@pytest.fixture
def client(engine):
    made = ModelClient(engine.base_url, engine.api_key, model="scripted")
    yield made
    made.close()


def _code_of(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_an_exploration_writes_the_planned_cells_corrects_a_step_and_reruns_clean(
    engine, client, tmp_path
):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue(PLAN, STATS, BUGGY_MEANS, MEANS, PLOT, SUMMARY)
    seen: list[ev.AgentEvent] = []
    report = explore_file(
        tmp_path / "data.csv",
        tmp_path / "out" / "explored.ipynb",
        client,
        _settings(tmp_path),
        on_event=seen.append,
    )

    # The plan the user sees, as the model wrote it (emphasis taken off).
    plan = next(event for event in seen if isinstance(event, ev.PlanEvent))
    assert [step.title for step in plan.steps] == [
        "Summary statistics",
        "Mean of b by kind",
        "Plot b against a",
    ]
    assert report.done.reason == "success" and report.done.steps_done == 3
    assert report.done.rounds == 4  # step 2 took two

    notebook = nbformat.read(report.path, as_version=4)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds == ["markdown", "code"] + ["markdown", "code"] * 3 + ["markdown"]
    assert notebook.cells[0].source.startswith("# Exploring ../data.csv")
    assert [cell.source for cell in notebook.cells if cell.cell_type == "markdown"][1:4] == [
        "## 1. Summary statistics",
        "## 2. Mean of b by kind",
        "## 3. Plot b against a",
    ]
    # The load cell, then each step's final code: the failed `.means()` left no cell.
    code = _code_of(notebook)
    assert code[0] == "import pandas as pd\n\ndf = pd.read_csv('../data.csv')\ndf.head()"
    assert code[1:] == [
        "print(df.describe())",
        "print(df.groupby('kind')['b'].mean())",
        PLOT.removeprefix("```python\n").removesuffix("\n```"),
    ]
    assert not any(".means()" in cell.source for cell in notebook.cells)
    means_output = notebook.cells[5].outputs[0]
    assert means_output.output_type == "stream" and "y    5.0" in means_output.text
    # The plot stays in the notebook, and the model was told what it shows.
    plot_outputs = notebook.cells[7].outputs
    assert any("image/png" in output.get("data", {}) for output in plot_outputs)
    summary_request = engine.history[-1].messages[-1]["content"]
    assert "matplotlib Figure" in summary_request and "title 'b by a'" in summary_request
    # The failed round's real error went to the model.
    correction = engine.history[3].messages[-1]["content"]
    assert "AttributeError" in correction and "means" in correction

    assert notebook.cells[-1].source == "## Summary\n\n" + SUMMARY
    assert report.summary.unverified == [] and not report.summary.asked_again

    # Restart kernel and run all cells: nbclient, a fresh kernel, no failing cell.
    assert report.reruns_clean is True and report.failing_cells == []


def test_the_rerun_check_finds_a_failing_cell(tmp_path):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("print(y)")]
    )
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    assert rerun_failures(tmp_path / "broken.ipynb") == [
        "cell 2: NameError: name 'y' is not defined"
    ]


def test_a_step_that_never_runs_cleanly_leaves_markdown_not_a_failing_cell(
    engine, client, tmp_path
):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue(
        "1. Mean of b by kind\n2. Summary statistics",
        BUGGY_MEANS,
        BUGGY_MEANS.replace("means", "meen"),
        STATS,
        SUMMARY.split("\n")[0],
    )
    report = explore_file(
        tmp_path / "data.csv", tmp_path / "failed.ipynb", client, _settings(tmp_path, max_rounds=2)
    )
    assert [step["status"] for step in report.steps] == ["failed", "done"]
    assert report.done.steps_failed == 1 and report.done.reason == "success"
    notebook = nbformat.read(report.path, as_version=4)
    failed = notebook.cells[3]
    assert failed.cell_type == "markdown"
    assert "did not run cleanly" in failed.source
    assert "AttributeError" in failed.source and ".meen()" in failed.source
    assert report.reruns_clean is True


def test_a_step_answered_in_prose_is_asked_again_for_its_code(engine, client, tmp_path):
    # Seen with qwen2.5-coder-1.5b on wine: "Check the data types of each column" was
    # answered with prose alone, and the step ended as failed with a round to spare.
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue(
        "1. Check the data types of each column",
        "The columns a and b are numeric and kind holds text labels, as expected.",
        "```python\nprint(df.dtypes)\n```",
        "- a is int64 and b is float64.",
    )
    report = explore_file(
        tmp_path / "data.csv", tmp_path / "prose.ipynb", client, _settings(tmp_path)
    )
    assert [step["status"] for step in report.steps] == ["done"]
    asked_again = engine.history[2].messages[-1]["content"]
    assert "```python" in asked_again
    notebook = nbformat.read(report.path, as_version=4)
    assert _code_of(notebook)[1] == "print(df.dtypes)"
    assert "float64" in notebook.cells[3].outputs[0]["text"]
    assert report.reruns_clean is True


def test_an_import_only_a_failed_round_made_is_kept_in_the_step_cell(engine, client, tmp_path):
    # Seen with qwen2.5-coder-1.5b on iris: round 1 imports pyplot and fails, the fix uses
    # `plt` without the import; it runs in the kernel, but not from the top.
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue(
        "1. Load the dataset into a DataFrame\n2. Print the first 5 rows of df\n"
        "3. Plot a histogram of b",
        "```python\nimport matplotlib.pyplot as plt\nplt.hist(df['nope'])\n```",
        "```python\nplt.hist(df['b'])\nplt.title('b')\nplt.show()\n```",
        "- b was plotted.",
    )
    report = explore_file(
        tmp_path / "data.csv", tmp_path / "plot.ipynb", client, _settings(tmp_path)
    )
    # The load cell loaded the data and showed its first rows: those steps are dropped.
    assert [step["title"] for step in report.steps] == ["Plot a histogram of b"]
    notebook = nbformat.read(report.path, as_version=4)
    assert _code_of(notebook)[1] == (
        "import matplotlib.pyplot as plt\nplt.hist(df['b'])\nplt.title('b')\nplt.show()"
    )
    assert report.reruns_clean is True, report.failing_cells


def test_the_user_stops_after_a_step(engine, client, kernel, tmp_path):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue(PLAN, STATS, "- b has a mean of 4.25.")
    exploration = Exploration(client, kernel, _settings(tmp_path))
    events = []
    for event in exploration.run("data.csv"):
        events.append(event)
        if isinstance(event, ev.StepEvent) and event.status == "done":
            exploration.stop_after_step()  # the user's stop, after step 1
    done = events[-1]
    assert isinstance(done, ev.ExplorationDoneEvent)
    assert done.reason == "stopped" and done.steps_done == 1
    assert [step.status for step in exploration.steps] == ["done", "stopped", "stopped"]
    # Step 2 was never asked for; the summary of step 1 was.
    assert len(engine.history) == 3
    assert (
        "Mean of b by kind"
        not in engine.history[-1].messages[-1]["content"].split("ran these steps")[1]
    )
    assert [cell.source for cell in exploration.cells if cell.kind == "code"][1:] == [
        "print(df.describe())"
    ]
    assert exploration.cells[-1].source == "## Summary\n\n- b has a mean of 4.25."


def test_remaining_steps_can_be_edited_and_dropped(engine, client, kernel, tmp_path):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue(PLAN, STATS, MEANS, "- Kind y averages 5.0.")
    exploration = Exploration(client, kernel, _settings(tmp_path))
    for event in exploration.run("data.csv"):
        if isinstance(event, ev.StepEvent) and event.step == 1 and event.status == "done":
            exploration.replace_remaining(["Mean b per kind, sorted"])  # step 3 dropped
    assert [step.title for step in exploration.steps] == [
        "Summary statistics",
        "Mean b per kind, sorted",
    ]
    assert (
        "Now do step 2 only: Mean b per kind, sorted" in (engine.history[2].messages[-1]["content"])
    )


def test_the_plan_is_reviewed_before_any_step_runs(engine, client, kernel, tmp_path):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue(PLAN, MEANS, "- Kind y averages 5.0.")
    shown = []

    def review(steps):
        shown.append(list(steps))
        return ["Mean of b by kind"]  # steps 1 and 3 dropped

    exploration = Exploration(client, kernel, _settings(tmp_path), review_plan=review)
    events = list(exploration.run("data.csv"))
    assert shown == [["Summary statistics", "Mean of b by kind", "Plot b against a"]]
    assert events[-1].reason == "success" and events[-1].steps_done == 1
    assert exploration.cells[0].source.endswith("The plan:\n\n1. Mean of b by kind")
    assert "Now do step 1 only: Mean of b by kind" in engine.history[1].messages[-1]["content"]


def test_a_plan_refused_at_review_runs_nothing(engine, client, kernel, tmp_path):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue(PLAN)
    exploration = Exploration(client, kernel, _settings(tmp_path), review_plan=lambda _: None)
    events = list(exploration.run("data.csv"))
    assert events[-1].reason == "stopped" and events[-1].steps_done == 0
    assert len(engine.history) == 1


def test_a_summary_with_invented_numbers_is_sent_back_once_then_flagged(
    engine, client, kernel, tmp_path
):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue("1. Mean of b by kind", MEANS, INVENTED, INVENTED)
    exploration = Exploration(client, kernel, _settings(tmp_path))
    summary = next(
        event for event in exploration.run("data.csv") if isinstance(event, ev.SummaryEvent)
    )
    asked_again = engine.history[-1].messages[-1]["content"]
    assert "appear in no output: 99.5" in asked_again
    assert summary.asked_again and summary.unverified == ["99.5"]
    assert summary.text == (
        "## Summary\n\n- Kind y averages 5.0.\n- Kind x has a mean b of 99.5 [not in any output]."
    )


def test_a_corrected_summary_is_kept_as_it_is(engine, client, kernel, tmp_path):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue("1. Mean of b by kind", MEANS, INVENTED, "- Kind x averages 3.5, y 5.0.")
    exploration = Exploration(client, kernel, _settings(tmp_path))
    summary = next(
        event for event in exploration.run("data.csv") if isinstance(event, ev.SummaryEvent)
    )
    assert summary.asked_again and summary.unverified == []
    assert summary.text == "## Summary\n\n- Kind x averages 3.5, y 5.0."


def test_a_missing_data_file_is_a_clear_error_before_any_request(engine, client, tmp_path):
    with pytest.raises(ExplorationError, match="no such data file: .*missing.csv"):
        explore_file(tmp_path / "missing.csv", tmp_path / "x.ipynb", client, _settings(tmp_path))
    assert engine.history == []
    assert not (tmp_path / "x.ipynb").exists()


def test_a_missing_variable_or_unknown_format_is_a_clear_error(engine, client, kernel, tmp_path):
    exploration = Exploration(client, kernel, _settings(tmp_path))
    with pytest.raises(ExplorationError, match="no variable 'sales'"):
        list(exploration.run("sales"))
    (tmp_path / "data.bin").write_text("x")
    with pytest.raises(ExplorationError, match="cannot tell how to read 'data.bin'"):
        list(Exploration(client, kernel, _settings(tmp_path)).run("data.bin"))
    assert engine.history == []


def test_a_target_or_file_name_posing_as_code_runs_nothing(engine, client, kernel, tmp_path):
    # The target reaches code only as a checked identifier or as a file name quoted by repr.
    with pytest.raises(ExplorationError, match="no such data file"):
        list(Exploration(client, kernel, _settings(tmp_path)).run("df; open('pwned', 'w')"))
    name = "x'); open('pwned', 'w'); ('.csv"
    (tmp_path / name).write_text(DATA)
    code = load_code(name, "frame")
    (assignment,) = [node for node in ast.parse(code).body if isinstance(node, ast.Assign)]
    assert assignment.value.args[0].value == name
    result = kernel.run(code + "\nprint(len(frame))", timeout=30)
    assert result.ok and "4" in result.outputs[-1].text
    assert not (tmp_path / "pwned").exists()
    assert engine.history == []


def test_a_garbled_plan_is_asked_again_once_then_a_clear_error(engine, client, kernel, tmp_path):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue("Sure! Let's look at the data.", "```python\nprint(df)\n```")
    exploration = Exploration(client, kernel, _settings(tmp_path))
    with pytest.raises(ExplorationError, match="plan has no numbered steps"):
        list(exploration.run("data.csv"))
    assert len(engine.history) == 2
    assert "numbered list" in engine.history[1].messages[-1]["content"]


def test_an_existing_dataframe_is_explored_by_its_name(engine, client, kernel, tmp_path):
    kernel.run("import pandas as pd\nsales = pd.DataFrame({'units': [3, 5, 7]})")
    engine.enqueue(
        "1. Total units", "```python\nprint(sales['units'].sum())\n```", "- 15 units were sold."
    )
    exploration = Exploration(client, kernel, _settings(tmp_path))
    events = list(exploration.run("sales"))
    assert events[-1].reason == "success"
    assert [cell.source for cell in exploration.cells if cell.kind == "code"] == [
        "print(sales['units'].sum())"
    ]
    assert "the data is in `sales`" in engine.history[1].messages[-1]["content"]
    assert exploration.cells[-1].source.endswith("- 15 units were sold.")


def test_parse_plan_reads_numbered_lists_only():
    text = "Plan:\n1) Look at **dtypes**:\nStep 2. Count missing values\n```\n3. no\n```\n- x"
    assert parse_plan(text) == ["Look at dtypes", "Count missing values"]
    assert parse_plan("No list here.") == []
    assert len(parse_plan("\n".join(f"{n}. step {n}" for n in range(1, 10)), limit=4)) == 4


def test_check_numbers_finds_rounded_cut_and_percent_values():
    outputs = "mean 3.758667\ncount 150\nshare 0.3333\ntotal 12345"
    summary = (
        "1. Mean 3.76 (rounded), 3.75 (cut), 150 rows, 33% share, 12,345 in all.\n"
        "2. In step 2, col_2 rises by 6.1."
    )
    check = check_numbers(summary, outputs)
    assert check.unverified == ["6.1"]
    assert flag_unverified(summary, check.unverified).endswith("6.1 [not in any output].")
    assert json.dumps(check_numbers("nothing numeric", outputs).unverified) == "[]"


def _run_cli(tmp_path, engine, *arguments: str):
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOCODER_")}
    env.update(
        AUTOCODER_ENGINE_URL=engine.base_url,
        AUTOCODER_API_KEY=engine.api_key,
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")])),
    )
    return subprocess.run(
        [sys.executable, "-m", "jupyter_autocoder.cli", "explore", *arguments],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
    )


def test_the_explore_command_writes_the_notebook_and_says_it_reruns_clean(engine, tmp_path):
    (tmp_path / "data.csv").write_text(DATA)
    engine.enqueue("1. Mean of b by kind", BUGGY_MEANS, MEANS, "- Kind y averages 5.0.")
    done = _run_cli(tmp_path, engine, "data.csv", "--output", "nb/data.ipynb", "--json")
    assert done.returncode == 0, done.stderr
    assert "plan for ../data.csv:\n  1. Mean of b by kind" in done.stderr
    assert "  round 2" in done.stderr
    report = json.loads(done.stdout)
    assert report["reruns_clean"] is True and report["code_cells"] == 2
    assert report["done"]["rounds"] == 2 and report["steps"] == [
        {"title": "Mean of b by kind", "status": "done"}
    ]
    notebook = nbformat.read(tmp_path / "nb" / "data.ipynb", as_version=4)
    assert _code_of(notebook)[1] == "print(df.groupby('kind')['b'].mean())"


def test_the_explore_command_refuses_a_missing_file_before_the_model(engine, tmp_path):
    done = _run_cli(tmp_path, engine, "nothere.csv", "--output", "x.ipynb")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: no such data file: nothere.csv"
    done = _run_cli(tmp_path, engine, "nothere.csv", "--output", "x.txt")
    assert "error: no such data file" in done.stderr
    (tmp_path / "d.csv").write_text(DATA)
    done = _run_cli(tmp_path, engine, "d.csv", "--output", "x.txt")
    assert done.stderr.strip() == "error: the output must be a .ipynb file, not x.txt"
    assert engine.history == []
