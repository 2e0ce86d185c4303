"""The one streaming helper of the sessions: pieces as they come, a stop from another thread
cancels the answer at the engine, and a stop asked before an answer starts is kept."""

from __future__ import annotations

import threading

import pytest

from jupyter_autocoder.agent.streaming import Streamer
from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.testing.scripted_engine import ScriptedReply

ASK = [{"role": "user", "content": "count"}]


@pytest.fixture
def client(engine):
    with ModelClient(engine.base_url, engine.api_key, model="scripted") as made:
        yield made


def test_pieces_come_in_order_and_the_text_is_kept(engine, client):
    engine.enqueue("one two three four")
    streamer = Streamer()
    stream = client.stream_chat(ASK)
    pieces = list(streamer.stream(stream))
    assert "".join(pieces) == "one two three four" and len(pieces) > 1
    assert stream.text == "one two three four" and stream.finish_reason == "stop"


def test_a_stop_from_another_thread_cancels_the_answer(engine, client):
    engine.enqueue(ScriptedReply("x" * 400, chunk_size=1, delay=0.02))
    streamer = Streamer()
    stream = client.stream_chat(ASK)
    pieces = []
    for piece in streamer.stream(stream):
        pieces.append(piece)
        if len(pieces) == 3:
            threading.Thread(target=streamer.stop).start()
    assert 3 <= len(pieces) < 400 and stream.cancelled and streamer.stopped
    assert stream.finish_reason is None


def test_a_stop_before_the_answer_started_is_kept_until_the_next_turn(engine, client):
    engine.enqueue(ScriptedReply("x" * 400, chunk_size=1, delay=0.02), "a new turn")
    streamer = Streamer()
    streamer.stop()
    stream = client.stream_chat(ASK)
    assert list(streamer.stream(stream)) == [] and stream.cancelled

    streamer.begin()
    assert not streamer.stopped
    assert "".join(streamer.stream(client.stream_chat(ASK))) == "a new turn"
