"""The executor interface and the typed result of running one cell.

Outputs mirror nbformat's output types (`stream`, `display_data`, `execute_result`,
`error`) so that front ends can render them with the notebook's own output area.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..wire import wire

# Kept per stream in one result: a cell that prints forever must not fill the memory.
MAX_STREAM_CHARS = 200_000
# The output types of rich output (DisplayOutput.output_type).
DISPLAY_TYPES = ("display_data", "execute_result")


@dataclass
class StreamOutput:
    """Text written to stdout or stderr."""

    name: str
    text: str
    output_type: str = field(default="stream", init=False)

    def to_dict(self, include_binary: bool = True) -> dict[str, Any]:
        return {"output_type": self.output_type, "name": self.name, "text": self.text}


@dataclass
class DisplayOutput:
    """Rich output: a mime bundle shown by display() or as the cell's value."""

    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    output_type: str = field(default="display_data", metadata=wire(enum=DISPLAY_TYPES))

    def to_dict(self, include_binary: bool = True) -> dict[str, Any]:
        data = self.data
        if not include_binary:
            data = {
                mime: (
                    value
                    if _is_textual(mime)
                    else f"<{len(str(value))} characters of {mime} left out>"
                )
                for mime, value in data.items()
            }
        return {"output_type": self.output_type, "data": data, "metadata": self.metadata}


@dataclass
class ErrorOutput:
    """An exception that ended the cell."""

    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)
    output_type: str = field(default="error", init=False)

    def to_dict(self, include_binary: bool = True) -> dict[str, Any]:
        return {
            "output_type": self.output_type,
            "ename": self.ename,
            "evalue": self.evalue,
            "traceback": list(self.traceback),
        }


Output = StreamOutput | DisplayOutput | ErrorOutput


def output_from_dict(payload: dict[str, Any]) -> Output:
    kind = payload.get("output_type")
    if kind == "stream":
        return StreamOutput(payload.get("name", "stdout"), payload.get("text", ""))
    if kind in ("display_data", "execute_result", "update_display_data"):
        output_type = "execute_result" if kind == "execute_result" else "display_data"
        return DisplayOutput(
            dict(payload.get("data", {})), dict(payload.get("metadata", {})), output_type
        )
    if kind == "error":
        return ErrorOutput(
            payload.get("ename", ""), payload.get("evalue", ""), list(payload.get("traceback", []))
        )
    raise ValueError(f"unknown output type {kind!r}")


# ExecutionResult.status values
OK = "ok"
ERROR = "error"
TIMEOUT = "timeout"
INTERRUPTED = "interrupted"
STATUSES = (OK, ERROR, TIMEOUT, INTERRUPTED)


@dataclass
class ExecutionResult:
    """What running one piece of code produced."""

    # In the panel's TypeScript, JupyterLab's own type of an output (they are nbformat's).
    outputs: list[Output] = field(default_factory=list, metadata=wire(ts_type="nbformat.IOutput[]"))
    duration: float = 0.0
    timed_out: bool = False
    status: str = field(default=OK, metadata=wire(enum=STATUSES, enum_name="ExecutionStatus"))
    execution_count: int | None = None

    @property
    def error(self) -> ErrorOutput | None:
        """The error that ended the run (None when it ended well, even if it showed a traceback)."""
        if self.status == OK:
            return None
        errors = [output for output in self.outputs if isinstance(output, ErrorOutput)]
        return errors[-1] if errors else None

    @property
    def ok(self) -> bool:
        return self.status == OK and not self.timed_out

    @property
    def interrupted(self) -> bool:
        """Interrupted by someone other than the timeout (the user's stop button, say)."""
        return self.status == INTERRUPTED

    def stream_text(self, name: str | None = None) -> str:
        return "".join(
            output.text
            for output in self.outputs
            if isinstance(output, StreamOutput) and (name is None or output.name == name)
        )

    @property
    def stdout(self) -> str:
        return self.stream_text("stdout")

    @property
    def stderr(self) -> str:
        return self.stream_text("stderr")

    @property
    def displays(self) -> list[DisplayOutput]:
        return [output for output in self.outputs if isinstance(output, DisplayOutput)]

    def to_dict(self, include_binary: bool = True) -> dict[str, Any]:
        return {
            "outputs": [output.to_dict(include_binary) for output in self.outputs],
            "duration": round(self.duration, 6),
            "timed_out": self.timed_out,
            "status": self.status,
            "execution_count": self.execution_count,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> ExecutionResult:
        """Rebuild a result, e.g. one that the browser sent for a cell the panel ran."""
        return cls(
            outputs=[output_from_dict(entry) for entry in payload.get("outputs", [])],
            duration=float(payload.get("duration", 0.0)),
            timed_out=bool(payload.get("timed_out", False)),
            status=str(payload.get("status", OK)),
            execution_count=payload.get("execution_count"),
        )


class OutputCollector:
    """Accumulates outputs as they arrive, merging consecutive stream text."""

    def __init__(self, max_stream_chars: int = MAX_STREAM_CHARS):
        self.outputs: list[Output] = []
        self.max_stream_chars = max_stream_chars
        self._clear_pending = False
        self._buffer: _StreamBuffer | None = None  # of the last output, when it is a stream

    def _before_output(self) -> None:
        if self._clear_pending:
            self.outputs.clear()
            self._buffer = None
            self._clear_pending = False

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        self._before_output()
        last = self.outputs[-1] if self.outputs else None
        if not (isinstance(last, StreamOutput) and last.name == name and self._buffer is not None):
            last = StreamOutput(name, "")
            self.outputs.append(last)
            self._buffer = _StreamBuffer(self.max_stream_chars)
        self._buffer.add(text)
        last.text = self._buffer.render()

    def display(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        execute_result: bool = False,
    ) -> None:
        self._before_output()
        self._buffer = None
        bundle = {mime: _json_ready(value) for mime, value in data.items()}
        self.outputs.append(
            DisplayOutput(
                bundle, dict(metadata or {}), "execute_result" if execute_result else "display_data"
            )
        )

    def error(self, ename: str, evalue: str, traceback: Sequence[str]) -> None:
        self._before_output()
        self._buffer = None
        self.outputs.append(ErrorOutput(ename, evalue, list(traceback)))

    def clear(self, wait: bool = False) -> None:
        if wait:
            self._clear_pending = True
        else:
            self.outputs.clear()
            self._buffer = None


class _StreamBuffer:
    """Stream text bounded to its head and its tail: the start says what ran, the end how it
    ended."""

    def __init__(self, limit: int):
        self.half = max(limit // 2, 1)
        self.limit = limit
        self.head = ""
        self.tail = ""
        self.dropped = 0

    def add(self, text: str) -> None:
        if not self.dropped and not self.tail and len(self.head) + len(text) <= self.limit:
            self.head += text
            return
        if not self.tail and not self.dropped:
            text = self.head + text
            self.head, text = text[: self.half], text[self.half :]
        self.tail += text
        if len(self.tail) > self.half:
            self.dropped += len(self.tail) - self.half
            self.tail = self.tail[-self.half :]

    def render(self) -> str:
        if not self.dropped:
            return self.head + self.tail
        return f"{self.head}\n[... {self.dropped} characters cut ...]\n{self.tail}"


def _json_ready(value: Any) -> Any:
    # IPython's formatters may give raw bytes for images; the wire format is base64 text.
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _is_textual(mime: str) -> bool:
    return mime.startswith("text/") or mime.endswith("json") or mime == "image/svg+xml"


def pip_install_code(arguments: Sequence[str]) -> str:
    """Python that runs `pip install ARGUMENTS` with the running interpreter's own pip.

    The arguments travel as a Python literal into an argument list: no shell and no
    IPython variable expansion (which `%pip` applies to its line) ever sees them.
    """
    arguments = [str(argument) for argument in arguments]
    return _SUBPROCESS_HELPER + (
        "try:\n"
        f"    __autocoder_subprocess([__import__('sys').executable, '-m', 'pip', 'install', "
        f"'--disable-pip-version-check', '--no-input', *{arguments!r}], 'pip install')\n"
        "finally:\n"
        "    del __autocoder_subprocess\n"
    )


def shell_command_code(command: str) -> str:
    """Python that runs one approved shell command, exactly as the user approved it."""
    return _SUBPROCESS_HELPER + (
        "try:\n"
        f"    __autocoder_subprocess({command!r}, 'the command', shell=True)\n"
        "finally:\n"
        "    del __autocoder_subprocess\n"
    )


_SUBPROCESS_HELPER = """\
def __autocoder_subprocess(command, what, shell=False):
    import importlib, subprocess
    process = subprocess.Popen(command, shell=shell, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        for line in process.stdout:
            print(line, end="", flush=True)
        status = process.wait()
    except BaseException:
        process.kill()
        raise
    importlib.invalidate_caches()
    if status:
        raise RuntimeError(f"{what} failed with exit status {status}")
"""


class Executor(ABC):
    """Runs code somewhere with a Python namespace: a kernel, the current shell, a browser."""

    @abstractmethod
    def run(self, code: str, timeout: float | None = None) -> ExecutionResult:
        """Run `code`; past `timeout` seconds it is interrupted (state survives) and
        the result says `timed_out`."""

    def install(
        self, packages: Sequence[str], options: Sequence[str] = (), timeout: float | None = 600.0
    ) -> ExecutionResult:
        """pip-install validated requirement strings into the environment the code runs in.

        `options` come from configuration (e.g. `--no-index --find-links DIR`), never
        from the model. Raises ValueError for a package that looks like an option.
        """
        packages = list(packages)
        if not packages:
            raise ValueError("no packages to install")
        for package in packages:
            if not package or package.startswith("-") or any(c.isspace() for c in package):
                raise ValueError(f"not a package requirement: {package!r}")
        return self.run(pip_install_code([*options, *packages]), timeout=timeout)

    def run_shell(self, command: str, timeout: float | None = None) -> ExecutionResult:
        """Run one shell command (the caller has had it approved) where the code runs."""
        return self.run(shell_command_code(command), timeout=timeout)

    @abstractmethod
    def defined_names(self, names: Iterable[str]) -> set[str]:
        """Those of `names` that exist in the namespace now."""

    @abstractmethod
    def existing_files(self, paths: Iterable[str]) -> set[str]:
        """Those of `paths` (relative to the code's working directory) that exist."""

    def user_names(self) -> list[str] | None:
        """The user's own names in the namespace now (`values.user_names`); None where this
        executor cannot look into its namespace."""
        return None

    def describe_names(self, names: Iterable[str]) -> dict[str, str]:
        """What those of `names` that exist hold, in a few lines each
        (`values.describe_names`); {} where this executor cannot look into its namespace."""
        return {}

    def kernel_context(
        self, budget: int = 3000, details: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """The variables of the namespace for a request's context (`values.kernel_context`:
        `variables`, `attached` for the names in `details`, `names`, `seconds`); None where
        this executor cannot look into its namespace."""
        return None

    def installed_versions(self, distributions: Iterable[str]) -> dict[str, str]:
        """Those of `distributions` (names as pip knows them) that are installed where the
        code runs, with their versions; {} where this executor cannot tell."""
        return {}

    def guard(self, action: str, arguments: dict[str, Any] | None = None) -> Any:
        """One action of the guard of the user's variables, run where the namespace is
        (`executors/guard.py`: "begin_turn", "before", "after", "restore", "kept"); None
        where this executor cannot look into its namespace."""
        return None

    def describe_figures(self) -> bool:
        """From now on, matplotlib figures shown where the code runs carry a description of
        what they show as their text/plain (`figures.py`), which the feedback quotes; False
        where this executor cannot arrange it."""
        return False

    def write_markdown(
        self, source: str, *, replace_last: bool = False, above_first: bool = False
    ) -> bool:
        """Put a Markdown cell into the notebook the code's cells go into (the panel's), after
        the last one; `replace_last`: in place of the cell of the last code run since the
        last Markdown cell, if any; `above_first`: above the first cell this turn made.
        False where this executor writes no notebook (the caller keeps its cells)."""
        return False

    def interrupt(self) -> None:  # noqa: B027 - optional
        """Interrupt the code that is running, from another thread (no-op when idle)."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release what the executor holds."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def valid_identifiers(names: Iterable[str]) -> list[str]:
    """Names safe to put into generated code (identifiers only, dotted not allowed)."""
    return sorted({name for name in names if isinstance(name, str) and name.isidentifier()})


def installed_versions_expression(distributions: Iterable[str]) -> str:
    """A Python expression, for where the code runs, whose value is `{name: version}` for
    those of `distributions` that are installed there (names are matched as pip matches
    them: case, "-", "_" and "." alike)."""
    names = sorted({name for name in distributions if isinstance(name, str) and name})
    return (
        "(lambda metadata: {name: dist.version for name in "
        f"{names!r} for dist in list(metadata.distributions(name=name))[:1]}})"
        "(__import__('importlib.metadata', fromlist=['metadata']))"
    )
