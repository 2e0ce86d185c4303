"""How an agent session works: rounds, timeouts, installs, the prompt, sampling, traces.

settings = SessionSettings(max_rounds=5, install_policy="never")
settings = SessionSettings.from_config(config, max_tokens=512)   # an `AutoCoder` config
settings = dataclasses.replace(settings, max_rounds=2)           # a changed copy
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .approval import ASK, check_policy
from .guard import GUARD_MODES, WARN
from .prompts import SYSTEM_PROMPT

# The settings an `AutoCoder` config holds, by the same names.
_FROM_CONFIG = (
    "max_rounds",
    "retry_temperature",
    "exec_timeout",
    "install_policy",
    "shell_policy",
    "package_index_url",
    "context_budget",
    "check_results",
    "trace_max_mb",
    "trace_max_age_days",
    "variable_guard",
)


@dataclass(frozen=True)
class SessionSettings:
    """The settings of one `AgentSession`; checked when made."""

    max_rounds: int = 3
    """Rounds of answer, run and feedback in a turn before it ends as `max_rounds`."""
    exec_timeout: float | None = 60.0
    """Seconds the model's code may run before it is interrupted; None: no limit."""
    install_policy: str = ASK
    """Installing a package (a missing module, a `pip install` in the answer or in its code):
    "ask" the approver, "auto" (but a name with a warning is asked), or "never"."""
    shell_policy: str = ASK
    """Shell commands in the answer or in its code: "ask" the approver, "auto", or "never"."""
    confirm_run: bool = False
    """Ask the approver before each piece of code runs (an approval of kind "code")."""
    package_index_url: str = ""
    """PyPI's JSON API (or a mirror's), asked what it knows of a name to install; "" asks
    none (only the near-miss check of popular names is made)."""
    install_timeout: float = 600.0
    pip_options: Sequence[str] = ()
    """Extra pip arguments for every install (an index URL, say)."""
    max_installs_per_round: int = 3
    check_expected: bool = True
    """After a clean run, check that the names and files the request mentions exist."""
    check_results: bool = False
    """After a clean run (before the last round), compare what the code left with what the
    request's words say of it (type, index, order; not all NaN) and, where they disagree,
    tell the model, with what the requested and new variables hold."""
    variable_guard: str = WARN
    """The user's variables that the request does not ask to change, around each run
    (`agent/guard.py`): "off"; "warn": a change is told to the model and the user, and the
    replaced value can be restored; "strict": a change also fails the round, and what was
    replaced is put back at once."""
    system_prompt: str = SYSTEM_PROMPT
    context_budget: int = 6000
    """Characters of notebook context sent with a request."""
    feedback_chars: int = 4000
    """Characters of a failed run's output told to the model."""
    max_tokens: int = 1024
    temperature: float = 0.0
    retry_temperature: float | None = None
    """The temperature of the answers after a failed round; None keeps `temperature`."""
    chat_params: dict[str, Any] | None = None
    """Further parameters of every model request (over max_tokens and temperature)."""
    trace: bool = True
    trace_dir: str | None = None
    """Where the session's trace is written; None: the default trace directory."""
    trace_max_mb: float = 0.0
    """The size the trace folder is pruned to when the trace opens; 0: no limit."""
    trace_max_age_days: float = 0.0
    """Traces older than this are pruned when the trace opens; 0: no limit."""

    def __post_init__(self) -> None:
        if self.max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        # Frozen: normal forms are set through object.__setattr__.
        object.__setattr__(self, "install_policy", check_policy(self.install_policy))
        object.__setattr__(self, "shell_policy", check_policy(self.shell_policy, "shell_policy"))
        object.__setattr__(self, "pip_options", tuple(self.pip_options))
        guard = str(self.variable_guard).lower()
        if guard not in GUARD_MODES:
            choices = ", ".join(GUARD_MODES)
            raise ValueError(
                f"variable_guard must be one of {choices}, not {self.variable_guard!r}"
            )
        object.__setattr__(self, "variable_guard", guard)

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> SessionSettings:
        """Settings with max_rounds, retry_temperature, exec_timeout, install_policy,
        shell_policy, package_index_url, context_budget, check_results, variable_guard, the
        traces' retention and the seed (in `chat_params`) from an `AutoCoder` config;
        `overrides` go over them."""
        values: dict[str, Any] = {name: getattr(config, name) for name in _FROM_CONFIG}
        seed = getattr(config, "seed", None)
        if seed is not None:  # every request carries it: sampled answers can be drawn again
            values["chat_params"] = {"seed": seed}
        return cls(**{**values, **overrides})

    def request_params(self) -> dict[str, Any]:
        """The parameters of a model request: max_tokens and temperature, then chat_params."""
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            **(self.chat_params or {}),
        }
