"""One streaming, cancellable client for any OpenAI-compatible chat engine.

The same code path talks to the local worker, to the server extension's proxy (from a
kernel) and to a remote engine (llama-server, vLLM, Ollama). It is synchronous on purpose:
the magic runs on the kernel's main thread and the server runs sessions in threads.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from ..config import API_KEY_VARIABLE, ENGINE_URL_VARIABLE, MODEL_VARIABLE
from ..errors import (
    EngineAuthError,
    EngineRequestError,
    EngineStreamBrokenError,
    EngineUnavailableError,
)


class ChatStream:
    """A streamed answer: iterate for the text pieces; `cancel()` stops it from any thread.

    Closing the connection is what stops generation at the engine, so cancelling shuts the
    socket down rather than merely ceasing to read.
    """

    def __init__(self, client: ModelClient, body: dict[str, Any], path: str = "/chat/completions"):
        self._client = client
        self._body = body
        self._path = path  # "/completions": a raw completion, its text in `choices[0].text`
        self._response: httpx.Response | None = None
        self._cancelled = threading.Event()
        self._started_at = 0.0
        self.text = ""
        self.finish_reason: str | None = None
        self.completion_tokens = 0
        self.prompt_tokens: int | None = None
        self.first_token_seconds: float | None = None
        self.seconds = 0.0

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        self._started_at = time.perf_counter()
        self._response = self._client._open_stream(self._body, self._path)
        try:
            for line in self._response.iter_lines():
                if self._cancelled.is_set():
                    break
                delta = self._parse_line(line)
                if delta is None:
                    continue
                if delta is _DONE:
                    break
                if self.first_token_seconds is None:
                    self.first_token_seconds = time.perf_counter() - self._started_at
                self.text += delta
                yield delta
        except httpx.TransportError as error:
            if not self._cancelled.is_set():
                self._client._connection_lost()
                raise EngineStreamBrokenError(
                    f"the engine closed the stream after {self.completion_tokens} tokens: {error}"
                ) from error
        finally:
            self.seconds = time.perf_counter() - self._started_at
            self.close()
        if self.finish_reason is None and not self._cancelled.is_set():
            raise EngineStreamBrokenError(
                f"the stream ended without a finish reason after {self.completion_tokens} tokens"
            )

    def _parse_line(self, line: str) -> Any:
        if not line.startswith("data:"):
            return None
        payload = line[5:].strip()
        if payload == "[DONE]":
            return _DONE
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError as error:
            raise EngineStreamBrokenError(
                f"the engine sent a malformed event: {payload[:200]!r}"
            ) from error
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            raise EngineRequestError(500, message)
        if chunk.get("usage"):
            self.prompt_tokens = chunk["usage"].get("prompt_tokens", self.prompt_tokens)
            self.completion_tokens = chunk["usage"].get("completion_tokens", self.completion_tokens)
        choices = chunk.get("choices") or []
        if not choices:
            return None
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        if "text" in choice:
            content = choice.get("text")
        else:
            content = (choice.get("delta") or {}).get("content")
        if not content:
            return None
        if not chunk.get("usage"):
            self.completion_tokens += 1
        return content

    def cancel(self) -> None:
        """Stop the answer: safe to call from another thread, and more than once."""
        self._cancelled.set()
        response = self._response
        if response is None:
            return
        # Shutting the socket down wakes a reader blocked in recv() in another thread.
        network_stream = response.extensions.get("network_stream")
        raw_socket = network_stream.get_extra_info("socket") if network_stream else None
        if isinstance(raw_socket, socket.socket):
            try:
                raw_socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()


_DONE = object()


class ModelClient:
    """Chat completions from an OpenAI-compatible engine at `base_url` (ending in /v1)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        model: str = "default",
        connect_timeout: float = 5.0,
        read_timeout: float = 600.0,
        on_connection_lost: Callable[[], None] | None = None,
    ):
        """`on_connection_lost` is told when the engine drops or refuses a connection
        (the supervisor uses it to notice a worker that died)."""
        self.base_url = base_url.rstrip("/")
        self._on_connection_lost = on_connection_lost
        self.api_key = api_key
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            # A local engine must not be sent through a corporate proxy.
            trust_env=False,
        )

    @classmethod
    def from_environment(cls, **kwargs: Any) -> ModelClient:
        """The engine named by AUTOCODER_ENGINE_URL (and its key), as a kernel sees it."""
        url = os.environ.get(ENGINE_URL_VARIABLE)
        if not url:
            raise EngineUnavailableError(f"{ENGINE_URL_VARIABLE} is not set")
        kwargs.setdefault("model", os.environ.get(MODEL_VARIABLE) or "default")
        return cls(url, api_key=os.environ.get(API_KEY_VARIABLE), **kwargs)

    def stream_chat(self, messages: list[dict[str, str]], **params: Any) -> ChatStream:
        """A streamed answer; nothing is sent until the stream is iterated."""
        body = {"model": self.model, "messages": messages, "stream": True, **params}
        return ChatStream(self, body)

    def stream_completion(self, prompt: str, **params: Any) -> ChatStream:
        """A streamed raw completion of `prompt` (`/completions`: no chat template; a
        fill-in-the-middle prompt is sent so); nothing is sent until it is iterated."""
        body = {"model": self.model, "prompt": prompt, "stream": True, **params}
        return ChatStream(self, body, "/completions")

    def chat(self, messages: list[dict[str, str]], **params: Any) -> str:
        with self.stream_chat(messages, **params) as stream:
            return "".join(stream)

    def models(self) -> list[str]:
        response = self._request("GET", "/models")
        return [entry["id"] for entry in response.json().get("data", [])]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ModelClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connection_lost(self) -> None:
        if self._on_connection_lost is not None:
            self._on_connection_lost()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, self.base_url + path, **kwargs)
        except httpx.TransportError as error:
            self._connection_lost()
            raise EngineUnavailableError(
                f"cannot reach the engine at {self.base_url}: {error}"
            ) from error
        _raise_for_status(response)
        return response

    def _open_stream(self, body: dict[str, Any], path: str = "/chat/completions") -> httpx.Response:
        request = self._http.build_request("POST", self.base_url + path, json=body)
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as error:
            self._connection_lost()
            raise EngineUnavailableError(
                f"cannot reach the engine at {self.base_url}: {error}"
            ) from error
        if response.status_code >= 400:
            response.read()
            response.close()
            _raise_for_status(response)
        return response


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    message = _error_message(response)
    if response.status_code in (401, 403):
        raise EngineAuthError(f"the engine refused the key ({response.status_code}): {message}")
    raise EngineRequestError(response.status_code, message)


def _error_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:500]
    error = payload.get("error", payload.get("detail", payload.get("message", payload)))
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error)
