"""Agent sessions per notebook, driven by the browser over the agent WebSocket.

The agent loop is synchronous: each turn runs in a thread of its own and hands its events
to the event loop through the connection's `Channel`. The browser is the executor
(`BrowserExecutor`) and the approver. A notebook has one conversation and at most one
running turn; its turns, and the conversation the model saw, are kept on disk
(`HistoryStore`) so that `history` and `continue` work after a server restart.

Bounds: the server keeps in memory only the notebooks that exist (or that have a turn),
the `max_notebooks` most recently used (a notebook that leaves memory keeps its history on
disk, and comes back from it); a notebook that does not exist gets no history file; each
socket and each user may run only so many turns at once.

Every model request of a session goes through the server's own proxy, in the notebook's
lane of the fair queue; a stop cancels the stream, which takes the request out of the
queue at once.

A turn of mode "explore" runs an `Exploration` (agent/explore.py) instead: its plan waits
for the browser's `run_plan`, its steps are agent turns of the same loop through the same
browser executor, and the step's own `done` events stay inside the turn (its `step` events
say how each step ended); the turn ends with one `done`. It leaves the notebook's agent
conversation as it was.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..agent import events as ev
from ..agent.approval import ApprovalRequest
from ..agent.chat import ChatSession
from ..agent.explore import Exploration, explore_target
from ..agent.prompts import coerce_context
from ..agent.session import AgentSession
from ..agent.settings import SessionSettings
from ..config import AutoCoder
from ..errors import ExplorationError, PathError, ProtocolError
from ..executors import create_executor
from ..llm.client import ModelClient
from .browser_executor import BrowserExecutor
from .channel import REPLIED, Channel, PendingReply
from .history import HistoryStore, NotebookHistory, TurnRecord
from .paths import notebook_path
from .protocol import (
    Approval,
    Continue,
    History,
    HistoryRequest,
    Message,
    Reset,
    RunPlan,
    RunResult,
    Start,
    Started,
    Stop,
    TurnMeta,
    event_message,
)

log = logging.getLogger(__name__)

APPROVAL = "approval"
RUN = "run"
PLAN = "plan"  # the browser's `run_plan`, keyed by the notebook
# The statuses of the install and approval events that are not yet a finished step.
_UNFINISHED = ("requested", "pending")


def lane_for(notebook: str) -> str:
    """The notebook's lane in the fair queue (sent as the OpenAI `user` field)."""
    return f"notebook:{notebook}"


@dataclass
class NotebookState:
    notebook: str
    history: NotebookHistory
    lock: threading.Lock = field(default_factory=threading.Lock)
    session: AgentSession | ChatSession | None = None
    client: ModelClient | None = None  # the session's; made and closed by the service
    mode: str | None = None
    executor: BrowserExecutor | None = None
    runner: TurnRunner | None = None
    persist: bool = True  # False for a notebook that does not exist: no history file

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            turns = [dict(turn, events=list(turn.get("events", []))) for turn in self.history.turns]
            unreadable = self.history.unreadable
        # After its `done` a turn is over for the browser, though its thread may still be
        # writing the history.
        running = self.runner is not None and not self.runner.done_sent
        return History(
            notebook=self.notebook, turns=turns, running=running, unreadable=unreadable
        ).to_dict()


class AgentService:
    """All notebooks' sessions on this server."""

    def __init__(
        self,
        settings: AutoCoder,
        history: HistoryStore,
        root_dir: str,
        client_factory: Callable[[], ModelClient],
        *,
        trace_dir: str | Path,
        interrupt_grace: float = 10.0,
        notebook_exists: Callable[[str], Awaitable[bool]] | None = None,
        max_notebooks: int = 64,
        max_turns_per_socket: int = 4,
        max_turns_per_user: int = 8,
        output_chars: int = 20_000,
        log: logging.Logger | None = None,
    ):
        """`client_factory()` gives a new client for the server's proxy (one per session).
        The service closes the clients it makes, after their sessions; sessions never do.
        `notebook_exists(path)` says whether a notebook is there (default: a file under
        `root_dir`)."""
        self.settings = settings
        self.history = history
        self.root_dir = root_dir
        self.client_factory = client_factory
        self.trace_dir = Path(trace_dir)
        self.interrupt_grace = interrupt_grace
        self.notebook_exists = notebook_exists or self._file_exists
        self.max_notebooks = max(1, max_notebooks)
        self.max_turns_per_socket = max_turns_per_socket
        self.max_turns_per_user = max_turns_per_user
        self.output_chars = output_chars
        self.log = log or logging.getLogger(__name__)
        # The notebooks kept in memory, least recently used first.
        self._notebooks: OrderedDict[str, NotebookState] = OrderedDict()
        self._runners: set[TurnRunner] = set()  # written by the turns' threads too
        self._runners_lock = threading.Lock()

    # --- messages from a socket (on the event loop) ---------------------------------------

    async def handle(self, channel: Channel, message: Message) -> None:
        """Act on one browser message; ProtocolError when it cannot be done."""
        if isinstance(message, RunResult):
            if not channel.answer(RUN, message.id, message.result):
                raise ProtocolError(
                    f"no cell run with id {message.id!r} is waiting for a result", "run_result"
                )
        elif isinstance(message, Approval):
            if not channel.answer(APPROVAL, message.id, message.approved):
                raise ProtocolError(f"no approval with id {message.id!r} is pending", "approval")
        elif isinstance(message, (Start, Continue)):
            await self._begin_turn(channel, message)
        elif isinstance(message, Stop):
            notebook = self._checked_path(message.notebook, "stop")
            state = self._notebooks.get(notebook)
            if state is not None and state.runner is not None:
                if message.after_step:
                    state.runner.stop_after_step()
                else:
                    state.runner.stop()
        elif isinstance(message, RunPlan):
            notebook = self._checked_path(message.notebook, "run_plan")
            if not channel.answer(PLAN, notebook, list(message.steps)):
                raise ProtocolError(
                    "no exploration of this notebook is waiting for its plan", "run_plan", notebook
                )
        elif isinstance(message, HistoryRequest):
            notebook = self._checked_path(message.notebook, "history")
            state = await self._state(notebook, only_existing=True)
            if state is None:  # no such notebook: nothing to tell, nothing kept
                channel.send(History(notebook=notebook, turns=[], running=False).to_dict())
            else:
                channel.send(state.snapshot())
        elif isinstance(message, Reset):
            notebook = self._checked_path(message.notebook, "reset")
            state = self._notebooks.get(notebook)
            if state is not None:
                await self._finish_ended_turn(state)
            if state is not None and state.runner is not None:
                raise ProtocolError(
                    "a turn is running for this notebook; stop it first", "reset", notebook
                )
            loop = asyncio.get_running_loop()
            if state is None:
                await loop.run_in_executor(None, self.history.delete, notebook)
                channel.send(History(notebook=notebook, turns=[], running=False).to_dict())
                return
            await loop.run_in_executor(None, self._reset, state)
            channel.send(state.snapshot())

    def detach(self, channel: Channel) -> None:
        """The socket closed: stop the turns it was driving."""
        channel.close()
        for runner in self._running_turns():
            if runner.channel is channel:
                runner.stop()

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every turn and wait (a little) for their threads, then end the sessions and
        fold the steps appended to each history file into its document; never raises."""
        runners = self._running_turns()
        for runner in runners:
            runner.stop()
            runner.channel.close()
        loop = asyncio.get_running_loop()
        for runner in runners:
            await loop.run_in_executor(None, runner.join, timeout)
        states = list(self._notebooks.values())
        self._notebooks.clear()
        for state in states:
            await loop.run_in_executor(None, self._forget, state)

    @property
    def running(self) -> int:
        return len(self._running_turns())

    # --- inside --------------------------------------------------------------------------

    def _running_turns(self) -> list[TurnRunner]:
        with self._runners_lock:
            return list(self._runners)

    def _turn_ended(self, runner: TurnRunner) -> None:
        """From the turn's thread, last thing."""
        with self._runners_lock:
            self._runners.discard(runner)

    def _checked_path(self, raw_path: str, in_reply_to: str) -> str:
        try:
            return notebook_path(raw_path, self.root_dir)
        except PathError as error:
            raise ProtocolError(str(error), in_reply_to, raw_path) from None

    async def _file_exists(self, notebook: str) -> bool:
        return os.path.isfile(os.path.join(self.root_dir, *notebook.split("/")))

    async def _exists(self, notebook: str) -> bool:
        try:
            return bool(await self.notebook_exists(notebook))
        except Exception as error:  # a contents manager that fails says nothing exists
            self.log.debug("jupyter_autocoder: cannot tell whether %s exists: %s", notebook, error)
            return False

    async def _state(self, notebook: str, *, only_existing: bool) -> NotebookState | None:
        """The notebook's state: from memory, else loaded from disk (only when the notebook
        exists; else an empty one that is kept only once a turn begins, or None when
        `only_existing`)."""
        state = self._notebooks.get(notebook)
        if state is not None:
            self._notebooks.move_to_end(notebook)
            return state
        exists = await self._exists(notebook)
        if not exists and only_existing:
            return None
        loop = asyncio.get_running_loop()
        if exists:
            history = await loop.run_in_executor(None, self._load, notebook)
        else:
            history = NotebookHistory(notebook)
        state = self._notebooks.get(notebook)  # another message may have loaded it meanwhile
        if state is not None:
            self._notebooks.move_to_end(notebook)
            return state
        state = NotebookState(notebook, history, persist=exists)
        if exists:
            self._remember(state)
        return state

    def _load(self, notebook: str) -> NotebookHistory:
        history = self.history.load(notebook)
        if history.unreadable:
            # The notice outlives this server's memory of the notebook, in the new file.
            try:
                self.history.save(history)
            except OSError as error:
                self.log.warning(
                    "jupyter_autocoder: cannot save the history of %s: %s", notebook, error
                )
        return history

    def _remember(self, state: NotebookState) -> None:
        """Keep `state` in memory; the least recently used notebooks beyond `max_notebooks`
        that run no turn leave it (their history is on disk)."""
        self._notebooks[state.notebook] = state
        self._notebooks.move_to_end(state.notebook)
        excess = len(self._notebooks) - self.max_notebooks
        for notebook, old in list(self._notebooks.items()):
            if excess <= 0:
                break
            if old is state or old.runner is not None:
                continue
            del self._notebooks[notebook]
            excess -= 1
            asyncio.get_running_loop().run_in_executor(None, self._forget, old)

    def _forget(self, state: NotebookState) -> None:
        """A notebook leaves memory: end its session, fold the steps appended to its history
        file into the file's document. Logs, never raises (it runs unawaited)."""
        _close_session(state)
        if not state.persist:
            return
        try:
            self.history.compact(state.history)
        except Exception as error:
            self.log.warning(
                "jupyter_autocoder: cannot save the history of %s: %s", state.notebook, error
            )

    @staticmethod
    async def _finish_ended_turn(state: NotebookState) -> None:
        """A turn whose `done` is out may still be writing the history: a quick next
        message waits for its thread."""
        previous = state.runner
        if previous is not None and previous.done_sent:
            await asyncio.get_running_loop().run_in_executor(None, previous.join, 5.0)

    def _check_turn_limits(
        self, channel: Channel, message: Start | Continue, notebook: str
    ) -> None:
        running = [runner for runner in self._running_turns() if not runner.done_sent]
        on_socket = sum(1 for runner in running if runner.channel is channel)
        if on_socket >= self.max_turns_per_socket:
            raise ProtocolError(
                f"{on_socket} turns are already running on this connection, the most it may run "
                "at once (c.AutoCoderApp.max_turns_per_socket); stop one or wait for one to end",
                message.type,
                notebook,
            )
        of_user = sum(1 for runner in running if runner.channel.user == channel.user)
        if of_user >= self.max_turns_per_user:
            raise ProtocolError(
                f"{of_user} turns of this user are already running, the most one user may run "
                "at once (c.AutoCoderApp.max_turns_per_user); stop one or wait for one to end",
                message.type,
                notebook,
            )

    async def _begin_turn(self, channel: Channel, message: Start | Continue) -> None:
        notebook = self._checked_path(message.notebook, message.type)
        state = await self._state(notebook, only_existing=False)
        assert state is not None
        await self._finish_ended_turn(state)
        if state.runner is not None:
            raise ProtocolError(
                "a turn is already running for this notebook; stop it first",
                message.type,
                state.notebook,
            )
        if isinstance(message, Start):
            mode, text, session_id, fresh = (
                message.mode,
                message.request,
                uuid.uuid4().hex[:12],
                True,
            )
        else:
            conversation = state.history.conversation
            if state.session is None and not conversation:
                raise ProtocolError(
                    "there is no conversation to continue for this notebook; send 'start'",
                    "continue",
                    state.notebook,
                )
            mode = state.mode or conversation["mode"]
            session_id = state.session.session_id if state.session else conversation["session"]
            text, fresh = message.remark, False
        self._check_turn_limits(channel, message, state.notebook)
        runner = TurnRunner(
            self,
            state,
            channel,
            turn=state.history.last_turn + 1,
            session_id=session_id,
            mode=mode,
            text=text,
            context=message.context,
            fresh=fresh,
            max_rounds=message.max_rounds,
        )
        state.runner = runner
        with self._runners_lock:
            self._runners.add(runner)
        self._remember(state)
        started = Started(
            notebook=state.notebook, session=session_id, turn=runner.turn, mode=mode, request=text
        )
        channel.send(started.to_dict())
        runner.start()

    @staticmethod
    def _approve(state: NotebookState, request: ApprovalRequest) -> bool:
        # The session outlives its turns: ask through the turn that runs now.
        runner = state.runner
        return runner.approve(request) if runner is not None else False

    def _reset(self, state: NotebookState) -> None:
        _close_session(state)
        state.mode, state.executor = None, None
        with state.lock:
            state.history = NotebookHistory(state.notebook)
        self.history.delete(state.notebook)

    def _add_turn(self, state: NotebookState, turn: dict[str, Any]) -> None:
        """A new turn's record joins the history (the oldest beyond `max_turns` leave)."""
        with state.lock:
            turns = state.history.turns
            turns.append(turn)
            excess = len(turns) - self.history.max_turns
            if excess > 0:
                del turns[:excess]

    def _record_step(
        self, state: NotebookState, turn: dict[str, Any], *, end: bool = False
    ) -> None:
        """A step of the turn has finished: onto disk with it (with the conversation at the
        turn's end). A notebook that does not exist gets no file."""
        if not state.persist:
            return
        try:
            self.history.record_step(state.history, turn, with_conversation=end)
        except OSError as error:  # a full disk must not end the turn
            self.log.warning(
                "jupyter_autocoder: cannot save the history of %s: %s", state.notebook, error
            )

    # --- sessions (built in the turn's thread: they open trace files) -----------------------

    def session_for(self, runner: TurnRunner) -> AgentSession | ChatSession:
        state = runner.state
        if not runner.fresh and state.session is not None:
            if state.executor is not None:
                state.executor.channel = runner.channel  # the panel may have reconnected
            return state.session
        _close_session(state)
        messages = None if runner.fresh else (state.history.conversation or {}).get("messages")
        client = state.client = self.client_factory()
        params = {"user": lane_for(state.notebook)}
        if runner.mode == "chat":
            session: AgentSession | ChatSession = ChatSession(
                client,
                session_id=runner.session_id,
                messages=messages,
                context_budget=self.settings.context_budget,
                chat_params=params,
            )
            executor = None
        else:
            executor = create_executor(
                "browser", runner.channel, runner.meta, interrupt_grace=self.interrupt_grace
            )
            session = AgentSession.from_config(
                self.settings,
                client,
                executor,
                approver=functools.partial(self._approve, state),
                trace_dir=str(self.trace_dir),
                session_id=runner.session_id,
                chat_params=params,
            )
            if messages:
                _restore_messages(session, messages)
        state.session, state.mode, state.executor = session, runner.mode, executor
        return session


class TurnRunner:
    """One turn of one notebook, in a thread: events go to the browser and into the history."""

    def __init__(
        self,
        service: AgentService,
        state: NotebookState,
        channel: Channel,
        *,
        turn: int,
        session_id: str,
        mode: str,
        text: str,
        context: dict[str, Any] | None,
        fresh: bool,
        max_rounds: int | None = None,
    ):
        self.service = service
        self.state = state
        self.channel = channel
        self.turn = turn
        self.session_id = session_id
        self.mode = mode
        self.text = text
        self.context = context
        self.fresh = fresh
        self.max_rounds = max_rounds
        self.meta = TurnMeta(notebook=state.notebook, session=session_id, turn=turn).to_dict()
        self._session: AgentSession | ChatSession | Exploration | None = None
        self._stop_requested = threading.Event()
        self._replies: dict[str, PendingReply] = {}  # approvals the browser owes
        self._plan_reply: PendingReply | None = None  # an exploration's plan, under review
        self.done_sent = False
        self._thread = threading.Thread(
            target=self._run, name=f"autocoder-turn-{turn}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        """From any thread: stop the model's stream and the running cell; decline what is asked."""
        self._stop_requested.set()
        session = self._session
        if session is not None:
            session.stop()
        for approval_id in list(self._replies):
            self.channel.cancel(APPROVAL, approval_id)
        if self._plan_reply is not None:
            self.channel.cancel(PLAN, self.state.notebook)

    def stop_after_step(self) -> None:
        """From any thread: an exploration finishes its step, begins no other, summarises;
        any other turn stops."""
        session = self._session
        if isinstance(session, Exploration):
            session.stop_after_step()
        elif self.mode != "explore":
            self.stop()

    def review_plan(self, steps: list[str]) -> list[str] | None:
        """Wait for the browser's `run_plan` (registered when the plan went out); a stop or
        a closed socket cancels the exploration."""
        reply = self._plan_reply
        if reply is None or self._stop_requested.is_set():
            return None
        try:
            return reply.value if reply.wait(None) == REPLIED else None
        finally:
            self._plan_reply = None
            self.channel.forget(PLAN, self.state.notebook)

    def approve(self, request: ApprovalRequest) -> bool:
        """Wait for the browser's answer to `request` (registered when its pending event
        went out). A stop or a closed socket declines."""
        reply = self._replies.get(request.id)
        if reply is None:
            return False
        try:
            return reply.wait(None) == REPLIED and bool(reply.value)
        finally:
            self._replies.pop(request.id, None)
            self.channel.forget(APPROVAL, request.id)

    def _run(self) -> None:
        state, service = self.state, self.service
        record = TurnRecord(
            self.turn, self.session_id, self.mode, self.text, output_chars=service.output_chars
        )
        service._add_turn(state, record.data)
        service._record_step(state, record.data)
        if self.mode == "explore":
            try:
                self._explore(record)
            finally:
                service._record_step(state, record.data, end=True)
                if state.runner is self:
                    state.runner = None
                service._turn_ended(self)
            return
        session: AgentSession | ChatSession | None = None
        try:
            session = service.session_for(self)
            if isinstance(state.executor, BrowserExecutor):
                state.executor.meta = self.meta
            self._session = session
            if isinstance(session, AgentSession):
                # The session outlives its turns: each turn has its own limit, or the server's.
                rounds = self.max_rounds or service.settings.max_rounds
                session.settings = replace(session.settings, max_rounds=rounds)
            events = (
                session.run(self.text, self.context)
                if self.fresh
                else session.continue_with(self.text, self.context)
            )
            for event in events:
                if self._stop_requested.is_set() and not session.stopped:
                    session.stop()  # a stop that came before the turn had begun
                self._deliver(event, record)
        except (
            Exception
        ) as error:  # the loop reports its own failures; this is a bug or a broken setup
            service.log.exception("jupyter_autocoder: the turn of %s failed", state.notebook)
            self._deliver(
                ev.ErrorEvent(message=str(error), error_type=type(error).__name__), record
            )
            self._deliver(
                ev.DoneEvent(reason=ev.ERROR, success=False, message=f"The turn failed: {error}"),
                record,
            )
        finally:
            if session is not None:
                with state.lock:
                    state.history.conversation = {
                        "session": self.session_id,
                        "mode": self.mode,
                        "messages": [dict(message) for message in session.messages],
                    }
            service._record_step(state, record.data, end=True)
            if state.runner is self:
                state.runner = None
            service._turn_ended(self)

    def _explore(self, record: TurnRecord) -> None:
        """The exploration of what the request names, step by step, through the browser; the
        turn's one `done` at its end."""
        service, state = self.service, self.state
        config = service.settings
        client = service.client_factory()
        executor = create_executor(
            "browser", self.channel, self.meta, interrupt_grace=service.interrupt_grace
        )
        settings = SessionSettings.from_config(
            config,
            max_rounds=self.max_rounds or config.max_rounds,
            trace_dir=str(service.trace_dir),
            chat_params={"user": lane_for(state.notebook)},
        )
        exploration = Exploration(
            client,
            executor,
            settings,
            approver=functools.partial(service._approve, state),
            review_plan=self.review_plan,
        )
        finished: ev.ExplorationDoneEvent | None = None
        try:
            self._session = exploration
            if self._stop_requested.is_set():
                exploration.stop()
            target = explore_target(self.text)
            context = coerce_context(self.context)
            if context is not None:
                # The exploration asks the kernel itself, once its data is loaded.
                context.variables = []
            for event in exploration.run(target, context):
                if isinstance(event, ev.DoneEvent):
                    continue  # a step's end: its `step` event says how it ended
                if isinstance(event, ev.PlanEvent) and event.review:
                    # Registered before the browser sees the plan, so no quick answer is lost.
                    self._plan_reply = self.channel.expect(PLAN, state.notebook)
                    if self._stop_requested.is_set():
                        self.channel.cancel(PLAN, state.notebook)
                if isinstance(event, ev.ExplorationDoneEvent):
                    finished = event
                self._deliver(event, record)
        except ExplorationError as error:  # a missing file, a garbled plan: told, not logged
            self._deliver(ev.ErrorEvent(message=str(error), error_type="ExplorationError"), record)
            finished = ev.ExplorationDoneEvent(reason=ev.ERROR, message=str(error))
        except Exception as error:
            service.log.exception("jupyter_autocoder: the exploration of %s failed", state.notebook)
            self._deliver(
                ev.ErrorEvent(message=str(error), error_type=type(error).__name__), record
            )
            finished = ev.ExplorationDoneEvent(
                reason=ev.ERROR, message=f"The exploration failed: {error}"
            )
        finally:
            self._session = None
            try:
                client.close()
            except Exception:
                log.debug("closing the exploration's client failed", exc_info=True)
        if finished is None:
            finished = ev.ExplorationDoneEvent(reason=ev.STOPPED, message="Stopped.")
        success = finished.reason == ev.SUCCESS and finished.steps_done > 0
        self._deliver(
            ev.DoneEvent(
                reason=finished.reason,
                success=success,
                message=finished.message,
                rounds=exploration.rounds,
                seconds=finished.seconds,
            ),
            record,
        )

    def _deliver(self, event: ev.AgentEvent, record: TurnRecord) -> None:
        if (
            isinstance(event, ev.ApprovalEvent)
            and event.status == "pending"
            and event.request is not None
        ):
            # Registered before the browser can see it, so that a quick answer is not lost.
            self._replies[event.request.id] = self.channel.expect(APPROVAL, event.request.id)
            if self._stop_requested.is_set():
                self.channel.cancel(APPROVAL, event.request.id)
        if isinstance(event, ev.DoneEvent):
            self.done_sent = True
        self.channel.send(event_message(event, self.meta))
        with self.state.lock:
            record.add(event.to_dict(include_binary=False))
        if _finishes_a_step(event):
            self.service._record_step(self.state, record.data)


def _finishes_a_step(event: ev.AgentEvent) -> bool:
    """A run's result, an install's outcome, an approval's answer: what the history keeps
    on disk as it happens (the turn's start and end are kept too)."""
    if isinstance(event, ev.ExecutionEvent):
        return True
    if isinstance(event, (ev.InstallEvent, ev.ApprovalEvent)):
        return event.status not in _UNFINISHED
    return False


def _restore_messages(session: AgentSession, messages: list[dict[str, str]]) -> None:
    """Give a new session the conversation of one that ended with the server, and put it
    in the session's trace too, so that the trace holds the whole dialogue."""
    session.messages = [dict(message) for message in messages]
    if session.tracer is not None:
        for message in messages[1:]:
            session.tracer.write(
                "message", role=message.get("role"), content=message.get("content"), restored=True
            )


def _close_session(state: NotebookState) -> None:
    """End the notebook's session, then close its client (the service made it)."""
    session, client = state.session, state.client
    state.session, state.client = None, None
    for closable in (session, client):
        if closable is None:
            continue
        try:
            closable.close()
        except Exception:  # closing must not fail a reset or a shutdown
            log.debug("closing a session or its client failed", exc_info=True)
