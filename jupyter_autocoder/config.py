"""Every setting of jupyter-autocoder, as documented traitlets (`c.AutoCoder.<trait>`).

The environment variables of the architecture (`AUTOCODER_MODEL`, `AUTOCODER_ENGINE_URL`,
`AUTOCODER_API_KEY`, `AUTOCODER_N_GPU_LAYERS`) override the configuration files, so that a
JupyterHub admin or a user in a terminal can point everything elsewhere without editing them.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode, default
from traitlets.config import Configurable

# The environment variables of the architecture, named here only: the model client reads
# them in a kernel, and the server extension writes the proxy's URL and key into them.
MODEL_VARIABLE = "AUTOCODER_MODEL"
ENGINE_URL_VARIABLE = "AUTOCODER_ENGINE_URL"
API_KEY_VARIABLE = "AUTOCODER_API_KEY"
N_GPU_LAYERS_VARIABLE = "AUTOCODER_N_GPU_LAYERS"

ENVIRONMENT_OVERRIDES = {
    "model": MODEL_VARIABLE,
    "engine_url": ENGINE_URL_VARIABLE,
    "api_key": API_KEY_VARIABLE,
    "n_gpu_layers": N_GPU_LAYERS_VARIABLE,
}


class AutoCoder(Configurable):
    """Settings shared by the server extension, the magic and the command line."""

    model = Unicode(
        "auto",
        help=(
            "Model to load: a catalogue name (autocoder-33b, autocoder-s-6.7b, autocoder-qw-7b, "
            "smollm2-135m, qwen2.5-coder-1.5b), a path to a .gguf file, hf:REPO/FILE.gguf, or "
            "'auto' (the largest AutoCoder that fits this machine, else the bundled small model). "
            "Environment: AUTOCODER_MODEL."
        ),
    ).tag(config=True)

    engine_url = Unicode(
        "",
        help=(
            "Base URL (ending in /v1) of a remote OpenAI-compatible engine (llama-server, vLLM, "
            "Ollama). When set, no local model is started. Environment: AUTOCODER_ENGINE_URL."
        ),
    ).tag(config=True)

    api_key = Unicode(
        "",
        help="Key for the remote engine named by engine_url. Environment: AUTOCODER_API_KEY.",
    ).tag(config=True)

    n_gpu_layers = Int(
        -2,
        help=(
            "Layers to offload to the GPU: -2 decides from the GPU memory (all when the model "
            "fits), -1 all, 0 none. Environment: AUTOCODER_N_GPU_LAYERS."
        ),
    ).tag(config=True)

    n_ctx = Int(8192, help="Context size in tokens.").tag(config=True)

    n_threads = Int(0, help="CPU threads for generating tokens; 0 means one per physical core.").tag(config=True)

    draft = CaselessStrEnum(
        ["none", "prompt-lookup"],
        default_value="none",
        help="Speculative decoding: 'prompt-lookup' drafts tokens from the prompt (helps when code is edited).",
    ).tag(config=True)

    context_budget = Int(
        help=(
            "Characters of notebook context (cells, variables, the last error) sent with a "
            "request. Default: about a third of n_ctx at roughly three characters a token, "
            "between 2,000 and 16,000, leaving room for the answer and the rounds' feedback."
        ),
    ).tag(config=True)

    @default("context_budget")
    def _default_context_budget(self) -> int:
        return max(2000, min(16000, self.n_ctx))

    max_rounds = Int(3, help="Rounds of run-and-correct before the agent stops.").tag(config=True)

    retry_temperature = Float(
        0.7,
        help="Sampling temperature of the answers after a failed round (the first answer is greedy); "
        "0 keeps every answer greedy. Greedy corrections by small models often repeat the code that failed.",
    ).tag(config=True)

    check_results = Bool(
        False,
        help="After a clean run, compare what the code left with what the request's words say "
        "of it ('a Series monthly indexed by month', 'a float in acc', 'largest first'; not all "
        "NaN) and, where they disagree, show the model what the requested and new variables "
        "hold and ask for corrected code. Costs nothing when they agree.",
    ).tag(config=True)

    variable_guard = CaselessStrEnum(
        ["off", "warn", "strict"],
        default_value="warn",
        help="The user's variables that a request does not ask to change, checked around each "
        "run of the agent's code (identity, and for DataFrames, Series and arrays their shape, "
        "columns, dtypes and a sample of their values). 'warn': a variable the code reassigned, "
        "deleted or changed in place is told to the model and shown to the user, and a "
        "replaced value can be put back (%autocoder restore NAME, or the panel's button) until "
        "the next request; 'strict': such a change also fails the round, and a replaced value "
        "is put back at once; 'off': no check.",
    ).tag(config=True)

    seed = Int(
        None,
        allow_none=True,
        help="Seed sent with every request to the model (the OpenAI `seed` field), so that the "
        "sampled answers after a failed round can be drawn again; None lets the engine choose.",
    ).tag(config=True)

    exec_timeout = Float(
        60.0, help="Seconds a cell may run before it is interrupted (the kernel's state survives)."
    ).tag(config=True)

    install_policy = CaselessStrEnum(
        ["ask", "auto", "never"],
        default_value="ask",
        help="Installing missing packages: ask the user, install without asking, or never.",
    ).tag(config=True)

    load_on_start = Bool(
        True, help="Load the model in the background when the server starts, rather than on first use."
    ).tag(config=True)

    worker_start_timeout = Float(
        600.0, help="Seconds to wait for the model worker to load the model and answer."
    ).tag(config=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.apply_environment()

    def apply_environment(self, environ: dict[str, str] | None = None) -> None:
        """Let the AUTOCODER_* variables that are set override configured values."""
        environ = os.environ if environ is None else environ
        for trait_name, variable in ENVIRONMENT_OVERRIDES.items():
            value = environ.get(variable)
            if not value:
                continue
            if trait_name == "n_gpu_layers":
                try:
                    setattr(self, trait_name, int(value))
                except ValueError as error:
                    raise ValueError(f"{variable} must be an integer, not {value!r}") from error
            else:
                setattr(self, trait_name, value)
