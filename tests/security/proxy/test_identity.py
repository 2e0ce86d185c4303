"""Who asks, and for which model (issue 11, part 1).

- The request's `model` is pinned to the server's model: a kernel named another model of a
  remote engine that serves several, and used it with the server's key.
- The fair queue's lane comes from the authenticated identity: a fresh OpenAI `user` per
  request got a fresh lane, and so jumped ahead of every other client.
- The server's own agent sessions keep one lane per notebook, with a key that only the
  server holds (kernels cannot name a notebook's lane).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.testing.scripted_engine import ScriptedReply

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_a_foreign_model_is_refused(autocoder, scripted_engine, send_raw, stream):
    scripted_engine.enqueue("an answer of the other model")
    response = await send_raw(
        "POST",
        "v1/chat/completions",
        key=autocoder.proxy_key,
        body={"model": "the-big-model-of-somebody-else", "messages": MESSAGES, "stream": stream},
    )

    assert scripted_engine.history == [], (
        f"the engine was asked for {scripted_engine.history[0].body.get('model')!r}"
    )
    assert response.code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert "'the-big-model-of-somebody-else' is not served here" in response.message
    assert "scripted" in response.message  # it names the model that is


@pytest.mark.parametrize("model", [None, "", "default", "scripted"])
async def test_the_server_s_own_model_goes_through_pinned(
    autocoder, scripted_engine, send_raw, model
):
    scripted_engine.enqueue("ok")
    body = {"messages": MESSAGES} if model is None else {"model": model, "messages": MESSAGES}
    response = await send_raw("POST", "v1/chat/completions", key=autocoder.proxy_key, body=body)
    assert response.code == 200
    (request,) = scripted_engine.history
    assert request.body["model"] == "scripted"


# --- the fair queue's lanes --------------------------------------------------------------


async def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _stream_in_thread(
    client: ModelClient, text: str, results: dict, user: str | None = None
) -> threading.Thread:
    def run():
        params = {"user": user} if user is not None else {}
        with client.stream_chat([{"role": "user", "content": text}], **params) as stream:
            results[text] = "".join(stream)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _gated(served: list[str], held: str, gate: threading.Event):
    def respond(body):
        text = body["messages"][-1]["content"]
        served.append(text)
        if text == held:
            gate.wait(30)
        return ScriptedReply(f"ok {text}")

    return respond


async def _serve_in_order(autocoder, engine_responder, requests) -> list[str]:
    """Hold the one slot, queue `requests` [(client, text, user)] one by one, release, and
    return the order in which the engine served them."""
    served, gate, results = [], threading.Event(), {}
    engine_responder.function = _gated(served, "holder", gate)
    holder_client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    threads = [_stream_in_thread(holder_client, "holder", results)]
    await _wait(lambda: served == ["holder"])
    for number, (client, text, user) in enumerate(requests, start=1):
        threads.append(_stream_in_thread(client, text, results, user))
        await _wait(lambda number=number: autocoder.queue.waiting == number)
    gate.set()
    loop = asyncio.get_running_loop()
    for thread in threads:
        await loop.run_in_executor(None, thread.join, 30)
    holder_client.close()
    assert all(results[text] == f"ok {text}" for text in served)
    return served[1:]


async def test_a_fresh_user_per_request_does_not_jump_the_queue(
    autocoder, scripted_engine, engine_responder, jp_serverapp
):
    """A kernel sends three requests, each with a new `user`; then a Jupyter user asks once.
    Fair: the Jupyter user waits behind one of the kernel's requests, not all three."""
    kernel = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    person = ModelClient(autocoder.proxy_base_url(), api_key=jp_serverapp.identity_provider.token)
    requests = [(kernel, f"K{n}", f"fresh-user-{n}") for n in (1, 2, 3)] + [(person, "P1", None)]

    order = await _serve_in_order(autocoder, engine_responder, requests)

    assert order == ["K1", "P1", "K2", "K3"], (
        f"served {order}: each fresh `user` got a lane of its own"
    )
    kernel.close()
    person.close()


async def test_a_kernel_cannot_take_a_notebook_s_lane(
    autocoder, scripted_engine, engine_responder, jp_serverapp
):
    """The panel's agent sessions ask in `notebook:<path>` lanes; a kernel that names one
    still asks in its own identity's lane."""
    kernel = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    person = ModelClient(autocoder.proxy_base_url(), api_key=jp_serverapp.identity_provider.token)
    requests = [
        (kernel, "K1", "notebook:a.ipynb"),
        (kernel, "K2", "notebook:b.ipynb"),
        (person, "P1", None),
    ]

    order = await _serve_in_order(autocoder, engine_responder, requests)

    assert order == ["K1", "P1", "K2"]
    kernel.close()
    person.close()


async def test_agent_sessions_keep_a_lane_per_notebook(
    autocoder, scripted_engine, engine_responder
):
    """Per-notebook fairness of the server's own sessions (they use `proxy_client()`)."""
    sessions = autocoder.proxy_client()
    requests = [
        (sessions, "A1", "notebook:a.ipynb"),
        (sessions, "A2", "notebook:a.ipynb"),
        (sessions, "A3", "notebook:a.ipynb"),
        (sessions, "B1", "notebook:b.ipynb"),
    ]

    order = await _serve_in_order(autocoder, engine_responder, requests)

    assert order == ["A1", "B1", "A2", "A3"]
    sessions.close()
