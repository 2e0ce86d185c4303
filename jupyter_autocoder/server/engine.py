"""The server's side of the model engine: one `EngineSupervisor`, its status and the catalogue.

The tornado handlers only translate HTTP to these calls. Nothing here loads a model on the
event loop: the supervisor loads it in a thread of its own, and its (blocking) stop runs in
the executor.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..config import AutoCoder

ENGINE_STATES = ("stopped", "downloading", "loading", "ready", "failed")
STATUS_KEYS = (
    "state",
    "model",
    "path",
    "device",
    "n_gpu_layers",
    "n_layers",
    "error",
    "progress",
    "base_url",
)


class EngineHost:
    """Owns the server's one model engine supervisor and answers for it.

    `supervisor` is None when the engine cannot be created; `status()` then says why,
    in the same shape as `EngineSupervisor.status()`.
    """

    def __init__(self, settings: AutoCoder, log: logging.Logger | None = None):
        self.settings = settings
        self.log = log or logging.getLogger(__name__)
        self.supervisor: Any = None
        self.unavailable_reason: str | None = None
        try:
            # Imported here, not at module level: it brings httpx and the model resolution.
            from ..llm.supervisor import EngineSupervisor

            self.supervisor = EngineSupervisor(settings)
        except Exception as error:  # a broken engine must not take the Jupyter server down
            self.log.error("jupyter_autocoder: cannot create the model engine: %s", error, exc_info=True)
            self.unavailable_reason = f"Cannot create the model engine: {error}"

    def status(self) -> dict[str, Any]:
        """The engine's state: the supervisor's own status, or why there is none."""
        if self.supervisor is not None:
            try:
                return dict(self.supervisor.status())
            except Exception as error:
                self.log.error("jupyter_autocoder: engine status failed: %s", error, exc_info=True)
                return self._placeholder_status("failed", f"Engine status failed: {error}")
        return self._placeholder_status("failed", self.unavailable_reason)

    def _placeholder_status(self, state: str, error: str | None) -> dict[str, Any]:
        remote = bool(self.settings.engine_url)
        return {
            "state": state,
            "model": self.settings.model,
            "path": None,
            "device": "remote" if remote else None,
            "n_gpu_layers": self.settings.n_gpu_layers,
            "n_layers": None,
            "error": error,
            "progress": None,
            "base_url": self.settings.engine_url or None,
        }

    def start_in_background(self) -> None:
        """Start loading the model; the supervisor does it in a thread of its own, so the
        server answers (and reports "downloading"/"loading") meanwhile."""
        if self.supervisor is None:
            self.log.warning("jupyter_autocoder: not loading a model: %s", self.unavailable_reason)
            return
        try:
            self.supervisor.start(wait=False)
        except Exception as error:  # the supervisor reports failures in its status too
            self.log.error("jupyter_autocoder: the model engine failed to start: %s", error, exc_info=True)

    async def stop(self) -> None:
        """Stop the engine (the worker process); log failures, never raise."""
        if self.supervisor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.supervisor.stop)
        except Exception as error:
            self.log.error("jupyter_autocoder: stopping the model engine failed: %s", error, exc_info=True)


def list_models() -> list[dict[str, Any]]:
    """The catalogue with what is cached on this machine, as JSON-ready dicts."""
    # Imported here: the resolution brings huggingface_hub, which the server needs only now.
    from ..llm.resolve import list_models as catalogue_with_cache

    return catalogue_with_cache()
