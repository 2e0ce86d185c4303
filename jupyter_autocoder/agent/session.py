"""The execution-verified loop: ask the model, run its code, feed back the real result, repeat.

A session is synchronous and yields typed events (see `events.py`); it knows nothing of
HTTP, widgets or kernels: it is handed a `ModelClient` and an `Executor`.

    session = AgentSession(client, executor, SessionSettings(max_rounds=3), approver=ask_user)
    for event in session.run("load data.csv into `df` and plot its columns", context=ctx):
        render(event)
    for event in session.continue_with("use a log scale"):   # the user's remark, history kept
        render(event)

`session.stop()` from another thread cancels the stream in progress (and interrupts running
code); a KeyboardInterrupt on the session's thread (the kernel's stop button) ends the turn
with a `done` event whose reason is "stopped".

A round is three steps, each a method: the answer (`_ask_model`); what it asks for besides
code, installs and shell commands (`_installs_and_shell`); and the code's run and its
judgement (`_run_and_judge`). An answer without any of these ends in `_no_code`. Each round
says with a `RoundOutcome` whether the turn goes on. Before the code runs, the shell commands
and installs inside it (`escapes.py`) go through the same policies and approver as those of
the answer (`_code_escapes`); one that is not allowed keeps the whole code from running.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import EngineError, ExecutorError
from ..executors.base import ErrorOutput, ExecutionResult, Executor
from . import events as ev
from .approval import AUTO, NEVER, ApprovalRequest, Approver, ask
from .escapes import INSTALL, ShellEscape, find_escapes
from .feedback import (
    ExpectedResults,
    attempt_key,
    describe_outputs,
    execution_feedback,
    expected_results,
    missing_results_feedback,
    repeat_feedback,
)
from .guard import VariableChange, VariableGuard, changes_feedback
from .package_index import NameReview, PackageIndex, PyPIIndex, review_names
from .packages import (
    InstallRequest,
    distribution_for,
    missing_module,
    pip_command,
    requirement_name,
)
from .parse import ParsedReply, parse_reply
from .prompts import NotebookContext, coerce_context, request_message
from .requested import changed_names
from .results import ResultCheck
from .settings import SessionSettings
from .streaming import Streamer
from .trace import TraceRetention, TraceWriter
from .verdict import ACCEPTED, Verdict, Verifier

if TYPE_CHECKING:  # the loop is handed a client; it does not import HTTP code itself
    from ..llm.client import ModelClient

log = logging.getLogger(__name__)

CODE_PLEASE = "Now give the complete corrected code in one ```python block."
CODE_AFTER_ACTIONS = "Now write the code for the request in a ```python block."
# pip options that send installs to another index than PyPI: PyPI is then not asked.
_OTHER_INDEX_OPTIONS = ("--index-url", "-i", "--no-index")

_T = TypeVar("_T")


@dataclass
class RoundRecord:
    """What happened in one round, for callers that look back (evaluation, tests)."""

    round: int
    answer: str = ""
    finish_reason: str | None = None
    code: str = ""
    result: ExecutionResult | None = None
    feedback: str = ""
    model_seconds: float = 0.0
    exec_seconds: float = 0.0
    total_seconds: float = 0.0
    completion_tokens: int = 0

    @property
    def overhead_seconds(self) -> float:
        """Time in the loop itself: the round minus the model's stream and the code's runs."""
        return max(self.total_seconds - self.model_seconds - self.exec_seconds, 0.0)


@dataclass(frozen=True)
class RoundOutcome:
    """How a round ended: the turn goes on (`reason` None), or it ends with a `done` event
    of this reason, success, message and code."""

    reason: str | None = None
    success: bool = False
    message: str = ""
    code: str | None = None

    @property
    def ends_turn(self) -> bool:
        return self.reason is not None


GO_ON = RoundOutcome()
"""The round's feedback is in the conversation: the next round answers it."""


class _Stop(Exception):
    """Raised inside the loop when stop() was asked for; ends the turn as "stopped"."""

    def __init__(self, message: str = "Stopped."):
        super().__init__(message)


class AgentSession:
    """One conversation with the model about one notebook, run round by round.

    The session never closes the client it is handed: whoever made the client closes it
    (after `close()`, which ends the session's own trace). `settings` may be replaced by a
    changed copy between turns (the panel sets each turn's `max_rounds` so); `trace`,
    `trace_dir`, `system_prompt` and `package_index_url` take effect when the session is made.
    `package_index` (any object with `lookup(name)`) overrides `package_index_url`.
    `code_required`: an answer of prose alone is asked again for code while rounds are left
    (an exploration's step); otherwise prose ends the turn unless a round failed before.
    """

    def __init__(
        self,
        client: ModelClient,
        executor: Executor,
        settings: SessionSettings = SessionSettings(),  # noqa: B008 - frozen
        *,
        approver: Approver | None = None,
        verifier: Verifier | None = None,
        session_id: str | None = None,
        package_index: PackageIndex | None = None,
        code_required: bool = False,
    ):
        self.client = client
        self.code_required = code_required
        self.executor = executor
        self.settings = settings
        self.approver = approver
        self.verifier = verifier
        if package_index is None and settings.package_index_url:
            package_index = PyPIIndex(settings.package_index_url)
        self.package_index = package_index
        retention = TraceRetention(settings.trace_max_mb, settings.trace_max_age_days)
        self.tracer = (
            TraceWriter(settings.trace_dir, session_id, retention) if settings.trace else None
        )
        self.session_id = self.tracer.session_id if self.tracer else (session_id or "")

        self.messages: list[dict[str, str]] = []
        self.records: list[RoundRecord] = []
        self.final_code: str | None = None  # the last code that ran cleanly and was accepted
        self.last_code: str | None = None  # the last code that ran, clean or not
        self.declined_code: str | None = None  # code the user chose not to run (confirm_run)
        self.completion_tokens = 0
        self._expected = ExpectedResults()
        # This turn's failed code (by attempt_key) -> (round, result, feedback). Per turn: by the
        # next one the user may have changed the kernel, and the same code may then work.
        self._failed_attempts: dict[str, tuple[int, ExecutionResult, str]] = {}
        self._retry_next = False  # the last round failed: sample the next answer
        self._fresh_next = False  # repeated or failed twice: ask afresh, without the failed code
        self._turn_start = 0  # messages up to this turn's request
        self._turn_failures: list[str] = []  # what went wrong in this turn's rounds
        self._pending_note = ""  # the last result, told to the model with the next user turn
        self._declined: set[str] = set()
        # The clean code that a re-check asked the model to look at again, and its result:
        # the next answer confirms it (no code, or the same code: not run again) or replaces it.
        self._rechecked: tuple[str, ExecutionResult] | None = None
        self._result_check = ResultCheck()
        self._guard = VariableGuard(settings.variable_guard)
        self._turn_exempt: list[str] = []  # names this turn may change: the guard leaves them
        self._turn_request = ""
        self._declined_commands: set[str] = set()  # shell commands the user said no to
        self._streamer = Streamer()  # the answer in progress, and the turn's stop
        self._lock = threading.Lock()
        self._executing = False
        self._trace(
            "session",
            session_id=self.session_id,
            model=getattr(client, "model", None),
            max_rounds=settings.max_rounds,
            install_policy=settings.install_policy,
            exec_timeout=settings.exec_timeout,
            chat_params=settings.request_params(),
        )
        self._append("system", settings.system_prompt)

    @classmethod
    def from_config(
        cls,
        config: Any,
        client: ModelClient,
        executor: Executor,
        *,
        approver: Approver | None = None,
        verifier: Verifier | None = None,
        session_id: str | None = None,
        package_index: PackageIndex | None = None,
        **setting_overrides: Any,
    ) -> AgentSession:
        """A session with `SessionSettings.from_config(config, **setting_overrides)`."""
        settings = SessionSettings.from_config(config, **setting_overrides)
        return cls(
            client,
            executor,
            settings,
            approver=approver,
            verifier=verifier,
            session_id=session_id,
            package_index=package_index,
        )

    # -- the public face -----------------------------------------------------------

    def run(
        self,
        request: str,
        context: NotebookContext | dict[str, Any] | None = None,
        *,
        expect_names: Iterable[str] = (),
        expect_files: Iterable[str] = (),
    ) -> Iterator[ev.AgentEvent]:
        """Work on `request` until its code runs cleanly, or the round limit; yields events.
        `expect_names` must exist afterwards; they and the names the request asks to make or
        change are the ones the guard of the user's variables lets the code change."""
        self._expect_for_turn(request, expect_names, expect_files)
        content = request_message(request, coerce_context(context), self.settings.context_budget)
        self._turn_request = request
        return self._turn(content)

    def continue_with(
        self,
        remark: str,
        context: NotebookContext | dict[str, Any] | None = None,
        *,
        expect_names: Iterable[str] = (),
        expect_files: Iterable[str] = (),
    ) -> Iterator[ev.AgentEvent]:
        """A further turn with the user's own remark; the history (and the last result) is
        kept."""
        self._expect_for_turn(remark, expect_names, expect_files)
        content = request_message(remark, coerce_context(context), self.settings.context_budget)
        self._turn_request = remark
        return self._turn(content)

    def stop(self) -> None:
        """Stop the turn in progress: from any thread, any number of times."""
        self._streamer.stop()
        with self._lock:
            executing = self._executing
        if executing:
            try:
                self.executor.interrupt()
            except Exception:
                log.exception("interrupting the executor failed")

    @property
    def stopped(self) -> bool:
        return self._streamer.stopped

    @property
    def trace_path(self) -> str | None:
        return str(self.tracer.path) if self.tracer else None

    def close(self) -> None:
        """End the trace. The client and the executor stay open: they belong to the caller."""
        if self.tracer:
            self.tracer.close()

    # -- one turn ----------------------------------------------------------------------

    def _turn(self, content: str) -> Iterator[ev.AgentEvent]:
        self._streamer.begin()
        if self._pending_note:
            content = f"{self._pending_note}\n\n{content}"
            self._pending_note = ""
        self._append("user", content)
        started = time.perf_counter()
        tokens_before = self.completion_tokens
        state = _TurnState()
        self._retry_next = self._fresh_next = False
        self._turn_start = len(self.messages)
        self._turn_failures = []
        self._failed_attempts = {}
        self._rechecked = None
        if self.settings.check_results:
            self._result_check.start(self.executor, self._turn_request)
        self._guard = VariableGuard(self.settings.variable_guard)
        self._guard.start(self.executor, self._turn_exempt)

        def done(reason: str, success: bool, message: str, code: str | None = None) -> ev.DoneEvent:
            event = ev.DoneEvent(
                round=state.round,
                reason=reason,
                success=success,
                code=code,
                answer=state.answer,
                message=message,
                rounds=state.round,
                completion_tokens=self.completion_tokens - tokens_before,
                seconds=round(time.perf_counter() - started, 4),
                trace_path=self.trace_path,
            )
            fields = {k: v for k, v in event.to_dict().items() if k != "type"}
            self._trace("done", **fields, messages=len(self.messages))
            return event

        try:
            for number in range(1, self.settings.max_rounds + 1):
                state.round = number
                outcome = yield from self._round(number, state)
                if outcome.ends_turn:
                    yield done(outcome.reason, outcome.success, outcome.message, outcome.code)
                    return
            rounds = self.settings.max_rounds
            yield done(
                ev.MAX_ROUNDS,
                False,
                f"No clean run after {rounds} round{'s' if rounds > 1 else ''}.",
            )
        except (_Stop, KeyboardInterrupt) as stop:
            self._streamer.cancel()
            yield done(ev.STOPPED, False, str(stop) if isinstance(stop, _Stop) else "Stopped.")
        except EngineError as error:
            yield self._error_event(state.round, error)
            yield done(ev.ERROR, False, f"The model engine failed: {error}")
        except ExecutorError as error:
            yield self._error_event(state.round, error)
            yield done(ev.ERROR, False, f"Running the code failed: {error}")
        finally:
            self._streamer.cancel()

    # -- one round ---------------------------------------------------------------------

    def _round(
        self, number: int, state: _TurnState
    ) -> Generator[ev.AgentEvent, None, RoundOutcome]:
        """One round: the model's answer, then what it asks for; says whether the turn ends."""
        record = RoundRecord(number)
        self.records.append(record)
        round_started = time.perf_counter()
        try:
            yield ev.RoundEvent(round=number, max_rounds=self.settings.max_rounds)
            self._trace("round", round=number)
            answer = yield from self._ask_model(record)
            state.answer = answer
            self._check_stop()
            self._append("assistant", answer)
            parsed = parse_reply(answer)
            last_round = number >= self.settings.max_rounds
            rechecked, self._rechecked = self._rechecked, None
            if rechecked is not None and self._confirms(parsed, rechecked[0]):
                return (yield from self._confirmed(record, *rechecked))
            if not parsed.has_actions:
                return self._no_code(record, answer, parsed, last_round)
            notes = yield from self._installs_and_shell(parsed, number)
            if not parsed.code.strip():
                return self._actions_only(record, notes, last_round)
            refusal = yield from self._code_escapes(parsed.code, number)
            if refusal:
                return self._not_run(record, parsed.code, [*notes, refusal], last_round)
            return (yield from self._run_and_judge(record, parsed.code, notes, last_round))
        finally:
            record.total_seconds = time.perf_counter() - round_started
            self._trace(
                "timing",
                round=number,
                model_seconds=round(record.model_seconds, 6),
                exec_seconds=round(record.exec_seconds, 6),
                total_seconds=round(record.total_seconds, 6),
                completion_tokens=record.completion_tokens,
            )

    @staticmethod
    def _confirms(parsed: ParsedReply, code: str) -> bool:
        """Whether an answer to a re-check keeps the code: no code at all (DONE, or prose that
        agrees), or the same code again."""
        if not parsed.has_actions:
            return True
        return (
            not parsed.installs
            and not parsed.shell_commands
            and attempt_key(parsed.code) == attempt_key(code)
        )

    def _confirmed(
        self, record: RoundRecord, code: str, result: ExecutionResult
    ) -> Generator[ev.AgentEvent, None, RoundOutcome]:
        """The model kept the code it was asked to look at again: accepted as it ran, not run
        a second time (code that changes data in place would not survive a second run)."""
        record.code = code
        record.result = result
        self._trace("confirmed", round=record.round)
        yield ev.ExecutionEvent(round=record.round, result=result, ok=True)
        return self._accept(code, result, record.round)

    def _accept(self, code: str, result: ExecutionResult, number: int) -> RoundOutcome:
        self.final_code = code
        self._pending_note = "Your last code ran without errors.\n" + describe_outputs(result, 1000)
        message = f"The code ran without errors in round {number}."
        return RoundOutcome(ev.SUCCESS, True, message, code)

    def _no_code(
        self, record: RoundRecord, answer: str, parsed: ParsedReply, last_round: bool
    ) -> RoundOutcome:
        """An answer with nothing to run, install or execute: ask again, or end the turn."""
        if not last_round:
            if parsed.problems:
                return self._next_round(record, "\n".join(parsed.problems))
            if self._turn_failures and answer.strip():
                # After a failure, prose alone is most often the diagnosis without the fix.
                return self._next_round(record, CODE_PLEASE)
            if self.code_required and answer.strip():
                # A request that only code can carry out (an exploration's step).
                return self._next_round(record, CODE_AFTER_ACTIONS)
        if not answer.strip():
            return RoundOutcome(ev.NO_CODE, False, "The model gave an empty answer.")
        message = "The answer has no code to run."
        if parsed.problems:
            message += " " + " ".join(parsed.problems)
        return RoundOutcome(ev.NO_CODE, False, message)

    def _installs_and_shell(
        self, parsed: ParsedReply, number: int
    ) -> Generator[ev.AgentEvent, None, list[str]]:
        """The installs and shell commands the answer asks for; a note for the model on each
        (after the answer's own parse problems)."""
        notes: list[str] = list(parsed.problems)
        for install in parsed.installs:
            note = yield from self._requested_install(install, number)
            notes.append(note)
            self._check_stop()
        for command in parsed.shell_commands:
            note = yield from self._shell_command(command, number)
            notes.append(note)
            self._check_stop()
        return notes

    def _actions_only(
        self, record: RoundRecord, notes: list[str], last_round: bool
    ) -> RoundOutcome:
        """The answer installed or ran commands but has no code: ask for it."""
        feedback = "\n".join([*notes, CODE_AFTER_ACTIONS])
        if last_round:
            self._pending_note = feedback
            return RoundOutcome(
                ev.NO_CODE, False, "The answer only installed packages or ran commands."
            )
        return self._next_round(record, feedback)

    def _run_and_judge(
        self, record: RoundRecord, code: str, notes: list[str], last_round: bool
    ) -> Generator[ev.AgentEvent, None, RoundOutcome]:
        """Run the answer's code (installing a missing module and running again), then judge
        the result: accepted ends the turn, else its feedback goes to the next round."""
        number = record.round
        record.code = code
        repeated = self._failed_attempts.get(attempt_key(code))
        if repeated is not None:
            return (yield from self._repeated(record, repeated, last_round))
        self._timed(record, lambda: self._guard.before(self.executor))
        result = yield from self._execute(code, number, record)
        result = yield from self._install_missing_and_rerun(code, result, record, notes)
        changes = self._timed(record, lambda: self._guard.after(self.executor))
        changed = self._changed_variables(number, changes)
        record.result = result
        self.last_code = code
        if result.interrupted or (self.stopped and not result.ok):
            yield ev.ExecutionEvent(round=number, result=result, ok=False)
            yield from changed
            raise _Stop

        verdict = self._with_changes(self._verdict(code, result, number, last_round), changes)
        if verdict.accepted:
            yield ev.ExecutionEvent(round=number, result=result, ok=True)
            yield from changed
            outcome = self._accept(code, result, number)
            if changes:  # told with the user's next turn
                self._pending_note += "\n\n" + changes_feedback(changes, strict=False)
            return outcome
        feedback = "\n\n".join([*notes, verdict.feedback])
        if verdict.recheck:
            self._rechecked = (code, result)
        else:
            self._failed_attempts.setdefault(attempt_key(code), (number, result, verdict.feedback))
            self._turn_failures.append(verdict.feedback)
            self._retry_next = True
            # One correction in context; after that, a clean start does better than more of
            # the same.
            self._fresh_next = len(self._turn_failures) >= 2
        yield ev.ExecutionEvent(round=number, result=result, ok=False, feedback=feedback)
        yield from changed
        return self._failed_round(record, feedback, last_round)

    def _changed_variables(
        self, number: int, changes: list[VariableChange]
    ) -> list[ev.VariablesChangedEvent]:
        """The event that tells the user of `changes` (none when there are none); traced."""
        if not changes:
            return []
        self._trace(
            "guard",
            round=number,
            mode=self._guard.mode,
            changes=[change.to_dict() for change in changes],
        )
        return [ev.VariablesChangedEvent(round=number, changes=changes, mode=self._guard.mode)]

    def _with_changes(self, verdict: Verdict, changes: list[VariableChange]) -> Verdict:
        """The verdict with the user's variables the run changed: told to the model with
        the round's feedback; in strict mode a change fails a round that was accepted."""
        if not changes:
            return verdict
        strict = self._guard.strict
        if verdict.accepted:
            return Verdict(changes_feedback(changes, strict)) if strict else verdict
        told = f"{verdict.feedback}\n\n{changes_feedback(changes, strict=False)}"
        return Verdict(told, recheck=verdict.recheck and not strict)

    def _repeated(
        self,
        record: RoundRecord,
        earlier: tuple[int, ExecutionResult, str],
        last_round: bool,
    ) -> Generator[ev.AgentEvent, None, RoundOutcome]:
        """Code that failed earlier in this turn: running it again would only give the same
        failure, so say so, and ask for another way."""
        earlier_round, earlier_result, earlier_feedback = earlier
        record.result = earlier_result
        feedback = repeat_feedback(earlier_round, earlier_feedback)
        self._trace("repeat", round=record.round, earlier_round=earlier_round)
        yield ev.ExecutionEvent(
            round=record.round, result=earlier_result, ok=False, feedback=feedback
        )
        self._retry_next = self._fresh_next = True
        return self._failed_round(record, feedback, last_round)

    def _install_missing_and_rerun(
        self, code: str, result: ExecutionResult, record: RoundRecord, notes: list[str]
    ) -> Generator[ev.AgentEvent, None, ExecutionResult]:
        """While the run fails on a module that can be installed: install it and run again.
        A note on an install that did not happen is added to `notes`."""
        number = record.round
        for _ in range(self.settings.max_installs_per_round):
            error = result.error
            module = missing_module(error.ename, error.evalue) if error else None
            if module is None:
                break
            yield ev.ExecutionEvent(round=number, result=result, ok=False)
            installed, note = yield from self._install_missing(module, number, result)
            if not installed:
                if note:
                    notes.append(note)
                break
            self._check_stop()
            result = yield from self._execute(code, number, record, rerun=True)
        return result

    def _verdict(
        self, code: str, result: ExecutionResult, number: int, last_round: bool = False
    ) -> Verdict:
        """What the model is told of a run: its error; after a clean run, what the request
        names and is not there, the verifier's word, or (with `check_results`, before the
        last round) what the code left that does not match the request's words. Accepted
        when there is nothing."""
        settings = self.settings
        if not result.ok:
            feedback = execution_feedback(result, settings.exec_timeout, settings.feedback_chars)
            return Verdict(feedback)
        record = self.records[-1]
        if settings.check_expected and self._expected:
            names = self._expected.names
            files = self._expected.files
            present_names = (
                self._timed(record, lambda: self.executor.defined_names(names)) if names else set()
            )
            present_files = (
                self._timed(record, lambda: self.executor.existing_files(files)) if files else set()
            )
            missing_names = [name for name in names if name not in present_names]
            missing_files = [path for path in files if path not in present_files]
            if missing_names or missing_files:
                return Verdict(missing_results_feedback(missing_names, missing_files))
        if self.verifier is not None:
            verifier = self.verifier
            verdict = self._timed(record, lambda: verifier(code, result, self.executor, number))
            if not verdict.accepted:
                return verdict
        if settings.check_results and not last_round:
            check = self._result_check
            names = self._expected.names
            told = self._timed(record, lambda: check.feedback(self.executor, result, names))
            if told:
                self._trace("result_check", round=number, feedback=told)
                return Verdict(told)
        return ACCEPTED

    def _next_round(self, record: RoundRecord, feedback: str) -> RoundOutcome:
        record.feedback = feedback
        self._append("user", feedback)
        return GO_ON

    def _failed_round(self, record: RoundRecord, feedback: str, last_round: bool) -> RoundOutcome:
        """Feedback for the next round; after the last, kept for the user's next turn (the
        turn ends as max_rounds)."""
        if last_round:
            self._pending_note = feedback
            return GO_ON
        return self._next_round(record, feedback)

    # -- the model -------------------------------------------------------------------------

    def _ask_model(self, record: RoundRecord) -> Generator[ev.AgentEvent, None, str]:
        params = self.settings.request_params()
        if self._retry_next and self.settings.retry_temperature is not None:
            params["temperature"] = self.settings.retry_temperature
        messages = self._fresh_messages() if self._fresh_next else list(self.messages)
        self._retry_next = self._fresh_next = False
        stream = self.client.stream_chat(messages, **params)
        try:
            for piece in self._streamer.stream(stream):
                yield ev.TokenEvent(round=record.round, text=piece)
        finally:
            record.model_seconds = stream.seconds
            record.completion_tokens = stream.completion_tokens
            record.finish_reason = stream.finish_reason
            self.completion_tokens += stream.completion_tokens
        record.answer = stream.text
        return stream.text

    def _fresh_messages(self) -> list[dict[str, str]]:
        """The conversation up to this turn's request, which is told what failed so far but not
        shown the failed code: a model that keeps copying its own answer gets a clean start."""
        messages = [dict(message) for message in self.messages[: self._turn_start]]
        if not messages or messages[-1]["role"] != "user" or not self._turn_failures:
            return list(self.messages)
        listed = "\n\n".join(
            f"Attempt {n}:\n{text}" for n, text in enumerate(self._turn_failures[-2:], 1)
        )
        messages[-1]["content"] += (
            f"\n\nEarlier answers to this request failed:\n\n{listed}\n\n"
            "Start again from the request: write a new solution from scratch, not a patch of those."
        )
        self._trace("fresh_start", round=len(self.records), failures=len(self._turn_failures))
        return messages

    # -- running code ----------------------------------------------------------------------

    def _execute(
        self, code: str, number: int, record: RoundRecord, rerun: bool = False
    ) -> Generator[ev.AgentEvent, None, ExecutionResult]:
        yield ev.CodeEvent(round=number, code=code, rerun=rerun)
        self._trace("code", round=number, code=code, rerun=rerun)
        self._check_stop()
        if self.settings.confirm_run and not rerun:
            request = ApprovalRequest(
                kind="code", command=code, reason="the model's code, to run in your kernel"
            )
            if not (yield from self._approve(request, number)):
                self.declined_code = code
                raise _Stop("Not run: you chose not to run the code.")
        timeout = self.settings.exec_timeout
        result = self._timed(record, lambda: self.executor.run(code, timeout=timeout))
        self._trace("execution", round=number, result=result.to_dict(include_binary=False))
        return result

    def _timed(self, record: RoundRecord, action: Callable[[], _T]) -> _T:
        """Run `action` as execution time (interruptible by stop(), not counted as overhead)."""
        with self._lock:
            self._executing = True
        started = time.perf_counter()
        try:
            return action()
        finally:
            record.exec_seconds += time.perf_counter() - started
            with self._lock:
                self._executing = False

    def _shell_command(self, command: str, number: int) -> Generator[ev.AgentEvent, None, str]:
        request = ApprovalRequest(
            kind="shell", command=command, reason="a shell command in the model's answer"
        )
        refusal = yield from self._shell_refusal(request, number)
        if refusal:
            return f"`{command}` was not run: {refusal}; do without it."
        yield ev.CodeEvent(round=number, code=command, language="sh")
        self._trace("shell", round=number, command=command)
        record = self.records[-1]
        timeout = self.settings.exec_timeout
        result = self._timed(record, lambda: self.executor.run_shell(command, timeout=timeout))
        self._trace("execution", round=number, result=result.to_dict(include_binary=False))
        yield ev.ExecutionEvent(round=number, result=result, ok=result.ok, language="sh")
        summary = describe_outputs(result, 1000)
        if result.ok:
            return f"`{command}` ran." + (f" Output:\n{summary}" if summary else "")
        return f"`{command}` failed:\n" + execution_feedback(result, timeout, 1500)

    def _shell_refusal(
        self, request: ApprovalRequest, number: int
    ) -> Generator[ev.AgentEvent, None, str]:
        """Why a shell command may not run ("" when it may): shell_policy, an earlier no, or
        the approver's answer now."""
        policy = self.settings.shell_policy
        if policy == NEVER:
            request.reason += "; refused: shell commands are turned off (shell_policy = never)"
            yield ev.ApprovalEvent(round=number, request=request, status="declined")
            self._trace("approval", round=number, request=request.to_dict(), approved=False)
            return "shell commands are turned off here (shell_policy = never)"
        if request.command in self._declined_commands:
            return "the user declined it earlier in this session"
        if policy == AUTO:
            return ""
        if (yield from self._approve(request, number)):
            return ""
        self._declined_commands.add(request.command)
        return "the user did not allow it"

    def _approve(
        self, request: ApprovalRequest, number: int
    ) -> Generator[ev.AgentEvent, None, bool]:
        yield ev.ApprovalEvent(round=number, request=request, status="pending")
        approved = ask(self.approver, request)
        self._trace("approval", round=number, request=request.to_dict(), approved=approved)
        status = "approved" if approved else "declined"
        yield ev.ApprovalEvent(round=number, request=request, status=status)
        return approved

    # -- shell commands and installs inside the code ---------------------------------------

    def _code_escapes(self, code: str, number: int) -> Generator[ev.AgentEvent, None, str]:
        """Each shell command and install the code runs, put to its policy and the approver;
        why the code may not run ("" when it may). The first refusal ends the asking."""
        for escape in find_escapes(code):
            if escape.kind == INSTALL:
                refusal = yield from self._escape_install(escape, number)
            else:
                request = ApprovalRequest(
                    kind="shell",
                    command=escape.command,
                    reason=f"inside the model's Python code ({escape.where})",
                    warning=escape.warning,
                )
                refusal = yield from self._shell_refusal(request, number)
                if refusal:
                    refusal = (
                        f"it runs the shell command `{escape.command}` ({escape.where}): "
                        f"{refusal}. Do without it."
                    )
            if refusal:
                self._trace("not_run", round=number, command=escape.command, reason=refusal)
                return f"Your code was not run: {refusal}"
        return ""

    def _escape_install(
        self, escape: ShellEscape, number: int
    ) -> Generator[ev.AgentEvent, None, str]:
        install = escape.install or InstallRequest(line=escape.command)
        packages = install.packages
        if not install.valid:
            yield ev.InstallEvent(
                round=number,
                packages=packages,
                command=escape.command,
                status="refused",
                message=f"refused: {install.reason}" if install.reason else "refused",
                rejected=install.rejected,
            )
            return (
                f"it installs with `{escape.command}` ({escape.where}), and "
                f"{install.reason or 'that is not a valid install'}. Only plain package names, "
                "optionally with a version, can be installed: in a ```sh block of their own."
            )
        refusal = yield from self._install_refusal(packages, escape.command, number)
        if not refusal:
            reason = f"inside the model's Python code ({escape.where}): installed as it runs"
            approved = yield from self._install_approved(packages, escape.command, reason, number)
            refusal = "" if approved else self._declined_note(packages)
        if not refusal:
            return ""
        return f"it installs {', '.join(packages)} with `{escape.command}`. {refusal}"

    def _not_run(
        self, record: RoundRecord, code: str, notes: list[str], last_round: bool
    ) -> RoundOutcome:
        """Code that was not run, because a command or install in it was not allowed."""
        record.code = code
        feedback = "\n".join(notes)
        self._turn_failures.append(feedback)
        self._retry_next = True
        return self._failed_round(record, feedback, last_round)

    # -- installs ------------------------------------------------------------------------------

    def _requested_install(
        self, install: InstallRequest, number: int
    ) -> Generator[ev.AgentEvent, None, str]:
        if not install.valid:
            message = f"refused: {install.reason}" if install.reason else "refused"
            yield ev.InstallEvent(
                round=number,
                packages=install.packages,
                command=install.line,
                status="refused",
                message=message,
                rejected=install.rejected,
            )
            self._trace(
                "install",
                round=number,
                line=install.line,
                status="refused",
                rejected=install.rejected,
            )
            return (
                f"`{install.line}` was not run: {install.reason or 'not a valid install'}. "
                "Only plain package names, optionally with a version, can be installed."
            )
        present, present_note = yield from self._already_installed(install, number)
        missing = [package for package in install.packages if package not in present]
        if not missing:
            return present_note
        reason = f"the model asked: {install.line}"
        _, note = yield from self._install(missing, number, reason)
        return "\n".join(filter(None, [present_note, note]))

    def _already_installed(
        self, install: InstallRequest, number: int
    ) -> Generator[ev.AgentEvent, None, tuple[list[str], str]]:
        """Those of the requested packages (plain names, no version asked for) that the
        kernel has already, and what the model is told of them: their versions, and the
        error this turn's last run really had. Nobody is asked to install them."""
        plain = [package for package in install.packages if requirement_name(package) == package]
        if not plain:
            return [], ""
        versions = self._timed(self.records[-1], lambda: self.executor.installed_versions(plain))
        present = [package for package in plain if package in versions]
        if not present:
            return [], ""
        listed = ", ".join(f"{package} {versions[package]}" for package in present)
        yield ev.InstallEvent(
            round=number,
            packages=present,
            command=install.line,
            status="present",
            message=f"installed already: {listed}",
        )
        self._trace("install", round=number, packages=present, status="present", versions=versions)
        note = (
            f"{listed} {'is' if len(present) == 1 else 'are'} installed already: nothing was run."
        )
        error = self._last_error_of_turn()
        if error is not None:
            note += f" The error to fix is {error.ename}: {error.evalue}"
        return present, note

    def _last_error_of_turn(self) -> ErrorOutput | None:
        """The error of this turn's last failed run before the current round, if any."""
        for record in reversed(self.records):
            if record is not self.records[-1] and record.result is not None:
                if record.result.error is not None:
                    return record.result.error
            if record.round == 1:
                return None
        return None

    def _install_missing(
        self, module: str, number: int, result: ExecutionResult
    ) -> Generator[ev.AgentEvent, None, tuple[bool, str]]:
        package = distribution_for(module)
        if package is None:
            return False, ""  # the error itself is the feedback
        error = result.error
        reason = f"{error.ename}: {error.evalue}" if error else f"module {module} is missing"
        return (yield from self._install([package], number, reason))

    def _install(
        self, packages: list[str], number: int, reason: str
    ) -> Generator[ev.AgentEvent, None, tuple[bool, str]]:
        names = ", ".join(packages)
        options = list(self.settings.pip_options)
        command = pip_command(packages, options)
        refusal = yield from self._install_refusal(packages, command, number)
        if refusal:
            return False, refusal
        yield ev.InstallEvent(
            round=number, packages=packages, command=command, status="requested", message=reason
        )
        if not (yield from self._install_approved(packages, command, reason, number)):
            yield ev.InstallEvent(
                round=number, packages=packages, command=command, status="declined"
            )
            self._trace("install", round=number, packages=packages, status="declined")
            return False, self._declined_note(packages)
        self._check_stop()
        record = self.records[-1]
        timeout = self.settings.install_timeout
        result = self._timed(
            record, lambda: self.executor.install(packages, options, timeout=timeout)
        )
        status = "installed" if result.ok else "failed"
        output = describe_outputs(result, 1500)
        self._trace(
            "install",
            round=number,
            packages=packages,
            command=command,
            status=status,
            result=result.to_dict(include_binary=False),
        )
        yield ev.InstallEvent(
            round=number,
            packages=packages,
            command=command,
            status=status,
            message="" if result.ok else output,
        )
        if result.ok:
            return True, f"Installed {names}."
        return False, f"`{command}` failed:\n{output}"

    def _install_refusal(
        self, packages: list[str], command: str, number: int
    ) -> Generator[ev.AgentEvent, None, str]:
        """Why `packages` may not be installed without asking anyone ("" when they may be asked
        for): install_policy is never, or the user declined them earlier."""
        names = ", ".join(packages)
        if self.settings.install_policy == NEVER:
            yield ev.InstallEvent(
                round=number,
                packages=packages,
                command=command,
                status="disabled",
                message="installing packages is turned off (install_policy = never)",
            )
            return (
                f"{names} cannot be installed here (installing is turned off). "
                "Solve the task with the packages that are installed."
            )
        if any(requirement_name(p).lower() in self._declined for p in packages):
            yield ev.InstallEvent(
                round=number,
                packages=packages,
                command=command,
                status="declined",
                message="declined earlier in this session",
            )
            return self._declined_note(packages)
        return ""

    def _install_approved(
        self, packages: list[str], command: str, reason: str, number: int
    ) -> Generator[ev.AgentEvent, None, bool]:
        """Under "auto" yes, unless a name has a warning; else the approver's answer, with
        the warnings and what the index knows of the names."""
        review = self._review(packages)
        if self.settings.install_policy == AUTO and not review.warning:
            return True
        request = ApprovalRequest(
            kind="install",
            command=command,
            packages=list(packages),
            reason=reason,
            warning=review.warning,
            about=review.about,
        )
        approved = yield from self._approve(request, number)
        if not approved:
            self._declined.update(requirement_name(p).lower() for p in packages)
        return approved

    def _review(self, packages: list[str]) -> NameReview:
        """Near misses of popular names; what PyPI knows, unless pip is sent elsewhere (by
        the configured pip options, or by pip's variables in this process's environment)."""
        elsewhere = any(
            option.split("=")[0] in _OTHER_INDEX_OPTIONS for option in self.settings.pip_options
        ) or any(os.environ.get(name) for name in ("PIP_INDEX_URL", "PIP_NO_INDEX"))
        return review_names(packages, None if elsewhere else self.package_index)

    @staticmethod
    def _declined_note(packages: list[str]) -> str:
        names = ", ".join(packages)
        return f"The user declined installing {names}. Do without it, using installed packages."

    # -- bookkeeping ---------------------------------------------------------------------------

    def _check_stop(self) -> None:
        if self._streamer.stopped:
            raise _Stop

    def _append(self, role: str, content: str) -> None:
        if role == "user" and self.messages and self.messages[-1]["role"] == "user":
            # A turn that was stopped or failed before the model answered: keep the roles
            # alternating (chat templates insist) by joining the two user turns.
            joined = f"{self.messages[-1]['content']}\n\n{content}"
            self.messages[-1] = {"role": "user", "content": joined}
            self._trace("message", role=role, content=content, merged=True)
            return
        self.messages.append({"role": role, "content": content})
        self._trace("message", role=role, content=content)

    def _expect_for_turn(self, request: str, names: Iterable[str], files: Iterable[str]) -> None:
        found = expected_results(request)
        names = list(names)
        self._add_expected(found, names, files)
        self._turn_exempt = [*found.names, *names, *changed_names(request)]

    def _add_expected(
        self, found: ExpectedResults, names: Iterable[str], files: Iterable[str]
    ) -> None:
        for name in [*found.names, *names]:
            if name not in self._expected.names:
                self._expected.names.append(name)
        for path in [*found.files, *files]:
            if path not in self._expected.files:
                self._expected.files.append(path)

    def _error_event(self, number: int, error: Exception) -> ev.ErrorEvent:
        self._trace("error", round=number, error_type=type(error).__name__, message=str(error))
        return ev.ErrorEvent(round=number, message=str(error), error_type=type(error).__name__)

    def _trace(self, record_type: str, **fields: Any) -> None:
        if self.tracer is not None:
            self.tracer.write(record_type, **fields)


@dataclass
class _TurnState:
    round: int = 0
    answer: str = ""
