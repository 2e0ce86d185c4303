"""Inline completion measured on HumanEval-infilling: each way of asking the model, on the
same model, in the same run.

    tasks = load_infill_set("single-line")
    report = evaluate_infill(tasks, client, template, methods=("fim", "chat"))

Methods (one model request each, greedy, so one run is enough):

- `fim`: this project's way, what the inline completer sends: the model's own
  fill-in-the-middle tokens (`llm/fim.py`), a raw completion, cleaned as it streams
  (`llm/middle.py`) and stopped as soon as the cleaning says the rest is not wanted.
- `chat`: Jupyter AI's way: a system prompt asking for the code between a prefix and a
  suffix, the answer's fences stripped and nothing else. Its answer is also scored after
  this project's cleaning (`chat+clean`), to tell the prompt's share from the cleaning's.
- `prefix`: the text before the cursor continued as plain text, cleaned (the fallback
  candidate for a model without FIM tokens).

Each middle is scored by running the task's test on prefix + middle + suffix in a fresh
Python process (`scoring.score_infill`); exact match compares it with the benchmark's own
middle, trailing whitespace aside.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..llm.fim import CHAT, FIM, PREFIX, FimTemplate, chat_messages, strip_chat_fences
from ..llm.middle import MiddleFilter
from .scoring import score_infill
from .tasks import Task

if TYPE_CHECKING:
    from ..llm.client import ModelClient

CHAT_CLEANED = "chat+clean"


@dataclass(frozen=True)
class InfillOptions:
    methods: tuple[str, ...] = (FIM, CHAT)
    max_tokens: int = 128
    max_lines: int = 0  # 0: no cut by count; single-line sets use 1
    timeout: float = 10.0
    language: str = "python"


def pick_tasks(tasks: list[Task], limit: int | None, seed: int | None) -> list[Task]:
    """The first `limit` tasks; with a seed, `limit` tasks drawn at random (all of them
    without a limit), in the drawn order, the same for the same seed.

    In drawn order, every first part of a run is a random sample too, and no request
    follows one that shares most of its prompt (the lines of one problem), which would
    flatter the way whose prompt starts with the prefix (its cache would hold it).
    """
    if seed is not None:
        count = len(tasks) if limit is None else min(limit, len(tasks))
        return [tasks[index] for index in random.Random(seed).sample(range(len(tasks)), count)]
    return list(tasks if limit is None else tasks[:limit])


def editor_suffix(task: Task) -> str:
    """The suffix as the editor has it: the benchmark's hole is a whole line, so the cursor
    stands on an empty line of its own, before the suffix's first line."""
    return "\n" + task.suffix if task.prompt.endswith("\n") else task.suffix


def complete_fim(
    task: Task, client: ModelClient, template: FimTemplate, options: InfillOptions
) -> dict[str, Any]:
    prompt = template.prompt(task.prompt, task.suffix)
    middle = MiddleFilter(
        task.prompt, editor_suffix(task), options.max_lines, options.language, template.stop
    )
    stream = client.stream_completion(
        prompt, max_tokens=options.max_tokens, temperature=0.0, stop=list(template.stop)
    )
    return _run(stream, middle)


def complete_prefix(task: Task, client: ModelClient, options: InfillOptions) -> dict[str, Any]:
    middle = MiddleFilter(task.prompt, editor_suffix(task), options.max_lines, options.language)
    stream = client.stream_completion(task.prompt, max_tokens=options.max_tokens, temperature=0.0)
    return _run(stream, middle)


def complete_chat(task: Task, client: ModelClient, options: InfillOptions) -> dict[str, Any]:
    messages = chat_messages(task.prompt, task.suffix, options.language)
    started = time.perf_counter()
    with client.stream_chat(
        messages, max_tokens=options.max_tokens, temperature=0.0, stop=["\n```"]
    ) as stream:
        raw = "".join(stream)
    return {
        "middle": strip_chat_fences(raw, task.prompt, options.language),
        "raw": raw,
        "seconds": time.perf_counter() - started,
        "first_token_seconds": stream.first_token_seconds,
        "completion_tokens": stream.completion_tokens,
    }


def _run(stream: Any, middle: MiddleFilter) -> dict[str, Any]:
    started = time.perf_counter()
    text = ""
    with stream:
        for piece in stream:
            text += middle.feed(piece)
            if middle.stopped:
                stream.cancel()  # the rest is not wanted: the engine stops generating
                break
    text += middle.finish()
    return {
        "middle": text,
        "raw": stream.text,
        "seconds": time.perf_counter() - started,
        "first_token_seconds": stream.first_token_seconds,
        "completion_tokens": stream.completion_tokens,
        "stop_reason": middle.stop_reason or stream.finish_reason,
    }


def exact_match(task: Task, middle: str) -> bool:
    return middle.rstrip() == task.middle.rstrip()


def evaluate_infill(
    tasks: Iterable[Task],
    client: ModelClient,
    template: FimTemplate | None,
    options: InfillOptions | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    completion_client: ModelClient | None = None,
) -> dict[str, Any]:
    """pass@1, exact match and latency of each method over `tasks`, in one run.

    `completion_client`, when given, serves the raw completions (fim, prefix): the worker's
    completion lane, as the inline completer uses it. Each way then keeps its own prompt
    cache (consecutive tasks of one problem share most of their prompt), instead of each
    request undoing the other way's.

    Returns a JSON-ready dict: "tasks", "methods" {name: {"pass@1", "passed",
    "exact_match", "mean_seconds", "mean_first_token_seconds", "completion_tokens"}},
    "seconds", "per_task" (one record per task with each method's middle and verdict).
    """
    options = options or InfillOptions()
    methods = list(options.methods)
    if FIM in methods and template is None:
        raise ValueError("the model has no fill-in-the-middle tokens: leave out the fim method")
    raw_client = completion_client or client
    started = time.perf_counter()
    per_task = []
    for task in tasks:
        record: dict[str, Any] = {"task_id": task.task_id}
        for method in methods:
            if method == FIM:
                result = complete_fim(task, raw_client, template, options)  # type: ignore[arg-type]
            elif method == PREFIX:
                result = complete_prefix(task, raw_client, options)
            elif method == CHAT:
                result = complete_chat(task, client, options)
            else:
                raise ValueError(f"unknown method {method!r}; valid: {FIM}, {CHAT}, {PREFIX}")
            _judge(task, result, options.timeout)
            record[method] = result
            if method == CHAT:
                cleaned = MiddleFilter(
                    task.prompt, editor_suffix(task), options.max_lines, options.language
                )
                text = cleaned.feed(result["raw"]) + cleaned.finish()
                derived = {**result, "middle": text}
                _judge(task, derived, options.timeout)
                record[CHAT_CLEANED] = derived
        per_task.append(record)
        if progress is not None:
            progress(record)
    names = [m for m in methods] + ([CHAT_CLEANED] if CHAT in methods else [])
    return {
        "tasks": len(per_task),
        "max_tokens": options.max_tokens,
        "max_lines": options.max_lines,
        "model": getattr(client, "model", None),
        "template": template.name if template else None,
        "methods": {name: _summary(per_task, name) for name in names},
        "seconds": round(time.perf_counter() - started, 1),
        "per_task": per_task,
    }


def _judge(task: Task, result: dict[str, Any], timeout: float) -> None:
    result["passed"] = score_infill(task, result["middle"], timeout)
    result["exact"] = exact_match(task, result["middle"])


def _summary(per_task: list[dict[str, Any]], method: str) -> dict[str, Any]:
    results = [record[method] for record in per_task if method in record]
    count = len(results)
    if not count:
        return {}
    firsts = [r["first_token_seconds"] for r in results if r.get("first_token_seconds") is not None]
    passed = sum(r["passed"] for r in results)
    return {
        "pass@1": round(passed / count, 4),
        "passed": passed,
        "exact_match": round(sum(r["exact"] for r in results) / count, 4),
        "mean_seconds": round(sum(r["seconds"] for r in results) / count, 3),
        "mean_first_token_seconds": round(sum(firsts) / len(firsts), 3) if firsts else None,
        "completion_tokens": sum(r.get("completion_tokens") or 0 for r in results),
    }
