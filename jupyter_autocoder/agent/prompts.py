"""The system prompt, and the notebook context rendered within a character budget.

The caller (magic or server) gathers the context — recent cells, variables, the last error —
as a `NotebookContext`; it is rendered newest first so that what is cut, when the budget
runs out, is the oldest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .feedback import cut_middle, strip_ansi

SYSTEM_PROMPT = """\
You are AutoCoder, a coding assistant inside a Jupyter notebook. The Python code you write \
is run in the user's live kernel, and you are shown its output and errors.
- Put the code to run in one ```python block. Variables listed in the context already exist.
- To install packages, put `pip install NAME` lines in a ```sh block; they are installed \
before your code runs. Never install packages from Python code.
- When you are shown an error, answer with the complete corrected code, not a fragment.
- When no code is needed, answer in plain text without code blocks.
- Be brief: a sentence of explanation, then the code."""

# Characters of one `@name` variable's summary in a request (its share of the budget).
ATTACHED_CHARS = 2500


@dataclass
class CellContext:
    """One earlier cell: its source and a short text of its output."""

    source: str
    output: str = ""
    execution_count: int | None = None


@dataclass
class VariableContext:
    """One variable of the user's namespace: name, type and a short summary (shape, head...)."""

    name: str
    type_name: str = ""
    summary: str = ""


@dataclass
class NotebookContext:
    """What the model is told about the notebook. `cells` are in notebook order (oldest first);
    `attached`: the variables the request names with `@name` in the panel, each with a fuller
    summary (head, describe, value counts of a few columns)."""

    cells: list[CellContext] = field(default_factory=list)
    variables: list[VariableContext] = field(default_factory=list)
    last_error: str | None = None
    notebook_path: str | None = None
    attached: list[VariableContext] = field(default_factory=list)

    @classmethod
    def from_dict(cls, payload: dict[str, Any] | None) -> NotebookContext:
        payload = payload or {}
        return cls(
            cells=[
                CellContext(
                    str(cell.get("source", "")),
                    str(cell.get("output", "")),
                    cell.get("execution_count"),
                )
                for cell in payload.get("cells", [])
            ],
            variables=_variables(payload.get("variables", [])),
            last_error=payload.get("last_error"),
            notebook_path=payload.get("notebook_path"),
            attached=_variables(payload.get("attached", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __bool__(self) -> bool:
        return bool(self.cells or self.variables or self.last_error or self.attached)


def _variables(items: list[dict[str, Any]]) -> list[VariableContext]:
    return [
        VariableContext(
            str(v.get("name", "")), str(v.get("type_name", "")), str(v.get("summary", ""))
        )
        for v in items
    ]


def coerce_context(context: NotebookContext | dict[str, Any] | None) -> NotebookContext | None:
    if context is None or isinstance(context, NotebookContext):
        return context
    return NotebookContext.from_dict(context)


def render_context(context: NotebookContext | None, budget: int = 6000) -> str:
    """The context as text of at most `budget` characters: last error, variables, cells newest
    first."""
    if not context or budget <= 0:
        return ""
    sections: list[str] = []
    remaining = budget

    def add(text: str, minimum: int = 80) -> bool:
        nonlocal remaining
        if remaining < minimum:
            return False
        if len(text) + 1 > remaining:
            text = cut_middle(text, remaining - 40)
        sections.append(text)
        remaining -= len(text) + 1
        return True

    if context.last_error:
        add("Last error in the notebook:\n" + strip_ansi(context.last_error).strip())
    for variable in context.attached:
        label = f"{variable.name} ({variable.type_name})" if variable.type_name else variable.name
        add(
            f"The request names @{variable.name}, the variable {label} in the kernel:\n"
            + cut_middle(variable.summary.strip(), ATTACHED_CHARS)
        )
    if context.variables:
        # Told outright: a small model otherwise loads the data again over the user's `df`.
        lines = ["Variables in the kernel: (they exist; use them, do not load or make them again)"]
        for variable in context.variables:
            line = f"- {variable.name}"
            if variable.type_name:
                line += f" ({variable.type_name})"
            if variable.summary:
                line += ": " + cut_middle(variable.summary.strip(), 400)
            lines.append(line)
        add("\n".join(lines))
    cells = [cell for cell in context.cells if cell.source.strip()]
    if cells and add("Recent cells, newest first:", minimum=120):
        for cell in reversed(cells):
            label = f"In [{cell.execution_count}]" if cell.execution_count is not None else "Cell"
            text = f"{label}:\n```python\n{cell.source.strip()}\n```"
            if cell.output.strip():
                text += "\nOutput:\n" + cut_middle(strip_ansi(cell.output).strip(), 600)
            if not add(text):
                break
    return "\n\n".join(sections)


def request_message(
    request: str, context: NotebookContext | None = None, budget: int = 6000
) -> str:
    """The user turn for a request: the notebook context (if any), then the request."""
    rendered = render_context(context, budget)
    if not rendered:
        return request.strip()
    return f"{rendered}\n\nRequest:\n{request.strip()}"


def system_message(prompt: str = SYSTEM_PROMPT) -> dict[str, str]:
    return {"role": "system", "content": prompt}
