"""`%%autocoder --explore` in a real kernel with the scripted model: the plan and the steps
shown in the cell's output, a failing step corrected, the summary, the steps' code written
into one new cell that runs; the notebook reruns clean in a fresh kernel (nbclient); a
missing file or an empty cell is a usage error."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from .conftest import clean_environment, python_path

DATA = "a,b,kind\n1,2.5,x\n2,3.5,y\n3,4.5,x\n4,6.5,y\n"
PLAN = "1. Summary statistics\n2. Mean of b by kind"
STATS = "```python\nprint(df.describe())\n```"
BUGGY = "```python\nprint(df.groupby('kind')['b'].means())\n```"
MEANS = "```python\nprint(df.groupby('kind')['b'].mean())\n```"
SUMMARY = "- The mean of b is 4.25; kind y averages 5.0."
CELL = "%%autocoder --explore --rounds 3\nexplore data.csv"
WRITTEN = (
    "import pandas as pd\n\ndf = pd.read_csv('data.csv')\ndf.head()\n\n"
    "# 1. Summary statistics\nprint(df.describe())\n\n"
    "# 2. Mean of b by kind\nprint(df.groupby('kind')['b'].mean())\n"
)


def test_explore_in_the_magic_runs_the_plan_and_writes_the_steps_code(
    nb, script, kernel_dirs, engine, tmp_path
):
    (kernel_dirs["work"] / "data.csv").write_text(DATA)
    script.enqueue(PLAN, STATS, BUGGY, MEANS, SUMMARY)
    run = nb.execute(CELL, timeout=120)
    assert run.status == "ok", run.text
    text = run.text
    assert "The plan for data.csv:\n1. Summary statistics\n2. Mean of b by kind" in text
    assert "Step 2 of 2: Mean of b by kind" in text
    assert "y    5.0" in text  # the step's real output, in the cell
    assert "## Summary\n\n" + SUMMARY in text
    assert "2 of 2 steps ran cleanly. 3 rounds" in text
    assert not any(output["output_type"] == "error" for output in run.outputs)
    assert run.new_cell == WRITTEN
    assert nb.execute(run.new_cell).status == "ok"

    # Restart kernel and run all cells: the magic explores again (the same answers), the
    # written cell runs; nbclient raises at a failing cell, and no output is an error.
    engine.enqueue(PLAN, STATS, BUGGY, MEANS, SUMMARY)
    (tmp_path / "data.csv").write_text(DATA)
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(source)
            for source in ("%load_ext jupyter_autocoder", CELL, WRITTEN.rstrip("\n"))
        ]
    )
    env = clean_environment(
        PYTHONPATH=python_path(),
        AUTOCODER_ENGINE_URL=engine.base_url,
        AUTOCODER_API_KEY=engine.api_key,
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter"),
    )
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute(env=env, cwd=str(tmp_path))
    assert [
        output
        for cell in notebook.cells
        for output in cell.outputs
        if output.output_type == "error"
    ] == []


def test_explore_a_missing_file_or_nothing_is_a_usage_error(nb, script):
    run = nb.execute("%%autocoder --explore\nexplore nothere.csv")
    assert run.ename == "UsageError" and "no such data file: nothere.csv" in run.text
    run = nb.execute("%%autocoder --explore\nexplore")
    assert run.ename == "UsageError" and "name one data file or DataFrame" in run.text
    assert script.asked == []


def test_explore_with_review_runs_the_steps_the_user_keeps(nb, script, kernel_dirs):
    (kernel_dirs["work"] / "data.csv").write_text(DATA)
    script.enqueue(PLAN, MEANS, "- Kind y averages 5.0.")
    run = nb.execute(
        "%%autocoder --explore --review\nexplore data.csv", answers=("2",), timeout=120
    )
    assert run.status == "ok", run.text
    assert run.prompts and run.prompts[0].startswith("Run this plan?")
    assert "The plan for data.csv:\n1. Mean of b by kind" in run.text  # after the review
    assert "1 of 1 steps ran cleanly." in run.text
    assert "describe" not in run.new_cell
    assert len(script.asked) == 3


def test_explore_with_review_stops_when_the_user_says_no(nb, script, kernel_dirs):
    (kernel_dirs["work"] / "data.csv").write_text(DATA)
    script.enqueue(PLAN)
    run = nb.execute("%%autocoder --explore --review\nexplore data.csv", answers=("n",))
    assert run.status == "ok", run.text
    assert "Stopped at the plan, as asked." in run.text
    assert len(script.asked) == 1
