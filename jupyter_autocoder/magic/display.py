"""How `%%autocoder` shows its work in the cell's output.

In a notebook the answer is a Markdown display that is updated while it streams, and each
step (a run, an install, the end) adds a line below it; the code's own outputs appear where
they are made, between those lines. In a terminal (IPython without a kernel) the same goes
to stdout as plain text. Every display carries `text/plain` beside `text/markdown`, so
headless runs (nbclient, tests) and consoles read the same words. A stopped request ends
with `StoppedByUser`, shown as one line instead of a traceback.

The prints here are the magic's user-facing display, not logging.
"""

from __future__ import annotations

import html
import re
import sys
import time
import uuid
from typing import Any

# The streaming answer is redrawn at most this often: each redraw sends the whole text.
REDRAW_SECONDS = 0.15
# Terminal colours (CSI) and links (OSC 8) in IPython's tracebacks.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


class StoppedByUser(KeyboardInterrupt):
    """Ends a cell that the kernel's interrupt stopped, after the magic has said how it ended.

    It fails the cell as any interrupted cell fails (so cells queued after it, as in "run
    all", do not run), but is shown as one line instead of a traceback through the magic.
    """

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"KeyboardInterrupt: {self}"]


def in_kernel(shell: Any) -> bool:
    """True inside a Jupyter kernel (rich displays reach a notebook), False in a terminal."""
    return getattr(shell, "kernel", None) is not None


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class CellDisplay:
    """Writes the magic's progress into the cell's output."""

    def __init__(self, shell: Any, rich: bool | None = None):
        self.shell = shell
        self.rich = in_kernel(shell) if rich is None else rich
        self._answer = ""
        self._answer_header = ""
        self._answer_id: str | None = None
        self._last_redraw = 0.0

    # -- lines ------------------------------------------------------------------------

    def line(self, markdown: str, plain: str | None = None) -> None:
        """One line of status: Markdown in a notebook, `plain` (default: the same) elsewhere."""
        self.end_answer()
        plain = markdown if plain is None else plain
        if self.rich:
            from IPython.display import display

            display({"text/markdown": markdown, "text/plain": plain}, raw=True)
        else:
            print(plain, flush=True)

    def traceback(self, title: str, lines: list[str]) -> None:
        """A failed round's traceback, collapsed under `title`, in a notebook.

        Not an `error` output: a round that failed is not the cell's failure (the turn may
        recover), and notebook checkers flag every `error` output. In a terminal the shell
        has printed it already."""
        self.end_answer()
        if not self.rich or not lines:
            return
        from IPython.display import display

        text = ANSI_ESCAPE.sub("", "\n".join(line.rstrip("\n") for line in lines))
        collapsed = (
            f"<details><summary>{html.escape(title)}</summary>"
            f"<pre>{html.escape(text)}</pre></details>"
        )
        display({"text/html": collapsed, "text/plain": text}, raw=True)

    # -- the streaming answer ----------------------------------------------------------------

    def begin_answer(self, header: str) -> None:
        self.end_answer()
        self._answer = ""
        self._answer_header = header
        if self.rich:
            from IPython.display import display

            self._answer_id = uuid.uuid4().hex
            display(self._bundle(), raw=True, display_id=self._answer_id)
            self._last_redraw = time.monotonic()
        else:
            if header:
                print(header.replace("**", ""), flush=True)
            self._answer_id = "terminal"

    def add_to_answer(self, text: str) -> None:
        if self._answer_id is None:
            self.begin_answer("")
        self._answer += text
        if not self.rich:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        now = time.monotonic()
        if now - self._last_redraw >= REDRAW_SECONDS:
            self._redraw()
            self._last_redraw = now

    def end_answer(self) -> None:
        """Draw the whole answer once more (what arrived since the last redraw) and close it."""
        if self._answer_id is None:
            return
        if self.rich:
            self._redraw()
        elif self._answer and not self._answer.endswith("\n"):
            print(flush=True)
        self._answer_id = None

    def _bundle(self) -> dict[str, str]:
        answer = self._answer.strip()
        header = self._answer_header
        markdown = "\n\n".join(part for part in (header, answer) if part) or "…"
        plain = "\n\n".join(part for part in (header.replace("**", ""), answer) if part) or "…"
        return {"text/markdown": markdown, "text/plain": plain}

    def _redraw(self) -> None:
        from IPython.display import update_display

        update_display(self._bundle(), raw=True, display_id=self._answer_id)


class LoadProgress:
    """The progress of a model download or load, while the first request waits.

    A widget in a notebook (the kernel sends its updates while the cell runs); a line per
    change of state in a terminal, or where ipywidgets cannot be imported.
    """

    def __init__(self, display: CellDisplay):
        self.display = display
        self._widget: Any = None
        self._bar: Any = None
        self._label: Any = None
        self._last_text = ""
        if display.rich:
            try:
                import ipywidgets
                from IPython.display import display as show
            except ImportError:
                return
            self._bar = ipywidgets.FloatProgress(value=0.0, min=0.0, max=1.0, bar_style="info")
            self._label = ipywidgets.Label("Starting the model…")
            self._widget = ipywidgets.HBox([self._bar, self._label])
            show(self._widget)

    def update(self, status: dict[str, Any]) -> None:
        text, fraction = describe_load(status)
        if self._widget is not None:
            self._label.value = text
            if fraction is None:
                # No measure of a load's progress: a full, striped bar says "working".
                self._bar.value, self._bar.bar_style = 1.0, "info"
            else:
                self._bar.value = fraction
        elif text != self._last_text:
            self.display.line(f"_{text}_", text)
        self._last_text = text

    def close(self) -> None:
        if self._widget is not None:
            self._widget.close()
            self._widget = None


PHASES = ("downloading ", "assembling ")


def describe_load(status: dict[str, Any]) -> tuple[str, float | None]:
    """A sentence for a supervisor status while it downloads or loads, and the fraction done."""
    model = status.get("model") or "the model"
    progress = status.get("progress") or {}
    if status.get("state") == "downloading" and progress.get("total"):
        done, total = progress.get("done", 0), progress["total"]
        what = progress.get("file") or model
        # A phase said by the resolver ("assembling qwen2.5-coder-1.5b"), or a file's name.
        what = what[0].upper() + what[1:] if what.startswith(PHASES) else f"Downloading {what}"
        return f"{what}: {_size(done)} of {_size(total)} ({100 * done / total:.0f} %)", done / total
    if status.get("state") == "downloading":
        return f"Downloading {model}…", None
    return f"Loading {model} into llama.cpp…", None


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit in ("B", "KB") else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


def ask_yes_no(question: str) -> bool | None:
    """The user's answer through the kernel's input prompt; None where nobody can answer."""
    from IPython.core.error import StdinNotImplementedError

    try:
        answer = input(f"{question} [y/N] ")
    except (StdinNotImplementedError, EOFError):
        return None
    return answer.strip().lower() in ("y", "yes")


def review_plan(steps: list[str]) -> list[str] | None:
    """`--explore --review`: the plan's steps put to the user at the input prompt. Enter runs
    them all; numbers keep those steps ("1 3"); a line of text adds a step; "n" stops. Where
    nobody can answer (nbclient, a console without input), all of them run."""
    from IPython.core.error import StdinNotImplementedError

    try:
        answer = input(
            "Run this plan? Enter: all steps; numbers: only those (1 3); n: stop; "
            "or type a step to add: "
        ).strip()
    except (StdinNotImplementedError, EOFError):
        return steps
    if not answer:
        return steps
    if answer.lower() in ("n", "no", "stop"):
        return None
    numbers = answer.replace(",", " ").split()
    if all(number.isdigit() for number in numbers):
        return [steps[int(n) - 1] for n in numbers if 1 <= int(n) <= len(steps)]
    return [*steps, answer]


class EventView:
    """Shows a session's events (`agent/events.py`, told apart by `type`) in a `CellDisplay`."""

    def __init__(self, display: CellDisplay):
        self.display = display
        self._asked: set[str] = set()  # approvals put to the user at the input prompt

    def show(self, event: Any) -> None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)

    def _on_round(self, event: Any) -> None:
        header = f"**Round {event.round} of {event.max_rounds}**" if event.max_rounds > 1 else ""
        self.display.begin_answer(header)

    def _on_token(self, event: Any) -> None:
        self.display.add_to_answer(event.text)

    def _on_code(self, event: Any) -> None:
        if event.language == "sh":
            self.display.line(f"Running `{event.code}`", f"Running: {event.code}")
        elif event.rerun:
            self.display.line("Running the code again with the package installed.")
        else:
            self.display.end_answer()

    def _on_execution(self, event: Any) -> None:
        result = event.result
        if result is None or event.language == "sh":
            return
        seconds = f"{result.duration:.2f} s"
        if event.ok:
            self.display.line(
                f"✓ Ran without errors ({seconds}).", f"Ran without errors ({seconds})."
            )
        elif result.timed_out:
            text = f"Interrupted after {seconds}: the time limit (--timeout) was reached."
            self.display.line(f"⏱ {text}", text)
        elif result.ok and event.feedback:
            # It ran, but what the request named is not there: the feedback says what is missing.
            first = event.feedback.splitlines()[0]
            self.display.line(
                f"✗ {first} Sent back to the model.", f"{first} Sent back to the model."
            )
        elif result.error is not None and not result.interrupted:
            error = f"{result.error.ename}: {result.error.evalue}".strip()
            if len(error) > 300:
                error = error[:297] + "..."
            more = " Sent back to the model." if event.feedback else ""
            self.display.line(f"✗ `{error}`.{more}", f"Failed with {error}.{more}")
        if result.error is not None and not (result.interrupted and not result.timed_out):
            self.display.traceback(f"Traceback ({result.error.ename})", result.error.traceback)

    def _on_install(self, event: Any) -> None:
        names = ", ".join(event.packages) or event.command
        messages = {
            "requested": (
                f"Package needed: **{names}** ({event.message}).",
                f"Package needed: {names} ({event.message}).",
            ),
            "installed": (
                f"📦 Installed **{names}** with `{event.command}`.",
                f"Installed {names} with: {event.command}",
            ),
            "failed": (
                f"Installing **{names}** failed:\n```\n{event.message}\n```",
                f"Installing {names} failed:\n{event.message}",
            ),
            "declined": (
                f"Not installing **{names}**: declined.",
                f"Not installing {names}: declined.",
            ),
            "refused": (
                f"Not running `{event.command}`: {event.message}.",
                f"Not running {event.command}: {event.message}.",
            ),
            "disabled": (
                f"Not installing **{names}**: installing is turned off (--install never).",
                f"Not installing {names}: installing is turned off (--install never).",
            ),
            "present": (
                f"Not installing **{names}**: {event.message}.",
                f"Not installing {names}: {event.message}.",
            ),
        }
        if event.status in messages:
            self.display.line(*messages[event.status])

    def _on_approval(self, event: Any) -> None:
        # The input prompt showed what was asked; a refusal by the settings (shell_policy =
        # never) was never asked, so it is said here.
        request = event.request
        if event.status == "pending":
            self._asked.add(request.id)
        elif event.status == "declined" and request.id not in self._asked:
            text = f"Not running `{request.command}`: {request.reason}."
            self.display.line(text, text.replace("`", ""))

    def _on_variables_changed(self, event: Any) -> None:
        """The user's variables the code changed unasked: a notice per variable, with the
        way back where there is one, and why there is none for a change in place."""
        for change in event.changes:
            markdown, plain = variable_notice(change)
            self.display.line(f"⚠ {markdown}", plain)
        if event.mode == "strict":
            text = "The strict setting (variable_guard) makes this a failed round."
            self.display.line(f"_{text}_", text)

    def _on_error(self, event: Any) -> None:
        self.display.line(f"⚠ {event.message}", event.message)

    def done(self, event: Any, tokens_per_second: float | None, wrote_cell: bool) -> None:
        """The last line: how the request ended, in rounds, time and tokens per second."""
        facts = [plural(event.rounds, "round"), f"{event.seconds:.1f} s"]
        if event.completion_tokens:
            speed = f" at {tokens_per_second:.0f} tokens/s" if tokens_per_second else ""
            facts.append(f"{plural(event.completion_tokens, 'token')}{speed}")
        how = ", ".join(facts)
        below = " The code is in the new cell below." if wrote_cell else ""
        if event.reason == "success":
            text, mark = f"Done: the code ran without errors ({how}).{below}", "✅"
        elif event.reason == "stopped":
            text, mark = f"Stopped ({how}). Your variables are kept.", "⏹"
        elif event.reason == "max_rounds":
            below = " Its last code, which failed, is in the new cell below." if wrote_cell else ""
            text, mark = f"No clean run after {plural(event.rounds, 'round')} ({how}).{below}", "❌"
        else:
            text, mark = f"{event.message} ({how}).", "⚠"
        self.display.line(f"{mark} **{text}**", text)


class ExplorationView(EventView):
    """Shows an exploration (`agent/explore.py`): the plan, each step's heading and its
    rounds, the summary, how it ended. The plan's and the summary's tokens are not shown as
    they stream: the plan and the summary are shown whole."""

    def _on_token(self, event: Any) -> None:
        if event.round:  # a step's answer; round 0 is the plan or the summary
            super()._on_token(event)

    def _on_plan(self, event: Any) -> None:
        if any(step.status != "planned" for step in event.steps):
            return  # the plan again after a step: the step's own line said it
        listed = "\n".join(f"{n}. {step.title}" for n, step in enumerate(event.steps, 1))
        self.display.line(
            f"**The plan for {event.target}:**\n\n{listed}",
            f"The plan for {event.target}:\n{listed}",
        )

    def _on_step(self, event: Any) -> None:
        title = f"Step {event.step} of {event.steps}: {event.title}"
        if event.status == "running":
            self.display.line(f"### {title}", title)
        elif event.status != "done":
            self.display.line(
                f"⚠ **{title}: {event.status}.** {event.message}",
                f"{title}: {event.status}. {event.message}",
            )

    def _on_summary(self, event: Any) -> None:
        self.display.line(event.text, event.text)
        if event.unverified:
            numbers = ", ".join(event.unverified)
            self.display.line(
                f"⚠ Numbers no output shows, flagged: {numbers}",
                f"Numbers no output shows, flagged: {numbers}",
            )

    def _on_exploration_done(self, event: Any) -> None:
        text = f"{event.message} {plural(event.rounds, 'round')}, {event.seconds:.1f} s."
        mark = "✅" if event.reason == "success" else "⏹" if event.reason == "stopped" else "⚠"
        self.display.line(f"{mark} **{text}**", text)


def variable_notice(change: Any) -> tuple[str, str]:
    """A `VariableChange` (agent/guard.py) as a notice for the user: Markdown and plain."""
    name = change.name
    if change.change == "mutated":
        how = "; ".join(change.details) or "changed"
        head = f"The code changed your variable `{name}` in place: {how}."
        tail = (
            "This cannot be undone: the object itself was modified, and no copy was kept "
            "(copying every variable before every run would cost too much time and memory)."
        )
        return f"**{head}** {tail}", f"{head} {tail}"
    verb = "replaced" if change.change == "reassigned" else "deleted"
    now = f" (now: {change.now})" if change.now else ""
    was = f" (it held: {change.was})" if change.was else ""
    head = f"The code {verb} your variable `{name}`{now}"
    if change.restored:
        tail = f"It was put back as it was{was}."
    elif change.restorable:
        tail = (
            f"The old value{was} is kept until your next request: `%autocoder restore {name}` "
            "puts it back."
        )
    else:
        tail = ""
    plain = f"{head}. {tail}".strip()
    return f"**{head}.** {tail}".strip(), plain
