"""The GPU check: synthetic models of the real shapes, served by the real worker with
automatic GPU layers, against plain llama.cpp in this process; prints JSON.

    python bench/gpu_check.py [--shapes autocoder-s-6.7b,autocoder-33b] [--quant Q4_K_M]
        [--layers N] [--dir DIR] [--tokenizer DONOR.gguf] [--max-tokens 256] [--runs 3]
        [--cpu-smoke] [--out FILE]

For each shape: the layers the worker put on the GPU (its status, as `%autocoder status`
and the panel read it); first-token latency (the whole time of a streamed request for one
token on a short new prompt); decode tokens/s after the first token, (N - 1) / (time of a
request for N tokens - time of one for 1); the tokens 4 concurrent streams get per second
together; prompt processing tokens/s on a 2k-token prompt; the same single-stream figures
from `llama_cpp.Llama` in this process, loaded at the same time, runs interleaved; and
decode speed as a share of the memory-bandwidth bound: (weight bytes one token reads) /
(the card's bandwidth), the bandwidth as stated (--bandwidth-gbs, H200: 4800 GB/s) and as
measured here by a device-to-device copy (PyTorch) or, on the CPU, NumPy copies.

Every request biases the end tokens away (bench/synth_gguf.py no_end_bias), so that each
run decodes exactly --max-tokens tokens. --cpu-smoke: n_gpu_layers 0, 2 layers per shape,
fewer tokens; it checks the script, not the speed of anything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for bench/

import httpx  # noqa: E402

from bench.synth_gguf import (  # noqa: E402
    SHAPES,
    bytes_read_per_token,
    no_end_bias,
    write_model,
)
from jupyter_autocoder.config import AutoCoder  # noqa: E402
from jupyter_autocoder.llm.hardware import decode_threads, detect_gpu  # noqa: E402
from jupyter_autocoder.llm.supervisor import EngineSupervisor  # noqa: E402

H200_BANDWIDTH_GBS = 4800.0  # the vendor's datasheet figure for the H200's HBM3e
GOAL_SHARE = 0.60  # decode at >= 60% of the bandwidth bound, for the 6.7B shape
N_CTX = 4096
PROMPT_TOKENS = 2048
WORDS = (
    "def return value table index column frame model layer token stream memory device "
    "kernel thread buffer matrix vector weight bias cache prompt decode batch"
).split()


def short_prompt() -> list[dict[str, str]]:
    """A short prompt that no earlier request began with (no reuse of a cached prefix)."""
    return [{"role": "user", "content": f"{uuid.uuid4().hex} Write a long story."}]


def long_prompt(llama_vocab: Any, tokens: int = PROMPT_TOKENS) -> list[dict[str, str]]:
    """A prompt of about `tokens` tokens of this model's tokenizer, new each time."""
    words = [uuid.uuid4().hex]
    while len(llama_vocab.tokenize(" ".join(words).encode(), add_bos=False)) < tokens:
        words.extend(WORDS[(len(words) + i) % len(WORDS)] for i in range(16))
    return [{"role": "user", "content": " ".join(words)}]


def decode_rate(one_token_s: float, many_tokens_s: float, tokens: int) -> float:
    """Tokens per second after the first: from the whole time of a request for `tokens`
    and of one for a single token, with prompts of the same length. Every run decodes
    exactly its tokens (the end tokens are biased away). Stamping streamed chunks instead
    would miscount: noise text is often held back (a partial UTF-8 character, a possible
    stop string) and comes in bursts."""
    spent = many_tokens_s - one_token_s
    return (tokens - 1) / spent if spent > 0 else 0.0


# --- the two sides: the worker, and plain llama.cpp in this process --------------------


class WorkerSide:
    """The real worker through the supervisor, with automatic GPU layers."""

    def __init__(self, path: str, n_gpu_layers: int):
        self.bias = no_end_bias(path)
        self.engine = EngineSupervisor(
            AutoCoder(model=path, n_ctx=N_CTX, n_gpu_layers=n_gpu_layers, engine_url="")
        )
        self.engine.start()
        self.client = self.engine.client()

    def stream(self, messages: list, tokens: int, client: Any = None) -> dict[str, float]:
        """A streamed request, as the magic and the panel make them: its whole time, and
        the time to its first text."""
        started = time.perf_counter()
        first = None
        with (client or self.client).stream_chat(
            messages, max_tokens=tokens, temperature=0, logit_bias=self.bias
        ) as stream:
            for _ in stream:
                first = first or time.perf_counter()
        if stream.finish_reason != "length":
            raise RuntimeError(f"a run ended early ({stream.finish_reason}): the bias failed")
        ended = time.perf_counter()
        return {"seconds": ended - started, "first_text_s": (first or ended) - started}

    def prompt(self, messages: list) -> dict[str, float]:
        """Prompt processing: a non-streamed request for 1 token, timed, with its usage."""
        engine = self.engine
        body = {
            "model": engine.model_name,
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0,
            "logit_bias": self.bias,
        }
        started = time.perf_counter()
        response = httpx.post(
            f"{engine.base_url}/chat/completions",
            json=body,
            timeout=600,
            headers={"Authorization": f"Bearer {engine.api_key}"},
            trust_env=False,
        )
        seconds = time.perf_counter() - started
        response.raise_for_status()
        tokens = response.json()["usage"]["prompt_tokens"]
        return {"prompt_tokens": tokens, "tokens_per_s": tokens / seconds}

    def concurrent(self, streams: int, tokens: int) -> dict[str, Any]:
        """`streams` clients at once: the tokens all of them got per second of wall time."""
        results: list[dict[str, float]] = []
        errors: list[BaseException] = []

        def one() -> None:
            try:
                with self.engine.client() as client:
                    results.append(self.stream(short_prompt(), tokens, client))
            except BaseException as error:  # raised below, in the caller's thread
                errors.append(error)

        threads = [threading.Thread(target=one) for _ in range(streams)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        if errors:
            raise errors[0]
        return {
            "streams": streams,
            "aggregate_tokens_per_s": round(streams * tokens / wall, 2),
            "first_text_s_each": sorted(round(r["first_text_s"], 3) for r in results),
            "seconds_each": sorted(round(r["seconds"], 2) for r in results),
            "wall_s": round(wall, 2),
        }

    def status(self) -> dict[str, Any]:
        status = self.engine.status()
        return {
            "status": {
                key: status.get(key)
                for key in ("device", "n_gpu_layers", "n_layers", "load_seconds", "n_ctx")
            },
            "status_line": _status_line(status),
        }

    def close(self) -> None:
        self.client.close()
        self.engine.stop()


class InProcessSide:
    """`llama_cpp.Llama` in this process, with the worker's settings and GPU layers."""

    def __init__(self, path: str, n_gpu_layers: int):
        import llama_cpp

        self.bias = {int(token): value for token, value in no_end_bias(path).items()}
        started = time.perf_counter()
        # The worker's settings: a thread per physical core, llama-cpp-python's batch.
        self.llama = llama_cpp.Llama(
            path,
            n_ctx=N_CTX,
            n_gpu_layers=n_gpu_layers,
            n_batch=512,
            n_threads=decode_threads(),
            verbose=False,
        )
        self.load_seconds = round(time.perf_counter() - started, 2)

    def stream(self, messages: list, tokens: int) -> dict[str, float]:
        started = time.perf_counter()
        first = None
        for chunk in self.llama.create_chat_completion(
            messages, max_tokens=tokens, temperature=0, stream=True, logit_bias=self.bias
        ):
            choice = chunk["choices"][0]
            if choice["delta"].get("content"):
                first = first or time.perf_counter()
            if choice.get("finish_reason") not in (None, "length"):
                raise RuntimeError("a run ended early: the end bias failed")
        ended = time.perf_counter()
        return {"seconds": ended - started, "first_text_s": (first or ended) - started}

    def prompt(self, messages: list) -> dict[str, float]:
        started = time.perf_counter()
        answer = self.llama.create_chat_completion(
            messages, max_tokens=1, temperature=0, logit_bias=self.bias
        )
        tokens = answer["usage"]["prompt_tokens"]
        return {"prompt_tokens": tokens, "tokens_per_s": tokens / (time.perf_counter() - started)}

    def close(self) -> None:
        self.llama.close()


def _status_line(status: dict) -> str | None:
    """What `%autocoder status` prints about the model (None where IPython is missing,
    which the magic's package needs)."""
    try:
        from jupyter_autocoder.magic.engine import describe_local
    except ImportError:
        return None
    return describe_local(status)


def _summary(
    ones: list[dict], manys: list[dict], prompts: list[dict], tokens: int
) -> dict[str, Any]:
    one = statistics.median(run["seconds"] for run in ones)
    many = statistics.median(run["seconds"] for run in manys)
    return {
        "decode_tokens_per_s": round(decode_rate(one, many, tokens), 2),
        "seconds_1_token_runs": [round(run["seconds"], 3) for run in ones],
        f"seconds_{tokens}_tokens_runs": [round(run["seconds"], 3) for run in manys],
        "first_token_s": round(one, 4),
        "prompt_tokens": prompts[0]["prompt_tokens"],
        "prompt_tokens_per_s": round(statistics.median(p["tokens_per_s"] for p in prompts), 1),
    }


def measure(
    path: str, requested_layers: int, layers: int, arguments: argparse.Namespace, vocab: Any
) -> tuple[dict, dict]:
    """Both sides loaded at once, their runs interleaved (a change of load on the machine
    then hits both alike); then the worker's concurrent streams."""
    worker = WorkerSide(path, requested_layers)
    inprocess = None
    try:
        facts = worker.status()
        offloaded = facts["status"]["n_gpu_layers"] or 0
        # plain llama.cpp gets the layers the worker chose: all (-1) or that many
        same_layers = -1 if offloaded >= layers else offloaded
        inprocess = InProcessSide(path, same_layers)
        sides = {"worker": worker, "inprocess": inprocess}
        ones: dict[str, list] = {name: [] for name in sides}
        manys: dict[str, list] = {name: [] for name in sides}
        prompts: dict[str, list] = {name: [] for name in sides}
        for side in sides.values():
            side.stream(short_prompt(), 8)  # warm
        for _ in range(arguments.runs):
            for name, side in sides.items():
                ones[name].append(side.stream(short_prompt(), 1))
                manys[name].append(side.stream(short_prompt(), arguments.max_tokens))
        for _ in range(arguments.runs):
            messages = long_prompt(vocab, arguments.prompt_tokens)
            for name, side in sides.items():
                # the same text, less its first word, which makes it new to each side's cache
                prompts[name].append(
                    side.prompt([{"role": "user", "content": f"{name} {messages[0]['content']}"}])
                )
        summary = {
            name: _summary(ones[name], manys[name], prompts[name], arguments.max_tokens)
            for name in sides
        }
        worker_report = {
            **facts,
            **summary["worker"],
            "concurrent_4": worker.concurrent(4, arguments.max_tokens),
        }
        inprocess_report = {
            "n_gpu_layers": same_layers,
            "load_seconds": inprocess.load_seconds,
            **summary["inprocess"],
        }
        return worker_report, inprocess_report
    finally:
        if inprocess is not None:
            inprocess.close()
        worker.close()


# --- the bandwidth bound --------------------------------------------------------------


def measured_bandwidth(cpu: bool) -> dict[str, Any]:
    """Bytes per second of a large copy (read and write counted), on the GPU or in RAM."""
    if not cpu:
        try:
            import torch

            if torch.cuda.is_available():
                source = torch.empty(2 * 2**30, dtype=torch.uint8, device="cuda")
                target = torch.empty_like(source)
                for _ in range(3):
                    target.copy_(source)
                torch.cuda.synchronize()
                started = time.perf_counter()
                for _ in range(10):
                    target.copy_(source)
                torch.cuda.synchronize()
                seconds = (time.perf_counter() - started) / 10
                del source, target
                torch.cuda.empty_cache()
                return {
                    "gbs": round(2 * 2 * 2**30 / seconds / 1e9, 1),
                    "how": "torch device-to-device copy of 2 GiB, read + write",
                }
        except ImportError:
            pass
        return {"gbs": None, "how": "not measured: no PyTorch with CUDA"}
    import numpy as np

    # One thread per physical core, each copying its own 128 MiB (NumPy lets go of the GIL).
    threads = decode_threads()
    pairs = [
        (np.ones(128 * 2**20, dtype=np.uint8), np.empty(128 * 2**20, dtype=np.uint8))
        for _ in range(threads)
    ]

    def copy_all() -> None:
        workers = [
            threading.Thread(target=np.copyto, args=(target, source)) for source, target in pairs
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    copy_all()
    started = time.perf_counter()
    for _ in range(5):
        copy_all()
    seconds = (time.perf_counter() - started) / 5
    return {
        "gbs": round(2 * threads * 128 * 2**20 / seconds / 1e9, 1),
        "how": f"numpy copies of 128 MiB in {threads} threads, read + write",
    }


def bound(decode_tps: float, per_token: int, gbs: float | None) -> dict[str, Any] | None:
    if not gbs:
        return None
    ceiling = gbs * 1e9 / per_token
    return {
        "bandwidth_gbs": gbs,
        "bound_tokens_per_s": round(ceiling, 1),
        "share": round(decode_tps / ceiling, 3),
    }


# --- main -------------------------------------------------------------------------------


def check_shape(name: str, arguments: argparse.Namespace, bandwidth: dict) -> dict[str, Any]:
    import llama_cpp

    shape = SHAPES[name]
    layers = arguments.layers or (2 if arguments.cpu_smoke else shape.n_layers)
    path = Path(arguments.dir) / f"{name}-{arguments.quant}-{layers}l.gguf"
    started = time.perf_counter()
    if not path.exists():
        write_model(path, name, arguments.quant, layers=layers, tokenizer=arguments.tokenizer)
    write_seconds = time.perf_counter() - started
    file_bytes = path.stat().st_size
    per_token = bytes_read_per_token(replace(shape, n_layers=layers), arguments.quant)
    vocab = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    requested = 0 if arguments.cpu_smoke else -2  # -2: the worker decides from GPU memory
    try:
        worker, inprocess = measure(str(path), requested, layers, arguments, vocab)
    finally:
        vocab.close()
        if not arguments.keep:
            path.unlink()
    decode = worker["decode_tokens_per_s"]
    return {
        "shape": name,
        "quant": arguments.quant,
        "layers": layers,
        "file_bytes": file_bytes,
        "write_seconds": round(write_seconds, 1),
        "bytes_read_per_token": per_token,
        "worker": worker,
        "inprocess": inprocess,
        "decode_ratio_worker_to_inprocess": round(decode / inprocess["decode_tokens_per_s"], 3),
        "bandwidth_bound": {
            "stated": bound(
                decode, per_token, None if arguments.cpu_smoke else arguments.bandwidth_gbs
            ),
            "measured": bound(decode, per_token, bandwidth.get("gbs")),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="autocoder-s-6.7b,autocoder-33b")
    parser.add_argument("--quant", default="Q4_K_M", choices=["Q4_K_M", "Q8_0"])
    parser.add_argument("--layers", type=int, default=None, help="default: the shape's own")
    parser.add_argument("--dir", default="/tmp/autocoder-synthetic")
    parser.add_argument("--tokenizer", default=None, help="donor GGUF; default: SmolLM2's")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument(
        "--prompt-tokens",
        type=int,
        default=PROMPT_TOKENS,
        help="the prompt-processing prompt's length",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bandwidth-gbs", type=float, default=H200_BANDWIDTH_GBS)
    parser.add_argument(
        "--cpu-smoke", action="store_true", help="no GPU: 0 layers offloaded, 2 layers per shape"
    )
    parser.add_argument("--keep", action="store_true", help="keep the synthetic files")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    arguments = parser.parse_args(argv)

    import llama_cpp

    Path(arguments.dir).mkdir(parents=True, exist_ok=True)
    gpu = detect_gpu()
    bandwidth = measured_bandwidth(arguments.cpu_smoke)
    report: dict[str, Any] = {
        "mode": "cpu-smoke" if arguments.cpu_smoke else "gpu",
        "llama_cpp_python": llama_cpp.__version__,
        "supports_gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "gpu": {"name": gpu.name, "total_bytes": gpu.total_bytes} if gpu else None,
        "cpu_threads": decode_threads(),
        "measured_bandwidth": bandwidth,
        "max_tokens": arguments.max_tokens,
        "runs": arguments.runs,
        "n_ctx": N_CTX,
        "models": [],
    }
    if not arguments.cpu_smoke and not report["supports_gpu_offload"]:
        report["error"] = "this llama-cpp-python cannot offload: install the CUDA build"
    else:
        for name in filter(None, arguments.shapes.split(",")):
            report["models"].append(check_shape(name, arguments, bandwidth))
    goal = next((m for m in report["models"] if m["shape"] == "autocoder-s-6.7b"), None)
    stated = goal and goal["bandwidth_bound"]["stated"]
    report["goal"] = {
        "decode_share_of_bound_at_least": GOAL_SHARE,
        "shape": "autocoder-s-6.7b",
        "met": (stated["share"] >= GOAL_SHARE) if stated else None,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if arguments.out:
        Path(arguments.out).write_text(text + "\n")
    return 0 if "error" not in report else 1


if __name__ == "__main__":
    sys.exit(main())
