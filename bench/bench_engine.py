"""Benchmark of the model engine against plain llama.cpp in the same run; prints JSON.

    python bench/bench_engine.py [--model smollm2-135m] [--runs 5] [--max-tokens 256]

- decode: generated tokens per second through client -> worker against
  `llama_cpp.Llama.create_chat_completion(stream=True)` in this process (same file,
  settings and prompt, greedy), runs interleaved; ratio = worker / in-process. The worker
  (llama-cpp-python's server) samples with repeat_penalty 1.1 where `Llama` takes 1.0:
  ratio_same_sampling compares with in-process llama.cpp given 1.1 too; CPU ms per token of
  the worker, the client and in-process llama.cpp say where a difference goes.
- second_turn: time to first token of a second turn that extends a first one of about 1k
  tokens, warm (the worker kept the prefix) against cold (the prefix evicted first).
- cancel: from `stream.cancel()` at the 11th token until the next request's first token,
  less the same after an answer that ended at its 11th token (target: the token in flight
  plus 20 ms); and a cancel while a long prompt is read, less an idle first token. The same
  on a worker without the early stop (AUTOCODER_WORKER_EARLY_STOP=0), in the same run.
- prompt_lookup: decode speed with prompt-lookup speculative decoding against none, on a
  request that repeats code from the prompt (where drafting from the prompt helps).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time

import psutil
from bench_threads import set_group_niceness  # this folder (sys.path[0] when run as a script)

from jupyter_autocoder.config import AutoCoder
from jupyter_autocoder.llm import worker as worker_module
from jupyter_autocoder.llm.hardware import decode_threads
from jupyter_autocoder.llm.resolve import resolve_model
from jupyter_autocoder.llm.supervisor import EngineSupervisor

DECODE_PROMPT = [
    {
        "role": "user",
        "content": (
            "Write a long, detailed tutorial on Python list comprehensions with many examples."
        ),
    }
]

CODE = "\n".join(
    f'def feature_{i}(frame):\n    """Column {i} scaled to unit range."""\n'
    f"    column = frame['c{i}']\n    return (column - column.min()) / (column.max() - "
    "column.min())\n"
    for i in range(24)
)
FIRST_TURN = [
    {"role": "system", "content": "You are a careful Python assistant."},
    {
        "role": "user",
        "content": f"Here is my module:\n```python\n{CODE}\n```\nWhat does feature_3 return?",
    },
]
EDIT_REQUEST = [
    {
        "role": "user",
        "content": (
            f"```python\n{CODE[:1500]}\n```\nRepeat this code exactly, renaming frame to df."
        ),
    }
]


def decode_rate(pieces_at: list[float]) -> float:
    """Tokens per second after the first token (prompt processing excluded)."""
    if len(pieces_at) < 2:
        return 0.0
    return (len(pieces_at) - 1) / (pieces_at[-1] - pieces_at[0])


def worker_run(client, messages, max_tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    stamps = []
    with client.stream_chat(messages, max_tokens=max_tokens, temperature=0) as stream:
        for _ in stream:
            stamps.append(time.perf_counter())
    return decode_rate(stamps), stamps[0] - started, len(stamps)


# llama-cpp-python's server samples with repeat_penalty 1.1 unless a request says otherwise
# (its `Llama` defaults to 1.0): the penalty runs over the whole vocabulary at every token.
SERVER_REPEAT_PENALTY = 1.1


def inprocess_run(llama, messages, max_tokens: int, **params) -> tuple[float, float, int]:
    started = time.perf_counter()
    stamps = []
    for chunk in llama.create_chat_completion(
        messages, max_tokens=max_tokens, temperature=0, stream=True, **params
    ):
        if chunk["choices"][0]["delta"].get("content"):
            stamps.append(time.perf_counter())
    return decode_rate(stamps), stamps[0] - started, len(stamps)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def bench_decode(client, llama, worker: psutil.Process, runs: int, max_tokens: int) -> dict:
    """Interleaved runs. Where a difference goes: the CPU time each token costs the worker
    and the client (the bench's reading thread) against llama.cpp in this process, and the
    server's default sampling (repeat_penalty 1.1) in this process too: `ratio` compares the
    worker with in-process llama.cpp as it is called by default, `ratio_same_sampling` with
    the same sampling as the worker's."""
    worker_rates, inprocess_rates, penalized_rates = [], [], []
    cpu = {"worker": 0.0, "client": 0.0, "inprocess": 0.0, "inprocess_repeat_penalty": 0.0}
    tokens = {"worker": 0, "inprocess": 0, "inprocess_repeat_penalty": 0}
    worker_run(client, DECODE_PROMPT, 16)  # warm both
    inprocess_run(llama, DECODE_PROMPT, 16)
    for _ in range(runs):
        worker_before, client_before = cpu_seconds(worker), time.thread_time()
        rate, _, count = worker_run(client, DECODE_PROMPT, max_tokens)
        cpu["worker"] += cpu_seconds(worker) - worker_before
        cpu["client"] += time.thread_time() - client_before
        worker_rates.append(rate)
        tokens["worker"] += count
        before = time.process_time()
        rate, _, count = inprocess_run(llama, DECODE_PROMPT, max_tokens)
        cpu["inprocess"] += time.process_time() - before
        inprocess_rates.append(rate)
        tokens["inprocess"] += count
        before = time.process_time()
        rate, _, count = inprocess_run(
            llama, DECODE_PROMPT, max_tokens, repeat_penalty=SERVER_REPEAT_PENALTY
        )
        cpu["inprocess_repeat_penalty"] += time.process_time() - before
        penalized_rates.append(rate)
        tokens["inprocess_repeat_penalty"] += count
    worker_rate = statistics.median(worker_rates)
    inprocess = statistics.median(inprocess_rates)
    per_token = {
        "worker": cpu["worker"] / tokens["worker"],
        "client": cpu["client"] / tokens["worker"],
        "inprocess": cpu["inprocess"] / tokens["inprocess"],
        "inprocess_repeat_penalty": (
            cpu["inprocess_repeat_penalty"] / tokens["inprocess_repeat_penalty"]
        ),
    }
    ratios = sorted(w / i for w, i in zip(worker_rates, inprocess_rates))
    penalized = statistics.median(penalized_rates)
    same_sampling = sorted(w / i for w, i in zip(worker_rates, penalized_rates))
    return {
        "worker_tokens_per_s": round(worker_rate, 1),
        "inprocess_tokens_per_s": round(inprocess, 1),
        "ratio": round(worker_rate / inprocess, 3),
        "pair_ratios": [round(ratio, 3) for ratio in ratios],
        "inprocess_repeat_penalty_tokens_per_s": round(penalized, 1),
        "repeat_penalty_cost": round(1 - penalized / inprocess, 3),
        "ratio_same_sampling": round(worker_rate / penalized, 3),
        "pair_ratios_same_sampling": [round(ratio, 3) for ratio in same_sampling],
        "target_ratio": 0.95,
        "cpu_ms_per_token": {name: round(1000 * value, 2) for name, value in per_token.items()},
        # What serving costs beyond the same computation in this process.
        "serving_cpu_ms_per_token": round(
            1000
            * (per_token["worker"] + per_token["client"] - per_token["inprocess_repeat_penalty"]),
            2,
        ),
        "runs": runs,
        "max_tokens": max_tokens,
    }


def bench_second_turn(client, runs: int) -> dict:
    first_answer = client.chat(FIRST_TURN, max_tokens=48, temperature=0)
    second_turn = FIRST_TURN + [
        {"role": "assistant", "content": first_answer},
        {"role": "user", "content": "And feature_7?"},
    ]
    warm, cold = [], []
    for _ in range(runs):
        client.chat(
            FIRST_TURN, max_tokens=48, temperature=0
        )  # the first turn, as a user would have it
        warm.append(worker_run(client, second_turn, 1)[1])
        client.chat(
            [{"role": "user", "content": "Unrelated: say hi."}], max_tokens=1
        )  # evict the prefix
        cold.append(worker_run(client, second_turn, 1)[1])
    prompt_tokens = len(json.dumps(second_turn)) // 4
    warm_s, cold_s = statistics.median(warm), statistics.median(cold)
    return {
        "context_tokens_approx": prompt_tokens,
        "warm_first_token_s": round(warm_s, 4),
        "cold_first_token_s": round(cold_s, 4),
        "ratio": round(warm_s / cold_s, 3),
        "target_ratio_at_most": 0.3,
    }


def first_token_after(client, messages, since: float) -> float:
    """Seconds from `since` until the first token of `messages`."""
    with client.stream_chat(messages, max_tokens=1, temperature=0) as stream:
        for _ in stream:
            return time.perf_counter() - since
    return time.perf_counter() - since


def bench_cancel(client, runs: int, token_s: float) -> dict:
    """A cancel, against the same requests without one: after a long answer ended by
    max_tokens at its 11th token (the worker's cache then holds the same tokens), the next
    request's first token; after a cancel at the 11th token, the time from the cancel to it.
    The difference is what stopping costs. Also a cancel while a long prompt is read."""
    tiny = [{"role": "user", "content": "Say yes."}]
    long = [{"role": "user", "content": "Write a very long essay about the history of computing."}]
    after_end, after_cancel, after_prompt_cancel, idle = [], [], [], []
    for run in range(runs):
        with client.stream_chat(long, max_tokens=11, temperature=0) as stream:
            list(stream)
        after_end.append(first_token_after(client, tiny, time.perf_counter()))
        with client.stream_chat(long, max_tokens=2000, temperature=0) as stream:
            for index, _ in enumerate(stream):
                if index == 10:
                    cancelled_at = time.perf_counter()
                    stream.cancel()
        after_cancel.append(first_token_after(client, tiny, cancelled_at))
        # A cold prompt of about 1k tokens, cancelled while it is read.
        content = f"Run {run} at {time.time()}.\n{FIRST_TURN[1]['content']}"
        fresh = [{"role": "user", "content": content}]
        stream = client.stream_chat(fresh, max_tokens=8, temperature=0)
        reader = threading.Thread(target=lambda: list(stream), daemon=True)  # noqa: B023 - joined in this iteration
        reader.start()
        time.sleep(0.3)
        cancelled_at = time.perf_counter()
        stream.cancel()
        after_prompt_cancel.append(first_token_after(client, tiny, cancelled_at))
        reader.join()
        client.chat([{"role": "user", "content": "Say no."}], max_tokens=1)
        idle.append(first_token_after(client, tiny, time.perf_counter()))
    net = statistics.median(after_cancel) - statistics.median(after_end)
    in_prompt = statistics.median(after_prompt_cancel) - statistics.median(idle)
    return {
        "cancel_to_next_first_token_s": round(statistics.median(after_cancel), 4),
        "end_to_next_first_token_s": round(statistics.median(after_end), 4),
        "cancel_to_idle_s": round(max(net, 0.0), 4),
        "one_token_s": round(token_s, 4),
        "target_s": round(token_s + 0.02, 4),  # the token in flight, and a small constant
        "cancel_in_prompt_to_idle_s": round(max(in_prompt, 0.0), 4),
        "runs": runs,
    }


def bench_cancel_without_early_stop(
    path: str, n_ctx: int, threads: int, runs: int, token_s: float, niceness: int | None
) -> dict:
    """The same cancels on a worker that neither stops at a disconnect nor reads prompts in
    parts (llama-cpp-python's server with the prefetching stream alone)."""
    os.environ[worker_module.EARLY_STOP_VARIABLE] = "0"
    try:
        engine = EngineSupervisor(
            AutoCoder(
                model=path,
                n_ctx=n_ctx,
                n_gpu_layers=0,
                engine_url="",
                n_threads=threads,
                n_threads_batch=threads,
            )
        )
        engine.start()
    finally:
        del os.environ[worker_module.EARLY_STOP_VARIABLE]
    set_group_niceness(engine.status()["pid"], niceness)
    try:
        with engine.client() as client:
            worker_run(client, DECODE_PROMPT, 16)
            return bench_cancel(client, runs, token_s)
    finally:
        engine.stop()


def bench_prompt_parts(llama, runs: int) -> dict:
    """Prompt speed in this process when a 1k-token prompt is read in parts (as the worker
    reads it, to stop between parts: worker.PROMPT_PART) against one call, interleaved."""
    tokens = llama.tokenize(CODE.encode())[:1000]
    sizes = (len(tokens), 512, 256, 128)

    def rate(size: int) -> float:
        llama.reset()
        started = time.perf_counter()
        for start in range(0, len(tokens), size):
            llama.eval(tokens[start : start + size])
        return len(tokens) / (time.perf_counter() - started)

    rate(256)  # warm
    rates: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(runs):
        for size in sizes:
            rates[size].append(rate(size))
    whole = statistics.median(rates[len(tokens)])
    return {
        "prompt_tokens": len(tokens),
        "tokens_per_s": {str(size): round(statistics.median(rates[size]), 1) for size in sizes},
        "against_one_call": {
            str(size): round(statistics.median(rates[size]) / whole, 3) for size in sizes
        },
        "worker_part": worker_module.PROMPT_PART,
    }


def bench_prompt_lookup(path: str, n_ctx: int, runs: int, max_tokens: int) -> dict:
    rates = {}
    for draft in ("none", "prompt-lookup"):
        engine = EngineSupervisor(
            AutoCoder(model=path, n_ctx=n_ctx, n_gpu_layers=0, draft=draft, engine_url="")
        )
        engine.start()
        try:
            with engine.client() as client:
                worker_run(client, EDIT_REQUEST, 8)
                rates[draft] = statistics.median(
                    worker_run(client, EDIT_REQUEST, max_tokens)[0] for _ in range(runs)
                )
        finally:
            engine.stop()
    return {
        "none_tokens_per_s": round(rates["none"], 1),
        "prompt_lookup_tokens_per_s": round(rates["prompt-lookup"], 1),
        "speedup": round(rates["prompt-lookup"] / rates["none"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--skip-prompt-lookup", action="store_true")
    parser.add_argument(
        "--group-niceness",
        type=int,
        default=None,
        help="Linux: the autogroup niceness of the bench and its workers (see bench_threads.py)",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="decode and batch threads (default: the worker's)"
    )
    parser.add_argument(
        "--sections",
        default="decode,second_turn,cancel,prompt_parts",
        help="what to measure besides prompt lookup: decode, second_turn, cancel, prompt_parts",
    )
    arguments = parser.parse_args()
    sections = set(arguments.sections.split(","))

    import llama_cpp

    resolved = resolve_model(arguments.model, download=False)
    threads = arguments.threads or decode_threads()
    engine = EngineSupervisor(
        AutoCoder(
            model=resolved.path,
            n_ctx=arguments.n_ctx,
            n_gpu_layers=0,
            engine_url="",
            n_threads=threads,
            n_threads_batch=threads,
        )
    )
    engine.start()
    set_group_niceness(os.getpid(), arguments.group_niceness)
    set_group_niceness(engine.status()["pid"], arguments.group_niceness)
    # The same settings as the worker's defaults (hardware.decode_threads, llama-cpp-python's
    # batch).
    llama = llama_cpp.Llama(
        resolved.path,
        n_ctx=arguments.n_ctx,
        n_gpu_layers=0,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    report = {
        "model": resolved.name,
        "path": resolved.path,
        "device": "cpu",
        "threads": threads,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "gpu_offload_supported": bool(llama_cpp.llama_supports_gpu_offload()),
    }
    try:
        with engine.client() as client:
            worker = psutil.Process(engine.status()["pid"])
            if sections & {"decode", "cancel"}:  # the cancel's target is a token's time
                report["decode"] = bench_decode(
                    client, llama, worker, arguments.runs, arguments.max_tokens
                )
            if "second_turn" in sections:
                report["second_turn"] = bench_second_turn(client, arguments.runs)
            if "cancel" in sections:
                token_s = 1 / report["decode"]["worker_tokens_per_s"]
                report["cancel"] = bench_cancel(client, arguments.runs, token_s)
        if "prompt_parts" in sections:
            report["prompt_parts"] = bench_prompt_parts(llama, arguments.runs)
        if "cancel" in sections:
            report["cancel_without_early_stop"] = bench_cancel_without_early_stop(
                resolved.path,
                arguments.n_ctx,
                threads,
                arguments.runs,
                token_s,
                arguments.group_niceness,
            )
    finally:
        engine.stop()
        llama.close()
    if not arguments.skip_prompt_lookup:
        report["prompt_lookup"] = bench_prompt_lookup(
            resolved.path, arguments.n_ctx, arguments.runs, arguments.max_tokens
        )
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
