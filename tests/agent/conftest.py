"""Fixtures for the agent tests: a real kernel, the scripted engine, sessions, local wheels."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import zipfile
from pathlib import Path

import pytest

from jupyter_autocoder.agent import AgentSession
from jupyter_autocoder.executors import KernelExecutor
from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.testing.scripted_engine import ScriptedEngine

REPO_ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line("markers", "real_model: runs the real small model in the llama.cpp worker")


@pytest.fixture(scope="session")
def shared_kernel():
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    executor = KernelExecutor(env={"PYTHONPATH": path})
    executor.start()
    yield executor
    executor.close()


@pytest.fixture
def kernel(shared_kernel, tmp_path):
    """The shared kernel, namespace emptied, working in this test's own directory."""
    shared_kernel.run(f"%reset -f\nimport os as _os\n_os.chdir({str(tmp_path)!r})\ndel _os")
    return shared_kernel


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

    def make(executor, **kwargs):
        client = ModelClient(engine.base_url, engine.api_key, model="scripted")
        clients.append(client)
        kwargs.setdefault("trace_dir", str(tmp_path / "traces"))
        session = AgentSession(client, executor, **kwargs)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()
    for client in clients:
        client.close()


@pytest.fixture
def build_wheel():
    return _build_wheel


def _build_wheel(directory: Path, distribution: str, version: str, module: str, source: str) -> Path:
    """A pure-Python wheel written by hand (no build tools, no network)."""
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = f"{distribution}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": source,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: autocoder-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record_lines = []
    for name, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{name},sha256={digest},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record_lines) + "\n"
    wheel = directory / f"{distribution}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel
