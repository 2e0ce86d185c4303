"""How fast this machine reads memory, which bounds how fast a model decodes.

Generating one token reads (nearly) every weight once, so decode speed is about memory
bandwidth divided by the weights' size. The CPU's bandwidth is measured by a quick probe
(a few passes over a buffer larger than any cache, well under a second) and kept in the
cache directory under the machine's fingerprint; a GPU's comes from a table of common cards
and Apple chips, because measuring it would need a GPU library this package does not bring.

Beside the probe, the same cache keeps what real decodes showed: the model worker, after a
completion decoded on the CPU alone, records weights x tokens/s (`DecodeRecorder`), the
rate llama.cpp really read the weights at; `decode_bandwidth` gives the best such figure.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import threading
import time
from pathlib import Path

import psutil

from .hardware import GPU

log = logging.getLogger(__name__)

GB_PER_S = 1_000_000_000

# Larger than the last-level cache of desktop and server chips (32-256 MB), so that the
# probe reads memory, not cache.
PROBE_BUFFER_BYTES = 256 * 2**20
PROBE_PASSES = 5
PROBE_SECONDS = 0.4  # stop early once this much time went into passes

# Peak memory bandwidth of common GPUs, GB/s, by a distinctive part of the name that
# nvidia-smi or Apple reports; the first match wins, so more specific names come first.
GPU_BANDWIDTH_GB_PER_S: tuple[tuple[str, float], ...] = (
    ("H200", 4800),
    ("H100 PCIe", 2000),
    ("H100", 3350),
    ("GH200", 4000),
    ("A100-SXM4-80GB", 2039),
    ("A100 80GB PCIe", 1935),
    ("A100", 1555),
    ("L40S", 864),
    ("L40", 864),
    ("L4", 300),
    ("A40", 696),
    ("A30", 933),
    ("A10G", 600),
    ("A10", 600),
    ("T4", 320),
    ("V100", 900),
    ("RTX 6000 Ada", 960),
    ("RTX A6000", 768),
    ("RTX A5000", 768),
    ("RTX A4000", 448),
    ("RTX 5090", 1792),
    ("RTX 5080", 960),
    ("RTX 5070 Ti", 896),
    ("RTX 5070", 672),
    ("RTX 4090", 1008),
    ("RTX 4080", 717),
    ("RTX 4070 Ti", 504),
    ("RTX 4070", 504),
    ("RTX 4060 Ti", 288),
    ("RTX 4060", 272),
    ("RTX 3090", 936),
    ("RTX 3080 Ti", 912),
    ("RTX 3080", 760),
    ("RTX 3070", 448),
    ("RTX 3060", 360),
    ("RTX 2080 Ti", 616),
    ("RTX 2080", 448),
    ("RTX 2070", 448),
    ("RTX 2060", 336),
    ("Apple M4 Max", 546),
    ("Apple M4 Pro", 273),
    ("Apple M4", 120),
    ("Apple M3 Ultra", 819),
    ("Apple M3 Max", 400),
    ("Apple M3 Pro", 150),
    ("Apple M3", 100),
    ("Apple M2 Ultra", 800),
    ("Apple M2 Max", 400),
    ("Apple M2 Pro", 200),
    ("Apple M2", 100),
    ("Apple M1 Ultra", 800),
    ("Apple M1 Max", 400),
    ("Apple M1 Pro", 200),
    ("Apple M1", 68),
)
# A card not in the table: about the slowest discrete card with enough memory for a 7B
# model (T4, RTX 4060), so that an estimate errs on the slow side.
UNKNOWN_GPU_GB_PER_S = 250.0


def gpu_bandwidth(gpu: GPU) -> tuple[float, str]:
    """(bytes per second, where the figure comes from) for `gpu`."""
    name = gpu.name
    if gpu.kind == "metal" and not name.startswith("Apple M"):
        name = apple_chip() or name
    for part, figure in GPU_BANDWIDTH_GB_PER_S:
        if part.lower() in name.lower():
            return figure * GB_PER_S, f"{figure:.0f} GB/s, the {part}'s specification"
    return UNKNOWN_GPU_GB_PER_S * GB_PER_S, (
        f"{UNKNOWN_GPU_GB_PER_S:.0f} GB/s assumed ({name} is not in the table of known cards)"
    )


def apple_chip() -> str | None:
    """'Apple M2 Pro' and the like, on Apple silicon."""
    try:
        return (
            subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        return None


# --- the CPU -----------------------------------------------------------------------------


def measure_cpu_bandwidth(
    buffer_bytes: int = PROBE_BUFFER_BYTES, threads: int | None = None
) -> float:
    """Bytes per second that this machine's cores read together, the best of a few passes.

    Each of `threads` (one per physical core, as llama.cpp decodes) sums its share of a
    buffer larger than the caches; numpy releases the GIL in the sum, so they run at once.
    The best pass counts: a pass can only be slowed (by other work), never sped up.
    """
    import numpy

    threads = threads or psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    words = numpy.ones(buffer_bytes // 8, dtype=numpy.int64)  # touched, so pages exist
    shares = numpy.array_split(words, threads)
    best = 0.0
    started = time.perf_counter()
    for _ in range(PROBE_PASSES):
        workers = [threading.Thread(target=numpy.add.reduce, args=(share,)) for share in shares]
        begin = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        best = max(best, words.nbytes / (time.perf_counter() - begin))
        if time.perf_counter() - started > PROBE_SECONDS:
            break
    return best


def machine_fingerprint() -> str:
    """What the bandwidth depends on: the CPU model, its cores, the RAM installed."""
    cpu = _cpu_model() or platform.processor() or platform.machine()
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 0
    memory_gib = round(psutil.virtual_memory().total / 2**30)
    return f"{platform.system()} {cpu} {cores} cores {memory_gib} GiB"


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return apple_chip() if platform.system() == "Darwin" else None


_lock = threading.Lock()


def cpu_bandwidth(cache_file: Path | None = None, *, refresh: bool = False) -> float:
    """This machine's CPU memory bandwidth in bytes per second, measured once and cached."""
    cache_file = cache_file or default_cache_file()
    fingerprint = machine_fingerprint()
    with _lock:
        known = _read_cache(cache_file)
        entry = known.get(fingerprint) or {}
        earlier = float(entry.get("bytes_per_second", 0)) if not refresh else 0.0
        if earlier > 0 and not entry.get("busy"):
            return earlier
        busy = machine_busy()
        started = time.perf_counter()
        measured = measure_cpu_bandwidth()
        log.info(
            "memory bandwidth %.1f GB/s (probe %.2f s%s) on %s",
            measured / GB_PER_S,
            time.perf_counter() - started,
            ", busy" if busy else "",
            fingerprint,
        )
        # A figure measured while other work ran is too low: it is kept as the best so far,
        # and measured again next time until a quiet moment.
        best = max(measured, earlier)
        known[fingerprint] = {  # the decodes' figure, if any, stays
            **entry,
            "bytes_per_second": best,
            "measured_at": time.time(),
            "busy": busy,
        }
        _write_cache(cache_file, known)
        return best


def default_cache_file() -> Path:
    from .resolve import cache_dir

    return cache_dir() / "bandwidth.json"


# --- what real decodes show ------------------------------------------------------------------

# A decode shorter than this says too little (its first tokens wait on the sender).
MIN_DECODE_TOKENS = 32
# Weights smaller than this say little of the memory: their per-token cost (sampling, the
# stream) is most of each token's time, and they may sit in a large cache (smollm2-135m,
# 98 MB: 120 tokens/s x 98 MB = 12 GB/s where qwen2.5-coder-1.5b reads 21 on the same cores).
MIN_DECODE_WEIGHT_BYTES = 256 * 2**20
# A figure is written again only when a decode beats it by more than this.
DECODE_RECORD_MARGIN = 1.03


def decode_bandwidth(cache_file: Path | None = None) -> tuple[float, str] | None:
    """(bytes per second, the model it was measured on): the best rate at which a real
    CPU-only decode read its weights on this machine, or None before any."""
    cache_file = cache_file or default_cache_file()
    entry = _read_cache(cache_file).get(machine_fingerprint()) or {}
    decode = entry.get("decode") or {}
    try:
        figure = float(decode.get("bytes_per_second", 0))
    except (TypeError, ValueError):
        return None
    return (figure, str(decode.get("model") or "a model")) if figure > 0 else None


class DecodeRecorder:
    """Records, per machine, the best rate at which decodes of one model read its weights.

    Built by the worker for a model wholly on the CPU; `record` is called once per finished
    completion, off the decode path, and writes the cache file only when the figure beats
    the recorded one by more than DECODE_RECORD_MARGIN: a decode slowed by other work gives
    a lower figure, never a higher one, so the best is kept (as for the probe).
    """

    def __init__(
        self,
        cache_file: Path,
        model: str,
        weight_bytes: int,
        *,
        min_tokens: int = MIN_DECODE_TOKENS,
        min_weight_bytes: int = MIN_DECODE_WEIGHT_BYTES,
    ):
        self.cache_file = cache_file
        self.model = model
        self.weight_bytes = weight_bytes
        self.min_tokens = min_tokens
        self.enabled = weight_bytes >= min_weight_bytes
        self.fingerprint = machine_fingerprint()
        known = decode_bandwidth(cache_file) if self.enabled else None
        self.best = known[0] if known else 0.0

    def record(self, tokens: int, seconds: float) -> float | None:
        """A finished decode of `tokens` tokens after the first, in `seconds`; returns the
        figure written, or None when nothing was."""
        if not self.enabled or tokens < self.min_tokens or seconds <= 0:
            return None
        figure = self.weight_bytes * tokens / seconds
        if figure <= self.best * DECODE_RECORD_MARGIN:
            return None
        with _lock:
            known = _read_cache(self.cache_file)
            entry = known.get(self.fingerprint) or {}
            earlier = (entry.get("decode") or {}).get("bytes_per_second", 0)
            if isinstance(earlier, (int, float)) and figure <= earlier * DECODE_RECORD_MARGIN:
                self.best = max(self.best, float(earlier))  # another worker did better
                return None
            entry["decode"] = {
                "bytes_per_second": figure,
                "model": self.model,
                "tokens_per_second": round(tokens / seconds, 2),
                "measured_at": time.time(),
            }
            known[self.fingerprint] = entry
            _write_cache(self.cache_file, known)
        self.best = figure
        log.info(
            "decodes of %s read the weights at %.1f GB/s on %s",
            self.model,
            figure / GB_PER_S,
            self.fingerprint,
        )
        return figure


def machine_busy() -> bool:
    """More runnable work than cores over the last minute (never on systems without a load
    average)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return load > (psutil.cpu_count() or 1)


def _read_cache(cache_file: Path) -> dict:
    try:
        with open(cache_file, encoding="utf-8") as source:
            known = json.load(source)
        return known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(cache_file: Path, known: dict) -> None:
    """Atomically, and never fatally: a read-only cache only means probing again next time."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(known, indent=1), encoding="utf-8")
        os.replace(partial, cache_file)
    except OSError as error:
        log.info("cannot keep the bandwidth figure in %s: %s", cache_file, error)
