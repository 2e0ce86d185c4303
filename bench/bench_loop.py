"""Overhead of the agent loop per round, the model's and the code's time excluded.

The model is the scripted engine (real HTTP streaming on loopback, no delay); the executor
answers instantly with realistic results (an ANSI traceback, a DataFrame, a PNG), so what is
left is the loop's own work: building messages, parsing, feedback, events, traces.

    python bench/bench_loop.py [--sessions 40] [--rounds 3]

Prints JSON. Target: under 20 ms per round.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_autocoder.agent import AgentSession, SessionSettings
from jupyter_autocoder.executors.base import (
    DisplayOutput,
    ErrorOutput,
    ExecutionResult,
    Executor,
    StreamOutput,
)
from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.testing.scripted_engine import ScriptedEngine

TARGET_MS = 20.0


def _png(width: int, height: int) -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * 4000)
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    return base64.b64encode(raw).decode()


_TRACEBACK = [
    "\x1b[0;31m" + "-" * 75 + "\x1b[0m",
    "\x1b[0;31mKeyError\x1b[0m    Traceback (most recent call last)",
] + [
    f"File \x1b[0;32m/lib/pandas/core/frame.py:{i}\x1b[0m, in \x1b[0;36mgetitem\x1b[0m\n    "
    f"return self._get({i})"
    for i in range(40)
]
_TABLE = (
    '<table class="dataframe"><thead><tr><th></th><th>a</th><th>b</th></tr></thead><tbody>'
    + "".join(f"<tr><th>{i}</th><td>{i}</td><td>{i * 2}</td></tr>" for i in range(60))
    + "</tbody></table>"
)
_FAILED = ExecutionResult(
    [StreamOutput("stdout", "loading...\n" * 50), ErrorOutput("KeyError", "'price'", _TRACEBACK)],
    status="error",
)
_CLEAN = ExecutionResult(
    [
        StreamOutput("stdout", "done\n"),
        DisplayOutput({"text/html": _TABLE, "text/plain": "    a   b\n0   0   0\n1   1   2"}),
        DisplayOutput({"image/png": _png(640, 480), "text/plain": "<Figure size 640x480>"}),
    ]
)


class InstantExecutor(Executor):
    """Answers at once: a failure for code that says so, else a clean run with rich output."""

    def run(self, code, timeout=None):
        return _FAILED if "fail" in code else _CLEAN

    def defined_names(self, names):
        return set(names)

    def existing_files(self, paths):
        return set(paths)


def _reply(round_number: int, rounds: int) -> str:
    body = "\n".join(f"    total_{i} = df['a'].sum() + {i}" for i in range(20))
    marker = "fail = True\n" if round_number < rounds else ""
    return (
        f"Round {round_number}: computing the totals.\n```python\n{marker}def "
        f"compute(df):\n{body}\n"
        "    return total_0\nresult = compute(df)\nprint(result)\n```\n"
    )


def measure(sessions: int, rounds: int, trace: bool) -> dict:
    overhead, model, execution, per_round_total = [], [], [], []
    with ScriptedEngine() as engine, tempfile.TemporaryDirectory() as traces:
        client = ModelClient(engine.base_url, engine.api_key, model="scripted")
        for _ in range(sessions):
            for number in range(1, rounds + 1):
                # Big chunks: the loop's cost per round, not per token, is what is measured here.
                engine.enqueue({"content": _reply(number, rounds), "chunk_size": 64})
            settings = SessionSettings(max_rounds=rounds, trace=trace, trace_dir=traces)
            session = AgentSession(client, InstantExecutor(), settings)
            events = list(session.run("Compute `result` from df and show it."))
            session.close()
            if events[-1].reason != "success":
                raise RuntimeError(f"unexpected end: {events[-1].to_dict()}")
            for record in session.records:
                overhead.append(record.overhead_seconds * 1000)
                model.append(record.model_seconds * 1000)
                execution.append(record.exec_seconds * 1000)
                per_round_total.append(record.total_seconds * 1000)
        client.close()
    overhead.sort()
    return {
        "trace": trace,
        "rounds_measured": len(overhead),
        "overhead_ms": {
            "mean": round(statistics.fmean(overhead), 3),
            "median": round(statistics.median(overhead), 3),
            "p95": round(overhead[int(len(overhead) * 0.95) - 1], 3),
            "max": round(overhead[-1], 3),
        },
        "model_stream_ms_mean": round(statistics.fmean(model), 3),
        "executor_ms_mean": round(statistics.fmean(execution), 3),
        "round_total_ms_mean": round(statistics.fmean(per_round_total), 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    measure(2, arguments.rounds, trace=False)  # warm up imports and the loopback server
    started = time.perf_counter()
    with_trace = measure(arguments.sessions, arguments.rounds, trace=True)
    without_trace = measure(arguments.sessions, arguments.rounds, trace=False)
    report = {
        "benchmark": "agent loop overhead per round (model stream and execution excluded)",
        "target_ms": TARGET_MS,
        "within_target": with_trace["overhead_ms"]["p95"] < TARGET_MS,
        "with_trace": with_trace,
        "without_trace": without_trace,
        "python": sys.version.split()[0],
        "seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
