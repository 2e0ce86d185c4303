"""Executors: where the agent's code runs. One interface, `Executor.run(code, timeout)`.

- `KernelExecutor`: a Jupyter kernel through jupyter_client (headless use, evaluation, tests).
- `ShellExecutor`: the running IPython shell, for `%%autocoder` (the user's live namespace).

The browser executor (the panel runs cells in the notebook) lives with the server.
"""

from .base import (
    DisplayOutput,
    ErrorOutput,
    ExecutionResult,
    Executor,
    ExecutorError,
    KernelDiedError,
    KernelUnresponsiveError,
    StreamOutput,
)
from .kernel import KernelExecutor
from .shell import ShellExecutor

__all__ = [
    "DisplayOutput",
    "ErrorOutput",
    "ExecutionResult",
    "Executor",
    "ExecutorError",
    "KernelDiedError",
    "KernelExecutor",
    "KernelUnresponsiveError",
    "ShellExecutor",
    "StreamOutput",
]
