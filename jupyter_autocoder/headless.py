"""Explorations without a notebook server: a data file explored in a fresh kernel
(jupyter_client), the notebook written with its outputs, and checked to rerun clean
(nbclient, another fresh kernel). For `jupyter-autocoder explore`, batch use and tests.

    report = explore_file("data/iris.csv", "iris.ipynb", client, settings)
    report.reruns_clean, report.failing_cells, report.done.steps_done
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .agent import events as ev
from .agent.approval import Approver
from .agent.explore import MAX_STEPS, Exploration, notebook_of
from .agent.settings import SessionSettings
from .errors import ExplorationError

if TYPE_CHECKING:
    from .llm.client import ModelClient

log = logging.getLogger(__name__)

KERNEL_NAME = "python3"


@dataclass
class ExplorationReport:
    """What an exploration left: the notebook's path, its cells, how it ended, and whether
    "Restart kernel and run all cells" runs it without an error (None: not checked)."""

    path: Path
    cells: int = 0
    code_cells: int = 0
    steps: list[dict[str, str]] = field(default_factory=list)
    done: ev.ExplorationDoneEvent | None = None
    summary: ev.SummaryEvent | None = None
    reruns_clean: bool | None = None
    failing_cells: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "cells": self.cells,
            "code_cells": self.code_cells,
            "steps": self.steps,
            "done": self.done.to_dict() if self.done else None,
            "unverified_numbers": self.summary.unverified if self.summary else [],
            "reruns_clean": self.reruns_clean,
            "failing_cells": self.failing_cells,
        }


def explore_file(
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    client: ModelClient,
    settings: SessionSettings = SessionSettings(),  # noqa: B008 - frozen
    *,
    max_steps: int = MAX_STEPS,
    approver: Approver | None = None,
    on_event: Callable[[ev.AgentEvent], None] | None = None,
    check_rerun: bool = True,
    kernel_env: dict[str, str] | None = None,
) -> ExplorationReport:
    """Explore `data` in a fresh kernel working in the notebook's folder, write the notebook
    to `output` (also after a stop or a failed step), and rerun it with nbclient."""
    data_path = Path(data).resolve()
    if not data_path.is_file():
        raise ExplorationError(f"no such data file: {data}")
    notebook_path = Path(output).resolve()
    if notebook_path.suffix != ".ipynb":
        raise ExplorationError(f"the output must be a .ipynb file, not {output}")
    folder = notebook_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    # As the notebook's code names it: relative to the notebook, so the two move together.
    target = os.path.relpath(data_path, folder)

    from .executors import KernelExecutor

    report = ExplorationReport(notebook_path)
    executor = KernelExecutor(KERNEL_NAME, cwd=str(folder), env=kernel_env)
    exploration = Exploration(client, executor, settings, approver=approver, max_steps=max_steps)
    try:
        executor.start()
        for event in exploration.run(target):
            if isinstance(event, ev.ExplorationDoneEvent):
                report.done = event
            elif isinstance(event, ev.SummaryEvent):
                report.summary = event
            if on_event is not None:
                on_event(event)
    finally:
        executor.close()
        if exploration.cells:
            write_notebook(exploration, notebook_path)
    report.steps = [step.to_dict() for step in exploration.steps]
    report.cells = len(exploration.cells)
    report.code_cells = sum(1 for cell in exploration.cells if cell.kind == "code")
    if check_rerun:
        report.failing_cells = rerun_failures(notebook_path, env=kernel_env)
        report.reruns_clean = not report.failing_cells
    return report


def write_notebook(exploration: Exploration, path: Path) -> None:
    import nbformat

    notebook = notebook_of(exploration.cells, KERNEL_NAME)
    nbformat.validate(notebook)
    temporary = path.with_name(f".{path.name}.tmp")
    nbformat.write(notebook, temporary)
    os.replace(temporary, path)
    log.info("wrote %s (%d cells)", path, len(notebook.cells))


def rerun_failures(
    path: str | os.PathLike[str], *, timeout: float = 600.0, env: dict[str, str] | None = None
) -> list[str]:
    """ "Restart kernel and run all cells": the notebook run by nbclient in a fresh kernel in
    its folder (the file is not changed); each failing cell as "cell N: ename: evalue"."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL_NAME, allow_errors=True)
    environment = {**os.environ, **(env or {})}
    client.execute(cwd=str(Path(path).resolve().parent), env=environment)
    failures = []
    for index, cell in enumerate(notebook.cells, 1):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                failures.append(f"cell {index}: {output.ename}: {output.evalue}")
    return failures
