"""Approval of installs and shell commands: the policy, and the request a front end answers.

The front end implements the approver (the magic asks with input(), the panel over its
WebSocket): a callable that receives an `ApprovalRequest` and returns True or False.
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
KINDS = ("install", "shell")  # what an ApprovalRequest asks to allow


@dataclass
class ApprovalRequest:
    """What the user is asked to allow: `kind` is "install" or "shell"; `command` is exact."""

    kind: str = field(metadata=wire(enum=KINDS))
    command: str
    packages: list[str] = field(default_factory=list)
    reason: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Approver = Callable[[ApprovalRequest], bool]


def check_policy(policy: str) -> str:
    policy = (policy or "").lower()
    if policy not in POLICIES:
        raise ValueError(f"install_policy must be one of {', '.join(POLICIES)}, not {policy!r}")
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
