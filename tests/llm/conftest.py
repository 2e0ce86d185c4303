"""Fixtures for the model engine: the real small model from PyPI in a real worker process."""

from __future__ import annotations

import pytest

from jupyter_autocoder.config import AutoCoder
from jupyter_autocoder.llm.resolve import resolve_model
from jupyter_autocoder.llm.supervisor import EngineSupervisor


@pytest.fixture(scope="session")
def small_model_path() -> str:
    return resolve_model("smollm2-135m", download=False).path


def small_settings(**overrides) -> AutoCoder:
    """Settings for the small model: a short context, the CPU."""
    settings = AutoCoder(model="smollm2-135m", n_ctx=2048, engine_url="", n_gpu_layers=0)
    for name, value in overrides.items():
        setattr(settings, name, value)
    return settings


@pytest.fixture
def make_settings():
    return small_settings


@pytest.fixture(scope="module")
def supervisor():
    engine = EngineSupervisor(small_settings())
    engine.start()
    yield engine
    engine.stop()
