"""The committed exploration (notebooks/explore_iris/), made by the real qwen2.5-coder-1.5b
with `jupyter-autocoder explore`, keeps what a reader needs and still reruns clean: "Restart
kernel and run all cells" in a fresh kernel, with the libraries installed today."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from jupyter_autocoder.headless import rerun_failures

DEMO = Path(__file__).resolve().parents[2] / "notebooks" / "explore_iris"


def test_the_demo_is_stored_with_its_outputs_and_a_checked_summary():
    book = nbformat.read(DEMO / "explore_iris.ipynb", as_version=4)
    nbformat.validate(book)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs for cell in code)
    assert any("image/png" in output.get("data", {}) for cell in code for output in cell.outputs)
    assert book.cells[0].source.startswith("# Exploring iris.csv")
    assert book.cells[-1].source.startswith("## Summary")


def test_the_demo_reruns_clean_in_a_fresh_kernel(tmp_path):
    shutil.copytree(DEMO, tmp_path / "demo")
    assert rerun_failures(tmp_path / "demo" / "explore_iris.ipynb", timeout=120) == []
