"""Each notebook's agent history on disk: its turns (the events, tokens merged, run outputs cut
to a size) and the conversation the model saw, so that a server restart loses neither.

One file per notebook, `<sha256 of root and path>.json`, in a folder only the user can read
(0700; the file 0600). Its first line is the whole history as one JSON document (the format
of version 1, which had nothing else), written to a temporary file and moved into place
(`os.replace`): a crash while writing leaves the previous version. Each line after it is
one finished step of a turn (the turn's start, each run, install and approval answered, its
end), appended and fsynced. So a step costs what its own turn weighs, not what the whole
history weighs. When the appended lines outweigh the document (or when the notebook leaves
the server's memory, or at shutdown), the file is compacted into a new document.

A crash loses at most the step in progress: a torn line is skipped on reading (each step
begins a new line, so a torn one ends where the next begins). A file whose document cannot
be read is set aside, not overwritten, and the history says where it went (`unreadable`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agent.feedback import cut_middle
from .protocol import HistoryTurn

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Turn fields that the socket adds to each event; in the file they are the turn's own.
_TURN_KEYS = ("notebook", "session", "turn")
# The steps appended are folded into the document once they weigh more than it, or than this.
_APPENDED_FLOOR_BYTES = 64 * 1024
# The outputs of one run kept in the history: the first and the last, the rest counted.
MAX_STORED_OUTPUTS = 20
_LOCK_STRIPES = 64  # a notebook's reads and writes of its files are serialised by one of these
PRIVATE_DIRECTORY, PRIVATE_FILE = 0o700, 0o600


@dataclass
class NotebookHistory:
    notebook: str
    turns: list[dict[str, Any]] = field(default_factory=list)
    # The conversation the model saw: {"session", "mode", "messages"}; None before any turn.
    conversation: dict[str, Any] | None = None
    # Set when the notebook's file could not be read: {"message", "kept_as"}.
    unreadable: dict[str, str] | None = None
    # What of the conversation is on disk already (a step adds only the rest), and the size
    # of the file's document (what is appended after it is the rest of the file).
    saved_session: str | None = field(default=None, repr=False)
    saved_messages: int = field(default=0, repr=False)
    document_bytes: int = field(default=0, repr=False)

    @property
    def last_turn(self) -> int:
        return max((int(turn.get("turn", 0)) for turn in self.turns), default=0)

    def to_dict(self) -> dict[str, Any]:
        payload = {
            "version": FORMAT_VERSION,
            "notebook": self.notebook,
            "turns": self.turns,
            "conversation": self.conversation,
        }
        if self.unreadable:
            payload["unreadable"] = self.unreadable
        return payload

    def put_turn(self, turn: dict[str, Any]) -> None:
        """Replace the turn of the same number, or add it."""
        for index in range(len(self.turns) - 1, -1, -1):
            if self.turns[index].get("turn") == turn.get("turn"):
                self.turns[index] = turn
                return
        self.turns.append(turn)


class TurnRecord:
    """The record of one turn as it happens: events appended, consecutive tokens merged, run
    outputs cut to `output_chars` characters each (head and tail, the cut said)."""

    def __init__(self, turn: int, session: str, mode: str, request: str, output_chars: int = 0):
        started_at = round(time.time(), 3)
        record = HistoryTurn(
            turn=turn, session=session, mode=mode, request=request, started_at=started_at
        )
        self.data: dict[str, Any] = record.to_dict()
        self.output_chars = output_chars

    def add(self, event: dict[str, Any]) -> None:
        event = {key: value for key, value in event.items() if key not in _TURN_KEYS}
        events = self.data["events"]
        last = events[-1] if events else None
        if (
            event.get("type") == "token"
            and last is not None
            and last.get("type") == "token"
            and last.get("round") == event.get("round")
        ):
            last["text"] += event.get("text", "")
            return
        if self.output_chars > 0:
            event = stored_event(event, self.output_chars)
        events.append(event)
        if event.get("type") == "done":
            self.data["done"] = event
            self.data["finished_at"] = round(time.time(), 3)


def stored_event(event: dict[str, Any], limit: int) -> dict[str, Any]:
    """`event` as the history keeps it: each run output's text within `limit` characters."""
    if event.get("type") == "execution" and isinstance(event.get("result"), dict):
        result = dict(event["result"])
        result["outputs"] = cut_outputs(result.get("outputs") or [], limit)
        return {**event, "result": result}
    if event.get("type") == "install" and isinstance(event.get("message"), str):
        return {**event, "message": cut_middle(event["message"], limit)}
    return event


def cut_outputs(outputs: list[Any], limit: int) -> list[Any]:
    """nbformat outputs with every text cut to `limit` characters (its head and its tail,
    and how much was cut, said in the middle), and at most MAX_STORED_OUTPUTS of them."""
    kept = [_cut_output(output, limit) for output in outputs]
    if len(kept) > MAX_STORED_OUTPUTS:
        half = MAX_STORED_OUTPUTS // 2
        dropped = len(kept) - 2 * half
        note = {
            "output_type": "stream",
            "name": "stdout",
            "text": f"[... {dropped} outputs cut ...]\n",
        }
        kept = kept[:half] + [note] + kept[-half:]
    return kept


def _cut_output(output: Any, limit: int) -> Any:
    if not isinstance(output, dict):
        return output
    output = dict(output)
    if isinstance(output.get("text"), str):
        output["text"] = cut_middle(output["text"], limit)
    if isinstance(output.get("evalue"), str):
        output["evalue"] = cut_middle(output["evalue"], limit)
    traceback = output.get("traceback")
    if isinstance(traceback, list) and sum(len(str(line)) for line in traceback) > limit:
        output["traceback"] = [cut_middle("\n".join(str(line) for line in traceback), limit)]
    data = output.get("data")
    if isinstance(data, dict):
        cut: dict[str, Any] = {}
        for mime, value in data.items():
            if isinstance(value, str):
                cut[mime] = cut_middle(value, limit)
            elif len(json.dumps(value, default=str)) > limit:
                cut[mime] = f"<{mime} of more than {limit} characters left out>"
            else:
                cut[mime] = value
        output["data"] = cut
    return output


class HistoryStore:
    """Reads and writes the history files of the notebooks under one server root.

    The files of one notebook are read and written under one lock (a notebook leaving
    memory is compacted while the next `load` of it may already run). The caller writes a
    notebook's history from one thread at a time and must not change it meanwhile.
    """

    def __init__(self, directory: str | os.PathLike[str], root_dir: str, max_turns: int = 50):
        self.directory = Path(directory)
        self.root_dir = os.path.realpath(root_dir)
        self.max_turns = max_turns
        self._directory_ready = False
        self._locks = [threading.RLock() for _ in range(_LOCK_STRIPES)]

    def file_for(self, notebook: str) -> Path:
        digest = hashlib.sha256(f"{self.root_dir}\0{notebook}".encode()).hexdigest()[:40]
        return self.directory / f"{digest}.json"

    def _lock(self, notebook: str) -> threading.RLock:
        return self._locks[hash(notebook) % _LOCK_STRIPES]

    # --- reading ---------------------------------------------------------------------------

    def load(self, notebook: str) -> NotebookHistory:
        """The notebook's history; empty when there is none, and empty with `unreadable`
        said when its file cannot be read (the file is set aside, never overwritten)."""
        with self._lock(notebook):
            return self._load(notebook)

    def _load(self, notebook: str) -> NotebookHistory:
        path = self.file_for(notebook)
        history = NotebookHistory(notebook)
        try:
            with open(path, "rb") as file:
                content = file.read()
            document, _, steps = content.partition(b"\n")
            try:
                payload = json.loads(document)
            except ValueError:
                payload, document, steps = (
                    json.loads(content),
                    content,
                    b"",
                )  # written by hand, indented
            if not isinstance(payload, dict) or payload.get("notebook") != notebook:
                raise ValueError("not a history file of this notebook")
            turns = payload.get("turns", [])
            history.turns = (
                [turn for turn in turns if isinstance(turn, dict)]
                if isinstance(turns, list)
                else []
            )
            conversation = payload.get("conversation")
            history.conversation = conversation if isinstance(conversation, dict) else None
            unreadable = payload.get("unreadable")
            history.unreadable = unreadable if isinstance(unreadable, dict) else None
        except FileNotFoundError:
            return history
        except (OSError, ValueError) as error:  # JSON and Unicode errors are ValueErrors
            kept_as = self._set_aside(path, error)
            history.unreadable = {
                "message": (
                    f"The history of this notebook could not be read ({_reason(error)}); "
                    f"the old file was kept as {kept_as}."
                ),
                "kept_as": str(kept_as),
            }
            return history
        history.document_bytes = len(document)
        self._replay(history, path, steps)
        if len(history.turns) > self.max_turns:
            del history.turns[: len(history.turns) - self.max_turns]
        history.saved_session, history.saved_messages = _conversation_mark(history.conversation)
        for turn in history.turns:
            if turn.get("done") is None:  # the server stopped during this turn
                done = {
                    "type": "done",
                    "round": 0,
                    "reason": "stopped",
                    "success": False,
                    "message": "The server stopped during this turn.",
                }
                turn["done"] = done
                turn.setdefault("events", []).append(done)
        return history

    @staticmethod
    def _replay(history: NotebookHistory, path: Path, steps: bytes) -> None:
        """Apply the steps appended after the document, in order."""
        for number, line in enumerate(steps.split(b"\n"), 2):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                # A line torn by a crash: that step was in progress.
                log.warning("jupyter_autocoder: %s:%d is not JSON; skipped", path, number)
                continue
            if not isinstance(record, dict):
                continue
            if isinstance(record.get("turn"), dict):
                history.put_turn(record["turn"])
            if isinstance(record.get("conversation"), dict):
                _apply_conversation(history, record["conversation"])

    # --- writing ---------------------------------------------------------------------------

    def record_step(
        self,
        history: NotebookHistory,
        turn: dict[str, Any] | None,
        *,
        with_conversation: bool = False,
    ) -> None:
        """Append one finished step: the turn's record as it is now, and (at the turn's end)
        what the conversation gained; compacts when the steps outweigh the document. The
        caller must not change `turn` meanwhile."""
        record: dict[str, Any] = {}
        if turn is not None:
            record["turn"] = turn
        if with_conversation:
            tail = self._conversation_tail(history)
            if tail is not None:
                record["conversation"] = tail
        if not record:
            return
        # Each step begins a line of its own: one torn by a crash ends where the next begins.
        data = ("\n" + json.dumps(record, ensure_ascii=False, default=str)).encode("utf-8")
        with self._lock(history.notebook):
            path = self.file_for(history.notebook)
            if not path.exists():
                self.save(history)  # steps follow a document: the first one is small
                return
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(descriptor, view) :]
                os.fsync(descriptor)
                file_bytes = os.fstat(descriptor).st_size
            finally:
                os.close(descriptor)
            if with_conversation:
                history.saved_session, history.saved_messages = _conversation_mark(
                    history.conversation
                )
            appended = file_bytes - history.document_bytes
            if appended > max(history.document_bytes, _APPENDED_FLOOR_BYTES):
                self.save(history)

    def _conversation_tail(self, history: NotebookHistory) -> dict[str, Any] | None:
        """The conversation's messages not on disk yet, from the last one saved (which a
        merged user message may have changed)."""
        conversation = history.conversation
        if conversation is None:
            return None
        messages = conversation.get("messages") or []
        start = 0
        if conversation.get("session") == history.saved_session:
            start = max(0, min(history.saved_messages - 1, len(messages)))
        return {
            "session": conversation.get("session"),
            "mode": conversation.get("mode"),
            "start": start,
            "messages": messages[start:],
        }

    def save(self, history: NotebookHistory) -> None:
        """Write the whole history atomically (its newest `max_turns` turns), as the file's
        only line: the steps appended before are in it."""
        payload = history.to_dict()
        payload["turns"] = history.turns[-self.max_turns :] if self.max_turns > 0 else []
        document = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
        with self._lock(history.notebook):
            self._prepare_directory()
            path = self.file_for(history.notebook)
            descriptor, temporary = tempfile.mkstemp(
                dir=self.directory, prefix=".tmp-", suffix=".json"
            )
            try:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(document)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, path)
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
            history.document_bytes = len(document)
            history.saved_session, history.saved_messages = _conversation_mark(history.conversation)

    def compact(self, history: NotebookHistory) -> None:
        """Fold the steps appended into the document, if there are any."""
        with self._lock(history.notebook):
            try:
                size = self.file_for(history.notebook).stat().st_size
            except FileNotFoundError:
                return
            if size > history.document_bytes:
                self.save(history)

    def delete(self, notebook: str) -> None:
        with self._lock(notebook):
            try:
                self.file_for(notebook).unlink()
            except FileNotFoundError:
                pass

    def _prepare_directory(self) -> None:
        if self._directory_ready:
            return
        self.directory.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
        os.chmod(self.directory, PRIVATE_DIRECTORY)  # made by an older version, or by hand
        self._directory_ready = True

    def _set_aside(self, path: Path, error: Exception) -> Path:
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        log.warning(
            "jupyter_autocoder: cannot read the history %s (%s); kept as %s", path, error, aside
        )
        try:
            os.replace(path, aside)
        except OSError:
            return path
        return aside


def _apply_conversation(history: NotebookHistory, tail: dict[str, Any]) -> None:
    messages = tail.get("messages")
    start = tail.get("start", 0)
    if not isinstance(messages, list) or not isinstance(start, int) or start < 0:
        return
    current = history.conversation
    if start == 0 or current is None or current.get("session") != tail.get("session"):
        base: list[Any] = []
    else:
        base = list(current.get("messages") or [])[:start]
        if len(base) < start:  # a gap: the steps before it are lost; keep what is whole
            return
    history.conversation = {
        "session": tail.get("session"),
        "mode": tail.get("mode"),
        "messages": base + messages,
    }


def _conversation_mark(conversation: dict[str, Any] | None) -> tuple[str | None, int]:
    if not conversation:
        return None, 0
    return conversation.get("session"), len(conversation.get("messages") or [])


def _reason(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON: {error.msg} at line {error.lineno}"
    return str(error) or type(error).__name__
