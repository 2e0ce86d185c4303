"""Fixtures shared by the test directories: a real kernel, and wheels made on the spot."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

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
