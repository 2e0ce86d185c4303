"""The magic in a kernel that a Jupyter server with this extension started: requests go to
the server's one model through its authenticated proxy (the server puts the proxy's URL and
key into the kernel's environment). The server's model here is the scripted engine."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time

import httpx
import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from .conftest import CellRun, clean_environment, py, python_path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path, engine):
    token, port = secrets.token_hex(12), free_port()
    env = clean_environment(
        PYTHONPATH=python_path(),
        # The server's own engine: the scripted model (kernels are given the proxy instead).
        AUTOCODER_ENGINE_URL=engine.base_url,
        AUTOCODER_API_KEY=engine.api_key,
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
            # Only this extension: the others are not needed here and slow the start.
            "--ServerApp.jpserver_extensions={'jupyter_autocoder': True, 'jupyterlab': False, "
            "'jupyter_lsp': False, 'notebook_shim': False, 'jupyter_server_terminals': False}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/status", headers=headers, trust_env=False).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, (
            "the Jupyter server did not start"
        )
        time.sleep(0.2)
    yield base, headers, tmp_path / "runtime"
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def connect(runtime, kernel_id: str) -> BlockingKernelClient:
    """A client for a kernel the server started, through its connection file."""
    deadline = time.monotonic() + 60
    while True:
        connection = runtime / f"kernel-{kernel_id}.json"
        if connection.exists():
            client = BlockingKernelClient()
            client.load_connection_file(str(connection))
            client.start_channels()
            try:
                client.wait_for_ready(timeout=10)
                return client
            except RuntimeError:  # its heartbeat reads as dead while it starts
                client.stop_channels()
        assert time.monotonic() < deadline, "the server's kernel did not answer"
        time.sleep(0.3)


def execute(client: BlockingKernelClient, code: str) -> CellRun:
    run = CellRun()
    msg_id = client.execute(code)
    while True:
        message = client.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "status" and content["execution_state"] == "idle":
            break
        if kind in ("stream", "display_data", "execute_result", "error"):
            run.outputs.append({"output_type": kind, **content})
    reply = client.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=60)
    run.reply = reply["content"]
    return run


def test_a_kernel_of_the_server_uses_the_servers_model_through_its_proxy(server, script):
    base, headers, runtime = server
    kernel = httpx.post(
        f"{base}/api/kernels", headers=headers, json={"name": "python3"}, trust_env=False
    ).json()
    client = connect(runtime, kernel["id"])
    try:
        assert execute(client, "%load_ext jupyter_autocoder").status == "ok"
        status = execute(client, "%autocoder status").text
        assert (
            f"Requests go to {base}/autocoder/api/v1: the Jupyter server's model, through its "
            "proxy, with a key." in status
        )
        assert "The engine serves: scripted-proxy." in status
        # The server's own status, read with the kernel's key: the engine and its state.
        assert "on remote. State: ready." in status, status

        execute(client, "base_price = 6")
        script.enqueue(py("answer = base_price * 7\nprint('answer', answer)"))
        run = execute(client, "%%autocoder\nMultiply base_price by 7 into `answer`.")
        assert run.status == "ok", run.text
        assert "answer 42" in run.text
        assert run.new_cell == "answer = base_price * 7\nprint('answer', answer)\n"
        assert execute(client, "print(answer)").text.strip() == "42"
        # The request reached the model, with the notebook's context, through the proxy.
        [asked] = script.asked
        assert "- base_price (int): 6" in asked.messages[-1]["content"]
    finally:
        client.stop_channels()
        httpx.delete(f"{base}/api/kernels/{kernel['id']}", headers=headers, trust_env=False)
