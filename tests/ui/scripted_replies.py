"""The scripted model of the browser tests: one named script per test.

The Jupyter server of the scripted configuration (jupyter_server_scripted.py) runs a
`ScriptedEngine` whose responder picks the script whose `match` string occurs in the
conversation's first user message (the request, with the notebook context the panel
sends), and answers with the script's reply for the round: the first reply when the
conversation has no answer yet, the second after one, and so on. Tests therefore do not
depend on their order, and a test may be repeated. Scripts are in scripts.json; a reply is
a string or a `ScriptedReply` object (`content`, `chunk_size`, `delay`), where `repeat`
repeats the content and `tail` is added once at its end (a long stream in a few bytes).

A request that matches no script, or asks for more replies than its script has, gets an
HTTP 500 whose message says so: the panel shows it, and the test fails readably.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyter_autocoder.testing.scripted_engine import ScriptedEngine, ScriptedReply

SCRIPTS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "scripts.json").read_text("utf-8")
)


def respond(body: dict[str, Any]) -> ScriptedReply:
    messages = body.get("messages", [])
    first_user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    for name, script in SCRIPTS.items():
        if script["match"] in first_user:
            index = sum(1 for m in messages if m.get("role") == "assistant")
            replies = script["replies"]
            if index < len(replies):
                return _reply(replies[index])
            return ScriptedReply(
                status=500, error_message=f"script {name!r} has no reply {index + 1}"
            )
    return ScriptedReply(status=500, error_message="no test script matches this request")


def _reply(spec: str | dict[str, Any]) -> ScriptedReply:
    if isinstance(spec, str):
        return ScriptedReply(content=spec)
    spec = dict(spec)
    repeat, tail = int(spec.pop("repeat", 1)), str(spec.pop("tail", ""))
    spec["content"] = spec.get("content", "") * repeat + tail
    return ScriptedReply(**spec)


# The engine of this server process (scripted_history.py reads what it was asked).
ENGINE: ScriptedEngine | None = None


def start_engine() -> ScriptedEngine:
    global ENGINE
    ENGINE = ScriptedEngine(responder=respond, model_name="scripted").start()
    return ENGINE
