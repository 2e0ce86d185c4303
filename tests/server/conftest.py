"""Fixtures for the server extension's tests: a real jupyter_server with the extension on.

pytest-jupyter's fixtures are imported here rather than declared with `pytest_plugins`:
pytest refuses `pytest_plugins` outside the top-level conftest, and it would put
pytest-jupyter's autouse fixtures (a fresh event loop and a ServerApp cleanup around every
test) and its test-call hook on the whole suite. Imported here, they stay under tests/server/.
"""

from __future__ import annotations

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403  (fixtures and hooks, scoped here)
from traitlets.config import Config

from jupyter_autocoder.config import ENVIRONMENT_OVERRIDES


@pytest.fixture(autouse=True)
def _no_autocoder_environment(monkeypatch):
    """The developer's own AUTOCODER_* variables must not change what these tests see."""
    for variable in ENVIRONMENT_OVERRIDES.values():
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def autocoder_config() -> dict:
    """`c.AutoCoder` for the server under test; tests may change it before the server starts."""
    return {"load_on_start": False}


@pytest.fixture
def jp_server_config(autocoder_config):  # noqa: F811  (overrides pytest-jupyter's)
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"jupyter_autocoder": True}},
            "AutoCoder": autocoder_config,
        }
    )
