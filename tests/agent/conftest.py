"""Fixtures for the agent tests: the scripted engine and sessions (the kernel and the local
wheels come from tests/conftest.py)."""

from __future__ import annotations

import threading

import pytest

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
def make_session(engine, tmp_path):
    """A session against the scripted engine, its traces under this test's tmp_path."""
    clients = []
    sessions = []

    def make(executor, *, approver=None, verifier=None, session_id=None, **settings):
        client = ModelClient(engine.base_url, engine.api_key, model="scripted")
        clients.append(client)
        settings.setdefault("trace_dir", str(tmp_path / "traces"))
        session = AgentSession(
            client,
            executor,
            SessionSettings(**settings),
            approver=approver,
            verifier=verifier,
            session_id=session_id,
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()
    for client in clients:
        client.close()
