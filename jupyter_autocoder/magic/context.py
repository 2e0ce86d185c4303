"""What `%%autocoder` tells the model about the notebook: recent cells, the variables in the
user's namespace, the last error; and the watch on the user's cells that remembers them.

Everything here reads the live IPython shell. The variables are described by
`executors/values.py`, the module the panel runs in its kernel too; nothing imports pandas
or numpy: values are recognised by their type's module and name, so a kernel that never
imported pandas never does because of us. The agent's own modules are imported only when a
context is built (the extension must load fast).
"""

from __future__ import annotations

import linecache
import logging
import reprlib
import sys
import traceback as traceback_module
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..agent.prompts import CellContext, NotebookContext, VariableContext

log = logging.getLogger(__name__)

MAGIC_NAME = "autocoder"

# How much of the notebook is offered to the model, before the character budget cuts it.
MAX_CELLS = 12
# A failure older than this many cells is no longer "the last error" of a request's context.
RECENT_FAILURE_CELLS = 4

_short_repr = reprlib.Repr()
_short_repr.maxstring = 80
_short_repr.maxother = 120
_short_repr.maxlist = _short_repr.maxtuple = _short_repr.maxset = _short_repr.maxdict = 8


def is_autocoder_cell(source: str) -> bool:
    """True for a cell that calls this magic (`%%autocoder ...` or `%autocoder ...`)."""
    first = source.lstrip().split("\n", 1)[0].strip()
    return first.split(" ", 1)[0] in (f"%%{MAGIC_NAME}", f"%{MAGIC_NAME}")


@dataclass
class CellFailure:
    """A user cell that ended with an exception."""

    source: str
    error: BaseException
    execution_count: int | None = None

    @property
    def ename(self) -> str:
        return type(self.error).__name__

    @property
    def evalue(self) -> str:
        return str(self.error)

    def traceback_text(self, shell: Any, limit: int = 2500) -> str:
        """The error and its traceback as the user saw it, told as the agent tells errors."""
        from ..agent.feedback import format_error
        from ..executors.base import ErrorOutput

        error = self.error
        if isinstance(error, SyntaxError):
            lines = traceback_module.format_exception_only(type(error), error)
        else:
            try:
                lines = shell.InteractiveTB.structured_traceback(
                    type(error), error, error.__traceback__
                )
            except Exception:  # a formatter failing must not hide the error itself
                lines = traceback_module.format_exception(type(error), error, error.__traceback__)
        return format_error(ErrorOutput(self.ename, self.evalue, list(lines)), limit=limit)


@dataclass
class GeneratedCode:
    """What an autocoder cell made: its request and the code that ran (or was written)."""

    request: str
    code: str


@dataclass
class CellWatch:
    """Watches the user's cells through IPython's `post_run_cell` event.

    It remembers the last cell that failed (for `%autocoder fix` and the context) and the
    code each autocoder cell ran, which IPython's history does not hold: the agent's runs
    are not stored as cells of their own.
    """

    shell: Any
    last_failure: CellFailure | None = None
    generated: dict[int, GeneratedCode] = field(default_factory=dict)

    def register(self) -> None:
        self.shell.events.register("post_run_cell", self._post_run_cell)
        if self.last_failure is None:
            self.last_failure = failure_before_loading(self.shell)

    def unregister(self) -> None:
        try:
            self.shell.events.unregister("post_run_cell", self._post_run_cell)
        except ValueError:
            pass

    def _post_run_cell(self, result: Any) -> None:
        info = getattr(result, "info", None)
        # The agent's own runs are not stored in the history; neither are silent ones.
        if info is None or not info.store_history or info.silent:
            return
        error = result.error_before_exec or result.error_in_exec
        if (
            error is None
            or isinstance(error, KeyboardInterrupt)
            or is_autocoder_cell(info.raw_cell or "")
        ):
            return
        self.last_failure = CellFailure(info.raw_cell or "", error, result.execution_count)


def _loads_this_extension(source: str) -> bool:
    words = source.split()
    return (
        len(words) == 2
        and words[0] in ("%load_ext", "%reload_ext")
        and words[1] == "jupyter_autocoder"
    )


def failure_before_loading(shell: Any) -> CellFailure | None:
    """The error IPython showed last (`sys.last_value`), with the source of the cell it came from.

    The cell is found through the file name IPython gave its code (the traceback's
    outermost frame in a cell, or a SyntaxError's file name).
    """
    error = getattr(sys, "last_value", None)
    if error is None or isinstance(error, KeyboardInterrupt):
        return None
    cells = getattr(getattr(shell, "compile", None), "_filename_map", None)
    if not isinstance(cells, dict):
        return None
    filenames: list[str] = []
    if isinstance(error, SyntaxError) and error.filename:
        filenames.append(error.filename)
    tb = error.__traceback__
    while tb is not None:
        filenames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    for filename in filenames:
        if filename in cells:
            lines = linecache.cache.get(filename)
            source = "".join(lines[2]) if lines else ""
            if source and not is_autocoder_cell(source):
                return CellFailure(source, error, cells[filename])
    return None


# -- the context -------------------------------------------------------------------------


def build_context(
    shell: Any,
    watch: CellWatch | None = None,
    *,
    budget: int = 6000,
    include_failure: bool | None = None,
    skip_current: bool = True,
) -> NotebookContext:
    """The notebook as the model should see it, for a request made in the current cell.

    `include_failure`: None includes the last failure when it is recent, True always.
    Variables get at most half of `budget`; `render_context` fits the rest.
    """
    from ..agent.prompts import NotebookContext

    cells = recent_cells(shell, watch, skip_current=skip_current)
    last_error = None
    failure = watch.last_failure if watch is not None else None
    if failure is not None:
        recent = include_failure
        if recent is None:
            count = getattr(shell, "execution_count", 0) or 0
            recent = (
                failure.execution_count is None
                or count - failure.execution_count <= RECENT_FAILURE_CELLS
            )
        if recent:
            last_error = failure.traceback_text(shell)
    variables = describe_namespace(shell, budget=budget // 2)
    return NotebookContext(cells=cells, variables=variables, last_error=last_error)


def recent_cells(
    shell: Any, watch: CellWatch | None = None, *, skip_current: bool = True, limit: int = MAX_CELLS
) -> list[CellContext]:
    """The last `limit` cells of this kernel's history, oldest first, with a short text of
    their value.

    An autocoder cell appears as the code it ran (its request as a comment), for that code
    made the variables the model sees; one that made no code is left out.
    """
    from ..agent.prompts import CellContext

    history = getattr(shell, "history_manager", None)
    if history is None:
        return []
    sources: list[str] = list(history.input_hist_raw)
    outputs: dict[int, Any] = dict(getattr(history, "output_hist", {}) or {})
    current = getattr(shell, "execution_count", None)
    cells: list[CellContext] = []
    for number in range(len(sources) - 1, 0, -1):
        if len(cells) >= limit:
            break
        if skip_current and number == current:
            continue
        source = sources[number]
        if is_autocoder_cell(source):
            made = watch.generated.get(number) if watch is not None else None
            if made is None:
                continue
            request = made.request.strip().splitlines()[0] if made.request.strip() else ""
            source = f"# %%autocoder: {request}\n{made.code}"
        if not source.strip() or _loads_this_extension(source):
            continue
        output = ""
        if number in outputs:
            output = _safe_repr(outputs[number], 600)
        cells.append(CellContext(source=source, output=output, execution_count=number))
    cells.reverse()
    return cells


def describe_namespace(
    shell: Any, *, budget: int = 3000, limit: int | None = None
) -> list[VariableContext]:
    """The user's variables, newest first, each with its type and a short summary, within
    `budget` characters: `executors/values.py`'s summary, which the panel gets from its
    kernel too."""
    from ..agent.prompts import VariableContext
    from ..executors.values import MAX_VARIABLES, namespace_summary

    hidden: dict[str, Any] = getattr(shell, "user_ns_hidden", {}) or {}
    variables = namespace_summary(
        shell.user_ns, hidden, budget=budget, limit=MAX_VARIABLES if limit is None else limit
    )
    return [VariableContext(**variable) for variable in variables]


def describe_value(value: Any) -> tuple[str, str]:
    """(type name, summary) of one value; ("", "") for what the model need not see."""
    from ..executors.values import summarize

    return summarize(value)


def _safe_repr(value: Any, limit: int) -> str:
    try:
        text = (
            _short_repr.repr(value) if isinstance(value, (list, tuple, dict, set)) else repr(value)
        )
    except Exception:
        return f"<{type(value).__name__}>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
