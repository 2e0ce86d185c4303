"""Fixtures for the approval attacks: the scripted model (the double for a model that writes
a shell escape on purpose) over real HTTP, a real kernel (tests/conftest.py) that runs what
gets through, and sessions whose executor is a spy on that kernel.

The kernel's pip is pointed at no index while these tests run: a form that gets through
(on a branch without the fix) must fail fast and offline, never fetch from PyPI.
"""

from __future__ import annotations

import pytest
from agent_support import SpyExecutor


@pytest.fixture
def offline_kernel(kernel):
    """The shared kernel, its pip (and %pip) pointed at no index for the test."""
    kernel.run("import os as _os\n_os.environ['PIP_NO_INDEX'] = '1'\ndel _os")
    yield kernel
    kernel.run("import os as _os\n_os.environ.pop('PIP_NO_INDEX', None)\ndel _os")


@pytest.fixture
def make_session(make_session):
    """`make_session(kernel, fake_installs=..., **settings)`: tests/conftest.py's session,
    its executor a spy on the real kernel."""

    def make(kernel, *, fake_installs=False, **settings):
        return make_session(SpyExecutor(kernel, fake_installs=fake_installs), **settings)

    return make
