"""Every error this package raises on purpose, in one place, under one root.

One naming rule: a class name ends in `Error`. The root is `AutoCoderError`, so a caller
(the magic, a handler, the command line) can catch all of them at once; each family has a
base of its own (`EngineError`, `ExecutorError`) and the errors carry structured fields
instead of strings that others must parse.
"""

from __future__ import annotations

from typing import Any


class AutoCoderError(Exception):
    """Base of every error this package raises on purpose."""


# -- models: names, files, downloads -----------------------------------------------------


class ModelNotFoundError(AutoCoderError, LookupError):
    """A model name that is neither in the catalogue, nor a file, nor an hf: reference."""

    def __init__(self, name: str, valid_names: list[str], reason: str | None = None):
        self.name = name
        self.valid_names = valid_names
        self.reason = reason
        why = f": {reason}" if reason else ""
        super().__init__(
            f"Unknown model {name!r}{why}. Valid names: {', '.join(valid_names)}; "
            "or a path to a .gguf file, or hf:REPO/FILE.gguf."
        )


class ModelFileError(AutoCoderError):
    """A model file that is missing, unreadable or not a GGUF file."""


class ModelUnavailableError(AutoCoderError):
    """A model that cannot be had here: not cached and the hub cannot be reached, say."""


class ModelTooLargeError(AutoCoderError):
    """A model that does not fit in the memory this machine has."""


class DownloadCancelledError(AutoCoderError):
    """A download or assembly stopped on request (the panel's Cancel, an unload); what was
    fetched so far is kept where the source can resume, never under the model's name."""


# -- the model engine ------------------------------------------------------------------------


class EngineError(AutoCoderError):
    """Base of the errors met while talking to a model engine."""


class EngineUnavailableError(EngineError):
    """The engine cannot be reached (not started, crashed, wrong URL)."""


class EngineAuthError(EngineError):
    """The engine refused the key."""


class EngineRequestError(EngineError):
    """The engine answered with an error status."""

    def __init__(self, status_code: int, message: str):
        self.status_code = status_code
        self.message = message
        super().__init__(f"engine answered {status_code}: {message}")


class EngineStreamBrokenError(EngineError):
    """The connection was lost in the middle of a streamed answer."""


class EngineBusyError(EngineError):
    """A model action that cannot be done now (a remote engine, say); answered with 409."""


# -- running code ------------------------------------------------------------------------------


class ExecutorError(AutoCoderError):
    """The executor itself failed (as opposed to the code it ran)."""


class KernelDiedError(ExecutorError):
    """The kernel process ended; its variables are lost. `restart()` starts a new one."""

    def __init__(self, message: str, exit_code: int | None = None):
        self.exit_code = exit_code
        super().__init__(message)


class KernelUnresponsiveError(ExecutorError):
    """The kernel does not answer, even to interrupts."""


class ExplorationError(AutoCoderError, ValueError):
    """An exploration that cannot start or go on: a data file that is missing or cannot be
    read, a variable that does not exist, a plan the model garbled."""


class InvalidRequirementError(AutoCoderError, ValueError):
    """An install argument that is not a plain package requirement."""


# -- evaluation ------------------------------------------------------------------------------


class UnknownTaskFormatError(AutoCoderError, LookupError):
    """A task format name, or a task source (neither a task set's name nor a file), that is
    not known; the message lists the valid names."""

    def __init__(self, message: str, valid_names: list[str]):
        self.valid_names = valid_names
        super().__init__(message)


class TaskFileError(AutoCoderError, ValueError):
    """A task file with a line that is not a task (not JSON, or no `prompt` and `test`)."""


class MissingExtraError(AutoCoderError, ImportError):
    """A feature whose optional dependency is not installed; says which extra brings it."""

    def __init__(self, feature: str, package: str, extra: str):
        self.package = package
        self.extra = extra
        super().__init__(
            f"{feature} needs the {package} package, which is not installed: "
            f'pip install "jupyter-autocoder[{extra}]"'
        )


# -- the server's refusals -------------------------------------------------------------------


class ProxyError(AutoCoderError):
    """A request the proxy refuses or cannot serve, with the HTTP status to answer."""

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code  # OpenAI's error code, e.g. "model_not_found"

    def to_dict(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.kind}
        if self.code:
            error["code"] = self.code
        return {"message": self.message, "error": error}


class ProtocolError(AutoCoderError, ValueError):
    """A message the server refuses; the socket answers it with an `error` (a `Refusal`,
    server/protocol.py) and stays open."""

    def __init__(self, message: str, in_reply_to: str | None = None, notebook: str | None = None):
        super().__init__(message)
        self.message = message
        self.in_reply_to = in_reply_to
        self.notebook = notebook


class PolicyError(AutoCoderError, PermissionError):
    """What the admin's policy forbids (`c.AutoCoder.allowed_models`, `allow_downloads`,
    ...); answered with 403 and a message that names the setting."""

    def __init__(self, message: str, setting: str):
        super().__init__(message)
        self.message = message
        self.setting = setting


class QueueBusyError(AutoCoderError):
    """A request that could not start within its budget and was dropped, not queued (an
    inline completion: one that starts late is worthless)."""


class PathError(AutoCoderError, ValueError):
    """A notebook path that is malformed or outside the server root."""
