"""How well `auto`'s speed estimate predicts decode speed here; prints JSON.

    python bench/bench_auto.py [--model qwen2.5-coder-1.5b] [--runs 3] [--max-tokens 128]

In one run: the memory-bandwidth probe (`bandwidth.measure_cpu_bandwidth`, fresh, not the
cached figure) and the estimate it gives for the model (`choice.estimate` on this machine),
then the decode speed measured in this process with llama.cpp (same file, the worker's
thread count, greedy; tokens per second after the first token), then the probe once more.
`ratio` = estimate / measured (median of the runs), the target within 30% (0.7-1.3). The
machine's load average is recorded at the start and the end: the probe and the decode share
the cores with whatever else runs. The probe keeps its best pass; `ratio_to_best_window`
compares with the decode's fastest 32-token window, its counterpart on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from jupyter_autocoder.llm.bandwidth import GB_PER_S, machine_fingerprint, measure_cpu_bandwidth
from jupyter_autocoder.llm.catalogue import get_spec
from jupyter_autocoder.llm.choice import Candidate, Machine, estimate
from jupyter_autocoder.llm.hardware import decode_threads, ram_bytes
from jupyter_autocoder.llm.resolve import resolve_model

PROMPT = [{"role": "user", "content": "Write a long tutorial on Python list comprehensions."}]


WINDOW = 32  # tokens


def decode_rates(llama, max_tokens: int) -> tuple[float, float]:
    """Tokens per second after the first token (prompt processing excluded), and in the
    fastest window of WINDOW tokens (the least disturbed by other work on a shared machine,
    as the probe's best pass is)."""
    stamps = []
    answer = llama.create_chat_completion(PROMPT, max_tokens=max_tokens, temperature=0, stream=True)
    for chunk in answer:
        if chunk["choices"][0]["delta"].get("content"):
            stamps.append(time.perf_counter())
    whole = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    windows = [
        (WINDOW - 1) / (stamps[i + WINDOW - 1] - stamps[i]) for i in range(len(stamps) - WINDOW + 1)
    ]
    return whole, max(windows, default=whole)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    arguments = parser.parse_args()

    load_before = os.getloadavg()
    started = time.perf_counter()
    bandwidth = measure_cpu_bandwidth()
    probe_seconds = time.perf_counter() - started
    total, available = ram_bytes()
    machine = Machine(
        cpu_cores=decode_threads(),
        ram_total=total,
        ram_available=available,
        cpu_bandwidth=bandwidth,
    )
    spec = get_spec(arguments.model)
    quant = spec.quantisations[0] if spec.quantisations else None
    guess = estimate(Candidate(spec, quant), machine)

    import llama_cpp

    resolved = resolve_model(arguments.model, download=False)
    llama = llama_cpp.Llama(
        resolved.path, n_ctx=2048, n_gpu_layers=0, n_threads=decode_threads(), verbose=False
    )
    decode_rates(llama, 16)  # warm
    runs = [decode_rates(llama, arguments.max_tokens) for _ in range(arguments.runs)]
    rates = [whole for whole, _ in runs]
    measured = statistics.median(rates)
    best_window = max(best for _, best in runs)
    bandwidth_after = measure_cpu_bandwidth()
    ratio = guess.tokens_per_second / measured
    print(
        json.dumps(
            {
                "model": resolved.name,
                "file_bytes": resolved.size_bytes,
                "machine": machine_fingerprint(),
                "threads": decode_threads(),
                "probe_gb_per_s": round(bandwidth / GB_PER_S, 1),
                "probe_seconds": round(probe_seconds, 3),
                "probe_after_gb_per_s": round(bandwidth_after / GB_PER_S, 1),
                "estimate_tokens_per_s": round(guess.tokens_per_second, 1),
                "measured_tokens_per_s": round(measured, 1),
                "measured_runs": [round(rate, 1) for rate in rates],
                "measured_best_window_tokens_per_s": round(best_window, 1),
                "ratio": round(ratio, 3),
                "ratio_to_best_window": round(guess.tokens_per_second / best_window, 3),
                "target": "0.7-1.3",
                "within_target": 0.7 <= ratio <= 1.3,
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
