"""The loop's side of the guard of the user's variables: the agent never silently changes
variables the request did not ask it to change.

A data scientist's kernel state is hours of work, and small models change it freely:
asked for "the mean visits per weekday into a Series by_day", qwen2.5-coder-1.5b converted
the user's `log['when']` to datetimes in place and added a column to `log`; asked to plot
from `df`, it reloaded the dataset into `df`. So, around every run of the model's code, the
executor's guard (`executors/guard.py`, where the namespace is) takes a snapshot of the
user's existing variables and then says which the run reassigned, deleted or changed in
place. The names the request asks to create or change are exempt
(`requested.expected_results`, `requested.changed_names`), and so are the turn's own new
names.

A change is told to the model ("your code changed `log` (column `when` converted ...);
leave the user's data as it was and work on a copy") and to the user, as a
`variables_changed` event. A replaced or deleted object is kept until the next turn, and the
user can put it back (`%autocoder restore NAME`, the panel's button); a change in place
cannot be undone, because no copy of the data was taken (copying every variable before every
run would cost the time and memory the guard must not).

The setting (`c.AutoCoder.variable_guard`): "off"; "warn" (the default: told, the round is
judged as before); "strict": a change fails the round, and what was replaced or deleted is
put back at once, before the next round.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..wire import wire

if TYPE_CHECKING:
    from ..executors.base import Executor

log = logging.getLogger(__name__)

OFF, WARN, STRICT = "off", "warn", "strict"
GUARD_MODES = (OFF, WARN, STRICT)
CHANGE_KINDS = ("reassigned", "mutated", "deleted")

# Why a change in place cannot be undone, said to the user once per notice.
IN_PLACE_NOTE = (
    "changed in place: this cannot be undone, because the guard keeps no copy of your data "
    "(copying every variable before every run would cost too much time and memory)"
)


@dataclass
class VariableChange:
    """A user's variable that the code changed without being asked to. `change`:
    "reassigned" (the name holds another object), "deleted", or "mutated" (the same object,
    changed in place: `details` says how); `was` / `now` describe the values;
    `restorable`: the old object is kept and can be put back; `restored`: it was put back
    already (strict mode)."""

    name: str
    change: str = field(metadata=wire(enum=CHANGE_KINDS, enum_name="VariableChangeKind"))
    details: list[str] = field(default_factory=list)
    was: str = ""
    now: str = ""
    restorable: bool = False
    restored: bool = False

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> VariableChange:
        change = str(payload.get("change", "mutated"))
        return cls(
            name=str(payload.get("name", "")),
            change=change if change in CHANGE_KINDS else "mutated",
            details=[str(detail) for detail in payload.get("details") or []],
            was=str(payload.get("was") or ""),
            now=str(payload.get("now") or ""),
            restorable=bool(payload.get("restorable")),
            restored=bool(payload.get("restored")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "change": self.change,
            "details": list(self.details),
            "was": self.was,
            "now": self.now,
            "restorable": self.restorable,
            "restored": self.restored,
        }

    @property
    def what(self) -> str:
        """What happened to the variable, in a few words: "reassigned (it held ...)",
        "column `when` converted ..., column `x` added"."""
        if self.change == "deleted":
            return f"deleted (it held: {self.was})" if self.was else "deleted"
        if self.change == "reassigned":
            was = f"before: {self.was}" if self.was else ""
            now = f"now: {self.now}" if self.now else ""
            inside = "; ".join(part for part in (was, now) if part)
            return f"reassigned ({inside})" if inside else "reassigned"
        return ", ".join(self.details) or "changed in place"


class VariableGuard:
    """One session's use of the guard: `start` when a turn begins, `before` and `after`
    around each run of the model's code. Does nothing when the mode is "off", or where the
    executor cannot look into its namespace."""

    def __init__(self, mode: str = WARN):
        if mode not in GUARD_MODES:
            choices = ", ".join(GUARD_MODES)
            raise ValueError(f"variable_guard must be one of {choices}, not {mode!r}")
        self.mode = mode
        self._active = False

    @property
    def strict(self) -> bool:
        return self.mode == STRICT

    def start(self, executor: Executor, exempt: Iterable[str]) -> None:
        """A turn begins: the executor's guard forgets the last turn's kept objects and
        watches the user's variables now, less `exempt`."""
        self._active = False
        if self.mode == OFF:
            return
        names = sorted({name for name in exempt if isinstance(name, str) and name.isidentifier()})
        self._active = self._call(executor, "begin_turn", {"exempt": names}) is not None

    def before(self, executor: Executor) -> None:
        if self._active:
            self._active = self._call(executor, "before") is not None

    def after(self, executor: Executor) -> list[VariableChange]:
        """What the run changed; in strict mode what it replaced or deleted is put back."""
        if not self._active:
            return []
        found = self._call(executor, "after", {"restore": self.strict})
        if not isinstance(found, list):
            return []
        return [VariableChange.from_dict(item) for item in found if isinstance(item, dict)]

    def _call(self, executor: Executor, action: str, arguments: dict | None = None) -> Any:
        try:
            return executor.guard(action, arguments)
        except Exception:  # the guard is a courtesy: it must never break a turn
            log.exception("the guard of the user's variables failed (%s)", action)
            return None


def changes_feedback(changes: list[VariableChange], strict: bool) -> str:
    """What the model is told of the user's variables its code changed."""
    lines = [f"- your code changed `{change.name}`: {change.what}" for change in changes]
    name = changes[0].name if changes else "data"
    text = (
        "Your code changed the user's variables, which the request did not ask to change:\n"
        + "\n".join(lines)
        + "\nLeave the user's data as it was and work on a copy under a new name "
        f"(for example `{name}_copy = {name}.copy()`), and do not reload or redefine "
        "variables that already exist."
    )
    restored = [f"`{change.name}`" for change in changes if change.restored]
    in_place = [f"`{change.name}`" for change in changes if change.change == "mutated"]
    if restored:
        text += f"\n{', '.join(restored)} has been put back as it was."
    if in_place:
        text += (
            f"\n{', '.join(in_place)} was changed in place and stays so: your next code runs "
            "on it as it is now."
        )
    if strict:
        text += "\nGive the complete corrected code in one ```python block."
    return text
