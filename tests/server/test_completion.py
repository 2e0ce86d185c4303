"""The inline-completion route, POST /autocoder/api/complete, against a real jupyter_server in
front of the scripted engine (as a remote engine, so the queue has no completion lane):
the FIM prompt the engine gets, the cleaned middle streamed as NDJSON, budgets, a newer
request superseding an older one, dropping when the model is busy, bad input, keys."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest

from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.testing.scripted_engine import ScriptedReply

PREFIX = "import numpy as np\n\n\ndef total(values):\n    "
SUFFIX = "\n\nprint(total([1, 2, 3]))\n"


@pytest.fixture
def autocoder_config(scripted_config, request):
    # A catalogue model with FIM tokens, served by the scripted engine (a test may change it).
    return {**scripted_config, "model": "qwen2.5-coder-1.5b", **getattr(request, "param", {})}


def complete_url(autocoder) -> str:
    return autocoder.proxy_base_url()[: -len("/v1")] + "/complete"


@pytest.fixture
def token(jp_serverapp) -> str:
    return jp_serverapp.identity_provider.token


async def post(autocoder, token, payload, **kwargs):
    """(status, list of NDJSON objects or the JSON error) of one request, read whole."""
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        response = await client.post(
            complete_url(autocoder),
            json=payload,
            headers={"Authorization": f"token {token}"},
            **kwargs,
        )
    if response.status_code != 200:
        return response.status_code, response.json()
    return 200, [json.loads(line) for line in response.text.splitlines() if line.strip()]


def text_of(lines) -> str:
    return "".join(line.get("text", "") for line in lines)


async def test_a_completion_streams_the_cleaned_middle_of_a_fim_prompt(
    autocoder, scripted_engine, token
):
    model_wrote = (
        "result = np.sum(values)\n    return result\n\nprint(total([1, 2, 3]))\nmore junk\n"
    )
    scripted_engine.enqueue(ScriptedReply(model_wrote, chunk_size=3))

    status, lines = await post(
        autocoder,
        token,
        {"prefix": PREFIX, "suffix": SUFFIX, "language": "python", "client": "cell-1"},
    )

    assert status == 200
    assert text_of(lines) == "result = np.sum(values)\n    return result"  # not the suffix again
    assert len([line for line in lines if "text" in line]) > 3  # streamed in pieces
    done = lines[-1]
    assert done["done"] is True and done["reason"] == "repeats the suffix"
    (request,) = scripted_engine.history
    assert request.body["prompt"] == f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"
    assert "<|fim_pad|>" in request.body["stop"] and request.body["temperature"] == 0.0
    assert autocoder.queue.active == 0


@pytest.mark.parametrize(
    "autocoder_app_config", [{"completion_max_prefix_chars": 60, "completion_max_suffix_chars": 20}]
)
async def test_prefix_and_suffix_are_cut_from_their_far_ends(autocoder, scripted_engine, token):
    scripted_engine.enqueue("x")
    prefix = "".join(f"line_{i} = {i}\n" for i in range(50)) + "y = "
    suffix = "\n" + "".join(f"after_{i} = {i}\n" for i in range(50))
    status, _ = await post(autocoder, token, {"prefix": prefix, "suffix": suffix})
    assert status == 200
    prompt = scripted_engine.history[0].body["prompt"]
    sent_prefix = prompt[len("<|fim_prefix|>") : prompt.index("<|fim_suffix|>")]
    sent_suffix = prompt[
        prompt.index("<|fim_suffix|>") + len("<|fim_suffix|>") : -len("<|fim_middle|>")
    ]
    assert (
        prefix.endswith(sent_prefix) and 0 < len(sent_prefix) <= 60 and sent_prefix.endswith("y = ")
    )
    assert suffix.startswith(sent_suffix) and len(sent_suffix) <= 20


async def test_a_newer_request_of_the_same_editor_cancels_the_older_one(
    autocoder, scripted_engine, token
):
    scripted_engine.enqueue(
        ScriptedReply("a" * 400, chunk_size=1, delay=0.02), ScriptedReply("b = 2")
    )
    first = asyncio.ensure_future(post(autocoder, token, {"prefix": "x = ", "client": "cell-7"}))
    await _wait(lambda: scripted_engine.history and scripted_engine.history[0].chunks_sent > 5)

    status, lines = await post(autocoder, token, {"prefix": "x = 1\nb = ", "client": "cell-7"})

    assert status == 200 and text_of(lines) == "b = 2"
    older_status, older = await first
    assert older_status == 200 and older[-1] == {"done": True, "reason": "superseded"}
    await _wait(lambda: scripted_engine.history[0].cancelled)
    assert scripted_engine.history[0].chunks_sent < 200  # the engine stopped generating
    assert autocoder.completions.superseded == 1


async def test_an_editor_that_goes_away_stops_the_generation(autocoder, scripted_engine, token):
    scripted_engine.enqueue(ScriptedReply("z" * 2000, chunk_size=1, delay=0.005))
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        async with client.stream(
            "POST",
            complete_url(autocoder),
            json={"prefix": "s = '"},
            headers={"Authorization": f"token {token}"},
        ) as response:
            async for _ in response.aiter_lines():
                break  # the first piece arrived: the user typed on
    await _wait(lambda: scripted_engine.history[0].cancelled)
    assert scripted_engine.history[0].chunks_sent < 1000
    await _wait(lambda: autocoder.queue.active == 0)


async def test_a_completion_is_dropped_not_queued_while_the_model_is_busy(
    autocoder, scripted_engine, engine_responder, token
):
    gate = threading.Event()

    def respond(body):
        if "messages" in body:
            gate.wait(30)  # an agent answer holds the model's one slot
            return ScriptedReply("agent answer")
        return ScriptedReply("never")

    engine_responder.function = respond
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    agent = threading.Thread(target=lambda: client.chat([{"role": "user", "content": "hi"}]))
    agent.start()
    await _wait(lambda: autocoder.queue.active == 1)

    started = time.perf_counter()
    status, error = await post(autocoder, token, {"prefix": "x = "})
    waited = time.perf_counter() - started

    assert status == 503 and error["reason"] == "busy" and "dropped" in error["message"]
    assert waited < 2.0
    assert autocoder.queue.waiting == 0  # it did not stay in line
    assert autocoder.status()["completion"]["dropped"] == 1
    gate.set()
    await asyncio.get_running_loop().run_in_executor(None, agent.join, 30)
    client.close()
    assert [r for r in scripted_engine.history if "prompt" in r.body] == []


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1]", 400, "JSON object"),
        ({"prefix": 5}, 400, "'prefix' must be text"),
        ({"prefix": "x", "max_lines": 1000}, 400, "max_lines"),
        ({"prefix": "x", "max_tokens": 0}, 400, "max_tokens"),
        ({"prefix": "x", "language": "python; rm -rf /"}, 400, "language"),
        ({"prefix": "x" * 3000}, 413, "limit"),
    ],
    ids=[
        "malformed",
        "not-an-object",
        "prefix-not-text",
        "max-lines",
        "max-tokens",
        "language",
        "oversized",
    ],
)
@pytest.mark.parametrize("autocoder_app_config", [{"completion_max_request_bytes": 2000}])
async def test_bad_requests_get_a_clear_answer(
    autocoder, scripted_engine, token, payload, status, words
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        response = await client.post(
            complete_url(autocoder), content=body, headers={"Authorization": f"token {token}"}
        )
    assert response.status_code == status
    assert words in response.json()["message"]
    assert scripted_engine.history == []


@pytest.mark.parametrize("who", ["nobody", "the kernels' proxy key"])
async def test_only_jupyter_users_may_complete(autocoder, scripted_engine, who):
    headers = {} if who == "nobody" else {"Authorization": f"Bearer {autocoder.proxy_key}"}
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        response = await client.post(complete_url(autocoder), json={"prefix": "x"}, headers=headers)
    assert response.status_code == 403
    assert scripted_engine.history == []


@pytest.mark.parametrize(
    ("autocoder_config", "expected"),
    [
        ({"model": "smollm2-135m", "completion_fallback": "none"}, "none"),
        ({"model": "smollm2-135m", "completion_fallback": "prefix"}, "prefix"),
    ],
    indirect=["autocoder_config"],
)
async def test_a_model_without_fim_tokens_falls_back_or_says_so(
    autocoder, scripted_engine, token, expected
):
    status_reply = autocoder.status()["completion"]
    if expected == "none":
        assert (
            status_reply["available"] is False and "no fill-in-the-middle" in status_reply["reason"]
        )
        status, error = await post(autocoder, token, {"prefix": "x = "})
        assert status == 409 and "no inline completion" in error["message"]
        assert scripted_engine.history == []
    else:
        assert status_reply["method"] == "prefix"
        scripted_engine.enqueue("42\nmore")
        status, lines = await post(autocoder, token, {"prefix": "x = ", "suffix": ""})
        assert status == 200 and text_of(lines) == "42"
        assert scripted_engine.history[0].body["prompt"] == "x = "  # the text continued, no tokens


async def test_the_status_says_how_the_model_completes(autocoder, scripted_engine):
    completion = autocoder.status()["completion"]
    assert completion["available"] is True and completion["method"] == "fim"
    assert "qwen2.5-coder" in completion["reason"]
    assert completion["lane"] is False  # a remote engine: completions share its slots


async def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
