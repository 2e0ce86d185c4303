"""The OpenAI-compatible proxy under /autocoder/api/v1/, against a real jupyter_server in
front of the scripted engine: streaming, keys, refusals, bad input, the fair queue, and the
kernels' environment."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError

from jupyter_autocoder.errors import EngineAuthError, EngineRequestError
from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.testing.scripted_engine import ScriptedReply

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


async def in_thread(function, *args):
    """Blocking client code runs in a thread: the server shares this test's event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def stream_all(client: ModelClient, **params) -> tuple[list[str], list[float], object]:
    pieces, stamps = [], []
    with client.stream_chat(MESSAGES, **params) as stream:
        for piece in stream:
            pieces.append(piece)
            stamps.append(time.perf_counter())
    return pieces, stamps, stream


def proxy_url(jp_base_url, *parts):
    return url_path_join(jp_base_url, "autocoder", "api", "v1", *parts)


async def test_proxy_streams_chunk_by_chunk_with_the_kernel_key(autocoder, scripted_engine):
    reply = "The answer is forty-two, " * 8
    scripted_engine.enqueue(ScriptedReply(reply, chunk_size=5, delay=0.01))
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key, model="default")

    pieces, stamps, stream = await in_thread(stream_all, client)

    assert "".join(pieces) == reply
    assert len(pieces) == len(reply) // 5  # one piece per chunk the engine sent
    # streamed as produced: the first piece arrived long before the last was written
    assert stamps[-1] - stamps[0] > 0.2
    assert stream.finish_reason == "stop"
    (request,) = scripted_engine.history
    assert request.body["model"] == "scripted"  # "default" became the engine's model
    assert request.body["messages"] == MESSAGES
    client.close()


async def test_proxy_accepts_the_jupyter_token(autocoder, scripted_engine, jp_serverapp):
    scripted_engine.enqueue("hi there")
    client = ModelClient(autocoder.proxy_base_url(), api_key=jp_serverapp.identity_provider.token)
    assert await in_thread(client.chat, MESSAGES) == "hi there"
    assert await in_thread(client.models) == ["scripted"]
    client.close()


@pytest.mark.parametrize("key", [None, "wrong-key", "token-of-nobody"])
async def test_proxy_refuses_without_its_key_or_the_token(autocoder, scripted_engine, key):
    client = ModelClient(autocoder.proxy_base_url(), api_key=key)
    with pytest.raises(EngineAuthError):
        await in_thread(client.chat, MESSAGES)
    with pytest.raises(EngineAuthError):
        await in_thread(client.models)
    assert scripted_engine.history == []
    client.close()


@pytest.mark.parametrize(
    "body, status, words",
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"messages": "hello"}).encode(), 400, "messages"),
        (json.dumps({"messages": MESSAGES, "pad": "x" * 3000}).encode(), 413, "limit"),
    ],
    ids=["malformed", "not-an-object", "messages-not-a-list", "oversized"],
)
@pytest.mark.parametrize("autocoder_app_config", [{"max_request_bytes": 2000}])
async def test_bad_requests_get_a_clear_answer_and_the_proxy_goes_on(
    autocoder, scripted_engine, http_server_client, jp_base_url, body, status, words
):
    headers = {"Authorization": f"Bearer {autocoder.proxy_key}", "Content-Type": "application/json"}
    with pytest.raises(HTTPClientError) as raised:
        await http_server_client.fetch(
            proxy_url(jp_base_url, "chat", "completions"), method="POST", body=body, headers=headers
        )
    assert raised.value.code == status
    assert words in json.loads(raised.value.response.body)["message"]
    assert scripted_engine.history == []

    scripted_engine.enqueue("still here")
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    assert await in_thread(client.chat, MESSAGES) == "still here"
    client.close()


async def test_an_engine_error_reaches_the_client_with_its_message(autocoder, scripted_engine):
    scripted_engine.enqueue(
        ScriptedReply(status=400, error_message="the prompt is longer than the context"),
        ScriptedReply(status=400, error_message="the prompt is longer than the context"),
    )
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    with pytest.raises(EngineRequestError, match="longer than the context"):
        await in_thread(client.chat, MESSAGES)  # streamed: an error event
    response = await in_thread(
        lambda: client._http.post(
            client.base_url + "/chat/completions", json={"messages": MESSAGES}
        )
    )
    assert response.status_code == 400  # not streamed: the engine's own status
    assert "longer than the context" in response.text
    client.close()


async def test_a_client_that_goes_away_stops_the_generation(autocoder, scripted_engine):
    scripted_engine.enqueue(ScriptedReply("z" * 6000, chunk_size=2, delay=0.005))
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)

    def read_a_little():
        with client.stream_chat(MESSAGES) as stream:
            for number, _ in enumerate(stream):
                if number == 10:
                    stream.cancel()

    await in_thread(read_a_little)
    await asyncio.sleep(0.5)
    (request,) = scripted_engine.history
    assert request.cancelled
    assert request.chunks_sent < 500
    assert autocoder.queue.active == 0 and autocoder.queue.waiting == 0
    client.close()


async def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _background_stream(
    client: ModelClient, text: str, results: dict, streams: dict, lane: str | None = None
) -> threading.Thread:
    """Stream an answer to `text` in a thread; `lane` is sent as the OpenAI `user` field."""

    def run():
        params = {"user": lane} if lane else {}
        stream = client.stream_chat([{"role": "user", "content": text}], **params)
        streams[text] = stream
        with stream:
            results[text] = "".join(stream)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def gated(served: list[str], held: str, gate: threading.Event):
    """An engine responder that records the order it serves requests in, and keeps the
    slot busy on `held` until `gate` is set (the answer's headers wait for it)."""

    def respond(body):
        user = body["messages"][-1]["content"]
        served.append(user)
        if user == held:
            gate.wait(30)
        return ScriptedReply(f"ok {user}")

    return respond


async def test_the_queue_serves_lanes_in_turn(
    autocoder, scripted_engine, engine_responder, jp_serverapp
):
    """A lane that asks three times does not make another lane wait behind all three.
    A lane is who asks, as authenticated: A is a kernel (the proxy key), B a Jupyter user."""
    served, gate = [], threading.Event()
    engine_responder.function = gated(served, "A0", gate)
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    person = ModelClient(autocoder.proxy_base_url(), api_key=jp_serverapp.identity_provider.token)
    clients = {"A": client, "B": person}
    results, streams, threads = {}, {}, []

    threads.append(_background_stream(client, "A0", results, streams))
    await _wait(lambda: served == ["A0"])  # A0 holds the one slot
    for number, user in enumerate(["A1", "A2", "A3", "B1"], start=1):
        lane = user[0]
        threads.append(_background_stream(clients[lane], user, results, streams, lane=lane))
        await _wait(lambda number=number: autocoder.queue.waiting == number)
    assert autocoder.status()["queue"] == {"waiting": 4, "active": 1, "slots": 1}
    gate.set()
    for thread in threads:
        await in_thread(thread.join, 30)

    assert served == ["A0", "A1", "B1", "A2", "A3"]  # B1 did not wait behind A2 and A3
    assert all(results[user] == f"ok {user}" for user in served)
    assert autocoder.status()["queue"] == {"waiting": 0, "active": 0, "slots": 1}
    client.close()
    clients["B"].close()


async def test_a_stopped_request_leaves_the_queue_at_once(
    autocoder, scripted_engine, engine_responder
):
    served, gate = [], threading.Event()
    engine_responder.function = gated(served, "holder", gate)
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    results, streams = {}, {}
    holder = _background_stream(client, "holder", results, streams)
    await _wait(lambda: served == ["holder"])
    waiter = _background_stream(client, "waiter", results, streams)
    await _wait(lambda: autocoder.queue.waiting == 1)

    stopped_at = time.monotonic()
    streams["waiter"].cancel()
    await _wait(lambda: autocoder.queue.waiting == 0, timeout=2)
    assert time.monotonic() - stopped_at < 0.5
    assert autocoder.queue.active == 1  # the holder goes on
    gate.set()
    await in_thread(holder.join, 30)
    await in_thread(waiter.join, 30)
    assert results["holder"] == "ok holder"
    assert served == ["holder"]  # the stopped request never reached the engine
    client.close()


async def test_kernels_started_by_the_server_reach_the_model_through_the_proxy(
    autocoder, scripted_engine, jp_fetch, jp_serverapp
):
    scripted_engine.enqueue("from the kernel's point of view")
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(response.body)["id"]
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    code = (
        "import os\n"
        "from jupyter_autocoder.llm.client import ModelClient\n"
        "print(os.environ['AUTOCODER_ENGINE_URL'])\n"
        "print(ModelClient.from_environment().chat([{'role': 'user', 'content': 'hi'}]))\n"
    )

    def run_in_kernel() -> str:
        client = kernel.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            output = []
            client.execute_interactive(
                code, timeout=60, output_hook=lambda m: output.append(m["content"].get("text", ""))
            )
            return "".join(output)
        finally:
            client.stop_channels()

    printed = await in_thread(run_in_kernel)
    url, answer = printed.strip().splitlines()
    assert (
        url == autocoder.proxy_base_url()
        and url.startswith("http://127.0.0.1:")
        and url.endswith("/v1")
    )
    assert answer == "from the kernel's point of view"
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_the_proxy_key_reads_the_status_and_changes_nothing(
    autocoder, http_server_client, jp_base_url
):
    """A kernel's key opens the model and the status (for `%autocoder status`), not the model
    actions."""
    headers = {"Authorization": f"Bearer {autocoder.proxy_key}"}
    response = await http_server_client.fetch(
        url_path_join(jp_base_url, "autocoder", "api", "status"), headers=headers
    )
    assert json.loads(response.body)["engine"]["state"] == autocoder.engine.status()["state"]
    with pytest.raises(HTTPClientError) as raised:
        await http_server_client.fetch(
            url_path_join(jp_base_url, "autocoder", "api", "models", "unload"),
            method="POST",
            body="{}",
            headers={**headers, "Content-Type": "application/json"},
        )
    assert raised.value.code in (401, 403)
