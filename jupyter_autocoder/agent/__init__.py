"""The execution-verified agent loop: the model writes code, an executor runs it, the real
result goes back to the model, until a run is clean or the round limit is reached.

Entry point: `AgentSession(client, executor, SessionSettings(...)).run(request, context=...)`,
a generator of typed events (`events.py`). `ChatSession` (`chat.py`) has the same face and
runs nothing. Traces (`trace.py`) and the evaluation (`../evaluation/`) build on them.
"""

from .approval import ApprovalRequest, Approver
from .chat import ChatSession
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
from .session import AgentSession, RoundOutcome, RoundRecord
from .settings import SessionSettings
from .trace import default_trace_dir, export_verified
from .verdict import ACCEPTED, Verdict, Verifier

__all__ = [
    "ACCEPTED",
    "SYSTEM_PROMPT",
    "AgentEvent",
    "AgentSession",
    "ApprovalEvent",
    "ApprovalRequest",
    "Approver",
    "CellContext",
    "ChatSession",
    "CodeEvent",
    "DoneEvent",
    "ErrorEvent",
    "ExecutionEvent",
    "InstallEvent",
    "NotebookContext",
    "RoundEvent",
    "RoundOutcome",
    "RoundRecord",
    "SessionSettings",
    "TokenEvent",
    "VariableContext",
    "Verdict",
    "Verifier",
    "default_trace_dir",
    "export_verified",
]
