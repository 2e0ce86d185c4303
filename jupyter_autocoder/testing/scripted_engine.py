"""A scripted model engine: an OpenAI-compatible streaming server that answers from a script.

It stands in only for what cannot run here: a model that writes a bug on purpose so that
the correction loop can be tested, or a 33B model. It speaks the same protocol as the real
worker (chat completions, and raw completions for inline completion, with server-sent
events), so the code under test is the production path. Scriptable with `enqueue(...)`; it
records what it was asked in `.history`, and every request line it received (method and raw
path, before any check) in `.paths`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedReply:
    """One answer: its text, how it is cut into chunks, and an optional error status."""

    content: str = ""
    chunk_size: int = 4
    delay: float = 0.0  # seconds between chunks, to make a long stream that can be stopped
    status: int = 200
    error_message: str = ""

    @classmethod
    def coerce(cls, reply: str | dict[str, Any] | ScriptedReply) -> ScriptedReply:
        if isinstance(reply, ScriptedReply):
            return reply
        if isinstance(reply, str):
            return cls(content=reply)
        return cls(**reply)


@dataclass
class RecordedRequest:
    body: dict[str, Any]
    cancelled: bool = False
    chunks_sent: int = 0

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.body.get("messages", [])


@dataclass
class _Script:
    replies: deque = field(default_factory=deque)
    responder: Callable[[dict[str, Any]], str | dict | ScriptedReply] | None = None


class ScriptedEngine:
    """Serve scripted replies in order, one per chat request, on loopback with a key."""

    def __init__(
        self,
        replies: Iterable[str | dict[str, Any] | ScriptedReply] = (),
        responder: Callable[[dict[str, Any]], str | dict | ScriptedReply] | None = None,
        api_key: str | None = None,
        model_name: str = "scripted",
        port: int = 0,
    ):
        self.api_key = api_key if api_key is not None else secrets.token_hex(16)
        self.model_name = model_name
        self.history: list[RecordedRequest] = []
        self.paths: list[tuple[str, str]] = []  # (method, path as received), every request
        self._script = _Script(deque(ScriptedReply.coerce(r) for r in replies), responder)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: str | dict[str, Any] | ScriptedReply) -> None:
        with self._lock:
            self._script.replies.extend(ScriptedReply.coerce(r) for r in replies)

    def start(self) -> ScriptedEngine:
        # A short poll interval: stop() waits for the serving loop to notice, 0.5 s by default.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ScriptedEngine:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _next_reply(self, body: dict[str, Any]) -> ScriptedReply:
        with self._lock:
            if self._script.replies:
                return self._script.replies.popleft()
        if self._script.responder is not None:
            return ScriptedReply.coerce(self._script.responder(body))
        return ScriptedReply(status=500, error_message="the scripted engine has no reply left")


def _make_handler(engine: ScriptedEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            if parsed:
                with engine._lock:
                    engine.paths.append((self.command, self.path))
            return parsed

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {engine.api_key}":
                return True
            self._send_json(HTTPStatus.UNAUTHORIZED, {"error": {"message": "invalid API key"}})
            return False

        def _send_json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path.rstrip("/") == "/v1/models":
                self._send_json(
                    200, {"object": "list", "data": [{"id": engine.model_name, "object": "model"}]}
                )
            else:
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            route = self.path.rstrip("/")
            if route not in ("/v1/chat/completions", "/v1/completions"):
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                return
            self.raw_completion = route == "/v1/completions"  # a prompt, its text in `text`
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send_json(400, {"error": {"message": "malformed JSON"}})
                return
            record = RecordedRequest(body)
            with engine._lock:
                engine.history.append(record)
            reply = engine._next_reply(body)
            if reply.status != 200:
                self._send_json(reply.status, {"error": {"message": reply.error_message}})
            elif body.get("stream"):
                self._stream(reply, record)
            elif self.raw_completion:
                self._send_json(200, _text_completion(engine.model_name, reply.content))
            else:
                self._send_json(200, _completion(engine.model_name, reply.content))

        def _stream(self, reply: ScriptedReply, record: RecordedRequest) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
            pieces = [
                reply.content[i : i + reply.chunk_size]
                for i in range(0, len(reply.content), reply.chunk_size)
            ]
            chunk = _text_chunk if self.raw_completion else _chunk
            try:
                for piece in pieces:
                    self._event(chunk(engine.model_name, completion_id, {"content": piece}, None))
                    record.chunks_sent += 1
                    if reply.delay:
                        time.sleep(reply.delay)
                self._event(chunk(engine.model_name, completion_id, {}, "stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                record.cancelled = True
            self.close_connection = True

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

    return Handler


def _chunk(
    model: str, completion_id: str, delta: dict[str, str], finish_reason: str | None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _text_chunk(
    model: str, completion_id: str, delta: dict[str, str], finish_reason: str | None
) -> dict[str, Any]:
    """A chunk of a raw completion (`/v1/completions`): the text in `choices[0].text`."""
    return {
        "id": completion_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": delta.get("content", ""), "finish_reason": finish_reason}],
    }


def _text_completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:12]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": content, "finish_reason": "stop"}],
    }


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve scripted chat replies over the OpenAI protocol."
    )
    parser.add_argument("--script", help="JSON file: a list of replies (strings or objects)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None)
    arguments = parser.parse_args(argv)
    replies: list[Any] = []
    if arguments.script:
        with open(arguments.script, encoding="utf-8") as script:
            replies = json.load(script)
    engine = ScriptedEngine(replies, api_key=arguments.api_key, port=arguments.port)
    print(json.dumps({"base_url": engine.base_url, "api_key": engine.api_key}), flush=True)
    try:
        engine._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
