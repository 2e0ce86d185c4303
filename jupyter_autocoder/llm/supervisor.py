"""The supervisor of the model worker: start it, wait until it answers, restart it after a
crash, stop it (which frees the model's memory), and say what state it is in.

With an engine URL configured (AUTOCODER_ENGINE_URL) no worker is started: the supervisor
only reports the remote engine and hands out clients for it.

The worker gets an environment of its own (`worker_environment`): what Python, llama.cpp
and the GPU libraries read, and its key; not the server's (the kernels' proxy key, tokens,
the admin's cloud credentials). A model the admin's policy does not allow is not loaded,
and with downloads turned off nothing is downloaded.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from ..config import AutoCoder
from ..errors import AutoCoderError, DownloadCancelledError, EngineUnavailableError
from ..policy import AdminPolicy
from .bandwidth import default_cache_file
from .choice import AutoChoice
from .client import ModelClient
from .resolve import ResolvedModel, resolve_model
from .worker import EVENT_PREFIX, WORKER_KEY_VARIABLE

log = logging.getLogger(__name__)

STOPPED, DOWNLOADING, LOADING, READY, FAILED = (
    "stopped",
    "downloading",
    "loading",
    "ready",
    "failed",
)

# A worker that crashes more often than this within the window is left failed, not restarted.
MAX_RESTARTS, RESTART_WINDOW_SECONDS = 3, 300.0

# What the worker's environment keeps of this process's: the names, and the prefixes, that
# Python, llama.cpp, its BLAS and GPU back ends and the C library read. Nothing else: the
# server's environment holds the kernels' proxy key and whatever the admin started it with.
WORKER_ENVIRONMENT_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONUTF8",
        "PYTHONIOENCODING",
        "PYTHONDONTWRITEBYTECODE",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "SYSTEMROOT",
        "WINDIR",
        "COMSPEC",
        "PATHEXT",
        "APPDATA",
        "LOCALAPPDATA",
        "USERPROFILE",
        "NUMBER_OF_PROCESSORS",
        "XDG_CACHE_HOME",
        "XDG_RUNTIME_DIR",
    }
)
WORKER_ENVIRONMENT_PREFIXES = (
    "LC_",
    "DYLD_",
    "CUDA_",
    "NVIDIA_",
    "HIP_",
    "ROCR_",
    "HSA_",
    "ROCM_",
    "GGML_",
    "LLAMA_",
    "OMP_",
    "KMP_",
    "GOMP_",
    "OPENBLAS_",
    "MKL_",
    "VK_",
    "MTL_",
    "METAL_",
    "AUTOCODER_WORKER_",
)


def worker_environment(key: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The worker's environment: the allowed part of `environ` (default: this process's)
    and the worker's own key."""
    environ = os.environ if environ is None else environ
    kept = {
        name: value
        for name, value in environ.items()
        if name in WORKER_ENVIRONMENT_NAMES or name.startswith(WORKER_ENVIRONMENT_PREFIXES)
    }
    return {**kept, WORKER_KEY_VARIABLE: key}


class EngineSupervisor:
    """Owns one model worker process (or points at a remote engine)."""

    def __init__(self, settings: AutoCoder | None = None, **overrides: Any):
        self.settings = settings if settings is not None else AutoCoder()
        for name, value in overrides.items():
            setattr(self.settings, name, value)
        self.api_key = secrets.token_urlsafe(24)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._process: subprocess.Popen[str] | None = None
        self._port = 0
        self._state = STOPPED
        self._facts: dict[str, Any] = {}
        self._error: str | None = None
        self._progress: dict[str, Any] | None = None
        self._resolved: ResolvedModel | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._stopping = False
        self._crash_times: list[float] = []
        self._starter: threading.Thread | None = None
        self._handled_exits: set[subprocess.Popen[str]] = set()
        self._suspect = False  # a client lost its connection: the worker may have died
        self._choice: AutoChoice | None = None  # what `auto` chose, kept for the status
        self._generation = 0  # one per start: a download of an earlier start stops itself
        # Told what `auto` chose before a download starts (the server logs it, the CLI prints it).
        self.on_choice: Callable[[AutoChoice], None] | None = None

    # --- what others see --------------------------------------------------------------

    @property
    def remote(self) -> bool:
        return bool(self.settings.engine_url)

    @property
    def state(self) -> str:
        return READY if self.remote else self._state

    @property
    def base_url(self) -> str:
        if self.remote:
            return self.settings.engine_url.rstrip("/")
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def model_name(self) -> str:
        if self._resolved is not None:
            return self._resolved.name
        return self.settings.model

    def status(self) -> dict[str, Any]:
        with self._lock:
            if self.remote:
                return {
                    "state": READY,
                    "model": self.settings.model,
                    "device": "remote",
                    "base_url": self.base_url,
                    "n_gpu_layers": None,
                    "n_layers": None,
                    "error": None,
                    "progress": None,
                    "path": None,
                    "notice": None,
                    "choice": None,
                }
            resolved = self._resolved
            return {
                "state": self._state,
                "model": self.model_name,
                "path": resolved.path if resolved else None,
                "device": self._facts.get("device"),
                "n_gpu_layers": self._facts.get("n_gpu_layers"),
                "n_layers": self._facts.get("n_layers", resolved.n_layers if resolved else None),
                "chat_format": resolved.chat.reason if resolved else None,
                "draft": self.settings.draft,
                "n_ctx": self.settings.n_ctx,
                "n_threads": self._facts.get("n_threads"),
                "n_threads_batch": self._facts.get("n_threads_batch"),
                "load_seconds": self._facts.get("load_seconds"),
                "error": self._error,
                "notice": resolved.notice if resolved else None,
                "choice": self._choice.to_dict() if self._choice else None,
                "progress": self._progress,
                "base_url": self.base_url if self._state == READY else None,
                "pid": self._process.pid if self._process and self._state == READY else None,
                "restarts": len(self._crash_times),
                # Inline completion: the model's FIM tokens ({}: none) and the lane's context.
                "fim": self._facts.get("fim"),
                "completion_ctx": self._facts.get("completion_ctx", 0),
            }

    def client(self, **kwargs: Any) -> ModelClient:
        """A client for the engine (call `ensure_running()` first for a local worker)."""
        if self.remote:
            return ModelClient(
                self.base_url,
                api_key=self.settings.api_key or None,
                model=self.settings.model,
                **kwargs,
            )
        return ModelClient(
            self.base_url,
            api_key=self.api_key,
            model=self.model_name,
            on_connection_lost=self._note_connection_lost,
            **kwargs,
        )

    # --- lifecycle --------------------------------------------------------------------

    def start(self, wait: bool = True) -> None:
        """Resolve the model and start the worker; with wait=False this happens in the
        background."""
        if self.remote:
            return
        with self._lock:
            if self._state in (DOWNLOADING, LOADING, READY):
                starter = self._starter
            else:
                self._stopping = False
                self._error = None
                self._state = LOADING
                self._generation += 1
                starter = self._starter = threading.Thread(
                    target=self._start_worker,
                    args=(self._generation,),
                    name="autocoder-start",
                    daemon=True,
                )
                starter.start()
        if wait:
            self.wait_ready()

    def ensure_running(self, timeout: float | None = None) -> None:
        """Start the worker if it is not running and wait until it answers."""
        if self.remote:
            return
        process = self._process
        if process is not None and self._state == READY and self._worker_may_be_dying(process):
            self._on_exit(process, process.returncode)
        if self.state != READY:
            self.start(wait=False)
        self.wait_ready(timeout)

    def _worker_may_be_dying(self, process: subprocess.Popen[str]) -> bool:
        """True when the worker has ended: a client lost its connection, so wait briefly
        for the process (its sockets close a moment before it is reaped)."""
        with self._lock:
            suspect, self._suspect = self._suspect, False
        if not suspect:
            return process.returncode is not None
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            return False  # alive: the connection was lost for another reason
        return True

    def _note_connection_lost(self) -> None:
        with self._lock:
            self._suspect = True

    def wait_ready(self, timeout: float | None = None) -> None:
        timeout = self.settings.worker_start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._state in (DOWNLOADING, LOADING):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EngineUnavailableError(
                        f"the model worker was not ready after {timeout:.0f} s"
                    )
                self._changed.wait(remaining)
            if self._state == FAILED:
                raise EngineUnavailableError(f"the model worker failed: {self._error}")
            if self._state == STOPPED:
                raise EngineUnavailableError("the model worker is stopped")

    def stop(self) -> None:
        """Stop the worker; its memory is freed when the process ends."""
        with self._lock:
            self._stopping = True
            process = self._process
        if process is not None:
            _terminate(process)
        with self._changed:
            self._process = None
            self._state = STOPPED
            self._progress = None
            self._changed.notify_all()

    def switch(self, model: str, wait: bool = True) -> None:
        """Unload the current model and load another."""
        self.stop()
        with self._lock:
            self.settings.model = model
            self._resolved = None
            self._choice = None
            self._facts = {}
            self._crash_times = []
        self.start(wait=wait)

    # --- inside ------------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(self, f"_{name}", value)
            self._changed.notify_all()

    def _cancelled(self, generation: int) -> bool:
        return self._stopping or generation != self._generation

    def _on_progress(self, generation: int, done: int, total: int, what: str) -> None:
        if self._cancelled(generation):  # stop() during a download: the download ends here
            raise DownloadCancelledError(f"the download of {what} was cancelled")
        self._set(state=DOWNLOADING, progress={"done": done, "total": total, "file": what})

    def _on_choice(self, generation: int, choice: AutoChoice) -> None:
        with self._changed:
            if self._cancelled(generation):
                raise DownloadCancelledError(f"the start that chose {choice.model} was cancelled")
            self._choice = choice
            if not choice.cached:  # the size is in the status before the first byte comes
                self._state = DOWNLOADING
                self._progress = {"done": 0, "total": choice.download_bytes, "file": choice.model}
            self._changed.notify_all()
        if self.on_choice is not None:
            self.on_choice(choice)

    def _start_worker(self, generation: int) -> None:
        try:
            if self._resolved is None:
                AdminPolicy(self.settings).check_model(self.settings.model, "load")
            resolved = self._resolved or resolve_model(
                self.settings.model,
                progress=lambda done, total, what: self._on_progress(generation, done, total, what),
                on_choice=lambda choice: self._on_choice(generation, choice),
                min_tokens_per_second=self.settings.min_tokens_per_second,
                download=self.settings.allow_downloads,
            )
            if self._cancelled(generation):  # stopped while the model was being resolved
                return
            self._resolved = resolved
            self._set(state=LOADING, progress=None)
            self._launch(resolved)
        except DownloadCancelledError as error:
            log.info("%s", error)
            with self._changed:
                if generation == self._generation:
                    self._state, self._error, self._progress = STOPPED, None, None
                    self._changed.notify_all()
        except AutoCoderError as error:
            if generation == self._generation:
                self._set(state=FAILED, error=str(error), progress=None)
        except Exception as error:  # a failure to start must be reported, never swallowed
            log.exception("the model worker could not be started")
            if generation == self._generation:
                self._set(state=FAILED, error=f"{type(error).__name__}: {error}", progress=None)

    def _command(self, resolved: ResolvedModel) -> list[str]:
        settings = self.settings
        command = [
            sys.executable,
            "-m",
            "jupyter_autocoder.llm.worker",
            "--model",
            resolved.path,
            "--model-alias",
            resolved.name,
            "--port",
            str(self._port),
            "--n-gpu-layers",
            str(settings.n_gpu_layers),
            "--n-ctx",
            str(settings.n_ctx),
            "--n-threads",
            str(settings.n_threads),
            "--n-threads-batch",
            str(settings.n_threads_batch),
            "--draft",
            settings.draft,
            "--parent-pid",
            str(os.getpid()),
            "--completion-ctx",
            str(settings.completion_n_ctx),
            # Its CPU decodes correct `auto`'s bandwidth figure (bandwidth.DecodeRecorder).
            "--bandwidth-cache",
            str(default_cache_file()),
        ]
        if resolved.chat.chat_format:
            command += ["--chat-format", resolved.chat.chat_format]
        return command

    def _launch(self, resolved: ResolvedModel) -> None:
        environment = worker_environment(self.api_key)
        process = subprocess.Popen(
            self._command(resolved),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment,
            # Its own session: a kernel interrupt or a terminal's Ctrl-C must not reach the model.
            start_new_session=True,
        )
        with self._lock:
            self._process = process
        threading.Thread(target=self._drain_stderr, args=(process,), daemon=True).start()
        for line in process.stdout:  # type: ignore[union-attr]
            if not line.startswith(EVENT_PREFIX):
                continue
            event = json.loads(line[len(EVENT_PREFIX) :])
            if event["event"] == "listening":
                self._port = event["port"]
            elif event["event"] == "error":
                self._set(state=FAILED, error=event["message"])
            elif event["event"] == "ready":
                self._facts = event
                self._wait_until_answering(process)
                break
        threading.Thread(target=self._watch, args=(process,), daemon=True).start()

    def _wait_until_answering(self, process: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 30
        headers = {"Authorization": f"Bearer {self.api_key}"}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if (
                    httpx.get(
                        f"{self.base_url}/models", headers=headers, timeout=2, trust_env=False
                    ).status_code
                    == 200
                ):
                    self._set(state=READY, error=None)
                    log.info(
                        "model worker ready: %s on %s", self.model_name, self._facts.get("device")
                    )
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        if process.poll() is None:
            self._set(state=FAILED, error="the model worker loaded the model but does not answer")

    def _drain_stderr(self, process: subprocess.Popen[str]) -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            self._stderr_tail.append(line.rstrip())

    def _watch(self, process: subprocess.Popen[str]) -> None:
        """Wait for the worker to end; an end nobody asked for is a crash: restart it."""
        for _ in process.stdout:  # type: ignore[union-attr]
            pass
        self._on_exit(process, process.wait())

    def _on_exit(self, process: subprocess.Popen[str], code: int) -> None:
        with self._lock:
            if self._stopping or process is not self._process or process in self._handled_exits:
                return
            self._handled_exits.add(process)
            detail = "; ".join(line for line in list(self._stderr_tail)[-3:] if line)
            reason = f"the model worker exited with code {code}" + (
                f" ({detail})" if detail else ""
            )
            if self._state != READY:
                self._set(state=FAILED, error=self._error or reason)
                return
            now = time.monotonic()
            self._crash_times = [
                t for t in self._crash_times if now - t < RESTART_WINDOW_SECONDS
            ] + [now]
            if len(self._crash_times) > MAX_RESTARTS:
                self._set(
                    state=FAILED,
                    error=f"{reason}; it crashed {len(self._crash_times)} times, not restarting",
                )
                return
            log.warning("%s; restarting it", reason)
            self._set(state=LOADING, error=None)
            self._generation += 1
            self._starter = threading.Thread(
                target=self._start_worker,
                args=(self._generation,),
                name="autocoder-restart",
                daemon=True,
            )
            self._starter.start()


def _terminate(process: subprocess.Popen[str], grace: float = 5.0) -> None:
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except ProcessLookupError:
        pass
