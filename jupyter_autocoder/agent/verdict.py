"""What a verifier says of code that ran cleanly: accepted, or feedback for the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..executors.base import ExecutionResult, Executor


@dataclass(frozen=True)
class Verdict:
    """`feedback` is what the model is told next; empty means the code is accepted.

    `recheck` asks for a second look at code that may well be right (a prompt without
    examples to test against, say): it is not counted as a failed round.
    """

    feedback: str = ""
    recheck: bool = False

    @property
    def accepted(self) -> bool:
        return not self.feedback


ACCEPTED = Verdict()

Verifier = Callable[[str, "ExecutionResult", "Executor", int], Verdict]
"""Called after a clean run with (code, result, executor, round number)."""
