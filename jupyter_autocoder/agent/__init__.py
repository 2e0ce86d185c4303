"""The execution-verified agent loop: the model writes code, an executor runs it, the real
result goes back to the model, until a run is clean or the round limit is reached.

Entry point: `AgentSession(client, executor, ...).run(request, context=...)`, a generator of
typed events (`events.py`). Traces (`trace.py`) and the evaluation (`../evaluation/`) build on it.
"""

from .approval import ApprovalRequest, Approver
from .events import (
    AgentEvent,
    ApprovalEvent,
    CodeEvent,
    DoneEvent,
    ErrorEvent,
    ExecutionEvent,
    InstallEvent,
    RoundEvent,
    TokenEvent,
)
from .prompts import SYSTEM_PROMPT, CellContext, NotebookContext, VariableContext
from .session import AgentSession, RoundRecord, Verifier
from .trace import default_trace_dir, export_verified

__all__ = [
    "SYSTEM_PROMPT",
    "AgentEvent",
    "AgentSession",
    "ApprovalEvent",
    "ApprovalRequest",
    "Approver",
    "CellContext",
    "CodeEvent",
    "DoneEvent",
    "ErrorEvent",
    "ExecutionEvent",
    "InstallEvent",
    "NotebookContext",
    "RoundEvent",
    "RoundRecord",
    "TokenEvent",
    "VariableContext",
    "Verifier",
    "default_trace_dir",
    "export_verified",
]
