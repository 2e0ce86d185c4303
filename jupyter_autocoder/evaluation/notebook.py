"""Notebook-state tasks: the request carried out by `%%autocoder` in a real kernel, as a user
meets it, and the kernel's state afterwards scored by the task's hidden test.

    record = evaluate_notebook_task(task, client, options)

Each task gets a fresh kernel in a folder of its own. The kernel is configured as a user
configures the magic (an IPython profile with `c.AutoCoder` settings: the seed, the retry
temperature) and reaches the engine as a Jupyter server's kernels reach its proxy
(`AUTOCODER_ENGINE_URL`, `AUTOCODER_API_KEY`). Then, cell by cell: the task's `setup`,
`%load_ext jupyter_autocoder`, and `%%autocoder --rounds N --install never` with the
prompt as its body. The magic's own trace (in the kernel's Jupyter data folder) tells its
rounds and the code of its first answer. The hidden test then runs in the same kernel: the
loop's verdict. The one-shot verdict is the first answer's code run in another fresh kernel
after the setup, then the same test: what `--rounds 1` of the same path leaves (the first
answer is greedy), without asking the model again.

The test runs only after the magic's turn has ended, so the model never sees it.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agent.trace import read_trace
from ..errors import AutoCoderError
from ..executors.base import ExecutionResult
from ..executors.kernel import KernelExecutor
from .tasks import Task

if TYPE_CHECKING:
    from ..llm.client import ModelClient
    from .run import EvalOptions

log = logging.getLogger(__name__)

# Notebook cells fit models and draw figures: each run of the model's code gets at least
# this long, and the hidden test too.
CELL_TIMEOUT = 30.0
# A whole `%%autocoder` turn: the model's answers (up to 1024 tokens each) and the runs. A
# safety net, not a measure: on a loaded two-core machine (1 token/s) an answer took over
# 300 s, and a turn cut there is scored as it stood.
TURN_SECONDS_PER_ROUND = 900.0


class TaskSetupError(AutoCoderError):
    """A notebook task's setup failed in a fresh kernel: the task is broken, not the answer."""


@dataclass(frozen=True)
class KernelVerdict:
    """Whether the hidden test passed in a kernel, and why not (for the record, never for
    the model)."""

    passed: bool
    failure: str = ""


def profile_config(options: EvalOptions) -> str:
    """The IPython profile's `ipython_config.py`: the magic's settings, as a user sets them."""
    lines = ["c = get_config()  # noqa"]
    if options.retry_temperature is not None:
        lines.append(f"c.AutoCoder.retry_temperature = {options.retry_temperature!r}")
    if options.seed is not None:
        lines.append(f"c.AutoCoder.seed = {options.seed!r}")
    if options.check_results is not None:
        lines.append(f"c.AutoCoder.check_results = {options.check_results!r}")
    if options.variable_guard is not None:
        lines.append(f"c.AutoCoder.variable_guard = {options.variable_guard!r}")
    return "\n".join(lines) + "\n"


def task_kernel(folder: Path, environment: dict[str, str] | None = None) -> KernelExecutor:
    """A fresh kernel working in `folder/work`, with its own IPython and Jupyter folders."""
    work = folder / "work"
    work.mkdir(parents=True, exist_ok=True)
    env = {
        "IPYTHONDIR": str(folder / "ipython"),
        "JUPYTER_DATA_DIR": str(folder / "jupyter-data"),
        **(environment or {}),
    }
    return KernelExecutor(cwd=str(work), env=env).start()


def run_setup(kernel: KernelExecutor, task: Task, timeout: float) -> None:
    if not task.setup.strip():
        return
    result = kernel.run(task.setup, timeout=timeout)
    if not result.ok:
        raise TaskSetupError(f"{task.task_id}: the setup failed: {failure_text(result)}")


def score_in_kernel(kernel: KernelExecutor, task: Task, timeout: float) -> KernelVerdict:
    """The hidden test, run in `kernel` as it is now: passed when it raises nothing."""
    result = kernel.run(task.test, timeout=max(timeout, CELL_TIMEOUT))
    return KernelVerdict(result.ok, "" if result.ok else failure_text(result))


def score_in_fresh_kernel(
    task: Task, code: str | list[str], timeout: float = CELL_TIMEOUT
) -> KernelVerdict:
    """`code` (or several cells of it, in order) run after the task's setup in a fresh
    kernel, then the hidden test.

    An error in a cell does not end it: as in a notebook, what it defined before the error
    stays, and the test judges the state.
    """
    cells = [code] if isinstance(code, str) else list(code)
    if not any(cell.strip() for cell in cells):
        return KernelVerdict(False, "no code")
    with tempfile.TemporaryDirectory(prefix="autocoder-notebook-") as folder:
        kernel = task_kernel(Path(folder))
        try:
            run_setup(kernel, task, max(timeout, CELL_TIMEOUT))
            for cell in cells:
                kernel.run(cell, timeout=max(timeout, CELL_TIMEOUT))
            return score_in_kernel(kernel, task, timeout)
        finally:
            kernel.close()


def magic_cell(task: Task, rounds: int, timeout: float) -> str:
    """The `%%autocoder` cell a user would write for the task's request."""
    from .run import task_request

    return (
        f"%%autocoder --rounds {rounds} --install never --timeout {timeout:g}\n"
        f"{task_request(task)}\n"
    )


def evaluate_notebook_task(task: Task, client: ModelClient, options: EvalOptions) -> dict[str, Any]:
    """One notebook task through the magic in a real kernel; its record as `evaluate_task`
    gives it, with the tests' failures ("failures") for reading, never for the model."""
    started = time.perf_counter()
    timeout = max(options.timeout, CELL_TIMEOUT)
    error = ""
    turn = Turn()
    loop = KernelVerdict(False, "not run")
    with tempfile.TemporaryDirectory(prefix="autocoder-notebook-") as name:
        folder = Path(name)
        profile = folder / "ipython" / "profile_default"
        profile.mkdir(parents=True)
        (profile / "ipython_config.py").write_text(profile_config(options), encoding="utf-8")
        kernel = task_kernel(folder, engine_environment(client))
        try:
            run_setup(kernel, task, timeout)
            loaded = kernel.run("%load_ext jupyter_autocoder", timeout=timeout)
            if not loaded.ok:
                raise AutoCoderError(f"the extension did not load: {failure_text(loaded)}")
            result = kernel.run(
                magic_cell(task, options.rounds, timeout),
                timeout=TURN_SECONDS_PER_ROUND * options.rounds,
            )
            if not result.ok:
                error = f"the %%autocoder cell failed: {failure_text(result)}"
            turn = read_turn(folder / "jupyter-data", task, options.trace_dir)
            loop = score_in_kernel(kernel, task, timeout)
        except AutoCoderError as problem:
            error = str(problem)
        finally:
            kernel.close()
    first_code = turn.codes[0][1] if turn.codes and turn.codes[0][0] == 1 else ""
    if not first_code:
        # No code in the first answer: nothing was run, so nothing can pass one-shot.
        one_shot = KernelVerdict(False, "no code in the first answer")
    elif turn.rounds == 1 and not error:
        # The turn ended with the first answer: the loop's state is the one-shot state.
        one_shot = loop
    else:
        one_shot = score_in_fresh_kernel(task, first_code, timeout)
    verdicts = {"one_shot": one_shot, "loop": loop}
    if turn.check_round is not None:
        # Where the turn would have ended without the result check: the same answers up to
        # there (the check comes after them), replayed cell by cell.
        before = [code for number, code in turn.codes if number <= turn.check_round]
        verdicts["before_check"] = (
            one_shot if before == [first_code] else score_in_fresh_kernel(task, before, timeout)
        )
    failures = {name: verdict.failure for name, verdict in verdicts.items() if verdict.failure}
    return {
        "task_id": task.task_id,
        "passed_one_shot": one_shot.passed,
        "passed_loop": loop.passed,
        **(
            {
                "passed_before_check": verdicts["before_check"].passed,
                "check_round": turn.check_round,
            }
            if "before_check" in verdicts
            else {}
        ),
        "rounds": turn.rounds,
        "done_reason": turn.reason,
        "touched": touched_variables(turn),
        "examples": 0,
        "completion_tokens": turn.completion_tokens,
        "seconds": round(time.perf_counter() - started, 3),
        **({"failures": failures} if failures else {}),
        **({"error": error} if error else {}),
    }


def engine_environment(client: ModelClient) -> dict[str, str]:
    """How the kernel reaches the engine: as a Jupyter server's kernels reach its proxy."""
    environment = {"AUTOCODER_ENGINE_URL": client.base_url}
    if client.api_key:
        environment["AUTOCODER_API_KEY"] = client.api_key
    if client.model:
        environment["AUTOCODER_MODEL"] = client.model
    return environment


@dataclass
class Turn:
    """The magic's turn as its trace tells it."""

    rounds: int = 0
    reason: str = "error"
    completion_tokens: int = 0
    codes: list[tuple[int, str]] = field(default_factory=list)
    """(round, code) of each run of Python code, in order."""
    check_round: int | None = None
    """The round after whose clean run the result check was asked, if it was."""
    changed: dict[int, list[str]] = field(default_factory=dict)
    """Round -> the user's variables its run changed unasked (the guard's finding)."""


def touched_variables(turn: Turn) -> dict[str, Any] | None:
    """The task's own variables that the turn's code changed unasked, from the guard's
    findings in the trace: per round, in the first answer's run ("first"), the round after
    which the model was first told of a change ("told_round": a change in a round that has
    a later one is in that round's feedback), and the names changed after it
    ("after_feedback"). None when the code changed none."""
    if not turn.changed:
        return None
    ran = {number for number, _ in turn.codes}
    told = next((r for r in sorted(turn.changed) if any(later > r for later in ran)), None)
    later = [names for r, names in turn.changed.items() if told is not None and r > told]
    after = sorted({name for names in later for name in names})
    return {
        "rounds": {str(r): names for r, names in sorted(turn.changed.items())},
        "first": turn.changed.get(1, []),
        "told_round": told,
        "after_feedback": after,
    }


def read_turn(data_dir: Path, task: Task, keep_in: str | None = None) -> Turn:
    """The magic's turn from its trace (the kernel's Jupyter data folder).

    With `keep_in`, the trace is copied there as `<task id>.jsonl`.
    """
    traces = sorted((data_dir / "autocoder" / "traces").glob("*.jsonl"))
    if not traces:
        return Turn()
    path = traces[-1]
    if keep_in:
        target = Path(keep_in) / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', task.task_id)}.jsonl"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    records = read_trace(path)
    done = next((r for r in reversed(records) if r.get("type") == "done"), {})
    return Turn(
        rounds=int(done.get("rounds") or 0),
        reason=str(done.get("reason") or "error"),
        completion_tokens=int(done.get("completion_tokens") or 0),
        codes=[
            (int(r.get("round") or 0), str(r.get("code") or ""))
            for r in records
            if r.get("type") == "code"
        ],
        check_round=next(
            (int(r["round"]) for r in records if r.get("type") == "result_check"), None
        ),
        changed={
            int(r.get("round") or 0): [str(c.get("name")) for c in r.get("changes") or []]
            for r in records
            if r.get("type") == "guard"
        },
    )


def failure_text(result: ExecutionResult, limit: int = 300) -> str:
    """An error as one short line: `Name: message`, or why the run did not finish."""
    if result.timed_out:
        return "timed out"
    if result.error is not None:
        return f"{result.error.ename}: {result.error.evalue}"[:limit]
    return json.dumps(result.status)
