"""The server's side of the model engine: one `EngineSupervisor`, its status and the catalogue.

The tornado handlers only translate HTTP to these calls. Nothing here loads a model on the
event loop: the supervisor loads it in a thread of its own, and its (blocking) stop runs in
the executor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

from ..config import AutoCoder
from ..errors import EngineBusyError

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

    # --- for the proxy ------------------------------------------------------------------

    @property
    def remote(self) -> bool:
        return bool(self.settings.engine_url)

    @property
    def ready(self) -> bool:
        return self.supervisor is not None and self.supervisor.state == "ready"

    def ensure_running(self, timeout: float | None = None) -> None:
        """Start the model if needed and wait until it answers (blocking: call it in a thread)."""
        if self.supervisor is None:
            from ..errors import EngineUnavailableError

            raise EngineUnavailableError(self.unavailable_reason or "no model engine")
        self.supervisor.ensure_running(timeout)

    def model_name(self) -> str:
        """The model's name as the engine knows it."""
        if self.supervisor is None or self.remote:
            return self.settings.model
        return self.supervisor.model_name

    def upstream(self, path: str) -> tuple[str, dict[str, str]]:
        """The engine's URL for `path` (below /v1) and the headers that authenticate there."""
        key = self.settings.api_key if self.remote else self.supervisor.api_key
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return f"{self.supervisor.base_url}/{path}", headers

    def lane_upstream(self) -> tuple[str, dict[str, str]]:
        """The local worker's inline-completion lane (llm/completion_lane.py): its URL, at
        the worker's root rather than below /v1 (the proxy never forwards there), and the
        headers that authenticate there."""
        url, headers = self.upstream("completions")
        root = url[: -len("/v1/completions")] if url.endswith("/v1/completions") else url.rsplit("/", 1)[0]
        return f"{root}/autocoder/completions", headers

    # --- model actions (blocking: the handlers run them in a thread) ---------------------

    def _local_supervisor(self, action: str) -> Any:
        if self.remote:
            raise EngineBusyError(
                f"Cannot {action}: the engine is remote ({self.settings.engine_url}); "
                "its models are managed there."
            )
        if self.supervisor is None:
            raise EngineBusyError(f"Cannot {action}: {self.unavailable_reason}")
        return self.supervisor

    def load(self, model: str | None = None) -> None:
        """Load the configured model, or switch to `model` when another one is named."""
        supervisor = self._local_supervisor("load a model")
        if model and model != self.settings.model:
            self.switch(model)
        else:
            supervisor.start(wait=False)

    def unload(self) -> None:
        self._local_supervisor("unload the model").stop()

    def switch(self, model: str) -> None:
        supervisor = self._local_supervisor("switch models")
        self.log.info("jupyter_autocoder: switching the model to %s", model)
        supervisor.switch(model, wait=False)

    async def stop(self) -> None:
        """Stop the engine (the worker process); log failures, never raise."""
        if self.supervisor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.supervisor.stop)
        except Exception as error:
            self.log.error("jupyter_autocoder: stopping the model engine failed: %s", error, exc_info=True)


def check_model_name(name: Any) -> str:
    """A model name that can be resolved (catalogue, auto, hf: reference, existing .gguf),
    or a typed error naming the valid choices."""
    from ..errors import ModelFileError, ModelNotFoundError
    from ..llm.catalogue import CATALOGUE
    from ..llm.resolve import parse_hf_reference

    if not isinstance(name, str) or not name.strip():
        raise ModelNotFoundError(str(name), ["auto", *CATALOGUE])
    name = name.strip()
    if name.lower() == "auto" or name.lower() in CATALOGUE:
        return name.lower()
    if name.startswith("hf:"):
        parse_hf_reference(name)
        return name
    if name.endswith(".gguf"):
        path = os.path.abspath(os.path.expanduser(name))
        if not os.path.isfile(path):
            raise ModelFileError(f"Model file not found: {path}")
        return path
    raise ModelNotFoundError(name, ["auto", *CATALOGUE])


class ModelPulls:
    """Downloads started from the server, each in a thread, with their progress.

    The download itself is `resolve_model` (the hub's cache: partial files keep an
    `.incomplete` name until they are whole; assembled models are checked before they take
    their final name), so a pull that fails halfway leaves nothing that a load would use.
    """

    def __init__(self, log: logging.Logger | None = None):
        self.log = log or logging.getLogger(__name__)
        self._lock = threading.Lock()
        self._pulls: dict[str, dict[str, Any]] = {}

    def start(self, name: str) -> dict[str, Any]:
        """Begin pulling `name` (a catalogue name or hf: reference); a pull in progress is kept."""
        if not name.startswith("hf:") and (os.path.isabs(name) or name.endswith(".gguf")):
            raise ValueError("a local .gguf file needs no pull")
        with self._lock:
            current = self._pulls.get(name)
            if current is not None and current["state"] == "downloading":
                return dict(current)
            pull = {"model": name, "state": "downloading", "done": 0, "total": None, "file": None,
                    "error": None, "path": None, "started_at": time.time(), "finished_at": None}
            self._pulls[name] = pull
        threading.Thread(target=self._run, args=(name,), name=f"autocoder-pull-{name}", daemon=True).start()
        return dict(pull)

    def status(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: dict(pull) for name, pull in self._pulls.items()}

    def _update(self, name: str, **changes: Any) -> None:
        with self._lock:
            self._pulls[name].update(changes)

    def _run(self, name: str) -> None:
        from ..llm.resolve import resolve_model

        def progress(done: int, total: int, what: str) -> None:
            self._update(name, done=done, total=total, file=what)

        try:
            resolved = resolve_model(name, download=True, progress=progress, check_memory=False)
        except Exception as error:  # every failure is reported in the pull's state
            self.log.warning("jupyter_autocoder: pulling %s failed: %s", name, error)
            self._update(name, state="failed", error=str(error), finished_at=time.time())
            return
        self._update(name, state="done", path=resolved.path, finished_at=time.time())
        self.log.info("jupyter_autocoder: pulled %s to %s", name, resolved.path)


def list_models() -> list[dict[str, Any]]:
    """The catalogue with what is cached on this machine, as JSON-ready dicts."""
    # Imported here: the resolution brings huggingface_hub, which the server needs only now.
    from ..llm.resolve import list_models as catalogue_with_cache

    return catalogue_with_cache()
