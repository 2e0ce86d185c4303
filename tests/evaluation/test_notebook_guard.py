"""The notebook evaluation records which of a task's own variables the model's code changed
unasked, before and after it was told (the guard's findings in the magic's trace), and the
report counts them; with the scripted model in real kernels."""

from __future__ import annotations

from jupyter_autocoder.evaluation import Task, evaluate
from jupyter_autocoder.evaluation.tasks import NOTEBOOK
from jupyter_autocoder.llm.client import ModelClient

VISITS = Task(
    task_id="demo/by_day",
    prompt="log has a column 'when' of date strings and a column 'visits'. Compute the mean "
    "visits per weekday into a Series by_day.",
    setup=(
        "import pandas as pd\n"
        "log = pd.DataFrame({'when': ['2024-01-01', '2024-01-02', '2024-01-08'], "
        "'visits': [3, 4, 5]})"
    ),
    test="assert by_day['Monday'] == 4.0, by_day",
    kind=NOTEBOOK,
)
DOUBLED = Task(
    task_id="demo/doubled",
    prompt="Put the values of numbers times two into the list doubled.",
    setup="numbers = [1, 2, 3]",
    test="assert doubled == [2, 4, 6], doubled",
    kind=NOTEBOOK,
)
IN_PLACE = (
    "```python\nlog['when'] = pd.to_datetime(log['when'])\n"
    "by_day = log.groupby(log['when'].dt.day_name())['visits'].mean()\n```"
)
ON_A_COPY = (
    "```python\ndays = pd.to_datetime(log['when']).dt.day_name()\n"
    "by_day = log['visits'].groupby(days).mean()\n```"
)


def test_strict_records_the_change_before_the_feedback_and_none_after(engine):
    engine.enqueue(IN_PLACE, ON_A_COPY, "```python\ndoubled = [2 * n for n in numbers]\n```")
    with ModelClient(engine.base_url, engine.api_key, model="scripted") as client:
        report = evaluate([VISITS, DOUBLED], client, rounds=3, variable_guard="strict")

    visits, doubled = report["per_task"]
    assert visits["passed_loop"] is True and visits["rounds"] == 2
    assert visits["touched"] == {
        "rounds": {"1": ["log"]},
        "first": ["log"],
        "told_round": 1,
        "after_feedback": [],
    }
    assert doubled["touched"] is None
    assert report["variable_guard"] == {
        "tasks": 2,
        "touched": 1,
        "touched_first": 1,
        "told": 1,
        "touched_after_feedback": 0,
    }
    # the model was told in the magic's own words
    told = engine.history[1].messages[-1]["content"]
    assert "your code changed `log`: column `when` converted from" in told


def test_warn_records_a_change_the_model_is_not_told_of_within_the_turn(engine):
    engine.enqueue(IN_PLACE)
    with ModelClient(engine.base_url, engine.api_key, model="scripted") as client:
        report = evaluate([VISITS], client, rounds=3)

    (visits,) = report["per_task"]
    assert visits["rounds"] == 1 and visits["passed_loop"] is True
    assert visits["touched"]["first"] == ["log"] and visits["touched"]["told_round"] is None
    assert report["variable_guard"]["touched_first"] == 1
    assert report["variable_guard"]["told"] == 0
