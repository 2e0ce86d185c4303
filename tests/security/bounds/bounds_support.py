"""Helpers of the bounds tests: the process's memory as the kernel counts it, notebooks on
disk, cell answers."""

from __future__ import annotations

import json
from pathlib import Path

MiB = 1024 * 1024


def memory_kib(field: str = "VmRSS") -> int:
    """This process's resident memory (VmRSS) or its peak since the last reset (VmHWM), KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def reset_peak_memory() -> None:
    """Start VmHWM afresh from the current RSS (Linux: `5` to /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")


def make_notebook(root: Path, path: str) -> str:
    """An empty notebook file at `path` under the server root; returns `path`."""
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def stdout_of(text: str):
    """`run_cell` that answers every cell with `text` on stdout."""

    async def run_cell(request: dict) -> dict:
        return {
            "outputs": [{"output_type": "stream", "name": "stdout", "text": text}],
            "status": "ok",
        }

    return run_cell
