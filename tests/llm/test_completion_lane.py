"""The worker's inline-completion lane, with the real small model: it answers on a context of
its own, reuses its prompt cache between keystrokes, stops when its client goes (the worker
then idles), and goes ahead of a streaming chat answer, which waits and then goes on."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from jupyter_autocoder.llm.client import ModelClient

ESSAY = [{"role": "user", "content": "Write a very long essay about the history of computing."}]
CODE = "import numpy as np\n\n\ndef moving_average(values, window):\n    "


def lane_client(supervisor) -> ModelClient:
    root = supervisor.base_url[: -len("/v1")]
    return ModelClient(root + "/autocoder", api_key=supervisor.api_key, model="lane")


def lane_status(supervisor) -> dict:
    root = supervisor.base_url[: -len("/v1")]
    headers = {"Authorization": f"Bearer {supervisor.api_key}"}
    return httpx.get(root + "/autocoder/lane", headers=headers, timeout=10).json()


def test_the_worker_says_what_it_offers_for_inline_completion(supervisor):
    status = supervisor.status()
    assert status["completion_ctx"] == 2048
    assert status["fim"] == {}  # SmolLM2 has no fill-in-the-middle tokens (llama.cpp finds none)


def test_the_lane_completes_and_reuses_its_prompt_cache(supervisor):
    with lane_client(supervisor) as client:
        with client.stream_completion(CODE, max_tokens=8, temperature=0) as stream:
            first = "".join(stream)
        assert first.strip() and stream.finish_reason in ("stop", "length")
        # The next keystroke: the same text and one more character.
        with client.stream_completion(CODE + "r", max_tokens=8, temperature=0) as stream:
            "".join(stream)
    usage = lane_status(supervisor)["last_usage"]
    assert usage["prompt_tokens"] >= 15
    # All but the last token or two are in the cache already: only the change is evaluated.
    assert usage["prompt_tokens"] - usage["cached_tokens"] <= 2, usage


def test_a_superseded_completion_stops_at_the_worker_and_leaves_it_idle(supervisor):
    before = lane_status(supervisor)
    with lane_client(supervisor) as client:
        with client.stream_completion("Count: 1, 2, 3,", max_tokens=1000, temperature=0) as stream:
            for index, _ in enumerate(stream):
                if index == 2:
                    stream.cancel()  # what a newer keystroke does to the older request
    deadline = time.monotonic() + 5
    while lane_status(supervisor)["busy"] and time.monotonic() < deadline:
        time.sleep(0.05)
    after = lane_status(supervisor)
    assert not after["busy"]
    assert after["cancelled"] == before["cancelled"] + 1
    generated = after["generated_tokens"] - before["generated_tokens"]
    assert generated < 40, generated  # 1,000 asked for; it stopped within a few tokens
    time.sleep(0.5)
    assert lane_status(supervisor)["generated_tokens"] == after["generated_tokens"]  # idle
    with lane_client(supervisor) as client:  # and the next one is served at once
        with client.stream_completion(CODE, max_tokens=4, temperature=0) as stream:
            assert "".join(stream)


def test_a_completion_goes_ahead_of_a_streaming_chat_answer(supervisor):
    chat_stamps: list[float] = []
    chat_done = threading.Event()
    chat_result: dict = {}

    def chat() -> None:
        with supervisor.client() as client:
            with client.stream_chat(ESSAY, max_tokens=300, temperature=0) as stream:
                for _ in stream:
                    chat_stamps.append(time.perf_counter())
            chat_result["finish"] = stream.finish_reason
            chat_result["text"] = stream.text
        chat_done.set()

    thread = threading.Thread(target=chat)
    thread.start()
    deadline = time.monotonic() + 60
    while len(chat_stamps) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(chat_stamps) >= 10, "the chat answer did not start"
    with lane_client(supervisor) as client:
        started = time.perf_counter()
        with client.stream_completion(CODE, max_tokens=40, temperature=0) as stream:
            text = "".join(stream)
        ended = time.perf_counter()
    assert text and stream.completion_tokens >= 5
    # While the completion ran the chat context waited at the gate: at most the few tokens
    # its producer had computed ahead (and the one being computed) reached its client.
    during = [t for t in chat_stamps if started + 0.05 < t < ended]
    assert len(during) <= 6, (len(during), stream.completion_tokens)
    assert chat_done.wait(120), "the chat answer did not go on after the completion"
    thread.join()
    assert chat_result["finish"] in ("stop", "length")
    assert len(chat_result["text"]) > 100


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 8}, "needs a 'prompt'"),
        ({"prompt": "x", "max_tokens": 100000}, "max_tokens"),
        ({"prompt": "x", "stop": "\n"}, "'stop' must be a list"),
        ({"messages": [{"role": "user"}]}, "chat messages"),
    ],
)
def test_the_lane_refuses_bad_requests_clearly(supervisor, body, message):
    root = supervisor.base_url[: -len("/v1")]
    headers = {"Authorization": f"Bearer {supervisor.api_key}"}
    response = httpx.post(root + "/autocoder/completions", json=body, headers=headers, timeout=10)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_the_lane_refuses_a_wrong_key(supervisor):
    root = supervisor.base_url[: -len("/v1")]
    response = httpx.post(
        root + "/autocoder/completions",
        json={"prompt": "x"},
        headers={"Authorization": "Bearer wrong"},
        timeout=10,
    )
    assert response.status_code == 401
    assert httpx.get(root + "/autocoder/lane", timeout=10).status_code == 401
