"""The events a session yields, each a dataclass told apart by its `type` field.

`to_dict()` gives the JSON the server sends over its WebSocket (with the turn's `notebook`,
`session` and `turn` added). These dataclasses are part of the protocol's one source: the
schema, the panel's TypeScript types and the tables of docs/protocol.md are generated from
them (`python -m jupyter_autocoder.server.protocol_schema`). Every event carries the `round`
it belongs to (0 before the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..executors.base import ExecutionResult
from ..wire import wire
from .approval import ApprovalRequest
from .guard import GUARD_MODES, OFF, VariableChange

# DoneEvent.reason values
SUCCESS = "success"  # the code ran cleanly and made what was asked
NO_CODE = "no_code"  # the answer had nothing to run
MAX_ROUNDS = "max_rounds"  # the round limit was reached without a clean run
STOPPED = "stopped"  # stop() or an interrupt (the kernel's stop button)
ERROR = "error"  # the engine or the executor failed; see the error event before
ANSWERED = "answered"  # chat mode: one answer streamed, nothing run
DONE_REASONS = (SUCCESS, NO_CODE, MAX_ROUNDS, STOPPED, ERROR, ANSWERED)

LANGUAGES = ("python", "sh")  # of the code a CodeEvent or ExecutionEvent is about
# "present": the package is installed already, so nothing was run (nor asked).
INSTALL_STATUSES = (
    "requested",
    "installed",
    "failed",
    "declined",
    "refused",
    "disabled",
    "present",
)
APPROVAL_STATUSES = ("pending", "approved", "declined")
# A `done` that the server's history writes for a turn cut off by a restart has only
# `type`, `round`, `reason`, `success` and `message`: the other fields are optional.
_ABSENT_AFTER_A_RESTART = wire(optional=True)


@dataclass(kw_only=True)
class AgentEvent:
    type: str = field(default="event", init=False)
    round: int = 0

    def to_dict(self, include_binary: bool = True) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, ExecutionResult):
                value = value.to_dict(include_binary)
            elif hasattr(value, "to_dict"):
                value = value.to_dict()
            elif isinstance(value, (list, tuple)):
                value = [item.to_dict() if hasattr(item, "to_dict") else item for item in value]
            payload[item.name] = value
        return payload


@dataclass(kw_only=True)
class RoundEvent(AgentEvent):
    """A round begins: the model is asked (again)."""

    type: str = field(default="round", init=False)
    max_rounds: int = 0


@dataclass(kw_only=True)
class TokenEvent(AgentEvent):
    """A piece of the model's answer as it streams."""

    type: str = field(default="token", init=False)
    text: str = ""


@dataclass(kw_only=True)
class CodeEvent(AgentEvent):
    """Code about to run: `language` "python", or "sh" for an approved shell command."""

    type: str = field(default="code", init=False)
    code: str = ""
    language: str = field(default="python", metadata=wire(enum=LANGUAGES))
    rerun: bool = False  # the same code again, after installing what it lacked


@dataclass(kw_only=True)
class InstallEvent(AgentEvent):
    """An install of missing packages, at each step: requested, then installed / failed /
    declined / refused / disabled; or present, for packages installed already."""

    type: str = field(default="install", init=False)
    packages: list[str] = field(default_factory=list)
    command: str = ""
    status: str = field(
        default="requested", metadata=wire(enum=INSTALL_STATUSES, enum_name="InstallStatus")
    )
    message: str = ""
    rejected: list[str] = field(default_factory=list)  # arguments refused by validation


@dataclass(kw_only=True)
class ApprovalEvent(AgentEvent):
    """The user is asked (status "pending"; the answer is an `approval` message with
    `request.id`), then the same event comes back with the decision ("approved" /
    "declined")."""

    type: str = field(default="approval", init=False)
    request: ApprovalRequest | None = field(default=None, metadata=wire(not_null=True))
    status: str = field(default="pending", metadata=wire(enum=APPROVAL_STATUSES))


@dataclass(kw_only=True)
class ExecutionEvent(AgentEvent):
    """A run finished; `feedback` is what the model is told next ("" when the round ends well)."""

    type: str = field(default="execution", init=False)
    result: ExecutionResult | None = field(default=None, metadata=wire(not_null=True))
    ok: bool = False
    feedback: str = ""
    language: str = field(default="python", metadata=wire(enum=LANGUAGES))


@dataclass(kw_only=True)
class VariablesChangedEvent(AgentEvent):
    """The code just run changed the user's variables that the request did not ask to change
    (`agent/guard.py`); it follows that run's `execution` event. A change whose
    `restorable` is true can be undone until the next turn begins (`%autocoder restore
    NAME`, or the panel's restore, which runs the guard's "restore" in the kernel); a change
    in place cannot. `mode` "strict": the setting made the change fail the round (and put
    back at once what was replaced)."""

    type: str = field(default="variables_changed", init=False)
    changes: list[VariableChange] = field(default_factory=list)
    mode: str = field(default="warn", metadata=wire(enum=tuple(m for m in GUARD_MODES if m != OFF)))


@dataclass(kw_only=True)
class ErrorEvent(AgentEvent):
    """The engine or the executor failed (not the code: that is an execution event). A `done`
    with reason "error" follows."""

    type: str = field(default="error", init=False)
    message: str = ""
    error_type: str = ""


@dataclass(kw_only=True)
class DoneEvent(AgentEvent):
    """The session's turn is over; `code` is the final code that ran cleanly, if any,
    `answer` the model's last answer. "answered" is the reason of a chat-mode turn."""

    type: str = field(default="done", init=False)
    reason: str = field(default=SUCCESS, metadata=wire(enum=DONE_REASONS, enum_name="DoneReason"))
    success: bool = False
    code: str | None = field(default=None, metadata=_ABSENT_AFTER_A_RESTART)
    answer: str = field(default="", metadata=_ABSENT_AFTER_A_RESTART)  # the last answer, as text
    message: str = ""  # a sentence for the user
    rounds: int = field(default=0, metadata=_ABSENT_AFTER_A_RESTART)
    completion_tokens: int = field(default=0, metadata=_ABSENT_AFTER_A_RESTART)
    seconds: float = field(default=0.0, metadata=_ABSENT_AFTER_A_RESTART)
    trace_path: str | None = field(default=None, metadata=_ABSENT_AFTER_A_RESTART)


EVENT_TYPES = {
    cls.__dataclass_fields__["type"].default: cls
    for cls in (
        RoundEvent,
        TokenEvent,
        CodeEvent,
        InstallEvent,
        ApprovalEvent,
        ExecutionEvent,
        VariablesChangedEvent,
        ErrorEvent,
        DoneEvent,
    )
}


# -- an exploration's events (`explore.py`) ---------------------------------------------
# Yielded around the steps' own agent events; on the agent socket too (the panel's
# explorations), so they are in EVENT_TYPES below.

STEP_STATUSES = ("planned", "running", "done", "failed", "stopped", "dropped")


@dataclass(kw_only=True)
class PlanStep:
    """One step of an exploration's plan and where it stands."""

    title: str
    status: str = field(default="planned", metadata=wire(enum=STEP_STATUSES))

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "status": self.status}


@dataclass(kw_only=True)
class PlanEvent(AgentEvent):
    """An exploration's plan, every step with its status: after planning, and again after
    each step (the last one is the plan as it ended)."""

    type: str = field(default="plan", init=False)
    target: str = ""  # what is explored: a file ("sales.csv") or a variable ("df")
    steps: list[PlanStep] = field(default_factory=list)
    review: bool = False  # the plan waits for the user (the panel answers `run_plan`)


@dataclass(kw_only=True)
class StepEvent(AgentEvent):
    """A step of an exploration begins ("running") or ends ("done", "failed", "stopped").
    The events between its beginning and its end are its agent turn."""

    type: str = field(default="step", init=False)
    step: int = 1  # 1 for the first step of the plan
    steps: int = 1  # how many steps the plan has
    title: str = ""
    status: str = field(default="running", metadata=wire(enum=STEP_STATUSES))
    message: str = ""


@dataclass(kw_only=True)
class SummaryEvent(AgentEvent):
    """The closing Markdown cell of an exploration. Every number in `text` was found in the
    steps' real outputs, except those of `unverified`, which are flagged in the text;
    `asked_again`: the first summary quoted a number no output shows, and the model was
    asked once to correct it."""

    type: str = field(default="summary", init=False)
    text: str = ""
    unverified: list[str] = field(default_factory=list)
    asked_again: bool = False


@dataclass(kw_only=True)
class ExplorationDoneEvent(AgentEvent):
    """The exploration is over: `reason` "success" (every planned step was tried and the
    summary written), "stopped" (the user stopped it) or "error"."""

    type: str = field(default="exploration_done", init=False)
    reason: str = SUCCESS
    steps_done: int = 0
    steps_failed: int = 0
    rounds: int = 0
    seconds: float = 0.0
    message: str = ""


EXPLORATION_EVENT_TYPES = {
    cls.__dataclass_fields__["type"].default: cls
    for cls in (PlanEvent, StepEvent, SummaryEvent, ExplorationDoneEvent)
}
EVENT_TYPES.update(EXPLORATION_EVENT_TYPES)
