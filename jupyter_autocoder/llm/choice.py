"""Which model `auto` picks on this machine, and why.

The largest AutoCoder that fits the memory **and** decodes at least
`c.AutoCoder.min_tokens_per_second`, a cached one ahead of a download; otherwise
qwen2.5-coder-1.5b, assembled from PyPI; smollm2-135m only as the last resort, with a notice
that says how weak it is. Decode speed is estimated from the weights read per token against
the memory bandwidth: the layers on the GPU at its bandwidth, the others at the CPU's.

Everything the choice depends on (the machine, what is cached, what can be reached) comes in
as data or as callables, so that it is tested on hardware profiles without the hardware.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .bandwidth import GB_PER_S, cpu_bandwidth, decode_bandwidth, gpu_bandwidth
from .catalogue import (
    AUTO_FALLBACK,
    AUTO_PREFERENCE,
    CATALOGUE,
    LAST_RESORT,
    ModelSpec,
    Quantisation,
)
from .hardware import GPU, detect_gpu, needed_bytes, plan_gpu_layers, ram_bytes

log = logging.getLogger(__name__)

# The default speed floor, tokens per second. People read about 4-6 words a second, some
# 6-8 tokens of prose or code; at 8 tokens/s an answer streams about as fast as it is read,
# a typical 300-token answer takes under 40 s and a three-round turn about two minutes.
# Below it the agent is something one waits for, not works with (the 33B on a 2-core CPU:
# about 1 token/s, 17 minutes for a 1,000-token turn).
DEFAULT_MIN_TOKENS_PER_SECOND = 8.0

# Decode speed as a share of "bandwidth / weight bytes", measured with llama.cpp:
# qwen2.5-coder-1.5b on a 2-core CPU (bench/bench_auto.py) read its weights at 0.94 of the
# probe's bandwidth undisturbed, and near 0.6 while other work shared the cores; 0.7 keeps
# the estimate on the low side, where a wrong guess costs least (a smaller, faster model).
# About two thirds of the card's peak is what llama.cpp's CUDA and Metal decode reach for
# 7B-33B models.
CPU_EFFICIENCY = 0.7
GPU_EFFICIENCY = 0.65
# A cost per token besides reading the weights (sampling, the step's own work): it is what
# keeps small models from the speeds bandwidth alone would give (smollm2-135m decodes at
# about 120 tokens/s on the 2-core machine, where its weights alone would allow 200).
PER_TOKEN_SECONDS = 0.003

# What the last resort gives, measured: twelve notebook data-science tasks through
# `%%autocoder --rounds 3`, the same harness and settings for both models.
LAST_RESORT_QUALITY = (
    "it solved 1 of 12 notebook data-science tasks that qwen2.5-coder-1.5b solved 10 of"
)

HUB, PYPI = "the Hugging Face hub", "PyPI"


@dataclass(frozen=True)
class Machine:
    """What the choice needs to know of a machine: given as data in tests."""

    cpu_cores: int
    ram_total: int
    ram_available: int
    cpu_bandwidth: float  # bytes/s the cores read together (the probe)
    gpu: GPU | None = None
    gpu_bandwidth: float = 0.0
    gpu_bandwidth_source: str = ""
    gpu_offload: bool = True  # llama.cpp's build can use the GPU
    # The best rate real CPU-only decodes read their weights at (`bandwidth.decode_bandwidth`),
    # and the model they were of; 0: none recorded, the probe is used.
    cpu_decode_bandwidth: float = 0.0
    cpu_decode_model: str = ""

    @property
    def cpu_read_rate(self) -> float:
        """Bytes/s llama.cpp reads weights at on the CPU: what decodes showed, else the probe
        times CPU_EFFICIENCY.

        A recorded figure is weights x tokens/s of a real decode: it already holds llama.cpp's
        efficiency (so no CPU_EFFICIENCY on top) and its per-token cost, and the estimate
        gives back the measured speed for the model it came from. It comes mostly from a
        smaller model than the candidates (qwen2.5-coder-1.5b decodes where `auto` weighs a
        6.7B): for a larger model that per-token cost is a smaller share of each token, so
        the figure understates its rate a little (errs slow, where a wrong guess costs
        least); it cannot flatter it the way a cache-sized model could, since weights under
        `MIN_DECODE_WEIGHT_BYTES` are never recorded.
        """
        if self.cpu_decode_bandwidth > 0:
            return self.cpu_decode_bandwidth
        return self.cpu_bandwidth * CPU_EFFICIENCY

    @property
    def cpu_bandwidth_source(self) -> str:
        if self.cpu_decode_bandwidth > 0:
            return (
                f"weights read at {self.cpu_decode_bandwidth / GB_PER_S:.0f} GB/s, "
                f"measured from decodes of {self.cpu_decode_model or 'a model'}"
            )
        return f"memory read at {self.cpu_bandwidth / GB_PER_S:.0f} GB/s (probe)"

    @property
    def ram_budget(self) -> int:
        """Bytes a model may take in RAM (as `hardware.memory_budget`)."""
        return max(self.ram_available, int(self.ram_total * 0.6))

    @property
    def usable_gpu(self) -> GPU | None:
        return self.gpu if self.gpu is not None and self.gpu_offload else None

    def describe(self) -> str:
        text = f"{self.cpu_cores} cores, {_gb(self.ram_total)} RAM, {self.cpu_bandwidth_source}"
        if self.gpu is None:
            return text + ", no GPU"
        gpu = f"{self.gpu.name} ({_gb(self.gpu.total_bytes)}, {self.gpu_bandwidth_source})"
        if not self.gpu_offload:
            return (
                f"{text}; GPU {self.gpu.name} unused: llama-cpp-python was built without "
                f'{self.gpu.kind.upper()} (reinstall it with CMAKE_ARGS="-DGGML_'
                f'{self.gpu.kind.upper()}=on" pip install --no-cache-dir llama-cpp-python)'
            )
        return f"{text}; GPU {gpu}"


def detect_machine(gpu: GPU | None = None) -> Machine:
    """This machine, with its CPU bandwidth probed once (cached) and its GPU's from the table."""
    import psutil

    gpu = gpu if gpu is not None else detect_gpu()
    total, available = ram_bytes()
    bandwidth, source = gpu_bandwidth(gpu) if gpu is not None else (0.0, "")
    decoded, decoded_model = decode_bandwidth() or (0.0, "")
    return Machine(
        cpu_cores=psutil.cpu_count(logical=False) or psutil.cpu_count() or 1,
        ram_total=total,
        ram_available=available,
        cpu_bandwidth=cpu_bandwidth(),
        gpu=gpu,
        gpu_bandwidth=bandwidth,
        gpu_bandwidth_source=source,
        gpu_offload=gpu is not None and llama_cpp_can_offload(gpu.kind),
        cpu_decode_bandwidth=decoded,
        cpu_decode_model=decoded_model,
    )


def llama_cpp_can_offload(kind: str) -> bool:
    """Whether the installed llama-cpp-python has a backend for this GPU, from the libraries
    it ships (importing it would load llama.cpp into this process). Unknown layouts count
    as yes: the worker, which loads llama.cpp anyway, has the last word."""
    import importlib.util
    import os

    try:
        found = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        return False
    if found is None or not found.submodule_search_locations:
        return False
    lib = os.path.join(list(found.submodule_search_locations)[0], "lib")
    try:
        names = [name.lower() for name in os.listdir(lib)]
    except OSError:
        return True
    if not any("ggml" in name for name in names):
        return True
    backends = {"cuda": ("cuda",), "metal": ("metal",)}.get(kind, (kind,))
    # A HIP or Vulkan build drives an NVIDIA card too.
    backends += ("vulkan",) if kind == "cuda" else ()
    return any(backend in name for name in names for backend in backends)


@dataclass(frozen=True)
class Candidate:
    """One file `auto` may choose: a model, and its quantisation for a hub model."""

    spec: ModelSpec
    quant: Quantisation | None = None

    @property
    def name(self) -> str:
        return self.spec.name + (f" {self.quant.name}" if self.quant else "")

    @property
    def size_bytes(self) -> int:
        return self.quant.size_bytes if self.quant else self.spec.size_bytes

    @property
    def origin(self) -> str:
        return HUB if self.spec.source == "hub" else PYPI


def auto_candidates() -> list[Candidate]:
    """The AutoCoders, strongest first and each quantisation largest first; then the
    fallback and the last resort."""
    autocoders = [
        Candidate(CATALOGUE[name], quant)
        for name in AUTO_PREFERENCE
        for quant in CATALOGUE[name].quantisations
    ]
    return [*autocoders, Candidate(CATALOGUE[AUTO_FALLBACK]), Candidate(CATALOGUE[LAST_RESORT])]


@dataclass(frozen=True)
class Estimate:
    """How a candidate would run on a machine."""

    tokens_per_second: float
    memory_bytes: int  # weights and room for the KV cache and runtime
    gpu_layers: int
    n_layers: int
    fits: bool

    @property
    def placement(self) -> str:
        if self.gpu_layers <= 0:
            return "on the CPU"
        if self.gpu_layers >= self.n_layers:
            return f"all {self.n_layers} layers on the GPU"
        cpu_layers = self.n_layers - self.gpu_layers
        return f"{self.gpu_layers} of {self.n_layers} layers on the GPU, {cpu_layers} on the CPU"


def estimate(candidate: Candidate, machine: Machine) -> Estimate:
    """Decode speed and memory of `candidate` on `machine`.

    Each token reads every weight once: the layers that fit the GPU (as the worker will
    place them, `plan_gpu_layers`) at the GPU's bandwidth, the rest at the CPU's.
    """
    size = candidate.size_bytes
    n_layers = candidate.spec.n_layers
    memory = needed_bytes(size)
    gpu = machine.usable_gpu
    planned = plan_gpu_layers(-2, size, n_layers, gpu, supports_offload=gpu is not None)
    gpu_layers = n_layers if planned == -1 else planned
    on_gpu = gpu_layers / n_layers if n_layers else 0.0
    if gpu is not None and gpu.kind == "metal":
        fits = memory <= machine.ram_budget  # unified memory: the GPU's share is RAM too
    else:
        fits = memory * (1 - on_gpu) <= machine.ram_budget
    if machine.cpu_decode_bandwidth > 0:  # the per-token cost is in the decodes' figure
        seconds = size * (1 - on_gpu) / machine.cpu_read_rate
    else:
        seconds = PER_TOKEN_SECONDS + size * (1 - on_gpu) / machine.cpu_read_rate
    if on_gpu:
        seconds += size * on_gpu / (machine.gpu_bandwidth * GPU_EFFICIENCY)
    return Estimate(
        tokens_per_second=1 / seconds,
        memory_bytes=memory,
        gpu_layers=gpu_layers,
        n_layers=n_layers,
        fits=fits,
    )


@dataclass
class AutoChoice:
    """What `auto` picked, how it will run, and why; shown by the CLI, the magic and the panel."""

    candidate: Candidate
    estimate: Estimate
    cached: bool
    download_from: str | None  # HUB or PYPI when it must be fetched; None when cached
    reason: str
    machine: str
    min_tokens_per_second: float
    passed_over: list[tuple[str, str]] = field(default_factory=list)
    last_resort: bool = False
    obtainable: bool = True  # False: not here, and it cannot be fetched either

    @property
    def model(self) -> str:
        return self.candidate.spec.name

    @property
    def download_bytes(self) -> int:
        return 0 if self.cached else self.candidate.size_bytes

    def headline(self) -> str:
        """'auto picks X here because ...'."""
        if self.cached:
            what = f"{_gb(self.candidate.size_bytes)}, here already"
        else:
            what = f"{_gb(self.candidate.size_bytes)} to download from {self.download_from}"
        quant = f"{self.candidate.quant.name}, " if self.candidate.quant else ""
        return f"auto picks {self.model} ({quant}{what}) here because {self.reason}"

    def details(self) -> list[str]:
        """The headline's evidence: the estimate, the machine, what was passed over."""
        lines = [
            f"Estimated {self.estimate.tokens_per_second:.0f} tokens/s, "
            f"{_gb(self.estimate.memory_bytes)} of memory, {self.estimate.placement} "
            f"(the floor is {self.min_tokens_per_second:g} tokens/s: "
            "c.AutoCoder.min_tokens_per_second).",
            f"This machine: {self.machine}.",
        ]
        lines += [f"Passed over {name}: {why}." for name, why in self.passed_over]
        return lines

    def download_notice(self) -> str | None:
        """What is said before a download starts; None when nothing is downloaded."""
        if self.cached or not self.obtainable:
            return None
        return (
            f"Downloading {self.model} ({_gb(self.download_bytes)}) from {self.download_from}: "
            f"{self.reason}."
        )

    def notice(self) -> str | None:
        """The warning a user must see: the last resort is weak, and why it was used."""
        if not self.last_resort:
            return None
        return (
            f"Using the small bundled model {self.model}: its code is weak "
            f"({LAST_RESORT_QUALITY}). "
            f"{self.reason[0].upper()}{self.reason[1:]}. Where PyPI can be reached, "
            f"`jupyter-autocoder pull {AUTO_FALLBACK}` "
            f"({_gb(CATALOGUE[AUTO_FALLBACK].size_bytes)}) gives a real code model; "
            f"`jupyter-autocoder pull autocoder-s-6.7b` where the hub can."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "quantisation": self.candidate.quant.name if self.candidate.quant else None,
            "size_bytes": self.candidate.size_bytes,
            "cached": self.cached,
            "download_bytes": self.download_bytes,
            "download_from": self.download_from,
            "tokens_per_second": round(self.estimate.tokens_per_second, 1),
            "memory_bytes": self.estimate.memory_bytes,
            "gpu_layers": self.estimate.gpu_layers,
            "n_layers": self.estimate.n_layers,
            "min_tokens_per_second": self.min_tokens_per_second,
            "reason": self.reason,
            "headline": self.headline(),
            "details": self.details(),
            "passed_over": [{"model": name, "why": why} for name, why in self.passed_over],
            "machine": self.machine,
            "last_resort": self.last_resort,
            "notice": self.notice(),
        }


def choose_model(
    machine: Machine,
    *,
    min_tokens_per_second: float = DEFAULT_MIN_TOKENS_PER_SECOND,
    is_cached: Callable[[Candidate], bool],
    hub_reachable: Callable[[], bool],
    pypi_reachable: Callable[[], bool],
    download: bool = True,
) -> AutoChoice:
    """The model `auto` uses on `machine`. The reachability probes are called only when a
    download is considered, and each at most once."""
    floor = min_tokens_per_second
    rows = [(c, estimate(c, machine), is_cached(c)) for c in auto_candidates()]
    passed: list[tuple[str, str]] = []
    probes: dict[str, bool] = {}

    def reachable(origin: str) -> bool:
        if origin not in probes:
            probes[origin] = (hub_reachable if origin == HUB else pypi_reachable)()
        return probes[origin]

    def pick(row: tuple[Candidate, Estimate, bool], reason: str, **extra: Any) -> AutoChoice:
        candidate, guess, here = row
        return AutoChoice(
            candidate=candidate,
            estimate=guess,
            cached=here,
            download_from=None if here else candidate.origin,
            reason=reason,
            machine=machine.describe(),
            min_tokens_per_second=floor,
            passed_over=passed,
            **extra,
        )

    *autocoders, fallback, last = rows
    eligible = []
    for candidate, guess, here in autocoders:
        if not guess.fits:
            passed.append((candidate.name, _too_big(guess, machine)))
        elif guess.tokens_per_second < floor:
            passed.append(
                (
                    candidate.name,
                    f"about {guess.tokens_per_second:.1f} tokens/s here, "
                    f"below the floor of {floor:g}",
                )
            )
        else:
            eligible.append((candidate, guess, here))
    for row in eligible:
        if row[2]:
            return pick(row, _largest_reason(row[1], floor))

    _, fallback_guess, fallback_here = fallback
    if fallback_here and fallback_guess.fits and fallback_guess.tokens_per_second >= floor:
        for candidate, guess, _ in eligible:
            passed.append(
                (
                    candidate.name,
                    (
                        f"would decode at about {guess.tokens_per_second:.0f} tokens/s, but it is "
                        "not "
                        f"downloaded (`jupyter-autocoder pull {candidate.spec.name}`, "
                        f"{_gb(candidate.size_bytes)})"
                    ),
                )
            )
        reason = _fallback_reason(fallback_guess, floor, eligible, over_download=bool(eligible))
        return pick(fallback, reason)

    autocoder_why = f"no AutoCoder both fits and decodes at {floor:g} tokens/s here"
    if eligible:
        if download and reachable(HUB):
            return pick(eligible[0], _largest_reason(eligible[0][1], floor))
        blocked = "downloads are off" if not download else "the Hugging Face hub cannot be reached"
        autocoder_why = f"the AutoCoders that would meet the floor are not here, and {blocked}"
        for candidate, guess, _ in eligible:
            passed.append(
                (
                    candidate.name,
                    (
                        f"would decode at about {guess.tokens_per_second:.0f} tokens/s, but it is "
                        "not on "
                        f"this machine and {blocked}"
                    ),
                )
            )

    if not fallback_guess.fits:
        fallback_why = _too_big(fallback_guess, machine)
    elif fallback_here or (download and reachable(PYPI)):
        reason = _fallback_reason(fallback_guess, floor, eligible, over_download=False)
        return pick(fallback, reason)
    else:
        fallback_why = "not assembled here, and " + (
            "downloads are off" if not download else "PyPI cannot be reached"
        )
    passed.append((fallback[0].name, fallback_why))
    here = last[2]
    return pick(
        last,
        f"{autocoder_why}, and {fallback[0].name} is {fallback_why}".replace(" is needs", " needs"),
        last_resort=True,
        obtainable=here or (download and reachable(PYPI)),
    )


def _largest_reason(guess: Estimate, floor: float) -> str:
    return (
        f"it is the largest AutoCoder that fits this machine and decodes at about "
        f"{guess.tokens_per_second:.0f} tokens/s (the floor is {floor:g})"
    )


def _fallback_reason(
    guess: Estimate,
    floor: float,
    eligible: list[tuple[Candidate, Estimate, bool]],
    *,
    over_download: bool,
) -> str:
    speed = f"it decodes at about {guess.tokens_per_second:.0f} tokens/s"
    if guess.tokens_per_second < floor:
        speed += f" (below the floor of {floor:g}, but no smaller model writes usable code)"
    if over_download:
        return f"{speed}, and a model on this machine comes before a download"
    if eligible:
        return f"no AutoCoder that meets the floor can be downloaded; {speed}"
    return f"no AutoCoder both fits and decodes at {floor:g} tokens/s on this machine; {speed}"


def _too_big(guess: Estimate, machine: Machine) -> str:
    room = machine.ram_budget
    if machine.usable_gpu is not None and machine.usable_gpu.kind == "cuda":
        room += machine.usable_gpu.free_bytes
    return f"needs {_gb(guess.memory_bytes)} of memory, more than the {_gb(room)} here"


def _gb(count: float) -> str:
    return f"{count / 1e9:.2f} GB" if count < 10e9 else f"{count / 1e9:.1f} GB"
