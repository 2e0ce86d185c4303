"""The loop with the real small model (SmolLM2-135M from PyPI) in the real worker process.

Skipped only where llama-cpp-python is not installed; everything else it needs must be there.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("llama_cpp")

from jupyter_autocoder.agent import AgentSession, SessionSettings
from jupyter_autocoder.config import AutoCoder
from jupyter_autocoder.llm.supervisor import EngineSupervisor


@pytest.mark.real_model
def test_small_model_writes_code_that_runs_in_a_kernel(kernel, tmp_path):
    supervisor = EngineSupervisor(
        AutoCoder(model="smollm2-135m", n_ctx=2048, engine_url="", n_gpu_layers=0)
    )
    supervisor.start()
    try:
        with supervisor.client() as client:
            session = AgentSession(
                client,
                kernel,
                SessionSettings(
                    max_rounds=2,
                    max_tokens=200,
                    install_policy="never",
                    trace_dir=str(tmp_path / "traces"),
                ),
            )
            events = list(session.run("Print hello world in Python."))
            session.close()
    finally:
        supervisor.stop()

    tokens = "".join(event.text for event in events if event.type == "token")
    assert "```python" in tokens  # the model answered with a code block, streamed
    codes = [event for event in events if event.type == "code"]
    runs = [event for event in events if event.type == "execution"]
    assert codes and codes[0].code.strip()
    assert runs and runs[0].result is not None
    done = events[-1]
    assert done.type == "done" and done.completion_tokens > 0
    assert done.reason == "success", [event.to_dict() for event in events if event.type != "token"]
    assert "hello" in runs[-1].result.stdout.lower()
    for event in events:
        json.dumps(event.to_dict())
