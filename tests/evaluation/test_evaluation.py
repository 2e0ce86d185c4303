"""Evaluation: examples from the prompt are the only feedback; hidden tests only score."""

from __future__ import annotations

import json

import pytest

from jupyter_autocoder.evaluation import (
    ExampleVerifier,
    Task,
    evaluate,
    examples_check_code,
    extract_examples,
    load_humaneval,
    load_task_file,
    scoring_program,
)
from jupyter_autocoder.llm.client import ModelClient

ADD_PROMPT = '''def add(a, b):
    """Add two numbers.
    >>> add(2, 3)
    5
    For example, add(-1, 1) returns 0.
    """
'''
SQUARE_PROMPT = '''def square(x):
    """Return x multiplied by itself."""
'''


def fence(code: str) -> str:
    return f"```python\n{code}\n```"


@pytest.fixture
def task_file(tmp_path):
    rows = [
        {
            "task_id": "demo/add",
            "prompt": ADD_PROMPT,
            "entry_point": "add",
            "test": (
                "# HIDDEN_TEST_MARKER\ndef check(candidate):\n    assert candidate(10, 5) == 15\n"
            ),
        },
        {
            "task_id": "demo/square",
            "prompt": SQUARE_PROMPT,
            "test": "# HIDDEN_TEST_MARKER\nassert square(12) == 144\n",
        },
    ]
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def test_evaluate_reports_one_shot_and_loop_and_never_shows_the_hidden_tests(engine, task_file):
    tasks = load_task_file(str(task_file))
    assert [t.entry_point for t in tasks] == ["add", "square"]
    assert [(e.call, e.expected) for e in tasks[0].examples] == [
        ("add(2, 3)", "5"),
        ("add(-1, 1)", "0"),
    ]
    assert tasks[1].examples == []
    engine.enqueue(
        fence("def add(a, b):\n    return a - b"),  # wrong: the prompt's examples catch it
        fence("def add(a, b):\n    return a + b"),
        fence("def square(x):\n    return x * x"),  # right; no examples, so one re-check round
        fence("def square(x):\n    return x * x"),
    )
    seen = []
    with ModelClient(engine.base_url, engine.api_key, model="scripted") as client:
        report = evaluate(tasks, client, rounds=3, progress=seen.append, timeout=20)

    assert report["tasks"] == 2 and report["rounds"] == 3
    assert report["passed"] == {"one_shot": 1, "loop": 2}
    assert report["pass@1"] == {"one_shot": 0.5, "loop": 1.0}
    assert (report["loop_fixed"], report["loop_broke"]) == (1, 0)
    add, square = report["per_task"]
    assert (add["passed_one_shot"], add["passed_loop"], add["rounds"]) == (False, True, 2)
    assert (square["passed_one_shot"], square["passed_loop"], square["rounds"]) == (True, True, 2)
    assert report["completion_tokens"] > 0 and report["mean_rounds"] == 2.0
    assert [r["task_id"] for r in seen] == ["demo/add", "demo/square"]
    json.dumps(report)

    sent = json.dumps([request.messages for request in engine.history])
    assert "HIDDEN_TEST_MARKER" not in sent and "candidate(10, 5)" not in sent
    feedback = engine.history[1].messages[-1]["content"]
    assert "add(2, 3) returned -1, but the task says 5" in feedback
    recheck = engine.history[3].messages[-1]["content"]
    assert "Check it once more" in recheck


def test_humaneval_loads_with_examples():
    tasks = load_humaneval()
    assert len(tasks) == 164
    first = tasks[0]
    assert first.task_id == "HumanEval/0" and first.entry_point == "has_close_elements"
    assert [(e.call, e.expected) for e in first.examples] == [
        ("has_close_elements([1.0, 2.0, 3.0], 0.5)", "False"),
        ("has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)", "True"),
    ]
    assert sum(1 for task in tasks if task.examples) >= 120
    assert all("def check(" not in task.prompt for task in tasks)


def test_prose_examples_and_definitions():
    prompt = '''def f(lst, n):
    """
    Examples:
        f([1, 2], 3) == 6
        f([], 1) -> 0
        f([5], 2) ➞ 10
        f([2], 2) should return 4
        f(x, n) = f(x, n - 1) + 1
    for example: f([1,2,3], 0) # => 0
    """
'''
    pairs = [(e.call, e.expected) for e in extract_examples(prompt, "f")]
    assert pairs == [
        ("f([1, 2], 3)", "6"),
        ("f([], 1)", "0"),
        ("f([5], 2)", "10"),
        ("f([2], 2)", "4"),
        ("f([1,2,3], 0)", "0"),
    ]


def test_examples_in_other_prose_styles():
    prompt = '''def g(arr, k):
    """
    g([1], 2) ==> true
    g([3], 4) => False
    >>> g([5], 6) == [5, 6]
    For arr = [1, 2], k = 3, the output should be 7.
    For k = 1, arr = [9], the sum is 10 the result should be 10
    Example 1:
        Input: arr = [4, 2], k = 0
        Output: [2, 4]
    Example 2:
        Input: [1, 1]
        Output: nothing at all
    """
'''
    pairs = [(e.call, e.expected) for e in extract_examples(prompt, "g")]
    assert pairs == [
        ("g([5], 6)", "[5, 6]"),
        ("g([1], 2)", "True"),
        ("g([3], 4)", "False"),
        # Named inputs become positional, in the signature's order: a solution may rename them.
        ("g([1, 2], 3)", "7"),
        ("g([9], 1)", "10"),
        ("g([4, 2], 0)", "[2, 4]"),
    ]


def test_examples_of_humaneval_hold_for_the_reference_solutions():
    """The extractor reads what the prompts say: every example it finds holds for the
    reference solution, except where HumanEval's own docstrings are wrong."""
    import gzip
    import subprocess
    import sys

    from jupyter_autocoder.evaluation.tasks import humaneval_data_file

    solutions = {}
    with gzip.open(humaneval_data_file(), "rt") as file:
        for line in file:
            row = json.loads(line)
            solutions[row["task_id"]] = row["canonical_solution"]
    wrong_in_the_dataset = {
        "HumanEval/47",  # median([-10, 4, 6, 1000, 10, 20]) is 8.0, not 15.0
        "HumanEval/116",  # its examples sort plainly; the task sorts by the count of ones
        "HumanEval/130",  # "tri(4) = 3" is a term of the sequence; the function returns a list
        "HumanEval/148",  # ("Venus") is a string; the function returns a tuple
    }
    failing = {}
    for task in load_humaneval():
        if not task.examples:
            continue
        program = task.prompt + solutions[task.task_id] + "\n" + examples_check_code(task.examples)
        run = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
        )
        last_line = run.stdout.strip().splitlines()[-1]
        failures = json.loads(last_line.removeprefix("__AUTOCODER_EXAMPLES__"))
        if failures:
            failing[task.task_id] = failures
    assert set(failing) == wrong_in_the_dataset, failing


def test_best_attempt_is_the_one_that_failed_fewest_examples(kernel):
    task = Task(
        "demo/double",
        "def double(x):\n",
        "",
        "double",
        extract_examples(
            '''def double(x):
    """
    >>> double(1)
    2
    >>> double(2)
    4
    >>> double(0)
    0
    """''',
            "double",
        ),
    )
    verifier = ExampleVerifier(task, timeout=20)
    attempts = [
        "def double(x):\n    return x + 1",  # passes double(1) only
        "def double(x):\n    return x * 2 if x else 1",  # fails double(0) only
        "def double(x):\n    raise ValueError('no')",  # fails them all
    ]
    verdicts = []
    for number, code in enumerate(attempts, 1):
        result = kernel.run(code)
        verdicts.append(verifier(code, result, kernel, number))
    assert not any(verdict.accepted or verdict.recheck for verdict in verdicts)
    assert "double(0) returned 1, but the task says 0" in verdicts[1].feedback
    assert verifier.best_attempt(attempts) == attempts[1]
    assert verifier.best_attempt(["def double(x):\n    return 0"]) is None  # never checked


def test_without_examples_the_verifier_asks_for_one_recheck_then_accepts():
    task = Task("demo/square", SQUARE_PROMPT, "", "square")
    verifier = ExampleVerifier(task, max_rounds=3)
    code = "def square(x):\n    return x * x"
    first = verifier(code, None, None, 1)  # no examples: the executor is not used
    assert first.recheck and "Check it once more" in first.feedback
    assert verifier(code, None, None, 2).accepted
    assert verifier.answer(code + "\nassert square(3) == 9\n").endswith("== 9\n")  # as given


def test_with_self_test_the_verifier_asks_for_the_model_s_own_test_then_accepts():
    task = Task("demo/square", SQUARE_PROMPT, "", "square")
    verifier = ExampleVerifier(task, max_rounds=3, self_test=True)
    code = "def square(x):\n    return x * x"
    first = verifier(code, None, None, 1)
    assert first.recheck and "calls `square`" in first.feedback and "assert" in first.feedback
    tested = code + "\nassert square(3) == 9\n"
    assert verifier(tested, None, None, 2).accepted
    assert verifier.answer(tested) == code + "\n"  # scored without the model's own test


def test_scoring_program_calls_check_only_when_the_test_defines_it(task_file):
    add, square = load_task_file(str(task_file))
    program = scoring_program(add, "def add(a, b):\n    return a + b")
    assert program.rstrip().endswith("check(add)")
    assert "check(" not in scoring_program(square, "def square(x):\n    return x * x")
