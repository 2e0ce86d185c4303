"""The `jupyter_server` extension application of jupyter-autocoder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Instance, Int, Unicode

from .._version import __version__
from ..config import API_KEY_VARIABLE, ENGINE_URL_VARIABLE, POLICY_VARIABLE, AutoCoder
from .engine import EngineHost, ModelPulls
from .handlers import default_handlers

MiB = 1024 * 1024


class AutoCoderApp(ExtensionApp):
    """Serves `<base_url>/autocoder/api/...` and owns the one model engine of the server.

    Model settings are the `AutoCoder` traits: `c.AutoCoder.model = "autocoder-s-6.7b"` in
    jupyter_server_config.py, or `--AutoCoder.model=...` on the command line. The settings
    of the server's own services (queue, proxy, history, socket limits) are `c.AutoCoderApp.*`.
    """

    name = "jupyter_autocoder"
    description = "A local llama.cpp model that writes, runs and corrects notebook cells."
    version = __version__
    load_other_extensions = True
    classes = [AutoCoder]

    engine_concurrency = Int(
        1,
        help=(
            "Model requests served at once; the others wait in the fair queue. The local worker "
            "serves one at a time; raise it for a remote engine that batches (vLLM)."
        ),
    ).tag(config=True)

    max_request_bytes = Int(
        4 * MiB, help="Largest HTTP request body (proxy and REST) accepted."
    ).tag(config=True)

    max_message_bytes = Int(
        4 * MiB,
        help=(
            "Largest agent WebSocket message accepted; a larger one is answered with an error "
            "(tornado's websocket_max_message_size, 10 MiB by default, closes the socket beyond)."
        ),
    ).tag(config=True)

    history_turns = Int(
        50, help="Turns of agent history kept per notebook (the oldest are dropped)."
    ).tag(config=True)

    sessions_dir = Unicode(
        "",
        help=(
            "Where the agent history and traces are kept; default "
            "<jupyter data dir>/autocoder/sessions."
        ),
    ).tag(config=True)

    interrupt_grace = Float(
        10.0, help="Seconds the browser has to answer after it was asked to interrupt a cell."
    ).tag(config=True)

    proxy_url = Unicode(
        "",
        help=(
            "The proxy's URL (ending in /v1) as kernels and agent sessions reach it; default "
            "http://127.0.0.1:<port><base_url>autocoder/api/v1. Set it behind TLS or an unusual "
            "bind."
        ),
    ).tag(config=True)

    kernel_environment = Bool(
        True,
        help=(
            "Put AUTOCODER_ENGINE_URL (the proxy), AUTOCODER_API_KEY (its key) and "
            "AUTOCODER_POLICY (the admin's policy) into the environment of the kernels this "
            "server starts, so %%autocoder shares the server's model."
        ),
    ).tag(config=True)

    max_notebook_sessions = Int(
        64,
        help=(
            "Notebooks whose agent session the server keeps in memory (those running a turn "
            "always); beyond it the least recently used leave memory, their history stays on disk."
        ),
    ).tag(config=True)

    max_turns_per_socket = Int(
        4, help="Agent turns one browser connection may run at once; a start beyond it is refused."
    ).tag(config=True)

    max_turns_per_user = Int(
        8,
        help=(
            "Agent turns one user may run at once, all connections together; beyond it a "
            "start is refused."
        ),
    ).tag(config=True)

    history_output_chars = Int(
        20_000,
        help=(
            "Characters of each run output kept in the agent history; a longer output keeps its "
            "head and its tail, and says how many characters were cut. 0 keeps outputs whole."
        ),
    ).tag(config=True)

    completion_start_budget = Float(
        0.3,
        help=(
            "Seconds an inline completion may wait for the model before it is dropped (answered "
            "503): one that starts late is worthless, and the next keystroke asks again."
        ),
    ).tag(config=True)

    completion_max_prefix_chars = Int(
        8000, help="Most characters before the cursor an inline completion sends to the model."
    ).tag(config=True)

    completion_max_suffix_chars = Int(
        4000, help="Most characters after the cursor an inline completion sends to the model."
    ).tag(config=True)

    completion_max_request_bytes = Int(
        256 * 1024, help="Largest inline-completion request body accepted (413 beyond)."
    ).tag(config=True)

    proxy_key = ""  # random per start; the kernels' key to the proxy
    agent_key = ""  # random per start; the agent sessions' key, never out of this process
    _saved_environment: dict[str, str | None] | None = None

    autocoder_config = Instance(AutoCoder, allow_none=True, help="The AutoCoder settings in force.")
    engine = Instance(EngineHost, allow_none=True, help="The model engine this server owns.")

    def initialize_settings(self) -> None:
        # Imported here: they bring httpx and the agent; the package import stays light.
        from .completion import CompletionService
        from .history import HistoryStore
        from .proxy import EngineProxy
        from .queue import FairQueue
        from .sessions import AgentService

        # The AutoCoder settings (and their AUTOCODER_* environment overrides) are read
        # here, before this server puts its own proxy into the environment for its kernels.
        self.autocoder_config = AutoCoder(parent=self)
        self.proxy_key = secrets.token_urlsafe(32)
        self.agent_key = secrets.token_urlsafe(32)
        # Creating the host is cheap: the model itself is loaded later, in a thread,
        # so the server answers (and reports "loading") from its first second.
        self.engine = EngineHost(self.autocoder_config, log=self.log)
        self.pulls = ModelPulls(log=self.log)
        self.queue = FairQueue(self.engine_concurrency)
        self.proxy = EngineProxy(
            self.engine,
            self.queue,
            max_request_bytes=self.max_request_bytes,
            start_timeout=lambda: self.autocoder_config.worker_start_timeout,
        )
        self.completions = CompletionService(
            self.engine,
            self.queue,
            lambda: self.proxy.http,
            self.autocoder_config,
            start_budget=self.completion_start_budget,
            max_prefix_chars=self.completion_max_prefix_chars,
            max_suffix_chars=self.completion_max_suffix_chars,
            max_request_bytes=self.completion_max_request_bytes,
        )
        sessions_dir = Path(self.sessions_dir or default_sessions_dir())
        root_dir = self.serverapp.root_dir if self.serverapp is not None else os.getcwd()
        self.agents = AgentService(
            self.autocoder_config,
            HistoryStore(sessions_dir, root_dir, max_turns=self.history_turns),
            root_dir,
            self.proxy_client,
            trace_dir=sessions_dir / "traces",
            interrupt_grace=self.interrupt_grace,
            notebook_exists=self.notebook_exists,
            max_notebooks=self.max_notebook_sessions,
            max_turns_per_socket=self.max_turns_per_socket,
            max_turns_per_user=self.max_turns_per_user,
            output_chars=self.history_output_chars,
            log=self.log,
        )
        self.log.info(
            "jupyter_autocoder %s: model %r, engine %s",
            __version__,
            self.autocoder_config.model,
            self.autocoder_config.engine_url or "local",
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(default_handlers())

    # --- what the handlers and sessions use --------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "engine": self.engine.status(),
            "queue": self.queue.status(),
            "tokens_per_second": self.proxy.meter.tokens_per_second(),
            "sessions": self.agents.running,
            "policy": self.engine.policy.to_dict(),
            "completion": self.completions.status(),
        }

    async def notebook_exists(self, path: str) -> bool:
        """Whether the server's contents manager has a file at `path` (an API path)."""
        from jupyter_core.utils import ensure_async

        manager = self.serverapp.contents_manager if self.serverapp is not None else None
        if manager is None:
            return False
        return bool(await ensure_async(manager.file_exists(path)))

    def proxy_base_url(self) -> str:
        """The proxy as this machine reaches it: loopback, ending in /v1."""
        if self.proxy_url:
            return self.proxy_url.rstrip("/")
        app = self.serverapp
        host = app.ip or "127.0.0.1"
        if host in ("0.0.0.0", "*", "localhost", "::", "[::]"):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        scheme = "https" if app.certfile else "http"
        return f"{scheme}://{host}:{app.port}" + url_path_join(
            app.base_url, "autocoder", "api", "v1"
        )

    def proxy_client(self) -> Any:
        """A ModelClient for the proxy (the agent sessions' way to the model), with the key
        that lets a session ask in its notebook's lane of the queue."""
        from ..llm.client import ModelClient

        return ModelClient(self.proxy_base_url(), api_key=self.agent_key, model="default")

    # --- lifecycle -----------------------------------------------------------------------

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self.proxy.warm_up()
        if self.kernel_environment:
            self._put_proxy_in_kernel_environment()
        if self.engine is not None and self.autocoder_config.load_on_start:
            self.engine.start_in_background()

    def _put_proxy_in_kernel_environment(self) -> None:
        # Kernels inherit the server's environment (jupyter_server's session manager copies
        # os.environ), so this reaches every kernel started from now on.
        if self._saved_environment is None:
            names = (ENGINE_URL_VARIABLE, API_KEY_VARIABLE, POLICY_VARIABLE)
            self._saved_environment = {name: os.environ.get(name) for name in names}
        os.environ[ENGINE_URL_VARIABLE] = self.proxy_base_url()
        os.environ[API_KEY_VARIABLE] = self.proxy_key
        os.environ[POLICY_VARIABLE] = self.autocoder_config.policy_environment()
        self.log.info(
            "jupyter_autocoder: kernels reach the model at %s", os.environ[ENGINE_URL_VARIABLE]
        )

    def _restore_environment(self) -> None:
        saved, self._saved_environment = self._saved_environment, None
        for name, value in (saved or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    async def stop_extension(self) -> None:
        """Stop the sessions, the proxy and the model engine; logs and never raises."""
        for what, action in (
            ("the agent sessions", getattr(self, "agents", None) and self.agents.shutdown),
            ("the proxy", getattr(self, "proxy", None) and self.proxy.close),
            ("the model engine", self.engine is not None and self.engine.stop),
        ):
            if not action:
                continue
            try:
                await action()
            except Exception as error:
                self.log.error(
                    "jupyter_autocoder: error while stopping %s: %s", what, error, exc_info=True
                )
        self._restore_environment()


def default_sessions_dir() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "autocoder" / "sessions"
