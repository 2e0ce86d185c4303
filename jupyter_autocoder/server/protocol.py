"""The messages of the agent WebSocket (docs/protocol.md), both ways, as dataclasses.

These dataclasses, with the loop's events (agent/events.py), are the protocol's one source:
docs/protocol.schema.json, the panel's TypeScript types (labextension/src/
protocol.generated.ts) and the message tables of docs/protocol.md are generated from them
by `python -m jupyter_autocoder.server.protocol_schema`. A field's `wire(...)` hints say
what its type cannot: the values allowed, limits, a default the receiver computes.

Browser -> server: `parse_message` checks a message and gives its dataclass; anything
malformed raises `ProtocolError`, which the socket answers with a `Refusal` (and stays
open). Server -> browser: the server's own messages are built here (`to_dict()` is the JSON
sent); the loop's events go out as `event_message(event, meta)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from ..agent.events import AgentEvent, DoneEvent
from ..agent.prompts import NotebookContext
from ..errors import ProtocolError
from ..executors.base import ERROR, INTERRUPTED, OK, ExecutionResult, output_from_dict
from ..wire import wire

PROTOCOL_VERSION = 1
MODES = ("agent", "chat", "explore")
RUN_STATUSES = (OK, ERROR, INTERRUPTED)
OUTPUT_TYPES = ("stream", "display_data", "execute_result", "update_display_data", "error")
MAX_TEXT_CHARS = 200_000  # a request or remark longer than this is a mistake, not a question
MAX_ROUNDS_LIMIT = 10
# What a `run_cell` is for (its `purpose`), and why a cell is interrupted.
CODE, INSTALL, SHELL, PROBE, MARKDOWN = "code", "install", "shell", "probe", "markdown"
RUN_PURPOSES = (CODE, INSTALL, SHELL, PROBE, MARKDOWN)
MAX_PLAN_STEPS = 20  # steps a user's edited plan may have
INTERRUPT_REASONS = ("timeout", "stopped")

NON_BLANK = r"\S"  # a string with something besides white space
_NOTEBOOK = wire(pattern=NON_BLANK, doc="the notebook's path, relative to the server root")
_MODE = wire(enum=MODES, enum_name="Mode")
_TURN_LIMIT = wire(
    minimum=1,
    maximum=MAX_ROUNDS_LIMIT,
    doc="this turn's round limit; without it the server's `c.AutoCoder.max_rounds`",
)
_CONTEXT = wire(shape=NotebookContext, doc="what the model is told about the notebook")

# An nbformat output as the panel sends it: `text` and mime values may be lists of lines.
# Checked as far as `_nbformat_output` checks it.
NBFORMAT_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["output_type"],
    "properties": {
        "output_type": {"enum": list(OUTPUT_TYPES)},
        "data": {"type": "object"},
    },
    "if": {"properties": {"output_type": {"const": "stream"}}},
    "then": {"properties": {"text": {"type": ["string", "array"]}}},
}


# --- browser -> server ----------------------------------------------------------------


@dataclass
class Start:
    """Begin a new conversation for this notebook and work on `request`. "agent": write
    code, run it through `run_cell`, correct it from the real errors until it runs. "chat":
    one streamed answer, nothing is run. "explore": `request` names a data file or a
    variable ("sales.csv", "explore df"); a `plan` event with `review` waits for `run_plan`,
    then each step's Markdown and code cells are made and run, and a summary closes it
    (a turn of its own; the conversation of the agent turns is left as it was). Refused
    while a turn of this notebook is running."""

    notebook: str = field(metadata=_NOTEBOOK)
    request: str = field(metadata=wire(pattern=NON_BLANK, max_length=MAX_TEXT_CHARS))
    mode: str = field(default="agent", metadata=_MODE)
    context: dict[str, Any] | None = field(default=None, metadata=_CONTEXT)
    max_rounds: int | None = field(default=None, metadata=_TURN_LIMIT)
    type: str = field(default="start", init=False)


@dataclass
class Continue:
    """A further turn in the same conversation (the user's follow-up). Works after a server
    restart: the conversation is restored from the history on disk."""

    notebook: str = field(metadata=_NOTEBOOK)
    remark: str = field(metadata=wire(pattern=NON_BLANK, max_length=MAX_TEXT_CHARS))
    context: dict[str, Any] | None = field(default=None, metadata=_CONTEXT)
    max_rounds: int | None = field(default=None, metadata=_TURN_LIMIT)
    type: str = field(default="continue", init=False)


@dataclass
class RunResult:
    """The cell the server asked for has finished."""

    id: str = field(metadata=wire(min_length=1, doc="the `id` of the `run_cell`"))
    outputs: list[dict[str, Any]] = field(
        default_factory=list,
        metadata=wire(
            schema={"type": "array", "items": NBFORMAT_OUTPUT_SCHEMA},
            ts_type="nbformat.IOutput[]",
            doc="the cell's nbformat outputs",
        ),
    )
    status: str = field(
        default=OK,
        metadata=wire(
            enum=RUN_STATUSES,
            enum_name="RunStatus",
            default_doc='"error" when an error output is present, else "ok"',
        ),
    )
    execution_count: int | None = None
    duration: float = field(default=0.0, metadata=wire(doc="seconds"))
    type: str = field(default="run_result", init=False)

    @property
    def result(self) -> ExecutionResult:
        """The run as the executor reports it."""
        return ExecutionResult(
            outputs=[output_from_dict(output) for output in self.outputs],
            duration=self.duration,
            status=self.status,
            execution_count=self.execution_count,
        )


@dataclass
class Approval:
    """The user's answer to an `approval` event with status "pending"."""

    id: str = field(metadata=wire(min_length=1, doc="the `id` of the approval's request"))
    approved: bool
    type: str = field(default="approval", init=False)


@dataclass
class Stop:
    """Stop the running turn of this notebook: the model's stream is cancelled (its request
    leaves the queue at once), a running cell is interrupted (`interrupt`), pending
    approvals count as declined. The turn ends with `done` (reason "stopped"). A stop when
    nothing runs is answered by nothing."""

    notebook: str = field(metadata=_NOTEBOOK)
    after_step: bool = field(
        default=False,
        metadata=wire(
            doc="an exploration: finish the step in progress, begin no other, and write "
            "the summary of the steps done"
        ),
    )
    type: str = field(default="stop", init=False)


@dataclass
class RunPlan:
    """The user's answer to an exploration's `plan` event with `review`: the steps to run
    (edited, dropped, added), in order; none: cancel the exploration. A `stop` cancels it
    too."""

    notebook: str = field(metadata=_NOTEBOOK)
    steps: list[str] = field(
        default_factory=list,
        metadata=wire(
            schema={
                "type": "array",
                "items": {"type": "string", "maxLength": 500},
                "maxItems": MAX_PLAN_STEPS,
            },
            ts_type="string[]",
            doc="the steps' titles; blank ones are left out",
        ),
    )
    type: str = field(default="run_plan", init=False)


@dataclass
class HistoryRequest:
    """Ask for the notebook's past turns (answered by `history`)."""

    notebook: str = field(metadata=_NOTEBOOK)
    type: str = field(default="history", init=False)


@dataclass
class Reset:
    """Forget this notebook's conversation and history (refused while a turn runs);
    answered by an empty `history`."""

    notebook: str = field(metadata=_NOTEBOOK)
    type: str = field(default="reset", init=False)


Message = Start | Continue | RunResult | Approval | Stop | RunPlan | HistoryRequest | Reset
CLIENT_MESSAGES = (Start, Continue, RunResult, Approval, Stop, RunPlan, HistoryRequest, Reset)


# --- server -> browser ----------------------------------------------------------------


def _as_dict(message: Any) -> dict[str, Any]:
    """A dataclass's fields in their order, one level deep (nested values are JSON already)."""
    return {item.name: getattr(message, item.name) for item in fields(message)}


@dataclass(kw_only=True)
class _Sent:
    """A message of the server's own; `to_dict()` is its JSON, `type` first."""

    type: str = field(default="", init=False)

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(kw_only=True)
class TurnMeta:
    """What every message of a turn carries: the loop's events have it added."""

    notebook: str
    session: str = field(metadata=wire(doc="the conversation's id"))
    turn: int = field(metadata=wire(doc="the turn's number in this notebook"))

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(kw_only=True)
class Hello(_Sent):
    """Sent once when the socket opens."""

    type: str = field(default="hello", init=False)
    protocol: int = field(default=PROTOCOL_VERSION, metadata=wire(const=True))
    version: str = field(metadata=wire(doc="the package's version"))


@dataclass(kw_only=True)
class Started(_Sent):
    """A `start` or `continue` was accepted; the turn's events follow."""

    type: str = field(default="started", init=False)
    notebook: str
    session: str
    turn: int
    mode: str = field(metadata=_MODE)
    request: str = field(metadata=wire(doc="the request, or the remark of a `continue`"))


@dataclass(kw_only=True)
class RunCell(_Sent):
    """Run this code in the notebook's kernel and answer `run_result` with the same `id`.
    `purpose`: "code": insert a new code cell below the active one with `code` and run it
    (the user sees it), or, with `replaces`, put `code` into the cell of that earlier run
    and run it there; "install" or "shell": an approved `pip install` / shell command,
    run in the kernel without adding a cell (show its output in the panel); "probe": a
    silent check of the kernel's state (which variables or files exist), run without a
    cell, not shown; "markdown": an exploration's Markdown cell, `code` its source, put
    below the turn's last cell (or in place of the cell of `replaces`, or above the cell of
    `above`) and rendered, nothing run: answer at once with no outputs."""

    type: str = field(default="run_cell", init=False)
    id: str
    notebook: str
    session: str
    turn: int
    code: str
    timeout: float | None = field(metadata=wire(doc="seconds, or null"))
    purpose: str = field(metadata=wire(enum=RUN_PURPOSES, enum_name="RunPurpose"))
    replaces: str | None = field(
        default=None,
        metadata=wire(
            doc="the `id` of an earlier `run_cell` of this turn whose cell this code replaces "
            "(a correction of code that ran there); null: a new cell"
        ),
    )
    above: str | None = field(
        default=None,
        metadata=wire(
            doc='"markdown" only: the `id` of an earlier `run_cell` of this turn above whose '
            "cell this one goes; null: below the turn's last cell"
        ),
    )


@dataclass(kw_only=True)
class Interrupt(_Sent):
    """Interrupt the kernel running cell `id` (never restart it). Answer the `run_cell` with
    status "interrupted" when it ends. Without an answer within 10 s the server records
    the run as interrupted and goes on."""

    type: str = field(default="interrupt", init=False)
    id: str
    notebook: str
    reason: str = field(metadata=wire(enum=INTERRUPT_REASONS))


@dataclass(kw_only=True)
class HistoryTurn:
    """One past turn: its events as they were sent, without the `notebook`, `session` and
    `turn` of each, and with the tokens of a round merged into one `token` event."""

    turn: int
    session: str
    mode: str = field(metadata=_MODE)
    request: str
    started_at: float = field(metadata=wire(doc="seconds since the epoch"))
    finished_at: float | None = None
    events: list[dict[str, Any]] = field(
        default_factory=list, metadata=wire(shape=list[AgentEvent])
    )
    done: dict[str, Any] | None = field(default=None, metadata=wire(shape=DoneEvent))

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(kw_only=True)
class UnreadableHistory:
    """The notebook's history file could not be read: it was set aside, not overwritten."""

    message: str = field(
        metadata=wire(doc="a sentence for the user: what happened, and where the file is")
    )
    kept_as: str = field(metadata=wire(doc="the path of the old file on the server"))

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(kw_only=True)
class History(_Sent):
    """Answer to `history` / `reset`: the notebook's past turns, oldest first."""

    type: str = field(default="history", init=False)
    notebook: str
    turns: list[dict[str, Any]] = field(metadata=wire(shape=list[HistoryTurn]))
    running: bool = field(metadata=wire(doc="whether a turn of this notebook runs now"))
    unreadable: dict[str, Any] | None = field(
        default=None,
        metadata=wire(
            shape=UnreadableHistory,
            optional=True,
            not_null=True,
            doc="present when the history on disk could not be read (the turns start afresh)",
        ),
    )

    def to_dict(self) -> dict[str, Any]:
        payload = super().to_dict()
        if self.unreadable is None:
            del payload["unreadable"]
        return payload


@dataclass(kw_only=True)
class Refusal(_Sent):
    """A message was refused: not JSON, no or unknown `type`, a missing or wrong field, too
    large, a path outside the root, a turn already running, as many turns running as the
    socket or the user may run at once, an unknown `run_cell` or approval id. Nothing else
    happened; the socket stays open. It has no `session` (the error of a turn has one)."""

    type: str = field(default="error", init=False)
    message: str
    in_reply_to: str | None = field(metadata=wire(doc="the refused message's `type`, or null"))
    notebook: str | None = field(
        default=None, metadata=wire(optional=True, not_null=True, doc="when known")
    )

    @classmethod
    def from_error(cls, error: ProtocolError) -> Refusal:
        return cls(message=error.message, in_reply_to=error.in_reply_to, notebook=error.notebook)

    def to_dict(self) -> dict[str, Any]:
        payload = super().to_dict()
        if self.notebook is None:
            del payload["notebook"]
        return payload


# In the order of docs/protocol.md's table; the loop's events come after `started`.
SERVER_MESSAGES = (Hello, Started, RunCell, Interrupt, History, Refusal)


def event_message(event: AgentEvent, meta: dict[str, Any]) -> dict[str, Any]:
    """A loop's event as the socket sends it: with the turn's `TurnMeta`."""
    return {**event.to_dict(), **meta}


# --- parsing the browser's messages ---------------------------------------------------


def parse_message(raw: str | bytes, max_bytes: int) -> Message:
    """One browser message, checked; ProtocolError says what is wrong with it."""
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise ProtocolError(f"the message is {size} bytes; the limit is {max_bytes}")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"the message is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ProtocolError("a message must be a JSON object with a 'type'")
    kind = payload.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ProtocolError(
            f"unknown message type {kind!r}; expected one of {', '.join(sorted(_PARSERS))}",
            in_reply_to=kind if isinstance(kind, str) else None,
        )
    notebook = payload.get("notebook") if isinstance(payload.get("notebook"), str) else None
    try:
        return parser(payload)
    except ProtocolError as error:
        error.in_reply_to, error.notebook = kind, error.notebook or notebook
        raise


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"'{name}' must be a non-empty string")
    if len(value) > MAX_TEXT_CHARS:
        raise ProtocolError(f"'{name}' is {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
    return value


def _notebook(payload: dict[str, Any]) -> str:
    value = payload.get("notebook")
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError("'notebook' must be the notebook's path, relative to the server root")
    return value


def _context(payload: dict[str, Any]) -> dict[str, Any] | None:
    context = payload.get("context")
    if context is None:
        return None
    if not isinstance(context, dict):
        raise ProtocolError("'context' must be an object (cells, variables, last_error, attached)")
    for name in ("cells", "variables", "attached"):
        items = context.get(name, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ProtocolError(f"'context.{name}' must be a list of objects")
    if context.get("last_error") is not None and not isinstance(context["last_error"], str):
        raise ProtocolError("'context.last_error' must be a string")
    return context


def _start(payload: dict[str, Any]) -> Start:
    mode = payload.get("mode", "agent")
    if mode not in MODES:
        raise ProtocolError(f"'mode' must be one of {', '.join(MODES)}, not {mode!r}")
    return Start(
        _notebook(payload),
        _text(payload, "request"),
        mode,
        _context(payload),
        _max_rounds(payload),
    )


def _continue(payload: dict[str, Any]) -> Continue:
    return Continue(
        _notebook(payload), _text(payload, "remark"), _context(payload), _max_rounds(payload)
    )


def _max_rounds(payload: dict[str, Any]) -> int | None:
    value = payload.get("max_rounds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROUNDS_LIMIT:
        raise ProtocolError(
            f"'max_rounds' must be a whole number from 1 to {MAX_ROUNDS_LIMIT}, not {value!r}"
        )
    return value


def _id(payload: dict[str, Any]) -> str:
    value = payload.get("id")
    if not isinstance(value, str) or not value:
        raise ProtocolError("'id' must be the id of the request being answered")
    return value


def _run_result(payload: dict[str, Any]) -> RunResult:
    outputs = payload.get("outputs", [])
    if not isinstance(outputs, list):
        raise ProtocolError("'outputs' must be a list of nbformat outputs")
    joined: list[dict[str, Any]] = []
    has_error = False
    for output in outputs:
        joined.append(_nbformat_output(output))
        has_error = output_from_dict(joined[-1]).output_type == "error" or has_error
    status = payload.get("status", ERROR if has_error else OK)
    if status not in RUN_STATUSES:
        raise ProtocolError(f"'status' must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
    count = payload.get("execution_count")
    duration = payload.get("duration", 0.0)
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        raise ProtocolError("'duration' must be a number of seconds")
    return RunResult(
        _id(payload),
        joined,
        status,
        count if isinstance(count, int) and not isinstance(count, bool) else None,
        float(duration),
    )


def _nbformat_output(output: Any) -> dict[str, Any]:
    """An nbformat output with multiline strings (lists of lines) joined."""
    if not isinstance(output, dict) or output.get("output_type") not in OUTPUT_TYPES:
        kind = output.get("output_type") if isinstance(output, dict) else type(output).__name__
        raise ProtocolError(
            f"unknown output {kind!r}; expected nbformat outputs ({', '.join(OUTPUT_TYPES)})"
        )
    output = dict(output)
    if isinstance(output.get("text"), list):
        output["text"] = "".join(str(line) for line in output["text"])
    data = output.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise ProtocolError("an output's 'data' must be a mime bundle (an object)")
        output["data"] = {
            mime: "".join(str(line) for line in value) if isinstance(value, list) else value
            for mime, value in data.items()
        }
    if output.get("output_type") == "error":
        traceback = output.get("traceback", [])
        output["traceback"] = (
            [str(line) for line in traceback] if isinstance(traceback, list) else [str(traceback)]
        )
        output["ename"] = str(output.get("ename", ""))
        output["evalue"] = str(output.get("evalue", ""))
    elif output.get("output_type") == "stream" and not isinstance(output.get("text", ""), str):
        raise ProtocolError("a stream output's 'text' must be a string or a list of strings")
    return output


def _stop(payload: dict[str, Any]) -> Stop:
    after_step = payload.get("after_step", False)
    if not isinstance(after_step, bool):
        raise ProtocolError("'after_step' must be true or false")
    return Stop(_notebook(payload), after_step)


def _run_plan(payload: dict[str, Any]) -> RunPlan:
    steps = payload.get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(step, str) for step in steps):
        raise ProtocolError("'steps' must be a list of the steps' titles (strings)")
    if len(steps) > MAX_PLAN_STEPS:
        raise ProtocolError(f"the plan has {len(steps)} steps; the most is {MAX_PLAN_STEPS}")
    if any(len(step) > 500 for step in steps):
        raise ProtocolError("a step's title is longer than 500 characters")
    return RunPlan(_notebook(payload), [step.strip() for step in steps if step.strip()])


def _approval(payload: dict[str, Any]) -> Approval:
    approved = payload.get("approved")
    if not isinstance(approved, bool):
        raise ProtocolError("'approved' must be true or false")
    return Approval(_id(payload), approved)


_PARSERS = {
    "start": _start,
    "continue": _continue,
    "run_result": _run_result,
    "approval": _approval,
    "stop": lambda payload: _stop(payload),
    "run_plan": lambda payload: _run_plan(payload),
    "history": lambda payload: HistoryRequest(_notebook(payload)),
    "reset": lambda payload: Reset(_notebook(payload)),
}
