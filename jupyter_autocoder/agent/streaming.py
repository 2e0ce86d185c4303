"""Streaming the model's answers so that another thread can stop them.

    streamer = Streamer()
    stream = client.stream_chat(messages, max_tokens=512)
    for piece in streamer.stream(stream):    # on the session's thread
        show(piece)
    stream.text, stream.completion_tokens    # what came, also after a stop or an error

    streamer.stop()                          # from any thread: cancels the answer in progress
    streamer.begin()                         # a new turn: forget the last stop

A stop asked before an answer's stream started cancels that answer as soon as it starts, so
that a stop between two rounds, or before the first, is not lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # handed a stream; no HTTP code imported here
    from ..llm.client import ChatStream


class Streamer:
    """Owns the answer being streamed (at most one at a time) and the stop flag of a turn."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stream: ChatStream | None = None

    def begin(self) -> None:
        """A new turn: a stop asked before it no longer applies."""
        self._stop.clear()

    def stop(self) -> None:
        """Stop the answer in progress and any later one until `begin()`; from any thread."""
        self._stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.cancel()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stream(self, stream: ChatStream) -> Iterator[str]:
        """The pieces of `stream` as they come. A stop ends the iteration quietly (the text so
        far stays in `stream.text`); engine errors propagate. The stream is closed at the end."""
        with self._lock:
            self._stream = stream
        if self._stop.is_set():
            stream.cancel()
        try:
            with stream:
                for piece in stream:
                    yield piece
                    if self._stop.is_set():
                        stream.cancel()
                        break
        finally:
            with self._lock:
                self._stream = None

    def cancel(self) -> None:
        """Cancel and close the answer in progress, if any (when a turn ends abruptly)."""
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.cancel()
            stream.close()
