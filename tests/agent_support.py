"""Helpers of the agent loop's tests (tests/agent, tests/security/approvals): what the loop
asked of the kernel, an approver that keeps what it was asked, and the events and
messages of a turn."""

from __future__ import annotations

from dataclasses import dataclass, field

from jupyter_autocoder.executors import Executor
from jupyter_autocoder.executors.base import ERROR, ExecutionResult, StreamOutput


def of(events, kind):
    return [event for event in events if event.type == kind]


def py(code: str, prose: str = "Here is the code:") -> str:
    return f"{prose}\n```python\n{code}\n```\n"


def told(engine, request_number: int = 1) -> str:
    """What the model was told in its `request_number`-th request (0 is the first)."""
    return engine.history[request_number].messages[-1]["content"]


class SpyExecutor(Executor):
    """The real kernel underneath; records what the loop asked of it. `fake_installs` records
    installs without running pip (for names that must never reach a real index)."""

    def __init__(self, inner: Executor, fake_installs: bool = False):
        self.inner = inner
        self.fake_installs = fake_installs
        self.runs: list[str] = []
        self.installs: list[list[str]] = []
        self.shell_runs: list[str] = []

    def run(self, code, timeout=None):
        self.runs.append(code)
        return self.inner.run(code, timeout)

    def install(self, packages, options=(), timeout=600.0):
        self.installs.append(list(packages))
        if self.fake_installs:
            text = "not installed: the test's spy stands in for pip\n"
            return ExecutionResult(outputs=[StreamOutput("stderr", text)], status=ERROR)
        return self.inner.install(packages, options, timeout)

    def run_shell(self, command, timeout=None):
        self.shell_runs.append(command)
        return self.inner.run_shell(command, timeout)

    def defined_names(self, names):
        return self.inner.defined_names(names)

    def existing_files(self, paths):
        return self.inner.existing_files(paths)

    def interrupt(self):
        self.inner.interrupt()


@dataclass
class Approver:
    """Answers every request with `answer`, and keeps them."""

    answer: bool = False
    asked: list = field(default_factory=list)

    def __call__(self, request) -> bool:
        self.asked.append(request)
        return self.answer
