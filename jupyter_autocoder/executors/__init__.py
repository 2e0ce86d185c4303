"""Executors: where the agent's code runs. One interface, `Executor.run(code, timeout)`.

- `KernelExecutor`: a Jupyter kernel through jupyter_client (headless use, evaluation, tests).
- `ShellExecutor`: the running IPython shell, for `%%autocoder` (the user's live namespace).
- `BrowserExecutor` (with the server, `server/browser_executor.py`): the panel runs the code
  as cells of the user's notebook.

`create_executor(kind, **options)` is the one place where a front end picks one by name.
"""

from ..errors import ExecutorError, KernelDiedError, KernelUnresponsiveError
from .base import (
    DisplayOutput,
    ErrorOutput,
    ExecutionResult,
    Executor,
    StreamOutput,
)

# The implementations load on first use: importing the interface (as the agent loop does)
# must not pull in jupyter_client, zmq and tornado.
_LAZY = {"KernelExecutor": ".kernel", "ShellExecutor": ".shell"}

# Where code can run -> (module, class), relative to this package.
EXECUTORS = {
    "shell": (".shell", "ShellExecutor"),
    "kernel": (".kernel", "KernelExecutor"),
    "browser": ("..server.browser_executor", "BrowserExecutor"),
}


def create_executor(kind: str, /, *args: object, **options: object) -> Executor:
    """The executor of `kind` ("shell", "kernel", "browser"), made with its own options:
    `create_executor("shell", shell)`, `create_executor("kernel", cwd=...)`,
    `create_executor("browser", channel, meta, interrupt_grace=...)`."""
    from importlib import import_module

    if kind not in EXECUTORS:
        raise ValueError(f"Unknown executor {kind!r}. Valid kinds: {', '.join(EXECUTORS)}.")
    module, name = EXECUTORS[kind]
    executor_class = getattr(import_module(module, __name__), name)
    return executor_class(*args, **options)


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
    "create_executor",
]
