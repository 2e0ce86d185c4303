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

# The implementations load on first use: importing the interface (as the agent loop does)
# must not pull in jupyter_client, zmq and tornado.
_LAZY = {"KernelExecutor": ".kernel", "ShellExecutor": ".shell"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
