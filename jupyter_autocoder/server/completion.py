"""Inline completion: `POST <base_url>/autocoder/api/complete`, a second kind of request
beside agent turns, with no loop and no executor.

The browser sends the text before and after the cursor (earlier cells and the cell up to
the cursor; the rest of the cell and later cells). The server builds the prompt for the
loaded model (`llm/fim.py`: its own fill-in-the-middle tokens, else the configured
fallback), takes a slot of the queue's completion class (first in line; dropped with a 503
when none is free within `c.AutoCoderApp.completion_start_budget`), streams from the
engine, cleans the middle as it comes (`llm/middle.py`) and stops the engine as soon as
the rest is not wanted. Each line of the answer is a JSON object (NDJSON):
`{"text": "..."}` pieces of the middle, then `{"done": true, "reason": ..., ...}`.

A newer request of the same editor (`client`) cancels the older one here at once, and the
browser closes the older connection too; either way the upstream connection closes and
the worker stops generating.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ..config import AutoCoder
from ..errors import ProxyError, QueueBusyError
from ..llm.fim import (
    CHAT,
    FIM,
    PREFIX,
    FimTemplate,
    chat_messages,
    choose_template,
    cut_prefix,
    cut_suffix,
)
from ..llm.middle import MiddleFilter
from .engine import EngineHost
from .queue import FairQueue

log = logging.getLogger(__name__)

MAX_TOKENS_LIMIT = 512
MAX_LINES_LIMIT = 100
_LANGUAGE = re.compile(r"^[\w.+#-]{0,40}$")
CHARS_PER_TOKEN = 2.5  # a safe floor for code: the prompt must fit the lane's context


class CompletionSink(Protocol):
    def begin(self, status: int, content_type: str) -> Awaitable[None]: ...

    def send(self, data: bytes) -> Awaitable[None]: ...


@dataclass(frozen=True)
class CompletionRequest:
    """One completion request from an editor, checked."""

    prefix: str
    suffix: str = ""
    language: str = "python"
    max_lines: int = 0
    max_tokens: int = 64
    client: str = ""  # the editor's id: a newer request of the same client supersedes
    path: str = ""

    @classmethod
    def parse(cls, body: bytes, max_bytes: int) -> CompletionRequest:
        """The request in `body`; ProxyError(400/413) says what is wrong."""
        if len(body) > max_bytes:
            raise ProxyError(413, f"the request is {len(body)} bytes; the limit is {max_bytes}")
        try:
            payload = json.loads(body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProxyError(400, f"the request body is not JSON: {error}") from None
        if not isinstance(payload, dict):
            raise ProxyError(400, "the request body must be a JSON object")
        fields: dict[str, Any] = {}
        for name, limit in (("prefix", None), ("suffix", None), ("client", 200), ("path", 1000)):
            value = payload.get(name, "")
            if not isinstance(value, str):
                raise ProxyError(400, f"'{name}' must be text")
            if limit is not None and len(value) > limit:
                raise ProxyError(400, f"'{name}' is longer than {limit} characters")
            fields[name] = value
        language = payload.get("language", "python")
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise ProxyError(400, "'language' must be a language name such as python")
        fields["language"] = language.lower() or "python"
        for name, low, high, default in (
            ("max_lines", 0, MAX_LINES_LIMIT, 0),
            ("max_tokens", 1, MAX_TOKENS_LIMIT, 64),
        ):
            value = payload.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ProxyError(400, f"'{name}' must be an integer from {low} to {high}")
            fields[name] = value
        return cls(**fields)


class CompletionService:
    """Answers completion requests for the server's one engine (see the module's doc)."""

    def __init__(
        self,
        engine: EngineHost,
        queue: FairQueue,
        http: Callable[[], httpx.AsyncClient],
        settings: AutoCoder,
        *,
        start_budget: float = 0.3,
        max_prefix_chars: int = 8000,
        max_suffix_chars: int = 4000,
        max_request_bytes: int = 256 * 1024,
    ):
        self.engine = engine
        self.queue = queue
        self._http = http
        self.settings = settings
        self.start_budget = start_budget
        self.max_prefix_chars = max_prefix_chars
        self.max_suffix_chars = max_suffix_chars
        self.max_request_bytes = max_request_bytes
        self._running: dict[str, asyncio.Task[Any]] = {}
        self.served = 0
        self.superseded = 0

    # --- what the model offers ----------------------------------------------------------

    def template(self) -> FimTemplate | None:
        from ..llm.catalogue import CATALOGUE

        status = self.engine.status()
        spec = CATALOGUE.get(str(status.get("model") or "").lower())
        try:
            return choose_template(status.get("fim"), spec.fim if spec else None)
        except LookupError:
            return None

    def method(self) -> tuple[str | None, str]:
        """How the loaded model is asked (fim, prefix, chat; None: not at all), and why."""
        template = self.template()
        if template is not None:
            return FIM, f"fill-in-the-middle with the model's own tokens ({template.name})"
        fallback = self.settings.completion_fallback
        if fallback == "none":
            return None, "the model has no fill-in-the-middle tokens, and the fallback is off"
        how = "continues the text before the cursor" if fallback == PREFIX else "a chat prompt"
        return fallback, f"the model has no fill-in-the-middle tokens: {how}"

    def status(self) -> dict[str, Any]:
        method, reason = self.method()
        return {
            "available": method is not None,
            "method": method,
            "reason": reason,
            "lane": self._lane_context() > 0,
            "served": self.served,
            "superseded": self.superseded,
            "dropped": self.queue.dropped,
        }

    def _lane_context(self) -> int:
        if self.engine.remote:
            return 0
        return int(self.engine.status().get("completion_ctx") or 0)

    # --- one request -------------------------------------------------------------------------

    async def complete(self, request: CompletionRequest, user: str, sink: CompletionSink) -> None:
        """Answer one request; raises ProxyError before anything was written."""
        if not self.engine.ready:
            state = self.engine.status().get("state")
            raise ProxyError(
                503, f"the model is not ready ({state}); no completion", "engine_unavailable"
            )
        method, reason = self.method()
        if method is None:
            raise ProxyError(409, f"no inline completion: {reason}", "not_supported")
        # The editor's id says who supersedes whom (the browser makes a random one per
        # editor); a token-authenticated client without a cookie is a new user every time.
        key = f"client:{request.client}" if request.client else f"user:{user}"
        older = self._running.get(key)
        if older is not None and not older.done():
            older.cancel()  # superseded: its connection upstream closes, the worker stops
            self.superseded += 1
        current = asyncio.current_task()
        if current is not None:
            self._running[key] = current
        try:
            await self._serve(request, method, key, sink)
        finally:
            if current is not None and self._running.get(key) is current:
                del self._running[key]

    async def _serve(
        self, request: CompletionRequest, method: str, key: str, sink: CompletionSink
    ) -> None:
        lane_ctx = self._lane_context()
        prefix, suffix = self._fit(request, lane_ctx)
        template = self.template() if method == FIM else None
        url, headers, body, chat = self._upstream(
            method, template, prefix, suffix, request, lane_ctx
        )
        started = time.perf_counter()
        try:
            ticket = await self.queue.acquire_priority(
                key, self.start_budget, own_slot=lane_ctx > 0
            )
        except QueueBusyError as error:
            raise ProxyError(503, str(error), "busy") from None
        try:
            await sink.begin(200, "application/x-ndjson")
            await self._stream(
                url, headers, body, chat, request, prefix, suffix, template, started, sink
            )
        finally:
            self.queue.release(ticket)

    def _fit(self, request: CompletionRequest, lane_ctx: int) -> tuple[str, str]:
        """Prefix and suffix cut from their far ends to the server's budget and the lane's
        context (the browser cuts to the user's settings first)."""
        prefix_limit, suffix_limit = self.max_prefix_chars, self.max_suffix_chars
        n_ctx = lane_ctx or int(self.engine.status().get("n_ctx") or 0)
        if n_ctx:
            room = max(256, int((n_ctx - request.max_tokens - 32) * CHARS_PER_TOKEN))
            prefix_limit = min(prefix_limit, room * 3 // 4)
            suffix_limit = min(suffix_limit, room - prefix_limit)
        return cut_prefix(request.prefix, prefix_limit), cut_suffix(request.suffix, suffix_limit)

    def _upstream(
        self,
        method: str,
        template: FimTemplate | None,
        prefix: str,
        suffix: str,
        request: CompletionRequest,
        lane_ctx: int,
    ) -> tuple[str, dict[str, str], dict[str, Any], bool]:
        params: dict[str, Any] = {
            "max_tokens": request.max_tokens,
            "temperature": 0.0,
            "stream": True,
            "model": self.engine.model_name(),
        }
        chat = method == CHAT
        if method == FIM and template is not None:
            params.update(prompt=template.prompt(prefix, suffix), stop=list(template.stop))
        elif method == PREFIX:
            params.update(prompt=prefix)
        else:
            params.update(
                messages=chat_messages(
                    prefix, suffix, request.language, request.path.rsplit("/", 1)[-1] or "untitled"
                ),
                stop=["\n```"],
            )
        if lane_ctx > 0:
            url, headers = self.engine.lane_upstream()
        else:
            url, headers = self.engine.upstream("chat/completions" if chat else "completions")
        return url, headers, params, chat

    async def _stream(
        self,
        url: str,
        headers: dict[str, str],
        body: dict[str, Any],
        chat: bool,
        request: CompletionRequest,
        prefix: str,
        suffix: str,
        template: FimTemplate | None,
        started: float,
        sink: CompletionSink,
    ) -> None:
        middle = MiddleFilter(
            prefix, suffix, request.max_lines, request.language, template.stop if template else ()
        )
        first_at: float | None = None
        usage: dict[str, Any] = {}
        finish = None
        try:
            async with self._http().stream(
                "POST", url, headers=headers, content=json.dumps(body).encode()
            ) as response:
                if response.status_code >= 400:
                    detail = (await response.aread()).decode("utf-8", "replace")[:500]
                    await sink.send(
                        _line({"error": f"the engine answered {response.status_code}: {detail}"})
                    )
                    return
                # Leaving this block (done, or cancelled) closes the connection upstream.
                async for line in response.aiter_lines():
                    event = _event(line)
                    if event is None:
                        continue
                    if "error" in event:
                        await sink.send(_line({"error": str(event["error"])}))
                        return
                    usage = event.get("usage") or usage
                    piece, finish = _piece(event, chat, finish)
                    if not piece:
                        continue
                    new = middle.feed(piece)
                    if new:
                        if first_at is None:
                            first_at = time.perf_counter()
                        await sink.send(_line({"text": new}))
                    if middle.stopped:
                        break
        except httpx.TransportError as error:
            await sink.send(_line({"error": f"the model engine closed the stream: {error}"}))
            return
        rest = middle.finish()
        if rest:
            first_at = first_at or time.perf_counter()
            await sink.send(_line({"text": rest}))
        self.served += 1
        await sink.send(
            _line(
                {
                    "done": True,
                    "reason": middle.stop_reason or finish or "stop",
                    "first_text_seconds": round(first_at - started, 3) if first_at else None,
                    "seconds": round(time.perf_counter() - started, 3),
                    "usage": usage,
                }
            )
        )


def _line(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode() + b"\n"


def _event(line: str) -> dict[str, Any] | None:
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if not data or data == "[DONE]":
        return None
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def _piece(event: dict[str, Any], chat: bool, finish: str | None) -> tuple[str, str | None]:
    choices = event.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return "", finish
    choice = choices[0]
    finish = choice.get("finish_reason") or finish
    if chat:
        return str((choice.get("delta") or {}).get("content") or ""), finish
    return str(choice.get("text") or ""), finish
