"""Fixtures for the evaluation tests: the scripted engine (the kernel comes from
tests/conftest.py)."""

from __future__ import annotations

import threading

import pytest

from jupyter_autocoder.testing.scripted_engine import ScriptedEngine


@pytest.fixture
def engine():
    scripted = ScriptedEngine().start()
    yield scripted
    # Its shutdown waits out the server's half-second poll: let that happen in the background.
    threading.Thread(target=scripted.stop, daemon=True).start()
