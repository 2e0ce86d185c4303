"""Fixtures shared by the test directories: a real kernel, the scripted engine and agent
sessions against it, and wheels made on the spot. (The server's fixtures, which bring
pytest-jupyter's, are in jupyter_server_fixtures.py, imported where a server is tested.)"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import zipfile
from pathlib import Path

import pytest

from jupyter_autocoder.agent import AgentSession, SessionSettings
from jupyter_autocoder.llm.client import ModelClient
from jupyter_autocoder.testing.scripted_engine import ScriptedEngine

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_kernel():
    """One real kernel for the session; it imports jupyter_autocoder from this checkout."""
    from jupyter_autocoder.executors import KernelExecutor

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
    """The scripted model over real HTTP (an OpenAI-compatible stream): replies a test queues."""
    scripted = ScriptedEngine().start()
    yield scripted
    # Its shutdown waits out the server's half-second poll: let that happen in the background.
    threading.Thread(target=scripted.stop, daemon=True).start()


@pytest.fixture
def make_session(engine, tmp_path):
    """`make_session(executor, **settings)`: a session against the scripted engine, its traces
    under this test's tmp_path; `approver`, `verifier`, `session_id` and `package_index` go
    to the session, the rest to its `SessionSettings`."""
    clients = []
    sessions = []

    def make(
        executor, *, approver=None, verifier=None, session_id=None, package_index=None, **settings
    ):
        client = ModelClient(engine.base_url, engine.api_key, model="scripted")
        clients.append(client)
        settings.setdefault("trace_dir", str(tmp_path / "traces"))
        extra = {} if package_index is None else {"package_index": package_index}
        session = AgentSession(
            client,
            executor,
            SessionSettings(**settings),
            approver=approver,
            verifier=verifier,
            session_id=session_id,
            **extra,
        )
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()
    for client in clients:
        client.close()


@pytest.fixture
def build_wheel():
    return write_wheel


def write_wheel(directory: Path, distribution: str, version: str, module: str, source: str) -> Path:
    """A pure-Python wheel written by hand (no build tools, no network): an install that
    works offline with `pip install --no-index --find-links DIRECTORY`."""
    directory.mkdir(parents=True, exist_ok=True)
    dist_info = f"{distribution}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": source,
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: autocoder-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
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
