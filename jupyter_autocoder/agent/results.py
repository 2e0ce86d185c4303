"""After a clean run, what the code left in the notebook, shown to the model to judge against
the request: the notebook's analogue of checking a function against the examples its prompt
states.

A run that raises nothing can still answer another question than the one asked: the total
under another name, a Series indexed by month number rather than by month, accuracy in
percent rather than as a fraction. The loop shows the model, once per turn, each variable
the request names or mentions and each variable the turn created (`executors/values.py`
describes them: type, shape, dtypes, index, first rows, or the value), and the figures the
run showed; the model answers DONE, or the corrected code. Nothing of a hidden test is in
it: only the request and what the code itself made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .feedback import describe_display

if TYPE_CHECKING:
    from ..executors.base import ExecutionResult, Executor

# At most this many variables are shown (the requested ones first).
MAX_VARIABLES = 8
DONE_WORD = "DONE"

CHECK_REQUEST = (
    "Your code ran without errors. Before you finish, compare what it left in the notebook "
    "with the request.\n\n{shown}\n\n"
    "Check the names, the index and the order, the types and the units against the "
    "request. If everything matches, reply with just " + DONE_WORD + ". If something does "
    "not match, reply with the complete corrected code in one ```python block; it runs in "
    "the same notebook, where the variables above already exist as shown."
)


class ResultCheck:
    """One turn's check: `start` before the turn's first run, `feedback` after a clean run."""

    def __init__(self) -> None:
        self._before: set[str] | None = None
        self._mentioned: list[str] = []
        self.asked = False

    def start(self, executor: Executor, request: str) -> None:
        """Remember the names before the turn, and the words of the request."""
        names = executor.user_names()
        self._before = set(names) if names is not None else None
        self._mentioned = list(dict.fromkeys(re.findall(r"(?<![\w.])[A-Za-z_]\w*", request)))
        self.asked = False

    def feedback(
        self, executor: Executor, result: ExecutionResult, requested: Iterable[str]
    ) -> str:
        """The check's message, or "" when this executor cannot look or nothing was made."""
        if self._before is None:
            return ""
        now = executor.user_names()
        if now is None:
            return ""
        present = set(now)
        requested = [name for name in requested if name in present]
        new = [name for name in now if name not in self._before]
        mentioned = [name for name in self._mentioned if name in present]
        names = list(dict.fromkeys([*requested, *mentioned, *new]))[:MAX_VARIABLES]
        descriptions = executor.describe_names(names)
        figures = [
            describe_display(output)
            for output in result.displays
            if any(mime.startswith("image/") for mime in output.data)
        ]
        if not descriptions and not figures:
            return ""
        lines = [f"- `{name}`: {text}" for name, text in descriptions.items()]
        if figures:
            lines.append("Figures the code showed: " + ", ".join(figures))
        return CHECK_REQUEST.format(shown="\n".join(lines))
