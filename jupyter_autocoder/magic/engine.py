"""Where `%%autocoder` requests go, and what `%autocoder status` says of it.

With `AUTOCODER_ENGINE_URL` set (a kernel that a Jupyter server with this extension started
gets its proxy's URL and key; or any OpenAI-compatible engine), there; otherwise to a
llama.cpp worker that this kernel starts on the first request (its download and load shown
in the cell) and keeps for its life, stopped when the kernel exits or the extension is
unloaded.

Nothing heavy is imported at module level: the HTTP client and llama.cpp's supervisor come
with the first request (the extension must load fast).
"""

from __future__ import annotations

import atexit
import logging
import time
from typing import TYPE_CHECKING, Any

from .display import StoppedByUser

if TYPE_CHECKING:
    from ..config import AutoCoder
    from ..llm.client import ModelClient
    from ..llm.supervisor import EngineSupervisor
    from .display import CellDisplay

log = logging.getLogger(__name__)

# A local worker's load is waited for this often, to redraw its progress.
LOAD_POLL_SECONDS = 0.25
# The path of the Jupyter server's proxy: a URL ending so is the server's model.
PROXY_SUFFIX = "/autocoder/api/v1"


class KernelEngine:
    """The engine this kernel's requests go to: a remote URL, or a worker of its own."""

    def __init__(self) -> None:
        self._supervisor: EngineSupervisor | None = None

    def connect(
        self, settings: AutoCoder, model: str | None, display: CellDisplay
    ) -> ModelClient | None:
        """A client for the engine, starting this kernel's worker if it must; None (and the
        reason shown) when there is no engine to be had."""
        __tracebackhide__ = True
        from ..errors import EngineError
        from ..llm.client import ModelClient

        if settings.engine_url:
            name = model or (settings.model if settings.model != "auto" else "default")
            return ModelClient(settings.engine_url, api_key=settings.api_key or None, model=name)
        try:
            supervisor = self.local_engine(settings, model, display)
        except EngineError as error:
            display.line(
                f"⚠ **The model could not be started:** {error}",
                f"The model could not be started: {error}",
            )
            return None
        return supervisor.client()

    def local_engine(
        self, settings: AutoCoder, model: str | None, display: CellDisplay
    ) -> EngineSupervisor:
        """This kernel's own worker, started (with its progress shown) if it is not running."""
        __tracebackhide__ = True
        from ..errors import EngineUnavailableError
        from ..llm.supervisor import DOWNLOADING, LOADING, READY, EngineSupervisor
        from .display import LoadProgress

        supervisor = self._supervisor
        if supervisor is None:
            supervisor = self._supervisor = EngineSupervisor(settings)
            atexit.register(self.shutdown)
        if model and model not in (supervisor.settings.model, supervisor.model_name):
            supervisor.switch(model, wait=False)
        if supervisor.state == READY:
            supervisor.ensure_running()  # notices a worker that died, and restarts it
            return supervisor
        supervisor.start(wait=False)
        progress = LoadProgress(display)
        started = time.monotonic()
        told_choice = False
        try:
            status = supervisor.status()
            while status["state"] in (DOWNLOADING, LOADING):
                choice = status.get("choice")
                if choice and not told_choice:  # what auto picked, and a download's size, first
                    told_choice = True
                    display.line(f"_{choice['headline']}._", f"{choice['headline']}.")
                progress.update(status)
                if time.monotonic() - started > settings.worker_start_timeout:
                    break
                time.sleep(LOAD_POLL_SECONDS)
                status = supervisor.status()
        except KeyboardInterrupt:
            display.line("⏹ Stopped waiting; the model goes on loading for the next request.")
            raise StoppedByUser("stopped while the model loads") from None
        finally:
            progress.close()
        if status["state"] in (DOWNLOADING, LOADING):
            raise EngineUnavailableError(
                f"the model was not ready after {settings.worker_start_timeout:.0f} s"
            )
        supervisor.ensure_running(timeout=1.0)  # raises with the reason when it failed
        status = supervisor.status()
        display.line(f"_{describe_local(status)}_", describe_local(status))
        if status.get("notice"):
            display.line(f"⚠ {status['notice']}", status["notice"])
        return supervisor

    def shutdown(self) -> None:
        """Stop this kernel's worker (at exit, or when the extension is unloaded)."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            try:
                supervisor.stop()
            except Exception:  # at exit: log, never raise
                log.exception("stopping the model worker failed")

    def close(self) -> None:
        """Stop the worker now, and forget the stop at exit."""
        self.shutdown()
        atexit.unregister(self.shutdown)

    def status_lines(self, settings: AutoCoder) -> list[str]:
        """Where requests go; the model, its device and layers, as far as they are known."""
        lines: list[str] = []
        if settings.engine_url:
            url = settings.engine_url.rstrip("/")
            through = (
                "the Jupyter server's model, through its proxy"
                if url.endswith(PROXY_SUFFIX)
                else "the engine that AUTOCODER_ENGINE_URL names"
            )
            key = "with a key" if settings.api_key else "without a key"
            lines.append(f"Requests go to {url}: {through}, {key}.")
            lines.extend(remote_facts(url, settings.api_key))
            return lines
        supervisor = self._supervisor
        if supervisor is None:
            lines.append(
                "Requests go to a llama.cpp worker of this kernel; it starts on the first "
                f"request (model {settings.model})."
            )
            if settings.model.strip().lower() == "auto":
                lines.extend(auto_lines(settings))
            return lines
        status = supervisor.status()
        where = f" at {status['base_url']}" if status.get("base_url") else ""
        where += f" (pid {status['pid']})" if status.get("pid") else ""
        lines.append(
            f"Requests go to this kernel's llama.cpp worker{where}, state {status['state']}."
        )
        lines.append(describe_local(status))
        lines.extend(choice_lines(status.get("choice")))
        if status.get("notice"):
            lines.append(status["notice"])
        if status.get("path"):
            lines.append(f"File: {status['path']}")
        if status.get("error"):
            lines.append(f"Error: {status['error']}")
        return lines


def choice_lines(choice: dict[str, Any] | None) -> list[str]:
    """What `auto` picked and why (an `AutoChoice.to_dict()`), as status lines."""
    if not choice:
        return []
    return [f"{choice['headline']}.", *choice.get("details", [])]


def auto_lines(settings: AutoCoder) -> list[str]:
    """What `auto` would pick on this machine now (nothing is downloaded)."""
    from ..errors import AutoCoderError
    from ..llm.resolve import auto_choice

    try:
        choice = auto_choice(min_tokens_per_second=settings.min_tokens_per_second)
    except (AutoCoderError, OSError) as error:
        return [f"What auto would pick here is not known: {error}"]
    lines = choice_lines(choice.to_dict())
    lines[0] = lines[0].replace("auto picks", "auto would pick", 1)
    return lines


def describe_local(status: dict[str, Any]) -> str:
    """The model, its device and offloaded layers, from a supervisor status."""
    text = f"Model {status.get('model')} on {status.get('device') or 'an unknown device'}"
    layers, total = status.get("n_gpu_layers"), status.get("n_layers")
    if layers is not None:
        text += f" ({layers} of {total if total is not None else '?'} layers offloaded to the GPU)"
    if status.get("load_seconds") is not None:
        text += f", loaded in {status['load_seconds']:.1f} s"
    return text + "."


def remote_facts(url: str, api_key: str | None, timeout: float = 3.0) -> list[str]:
    """What the engine says about itself: its models; through the server's proxy, the
    server's own status (device, layers) when it lets the kernel's key read it."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    lines: list[str] = []
    try:
        response = httpx.get(f"{url}/models", headers=headers, timeout=timeout, trust_env=False)
        if response.status_code == 200:
            names = [entry.get("id", "?") for entry in response.json().get("data", [])]
            lines.append(f"The engine serves: {', '.join(names) or 'no model listed'}.")
        else:
            lines.append(f"The engine answered {response.status_code} when asked for its models.")
    except (httpx.HTTPError, ValueError) as error:
        lines.append(f"The engine cannot be reached now: {error}")
        return lines
    if url.endswith(PROXY_SUFFIX):
        try:
            response = httpx.get(
                url[: -len("/v1")] + "/status", headers=headers, timeout=timeout, trust_env=False
            )
            engine = response.json().get("engine") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            engine = None
        if isinstance(engine, dict):
            lines.append(describe_local(engine) + f" State: {engine.get('state')}.")
            lines.extend(choice_lines(engine.get("choice")))
        else:
            lines.append(
                "Its device and offloaded layers: the server's status (JupyterLab's status bar)."
            )
    return lines
