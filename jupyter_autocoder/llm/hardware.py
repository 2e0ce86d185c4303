"""What this machine offers a model: GPU memory, RAM, and how many layers to offload.

Nothing here imports llama.cpp: the server process stays light, and the worker, which has
llama.cpp loaded anyway, says whether its build can offload.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from dataclasses import dataclass

import psutil

# Room beyond the weights for the KV cache, scratch buffers and the runtime.
OVERHEAD_FACTOR = 1.15
OVERHEAD_BYTES = 600_000_000


@dataclass(frozen=True)
class GPU:
    kind: str  # cuda, metal
    name: str
    total_bytes: int
    free_bytes: int


def detect_gpu() -> GPU | None:
    """The first NVIDIA GPU (through nvidia-smi), or Apple silicon's unified memory."""
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        total = psutil.virtual_memory().total
        # Metal may use about three quarters of unified memory by default.
        return GPU(
            "metal", "Apple GPU", int(total * 0.75), int(psutil.virtual_memory().available * 0.75)
        )
    nvidia_smi = shutil.which("nvidia-smi")
    if not nvidia_smi:
        return None
    try:
        output = subprocess.run(
            [
                nvidia_smi,
                "--query-gpu=name,memory.total,memory.free",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    first = output.strip().splitlines()[0:1]
    if not first:
        return None
    try:
        name, total_mib, free_mib = (part.strip() for part in first[0].split(","))
        return GPU("cuda", name, int(total_mib) * 2**20, int(free_mib) * 2**20)
    except ValueError:
        return None


def decode_threads() -> int:
    """Threads for generating tokens and for reading prompts: one per physical core but one.

    The core left over keeps both usable while the user's own cell computes. llama.cpp's
    threads meet at a barrier for every operation, spinning (OpenMP's default): with a
    thread on every core, one that loses its core stalls them all. Measured on two cores
    (bench/bench_threads.py, a CPU-bound cell in a real kernel against idle, one run per
    model): a thread per core fell from 64 to 4.9 tokens/s (smollm2-135m) and from 23 to 0.2
    (qwen2.5-coder-1.5b); all but one kept 0.83 of its idle speed, which was 99 against 64
    (smollm2) and 22 against 23 (qwen). Passive waits (OMP_WAIT_POLICY=PASSIVE) kept the
    speed under load too, but lost 40-60% of it idle (the README's settings section).
    """
    physical = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    return max(1, physical - 1)


def ram_bytes() -> tuple[int, int]:
    """(total, available) RAM."""
    memory = psutil.virtual_memory()
    return memory.total, memory.available


def needed_bytes(model_bytes: int) -> int:
    return int(model_bytes * OVERHEAD_FACTOR) + OVERHEAD_BYTES


def memory_budget(gpu: GPU | None = None) -> tuple[int, str]:
    """Bytes a model may take, and where: the GPU's memory where there is one, else RAM."""
    if gpu is not None:
        return gpu.total_bytes, f"{gpu.kind} ({gpu.name})"
    total, available = ram_bytes()
    return max(available, int(total * 0.6)), "RAM"


def plan_gpu_layers(
    requested: int, model_bytes: int, n_layers: int, gpu: GPU | None, supports_offload: bool
) -> int:
    """Layers to offload: all when the model fits the GPU's free memory, a share otherwise.

    `requested` is the setting: -2 decides here, -1 means all, n >= 0 is taken as given.
    """
    if requested != -2:
        return requested
    if gpu is None or not supports_offload or n_layers <= 0:
        return 0
    if needed_bytes(model_bytes) <= gpu.free_bytes:
        return -1
    usable = max(gpu.free_bytes - OVERHEAD_BYTES, 0) / OVERHEAD_FACTOR
    return max(0, min(n_layers, int(n_layers * usable / max(model_bytes, 1))))
