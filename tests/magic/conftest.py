"""Fixtures for the magic's tests: a real kernel through jupyter_client, driven the way a
notebook drives it (execute requests, iopub outputs, the input prompt, the stop button), and
the scripted engine reached through AUTOCODER_ENGINE_URL as a Jupyter server's proxy would be."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from jupyter_autocoder.testing.scripted_engine import ScriptedEngine

REPO_ROOT = Path(__file__).resolve().parents[2]


def python_path(*extra: str) -> str:
    # The kernel imports jupyter_autocoder from this checkout (it may not be installed).
    return os.pathsep.join(filter(None, [str(REPO_ROOT), *extra, os.environ.get("PYTHONPATH", "")]))


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without the AUTOCODER_* variables a developer may have set."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AUTOCODER_")}
    environment.update(overrides)
    return environment


@dataclass
class CellRun:
    """What the notebook shows for one executed cell, and the kernel's reply."""

    reply: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)  # what input() asked

    @property
    def status(self) -> str:
        return self.reply.get("status", "")

    @property
    def ename(self) -> str | None:
        return self.reply.get("ename")

    @property
    def new_cell(self) -> str | None:
        """The text of the cell the notebook inserts below (the set_next_input payload)."""
        for payload in self.reply.get("payload", []):
            if payload.get("source") == "set_next_input":
                return payload["text"]
        return None

    @property
    def text(self) -> str:
        """Everything the user reads in the output, in order (displays as their final version)."""
        parts = []
        for output in self.outputs:
            kind = output["output_type"]
            if kind == "stream":
                parts.append(output["text"])
            elif kind in ("display_data", "execute_result"):
                parts.append(output["data"].get("text/plain", ""))
            elif kind == "error":
                parts.append(f"{output['ename']}: {output['evalue']}")
        return "\n".join(parts)

    def has(self, mime: str) -> bool:
        return any(mime in output.get("data", {}) for output in self.outputs)


class NotebookKernel:
    """One kernel, run cell by cell as a notebook front end does."""

    def __init__(self, env: dict[str, str], cwd: str):
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env, cwd=cwd)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(
        self,
        code: str,
        *,
        answers: tuple[str, ...] = (),
        timeout: float = 60.0,
        interrupt_when: Callable[[CellRun], bool] | None = None,
    ) -> CellRun:
        """Run a cell; answer input() prompts with `answers`; press stop once `interrupt_when`
        holds."""
        run = CellRun()
        pending_answers = list(answers)
        msg_id = self.client.execute(code, allow_stdin=True)
        by_display_id: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        idle = interrupted = False
        while not idle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cell did not finish in {timeout} s; so far:\n{run.text}")
            self._answer_prompts(run, pending_answers)
            try:
                message = self.client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind in ("stream", "display_data", "execute_result", "error"):
                output = {"output_type": kind, **content}
                display_id = content.get("transient", {}).get("display_id")
                if display_id:
                    by_display_id[display_id] = output
                run.outputs.append(output)
            elif kind == "update_display_data":
                display_id = content.get("transient", {}).get("display_id")
                if display_id in by_display_id:
                    by_display_id[display_id]["data"] = content["data"]
            elif kind == "clear_output":
                run.outputs.clear()
            if interrupt_when is not None and not interrupted and interrupt_when(run):
                interrupted = True
                self.manager.interrupt_kernel()
        reply = self.client.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=timeout)
        run.reply = reply["content"]
        return run

    def _answer_prompts(self, run: CellRun, answers: list[str]) -> None:
        try:
            message = self.client.get_stdin_msg(timeout=0)
        except queue.Empty:
            return
        if message["msg_type"] == "input_request":
            run.prompts.append(message["content"]["prompt"])
            self.client.input(answers.pop(0) if answers else "")

    def value(self, expression: str) -> Any:
        """The value of an expression in the kernel (through its repr, so literals only)."""
        import ast

        run = self.execute(f"print(repr({expression}))")
        assert run.status == "ok", run.text
        return ast.literal_eval(run.text.strip())

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def engine():
    """The scripted model, as the server's proxy would be: its URL and key reach the
    kernel's environment."""
    scripted = ScriptedEngine(model_name="scripted-proxy").start()
    yield scripted
    threading.Thread(target=scripted.stop, daemon=True).start()


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("magic")
    dirs = {name: root / name for name in ("work", "wheels", "site", "data")}
    for path in dirs.values():
        path.mkdir()
    return dirs


@pytest.fixture(scope="module")
def nb(engine, kernel_dirs):
    """A kernel with the extension loaded and the scripted engine as its model.

    pip installs in it come from a local folder of wheels into a folder on its path (no
    network, and the test environment's site-packages stay as they were).
    """
    env = clean_environment(
        PYTHONPATH=python_path(str(kernel_dirs["site"])),
        AUTOCODER_ENGINE_URL=engine.base_url,
        AUTOCODER_API_KEY=engine.api_key,
        JUPYTER_DATA_DIR=str(kernel_dirs["data"]),  # traces go there
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(kernel_dirs["wheels"]),
        PIP_TARGET=str(kernel_dirs["site"]),
    )
    kernel = NotebookKernel(env, cwd=str(kernel_dirs["work"]))
    loaded = kernel.execute("%load_ext jupyter_autocoder")
    assert loaded.status == "ok", loaded.text
    yield kernel
    kernel.close()


@dataclass
class Script:
    """The engine's script for one test, and what it was asked during that test."""

    engine: ScriptedEngine
    start: int

    def enqueue(self, *replies: Any) -> None:
        self.engine.enqueue(*replies)

    @property
    def asked(self) -> list[Any]:
        return self.engine.history[self.start :]


@pytest.fixture
def script(engine):
    yield Script(engine, len(engine.history))
    with engine._lock:
        left = list(engine._script.replies)
        engine._script.replies.clear()
    assert not left, f"scripted replies left unused: {left}"


def py(code: str, prose: str = "Here is the code.") -> str:
    return f"{prose}\n```python\n{code}\n```"
