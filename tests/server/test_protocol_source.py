"""One source for the agent WebSocket's protocol: the dataclasses of server/protocol.py and
agent/events.py. The files generated from them (the JSON Schema, the panel's TypeScript
types, the tables of docs/protocol.md) must be up to date; what the server sends must match
the schema; and the schema must allow what the server accepts from the browser, and no more.

(Every message of the socket tests is checked against the schema too: see conftest.py.)
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from jupyter_autocoder._version import __version__
from jupyter_autocoder.agent import events as ev
from jupyter_autocoder.agent.approval import ApprovalRequest
from jupyter_autocoder.agent.guard import VariableChange
from jupyter_autocoder.errors import ProtocolError
from jupyter_autocoder.executors.base import (
    DisplayOutput,
    ErrorOutput,
    ExecutionResult,
    StreamOutput,
)
from jupyter_autocoder.server.browser_executor import BrowserExecutor
from jupyter_autocoder.server.channel import Channel
from jupyter_autocoder.server.history import HistoryStore, TurnRecord
from jupyter_autocoder.server.protocol import (
    MAX_TEXT_CHARS,
    Hello,
    Refusal,
    Started,
    TurnMeta,
    event_message,
    parse_message,
)
from jupyter_autocoder.server.protocol_schema import (
    COMMAND,
    DOC_FILE,
    SCHEMA_FILE,
    TYPESCRIPT_FILE,
    build_schema,
    main,
    stale_files,
)
from jupyter_autocoder.server.sessions import NotebookState

REPO_ROOT = Path(__file__).resolve().parents[2]
META = TurnMeta(notebook="work/demo.ipynb", session="9f2c4a7e1b3d", turn=2).to_dict()


def test_the_generated_files_are_what_the_dataclasses_give():
    stale = [str(path.relative_to(REPO_ROOT)) for path in stale_files(REPO_ROOT)]
    assert stale == [], f"{', '.join(stale)} differ from the dataclasses: run `{COMMAND}`"


def test_the_command_names_a_stale_file_and_rewrites_it(tmp_path, capsys):
    for name in (SCHEMA_FILE, TYPESCRIPT_FILE, DOC_FILE):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    doc = tmp_path / DOC_FILE
    doc.write_text(doc.read_text().replace("| `hello` |", "| `hullo` |"))

    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert capsys.readouterr().out == f"stale: {DOC_FILE}\n"
    assert main(["--root", str(tmp_path)]) == 0
    assert doc.read_text() == (REPO_ROOT / DOC_FILE).read_text()
    assert main(["--check", "--root", str(tmp_path)]) == 0


# --- what the server sends ----------------------------------------------------------------


def _result() -> ExecutionResult:
    return ExecutionResult(
        outputs=[
            StreamOutput("stdout", "4\n"),
            DisplayOutput({"text/plain": "<Figure>", "image/png": "iVBORw0KGgo="}),
            DisplayOutput({"text/plain": "4"}, {}, "execute_result"),
            ErrorOutput("NameError", "name 'x' is not defined", ["\x1b[31mNameError\x1b[0m"]),
        ],
        duration=0.25,
        status="error",
        execution_count=3,
    )


def _events() -> list[ev.AgentEvent]:
    """One or more of each kind of event, as the loop makes them."""
    install = ApprovalRequest(kind="install", command="pip install pandas", packages=["pandas"])
    return [
        ev.RoundEvent(round=1, max_rounds=3),
        ev.TokenEvent(round=1, text="```python\n"),
        ev.CodeEvent(round=1, code="print(x)"),
        ev.CodeEvent(round=2, code="ls data", language="sh", rerun=True),
        ev.InstallEvent(round=1, packages=["pandas"], command="pip install pandas"),
        ev.InstallEvent(round=1, status="refused", rejected=["--index-url=http://x"]),
        ev.ApprovalEvent(round=1, request=install),
        ev.ApprovalEvent(round=1, request=install, status="declined"),
        ev.ExecutionEvent(round=1, result=_result(), feedback="NameError: name 'x' ..."),
        ev.ExecutionEvent(round=2, result=ExecutionResult(), ok=True, language="sh"),
        ev.VariablesChangedEvent(
            round=1,
            changes=[
                VariableChange("log", "mutated", ["column `day_of_week` added"]),
                VariableChange("df", "reassigned", was="list of 2 items", restorable=True),
            ],
        ),
        ev.ErrorEvent(round=1, message="no engine", error_type="EngineUnavailableError"),
        ev.DoneEvent(round=2, success=True, code="print(1)", rounds=2, seconds=1.5, trace_path="t"),
        ev.DoneEvent(reason=ev.ANSWERED, success=True, answer="Use df.describe()."),
        ev.DoneEvent(reason=ev.STOPPED, message="Stopped."),
        ev.PlanEvent(target="sales.csv", steps=[ev.PlanStep(title="Mean price")], review=True),
        ev.PlanEvent(target="df", steps=[ev.PlanStep(title="Counts", status="stopped")]),
        ev.StepEvent(step=1, steps=2, title="Mean price", status="done", message="ok"),
        ev.SummaryEvent(text="## Summary\n\n- 4.25", unverified=["9"], asked_again=True),
        ev.ExplorationDoneEvent(reason=ev.STOPPED, steps_done=1, rounds=2, seconds=3.5),
    ]


def test_every_event_as_sent_and_as_kept_matches_the_schema(message_problem):
    events = _events()
    assert {event.type for event in events} == set(ev.EVENT_TYPES)  # one of each at least
    for event in events:
        assert message_problem("ServerMessage", event_message(event, META)) is None, event
        # as the history keeps it (binary outputs left out, without the turn's fields)
        assert message_problem("AgentEvent", event.to_dict(include_binary=False)) is None, event
        # without the turn's fields, it is not a message of the socket
        assert message_problem("ServerMessage", event.to_dict()) is not None, event


def test_the_schema_refuses_an_event_that_breaks_it(message_problem):
    wrong_status = event_message(ev.InstallEvent(round=1, status="exploded"), META)
    assert "'exploded' is not one of" in message_problem("ServerMessage", wrong_status)
    extra = {**event_message(ev.RoundEvent(round=1, max_rounds=3), META), "colour": "red"}
    assert message_problem("ServerMessage", extra) is not None
    no_request = event_message(ev.ApprovalEvent(round=1), META)
    assert message_problem("ServerMessage", no_request) is not None


def test_the_servers_own_messages_match_the_schema(tmp_path, message_problem):
    # `run_cell` and `interrupt` as the browser executor sends them (a run that times out)
    sent: list[dict] = []
    channel = Channel(lambda text: sent.append(json.loads(text)), asyncio.new_event_loop())
    executor = BrowserExecutor(channel, dict(META), interrupt_grace=0.01)
    result = executor.run("import time; time.sleep(60)", timeout=0.01)
    assert result.timed_out
    assert [message["type"] for message in sent] == ["run_cell", "interrupt"]

    # `history` with a finished turn and one cut off by a restart (its `done` is written then)
    store = HistoryStore(tmp_path, str(tmp_path))
    state = NotebookState("work/demo.ipynb", store.load("work/demo.ipynb"))
    for request, events in (("mean of [1, 2, 3]", _events()), ("a long job", _events()[:3])):
        record = TurnRecord(len(state.history.turns) + 1, "9f2c4a7e1b3d", "agent", request)
        for event in events:
            record.add(event.to_dict(include_binary=False))  # as a turn records it
        state.history.turns.append(record.data)
    store.save(state.history)
    state = NotebookState("work/demo.ipynb", store.load("work/demo.ipynb"))
    cut_off = state.history.turns[-1]["done"]
    assert cut_off["reason"] == "stopped" and "answer" not in cut_off

    refusals = []
    for raw in ("{not json", '{"type": "start", "notebook": "a.ipynb"}', '{"type": 5}'):
        with pytest.raises(ProtocolError) as refused:
            parse_message(raw, 4096)
        refusals.append(Refusal.from_error(refused.value).to_dict())
    assert "notebook" in refusals[1] and "notebook" not in refusals[0]

    messages = [
        Hello(version=__version__).to_dict(),
        Started(**META, mode="chat", request="how do I summarise df?").to_dict(),
        *sent,
        state.snapshot(),
        *refusals,
        Refusal(message="internal error: boom", in_reply_to=None).to_dict(),
    ]
    for message in messages:
        assert message_problem("ServerMessage", message) is None, message


# --- what the browser sends: the schema and the parser agree -------------------------------

START = {"type": "start", "notebook": "a.ipynb", "request": "mean of [1, 2, 3]"}
CONTEXT = {
    "cells": [{"source": "import math", "output": "", "execution_count": 1}],
    "variables": [{"name": "df", "type_name": "DataFrame", "summary": "(200, 4)"}],
    "last_error": None,
    "notebook_path": "a.ipynb",
}
RUN = {"type": "run_result", "id": "c0a1"}
STREAM = {"output_type": "stream", "name": "stdout", "text": ["4", "\n"]}

AGREED = [  # (message, accepted by both)
    (START, True),
    ({**START, "mode": "chat", "context": CONTEXT, "max_rounds": 10, "unknown": 1}, True),
    ({**START, "context": None, "max_rounds": None}, True),
    ({**START, "request": "   "}, False),
    ({**START, "request": "x" * (MAX_TEXT_CHARS + 1)}, False),
    ({**START, "notebook": ""}, False),
    ({"type": "start", "request": "x"}, False),
    ({**START, "mode": "yolo"}, False),
    ({**START, "mode": None}, False),
    ({**START, "max_rounds": 0}, False),
    ({**START, "max_rounds": 11}, False),
    ({**START, "max_rounds": "3"}, False),
    ({**START, "max_rounds": True}, False),
    ({**START, "context": "cells"}, False),
    ({**START, "context": {"cells": "import math"}}, False),
    ({**START, "context": {"variables": [1]}}, False),
    ({**START, "context": {"last_error": 5}}, False),
    ({"type": "continue", "notebook": "a.ipynb", "remark": "now double it"}, True),
    ({"type": "continue", "notebook": "a.ipynb"}, False),
    (RUN, True),
    ({**RUN, "outputs": [STREAM], "status": "interrupted", "execution_count": 4}, True),
    ({**RUN, "duration": 2}, True),
    ({**RUN, "outputs": [{"output_type": "error", "ename": "E", "traceback": ["E"]}]}, True),
    ({**RUN, "outputs": [{"output_type": "execute_result", "data": {"text/plain": ["4"]}}]}, True),
    ({**RUN, "id": ""}, False),
    ({**RUN, "outputs": "4\n"}, False),
    ({**RUN, "outputs": [{"output_type": "bogus"}]}, False),
    ({**RUN, "outputs": ["4\n"]}, False),
    ({**RUN, "outputs": [{**STREAM, "text": 4}]}, False),
    ({**RUN, "outputs": [{"output_type": "display_data", "data": "4"}]}, False),
    ({**RUN, "status": "timeout"}, False),
    ({**RUN, "duration": "2 s"}, False),
    ({**RUN, "duration": True}, False),
    ({"type": "approval", "id": "a1", "approved": False}, True),
    ({"type": "approval", "id": "a1", "approved": "yes"}, False),
    ({"type": "approval", "approved": True}, False),
    ({"type": "stop", "notebook": "a.ipynb"}, True),
    ({"type": "history", "notebook": "a.ipynb"}, True),
    ({"type": "reset", "notebook": "a.ipynb"}, True),
    ({"type": "reset"}, False),
    ({"type": "launch_missiles"}, False),
    ({"notebook": "a.ipynb"}, False),
    ([1, 2, 3], False),
]

# Where the two differ on purpose. The server takes these, and makes them whole: the schema
# says what a browser should send.
SERVER_MAKES_GOOD = [
    {**START, "context": {"cells": [{"source": 5}]}},  # cell fields are str()-ed
    {**START, "context": {"notebook_path": 5}},
    {**RUN, "execution_count": "three"},  # becomes null
]
# JSON Schema counts 1.0 as an integer; the server wants a whole number written as one.
SERVER_REFUSES = [{**START, "max_rounds": 1.0}]


def _parses(message: object) -> bool:
    try:
        parse_message(json.dumps(message), 10 * MAX_TEXT_CHARS)
    except ProtocolError:
        return False
    return True


@pytest.mark.parametrize(("message", "accepted"), AGREED)
def test_the_parser_accepts_what_the_schema_allows(message, accepted, message_problem):
    assert _parses(message) is accepted
    assert (message_problem("ClientMessage", message) is None) is accepted


def test_where_the_parser_and_the_schema_differ_on_purpose(message_problem):
    for message in SERVER_MAKES_GOOD:
        assert _parses(message) and message_problem("ClientMessage", message), message
    for message in SERVER_REFUSES:
        assert not _parses(message) and not message_problem("ClientMessage", message), message


def test_the_parser_knows_the_message_types_of_the_schema():
    definitions = build_schema()["$defs"]
    types = sorted(
        definitions[option["$ref"].rsplit("/", 1)[-1]]["properties"]["type"]["const"]
        for option in definitions["ClientMessage"]["oneOf"]
    )
    with pytest.raises(ProtocolError) as refused:
        parse_message('{"type": "launch_missiles"}', 4096)
    assert refused.value.message.endswith(f"expected one of {', '.join(types)}")
