"""An exploration: a short plan, then a Markdown and a code cell per step, each step run
through the agent loop, and a closing summary whose numbers come from the real outputs.

    exploration = Exploration(client, executor, settings, approver=ask_user)
    for event in exploration.run("sales.csv"):   # or a variable of the kernel: "df"
        show(event)           # PlanEvent, StepEvent, each step's agent events, SummaryEvent,
                              # and last an ExplorationDoneEvent
    exploration.cells         # the notebook it made: ExplorationCell(kind, source, outputs)
    notebook_of(exploration.cells)                # as an nbformat notebook, outputs kept

A data file is loaded by a cell written here (pandas' reader for its suffix), not by the
model, so that the steps start from a known DataFrame. Each step is one turn of a new
`AgentSession` (its code runs where the executor runs, is corrected from real errors, and
its installs keep their approval), told the kernel's variables and the earlier steps' cells
with their outputs; plots reach the model described in words (`executors/figures.py`). The
code cell of a step is its final code with the outputs of its clean run (a correction
replaces its cell); a step that never ran cleanly leaves a Markdown cell with its last code
and error, not a failing code cell, so the notebook reruns clean. The summary is checked
by `summary_check.py`: a number that no output shows is sent back to the model once, then
flagged where it stands.

`review_plan`, when given, is shown the plan before any step runs and gives back the steps
to run (edited, dropped, added), or None (or none) to stop. From another thread: `stop_after_step()`
lets the step in progress finish and writes the summary of the steps done; `stop()` stops
the step in progress too. Between steps the caller may change the steps not yet begun
(`replace_remaining`).
"""

from __future__ import annotations

import ast
import builtins
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, ExplorationError
from ..executors.base import ExecutionResult, Executor, Output
from . import events as ev
from .approval import Approver
from .feedback import describe_outputs, strip_ansi
from .package_index import PackageIndex
from .prompts import CellContext, NotebookContext, VariableContext, request_message
from .session import AgentSession
from .settings import SessionSettings
from .streaming import Streamer
from .summary_check import check_numbers, flag_unverified

if TYPE_CHECKING:
    from ..llm.client import ModelClient

log = logging.getLogger(__name__)

MAX_STEPS = 6
PLAN_TOKENS = 300
SUMMARY_TOKENS = 400
# Characters of one step's outputs told to the model (in a later step's context and for the
# summary); the summary's numbers are checked against the whole outputs.
STEP_OUTPUT_CHARS = 1500

# pandas' reader for a data file, by suffix.
READERS = {
    ".csv": "pd.read_csv({path!r})",
    ".tsv": "pd.read_csv({path!r}, sep='\\t')",
    ".tab": "pd.read_csv({path!r}, sep='\\t')",
    ".txt": "pd.read_csv({path!r}, sep=None, engine='python')",
    ".json": "pd.read_json({path!r})",
    ".jsonl": "pd.read_json({path!r}, lines=True)",
    ".parquet": "pd.read_parquet({path!r})",
    ".feather": "pd.read_feather({path!r})",
    ".xlsx": "pd.read_excel({path!r})",
    ".xls": "pd.read_excel({path!r})",
}

PLAN_PROMPT = """\
You plan the exploration of a dataset in a Jupyter notebook. Answer with a numbered list \
of {low} to {high} short steps, one line each, and nothing else: no code, no headings. \
Each step computes or plots one thing about the data's own columns, such as:
1. Summary statistics of the numeric columns
2. A histogram of one numeric column
3. The correlations between the numeric columns
4. The mean of a numeric column for each value of a category column"""

STEP_REQUEST = """\
We are exploring {target} step by step; the data is in `{frame}`. The plan:
{plan}
Now do step {number} only: {title}
Write one short cell for this step. Print or display its results (numbers, tables, at \
most one plot with a title and axis labels). Use the variables that exist; do not load \
the data again."""

SUMMARY_PROMPT = """\
You write the closing cell of a data exploration in a Jupyter notebook: a short Markdown \
list of the main findings, one line each. Quote numbers only as they appear in the \
outputs you are shown; never estimate or invent one. No code."""

SUMMARY_REQUEST = """\
The exploration of {target} ran these steps; their outputs follow each one.

{steps}

Summarise what was found in 3 to 6 bullet points."""

ASK_AGAIN = """\
These numbers of your summary appear in no output: {numbers}. Write the summary again, \
quoting only numbers that the outputs show (or no number at all)."""

PLAN_AGAIN = (
    "Answer with the plan only: a numbered list, one step per line, such as\n"
    "1. Show summary statistics of every column\n2. Count the missing values"
)

# Steps the load cell has done already (a small model plans them all the same): loading the
# data, importing libraries, showing the first rows.
_REDUNDANT = re.compile(
    r"^(?:(?:load|read|import|open)\b(?!.*\b(?:plot|count|describe|statistic|mean|missing))"
    r".*\b(?:data|dataset|csv|file|frame|dataframe|librar(?:y|ies)|pandas)\b"
    r"|(?:print|show|display|view|look at)\b.*\b(?:first|top)\b.*\brows\b"
    r"(?!.*\b(?:plot|statistic|mean|missing|correlat)))",
    re.I,
)
_STEP_LINE = re.compile(r"^\s*(?:step\s*)?(\d{1,2})\s*[.):]\s+(?P<title>\S.*?)\s*$", re.I)


PlanReview = Callable[[list[str]], "list[str] | None"]
"""Shown the plan's steps, gives the steps to run (edited, dropped, added), or None to stop."""


class _Stopped(Exception):
    """stop() was asked while the plan or the summary streamed."""


@dataclass
class ExplorationCell:
    """A cell the exploration made: Markdown, or code with the outputs of its clean run."""

    kind: str  # "markdown" or "code"
    source: str
    outputs: list[Output] = field(default_factory=list)
    step: int = 0  # the plan's step it belongs to; 0 for the opening and the summary


def explore_target(text: str) -> str:
    """What a request to explore names: the text less a leading "explore" or "/explore" (and
    quotes or backticks around the name), such as "sales.csv" or "df"; ExplorationError when
    it names nothing, or more than one line."""
    words = text.strip().split(None, 1)
    if words and words[0].lower() in ("explore", "/explore"):
        words = words[1:]
    target = " ".join(words).strip().strip("`'\"")
    if not target or "\n" in target:
        raise ExplorationError(
            "name one data file or DataFrame to explore, such as `explore sales.csv` or "
            "`explore df`"
        )
    return target


def parse_plan(text: str, limit: int = MAX_STEPS) -> list[str]:
    """The steps of a plan written as a numbered list (Markdown emphasis and a trailing
    colon taken off; code blocks skipped), at most `limit`; [] when there is none."""
    steps: list[str] = []
    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        match = None if in_code else _STEP_LINE.match(line)
        if match is None:
            continue
        title = re.sub(r"[*_`]{1,3}", "", match.group("title")).strip().rstrip(":").strip()
        if title:
            steps.append(title)
    return steps[:limit]


def load_code(path: str, frame: str) -> str:
    """The cell that loads a data file into `frame` with pandas; ExplorationError for a
    suffix no reader is known for."""
    suffix = PurePath(path).suffix.lower()
    if suffix not in READERS:
        known = ", ".join(READERS)
        raise ExplorationError(
            f"cannot tell how to read {path!r}: its suffix is not one of {known}"
        )
    reader = READERS[suffix].format(path=path)
    return f"import pandas as pd\n\n{frame} = {reader}\n{frame}.head()"


def outputs_text(outputs: list[Output]) -> str:
    """Everything the outputs show as text, whole (for the summary's check): streams,
    each display's text/plain (a table's, a figure's description), an error's line."""
    parts = []
    for output in outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        else:
            plain = output.data.get("text/plain", "")
            parts.append("".join(plain) if isinstance(plain, list) else str(plain))
    return strip_ansi("\n".join(parts))


class Exploration:
    """One exploration of a data file or a variable, step by step, through `executor`.

    `settings` are each step's session settings (rounds, policies, the context budget);
    `max_steps` caps the plan. The client and the executor stay open: they are the caller's.
    """

    def __init__(
        self,
        client: ModelClient,
        executor: Executor,
        settings: SessionSettings = SessionSettings(),  # noqa: B008 - frozen
        *,
        approver: Approver | None = None,
        package_index: PackageIndex | None = None,
        max_steps: int = MAX_STEPS,
        frame_name: str = "df",
        review_plan: PlanReview | None = None,
    ):
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.client = client
        self.executor = executor
        self.settings = settings
        self.approver = approver
        self.package_index = package_index
        self.max_steps = max_steps
        self.frame_name = frame_name
        self.review_plan = review_plan
        self.target = ""
        self.steps: list[ev.PlanStep] = []
        self.cells: list[ExplorationCell] = []
        self.rounds = 0
        self._outputs: list[str] = []  # the whole text of every clean output, for the check
        self._told: list[tuple[str, str]] = []  # (step title, its outputs told to the model)
        self._lock = threading.Lock()
        self._stop_after_step = False
        self._streamer = Streamer()
        self._session: AgentSession | None = None

    # -- control, from any thread ---------------------------------------------------------

    def stop_after_step(self) -> None:
        """Let the step in progress finish; begin no other; write the summary of the steps
        done."""
        with self._lock:
            self._stop_after_step = True

    def stop(self) -> None:
        """Stop now: the answer or run in progress too; no summary."""
        with self._lock:
            self._stop_after_step = True
            session = self._session
        self._streamer.stop()
        if session is not None:
            session.stop()

    def replace_remaining(self, titles: list[str]) -> None:
        """The steps not yet begun become `titles` (edited, dropped or added by the user)."""
        with self._lock:
            begun = [step for step in self.steps if step.status != "planned"]
            kept = [title.strip() for title in titles if title.strip()]
            self.steps = begun + [ev.PlanStep(title=title) for title in kept]

    # -- the exploration --------------------------------------------------------------------

    def run(self, target: str, context: NotebookContext | None = None) -> Iterator[ev.AgentEvent]:
        """Explore `target` (a data file's path, as the code sees it, or a variable's name);
        yields the events. ExplorationError, before anything else, for a file or variable
        that is not there, and for a plan the model garbles."""
        started = time.perf_counter()
        self.target = target.strip()
        self._streamer.begin()
        frame = self._prepare(self.target)
        self.executor.describe_figures()
        try:
            titles = yield from self._plan(frame, context)
        except _Stopped:
            yield self._finish(ev.STOPPED, 0, 0, started, "Stopped before the plan was made.")
            return
        self.steps = [ev.PlanStep(title=title) for title in titles]
        yield self._plan_event(review=self.review_plan is not None)
        if self.review_plan is not None:
            reviewed = self.review_plan([step.title for step in self.steps])
            if not reviewed or not any(title.strip() for title in reviewed):
                yield self._finish(ev.STOPPED, 0, 0, started, "Stopped at the plan, as asked.")
                return
            self.replace_remaining(reviewed)
            yield self._plan_event()
        self.cells.insert(0, ExplorationCell("markdown", self._opening()))
        self.executor.write_markdown(self.cells[0].source, above_first=True)

        done = failed = 0
        reason, message = ev.SUCCESS, ""
        number = 0
        while True:
            if self._streamer.stopped:
                yield self._finish(ev.STOPPED, done, failed, started, "Stopped.")
                return
            with self._lock:
                if self._stop_after_step and number < len(self.steps):
                    reason, message = ev.STOPPED, "Stopped after a step, as asked."
                    for step in self.steps[number:]:
                        step.status = "stopped"
                    break
                if number >= len(self.steps):
                    break
                step = self.steps[number]
            number += 1
            outcome = yield from self._step(number, step, frame)
            yield self._plan_event()
            if outcome == "done":
                done += 1
            elif outcome == "failed":
                failed += 1
            else:  # stopped, or the engine failed: no summary
                reason = ev.STOPPED if outcome == "stopped" else ev.ERROR
                message = "Stopped." if outcome == "stopped" else "The model engine failed."
                yield self._finish(reason, done, failed, started, message)
                return
        if reason == ev.STOPPED:
            yield self._plan_event()  # the steps not begun, marked stopped
        try:
            summary = yield from self._summary()
        except _Stopped:
            yield self._finish(ev.STOPPED, done, failed, started, "Stopped while summarising.")
            return
        if summary is None:
            reason, message = ev.ERROR, "The model engine failed while summarising."
        yield self._finish(reason, done, failed, started, message)

    # -- before the plan --------------------------------------------------------------------

    def _prepare(self, target: str) -> str:
        """The DataFrame's name: a variable that exists, or a data file loaded by a cell of
        its own (checked where the code runs)."""
        if not target:
            raise ExplorationError("nothing to explore: name a data file or a variable")
        if target.isidentifier():
            if target not in self.executor.defined_names([target]):
                raise ExplorationError(
                    f"there is no variable {target!r} in the kernel, and it is not a file name"
                )
            return target
        if not self.executor.existing_files([target]):
            raise ExplorationError(f"no such data file: {target}")
        frame = self._free_name()
        code = load_code(target, frame)
        result = self.executor.run(code, timeout=self.settings.exec_timeout)
        if not result.ok:
            error = result.error
            said = f"{error.ename}: {error.evalue}" if error else result.status
            raise ExplorationError(f"cannot load {target}: {strip_ansi(said)}")
        self.cells.append(ExplorationCell("code", code, list(result.outputs)))
        self._outputs.append(outputs_text(result.outputs))
        self._told.append((f"load {target}", describe_outputs(result, STEP_OUTPUT_CHARS)))
        return frame

    def _free_name(self) -> str:
        """`frame_name`, or that name with a number when the kernel has it already."""
        names = set(self.executor.user_names() or [])
        name, number = self.frame_name, 2
        while name in names:
            name, number = f"{self.frame_name}{number}", number + 1
        return name

    # -- the plan ---------------------------------------------------------------------------

    def _plan(self, frame: str, context: NotebookContext | None) -> Iterator[ev.AgentEvent]:
        low = min(3, self.max_steps)
        system = PLAN_PROMPT.format(low=low, high=self.max_steps)
        request = (
            f"Plan the exploration of {self.target}, loaded into the DataFrame `{frame}` "
            "(its columns are listed above), naming its columns in the steps."
        )
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": self._request(request, context)},
        ]
        answer = ""
        for attempt in (1, 2):
            answer = yield from self._ask(messages, PLAN_TOKENS)
            titles = parse_plan(answer, self.max_steps)
            titles = [title for title in titles if not _REDUNDANT.match(title)] or titles
            if titles:
                return titles
            if attempt == 1:
                messages += [
                    {"role": "assistant", "content": answer},
                    {"role": "user", "content": PLAN_AGAIN},
                ]
        shown = answer.strip()[:200] or "(an empty answer)"
        raise ExplorationError(
            f"the model's plan has no numbered steps, even when asked again: {shown}"
        )

    def _opening(self) -> str:
        listed = "\n".join(f"{n}. {step.title}" for n, step in enumerate(self.steps, 1))
        return f"# Exploring {self.target}\n\nThe plan:\n\n{listed}"

    def _plan_event(self, review: bool = False) -> ev.PlanEvent:
        with self._lock:
            steps = [ev.PlanStep(title=s.title, status=s.status) for s in self.steps]
        return ev.PlanEvent(target=self.target, steps=steps, review=review)

    def _markdown(self, source: str, step: int = 0, *, replace_last: bool = False) -> None:
        """A Markdown cell of the exploration, also written where the executor writes cells
        (the panel's notebook)."""
        self.cells.append(ExplorationCell("markdown", source, step=step))
        self.executor.write_markdown(source, replace_last=replace_last)

    # -- one step ---------------------------------------------------------------------------

    def _step(self, number: int, step: ev.PlanStep, frame: str) -> Iterator[Any]:
        """The step as one agent turn; its cells; "done", "failed", "stopped" or "error"."""
        total = len(self.steps)
        step.status = "running"
        yield ev.StepEvent(step=number, steps=total, title=step.title, status="running")
        self._markdown(f"## {number}. {step.title}", number)
        plan = "\n".join(f"{n}. {s.title}" for n, s in enumerate(self.steps, 1))
        request = STEP_REQUEST.format(
            target=self.target, frame=frame, plan=plan, number=number, title=step.title
        )
        session = AgentSession(
            self.client,
            self.executor,
            self.settings,
            approver=self.approver,
            package_index=self.package_index,
            code_required=True,
        )
        with self._lock:
            self._session = session
        done: ev.DoneEvent | None = None
        try:
            for event in session.run(request, self._step_context()):
                if isinstance(event, ev.DoneEvent):
                    done = event
                yield event
        finally:
            with self._lock:
                self._session = None
            session.close()
        self.rounds += done.rounds if done is not None else 0
        if done is not None and done.success and done.code:
            result = _clean_result(session, done.code)
            outputs = list(result.outputs) if result is not None else []
            failed = [r.code for r in session.records if r.code and r.code != done.code]
            earlier = [cell.source for cell in self.cells if cell.kind == "code"]
            code = with_missing_imports(done.code, failed, earlier)
            self.cells.append(ExplorationCell("code", code, outputs, step=number))
            self._outputs.append(outputs_text(outputs))
            told = describe_outputs(result, STEP_OUTPUT_CHARS) if result is not None else ""
            self._told.append((step.title, told))
            step.status = "done"
            message = done.message
        elif done is not None and done.reason in (ev.STOPPED, ev.ERROR):
            step.status = "stopped" if done.reason == ev.STOPPED else "failed"
            message = done.message
        else:
            step.status = "failed"
            message = done.message if done is not None else "The step ended without a result."
            # In place of the step's failing code cell, where the executor wrote one.
            self._markdown(_failed_step_text(session, message), number, replace_last=True)
        yield ev.StepEvent(
            step=number, steps=total, title=step.title, status=step.status, message=message
        )
        if done is not None and done.reason == ev.ERROR:
            return "error"
        return "stopped" if step.status == "stopped" else step.status

    def _step_context(self) -> NotebookContext:
        """The kernel's variables, and the exploration's cells so far with their outputs."""
        budget = self.settings.context_budget
        found = self.executor.kernel_context(budget // 2) or {}
        variables = [
            VariableContext(
                str(item.get("name", "")),
                str(item.get("type_name", "")),
                str(item.get("summary", "")),
            )
            for item in found.get("variables", [])
        ]
        cells = []
        for cell in self.cells:
            if cell.kind == "code":
                told = describe_outputs(ExecutionResult(outputs=cell.outputs), 600)
                cells.append(CellContext(cell.source, told))
        return NotebookContext(cells=cells, variables=variables)

    # -- the summary ------------------------------------------------------------------------

    def _summary(self) -> Iterator[Any]:
        """The closing cell, its numbers checked; None when the engine failed."""
        if not any(cell.kind == "code" and cell.step for cell in self.cells):
            text = "## Summary\n\nNo step ran cleanly, so there is nothing to summarise."
            self._markdown(text)
            yield ev.SummaryEvent(text=text)
            return text
        steps = "\n\n".join(
            f"Step: {title}\nOutput:\n{told or '(no output)'}" for title, told in self._told
        )
        messages = [
            {"role": "system", "content": SUMMARY_PROMPT},
            {"role": "user", "content": SUMMARY_REQUEST.format(target=self.target, steps=steps)},
        ]
        outputs = "\n".join(self._outputs)
        try:
            answer = yield from self._ask(messages, SUMMARY_TOKENS)
            check = check_numbers(answer, outputs)
            asked_again = not check.ok
            if asked_again:
                log.info("the summary quotes numbers no output shows: %s", check.unverified)
                numbers = ", ".join(check.unverified)
                messages += [
                    {"role": "assistant", "content": answer},
                    {"role": "user", "content": ASK_AGAIN.format(numbers=numbers)},
                ]
                answer = yield from self._ask(messages, SUMMARY_TOKENS)
                check = check_numbers(answer, outputs)
        except EngineError as error:
            yield ev.ErrorEvent(message=str(error), error_type=type(error).__name__)
            return None
        body = flag_unverified(_strip_fences(answer), check.unverified)
        text = f"## Summary\n\n{body}"
        self._markdown(text)
        yield ev.SummaryEvent(text=text, unverified=check.unverified, asked_again=asked_again)
        return text

    # -- the model --------------------------------------------------------------------------

    def _ask(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[Any]:
        params = {**self.settings.request_params(), "max_tokens": max_tokens}
        stream = self.client.stream_chat(messages, **params)
        for piece in self._streamer.stream(stream):
            yield ev.TokenEvent(text=piece)
        if self._streamer.stopped:
            raise _Stopped
        return stream.text

    def _request(self, request: str, context: NotebookContext | None) -> str:
        """The request with the kernel's variables (the loaded data among them) and the
        caller's context."""
        found = self.executor.kernel_context(self.settings.context_budget // 2) or {}
        merged = context or NotebookContext()
        if not merged.variables:
            merged.variables = [
                VariableContext(
                    str(item.get("name", "")),
                    str(item.get("type_name", "")),
                    str(item.get("summary", "")),
                )
                for item in found.get("variables", [])
            ]
        return request_message(request, merged, self.settings.context_budget)

    def _finish(
        self, reason: str, done: int, failed: int, started: float, message: str
    ) -> ev.ExplorationDoneEvent:
        seconds = round(time.perf_counter() - started, 3)
        if not message:
            message = f"{done} of {len(self.steps)} steps ran cleanly."
        return ev.ExplorationDoneEvent(
            reason=reason,
            steps_done=done,
            steps_failed=failed,
            rounds=self.rounds,
            seconds=seconds,
            message=message,
        )


def _clean_result(session: AgentSession, code: str) -> ExecutionResult | None:
    """The result of the clean run of `code`, the turn's accepted code."""
    for record in reversed(session.records):
        if record.code == code and record.result is not None and record.result.ok:
            return record.result
    return None


def _failed_step_text(session: AgentSession, message: str) -> str:
    """A step that never ran cleanly, as Markdown: why, and its last code (not a code cell:
    the notebook must rerun clean)."""
    lines = [f"*This step did not run cleanly: {message}*"]
    record = next((r for r in reversed(session.records) if r.code), None)
    if record is not None:
        error = record.result.error if record.result is not None else None
        if error is not None:
            lines.append(f"\nThe last attempt failed with `{error.ename}: {error.evalue}`:")
        lines.append(f"\n```python\n{record.code.strip()}\n```")
    return "\n".join(lines)


def _bindings(tree: ast.AST) -> set[str]:
    """The names a piece of code binds: imports, assignments, definitions, loop targets."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound


def with_missing_imports(code: str, failed: list[str], earlier: list[str]) -> str:
    """`code`, the step's clean code, with the imports it uses but that only a failed round
    of the step ran (a small model imports in round 1 and not in its fix), put first: they
    ran in the kernel, so the step ran, but the notebook must rerun from the top. `earlier`:
    the cells above it. Code that is not plain Python is left as it is."""
    try:
        tree = ast.parse(code)
        above = set().union(*(_bindings(ast.parse(cell)) for cell in earlier))
        attempts = [ast.parse(source) for source in failed]
    except SyntaxError:
        return code
    used = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    missing = used - _bindings(tree) - above - set(dir(builtins))
    imports: list[str] = []
    for attempt, source in zip(attempts, failed):
        for node in attempt.body:
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names = {(a.asname or a.name).split(".")[0] for a in node.names}
            line = ast.get_source_segment(source, node) or ast.unparse(node)
            if names & missing and line not in imports:
                imports.append(line)
                missing -= names
    return "\n".join([*imports, code]) if imports else code


def _strip_fences(text: str) -> str:
    """A summary without a Markdown code fence around it (small models add one)."""
    stripped = text.strip()
    fenced = re.fullmatch(r"```(?:markdown|md)?\s*\n(.*?)\n```", stripped, re.S)
    return fenced.group(1).strip() if fenced else stripped


def notebook_of(cells: list[ExplorationCell], kernel_name: str = "python3") -> Any:
    """The cells as an nbformat v4 notebook, the code cells with their outputs."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": kernel_name,
        "display_name": "Python 3",
        "language": "python",
    }
    count = 0
    for cell in cells:
        if cell.kind == "markdown":
            notebook.cells.append(nbformat.v4.new_markdown_cell(cell.source))
            continue
        count += 1
        outputs = []
        for output in cell.outputs:
            payload = output.to_dict()
            if payload["output_type"] == "execute_result":
                payload["execution_count"] = count
            outputs.append(nbformat.from_dict(payload))
        notebook.cells.append(
            nbformat.v4.new_code_cell(cell.source, outputs=outputs, execution_count=count)
        )
    return notebook


def steps_as_code(cells: list[ExplorationCell]) -> str:
    """The exploration's code cells as one cell, each headed by its step's title as a comment
    (what the magic writes below its cell: a kernel cannot add Markdown cells)."""
    titles = {c.step: c.source for c in cells if c.kind == "markdown" and c.step}
    parts = []
    for cell in cells:
        if cell.kind != "code":
            continue
        heading = titles.get(cell.step, "").lstrip("# ").strip()
        parts.append(f"# {heading}\n{cell.source.strip()}" if heading else cell.source.strip())
    return "\n\n".join(parts)
