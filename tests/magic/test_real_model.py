"""`%%autocoder` with the real small model (SmolLM2-135M, shipped by a PyPI package) in a
kernel that has no engine URL: the magic starts its own llama.cpp worker."""

from __future__ import annotations

import re
import time

import psutil
import pytest

from .conftest import NotebookKernel, clean_environment, python_path

pytestmark = pytest.mark.real_model


@pytest.fixture
def small_model():
    pytest.importorskip("llama_cpp")
    from jupyter_autocoder.errors import ModelNotFoundError
    from jupyter_autocoder.llm.resolve import resolve_model

    try:
        resolve_model("smollm2-135m")
    except ModelNotFoundError as error:
        pytest.skip(f"the small model is not installed: {error}")


def test_the_real_model_writes_code_that_runs_here_and_lands_in_a_new_cell(small_model, tmp_path):
    env = clean_environment(
        PYTHONPATH=python_path(), AUTOCODER_MODEL="smollm2-135m", JUPYTER_DATA_DIR=str(tmp_path)
    )
    nb = NotebookKernel(env, cwd=str(tmp_path))
    try:
        assert nb.execute("%load_ext jupyter_autocoder").status == "ok"
        run = nb.execute(
            "%%autocoder --rounds 2 --install never\nWrite Python code that prints the sum of 2 "
            "and 3.",
            timeout=240,
        )
        assert run.status == "ok", run.text
        # While the first request waited, the model's load was shown (a widget in a notebook).
        assert run.has("application/vnd.jupyter.widget-view+json")
        assert re.search(
            r"Model smollm2-135m on (cpu|cuda|metal) \(\d+ of 30 layers offloaded to the GPU\)",
            run.text,
        )
        # The model answered with code, the code ran here, and it was written into a new cell.
        assert "```python" in run.text
        assert "Ran without errors" in run.text or "Failed with" in run.text
        assert run.new_cell and run.new_cell.strip()
        last_line_written = run.new_cell.strip().splitlines()[-1]
        assert last_line_written in run.text  # the code shown in the answer is the code written
        assert "tokens/s" in run.text.strip().splitlines()[-1]

        status = nb.execute("%autocoder status")
        found = re.search(
            r"Requests go to this kernel's llama.cpp worker at http://127\.0\.0\.1:\d+/v1 \(pid "
            r"(\d+)\)",
            status.text,
        )
        assert found, status.text
        pid = int(found.group(1))
        assert psutil.pid_exists(pid)
    finally:
        nb.client.stop_channels()
        nb.manager.shutdown_kernel(now=False)  # the kernel exits as when its notebook is closed
    # The worker does not outlive its kernel.
    deadline = time.monotonic() + 20
    while alive(pid):
        assert time.monotonic() < deadline, "the worker outlived its kernel"
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_auto_says_what_it_picks_and_why_and_how_weak_the_last_resort_is(small_model, tmp_path):
    """Nothing cached and neither the hub nor PyPI reachable: on any machine `auto` can only
    fall to the small model, and says so before and after the first request."""
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed = probe.getsockname()[1]
    probe.close()
    env = clean_environment(
        PYTHONPATH=python_path(),
        JUPYTER_DATA_DIR=str(tmp_path),
        PIP_NO_INDEX="1",
        AUTOCODER_CACHE_DIR=str(tmp_path / "cache"),
        HF_HUB_CACHE=str(tmp_path / "hub"),
        HF_ENDPOINT=f"http://127.0.0.1:{closed}",
    )
    nb = NotebookKernel(env, cwd=str(tmp_path))
    try:
        assert nb.execute("%load_ext jupyter_autocoder").status == "ok"
        before = nb.execute("%autocoder status").text
        assert "auto would pick smollm2-135m (0.10 GB, here already) here because" in before
        assert "This machine: " in before and "Passed over qwen2.5-coder-1.5b: " in before
        run = nb.execute("%%autocoder --rounds 1 --no-run\nPrint 1.", timeout=240)
        assert run.status == "ok", run.text
        assert run.text.count("Using the small bundled model smollm2-135m: its code is weak") == 1
        after = nb.execute("%autocoder status").text
        assert "auto picks smollm2-135m" in after and "PyPI cannot be reached" in after
    finally:
        nb.close()
