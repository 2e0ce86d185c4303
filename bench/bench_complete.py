"""Benchmark of inline completion; prints JSON.

    python bench/bench_complete.py [--model smollm2-135m] [--keystrokes 12] [--compare]

A real `jupyter server` process with the extension loads the model in its worker; this
process plays the editor: it types a line of a notebook cell one character at a time and,
at each keystroke pause, asks `POST /autocoder/api/complete` (the prefix is the earlier cells
and the cell up to the cursor, the suffix the rest), as the labextension does after its
debounce.

- first_text: keystroke pause to the first ghost text (the first line of the NDJSON answer
  that carries text), median and p90, warm, on an idle engine; and the same while an agent
  turn streams (a long chat answer through the proxy), in the same run, blocks of
  keystrokes alternating idle / busy; ratio = busy median / idle median.
- cache: how much of each keystroke's prompt the completion lane evaluated again (its
  prompt cache holds the rest), from the lane's usage (prompt_tokens, cached_tokens).
- agent_turn: the agent answer's decode speed while completions ran, against alone.
- With --compare, the alternatives of docs/architecture.md, measured the same way:
  `no_lane` (c.AutoCoder.completion_n_ctx = 0: completions share the one context, first
  in line, dropped after the start budget) and `second_process` (a second worker process
  with the same model, asked straight, while the first worker streams the agent turn).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import Server  # noqa: E402

from jupyter_autocoder.config import AutoCoder  # noqa: E402
from jupyter_autocoder.llm.catalogue import CATALOGUE  # noqa: E402
from jupyter_autocoder.llm.client import ModelClient  # noqa: E402
from jupyter_autocoder.llm.fim import choose_template  # noqa: E402
from jupyter_autocoder.llm.resolve import resolve_model  # noqa: E402
from jupyter_autocoder.llm.supervisor import EngineSupervisor  # noqa: E402

EARLIER_CELLS = '''import numpy as np
import pandas as pd

# Load the measurements of the weather stations

frame = pd.read_csv("stations.csv", parse_dates=["time"])
frame = frame.dropna(subset=["temperature"])
print(frame.shape)

def daily_means(frame, column):
    """The mean of `column` for each station and day."""
    grouped = frame.groupby(["station", frame["time"].dt.date])
    return grouped[column].mean().unstack("station")

'''
CELL_BEFORE = (
    'def hottest_days(frame, n=5):\n    """The n days with the highest mean temperature."""\n    '
)
TYPED = "means = daily_means(frame, 'temperature').mean(axis=1)"
SUFFIX = "\n\n\nhottest_days(frame)\n"
AGENT_TURN = [
    {
        "role": "user",
        "content": "Write a long, detailed tutorial on pandas groupby with many examples.",
    }
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_ms": round(1000 * statistics.median(values), 1),
        "p90_ms": round(1000 * percentile(values, 0.9), 1),
        "min_ms": round(1000 * min(values), 1),
        "max_ms": round(1000 * max(values), 1),
    }


class Editor:
    """Asks the server for completions as the labextension does."""

    def __init__(self, server: Server, max_tokens: int):
        self.url = f"http://127.0.0.1:{server.port}/autocoder/api/complete"
        self.http = httpx.Client(
            headers={"Authorization": f"token {server.token}"}, trust_env=False, timeout=120
        )
        self.max_tokens = max_tokens

    def complete(self, prefix: str, suffix: str) -> dict:
        """One request, read to its end: the time to its first text, its usage, its status."""
        payload = {
            "prefix": prefix,
            "suffix": suffix,
            "language": "python",
            "client": "bench-editor",
            "max_tokens": self.max_tokens,
            "max_lines": 4,
        }
        started = time.perf_counter()
        first = None
        done: dict = {}
        text = ""
        with self.http.stream("POST", self.url, json=payload) as response:
            if response.status_code != 200:
                response.read()
                return {
                    "status": response.status_code,
                    "seconds": time.perf_counter() - started,
                    "reason": response.json().get("reason"),
                }
            for line in response.iter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("text"):
                    if first is None:
                        first = time.perf_counter() - started
                    text += event["text"]
                if event.get("done"):
                    done = event
        return {
            "status": 200,
            "first_text": first,
            "seconds": time.perf_counter() - started,
            "usage": done.get("usage") or {},
            "text": text,
        }

    def close(self) -> None:
        self.http.close()


class AgentTurn:
    """A long chat answer streaming through the proxy in a thread, as an agent turn does."""

    def __init__(self, client: ModelClient, max_tokens: int = 4000):
        self.client = client
        self.stamps: list[float] = []
        self.stream = client.stream_chat(AGENT_TURN, max_tokens=max_tokens, temperature=0)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 300
        while len(self.stamps) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        try:
            with self.stream:
                for _ in self.stream:
                    self.stamps.append(time.perf_counter())
        except Exception:  # cancelled: the connection closes under the reader
            pass

    def tokens_per_second(self, start: float, end: float) -> float | None:
        inside = [t for t in self.stamps if start <= t <= end]
        return round((len(inside) - 1) / (inside[-1] - inside[0]), 1) if len(inside) > 2 else None

    def stop(self) -> None:
        self.stream.cancel()
        self.thread.join(30)


def keystrokes(count: int) -> list[str]:
    """The prefixes at `count` keystroke pauses along the typed line (first one warms)."""
    step = max(1, len(TYPED) // count)
    return [EARLIER_CELLS + CELL_BEFORE + TYPED[:k] for k in range(step, len(TYPED) + 1, step)][
        :count
    ]


def bench_server(
    model: str, n_ctx: int, lane_ctx: int, count: int, max_tokens: int, blocks: int, scratch: Path
) -> dict:
    server = Server(
        scratch / f"server-{lane_ctx}",
        {"model": model, "n_ctx": n_ctx, "n_gpu_layers": 0, "completion_n_ctx": lane_ctx},
    )
    report: dict = {"completion_n_ctx": lane_ctx}
    try:
        status = server.wait(
            "/autocoder/api/status", lambda r: r["engine"]["state"] in ("ready", "failed")
        )
        if status["engine"]["state"] != "ready":
            raise RuntimeError(status["engine"]["error"])
        report["completion"] = status["completion"]
        editor = Editor(server, max_tokens)
        chat = ModelClient(f"http://127.0.0.1:{server.port}/autocoder/api/v1", api_key=server.token)
        prefixes = keystrokes(count)
        editor.complete(prefixes[0], SUFFIX)  # warm: the model has seen the cell
        idle, busy, usages, dropped = [], [], [], {"idle": 0, "busy": 0}
        agent_speed_during, agent_speed_alone = [], []
        for _block in range(blocks):
            for kind in ("idle", "busy"):
                agent = AgentTurn(chat) if kind == "busy" else None
                if agent is not None:
                    time.sleep(1.0)
                    alone_end = time.perf_counter()
                    agent_speed_alone.append(agent.tokens_per_second(alone_end - 1.0, alone_end))
                started = time.perf_counter()
                for prefix in prefixes[1:]:
                    result = editor.complete(prefix, SUFFIX)
                    if result["status"] != 200 or result["first_text"] is None:
                        dropped[kind] += 1
                    else:
                        (idle if kind == "idle" else busy).append(result["first_text"])
                        if kind == "idle":
                            usages.append(result["usage"])
                    time.sleep(0.15)  # the user types on
                if agent is not None:
                    agent_speed_during.append(agent.tokens_per_second(started, time.perf_counter()))
                    agent.stop()
        report["first_text_idle"] = summary(idle)
        report["first_text_during_agent_turn"] = summary(busy)
        if idle and busy:
            report["ratio_busy_to_idle"] = round(
                statistics.median(busy) / statistics.median(idle), 2
            )
        report["no_ghost_text"] = dropped
        evaluated = [
            u["prompt_tokens"] - u["cached_tokens"] for u in usages if "cached_tokens" in u
        ]
        prompts = [u["prompt_tokens"] for u in usages if "prompt_tokens" in u]
        if evaluated:
            report["cache"] = {
                "prompt_tokens_median": statistics.median(prompts),
                "evaluated_again_median": statistics.median(evaluated),
                "evaluated_again_share": round(
                    statistics.median(evaluated) / statistics.median(prompts), 3
                ),
                "suffix_tokens": len(SUFFIX) // 3,
            }
        report["agent_turn_tokens_per_second"] = {
            "alone": [s for s in agent_speed_alone if s],
            "while_completing": [s for s in agent_speed_during if s],
        }
        worker = psutil.Process(server.get("/autocoder/api/status")["engine"]["pid"])
        report["worker_rss_mb"] = round(worker.memory_info().rss / 2**20, 1)
        editor.close()
        chat.close()
    finally:
        server.stop()
    return report


def bench_second_process(
    model: str, n_ctx: int, count: int, max_tokens: int, blocks: int, scratch: Path
) -> dict:
    """Completions asked of a second worker process (same model, no lane) while the server's
    worker streams the agent turn: both processes share the cores."""
    server = Server(
        scratch / "server-second",
        {"model": model, "n_ctx": n_ctx, "n_gpu_layers": 0, "completion_n_ctx": 0},
    )
    second = EngineSupervisor(
        AutoCoder(model=model, n_ctx=2048, n_gpu_layers=0, engine_url="", completion_n_ctx=0)
    )
    report: dict = {}
    try:
        server.wait("/autocoder/api/status", lambda r: r["engine"]["state"] in ("ready", "failed"))
        second.start()
        spec = CATALOGUE.get(model)
        template = choose_template(second.status().get("fim"), spec.fim if spec else None)
        chat = ModelClient(f"http://127.0.0.1:{server.port}/autocoder/api/v1", api_key=server.token)
        prefixes = keystrokes(count)

        def ask(prefix: str) -> float | None:
            prompt = template.prompt(prefix, SUFFIX) if template else prefix
            with (
                second.client() as client,
                client.stream_completion(
                    prompt,
                    max_tokens=max_tokens,
                    temperature=0,
                    stop=list(template.stop) if template else [],
                ) as stream,
            ):
                started = time.perf_counter()
                for piece in stream:
                    if piece.strip():
                        return time.perf_counter() - started
            return None

        ask(prefixes[0])
        idle, busy = [], []
        for _ in range(blocks):
            for kind in ("idle", "busy"):
                agent = AgentTurn(chat) if kind == "busy" else None
                for prefix in prefixes[1:]:
                    first = ask(prefix)
                    if first is not None:
                        (idle if kind == "idle" else busy).append(first)
                    time.sleep(0.15)
                if agent is not None:
                    agent.stop()
        report["first_text_idle"] = summary(idle)
        report["first_text_during_agent_turn"] = summary(busy)
        if idle and busy:
            report["ratio_busy_to_idle"] = round(
                statistics.median(busy) / statistics.median(idle), 2
            )
        memory = psutil.Process(second.status()["pid"]).memory_full_info()
        report["second_worker_rss_mb"] = round(memory.rss / 2**20, 1)
        report["second_worker_uss_mb"] = round(memory.uss / 2**20, 1)
        chat.close()
    finally:
        second.stop()
        server.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--keystrokes", type=int, default=12, help="keystroke pauses a block types")
    parser.add_argument("--blocks", type=int, default=2, help="idle/busy block pairs")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--compare", action="store_true", help="also measure the alternatives")
    arguments = parser.parse_args()

    resolved = resolve_model(arguments.model, download=False)
    report: dict = {
        "model": resolved.name,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="bench-complete-") as scratch:
        report["lane"] = bench_server(
            resolved.name,
            arguments.n_ctx,
            2048,
            arguments.keystrokes,
            arguments.max_tokens,
            arguments.blocks,
            Path(scratch),
        )
        if arguments.compare:
            report["no_lane"] = bench_server(
                resolved.name,
                arguments.n_ctx,
                0,
                arguments.keystrokes,
                arguments.max_tokens,
                arguments.blocks,
                Path(scratch),
            )
            report["second_process"] = bench_second_process(
                resolved.name,
                arguments.n_ctx,
                arguments.keystrokes,
                arguments.max_tokens,
                arguments.blocks,
                Path(scratch),
            )
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
