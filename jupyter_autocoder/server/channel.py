"""One browser connection as the agent threads see it: send a message from any thread, and
wait (in a session's thread) for the browser's answer to a request.

Messages are serialised in the calling thread and written on the event loop
(`call_soon_threadsafe`), in the order they were sent; nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# What waiting for a reply ended in.
REPLIED, TIMED_OUT, CANCELLED = "replied", "timeout", "cancelled"


class PendingReply:
    """An answer the browser owes (a run's result, an approval); waited for in a thread."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._answered = False
        self._cancelled = False
        self._cut_at: float | None = None
        self.value: Any = None

    def resolve(self, value: Any) -> bool:
        with self._condition:
            if self._answered or self._cancelled:
                return False
            self.value, self._answered = value, True
            self._condition.notify_all()
            return True

    def cancel(self) -> None:
        with self._condition:
            self._cancelled = True
            self._condition.notify_all()

    def cut(self, seconds: float) -> None:
        """Stop waiting `seconds` from now at the latest (after an interrupt, say)."""
        with self._condition:
            deadline = time.monotonic() + seconds
            self._cut_at = deadline if self._cut_at is None else min(self._cut_at, deadline)
            self._condition.notify_all()

    def wait(self, timeout: float | None) -> str:
        """REPLIED, TIMED_OUT (timeout or cut passed) or CANCELLED (the socket closed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while not (self._answered or self._cancelled):
                limit = deadline
                if self._cut_at is not None:
                    limit = self._cut_at if limit is None else min(limit, self._cut_at)
                remaining = None if limit is None else limit - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return TIMED_OUT
                self._condition.wait(remaining)
            return REPLIED if self._answered else CANCELLED


class Channel:
    """The agent's side of one WebSocket."""

    def __init__(
        self, write: Callable[[str], None], loop: asyncio.AbstractEventLoop, user: str = ""
    ):
        self._write = write
        self.user = user  # who opened the socket: turns are capped per user too
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], PendingReply] = {}
        self.closed = False

    def send(self, payload: dict[str, Any]) -> None:
        """Send a message from any thread; a closed channel drops it."""
        if self.closed:
            return
        text = json.dumps(payload, default=str)
        if threading.get_ident() == self._loop_thread:
            self._write_now(text)
            return
        try:
            self._loop.call_soon_threadsafe(self._write_now, text)
        except RuntimeError:  # the loop is closed: the server is shutting down
            pass

    def _write_now(self, text: str) -> None:
        if self.closed:
            return
        try:
            self._write(text)
        except Exception as error:  # the socket closed under us
            log.debug("jupyter_autocoder: dropping a message for a closed socket: %s", error)

    def expect(self, kind: str, ident: str) -> PendingReply:
        """Register an answer the browser owes, before asking for it."""
        reply = PendingReply()
        with self._lock:
            if self.closed:
                reply.cancel()
            self._pending[(kind, ident)] = reply
        return reply

    def answer(self, kind: str, ident: str, value: Any) -> bool:
        """Deliver the browser's answer; False when nothing of that id is pending."""
        with self._lock:
            reply = self._pending.pop((kind, ident), None)
        return reply is not None and reply.resolve(value)

    def forget(self, kind: str, ident: str) -> None:
        with self._lock:
            self._pending.pop((kind, ident), None)

    def cancel(self, kind: str, ident: str) -> None:
        with self._lock:
            reply = self._pending.pop((kind, ident), None)
        if reply is not None:
            reply.cancel()

    def close(self) -> None:
        """The socket closed: every answer still owed is cancelled."""
        with self._lock:
            self.closed = True
            pending, self._pending = list(self._pending.values()), {}
        for reply in pending:
            reply.cancel()
