"""Notebook-state tasks: `%%autocoder` in a real kernel, the kernel's state scored by the
hidden test in the same kernel; the shipped tasks each solvable by their reference."""

from __future__ import annotations

import json

import pytest

from jupyter_autocoder.agent.requested import expected_results, requested_forms
from jupyter_autocoder.agent.results import mismatches
from jupyter_autocoder.cli import main
from jupyter_autocoder.errors import TaskFileError
from jupyter_autocoder.evaluation import (
    EvalOptions,
    Task,
    evaluate,
    load_notebook_tasks,
    load_tasks,
)
from jupyter_autocoder.evaluation.notebook import magic_cell, score_in_fresh_kernel
from jupyter_autocoder.evaluation.tasks import DATA_DIR, NOTEBOOK
from jupyter_autocoder.llm.client import ModelClient

SHIPPED = load_notebook_tasks()

MONTHLY = Task(
    task_id="demo/monthly",
    prompt="Compute the total amount per calendar month into a Series monthly indexed by month.",
    setup=(
        "import pandas as pd\n"
        "sales = pd.DataFrame({'date': ['2024-01-03', '2024-01-20', '2024-02-11'],"
        " 'amount': [1.0, 2.0, 5.0]})"
    ),
    test="# HIDDEN_TEST_MARKER\nassert list(monthly) == [3.0, 5.0], list(monthly)",
    kind=NOTEBOOK,
)
DOUBLED = Task(
    task_id="demo/doubled",
    prompt="Put the values of numbers times two into the list doubled.",
    setup="numbers = [1, 2, 3]",
    test="# HIDDEN_TEST_MARKER\nassert doubled == [2, 4, 6], doubled",
    kind=NOTEBOOK,
)


def fence(code: str) -> str:
    return f"```python\n{code}\n```"


def test_the_shipped_notebook_tasks_are_twenty_and_more_with_references():
    assert len(SHIPPED) >= 24
    assert len({task.task_id for task in SHIPPED}) == len(SHIPPED)
    assert all(task.kind == NOTEBOOK and task.reference and task.test for task in SHIPPED)
    # The four examples of the format come first, as the format's own file has them.
    examples = load_tasks(str(DATA_DIR / "notebook-tasks-example.jsonl"))
    assert [task.task_id for task in SHIPPED[:4]] == [task.task_id for task in examples]
    assert load_tasks("notebook") == SHIPPED


def test_a_reference_scores_in_a_fresh_kernel_as_an_answer_does():
    task = next(task for task in SHIPPED if task.task_id == "nb/monthly_totals")
    assert score_in_fresh_kernel(task, task.reference).passed
    wrong = score_in_fresh_kernel(task, task.reference.replace("to_period('M')", "month"))
    assert not wrong.passed and "AssertionError" in wrong.failure


@pytest.mark.parametrize("task", SHIPPED, ids=[task.task_id for task in SHIPPED])
def test_each_shipped_task_is_solved_by_its_reference_not_its_setup(task, kernel, tmp_path):
    """In a real kernel (the shared one, emptied): the hidden test fails after the setup
    alone, and passes after the setup and the reference."""
    assert kernel.run(task.setup, timeout=60).ok if task.setup else True
    assert not kernel.run(task.test, timeout=60).ok
    fresh = tmp_path / "again"
    fresh.mkdir()
    kernel.run(f"%reset -f\nimport os as _os\n_os.chdir({str(fresh)!r})\ndel _os")
    for cell in (task.setup, task.reference, task.test):
        result = kernel.run(cell, timeout=60)
        assert result.ok, (cell, result.error)
    # A right answer passes the loop's checks too: its requested names exist, and what they
    # hold matches the request's words.
    requested = expected_results(task.prompt)
    assert kernel.defined_names(requested.names) == set(requested.names)
    forms = requested_forms(task.prompt, requested.names)
    assert mismatches(forms, kernel.describe_names(requested.names)) == []


def test_a_notebook_file_needs_a_prompt_and_a_test(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"task_id": "x", "setup": "a = 1", "prompt": "double a"}) + "\n")
    with pytest.raises(TaskFileError, match="tasks.jsonl:1: .*'prompt', 'test'.*missing.*test"):
        load_tasks(str(path))


def test_the_magic_carries_out_the_request_and_the_hidden_test_scores_the_kernel(engine):
    """Through `%%autocoder` in a real kernel: a result under another name is caught by the
    requested-names check and corrected; one-shot is the first answer replayed."""
    engine.enqueue(
        # Round 1 runs cleanly, with the total under another name.
        fence("monthly_total = sales.groupby(sales['date'].str[:7])['amount'].sum()"),
        fence("monthly = sales.groupby(sales['date'].str[:7])['amount'].sum()"),
        fence("doubled = [2 * n for n in numbers]"),
    )
    seen = []
    with ModelClient(engine.base_url, engine.api_key, model="scripted") as client:
        report = evaluate([MONTHLY, DOUBLED], client, rounds=3, seed=7, progress=seen.append)

    monthly, doubled = report["per_task"]
    assert (monthly["passed_one_shot"], monthly["passed_loop"], monthly["rounds"]) == (
        False,
        True,
        2,
    )
    assert monthly["done_reason"] == "success"
    assert "NameError" in monthly["failures"]["one_shot"]
    assert (doubled["passed_one_shot"], doubled["passed_loop"], doubled["rounds"]) == (
        True,
        True,
        1,
    )
    assert (report["loop_fixed"], report["loop_broke"]) == (1, 0)
    assert [record["task_id"] for record in seen] == ["demo/monthly", "demo/doubled"]

    requests = engine.history
    assert len(requests) == 3
    sent = json.dumps([request.messages for request in requests])
    assert "HIDDEN_TEST_MARKER" not in sent and "assert list(monthly)" not in sent
    # The magic's own message: the request, with the setup cell in the notebook context.
    first = requests[0].messages[-1]["content"]
    assert MONTHLY.prompt in first and "sales = pd.DataFrame" in first
    assert "`monthly` (not defined)" in requests[1].messages[-1]["content"]
    # The seed reached the engine through the kernel's configuration.
    assert all(request.body.get("seed") == 7 for request in requests)


def test_a_magic_cell_is_what_a_user_would_write():
    cell = magic_cell(MONTHLY, rounds=1, timeout=30)
    assert cell.splitlines()[0] == "%%autocoder --rounds 1 --install never --timeout 30"
    assert cell.splitlines()[1] == MONTHLY.prompt


def test_check_references_runs_each_reference_through_its_test(tmp_path, capsys):
    broken = {
        "task_id": "demo/broken",
        "prompt": "Put 1 in one.",
        "setup": "",
        "reference": "one = 2",
        "test": "assert one == 1",
    }
    rows = [json.loads(line) for line in (DATA_DIR / "notebook-tasks.jsonl").open()][:2]
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in [*rows, broken]) + "\n")
    assert main(["eval", str(path), "--check-references", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["checked"], report["passed"], report["failed"]) == (3, 2, ["demo/broken"])


def test_eval_options_carry_the_seed():
    assert EvalOptions(seed=3).seed == 3


SHARE = Task(
    task_id="demo/share",
    prompt="Put each store's share of the total revenue of shop into a Series share indexed by "
    "store, largest first.",
    setup=(
        "import pandas as pd\n"
        "shop = pd.DataFrame({'store': ['a', 'b', 'a', 'c'], 'revenue': [10.0, 5.0, 15.0, 20.0]})"
    ),
    test="# HIDDEN_TEST_MARKER\nassert list(share.index) == ['a', 'c', 'b'], list(share.index)",
    kind=NOTEBOOK,
)


def test_with_the_result_check_a_run_says_where_it_stood_before_the_check(engine):
    """One run gives one-shot, the loop as it stood before the result check (its answers
    replayed), and the loop with the check."""
    engine.enqueue(
        # Clean and rightly named: one row per sale, not per store.
        fence("share = shop['revenue'] / shop['revenue'].sum()"),
        fence(
            "share = shop.groupby('store')['revenue'].sum()\n"
            "share = (share / share.sum()).sort_values(ascending=False)"
        ),
        fence("doubled = [2 * n for n in numbers]"),
    )
    with ModelClient(engine.base_url, engine.api_key, model="scripted") as client:
        report = evaluate([SHARE, DOUBLED], client, rounds=3, check_results=True)
    share, doubled = report["per_task"]
    assert (share["passed_one_shot"], share["passed_before_check"]) == (False, False)
    assert (share["passed_loop"], share["check_round"], share["rounds"]) == (True, 1, 2)
    # A result that matches the request's words costs no answer and no replay.
    assert (doubled["passed_one_shot"], doubled["passed_loop"], doubled["rounds"]) == (
        True,
        True,
        1,
    )
    assert "passed_before_check" not in doubled
    assert report["result_check"] == {
        "asked": 1,
        "pass@1_before_check": 0.5,
        "passed_before_check": 1,
        "fixed": 1,
        "broke": 0,
    }
    told = engine.history[1].messages[-1]["content"]
    assert "`share` should be indexed as the request says" in told
    said = json.dumps([m for r in engine.history for m in r.messages if m["role"] != "assistant"])
    assert "HIDDEN_TEST_MARKER" not in said and "assert list(share.index)" not in said
