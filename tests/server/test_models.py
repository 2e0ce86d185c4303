"""The model actions under /autocoder/api/models/: refusals of unknown models and of what a
remote engine cannot do, and a pull that fails halfway (a hub that drops the download)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError


def _json(response) -> dict:
    return json.loads(response.body.decode("utf-8"))


async def _post(jp_fetch, action, body) -> dict:
    raw = body if isinstance(body, str) else json.dumps(body)
    return _json(await jp_fetch("autocoder", "api", "models", action, method="POST", body=raw))


async def _refused(jp_fetch, action, body) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as raised:
        await _post(jp_fetch, action, body)
    return raised.value.code, json.loads(raised.value.response.body)["message"]


@pytest.mark.parametrize(
    "action, body, status, words",
    [
        (
            "load",
            {"model": "gpt-17"},
            404,
            "Unknown model 'gpt-17'. Valid names: auto, autocoder-33b",
        ),
        ("switch", {}, 404, "Unknown model"),
        (
            "switch",
            {"model": "/nowhere/model.gguf"},
            404,
            "Model file not found: /nowhere/model.gguf",
        ),
        ("pull", {"model": "hf:only-a-repo"}, 404, "Unknown model 'hf:only-a-repo'"),
        ("pull", {"model": 42}, 404, "Unknown model '42'"),
        ("load", "{broken", 400, "not JSON"),
        ("load", "[]", 400, "JSON object"),
        ("frobnicate", {"model": "smollm2-135m"}, 404, "unknown model action 'frobnicate'"),
    ],
)
async def test_bad_model_requests_are_refused_and_change_nothing(
    jp_fetch, autocoder, action, body, status, words
):
    code, message = await _refused(jp_fetch, action, body)
    assert code == status and words in message
    engine = _json(await jp_fetch("autocoder", "api", "status"))["engine"]
    assert engine["state"] == "stopped" and engine["model"] == "auto"
    assert _json(await jp_fetch("autocoder", "api", "models"))["pulls"] == {}


async def test_a_local_file_needs_no_pull(jp_fetch, autocoder, tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    status, message = await _refused(jp_fetch, "pull", {"model": str(model)})
    assert status == 400 and "needs no pull" in message


@pytest.mark.parametrize(
    "autocoder_config", [{"load_on_start": False, "engine_url": "http://127.0.0.1:9/v1"}]
)
@pytest.mark.parametrize("action", ["load", "unload", "switch"])
async def test_a_remote_engine_manages_its_own_models(jp_fetch, autocoder, action):
    status, message = await _refused(jp_fetch, action, {"model": "smollm2-135m"})
    assert status == 409 and "remote" in message and "http://127.0.0.1:9/v1" in message


async def test_status_reports_queue_speed_and_sessions(jp_fetch, autocoder):
    reply = _json(await jp_fetch("autocoder", "api", "status"))
    assert reply["queue"] == {"waiting": 0, "active": 0, "slots": 1}
    assert reply["tokens_per_second"] is None  # nothing generated yet
    assert reply["sessions"] == 0
    models = _json(await jp_fetch("autocoder", "api", "models"))
    assert models["loaded"] is None and models["state"] == "stopped" and models["remote"] is False


# --- a pull that fails halfway ----------------------------------------------------------

SIZE = 25_000_000  # more than huggingface_hub's 10 MB read, so that a part is written


class _DroppingHub(BaseHTTPRequestHandler):
    """A hub that announces a file, sends half of it, drops the connection, then fails."""

    protocol_version = "HTTP/1.1"
    gets = 0

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("ETag", '"0123456789abcdef"')
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()

    def do_GET(self):
        if "/resolve/" not in self.path:  # the client's other calls (telemetry...)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        type(self).gets += 1
        if type(self).gets > 1:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        self.wfile.write(b"GGUF" + b"\0" * (SIZE // 2))
        self.wfile.flush()
        self.close_connection = True


async def test_a_pull_that_fails_halfway_leaves_no_file_in_use(server_process, tmp_path):
    hub = ThreadingHTTPServer(("127.0.0.1", 0), _DroppingHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    hf_home = tmp_path / "hf"
    server = await server_process(
        {"AutoCoder": {"load_on_start": False, "model": "smollm2-135m"}},
        env={
            "HF_ENDPOINT": f"http://127.0.0.1:{hub.server_address[1]}",
            "HF_HOME": str(hf_home),
            "HF_HUB_DISABLE_XET": "1",
        },
    )
    client = AsyncHTTPClient()
    model = "hf:someone/some-model/model-Q4_K_M.gguf"
    response = await client.fetch(
        f"{server.url}/autocoder/api/models/pull",
        method="POST",
        headers=server.auth,
        body=json.dumps({"model": model}),
    )
    assert response.code == 202 and _json(response)["pull"]["state"] == "downloading"

    deadline = time.monotonic() + 90
    while True:
        models = _json(
            await client.fetch(f"{server.url}/autocoder/api/models", headers=server.auth)
        )
        pull = models["pulls"][model]
        if pull["state"] != "downloading" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    hub.shutdown()

    assert pull["state"] == "failed", pull
    assert "Cannot download someone/some-model/model-Q4_K_M.gguf" in pull["error"]
    # it really was cut off halfway (the progress saw a part of the file), then failed
    assert _DroppingHub.gets >= 2 and 0 < pull["done"] < SIZE and pull["total"] == SIZE
    # no file under the model's name; at most the hub's .incomplete blob, which nothing loads
    blobs = hf_home / "hub" / "models--someone--some-model" / "blobs"
    assert all(p.name.endswith(".incomplete") for p in blobs.iterdir())
    assert not list(hf_home.rglob("model-Q4_K_M.gguf"))
    # the server's engine was not touched
    status = _json(await client.fetch(f"{server.url}/autocoder/api/status", headers=server.auth))
    assert status["engine"]["state"] == "stopped" and status["engine"]["model"] == "smollm2-135m"
    await server.stop()
