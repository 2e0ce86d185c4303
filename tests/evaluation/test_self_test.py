"""`eval --self-test`, a task without examples: after a clean run the model tests its own
function, a failed assertion is corrected like any error, and the test is left out of the
scored answer."""

from __future__ import annotations

import json

import pytest

from jupyter_autocoder.evaluation import evaluate, load_task_file
from jupyter_autocoder.evaluation.self_test import without_self_test
from jupyter_autocoder.llm.client import ModelClient

MEAN_PROMPT = '''def mean_of(values):
    """Return the arithmetic mean of a list of numbers, as a float."""
'''
RIGHT = "def mean_of(values):\n    return sum(values) / len(values)"
WRONG = "def mean_of(values):\n    return sum(values) // len(values)"


def fence(code: str) -> str:
    return f"```python\n{code}\n```"


@pytest.fixture
def mean_task(tmp_path):
    # The hidden test also checks that nothing of a self-test ran beside it: `checked` is
    # a name only the model's test below defines.
    test = (
        "assert mean_of([1, 2]) == 1.5\n"
        "assert mean_of([3]) == 3\n"
        "assert 'checked' not in globals(), 'the self-test ran with the hidden test'\n"
    )
    row = {"task_id": "demo/mean", "prompt": MEAN_PROMPT, "entry_point": "mean_of", "test": test}
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return load_task_file(str(path))


def run(engine, tasks, *answers, self_test=True):
    engine.enqueue(*answers)
    with ModelClient(engine.base_url, engine.api_key, model="scripted") as client:
        return evaluate(tasks, client, rounds=3, timeout=20, self_test=self_test)


def test_a_failed_self_test_is_corrected_and_the_test_is_not_scored(engine, mean_task):
    report = run(
        engine,
        mean_task,
        fence(WRONG),  # defines the function only: runs cleanly, proves nothing
        fence(WRONG + "\nchecked = mean_of([1, 2])\nassert checked == 1.5, checked"),
        fence(RIGHT + "\nchecked = mean_of([1, 2])\nassert checked == 1.5, checked"),
    )

    (record,) = report["per_task"]
    assert (record["passed_one_shot"], record["passed_loop"], record["rounds"]) == (
        False,
        True,
        3,
    )
    assert (report["loop_fixed"], report["loop_broke"]) == (1, 0)
    asked = engine.history[1].messages[-1]["content"]
    assert "calls `mean_of` on a small input you make up" in asked
    told = engine.history[2].messages[-1]["content"]
    assert "AssertionError" in told and "1" in told  # the model's own assertion, failed
    sent = json.dumps([request.messages for request in engine.history])
    assert "mean_of([3])" not in sent  # the hidden test never reaches the model


def test_a_wrong_self_test_does_not_break_a_right_first_answer(engine, mean_task):
    wrong_test = "\nassert mean_of([1, 2]) == 1, 'the model expects integer division'"
    report = run(
        engine, mean_task, fence(RIGHT), fence(RIGHT + wrong_test), fence(RIGHT + wrong_test)
    )

    (record,) = report["per_task"]
    # No tested answer ran cleanly: the last code that did (the first answer) is scored.
    assert (record["passed_one_shot"], record["passed_loop"]) == (True, True)
    assert report["loop_broke"] == 0 and record["done_reason"] == "max_rounds"
    assert report["self_test"] is True


def test_without_self_test_a_second_look_that_fails_keeps_the_clean_answer(engine, mean_task):
    broken = RIGHT + "\nraise ValueError('the second look broke it')"
    report = run(engine, mean_task, fence(RIGHT), fence(broken), fence(broken), self_test=False)

    (record,) = report["per_task"]
    asked = engine.history[1].messages[-1]["content"]
    assert "Check it once more" in asked and "make up" not in asked
    assert (record["passed_one_shot"], record["passed_loop"], report["loop_broke"]) == (
        True,
        True,
        0,
    )
    assert "self_test" not in report


def test_the_same_code_again_is_accepted_as_it_ran(engine, mean_task):
    report = run(engine, mean_task, fence(RIGHT), fence(RIGHT))

    (record,) = report["per_task"]
    assert (record["passed_loop"], record["rounds"], record["done_reason"]) == (True, 2, "success")


def test_without_self_test_keeps_definitions_imports_and_constants():
    code = '''import numpy as np
from collections import Counter

LABELS = ["a", "b"]


def helper(x):
    return x + 1


@staticmethod
def test_helper():
    assert helper(1) == 2


def task_func(n):
    """Counts."""
    assert n >= 0  # a check inside the function stays
    return Counter(range(n))


result = task_func(3)
print(result)
print("done")
assert len(result) == 3
for n in (1, 2):
    assert len(task_func(n)) == n
if __name__ == "__main__":
    print(task_func(2))
test_helper()
'''
    kept = without_self_test(code, "task_func")
    assert (
        kept
        == '''import numpy as np
from collections import Counter

LABELS = ["a", "b"]


def helper(x):
    return x + 1




def task_func(n):
    """Counts."""
    assert n >= 0  # a check inside the function stays
    return Counter(range(n))


print("done")
'''
    )


def test_without_self_test_leaves_code_without_a_test_or_that_does_not_parse_as_it_is():
    plain = "def task_func(n):\n    return n\n"
    assert without_self_test(plain, "task_func") == plain
    broken = "def task_func(n):\n    return n +\nassert task_func(1) == 1\n"
    assert without_self_test(broken, "task_func") == broken
