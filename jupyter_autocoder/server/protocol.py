"""The messages of the agent WebSocket (docs/protocol.md), parsed and checked.

Browser -> server messages become typed dataclasses here; anything malformed raises
`ProtocolError`, which the socket answers with an `error` message (and stays open).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProtocolError
from ..executors.base import ERROR, INTERRUPTED, OK, ExecutionResult, output_from_dict

PROTOCOL_VERSION = 1
MODES = ("agent", "chat")
RUN_STATUSES = (OK, ERROR, INTERRUPTED)
OUTPUT_TYPES = ("stream", "display_data", "execute_result", "update_display_data", "error")
MAX_TEXT_CHARS = 200_000  # a request or remark longer than this is a mistake, not a question



@dataclass
class Start:
    notebook: str
    request: str
    mode: str = "agent"
    context: dict[str, Any] | None = None
    max_rounds: int | None = None  # this turn's round limit; None: the server's max_rounds
    type: str = field(default="start", init=False)


@dataclass
class Continue:
    notebook: str
    remark: str
    context: dict[str, Any] | None = None
    max_rounds: int | None = None
    type: str = field(default="continue", init=False)


@dataclass
class RunResult:
    id: str
    result: ExecutionResult
    type: str = field(default="run_result", init=False)


@dataclass
class Approval:
    id: str
    approved: bool
    type: str = field(default="approval", init=False)


@dataclass
class Stop:
    notebook: str
    type: str = field(default="stop", init=False)


@dataclass
class HistoryRequest:
    notebook: str
    type: str = field(default="history", init=False)


@dataclass
class Reset:
    notebook: str
    type: str = field(default="reset", init=False)


Message = Start | Continue | RunResult | Approval | Stop | HistoryRequest | Reset


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
        raise ProtocolError("'context' must be an object (cells, variables, last_error)")
    for name in ("cells", "variables"):
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
    return Start(_notebook(payload), _text(payload, "request"), mode, _context(payload), _max_rounds(payload))


def _continue(payload: dict[str, Any]) -> Continue:
    return Continue(_notebook(payload), _text(payload, "remark"), _context(payload), _max_rounds(payload))


MAX_ROUNDS_LIMIT = 10


def _max_rounds(payload: dict[str, Any]) -> int | None:
    value = payload.get("max_rounds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROUNDS_LIMIT:
        raise ProtocolError(f"'max_rounds' must be a whole number from 1 to {MAX_ROUNDS_LIMIT}, not {value!r}")
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
    converted = [output_from_dict(_nbformat_output(output)) for output in outputs]
    has_error = any(output.output_type == "error" for output in converted)
    status = payload.get("status", ERROR if has_error else OK)
    if status not in RUN_STATUSES:
        raise ProtocolError(f"'status' must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
    count = payload.get("execution_count")
    duration = payload.get("duration", 0.0)
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        raise ProtocolError("'duration' must be a number of seconds")
    result = ExecutionResult(
        outputs=converted,
        duration=float(duration),
        status=status,
        execution_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
    )
    return RunResult(_id(payload), result)


def _nbformat_output(output: Any) -> dict[str, Any]:
    """An nbformat output with multiline strings (lists of lines) joined."""
    if not isinstance(output, dict) or output.get("output_type") not in OUTPUT_TYPES:
        kind = output.get("output_type") if isinstance(output, dict) else type(output).__name__
        raise ProtocolError(f"unknown output {kind!r}; expected nbformat outputs ({', '.join(OUTPUT_TYPES)})")
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
        output["traceback"] = [str(line) for line in traceback] if isinstance(traceback, list) else [str(traceback)]
        output["ename"], output["evalue"] = str(output.get("ename", "")), str(output.get("evalue", ""))
    elif output.get("output_type") == "stream" and not isinstance(output.get("text", ""), str):
        raise ProtocolError("a stream output's 'text' must be a string or a list of strings")
    return output


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
    "stop": lambda payload: Stop(_notebook(payload)),
    "history": lambda payload: HistoryRequest(_notebook(payload)),
    "reset": lambda payload: Reset(_notebook(payload)),
}
