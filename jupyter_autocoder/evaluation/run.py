"""Running an evaluation: pass@1 of the first answer and of the execution-verified loop.

    tasks = load_tasks("humaneval")               # or load_tasks("my_tasks.jsonl")
    report = evaluate(tasks, client, rounds=3, limit=20)

Each task is solved by an `AgentSession` in an executor of its own, then scored.

The hidden tests never reach the model, and this module is where that holds: the session
is given `task_request(task)`, made of the prompt alone, and an `ExampleVerifier`, whose
feedback comes only from the examples the prompt itself states (a clean run with no such
examples gets one re-check round instead). `Task.test` is read by `scoring.score` alone,
in a fresh Python process, after the session has ended.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..agent.session import AgentSession
from ..agent.settings import SessionSettings
from ..agent.verdict import Verifier
from ..executors.base import Executor
from .examples import ExampleVerifier
from .scoring import score
from .tasks import NOTEBOOK, UNITTEST, Task, prompt_code

if TYPE_CHECKING:
    from ..llm.client import ModelClient

ExecutorFactory = Callable[[], Executor]

TASK_REQUEST = (
    "Complete the following Python function. Reply with the complete function, with the "
    "imports it needs, in one ```python block.\n\n```python\n{prompt}\n```"
)


# BigCodeBench's instruct prompt already says how the code must start; the fence is ours.
UNITTEST_REQUEST = (
    "{prompt}\n\nReply with the complete code, imports included, in one ```python block."
)


def task_request(task: Task) -> str:
    """What the model is asked: the task's prompt, and nothing of its hidden test or its
    reference. A notebook task's prompt is the body of its `%%autocoder` cell as it is."""
    if task.kind == UNITTEST:
        return UNITTEST_REQUEST.format(prompt=task.prompt.strip())
    if task.kind == NOTEBOOK:
        return task.prompt.strip()
    return TASK_REQUEST.format(prompt=task.prompt.strip("\n"))


def default_executor_factory() -> Executor:
    from ..executors import create_executor

    return create_executor("kernel")


@dataclass(frozen=True)
class EvalOptions:
    """How each task of a run is solved (the arguments of `evaluate`, less the tasks)."""

    rounds: int = 3
    timeout: float = 10.0
    max_tokens: int = 768
    temperature: float = 0.0
    retry_temperature: float | None = 0.7
    seed: int | None = None
    check_results: bool | None = None
    trace_dir: str | None = None
    executor_factory: ExecutorFactory = default_executor_factory
    variable_guard: str | None = None
    self_test: bool = False


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
    seed: int | None = None,
    check_results: bool | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    trace_dir: str | None = None,
    variable_guard: str | None = None,
    self_test: bool = False,
) -> dict[str, Any]:
    """pass@1 of the first answer ("one_shot") and of the loop ("loop") over `tasks`.

    tasks: from `load_tasks("humaneval")` or `load_tasks(path)`.
    client: the model (a `ModelClient`).
    rounds: model answers per task in the loop (1 = no correction).
    limit: only the first `limit` tasks.
    executor_factory: makes a fresh executor (default: a new `KernelExecutor`), one per task
        to solve it in; the hidden test scores in a Python process of its own (`score`).
    timeout: seconds a run (solution, examples, hidden test) may take.
    temperature: of the first answer (0: greedy, so "one_shot" is reproducible).
    retry_temperature: of the answers after a failed round (None: as `temperature`).
    seed: sent with every request (the engine's `seed`), so that a run's sampled answers
        can be drawn again; runs with different seeds measure the loop's spread.
    check_results: for notebook tasks, the magic's `c.AutoCoder.check_results` (None: its
        default). With it on, each record also says whether the turn passed where it stood
        before the check ("passed_before_check"), and the report gives that pass@1 too.
    progress: called with each task's record as it finishes (for a command line to print).
    variable_guard: for notebook tasks, the magic's `c.AutoCoder.variable_guard` (None: its
        default, "warn"). Each notebook record says which of the task's own variables the
        code changed unasked ("touched"), and the report counts them ("variable_guard").
    self_test: for tasks without examples, ask the model for its own test of the function
        after the first clean run (`self_test.py`) instead of a second look at the code.

    Returns a JSON-ready dict: "tasks", "rounds", "pass@1" {"one_shot", "loop"},
    "passed" {"one_shot", "loop"}, "loop_fixed", "loop_broke", "mean_rounds",
    "completion_tokens", "seconds", "per_task".
    """
    options = EvalOptions(
        rounds=rounds,
        timeout=timeout,
        max_tokens=max_tokens,
        temperature=temperature,
        retry_temperature=retry_temperature,
        seed=seed,
        check_results=check_results,
        trace_dir=trace_dir,
        executor_factory=executor_factory or default_executor_factory,
        variable_guard=variable_guard,
        self_test=self_test,
    )
    selected = list(tasks)[:limit] if limit is not None else list(tasks)
    started = time.perf_counter()
    per_task = []
    for task in selected:
        record = evaluate_task(task, client, options)
        per_task.append(record)
        if progress is not None:
            progress(record)
    count = len(per_task)
    one_shot = sum(r["passed_one_shot"] for r in per_task)
    loop = sum(r["passed_loop"] for r in per_task)
    checked = [r for r in per_task if "passed_before_check" in r]
    result_check: dict[str, Any] = {}
    if checked or check_results:
        # Where each turn stood before the result check (the loop without it), and what the
        # check changed.
        before = sum(r.get("passed_before_check", r["passed_loop"]) for r in per_task)
        result_check = {
            "result_check": {
                "asked": len(checked),
                "pass@1_before_check": before / count if count else 0.0,
                "passed_before_check": before,
                "fixed": sum(r["passed_loop"] and not r["passed_before_check"] for r in checked),
                "broke": sum(r["passed_before_check"] and not r["passed_loop"] for r in checked),
            }
        }
    return {
        "tasks": count,
        "rounds": rounds,
        **({"self_test": True} if self_test else {}),
        "retry_temperature": retry_temperature,
        "seed": seed,
        "model": getattr(client, "model", None),
        "pass@1": {
            "one_shot": one_shot / count if count else 0.0,
            "loop": loop / count if count else 0.0,
        },
        "passed": {"one_shot": one_shot, "loop": loop},
        # Tasks the loop turned from failing to passing, and from passing to failing.
        "loop_fixed": sum(r["passed_loop"] and not r["passed_one_shot"] for r in per_task),
        "loop_broke": sum(r["passed_one_shot"] and not r["passed_loop"] for r in per_task),
        **result_check,
        **guard_counts(per_task),
        "mean_rounds": sum(r["rounds"] for r in per_task) / count if count else 0.0,
        "completion_tokens": sum(r["completion_tokens"] for r in per_task),
        "seconds": round(time.perf_counter() - started, 3),
        "per_task": per_task,
    }


def guard_counts(per_task: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the code changed the task's own variables unasked (notebook tasks, whose
    records have "touched"): in the first answer's run, at all, how often the model was
    told before another round, and how often it changed them again after being told."""
    recorded = [record for record in per_task if "touched" in record]
    if not recorded:
        return {}
    touched = [record["touched"] for record in recorded if record["touched"]]
    return {
        "variable_guard": {
            "tasks": len(recorded),
            "touched": len(touched),
            "touched_first": sum(bool(found["first"]) for found in touched),
            "told": sum(found["told_round"] is not None for found in touched),
            "touched_after_feedback": sum(bool(found["after_feedback"]) for found in touched),
        }
    }


def evaluate_task(task: Task, client: ModelClient, options: EvalOptions) -> dict[str, Any]:
    """One task: solved in a fresh executor, its first and its final answer scored.

    Returns its record: "task_id", "passed_one_shot", "passed_loop", "rounds",
    "done_reason", "examples", "completion_tokens", "seconds" (and "error" if one came).
    A notebook task goes through the magic in a kernel instead (`notebook.py`).
    """
    if task.kind == NOTEBOOK:
        from .notebook import evaluate_notebook_task

        return evaluate_notebook_task(task, client, options)
    started = time.perf_counter()
    executor = options.executor_factory()
    reason = "error"
    error = ""
    session: AgentSession | None = None
    verifier = ExampleVerifier(
        task, options.timeout, max_rounds=options.rounds, self_test=options.self_test
    )
    try:
        # The prompt's own code first, so that helpers it defines exist for the examples.
        preamble = prompt_code(task)
        if preamble:
            executor.run(preamble, timeout=options.timeout)
        session = solving_session(task, client, executor, verifier, options)
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
    # The accepted code; else the attempt that failed the fewest of the prompt's examples
    # (without examples: the last that ran cleanly); less any self-test the loop asked for.
    final_code = ""
    if session is not None:
        final_code = verifier.answer(
            session.final_code
            or verifier.best_attempt([r.code for r in records])
            or session.last_code
            or ""
        )
    passed_one_shot = score(task, first_code, options.timeout)
    passed_loop = (
        passed_one_shot if final_code == first_code else score(task, final_code, options.timeout)
    )
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


def solving_session(
    task: Task,
    client: ModelClient,
    executor: Executor,
    verifier: Verifier,
    options: EvalOptions,
) -> AgentSession:
    """The one place where the evaluation builds its session: no installs, shell commands
    run without asking, no check of names the request mentions, the verifier's judgement
    after each clean run."""
    settings = SessionSettings(
        install_policy="never",
        # The evaluation's kernel is its own, in a folder of its own: a task may well want
        # `subprocess` or `!cmd` (BigCodeBench has such tasks), and nobody is there to ask.
        shell_policy="auto",
        max_rounds=options.rounds,
        exec_timeout=options.timeout,
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        retry_temperature=options.retry_temperature,
        check_expected=False,
        chat_params={"seed": options.seed} if options.seed is not None else None,
        trace=options.trace_dir is not None,
        trace_dir=options.trace_dir,
    )
    return AgentSession(
        client,
        executor,
        settings,
        verifier=verifier,
        session_id=re.sub(r"\W+", "-", task.task_id),
    )


def check_reference(task: Task, timeout: float = 10.0) -> bool:
    """Whether the task's reference solution passes its hidden test, scored as an answer
    would be: a check of the task and of the installed libraries, with no model."""
    if not task.reference:
        raise ValueError(f"{task.task_id} has no reference solution")
    if task.kind == NOTEBOOK:
        from .notebook import score_in_fresh_kernel

        return score_in_fresh_kernel(task, task.reference, timeout).passed
    return score(task, task.reference, timeout)
