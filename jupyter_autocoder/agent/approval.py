"""Approval of installs and shell commands: the policy, and the request a front end answers.

The front end implements the approver (the magic asks with input(), the panel over its
WebSocket): a callable that receives an `ApprovalRequest` and returns True or False.

Approval gates what the model's answer names as an install or a shell command (a fenced
`sh` block, or an escape inside its Python code: see `escapes.py`), and, when the user asks
for it (`confirm_run`), each piece of code before it runs. It is not a sandbox: approved or
not, plain Python in the user's kernel can do anything the user can.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..wire import wire

log = logging.getLogger(__name__)

ASK = "ask"
AUTO = "auto"
NEVER = "never"
POLICIES = (ASK, AUTO, NEVER)
KINDS = ("install", "shell", "code")  # what an ApprovalRequest asks to allow


@dataclass
class ApprovalRequest:
    """What the user is asked to allow: `kind` is "install", "shell" or "code" (a piece of
    code before it runs, when the user asked to be asked); `command` is exact: what runs."""

    kind: str = field(metadata=wire(enum=KINDS))
    command: str
    packages: list[str] = field(default_factory=list)
    reason: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    # The two below are absent from the histories written before they were added.
    warning: str = field(default="", metadata=wire(optional=True))
    """What the user should weigh before saying yes: a name that is a near miss of a popular
    package or unknown to the index, a command made only when the code runs ("" if none)."""
    about: str = field(default="", metadata=wire(optional=True))
    """What the package index says of the names (latest version, summary); "" if nothing."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Approver = Callable[[ApprovalRequest], bool]


def check_policy(policy: str, setting: str = "install_policy") -> str:
    policy = (policy or "").lower()
    if policy not in POLICIES:
        raise ValueError(f"{setting} must be one of {', '.join(POLICIES)}, not {policy!r}")
    return policy


def ask(approver: Approver | None, request: ApprovalRequest) -> bool:
    """The user's answer; no approver, or one that fails, means no."""
    if approver is None:
        log.info("no approver to ask, so declined: %s", request.command)
        return False
    try:
        return bool(approver(request))
    except Exception:  # a broken front end must not install anything
        log.exception("the approver failed; treating it as declined: %s", request.command)
        return False
