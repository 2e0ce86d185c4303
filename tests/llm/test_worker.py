"""The worker and its supervisor, with the real small model: what a user of the engine sees."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest

from jupyter_autocoder.errors import EngineAuthError, EngineStreamBrokenError
from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.llm.supervisor import EngineSupervisor

COUNTING = [{"role": "user", "content": "Count from 1 to 20, one number per line."}]
ESSAY = [{"role": "user", "content": "Write a very long essay about the history of computing."}]


def test_streams_an_answer(supervisor):
    with (
        supervisor.client() as client,
        client.stream_chat(COUNTING, max_tokens=48, temperature=0) as stream,
    ):
        pieces = list(stream)
    assert len(pieces) > 5
    assert "".join(pieces) == stream.text
    assert stream.finish_reason in ("stop", "length")
    assert stream.completion_tokens == len(pieces)
    status = supervisor.status()
    assert status["state"] == "ready" and status["device"] == "cpu" and status["n_layers"] == 30


def test_stop_sequence_ends_the_answer(supervisor):
    with supervisor.client() as client:
        full = client.chat(COUNTING, max_tokens=48, temperature=0)
        assert "\n" in full.strip(), full
        cut = client.chat(COUNTING, max_tokens=48, temperature=0, stop=["\n"])
    assert "\n" not in cut
    assert full.startswith(cut)


def test_a_long_prompt_leaves_no_logits_behind(supervisor):
    """The worker keeps the last token's logits only: a 1,000-token prompt grew it by 392 MB
    with llama-cpp-python's server default (every prompt token's logits, twice)."""
    worker = psutil.Process(supervisor.status()["pid"])
    long_prompt = " ".join(f"item{number}" for number in range(500))
    messages = [{"role": "user", "content": f"Repeat the last word: {long_prompt}"}]
    with supervisor.client() as client:
        client.chat(COUNTING, max_tokens=2, temperature=0)  # buffers of a first request
        before = worker.memory_info().rss
        with client.stream_chat(messages, max_tokens=2, temperature=0) as stream:
            list(stream)
    assert stream.prompt_tokens is None or stream.prompt_tokens > 900
    grown_mb = (worker.memory_info().rss - before) / 2**20
    assert grown_mb < 120, f"the worker grew by {grown_mb:.0f} MB for one long prompt"


def test_the_worker_refuses_a_wrong_key(supervisor):
    with (
        ModelClient(supervisor.base_url, api_key="wrong") as client,
        pytest.raises(EngineAuthError),
    ):
        client.chat(COUNTING, max_tokens=4)


def test_the_worker_listens_on_loopback_only(supervisor):
    assert supervisor.base_url.startswith("http://127.0.0.1:")
    port = int(supervisor.base_url.rsplit(":", 1)[1].split("/")[0])
    addresses = {
        info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    }
    addresses.discard("127.0.0.1")
    for address in addresses:
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=1).close()


def test_cancel_stops_generation_at_the_worker(supervisor):
    worker = psutil.Process(supervisor.status()["pid"])
    with supervisor.client() as client:
        with client.stream_chat(ESSAY, max_tokens=2000, temperature=0) as stream:
            for index, _ in enumerate(stream):
                if index == 5:
                    stream.cancel()
        assert stream.finish_reason is None and stream.cancelled
        # Had the essay gone on (2000 tokens: many seconds here), the worker would be busy.
        time.sleep(0.5)
        before = sum(worker.cpu_times()[:2])
        time.sleep(1.0)
        assert sum(worker.cpu_times()[:2]) - before < 0.2
        # and the next request is served, whole
        assert client.chat(COUNTING, max_tokens=8, temperature=0)


def test_concurrent_requests_are_served_in_turn_without_mixing(supervisor):
    prompts = [
        [{"role": "user", "content": "List three fruits."}],
        [{"role": "user", "content": "Name three planets."}],
        [{"role": "user", "content": "Write a haiku about rain."}],
    ]
    with supervisor.client() as client:
        alone = [client.chat(p, max_tokens=40, temperature=0, seed=1) for p in prompts]
        # llama.cpp's greedy answer to a prompt that directly follows itself can differ (it
        # reuses almost all of the cache): as alone, each prompt must follow another one.
        client.chat([{"role": "user", "content": "Say hi."}], max_tokens=4)
    together: dict[int, str] = {}

    def ask(index: int) -> None:
        with supervisor.client() as own_client:
            together[index] = own_client.chat(prompts[index], max_tokens=40, temperature=0, seed=1)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [together[i] for i in range(len(prompts))] == alone


def test_a_killed_worker_gives_a_clear_error_and_the_next_request_succeeds(make_settings):
    engine = EngineSupervisor(make_settings())
    engine.start()
    try:
        pid = engine.status()["pid"]
        with engine.client() as client:
            with pytest.raises(
                EngineStreamBrokenError, match="closed the stream|without a finish reason"
            ):
                with client.stream_chat(ESSAY, max_tokens=2000) as stream:
                    for index, _ in enumerate(stream):
                        if index == 3:
                            os.kill(pid, signal.SIGKILL)
        engine.ensure_running(timeout=60)
        status = engine.status()
        assert status["state"] == "ready" and status["restarts"] == 1 and status["pid"] != pid, (
            status
        )
        with engine.client() as client:
            assert client.chat(COUNTING, max_tokens=8)
    finally:
        engine.stop()


def test_stop_ends_the_worker_process(make_settings):
    engine = EngineSupervisor(make_settings())
    engine.start()
    pid = engine.status()["pid"]
    engine.stop()
    assert engine.status()["state"] == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_port_in_use_is_a_clear_error(small_model_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "jupyter_autocoder.cli",
                "serve",
                "--model",
                small_model_path,
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stdout
    assert "Choose another with --port" in result.stdout


def test_serve_refuses_a_public_address_without_a_key(small_model_path):
    environment = {k: v for k, v in os.environ.items() if k != "AUTOCODER_WORKER_KEY"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_autocoder.llm.worker",
            "--model",
            small_model_path,
            "--host",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert result.returncode == 2 and "without a key" in result.stdout


def test_an_unloadable_model_fails_with_the_reason(tmp_path, small_model_path, make_settings):
    # A file whose header reads well but names an architecture llama.cpp does not know.
    data = bytearray(open(small_model_path, "rb").read())
    at = data.index(b"general.architecture") + len("general.architecture") + 4 + 8
    assert data[at : at + 5] == b"llama"
    data[at : at + 5] = b"xxxxx"
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(bytes(data))
    engine = EngineSupervisor(make_settings(model=str(broken)))
    with pytest.raises(Exception, match="failed"):
        engine.start()
    status = engine.status()
    assert status["state"] == "failed"
    assert "could not load" in status["error"] and "broken.gguf" in status["error"]


def test_an_unknown_model_fails_with_the_valid_names(make_settings):
    engine = EngineSupervisor(make_settings(model="gpt-7"))
    with pytest.raises(Exception, match="failed"):
        engine.start()
    assert "Valid names: auto, autocoder-33b" in engine.status()["error"]


def test_a_remote_engine_url_wins(make_settings):
    from jupyter_autocoder.testing.scripted_engine import ScriptedEngine

    with ScriptedEngine(["remote answer"]) as remote:
        engine = EngineSupervisor(make_settings(engine_url=remote.base_url, api_key=remote.api_key))
        engine.ensure_running()
        assert engine.status()["device"] == "remote" and engine.status()["state"] == "ready"
        with engine.client() as client:
            assert client.chat([{"role": "user", "content": "hi"}]) == "remote answer"
        assert engine._process is None


def test_chat_command_streams_to_the_terminal():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_autocoder.cli",
            "chat",
            "--model",
            "smollm2-135m",
            "--n-ctx",
            "1024",
            "--max-tokens",
            "24",
            "Say hello.",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "tokens/s" in result.stderr and "smollm2-135m on cpu" in result.stderr


def test_engine_url_environment_variable_reaches_the_client(monkeypatch):
    from jupyter_autocoder.testing.scripted_engine import ScriptedEngine

    with ScriptedEngine(["from the environment"]) as remote:
        monkeypatch.setenv("AUTOCODER_ENGINE_URL", remote.base_url)
        monkeypatch.setenv("AUTOCODER_API_KEY", remote.api_key)
        with ModelClient.from_environment() as client:
            assert client.chat([{"role": "user", "content": "hi"}]) == "from the environment"
        assert httpx.get(remote.base_url + "/models").status_code == 401


def test_prompt_lookup_drafting_answers(make_settings):
    """Prompt-lookup drafting needs every token's logits: the worker keeps them for it."""
    engine = EngineSupervisor(make_settings(draft="prompt-lookup"))
    engine.start()
    try:
        with engine.client() as client:
            answer = client.chat(
                [{"role": "user", "content": "Repeat: def f(x): return x + 1"}],
                max_tokens=20,
                temperature=0,
            )
    finally:
        engine.stop()
    assert "return x + 1" in answer
