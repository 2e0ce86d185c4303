"""After a clean run, what the code left compared with what the request's words say of it:
the notebook's analogue of checking a function against the examples its prompt states.

A run that raises nothing can still answer another question than the one asked: a Series
left with the default index where the request says "indexed by store", values not "largest
first", a DataFrame where it says "a float in acc", a result that is all NaN. The request's
words give the form of each result it names (`requested.requested_forms`); the namespace
gives the facts (`executors/values.py`). Where they disagree, the model is told so, with
what each requested variable and each variable the turn created now holds (type, shape,
dtypes, index, first rows, or the value), and asked for corrected code. Where they agree,
nothing is said and no answer is spent.

A first version asked the model itself to judge the match after every clean run; measured
with qwen2.5-coder-1.5b it answered DONE whatever it was shown (NaN-filled Series, the
target column named as the best feature), so the loop now names the mismatch itself.

Nothing of a hidden test is in the message: only the request's words and what the code made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .requested import RequestedForm, requested_forms

if TYPE_CHECKING:
    from ..executors.base import ExecutionResult, Executor

# At most this many variables are shown (the requested ones first).
MAX_VARIABLES = 6

MISMATCH_FEEDBACK = (
    "The code ran without errors, but what it left does not match the request:\n{notes}\n\n"
    "What these variables hold now:\n{shown}\n\n"
    "Give the complete corrected code in one ```python block. It runs in the same notebook, "
    "where these variables already exist as shown."
)


def mismatches(forms: Iterable[RequestedForm], facts: dict[str, dict[str, Any]]) -> list[str]:
    """What the values in `facts` (`values.describe_names`) do not have of the `forms` the
    request gives them, one sentence each."""
    notes = []
    for form in forms:
        fact = facts.get(form.name)
        if fact is None:
            continue  # not there: the check of requested names says so
        name = f"`{form.name}`"
        kind = fact.get("type")
        if fact.get("all_missing"):
            notes.append(f"{name} holds only missing values (NaN).")
        if form.type and kind != form.type:
            notes.append(f"{name} should be a {form.type}, but it is a {kind}.")
            continue  # the rest is about a value of the requested type
        if form.indexed and fact.get("default_index"):
            notes.append(
                f"{name} should be indexed as the request says, but it has the default index "
                "0, 1, 2, ..."
            )
        elif form.indexed and fact.get("unique_index") is False:
            notes.append(f"{name} should be indexed as the request says, but its labels repeat.")
        if form.order and fact.get("order") not in (form.order, "constant", None):
            first = "largest first" if form.order == "decreasing" else "smallest first"
            notes.append(
                f"{name} should be in {form.order} order of its values ({first}), but its "
                f"values are {fact.get('order')}."
            )
    return notes


class ResultCheck:
    """One turn's check: `start` before the turn's first run, `feedback` after a clean run."""

    def __init__(self) -> None:
        self._before: set[str] | None = None
        self._request = ""

    def start(self, executor: Executor, request: str) -> None:
        """Remember the names before the turn (to tell the new ones), and the request."""
        names = executor.user_names()
        self._before = set(names) if names is not None else None
        self._request = request

    def feedback(
        self, executor: Executor, result: ExecutionResult, requested: Iterable[str]
    ) -> str:
        """The mismatches between the request's words and what the code left, with what the
        variables hold; "" when they agree, or when this executor cannot look."""
        requested = list(requested)
        forms = requested_forms(self._request, requested)
        if not forms:
            return ""
        now = executor.user_names()
        if now is None:
            return ""
        new = [name for name in now if self._before is not None and name not in self._before]
        names = list(dict.fromkeys([*requested, *new]))[:MAX_VARIABLES]
        facts = executor.describe_names(names)
        notes = mismatches(forms, facts)
        if not notes:
            return ""
        shown = [
            f"- `{name}`{' (new)' if name in new and name not in requested else ''}: {fact['text']}"
            for name, fact in facts.items()
        ]
        return MISMATCH_FEEDBACK.format(
            notes="\n".join(f"- {note}" for note in notes), shown="\n".join(shown)
        )
