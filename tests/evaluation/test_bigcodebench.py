"""BigCodeBench's data-science tasks: the model gets `instruct_prompt`; the hidden
`TestCases` run with unittest in a fresh process, and a task passes when all of them pass."""

from __future__ import annotations

import json

import pytest

from jupyter_autocoder.cli import main
from jupyter_autocoder.evaluation import (
    check_reference,
    detect_format,
    evaluate,
    load_bigcodebench,
    load_tasks,
    score,
    task_request,
)
from jupyter_autocoder.evaluation.tasks import DATA_DIR, UNITTEST
from jupyter_autocoder.llm.client import ModelClient

TASKS = load_bigcodebench()
BY_ID = {task.task_id: task for task in TASKS}
# A few tasks per library, for CI: the whole set is `jupyter-autocoder eval bigcodebench-ds
# --check-references` (about four minutes on two cores).
SAMPLE = [
    "BigCodeBench/948",  # numpy, scikit-learn
    "BigCodeBench/897",  # numpy, matplotlib, random
    "BigCodeBench/1",  # collections, random, string
]


def sample_ids() -> list[str]:
    """The sample above plus the first task of each library that it lacks."""
    chosen = [task_id for task_id in SAMPLE if task_id in BY_ID]
    covered = {library for task_id in chosen for library in BY_ID[task_id].libraries}
    for task in TASKS:
        missing = set(task.libraries) - covered
        if missing & {"pandas", "scipy", "seaborn", "sklearn", "matplotlib", "datetime"}:
            chosen.append(task.task_id)
            covered |= set(task.libraries)
    return chosen


def test_the_shipped_subset_loads_as_unittest_tasks():
    assert len(TASKS) == 110 and load_tasks("bigcodebench-ds") == TASKS
    assert detect_format(DATA_DIR / "bigcodebench-ds-dev.jsonl") == "bigcodebench"
    assert all(task.kind == UNITTEST for task in TASKS)
    assert all("class TestCases" in task.test and task.reference for task in TASKS)
    libraries = {library for task in TASKS for library in task.libraries}
    assert {"pandas", "numpy", "sklearn", "matplotlib", "scipy", "seaborn"} <= libraries


def test_the_model_is_given_the_instruct_prompt_and_nothing_of_the_test_or_reference():
    for task in TASKS:
        request = task_request(task)
        assert task.prompt.strip() in request
        assert "TestCases" not in request and "canonical" not in request
        body = task.reference.split("\n", task.reference.count("\n") // 2)[-1].strip()
        assert body not in request


@pytest.mark.parametrize("task_id", sample_ids())
def test_references_pass_with_the_installed_libraries(task_id):
    assert check_reference(BY_ID[task_id])


def test_a_task_passes_only_when_all_of_its_tests_pass():
    task = BY_ID["BigCodeBench/948"]
    assert score(task, task.reference)
    # Right shape, but values outside [0, 1]: the tests that check the range fail.
    unscaled = (
        "import numpy as np\n"
        "def task_func(rows=3, columns=2, seed=42):\n"
        "    np.random.seed(seed)\n"
        "    return np.random.rand(rows, columns) * 10\n"
    )
    assert not score(task, unscaled)
    assert not score(task, "def task_func(rows=3, columns=2, seed=42):\n    raise ValueError\n")
    assert not score(task, "")


def test_evaluate_runs_a_bigcodebench_task_with_the_loop(engine):
    task = BY_ID["BigCodeBench/948"]
    wrong = "def task_func(rows=3, columns=2, seed=42):\n    return undefined_name"
    engine.enqueue(
        f"```python\n{wrong}\nprint(task_func())\n```",  # the run's NameError is the feedback
        f"```python\n{task.reference}\n```",
        f"```python\n{task.reference}\n```",  # the re-check round: unchanged
    )
    with ModelClient(engine.base_url, engine.api_key, model="scripted") as client:
        report = evaluate([task], client, rounds=3, seed=5)
    record = report["per_task"][0]
    assert (record["passed_one_shot"], record["passed_loop"], record["rounds"]) == (False, True, 3)
    # What the model was told (its own answers aside): nothing of the test or the reference.
    told = json.dumps(
        [m for request in engine.history for m in request.messages if m["role"] != "assistant"]
    )
    assert "TestCases" not in told and "scaler = MinMaxScaler()" not in told
    assert "NameError" in engine.history[1].messages[-1]["content"]
    assert all(request.body.get("seed") == 5 for request in engine.history)


def test_check_references_on_the_command_line(capsys):
    assert (
        main(
            [
                "eval",
                "bigcodebench-ds",
                "--only",
                "BigCodeBench/948",
                "--check-references",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["checked"], report["passed"], report["failed"]) == (1, 1, [])
