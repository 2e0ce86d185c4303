"""Session traces as JSONL on this machine, and their export as a training set.

A trace holds one record per line: the session's settings, every message, the code run, the
execution results (binary outputs left out), installs and timings. `export_verified` writes
the sessions whose last turn ended with a clean run as multi-turn dialogues in the shape that
AIEV-Instruct and Code-Feedback use: `{"id": ..., "messages": [{"role", "content"}, ...]}`,
execution feedback included as user turns. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRACE_SUFFIX = ".jsonl"


def default_trace_dir() -> Path:
    """`<jupyter data dir>/autocoder/traces`."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "autocoder" / "traces"


def standard_trace_dirs() -> list[Path]:
    """Where sessions are traced by default: the magic's and the CLI's
    (`autocoder/traces`), and the panel's, kept with its history (`autocoder/sessions/traces`)."""
    magic_and_cli = default_trace_dir()
    return [magic_and_cli, magic_and_cli.parent / "sessions" / "traces"]


class TraceWriter:
    """Appends one session's records to `<directory>/<time>-<session id>.jsonl`."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, session_id: str | None = None):
        self.directory = Path(directory) if directory is not None else default_trace_dir()
        self.session_id = session_id or uuid.uuid4().hex[:12]
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = self.directory / f"{stamp}-{self.session_id}{TRACE_SUFFIX}"
        self._lock = threading.Lock()
        self._file: Any = None
        self._failed = False

    def write(self, record_type: str, **fields: Any) -> None:
        """Append a record; a trace that cannot be written is logged once, never fatal."""
        if self._failed:
            return
        record = {"type": record_type, "time": round(time.time(), 3), **fields}
        try:
            line = json.dumps(record, default=_json_default, ensure_ascii=False)
            with self._lock:
                if self._file is None:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    self._file = open(self.path, "a", encoding="utf-8")
                self._file.write(line + "\n")
                self._file.flush()
        except OSError as error:
            self._failed = True
            log.warning("cannot write the session trace %s: %s", self.path, error)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return repr(value)


def read_trace(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of one trace; a torn last line (a crash while writing) is skipped."""
    records = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("%s:%d is not JSON; skipped", path, number)
    return records


def iter_traces(trace_dir: str | os.PathLike[str]) -> Iterator[Path]:
    directory = Path(trace_dir)
    if not directory.is_dir():
        return iter(())
    return iter(sorted(directory.glob(f"*{TRACE_SUFFIX}")))


def verified_dialogue(records: list[dict[str, Any]], include_system: bool = False) -> list[dict[str, str]] | None:
    """The dialogue up to the last answer whose code ran cleanly, when the trace's last turn succeeded."""
    messages: list[dict[str, str]] = []
    verified_length = 0
    last_done: dict[str, Any] | None = None
    for record in records:
        if record.get("type") == "message":
            role, content = str(record.get("role")), str(record.get("content", ""))
            if record.get("merged") and messages and messages[-1]["role"] == role:
                messages[-1]["content"] += "\n\n" + content
            else:
                messages.append({"role": role, "content": content})
        elif record.get("type") == "done":
            last_done = record
            if record.get("success"):
                verified_length = int(record.get("messages", len(messages)))
    if not last_done or not last_done.get("success") or not verified_length:
        return None
    dialogue = messages[:verified_length]
    if not include_system:
        dialogue = [message for message in dialogue if message["role"] != "system"]
    if not dialogue or dialogue[-1]["role"] != "assistant":
        return None
    return dialogue


def export_verified(
    trace_dir: str | os.PathLike[str] | None,
    out_path: str | os.PathLike[str],
    include_system: bool = False,
) -> int:
    """Write the verified sessions under `trace_dir` to `out_path` (JSONL); returns how many.

    `trace_dir=None` reads the standard directories (`standard_trace_dirs()`)."""
    trace_dirs = standard_trace_dirs() if trace_dir is None else [Path(trace_dir)]
    paths = [path for directory in trace_dirs for path in iter_traces(directory)]
    count = 0
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as file:
        for path in paths:
            records = read_trace(path)
            dialogue = verified_dialogue(records, include_system)
            if dialogue is None:
                continue
            session = next((r for r in records if r.get("type") == "session"), {})
            entry = {"id": session.get("session_id", path.stem), "messages": dialogue}
            file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            count += 1
    return count
