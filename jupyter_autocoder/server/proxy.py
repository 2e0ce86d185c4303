"""The OpenAI-compatible proxy under `<base_url>/autocoder/api/v1/`: kernels and other local
clients reach the server's one model through it, in turn with everyone else.

It forwards only the engine routes the product uses (`ENGINE_ROUTES`), each named exactly
as sent: anything else (another route of the engine, an encoded separator, a dot segment,
a query smuggled into the path) is a 404 before a byte goes upstream, and the upstream URL
is built from the route, never from the request. Generation requests wait in the fair
queue, in the lane of who asks (`ProxyRequest.lane`, from the authenticated identity), and
their `model` is pinned to the server's model. A streamed answer's server-sent events are
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

from ..errors import PolicyError, ProxyError
from .engine import EngineHost
from .queue import FairQueue

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
# Counted in the raw stream without parsing it: one per chunk that carries text.
_CONTENT_MARK = b'"content"'
_ROLE_ONLY_MARK = b'"content": ""'
_ROLE_ONLY_MARK_COMPACT = b'"content":""'
# The lane prefix of the server's own agent sessions: one lane per notebook.
NOTEBOOK_LANE_PREFIX = "notebook:"
# What a client may send as `model` to mean "the server's model".
DEFAULT_MODEL_NAMES = ("", "default")


def _chat_body(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("messages"), list):
        return "'messages' must be a list of chat messages"
    return None


def _completion_body(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("prompt"), (str, list)):
        return "'prompt' must be a string"
    return None


@dataclass(frozen=True)
class EngineRoute:
    """A route of the engine (below /v1) that the proxy forwards.

    `generates`: a generation request, which waits in the fair queue and whose `model` is
    pinned to the server's model; `check_body` says what is wrong with a body, or None.
    A new route is one more entry in `ENGINE_ROUTES`."""

    method: str
    path: str
    generates: bool = False
    check_body: Callable[[dict[str, Any]], str | None] | None = None


ENGINE_ROUTES: tuple[EngineRoute, ...] = (
    EngineRoute("POST", "chat/completions", generates=True, check_body=_chat_body),
    EngineRoute("POST", "completions", generates=True, check_body=_completion_body),
    EngineRoute("GET", "models"),
)
_ROUTES = {(route.method, route.path): route for route in ENGINE_ROUTES}


def find_route(method: str, path: str, raw_path: str) -> EngineRoute:
    """The route that `path` (decoded, below v1/) names exactly, as sent (`raw_path` is the
    request's path before decoding); else a 404 that lists the routes."""
    route = _ROUTES.get((method, path))
    if route is None or not raw_path.endswith("/v1/" + route.path):
        routes = ", ".join(f"{r.method} v1/{r.path}" for r in ENGINE_ROUTES)
        shown = raw_path.rsplit("/v1/", 1)[-1][:200]
        raise ProxyError(
            404, f"{method} v1/{shown} is not a route of the proxy; it serves {routes}", "not_found"
        )
    return route


class ResponseSink(Protocol):
    """Where the proxy writes its answer (the tornado handler)."""

    def begin(self, status: int, content_type: str) -> Awaitable[None]: ...

    def send(self, data: bytes) -> Awaitable[None]: ...


@dataclass
class ProxyRequest:
    method: str
    path: str  # below v1/, decoded, e.g. "chat/completions"
    body: bytes
    lane: str  # who asks (from the authenticated identity), for the fair queue
    raw_path: str = ""  # the request's whole path as sent (still percent-encoded)
    # The server's own agent sessions (their key is the server's alone) name a notebook's
    # lane in the OpenAI `user` field; nobody else can.
    notebook_lanes: bool = False

    def __post_init__(self) -> None:
        if not self.raw_path:
            self.raw_path = "/v1/" + self.path


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
        recent = [
            (tokens, seconds)
            for at, tokens, seconds in self._streams
            if now - at < self.window_seconds
        ]
        seconds = sum(s for _, s in recent)
        return round(sum(t for t, _ in recent) / seconds, 1) if seconds > 0 else None


def count_tokens(chunk: bytes) -> int:
    """Text-carrying stream events in a chunk of server-sent events (one token each)."""
    count = chunk.count(_CONTENT_MARK)
    if count:
        count -= chunk.count(_ROLE_ONLY_MARK) + chunk.count(_ROLE_ONLY_MARK_COMPACT)
    return count


def lane_of(request: ProxyRequest, body: dict[str, Any] | None) -> str:
    """The queue lane: who asks, by the identity they authenticated with; an agent session
    of this server asks in its notebook's lane (the `user` field it sends)."""
    user = body.get("user") if body else None
    if request.notebook_lanes and isinstance(user, str) and user.startswith(NOTEBOOK_LANE_PREFIX):
        return user
    return request.lane


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
        threading.Thread(
            target=lambda: self.http, name="autocoder-proxy-warm-up", daemon=True
        ).start()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- the request --------------------------------------------------------------------

    def parse_body(
        self, request: ProxyRequest, route: EngineRoute | None = None
    ) -> dict[str, Any] | None:
        route = route or find_route(request.method, request.path, request.raw_path)
        if request.method != "POST":
            return None
        if len(request.body) > self.max_request_bytes:
            raise ProxyError(
                413,
                f"the request is {len(request.body)} bytes; the limit is {self.max_request_bytes}",
            )
        try:
            body = json.loads(request.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProxyError(400, f"the request body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise ProxyError(400, "the request body must be a JSON object")
        if route.check_body is not None:
            problem = route.check_body(body)
            if problem:
                raise ProxyError(400, problem)
        if route.generates:
            self._check_model(body.get("model"))
        return body

    def _check_model(self, model: Any) -> None:
        """Only the server's model, and only when the admin's policy allows it."""
        served = self.engine.model_name()
        if model is not None and model not in DEFAULT_MODEL_NAMES and not self.engine.serves(model):
            raise ProxyError(
                404,
                f"the model {str(model)[:200]!r} is not served here; this server serves {served!r} "
                "(send 'default', or leave 'model' out)",
                "invalid_request_error",
                "model_not_found",
            )
        try:
            self.engine.check_served_model_allowed()
        except PolicyError as error:
            raise ProxyError(
                403, error.message, "invalid_request_error", "model_not_allowed"
            ) from None

    async def forward(self, request: ProxyRequest, sink: ResponseSink) -> None:
        """Answer one request; raises ProxyError before anything was written."""
        route = find_route(request.method, request.path, request.raw_path)
        body = self.parse_body(request, route)
        streaming = bool(body and body.get("stream")) and route.generates
        if streaming:
            await self._forward_stream(route, request, body, sink)  # type: ignore[arg-type]
            return
        await self._ensure_engine()
        if route.generates:
            async with self.queue.slot(lane_of(request, body)):
                await self._forward_plain(route, request, body, sink)
        else:
            await self._forward_plain(route, request, body, sink)

    async def _ensure_engine(self) -> None:
        """Start the model on first use (load_on_start off) and wait until it answers."""
        if self.engine.ready:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self.engine.ensure_running, self._start_timeout()
            )
        except Exception as error:
            raise ProxyError(
                503, f"the model engine is not available: {error}", "engine_unavailable"
            ) from None

    def _pinned(self, route: EngineRoute, body: dict[str, Any] | None) -> bytes | None:
        """The body as it goes upstream: a generation request names the server's model
        (known for sure only once the engine runs: `auto` has chosen)."""
        if body is None:
            return None
        if route.generates:
            body["model"] = self.engine.model_name()
        return json.dumps(body).encode()

    async def _forward_plain(
        self,
        route: EngineRoute,
        request: ProxyRequest,
        body: dict[str, Any] | None,
        sink: ResponseSink,
    ) -> None:
        url, headers = self.engine.upstream(route.path)
        content = self._pinned(route, body)
        try:
            response = await self.http.request(route.method, url, headers=headers, content=content)
        except httpx.TransportError as error:
            raise ProxyError(
                502, f"cannot reach the model engine: {error}", "engine_unavailable"
            ) from None
        content = response.content
        if route.path == "models" and response.status_code == 200:
            content = self._served_models_only(content)
        await sink.begin(
            response.status_code, response.headers.get("content-type", "application/json")
        )
        await sink.send(content)

    def _served_models_only(self, content: bytes) -> bytes:
        """The engine's model list with only the server's model: a remote engine may serve
        others, which this server does not open. Left whole when the list does not name the
        server's model (a remote engine configured as `auto` leaves the choice to it)."""
        try:
            listing = json.loads(content)
            served = self.engine.serves
            models = [m for m in listing["data"] if isinstance(m, dict) and served(m.get("id"))]
        except (ValueError, KeyError, TypeError):
            return content
        if not models:
            return content
        return json.dumps({**listing, "data": models}).encode()

    async def _forward_stream(
        self, route: EngineRoute, request: ProxyRequest, body: dict[str, Any], sink: ResponseSink
    ) -> None:
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
            await self._stream_upstream(route, body, sink)
        finally:
            self.queue.release(ticket)

    async def _stream_upstream(
        self, route: EngineRoute, body: dict[str, Any], sink: ResponseSink
    ) -> None:
        url, headers = self.engine.upstream(route.path)
        tokens, first_at, last_at = 0, None, None
        try:
            content = self._pinned(route, body)
            upstream = self.http.stream(route.method, url, headers=headers, content=content)
            async with upstream as response:
                if response.status_code >= 400:
                    detail = (await response.aread()).decode("utf-8", "replace")
                    await sink.send(
                        _error_event(
                            _upstream_message(response.status_code, detail), "engine_error"
                        )
                    )
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
            await sink.send(
                _error_event(f"the model engine closed the stream: {error}", "engine_unavailable")
            )
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
