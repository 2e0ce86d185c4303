"""Fixtures for the executor tests: real kernels through jupyter_client."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_autocoder.executors import KernelExecutor

REPO_ROOT = Path(__file__).resolve().parents[2]


def kernel_env() -> dict[str, str]:
    # The kernel imports jupyter_autocoder from this checkout (it may not be installed).
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    return {"PYTHONPATH": path}


@pytest.fixture(scope="module")
def module_kernel():
    executor = KernelExecutor(env=kernel_env(), cwd=str(REPO_ROOT))
    executor.start()
    yield executor
    executor.close()


@pytest.fixture
def kernel(module_kernel):
    """The module's kernel with an empty namespace."""
    module_kernel.run("%reset -f")
    return module_kernel
