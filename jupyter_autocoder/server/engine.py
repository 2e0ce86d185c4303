"""The server's side of the model engine: one `EngineSupervisor`, its status and the catalogue.

The tornado handlers only translate HTTP to these calls. Nothing here loads a model on the
event loop: the supervisor loads it in a thread of its own, and its (blocking) stop runs in
the executor. A remote engine is probed (`probe_remote`, cached `probe_seconds`), so the
status says `unreachable`, with the reason, when it does not answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

import httpx

from ..config import AutoCoder
from ..errors import EngineBusyError, ModelUnavailableError, PolicyError
from ..policy import AdminPolicy

ENGINE_STATES = ("stopped", "downloading", "loading", "ready", "failed", "unreachable")
# How long a remote engine's answer to the probe is trusted, and how long it may take.
PROBE_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 3.0
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
    "notice",
    "choice",
)


class EngineHost:
    """Owns the server's one model engine supervisor and answers for it.

    `supervisor` is None when the engine cannot be created; `status()` then says why,
    in the same shape as `EngineSupervisor.status()`.
    """

    def __init__(self, settings: AutoCoder, log: logging.Logger | None = None):
        self.settings = settings
        self.policy = AdminPolicy(settings)
        self.log = log or logging.getLogger(__name__)
        self.supervisor: Any = None
        self.unavailable_reason: str | None = None
        self.probe_seconds = PROBE_SECONDS
        self._unreachable: str | None = None  # why the remote engine did not answer the probe
        self._probed_at: float | None = None
        self._probing: asyncio.Future[None] | None = None
        try:
            # Imported here, not at module level: it brings httpx and the model resolution.
            from ..llm.supervisor import EngineSupervisor

            self.supervisor = EngineSupervisor(settings)
            self.supervisor.on_choice = self._announce_choice
        except Exception as error:  # a broken engine must not take the Jupyter server down
            self.log.error(
                "jupyter_autocoder: cannot create the model engine: %s", error, exc_info=True
            )
            self.unavailable_reason = f"Cannot create the model engine: {error}"

    def status(self) -> dict[str, Any]:
        """The engine's state: the supervisor's own status, or why there is none. For a
        remote engine, the last probe's word (call `probe_remote` first to refresh it)."""
        if self.supervisor is not None:
            try:
                status = dict(self.supervisor.status())
            except Exception as error:
                self.log.error("jupyter_autocoder: engine status failed: %s", error, exc_info=True)
                return self._placeholder_status("failed", f"Engine status failed: {error}")
            if self.remote and self._unreachable is not None:
                status.update(state="unreachable", error=self._unreachable)
            return status
        return self._placeholder_status("failed", self.unavailable_reason)

    async def probe_remote(self) -> None:
        """Ask a remote engine whether it answers (GET /models with its key), at most once
        every `probe_seconds`; requests that come meanwhile share the one probe."""
        if not self.remote or self.supervisor is None:
            return
        probed_at = self._probed_at
        if probed_at is not None and time.monotonic() - probed_at < self.probe_seconds:
            return
        if self._probing is None:
            self._probing = asyncio.ensure_future(self._probe())
        await asyncio.shield(self._probing)

    async def _probe(self) -> None:
        url, headers = self.upstream("models")
        base = self.supervisor.base_url
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_SECONDS, trust_env=False) as client:
                response = await client.get(url, headers=headers)
            if response.status_code == 200:
                problem = None
            elif response.status_code in (401, 403):
                problem = f"the engine at {base} refused the key ({response.status_code})"
            else:
                problem = f"the engine at {base} answered {response.status_code} to GET /models"
        except Exception as error:  # any failure means the engine cannot be used now
            problem = f"cannot connect to {base}: {error or type(error).__name__}"
        finally:
            self._probing = None
        if problem != self._unreachable:
            log = self.log.warning if problem else self.log.info
            log("jupyter_autocoder: the remote engine %s", problem or f"at {base} answers again")
        self._unreachable, self._probed_at = problem, time.monotonic()

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
            "notice": None,
            "choice": None,
        }

    def _announce_choice(self, choice: Any) -> None:
        """Say in the server's log what `auto` chose, and any download's size before it starts
        (the panel shows the same, with a Cancel button)."""
        self.log.info("jupyter_autocoder: %s.", choice.headline())
        if not choice.cached:
            self.log.warning(
                "jupyter_autocoder: downloading %s, %.2f GB from %s. Cancel it in the AutoCoder "
                "panel, or choose a model with c.AutoCoder.model (jupyter-autocoder models lists "
                "them).",
                choice.model,
                choice.download_bytes / 1e9,
                choice.download_from,
            )
        if choice.notice():
            self.log.warning("jupyter_autocoder: %s", choice.notice())

    def start_in_background(self) -> None:
        """Start loading the model; the supervisor does it in a thread of its own, so the
        server answers (and reports "downloading"/"loading") meanwhile."""
        if self.supervisor is None:
            self.log.warning("jupyter_autocoder: not loading a model: %s", self.unavailable_reason)
            return
        try:
            self.supervisor.start(wait=False)
        except Exception as error:  # the supervisor reports failures in its status too
            self.log.error(
                "jupyter_autocoder: the model engine failed to start: %s", error, exc_info=True
            )

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

    def serves(self, model: Any) -> bool:
        """Whether `model` names the server's model (as configured, or as the engine calls it)."""
        if not isinstance(model, str):
            return False
        names = {self.settings.model, self.model_name()}
        return model.strip().lower() in {name.lower() for name in names if name}

    def check_served_model_allowed(self) -> None:
        """The proxy's check: the model it serves is one the admin allows (PolicyError)."""
        names = [self.settings.model, self.model_name()]
        if not any(self.policy.model_allowed(name) for name in names):
            self.policy.check_model(self.settings.model, "use")

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
        root = (
            url[: -len("/v1/completions")]
            if url.endswith("/v1/completions")
            else url.rsplit("/", 1)[0]
        )
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

    def checked_model(self, action: str, model: Any) -> str | None:
        """The model a REST action names, checked against the catalogue, the file system's
        model folders and the admin's policy (blocking: it may look at files). None: the
        action names no model (unload, or load of the configured one).

        Raises ModelNotFoundError / ModelFileError (404), PolicyError (403), and ValueError
        (400) for a pull of a local file, which is answered without looking at the disk."""
        if action == "unload" or (action == "load" and model is None):
            return None
        if action == "pull" and isinstance(model, str) and _is_local_path(model):
            raise ValueError("a local .gguf file needs no pull")
        name = check_model_name(model, self.policy)
        verb = {"pull": "pull", "load": "load", "switch": "switch to"}.get(action, action)
        self.policy.check_model(name, verb)
        if action == "pull":
            self.policy.check_download(f"pull {name}")
        elif not self.settings.allow_downloads and not self.remote:
            self._check_local(name, verb)
        return name

    def _check_local(self, name: str, verb: str) -> None:
        """With downloads off, refuse at once a model that is not on this machine."""
        from ..llm.resolve import resolve_model

        try:
            resolve_model(name, download=False, check_memory=False)
        except ModelUnavailableError:
            raise PolicyError(
                f"Cannot {verb} {name}: it is not on this machine, and downloads are turned off "
                "on this server (c.AutoCoder.allow_downloads = False).",
                "allow_downloads",
            ) from None

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
            self.log.error(
                "jupyter_autocoder: stopping the model engine failed: %s", error, exc_info=True
            )


def check_model_name(name: Any, policy: AdminPolicy | None = None) -> str:
    """A model name that can be resolved (catalogue, auto, hf: reference, .gguf file), or a
    typed error naming the valid choices. With a `policy`, a .gguf path must lie in its
    model folders (`AdminPolicy.loadable_path`) and comes back as its real path."""
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
        if policy is not None:
            return policy.loadable_path(name)
        path = os.path.abspath(os.path.expanduser(name))
        if not os.path.isfile(path):
            raise ModelFileError(f"Model file not found: {path}")
        return path
    raise ModelNotFoundError(name, ["auto", *CATALOGUE])


def _is_local_path(name: str) -> bool:
    return not name.startswith("hf:") and (os.path.isabs(name) or name.strip().endswith(".gguf"))


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
        if _is_local_path(name):
            raise ValueError("a local .gguf file needs no pull")
        with self._lock:
            current = self._pulls.get(name)
            if current is not None and current["state"] == "downloading":
                return dict(current)
            pull = {
                "model": name,
                "state": "downloading",
                "done": 0,
                "total": None,
                "file": None,
                "error": None,
                "path": None,
                "started_at": time.time(),
                "finished_at": None,
            }
            self._pulls[name] = pull
        threading.Thread(
            target=self._run, args=(name,), name=f"autocoder-pull-{name}", daemon=True
        ).start()
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
