"""The executor of the panel: the browser runs the agent's code in the notebook's kernel.

`run(code, timeout)` sends `run_cell` over the WebSocket and blocks the session's thread
until the browser answers `run_result` with the cell's nbformat outputs. Past the timeout it
asks the browser to interrupt the kernel (never to restart it: the user's variables
survive) and reports a timeout. Installs and approved shell commands are run without adding
a cell; checks of which variables and files exist are silent probes.

A turn leaves one cell: its first code goes into a new cell, and each later code of the
same turn (a correction, or the same code again after an install) replaces it (`run_cell`'s
`replaces`), so that the notebook holds no trail of failed attempts. `new_cell()` makes the
next code start a cell of its own within the turn, and so does a Markdown cell
(`write_markdown`, an exploration's headings and summary): the browser inserts it without
running anything.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import ExecutorError
from ..executors.base import (
    INTERRUPTED,
    TIMEOUT,
    ExecutionResult,
    Executor,
    StreamOutput,
    installed_versions_expression,
    valid_identifiers,
)
from ..executors.figures import DESCRIBE_FIGURES_EXPRESSION
from .channel import CANCELLED, REPLIED, Channel, PendingReply
from .protocol import CODE, INSTALL, MARKDOWN, PROBE, SHELL, Interrupt, RunCell

log = logging.getLogger(__name__)

RUN = "run"


class BrowserExecutor(Executor):
    """Runs code through the browser connected on `channel`, for one notebook."""

    def __init__(
        self,
        channel: Channel,
        meta: dict[str, Any],
        *,
        interrupt_grace: float = 10.0,
        probe_timeout: float = 30.0,
    ):
        """`meta` (notebook, session, turn) is added to every request; the caller keeps it
        current."""
        self.channel = channel
        self.meta = meta
        self.interrupt_grace = interrupt_grace
        self.probe_timeout = probe_timeout
        self._purpose = CODE
        self._lock = threading.Lock()
        self._current: tuple[str, PendingReply] | None = None
        self._stop_requested = False
        # The turn (session, turn) and the id of the run whose cell the next code replaces.
        self._cell_run: tuple[tuple[Any, Any], str] | None = None
        # The turn and the id of its first run that made a cell (a Markdown cell may go above).
        self._first_run: tuple[tuple[Any, Any], str] | None = None

    # --- the Executor interface -------------------------------------------------------

    def run(self, code: str, timeout: float | None = None) -> ExecutionResult:
        return self._run(code, timeout, self._purpose)

    def install(
        self, packages: Sequence[str], options: Sequence[str] = (), timeout: float | None = 600.0
    ) -> ExecutionResult:
        with self._purpose_of(INSTALL):
            return super().install(packages, options, timeout)

    def run_shell(self, command: str, timeout: float | None = None) -> ExecutionResult:
        with self._purpose_of(SHELL):
            return super().run_shell(command, timeout)

    def defined_names(self, names: Iterable[str]) -> set[str]:
        wanted = valid_identifiers(names)
        if not wanted:
            return set()
        return self._probe(f"[name for name in {wanted!r} if name in get_ipython().user_ns]")

    def existing_files(self, paths: Iterable[str]) -> set[str]:
        wanted = sorted({str(path) for path in paths})
        if not wanted:
            return set()
        return self._probe(f"[path for path in {wanted!r} if __import__('os').path.exists(path)]")

    def user_names(self) -> list[str] | None:
        # Self-contained (no import of this package): what `values.user_names` leaves out
        # too, the hidden names and those that begin with an underscore.
        expression = (
            "[name for name in get_ipython().user_ns if not name.startswith('_') "
            "and name not in get_ipython().user_ns_hidden]"
        )
        try:
            return [str(name) for name in self._probe_value(expression)]
        except ExecutorError as error:
            log.info("cannot list the notebook kernel's names: %s", error)
            return None

    def kernel_context(
        self, budget: int = 3000, details: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """Through the code the panel sends (`kernel_code`), as silent probes."""
        from ..executors import kernel_code

        options = {"budget": budget, "details": [name for name in details if isinstance(name, str)]}
        try:
            return kernel_code.collect(
                lambda code: self._run(code, self.probe_timeout, PROBE), options
            )
        except ExecutorError as error:
            log.info("cannot describe the notebook kernel's variables: %s", error)
            return None

    def describe_figures(self) -> bool:
        try:
            return bool(self._probe_value(DESCRIBE_FIGURES_EXPRESSION))
        except ExecutorError as error:
            log.info("cannot have the notebook's kernel describe its figures: %s", error)
            return False

    def write_markdown(
        self, source: str, *, replace_last: bool = False, above_first: bool = False
    ) -> bool:
        """A `run_cell` of purpose "markdown": the browser puts the cell in and answers at
        once. The next code goes into a new cell below it."""
        turn = (self.meta.get("session"), self.meta.get("turn"))
        run_id = uuid.uuid4().hex
        replaces = above = None
        if replace_last and self._cell_run is not None and self._cell_run[0] == turn:
            replaces = self._cell_run[1]
        if above_first and self._first_run is not None and self._first_run[0] == turn:
            above = self._first_run[1]
        if self._first_run is None or self._first_run[0] != turn:
            self._first_run = (turn, run_id)
        self._cell_run = None
        reply = self.channel.expect(RUN, run_id)
        request = RunCell(
            id=run_id,
            **self.meta,
            code=source,
            timeout=None,
            purpose=MARKDOWN,
            replaces=replaces,
            above=above,
        )
        self.channel.send(request.to_dict())
        try:
            state = reply.wait(self.probe_timeout)
        finally:
            self.channel.forget(RUN, run_id)
        return state == REPLIED

    def new_cell(self) -> None:
        """The next code of this turn goes into a new cell instead of replacing the last."""
        self._cell_run = None

    def installed_versions(self, distributions: Iterable[str]) -> dict[str, str]:
        expression = installed_versions_expression(distributions)
        try:
            found = self._probe_value(expression)
        except ExecutorError as error:
            log.info("cannot list the kernel's installed packages: %s", error)
            return {}
        return {str(name): str(version) for name, version in dict(found).items()}

    _GUARD = "__import__('jupyter_autocoder.executors.guard', fromlist=['guard'])"

    def guard(self, action: str, arguments: dict[str, Any] | None = None) -> Any:
        """The guard of the user's variables, in the notebook's kernel, as a silent probe
        (the kernel needs this package importable; where it is not, None)."""
        arguments = dict(arguments or {})
        try:
            expression = f"{self._GUARD}.call(get_ipython(), {action!r}, {arguments!r})"
            return self._probe_value(expression)
        except ExecutorError as error:
            log.info("the guard of the notebook's variables cannot run: %s", error)
            return None

    def interrupt(self) -> None:
        """Ask the browser to interrupt the running cell (the user pressed stop)."""
        with self._lock:
            current = self._current
            self._stop_requested = current is not None
        if current is None:
            return
        run_id, reply = current
        self._send_interrupt(run_id, "stopped")
        reply.cut(self.interrupt_grace)

    # --- inside -----------------------------------------------------------------------

    @contextmanager
    def _purpose_of(self, purpose: str) -> Iterator[None]:
        previous, self._purpose = self._purpose, purpose
        try:
            yield
        finally:
            self._purpose = previous

    def _send_interrupt(self, run_id: str, reason: str) -> None:
        interrupt = Interrupt(id=run_id, notebook=self.meta.get("notebook"), reason=reason)
        self.channel.send(interrupt.to_dict())

    def _run(self, code: str, timeout: float | None, purpose: str) -> ExecutionResult:
        run_id = uuid.uuid4().hex
        reply = self.channel.expect(RUN, run_id)
        with self._lock:
            self._current = (run_id, reply)
            self._stop_requested = False
        started = time.monotonic()
        request = RunCell(
            id=run_id,
            **self.meta,
            code=code,
            timeout=timeout,
            purpose=purpose,
            replaces=self._replaced_run(run_id) if purpose == CODE else None,
        )
        self.channel.send(request.to_dict())
        timed_out = False
        try:
            state = reply.wait(timeout)
            if state == REPLIED or state == CANCELLED:
                pass
            elif not self._stop_requested:
                timed_out = True
                self._send_interrupt(run_id, "timeout")
                state = reply.wait(self.interrupt_grace)
        finally:
            self.channel.forget(RUN, run_id)
            with self._lock:
                self._current = None
                stopped = self._stop_requested
        seconds = time.monotonic() - started
        if state == REPLIED:
            result: ExecutionResult = reply.value
            result.duration = result.duration or seconds
        elif state == CANCELLED:
            result = _note(
                "The browser disconnected before the cell finished; its outcome is unknown.",
                seconds,
            )
            result.status = INTERRUPTED
        else:
            result = _note("The browser did not answer after the cell was interrupted.", seconds)
            result.status = INTERRUPTED
        if timed_out:
            result.timed_out, result.status = True, TIMEOUT
        elif stopped and state == REPLIED and not result.ok:
            result.status = INTERRUPTED
        return result

    def _replaced_run(self, run_id: str) -> str | None:
        """The earlier run of this turn whose cell the code of `run_id` replaces, if any;
        `run_id`'s cell is then the one the next code of the turn replaces."""
        turn = (self.meta.get("session"), self.meta.get("turn"))
        earlier = self._cell_run
        self._cell_run = (turn, run_id)
        if self._first_run is None or self._first_run[0] != turn:
            self._first_run = (turn, run_id)
        return earlier[1] if earlier is not None and earlier[0] == turn else None

    def _probe(self, expression: str) -> set[str]:
        return {str(item) for item in self._probe_value(expression)}

    def _probe_value(self, expression: str) -> Any:
        """The value of `expression` in the kernel, through JSON, run as a silent probe."""
        result = self._run(
            f"print(__import__('json').dumps({expression}))", self.probe_timeout, PROBE
        )
        lines = result.stdout.strip().splitlines()
        if not result.ok or not lines:
            error = result.error
            detail = f"{error.ename}: {error.evalue}" if error else result.status
            raise ExecutorError(f"checking the kernel's state failed ({detail})")
        try:
            return json.loads(lines[-1])
        except ValueError as error:
            raise ExecutorError(f"checking the kernel's state gave {lines[-1][:200]!r}") from error


def _note(text: str, seconds: float) -> ExecutionResult:
    return ExecutionResult(outputs=[StreamOutput("stderr", text)], duration=seconds)
