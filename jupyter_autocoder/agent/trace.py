"""Session traces as JSONL on this machine, and their export as a training set.

A trace holds one record per line: the session's settings, every message, the code run, the
execution results (binary outputs left out), installs and timings. It holds whole
conversations and outputs, so it is written 0600 in a 0700 folder; a writer that is given a
`TraceRetention` prunes its folder when it opens a trace (traces older than the age, then
the oldest beyond the size), and `jupyter-autocoder traces --prune` does the same by hand.

`export_verified` writes the sessions whose last turn ended with a clean run as multi-turn
dialogues in the shape that AIEV-Instruct and Code-Feedback use:
`{"id": ..., "messages": [{"role", "content"}, ...]}`, execution feedback included as user
turns. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRACE_SUFFIX = ".jsonl"
# What TraceWriter names its files: only these are ever pruned (a folder may hold others).
TRACE_NAME = re.compile(r"^\d{8}-\d{6}-[\w.-]+\.jsonl$")
PRIVATE_DIRECTORY, PRIVATE_FILE = 0o700, 0o600
MB = 1024 * 1024
DAY = 24 * 3600


def default_trace_dir() -> Path:
    """`<jupyter data dir>/autocoder/traces`."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "autocoder" / "traces"


def standard_trace_dirs() -> list[Path]:
    """Where sessions are traced by default: the magic's and the CLI's
    (`autocoder/traces`), and the panel's, kept with its history (`autocoder/sessions/traces`)."""
    magic_and_cli = default_trace_dir()
    return [magic_and_cli, magic_and_cli.parent / "sessions" / "traces"]


@dataclass(frozen=True)
class TraceRetention:
    """How long and how much of a trace folder is kept; 0 means no limit."""

    max_mb: float = 0.0
    max_age_days: float = 0.0

    @property
    def limited(self) -> bool:
        return self.max_mb > 0 or self.max_age_days > 0


@dataclass
class PruneResult:
    """What pruning a trace folder did."""

    directory: Path
    removed: list[Path] = field(default_factory=list)
    freed_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0


def prune_traces(
    directory: str | os.PathLike[str],
    retention: TraceRetention,
    keep: Iterable[str | os.PathLike[str]] = (),
    now: float | None = None,
) -> PruneResult:
    """Remove the traces of `directory` older than `retention.max_age_days`, then the
    oldest until the rest fit in `retention.max_mb`. Only files named as TraceWriter names
    them are touched; those in `keep` (a trace being written) stay and count."""
    folder = Path(directory)
    result = PruneResult(folder)
    now = time.time() if now is None else now
    kept_paths = {os.path.abspath(path) for path in keep}
    traces = []
    for path, size, modified in trace_files(folder):
        if os.path.abspath(path) in kept_paths:
            result.kept += 1
            result.kept_bytes += size
        else:
            traces.append((path, size, modified))
    traces.sort(key=lambda entry: entry[2], reverse=True)  # newest first
    limit = retention.max_mb * MB if retention.max_mb > 0 else None
    for path, size, modified in traces:
        too_old = retention.max_age_days > 0 and now - modified > retention.max_age_days * DAY
        too_much = limit is not None and result.kept_bytes + size > limit
        if too_old or too_much:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as error:
                log.warning("cannot remove the trace %s: %s", path, error)
            else:
                result.removed.append(path)
                result.freed_bytes += size
                continue
        result.kept += 1
        result.kept_bytes += size
    return result


def trace_files(folder: str | os.PathLike[str]) -> list[tuple[Path, int, float]]:
    """(path, size, modification time) of the traces in `folder` (as TraceWriter names them)."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not TRACE_NAME.match(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if entry.is_file(follow_symlinks=False):
            found.append((Path(entry.path), info.st_size, info.st_mtime))
    return found


class TraceWriter:
    """Appends one session's records to `<directory>/<time>-<session id>.jsonl` (0600, in a
    0700 folder); with a `retention`, prunes the folder when the file is opened."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        session_id: str | None = None,
        retention: TraceRetention | None = None,
    ):
        self.directory = Path(directory) if directory is not None else default_trace_dir()
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.retention = retention
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
                    self._file = self._open()
                self._file.write(line + "\n")
                self._file.flush()
        except OSError as error:
            self._failed = True
            log.warning("cannot write the session trace %s: %s", self.path, error)

    def _open(self) -> Any:
        self.directory.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
        os.chmod(self.directory, PRIVATE_DIRECTORY)  # made by an older version, or by hand
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        file = os.fdopen(descriptor, "a", encoding="utf-8")
        if self.retention is not None and self.retention.limited:
            try:
                prune_traces(self.directory, self.retention, keep=[self.path])
            except OSError as error:  # pruning must never cost the session its trace
                log.warning("cannot prune the traces in %s: %s", self.directory, error)
        return file

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


def verified_dialogue(
    records: list[dict[str, Any]], include_system: bool = False
) -> list[dict[str, str]] | None:
    """The dialogue up to the last answer whose code ran cleanly, when the trace's last turn
    succeeded."""
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
