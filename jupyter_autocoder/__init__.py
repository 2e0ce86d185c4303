"""jupyter-autocoder: a local llama.cpp model that writes notebook cells, runs them, and
corrects its code from the real errors.

Importing this package stays light on purpose (an IPython kernel imports it for
`%load_ext jupyter_autocoder`): the server extension, llama.cpp and the HTTP client are only
imported by the functions that need them.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = [
    "__version__",
    "_jupyter_labextension_paths",
    "_jupyter_server_extension_points",
    "load_ipython_extension",
    "unload_ipython_extension",
]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built labextension lives in the package (for `jupyter labextension develop`)."""
    return [{"src": "labextension", "dest": "jupyter-autocoder"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The server extension: jupyter_server calls this when `jupyter_autocoder` is enabled."""
    from .server.app import AutoCoderApp

    return [{"module": "jupyter_autocoder", "app": AutoCoderApp}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_autocoder`: registers the `%%autocoder` magic."""
    from . import magic

    magic.load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext jupyter_autocoder`."""
    from . import magic

    magic.unload_ipython_extension(ipython)
