"""The worker's threads leave a core to the user: decode keeps going while a cell computes.

llama.cpp's threads spin at a barrier for every operation: with one on every core, a
CPU-bound cell (one core) stalls them all (bench/bench_threads.py has the figures)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil
import pytest

from jupyter_autocoder.llm.supervisor import EngineSupervisor

PHYSICAL = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
ESSAY = [{"role": "user", "content": "Write a very long essay about the history of computing."}]
# A cell that computes: pure Python, one core, in a session of its own as a kernel is.
BUSY_CELL = "while True:\n    sum(range(10000))"


def decode_rate(client, seconds: float) -> float:
    """Tokens per second over `seconds` of a long answer (after its first token)."""
    stamps: list[float] = []
    with client.stream_chat(ESSAY, max_tokens=4000, temperature=0) as stream:
        timer = threading.Timer(seconds, stream.cancel)
        for _ in stream:
            stamps.append(time.perf_counter())
            if len(stamps) == 1:
                timer.start()
        timer.cancel()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


def idle_and_busy(engine: EngineSupervisor, seconds: float = 3.0) -> tuple[float, float]:
    with engine.client() as client:
        client.chat(ESSAY, max_tokens=4, temperature=0)  # warm
        idle = decode_rate(client, seconds)
        cell = subprocess.Popen([sys.executable, "-c", BUSY_CELL], start_new_session=True)
        try:
            time.sleep(0.3)
            busy = decode_rate(client, seconds)
        finally:
            cell.kill()
            cell.wait()
    return idle, busy


def test_the_worker_leaves_a_core_to_the_user_and_says_so(make_settings):
    engine = EngineSupervisor(make_settings())
    engine.start()
    try:
        status = engine.status()
    finally:
        engine.stop()
    assert status["state"] == "ready", status["error"]
    assert status["n_threads"] == max(1, PHYSICAL - 1)
    assert status["n_threads_batch"] == max(1, PHYSICAL - 1)


@pytest.mark.skipif(PHYSICAL < 2, reason="one core: no core to leave to the user")
def test_decode_keeps_going_while_a_cell_computes(make_settings):
    rates = {}
    for name, settings in {
        "default": make_settings(),
        "every core": make_settings(n_threads=PHYSICAL, n_threads_batch=PHYSICAL),
    }.items():
        engine = EngineSupervisor(settings)
        engine.start()
        try:
            assert engine.status()["state"] == "ready"
            rates[name] = idle_and_busy(engine)
        finally:
            engine.stop()
    idle, busy = rates["default"]
    assert busy >= 0.4 * idle, rates  # the target
    assert busy >= 2 * rates["every core"][1], rates  # a thread on every core stalls
