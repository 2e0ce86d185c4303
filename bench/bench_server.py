"""Benchmark of the server extension's proxy and footprint; prints JSON.

    python bench/bench_server.py [--model smollm2-135m] [--runs 5] [--max-tokens 256]

A real `jupyter server` process with the extension loads the model in its worker; this
process talks to it as a local client would (the proxy, with the Jupyter token).

- decode: generated tokens per second through the proxy (client -> jupyter server ->
  worker) against `llama_cpp.Llama.create_chat_completion(stream=True)` in this process
  (same file, settings and prompt, greedy), runs interleaved; ratio = the median of
  proxy / in-process over adjacent pairs of runs. A worker started by this process, used
  directly, tells the proxy's own cost (proxy_to_direct_worker) from the worker's.
- first_token: time to first token through the proxy, warm (model loaded, the request's
  prompt already seen), for a short request and for a second turn that extends a first
  one of about 1k tokens; the same straight to a worker, and in-process, beside it.
- memory: resident memory of the Jupyter server with the extension (model loaded, after
  serving the benchmark; the model lives in the worker process, not counted) less that of
  the same server without the extension.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

# The same prompts and timing as the engine benchmark beside this file.
from bench_engine import DECODE_PROMPT, FIRST_TURN, inprocess_run  # noqa: E402
from bench_engine import worker_run as proxy_run  # noqa: E402

from jupyter_autocoder.config import AutoCoder
from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.llm.hardware import decode_threads
from jupyter_autocoder.llm.resolve import resolve_model
from jupyter_autocoder.llm.supervisor import EngineSupervisor

SHORT_PROMPT = [{"role": "user", "content": "Write a Python function that reverses a string."}]
OTHER_EXTENSIONS = (
    "jupyterlab",
    "jupyter_lsp",
    "jupyter_server_terminals",
    "notebook_shim",
    "notebook",
)


class Server:
    """A `jupyter server` process in directories of its own, with or without the extension."""

    def __init__(self, base: Path, autocoder: dict | None):
        self.base = base
        self.token = secrets.token_hex(16)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        extensions = {name: False for name in OTHER_EXTENSIONS}
        extensions["jupyter_autocoder"] = autocoder is not None
        config = {"ServerApp": {"jpserver_extensions": extensions}}
        if autocoder is not None:
            config["AutoCoder"] = autocoder
        for name in ("config", "data", "runtime", "root"):
            (base / name).mkdir(parents=True, exist_ok=True)
        (base / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        environment = {
            k: v for k, v in os.environ.items() if not k.startswith(("AUTOCODER_", "JUPYTER"))
        }
        environment.update(
            JUPYTER_CONFIG_DIR=str(base / "config"),
            JUPYTER_DATA_DIR=str(base / "data"),
            JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        )
        self.log = open(base / "server.log", "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.root_dir={base / 'root'}",
                f"--IdentityProvider.token={self.token}",
            ],
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"token {self.token}"},
            trust_env=False,
            timeout=30,
        )

    def get(self, path: str) -> dict:
        return self.http.get(path).json()

    def wait(self, path: str, ready, timeout: float = 300.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited: {(self.base / 'server.log').read_text()[-3000:]}"
                )
            try:
                reply = self.get(path)
                if ready(reply):
                    return reply
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{path} was not ready after {timeout} s")

    def rss(self, settle: float = 2.0) -> int:
        time.sleep(settle)
        return psutil.Process(self.process.pid).memory_info().rss

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def bench_decode(client, direct, llama, runs: int, max_tokens: int) -> dict:
    proxy_run(client, DECODE_PROMPT, 16)  # warm all three
    proxy_run(direct, DECODE_PROMPT, 16)
    inprocess_run(llama, DECODE_PROMPT, 16)
    proxy, worker, inprocess = [], [], []
    for _ in range(runs):
        proxy.append(proxy_run(client, DECODE_PROMPT, max_tokens)[0])
        worker.append(proxy_run(direct, DECODE_PROMPT, max_tokens)[0])
        inprocess.append(inprocess_run(llama, DECODE_PROMPT, max_tokens)[0])
    proxy_rate, worker_rate, inprocess_rate = (
        statistics.median(x) for x in (proxy, worker, inprocess)
    )
    # Runs are compared with their neighbours of the same round: a machine whose background
    # load drifts (shared cores) then weighs on both sides of each pair alike.
    return {
        "proxy_tokens_per_s": round(proxy_rate, 1),
        "direct_worker_tokens_per_s": round(worker_rate, 1),
        "inprocess_tokens_per_s": round(inprocess_rate, 1),
        "ratio": round(statistics.median(p / i for p, i in zip(proxy, inprocess)), 3),
        "ratio_of_medians": round(proxy_rate / inprocess_rate, 3),
        "proxy_to_direct_worker": round(statistics.median(p / w for p, w in zip(proxy, worker)), 3),
        "target_ratio": 0.93,
        "runs": runs,
        "max_tokens": max_tokens,
    }


def bench_first_token(client, direct, llama, runs: int) -> dict:
    first_answer = client.chat(FIRST_TURN, max_tokens=48, temperature=0)
    second_turn = FIRST_TURN + [
        {"role": "assistant", "content": first_answer},
        {"role": "user", "content": "And feature_7?"},
    ]
    times: dict[str, list[float]] = {
        "proxy_short": [],
        "direct_short": [],
        "inprocess_short": [],
        "proxy_second_turn": [],
        "direct_second_turn": [],
    }
    for _ in range(runs):
        for name, target in (("proxy", client), ("direct", direct)):
            proxy_run(target, SHORT_PROMPT, 1)
            times[f"{name}_short"].append(
                proxy_run(target, SHORT_PROMPT, 1)[1]
            )  # warm: the same request again
            target.chat(FIRST_TURN, max_tokens=48, temperature=0)
            times[f"{name}_second_turn"].append(
                proxy_run(target, second_turn, 1)[1]
            )  # extends the turn just served
        inprocess_run(llama, SHORT_PROMPT, 1)
        times["inprocess_short"].append(inprocess_run(llama, SHORT_PROMPT, 1)[1])
    report = {f"{name}_s": round(statistics.median(values), 4) for name, values in times.items()}
    report["second_turn_context_tokens_approx"] = len(json.dumps(second_turn)) // 4
    report["target_s"] = 0.15
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--n-ctx", type=int, default=4096)
    arguments = parser.parse_args()

    import llama_cpp

    resolved = resolve_model(arguments.model, download=False)
    report: dict = {"model": resolved.name, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-server-") as scratch:
        plain = Server(Path(scratch) / "plain", None)
        try:
            plain.wait("/api/status", lambda reply: "started" in reply)
            plain.get("/api/status")
            plain_rss = plain.rss()
        finally:
            plain.stop()

        started = time.perf_counter()
        server = Server(
            Path(scratch) / "autocoder",
            {"model": resolved.name, "n_ctx": arguments.n_ctx, "n_gpu_layers": 0},
        )
        try:
            server.wait("/autocoder/api/status", lambda reply: True)
            report["server_answers_s"] = round(time.perf_counter() - started, 2)
            engine = server.wait(
                "/autocoder/api/status",
                lambda reply: reply["engine"]["state"] in ("ready", "failed"),
            )
            if engine["engine"]["state"] != "ready":
                raise RuntimeError(engine["engine"]["error"])
            report["model_ready_s"] = round(time.perf_counter() - started, 2)
            idle_rss = server.rss()

            # The same settings as the worker's defaults (hardware.decode_threads,
            # llama-cpp-python's batch).
            llama = llama_cpp.Llama(
                resolved.path,
                n_ctx=arguments.n_ctx,
                n_gpu_layers=0,
                n_batch=512,
                n_threads=decode_threads(),
                n_threads_batch=decode_threads(),
                verbose=False,
            )
            # A worker of this process's own, to tell the proxy's cost from the worker's.
            worker = EngineSupervisor(
                AutoCoder(model=resolved.path, n_ctx=arguments.n_ctx, n_gpu_layers=0, engine_url="")
            )
            worker.start()
            client = ModelClient(
                f"http://127.0.0.1:{server.port}/autocoder/api/v1", api_key=server.token
            )
            direct = worker.client()
            try:
                report["decode"] = bench_decode(
                    client, direct, llama, arguments.runs, arguments.max_tokens
                )
                report["first_token"] = bench_first_token(client, direct, llama, arguments.runs)
            finally:
                client.close()
                direct.close()
                worker.stop()
                llama.close()
            status = server.get("/autocoder/api/status")
            report["status_tokens_per_second"] = status["tokens_per_second"]
            served_rss = server.rss()
        finally:
            server.stop()
    report["memory"] = {
        "server_without_extension_mb": round(plain_rss / 2**20, 1),
        "with_extension_idle_mb": round(idle_rss / 2**20, 1),
        "with_extension_after_serving_mb": round(served_rss / 2**20, 1),
        "added_mb": round((max(idle_rss, served_rss) - plain_rss) / 2**20, 1),
        "target_mb": 50,
    }
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
