"""Each notebook's agent history on disk: its turns (the events, tokens merged) and the
conversation the model saw, so that a server restart loses neither.

One JSON file per notebook, `<directory>/<sha256 of root and path>.json`, written whole to
a temporary file and moved into place (`os.replace`): a crash while writing leaves the
previous version, never half a file. A file that cannot be read is set aside, not
overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .protocol import HistoryTurn

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# Turn fields that the socket adds to each event; in the file they are the turn's own.
_TURN_KEYS = ("notebook", "session", "turn")


@dataclass
class NotebookHistory:
    notebook: str
    turns: list[dict[str, Any]] = field(default_factory=list)
    # The conversation the model saw: {"session", "mode", "messages"}; None before any turn.
    conversation: dict[str, Any] | None = None

    @property
    def last_turn(self) -> int:
        return max((int(turn.get("turn", 0)) for turn in self.turns), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "notebook": self.notebook,
            "turns": self.turns,
            "conversation": self.conversation,
        }


class TurnRecord:
    """The record of one turn as it happens: events appended, consecutive tokens merged."""

    def __init__(self, turn: int, session: str, mode: str, request: str):
        started_at = round(time.time(), 3)
        record = HistoryTurn(
            turn=turn, session=session, mode=mode, request=request, started_at=started_at
        )
        self.data: dict[str, Any] = record.to_dict()

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
        events.append(event)
        if event.get("type") == "done":
            self.data["done"] = event
            self.data["finished_at"] = round(time.time(), 3)


class HistoryStore:
    """Reads and writes the history files of the notebooks under one server root."""

    def __init__(self, directory: str | os.PathLike[str], root_dir: str, max_turns: int = 50):
        self.directory = Path(directory)
        self.root_dir = os.path.realpath(root_dir)
        self.max_turns = max_turns

    def file_for(self, notebook: str) -> Path:
        digest = hashlib.sha256(f"{self.root_dir}\0{notebook}".encode()).hexdigest()[:40]
        return self.directory / f"{digest}.json"

    def load(self, notebook: str) -> NotebookHistory:
        """The notebook's history; empty when there is none or it cannot be read."""
        path = self.file_for(notebook)
        try:
            with open(path, encoding="utf-8") as file:
                payload = json.load(file)
            if not isinstance(payload, dict) or payload.get("notebook") != notebook:
                raise ValueError("not a history file of this notebook")
            turns = [turn for turn in payload.get("turns", []) if isinstance(turn, dict)]
            conversation = payload.get("conversation")
        except FileNotFoundError:
            return NotebookHistory(notebook)
        except (OSError, ValueError) as error:
            self._set_aside(path, error)
            return NotebookHistory(notebook)
        for turn in turns:
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
        return NotebookHistory(notebook, turns, conversation if isinstance(conversation, dict) else None)

    def save(self, history: NotebookHistory) -> None:
        """Write the history atomically (keeping the newest `max_turns` turns)."""
        if len(history.turns) > self.max_turns:
            del history.turns[: len(history.turns) - self.max_turns]
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.file_for(history.notebook)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(history.to_dict(), file, ensure_ascii=False, default=str)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise

    def delete(self, notebook: str) -> None:
        try:
            self.file_for(notebook).unlink()
        except FileNotFoundError:
            pass

    def _set_aside(self, path: Path, error: Exception) -> None:
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        log.warning("jupyter_autocoder: cannot read the history %s (%s); kept as %s", path, error, aside)
        try:
            os.replace(path, aside)
        except OSError:
            pass
