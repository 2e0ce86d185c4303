"""Decode and prompt speed with the user's kernel busy, against idle, per thread setting;
prints JSON.

    python bench/bench_threads.py [--model smollm2-135m] [--reps 2] [--window 6]

What a user has when a cell computes while the agent answers: a real kernel runs a CPU-bound
cell while the worker decodes. For each setting (decode threads / batch threads / how
llama.cpp's OpenMP threads wait at their barriers), interleaved over `--reps`:

- decode tokens/s through the worker, idle and while the cell runs (`busy / idle`, target at
  least 0.4);
- the cell's own speed while the worker decodes, against the cell alone (`cell_kept`; the
  target: slowed by no more than the worker's share of the cores, so `cell_kept >= 1 -
  decode threads / cores`, never below 0);
- prompt tokens/s of a cold prompt (the batch threads), idle and busy.

Two cells: `python` (pure Python, one core) and `numpy` (matrix products, OpenBLAS on every
core). The settings include llama.cpp's own defaults (a thread per physical core for both,
OpenMP's default spinning) and llama-cpp-python's (half the logical CPUs, all of them for
batches). Everything is measured in one run, because this machine's other load varies.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from jupyter_autocoder.config import AutoCoder
from jupyter_autocoder.executors import KernelExecutor
from jupyter_autocoder.llm.resolve import resolve_model
from jupyter_autocoder.llm.supervisor import EngineSupervisor

DECODE_PROMPT = [
    {
        "role": "user",
        "content": "Write a long, detailed tutorial on Python list comprehensions, with examples.",
    }
]
PROMPT_TEXT = " ".join(
    f"Step {i}: load the table, drop the rows where column c{i} is missing, and plot it."
    for i in range(24)
)
# How OpenMP's threads wait at a barrier: libgomp spins GOMP_SPINCOUNT times (300,000 when
# nothing is set), then sleeps; PASSIVE sleeps at once.
WAITS = {
    "spin": {"GOMP_SPINCOUNT": "300000"},  # libgomp's default
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin-10k": {"GOMP_SPINCOUNT": "10000"},
}
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")

PYTHON_CELL = """
import json, time
_end = time.perf_counter() + {seconds}
_start_wall, _units = time.time(), 0
while time.perf_counter() < _end:
    sum(range(20000)); _units += 1
print(json.dumps({{"start": _start_wall, "end": time.time(), "rate": _units / {seconds}}}))
"""
NUMPY_CELL = """
import json, time
import numpy as _np
_a = _np.random.default_rng(0).random((1000, 1000))
_end = time.perf_counter() + {seconds}
_start_wall, _units = time.time(), 0
while time.perf_counter() < _end:
    _a @ _a; _units += 1
print(json.dumps({{"start": _start_wall, "end": time.time(), "rate": _units / {seconds}}}))
"""
CELLS = {"python": PYTHON_CELL, "numpy": NUMPY_CELL}
PROMPT_LIMIT = 20.0  # seconds; a prompt that takes longer is reported at this bound


@dataclass(frozen=True)
class Setting:
    name: str
    decode: int
    batch: int
    wait: str


def default_settings() -> list[Setting]:
    physical = psutil.cpu_count(logical=False) or 1
    logical = psutil.cpu_count() or 1
    settings = [
        Setting("llama.cpp", physical, physical, "spin"),  # llama.cpp's own defaults
        Setting("llama-cpp-python", max(logical // 2, 1), logical, "spin"),  # its defaults
        Setting("all-passive", physical, physical, "passive"),
        Setting("all-spin-10k", physical, physical, "spin-10k"),
    ]
    if physical > 1:
        settings.insert(1, Setting("all-but-one", physical - 1, physical - 1, "spin"))
        settings.append(Setting("all-but-one-passive", physical - 1, physical - 1, "passive"))
        settings.append(Setting("all-but-one-reading-all", physical - 1, physical, "passive"))
    return settings


def set_group_niceness(pid: int, niceness: int | None) -> None:
    """Linux schedules by session ("autogroup") first: `nice` counts only inside a session, and
    the worker and the kernel each start one. On a machine shared with other sessions, a lower
    group niceness for this bench's own processes makes the others' load weigh less."""
    if niceness is None:
        return
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(niceness))
    except OSError as error:
        print(f"cannot set the group niceness of {pid}: {error}", file=sys.stderr)


@contextmanager
def wait_policy(wait: str):
    saved = {name: os.environ.pop(name, None) for name in WAIT_VARIABLES}
    os.environ.update(WAITS[wait])  # the worker inherits this process's environment
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


class Decoder:
    """A stream kept going in a thread; token times are read for any window of it."""

    def __init__(self, client):
        self.client = client
        self.stamps: list[float] = []
        self.stream = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Decoder:
        self.thread.start()
        while not self.stamps and self.thread.is_alive():
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        self.stream = self.client.stream_chat(DECODE_PROMPT, max_tokens=4000, temperature=0)
        with self.stream:
            for _ in self.stream:
                self.stamps.append(time.time())

    def rate(self, start: float, end: float) -> float:
        inside = [stamp for stamp in self.stamps if start <= stamp <= end]
        if len(inside) < 2:
            return len(inside) / max(end - start, 1e-9)
        return (len(inside) - 1) / (inside[-1] - inside[0])

    def __exit__(self, *exc_info: object) -> None:
        if self.stream is not None:
            self.stream.cancel()
        self.thread.join(30)


def run_cell(kernel: KernelExecutor, cell: str, seconds: float) -> dict:
    result = kernel.run(CELLS[cell].format(seconds=seconds), timeout=seconds + 120)
    return json.loads(result.stdout.strip().splitlines()[-1])


def prompt_rate(client, tag: str, limit: float) -> float:
    """Prompt tokens/s of a cold prompt (a new first line defeats the prefix cache)."""
    messages = [{"role": "user", "content": f"Request {tag}. {PROMPT_TEXT}"}]
    tokens = len(messages[0]["content"]) / 4.0  # about four characters a token
    started = time.perf_counter()
    with client.stream_chat(messages, max_tokens=1, temperature=0) as stream:
        timer = threading.Timer(limit, stream.cancel)  # past it, the rate is an upper bound
        timer.start()
        for _ in stream:
            break
        timer.cancel()
    return tokens / min(time.perf_counter() - started, limit)


def measure(
    setting: Setting,
    path: str,
    kernel: KernelExecutor,
    window: float,
    n_ctx: int,
    niceness: int | None,
) -> dict:
    with wait_policy(setting.wait):
        engine = EngineSupervisor(
            AutoCoder(
                model=path,
                n_ctx=n_ctx,
                n_gpu_layers=0,
                engine_url="",
                n_threads=setting.decode,
                n_threads_batch=setting.batch,
            )
        )
        engine.start()
    set_group_niceness(engine.status()["pid"], niceness)
    row: dict = {}
    try:
        with engine.client() as client:
            client.chat(DECODE_PROMPT, max_tokens=8, temperature=0)  # warm
            with Decoder(client) as decoder:
                time.sleep(window)
                now = time.time()
                row["idle_decode"] = decoder.rate(now - window + 1, now)
            row["idle_prompt"] = prompt_rate(client, f"idle {time.time()}", PROMPT_LIMIT)
            for cell in CELLS:
                alone = run_cell(kernel, cell, window)["rate"]
                with Decoder(client) as decoder:
                    busy = run_cell(kernel, cell, window)
                    row[f"{cell}_busy_decode"] = decoder.rate(busy["start"] + 1, busy["end"])
                row[f"{cell}_cell_kept"] = busy["rate"] / alone
            holder = threading.Thread(
                target=run_cell, args=(kernel, "numpy", PROMPT_LIMIT + 2), daemon=True
            )
            holder.start()
            time.sleep(1)
            row["numpy_busy_prompt"] = prompt_rate(client, f"busy {time.time()}", PROMPT_LIMIT)
            holder.join()
    finally:
        engine.stop()
    return row


def summarize(setting: Setting, rows: list[dict], cores: int) -> dict:
    median = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    allowed = max(0.0, 1 - setting.decode / cores)
    summary = {
        "decode_threads": setting.decode,
        "batch_threads": setting.batch,
        "wait": setting.wait,
        "idle_decode_tokens_per_s": round(median["idle_decode"], 1),
        "idle_prompt_tokens_per_s": round(median["idle_prompt"], 1),
        "busy_prompt_tokens_per_s": round(median["numpy_busy_prompt"], 1),
    }
    for cell in CELLS:
        busy = median[f"{cell}_busy_decode"]
        summary[cell] = {
            "busy_decode_tokens_per_s": round(busy, 1),
            "busy_over_idle": round(busy / median["idle_decode"], 3),
            "cell_kept": round(median[f"{cell}_cell_kept"], 3),
            "cell_kept_at_least": round(allowed, 3),
        }
    summary["runs"] = [{key: round(value, 3) for key, value in row.items()} for row in rows]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--window", type=float, default=6.0, help="seconds per measurement")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument(
        "--group-niceness",
        type=int,
        default=None,
        help="Linux: the autogroup niceness of the bench, its kernel and workers (e.g. -10 on a "
        "shared machine; needs root)",
    )
    parser.add_argument("--only", default=None, help="setting names, comma-separated")
    arguments = parser.parse_args()

    resolved = resolve_model(arguments.model, download=False)
    settings = default_settings()
    if arguments.only:
        wanted = arguments.only.split(",")
        settings = [setting for setting in settings if setting.name in wanted]
    cores = psutil.cpu_count(logical=False) or 1
    report = {
        "model": resolved.name,
        "cores": cores,
        "logical_cpus": psutil.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "window_s": arguments.window,
        "reps": arguments.reps,
        "group_niceness": arguments.group_niceness,
    }
    rows: dict[str, list[dict]] = {setting.name: [] for setting in settings}
    kernel = KernelExecutor(env={"OMP_NUM_THREADS": str(psutil.cpu_count() or 1)})
    kernel.start()
    set_group_niceness(os.getpid(), arguments.group_niceness)
    set_group_niceness(kernel.manager.provisioner.pid, arguments.group_niceness)
    try:
        for _ in range(arguments.reps):  # interleaved: the machine's other load drifts
            for setting in settings:
                rows[setting.name].append(
                    measure(
                        setting,
                        resolved.path,
                        kernel,
                        arguments.window,
                        arguments.n_ctx,
                        arguments.group_niceness,
                    )
                )
                print(f"{setting.name}: {rows[setting.name][-1]}", file=sys.stderr, flush=True)
    finally:
        kernel.close()
    report["settings"] = {
        setting.name: summarize(setting, rows[setting.name], cores) for setting in settings
    }
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
