"""Fixtures for the approval attacks: the scripted model (the double for a model that writes
a shell escape on purpose) over real HTTP, a real kernel (tests/conftest.py) that runs what
gets through, and sessions whose executor is a spy on that kernel.

The kernel's pip is pointed at no index while these tests run: a form that gets through
(on a branch without the fix) must fail fast and offline, never fetch from PyPI.
"""

from __future__ import annotations

import threading

import pytest
from approval_support import SpyExecutor

from jupyter_autocoder.agent import AgentSession, SessionSettings
from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.testing.scripted_engine import ScriptedEngine


@pytest.fixture
def engine():
    scripted = ScriptedEngine().start()
    yield scripted
    # Its shutdown waits out the server's half-second poll: let that happen in the background.
    threading.Thread(target=scripted.stop, daemon=True).start()


@pytest.fixture
def offline_kernel(kernel):
    """The shared kernel, its pip (and %pip) pointed at no index for the test."""
    kernel.run("import os as _os\n_os.environ['PIP_NO_INDEX'] = '1'\ndel _os")
    yield kernel
    kernel.run("import os as _os\n_os.environ.pop('PIP_NO_INDEX', None)\ndel _os")


@pytest.fixture
def make_session(engine, tmp_path):
    """A session against the scripted engine, its executor a spy on the real kernel."""
    clients = []
    sessions = []

    def make(kernel, *, approver=None, fake_installs=False, package_index=None, **settings):
        client = ModelClient(engine.base_url, engine.api_key, model="scripted")
        clients.append(client)
        settings.setdefault("trace_dir", str(tmp_path / "traces"))
        extra = {} if package_index is None else {"package_index": package_index}
        session = AgentSession(
            client,
            SpyExecutor(kernel, fake_installs=fake_installs),
            SessionSettings(**settings),
            approver=approver,
            **extra,
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()
    for client in clients:
        client.close()
