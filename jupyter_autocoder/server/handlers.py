"""HTTP handlers under `<base_url>/autocoder/api/`: thin translations to `EngineHost` calls.

Every verb is authenticated (`@tornado.web.authenticated`) and authorized on the
`autocoder` resource; errors reach the browser as JSON with a `message` (APIHandler).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join

from .._version import __version__
from .engine import list_models

if TYPE_CHECKING:
    from .app import AutoCoderApp

AUTH_RESOURCE = "autocoder"


class AutoCoderHandler(ExtensionHandlerMixin, APIHandler):
    """Base of this extension's REST handlers."""

    auth_resource = AUTH_RESOURCE

    @property
    def autocoder(self) -> AutoCoderApp:
        return self.extensionapp  # type: ignore[return-value]

    def write_json(self, payload: Any) -> None:
        self.set_header("Content-Type", "application/json")
        # default=str: paths and similar values in engine dicts become strings, not a 500.
        self.finish(json.dumps(payload, default=str))


class StatusHandler(AutoCoderHandler):
    """GET: the package version and the model engine's status."""

    @tornado.web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json({"version": __version__, "engine": self.autocoder.engine.status()})


class ModelsHandler(AutoCoderHandler):
    """GET: the catalogue of named models, and the configured one."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        # The catalogue looks at files on disk (caches): keep that off the event loop.
        models = await asyncio.get_running_loop().run_in_executor(None, list_models)
        self.write_json({"models": models, "configured": self.autocoder.autocoder_config.model})


def api_path(*parts: str) -> str:
    """A route under this extension's namespace (the ExtensionApp prefixes the base URL)."""
    return url_path_join("autocoder", "api", *parts)


def default_handlers() -> list[tuple[str, type[AutoCoderHandler]]]:
    return [
        (api_path("status"), StatusHandler),
        (api_path("models"), ModelsHandler),
    ]
