"""Typed errors of the model side: what went wrong, and what the user can do about it."""

from __future__ import annotations


class AutoCoderError(Exception):
    """Base of every error this package raises on purpose."""


class ModelNotFoundError(AutoCoderError, LookupError):
    """A model name that is neither in the catalogue, nor a file, nor an hf: reference."""

    def __init__(self, name: str, valid_names: list[str]):
        self.name = name
        self.valid_names = valid_names
        super().__init__(
            f"Unknown model {name!r}. Valid names: {', '.join(valid_names)}; "
            "or a path to a .gguf file, or hf:REPO/FILE.gguf."
        )


class ModelFileError(AutoCoderError):
    """A model file that is missing, unreadable or not a GGUF file."""


class ModelUnavailableError(AutoCoderError):
    """A model that cannot be had here: not cached and the hub cannot be reached, say."""


class ModelTooLargeError(AutoCoderError):
    """A model that does not fit in the memory this machine has."""


class EngineError(AutoCoderError):
    """Base of the errors met while talking to a model engine."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached (not started, crashed, wrong URL)."""


class EngineAuthError(EngineError):
    """The engine refused the key."""


class EngineRequestError(EngineError):
    """The engine answered with an error status."""

    def __init__(self, status_code: int, message: str):
        self.status_code = status_code
        self.message = message
        super().__init__(f"engine answered {status_code}: {message}")


class EngineStreamBroken(EngineError):
    """The connection was lost in the middle of a streamed answer."""
