"""Chat mode (the panel's): one streamed answer per turn, nothing is run.

It has the face of `AgentSession` (run / continue_with yield the same typed events, stop()
from another thread) so that the socket drives both the same way; a turn ends with a `done`
event whose reason is "answered".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import EngineError
from . import events as ev
from .prompts import coerce_context, request_message
from .streaming import Streamer

if TYPE_CHECKING:  # handed a client; no HTTP code imported here
    from ..llm.client import ModelClient

CHAT_SYSTEM_PROMPT = """\
You are AutoCoder, a coding assistant inside a Jupyter notebook. Answer the user's questions \
about their notebook, data and code. Nothing you write is run: show code in fenced blocks \
for the user to copy. Be brief and exact."""


class ChatSession:
    """A conversation without execution.

    Like `AgentSession`, it never closes the client it is handed: whoever made the client
    closes it.
    """

    def __init__(
        self,
        client: ModelClient,
        *,
        session_id: str | None = None,
        messages: list[dict[str, str]] | None = None,
        max_tokens: int = 1024,
        temperature: float = 0.0,
        context_budget: int = 6000,
        chat_params: dict[str, Any] | None = None,
    ):
        self.client = client
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.messages: list[dict[str, str]] = (
            [dict(m) for m in messages]
            if messages
            else [{"role": "system", "content": CHAT_SYSTEM_PROMPT}]
        )
        self.context_budget = context_budget
        self.chat_params = {
            "max_tokens": max_tokens,
            "temperature": temperature,
            **(chat_params or {}),
        }
        self._streamer = Streamer()

    def run(self, request: str, context: Any = None) -> Iterator[ev.AgentEvent]:
        return self._turn(request_message(request, coerce_context(context), self.context_budget))

    continue_with = run

    def stop(self) -> None:
        """Stop the answer in progress: from any thread, any number of times."""
        self._streamer.stop()

    @property
    def stopped(self) -> bool:
        return self._streamer.stopped

    def close(self) -> None:
        """Nothing of its own to release: the client belongs to whoever made it."""

    def _turn(self, content: str) -> Iterator[ev.AgentEvent]:
        self._streamer.begin()
        started = time.perf_counter()
        self.messages.append({"role": "user", "content": content})
        yield ev.RoundEvent(round=1, max_rounds=1)
        stream = self.client.stream_chat(list(self.messages), **self.chat_params)
        error: EngineError | None = None
        try:
            for piece in self._streamer.stream(stream):
                yield ev.TokenEvent(round=1, text=piece)
        except EngineError as failure:
            error = failure
        # Keep the roles alternating whatever happened: the answer so far, or the question
        # withdrawn.
        if stream.text:
            self.messages.append({"role": "assistant", "content": stream.text})
        else:
            self.messages.pop()
        done = {
            "round": 1,
            "answer": stream.text,
            "rounds": 1,
            "completion_tokens": stream.completion_tokens,
            "seconds": round(time.perf_counter() - started, 4),
        }
        if error is not None:
            message = f"The model engine failed: {error}"
            yield ev.ErrorEvent(round=1, message=str(error), error_type=type(error).__name__)
            yield ev.DoneEvent(reason=ev.ERROR, success=False, message=message, **done)
        elif self.stopped:
            yield ev.DoneEvent(reason=ev.STOPPED, success=False, message="Stopped.", **done)
        else:
            yield ev.DoneEvent(reason=ev.ANSWERED, success=True, message="Answered.", **done)
