"""The OpenAI-compatible proxy under `<base_url>/autocoder/api/v1/`: kernels and other local
clients reach the server's one model through it, in turn with everyone else.

Generation requests (`chat/completions`, `completions`) wait in the fair queue; other
routes (`models`, ...) go straight through. A streamed answer's server-sent events are
passed on chunk by chunk as they arrive; the response headers go out before the request
waits in the queue, so a client can cancel a request that is still waiting (and it then
leaves the queue at once). Errors met after the headers went out arrive as an
OpenAI-style `data: {"error": {...}}` event.

The tornado handler (`handlers.ProxyHandler`) only adapts HTTP to `EngineProxy.forward`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ..errors import ProxyError
from .engine import EngineHost
from .queue import FairQueue

log = logging.getLogger(__name__)

QUEUED_PATHS = ("chat/completions", "completions")
KEEPALIVE_SECONDS = 15.0
# Counted in the raw stream without parsing it: one per chunk that carries text.
_CONTENT_MARK = b'"content"'
_ROLE_ONLY_MARK = b'"content": ""'
_ROLE_ONLY_MARK_COMPACT = b'"content":""'



class ResponseSink(Protocol):
    """Where the proxy writes its answer (the tornado handler)."""

    def begin(self, status: int, content_type: str) -> Awaitable[None]: ...

    def send(self, data: bytes) -> Awaitable[None]: ...


@dataclass
class ProxyRequest:
    method: str
    path: str  # below v1/, e.g. "chat/completions"
    body: bytes
    lane: str  # who asks (the client's connection), for the fair queue


class TokenMeter:
    """Recent decode speed, from the streams that went through the proxy."""

    def __init__(self, keep: int = 20, window_seconds: float = 300.0):
        self._streams: deque[tuple[float, int, float]] = deque(maxlen=keep)
        self.window_seconds = window_seconds

    def record(self, tokens: int, first_at: float | None, last_at: float | None) -> None:
        if tokens < 2 or first_at is None or last_at is None or last_at <= first_at:
            return
        self._streams.append((time.monotonic(), tokens - 1, last_at - first_at))

    def tokens_per_second(self) -> float | None:
        now = time.monotonic()
        recent = [(tokens, seconds) for at, tokens, seconds in self._streams if now - at < self.window_seconds]
        seconds = sum(s for _, s in recent)
        return round(sum(t for t, _ in recent) / seconds, 1) if seconds > 0 else None


def count_tokens(chunk: bytes) -> int:
    """Text-carrying stream events in a chunk of server-sent events (one token each)."""
    count = chunk.count(_CONTENT_MARK)
    if count:
        count -= chunk.count(_ROLE_ONLY_MARK) + chunk.count(_ROLE_ONLY_MARK_COMPACT)
    return count


def lane_of(request: ProxyRequest, body: dict[str, Any] | None) -> str:
    """The queue lane: the OpenAI `user` field when the client names itself, else its connection."""
    user = body.get("user") if body else None
    return f"user:{user}" if isinstance(user, str) and user else request.lane


def key_matches(presented: str | None, key: str) -> bool:
    return bool(presented) and hmac.compare_digest(presented.encode(), key.encode())


class EngineProxy:
    """Forwards OpenAI requests to the engine (local worker or remote), through the queue."""

    def __init__(
        self,
        engine: EngineHost,
        queue: FairQueue,
        *,
        max_request_bytes: int,
        start_timeout: Callable[[], float],
    ):
        self.engine = engine
        self.queue = queue
        self.meter = TokenMeter()
        self.max_request_bytes = max_request_bytes
        self._start_timeout = start_timeout
        self._http: httpx.AsyncClient | None = None
        self._http_lock = threading.Lock()

    @property
    def http(self) -> httpx.AsyncClient:
        with self._http_lock:
            if self._http is None:
                # No pool limit and no read timeout: a long answer of a slow model is normal.
                self._http = httpx.AsyncClient(
                    timeout=httpx.Timeout(None, connect=10.0),
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=16),
                    trust_env=False,
                )
            return self._http

    def warm_up(self) -> None:
        """Create the client in a thread at start: its first creation imports httpcore and
        anyio (most of a second on a busy machine), which must not stall the event loop."""
        threading.Thread(target=lambda: self.http, name="autocoder-proxy-warm-up", daemon=True).start()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- the request --------------------------------------------------------------------

    def parse_body(self, request: ProxyRequest) -> dict[str, Any] | None:
        if request.method != "POST":
            return None
        if len(request.body) > self.max_request_bytes:
            raise ProxyError(413, f"the request is {len(request.body)} bytes; the limit is {self.max_request_bytes}")
        try:
            body = json.loads(request.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProxyError(400, f"the request body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise ProxyError(400, "the request body must be a JSON object")
        if request.path in QUEUED_PATHS:
            if request.path == "chat/completions" and not isinstance(body.get("messages"), list):
                raise ProxyError(400, "'messages' must be a list of chat messages")
            model = body.get("model")
            if not isinstance(model, str) or model in ("", "default"):
                body["model"] = self.engine.model_name()
        return body

    async def forward(self, request: ProxyRequest, sink: ResponseSink) -> None:
        """Answer one request; raises ProxyError before anything was written."""
        body = self.parse_body(request)
        streaming = bool(body and body.get("stream")) and request.path in QUEUED_PATHS
        if streaming:
            await self._forward_stream(request, body, sink)  # type: ignore[arg-type]
            return
        await self._ensure_engine()
        if request.path in QUEUED_PATHS:
            async with self.queue.slot(lane_of(request, body)):
                await self._forward_plain(request, body, sink)
        else:
            await self._forward_plain(request, body, sink)

    async def _ensure_engine(self) -> None:
        """Start the model on first use (load_on_start off) and wait until it answers."""
        if self.engine.ready:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.engine.ensure_running, self._start_timeout())
        except Exception as error:
            raise ProxyError(503, f"the model engine is not available: {error}", "engine_unavailable") from None

    async def _forward_plain(self, request: ProxyRequest, body: dict[str, Any] | None, sink: ResponseSink) -> None:
        url, headers = self.engine.upstream(request.path)
        try:
            response = await self.http.request(
                request.method, url, headers=headers, content=json.dumps(body).encode() if body is not None else None
            )
        except httpx.TransportError as error:
            raise ProxyError(502, f"cannot reach the model engine: {error}", "engine_unavailable") from None
        await sink.begin(response.status_code, response.headers.get("content-type", "application/json"))
        await sink.send(response.content)

    async def _forward_stream(self, request: ProxyRequest, body: dict[str, Any], sink: ResponseSink) -> None:
        await sink.begin(200, "text/event-stream")
        if not self.engine.ready:
            await sink.send(b": loading the model\n\n")
        try:
            await self._ensure_engine()
        except ProxyError as error:
            await sink.send(_error_event(error.message, error.kind))
            return
        ticket = self.queue.enqueue(lane_of(request, body))
        try:
            while not ticket.future.done():
                # A comment line while waiting: the client sees its place, and a quiet
                # connection is not taken for a dead one.
                ahead = self.queue.position(ticket) + self.queue.active
                await sink.send(f": queued, {ahead} ahead\n\n".encode())
                await asyncio.wait([ticket.future], timeout=KEEPALIVE_SECONDS)
            await self._stream_upstream(request, body, sink)
        finally:
            self.queue.release(ticket)

    async def _stream_upstream(self, request: ProxyRequest, body: dict[str, Any], sink: ResponseSink) -> None:
        url, headers = self.engine.upstream(request.path)
        tokens, first_at, last_at = 0, None, None
        try:
            async with self.http.stream("POST", url, headers=headers, content=json.dumps(body).encode()) as response:
                if response.status_code >= 400:
                    detail = (await response.aread()).decode("utf-8", "replace")
                    await sink.send(_error_event(_upstream_message(response.status_code, detail), "engine_error"))
                    return
                # Leaving this block (a client that went away cancels this task) closes the
                # upstream connection, and the worker stops generating.
                async for chunk in response.aiter_raw():
                    counted = count_tokens(chunk)
                    if counted:
                        tokens += counted
                        last_at = time.perf_counter()
                        if first_at is None:
                            first_at = last_at
                    await sink.send(chunk)
        except httpx.TransportError as error:
            await sink.send(_error_event(f"the model engine closed the stream: {error}", "engine_unavailable"))
        finally:
            self.meter.record(tokens, first_at, last_at)


def _error_event(message: str, kind: str) -> bytes:
    return b"data: " + json.dumps({"error": {"message": message, "type": kind}}).encode() + b"\n\n"


def _upstream_message(status: int, detail: str) -> str:
    try:
        payload = json.loads(detail)
        error = payload.get("error", payload.get("detail", payload.get("message", payload)))
        if isinstance(error, dict):
            error = error.get("message", error)
        detail = str(error)
    except (ValueError, AttributeError):
        pass
    return f"the model engine answered {status}: {detail[:1000]}"
