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
from .tasks import Task, prompt_code

if TYPE_CHECKING:
    from ..llm.client import ModelClient

ExecutorFactory = Callable[[], Executor]

TASK_REQUEST = (
    "Complete the following Python function. Reply with the complete function, with the "
    "imports it needs, in one ```python block.\n\n```python\n{prompt}\n```"
)


def task_request(task: Task) -> str:
    """What the model is asked: the task's prompt, and nothing of its hidden test."""
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
    trace_dir: str | None = None
    executor_factory: ExecutorFactory = default_executor_factory


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

    tasks: from `load_tasks("humaneval")` or `load_tasks(path)`.
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
    options = EvalOptions(
        rounds=rounds,
        timeout=timeout,
        max_tokens=max_tokens,
        temperature=temperature,
        retry_temperature=retry_temperature,
        trace_dir=trace_dir,
        executor_factory=executor_factory or default_executor_factory,
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
    return {
        "tasks": count,
        "rounds": rounds,
        "retry_temperature": retry_temperature,
        "model": getattr(client, "model", None),
        "pass@1": {
            "one_shot": one_shot / count if count else 0.0,
            "loop": loop / count if count else 0.0,
        },
        "passed": {"one_shot": one_shot, "loop": loop},
        # Tasks the loop turned from failing to passing, and from passing to failing.
        "loop_fixed": sum(r["passed_loop"] and not r["passed_one_shot"] for r in per_task),
        "loop_broke": sum(r["passed_one_shot"] and not r["passed_loop"] for r in per_task),
        "mean_rounds": sum(r["rounds"] for r in per_task) / count if count else 0.0,
        "completion_tokens": sum(r["completion_tokens"] for r in per_task),
        "seconds": round(time.perf_counter() - started, 3),
        "per_task": per_task,
    }


def evaluate_task(task: Task, client: ModelClient, options: EvalOptions) -> dict[str, Any]:
    """One task: solved in a fresh executor, its first and its final answer scored.

    Returns its record: "task_id", "passed_one_shot", "passed_loop", "rounds",
    "done_reason", "examples", "completion_tokens", "seconds" (and "error" if one came).
    """
    started = time.perf_counter()
    executor = options.executor_factory()
    reason = "error"
    error = ""
    session: AgentSession | None = None
    verifier = ExampleVerifier(task, options.timeout, max_rounds=options.rounds)
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
    # The accepted code; else the attempt that failed the fewest of the prompt's examples.
    final_code = ""
    if session is not None:
        final_code = (
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
    """The one place where the evaluation builds its session: no installs, no check of
    names the request mentions, the verifier's judgement after each clean run."""
    settings = SessionSettings(
        install_policy="never",
        max_rounds=options.rounds,
        exec_timeout=options.timeout,
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        retry_temperature=options.retry_temperature,
        check_expected=False,
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
