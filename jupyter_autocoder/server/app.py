"""The `jupyter_server` extension application of jupyter-autocoder."""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Instance

from .._version import __version__
from ..config import AutoCoder
from .engine import EngineHost
from .handlers import default_handlers


class AutoCoderApp(ExtensionApp):
    """Serves `<base_url>/autocoder/api/...` and owns the one model engine of the server.

    Settings are the `AutoCoder` traits: `c.AutoCoder.model = "autocoder-s-6.7b"` in
    jupyter_server_config.py, or `--AutoCoder.model=...` on the command line.
    """

    name = "jupyter_autocoder"
    description = "A local llama.cpp model that writes, runs and corrects notebook cells."
    version = __version__
    load_other_extensions = True
    classes = [AutoCoder]

    autocoder_config = Instance(AutoCoder, allow_none=True, help="The AutoCoder settings in force.")
    engine = Instance(EngineHost, allow_none=True, help="The model engine this server owns.")

    def initialize_settings(self) -> None:
        # Creating the host is cheap: the model itself is loaded later, in a thread,
        # so the server answers (and reports "loading") from its first second.
        self.autocoder_config = AutoCoder(parent=self)
        self.engine = EngineHost(self.autocoder_config, log=self.log)
        self.log.info(
            "jupyter_autocoder %s: model %r, engine %s",
            __version__,
            self.autocoder_config.model,
            self.autocoder_config.engine_url or "local",
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(default_handlers())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        if self.engine is not None and self.autocoder_config.load_on_start:
            self.engine.start_in_background()

    async def stop_extension(self) -> None:
        """Stop the model engine; logs and never raises (the server is shutting down)."""
        if self.engine is None:
            return
        try:
            await self.engine.stop()
        except Exception as error:
            self.log.error("jupyter_autocoder: error while stopping: %s", error, exc_info=True)
