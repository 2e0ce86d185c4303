"""The example notebooks run headless (nbclient), top to bottom, with the scripted model
reached through AUTOCODER_ENGINE_URL in the kernel's environment, so that they never rot.

The data and the code are real (scikit-learn's bundled datasets, pandas, matplotlib); only
the model is scripted, and it checks that each request it gets is the one it expects.
"""

from __future__ import annotations

import ast
import os
import threading
from collections import deque
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_autocoder.testing.scripted_engine import ScriptedEngine, ScriptedReply

from .replies import REPLIES

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks"


class StepScript:
    """Answers requests in order, each only if it contains the text its step expects."""

    def __init__(self, steps: list[tuple[str, str]]):
        self.steps = deque(steps)
        self.problems: list[str] = []

    def __call__(self, body: dict[str, Any]) -> ScriptedReply:
        asked = body["messages"][-1]["content"]
        if not self.steps:
            self.problems.append(f"a request with no step left: {asked[-300:]!r}")
            return ScriptedReply(status=500, error_message="the script has no step left")
        expected, reply = self.steps.popleft()
        if expected not in asked:
            self.problems.append(f"expected a request with {expected!r}, got: {asked[-1500:]!r}")
            return ScriptedReply(status=500, error_message=f"expected a request with {expected!r}")
        return ScriptedReply(content=reply, chunk_size=16)


def run_notebook(name: str, tmp_path: Path) -> tuple[nbformat.NotebookNode, StepScript]:
    for module in ("pandas", "sklearn", "matplotlib"):
        pytest.importorskip(module)
    from nbclient import NotebookClient

    script = StepScript(REPLIES[name])
    engine = ScriptedEngine(responder=script, model_name="scripted").start()
    try:
        book = nbformat.read(NOTEBOOKS / name, as_version=4)
        path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AUTOCODER_")},
            "PYTHONPATH": path,  # the kernel imports this checkout
            "AUTOCODER_ENGINE_URL": engine.base_url,  # as a Jupyter server's proxy is given
            "AUTOCODER_API_KEY": engine.api_key,
            "JUPYTER_DATA_DIR": str(tmp_path / "data"),  # the sessions' traces
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        }
        client = NotebookClient(
            book,
            timeout=180,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute(env=env)  # raises CellExecutionError for a cell that fails unexpectedly
    finally:
        threading.Thread(target=engine.stop, daemon=True).start()
    assert script.problems == []
    assert not script.steps, f"requests never made: {[expected for expected, _ in script.steps]}"
    return book, script


def cell(book: nbformat.NotebookNode, source_start: str) -> nbformat.NotebookNode:
    [found] = [c for c in book.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    return found


def text(found: nbformat.NotebookNode) -> str:
    parts = []
    for output in found.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("display_data", "execute_result"):
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "\n".join(parts)


def last_line(found: nbformat.NotebookNode) -> str:
    return text(found).strip().splitlines()[-1]


def has_image(found: nbformat.NotebookNode) -> bool:
    return any("image/png" in output.get("data", {}) for output in found.outputs)


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_the_notebooks_are_stored_without_outputs(name):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    for found in book.cells:
        if found.cell_type == "code":
            assert found.outputs == [] and found.execution_count is None, found.source


def test_iris_exploration(tmp_path):
    book, _ = run_notebook("iris_exploration.ipynb", tmp_path)

    load = cell(book, "%%autocoder\nLoad scikit-learn's bundled iris")
    assert last_line(load).startswith("Done: the code ran without errors (1 round,")
    assert "(150, 5)" in text(load)
    head = text(cell(book, "iris.head()"))
    assert "sepal length (cm)" in head and "setosa" in head

    clean = cell(book, "%%autocoder\nClean `iris`")
    assert "Dropped 1 duplicate row(s); 149 remain." in text(clean)
    columns, rows = ast.literal_eval(text(cell(book, "iris.columns.tolist()")))
    assert columns == ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    assert rows == 149

    summary = cell(book, "%%autocoder\nSummarise")
    assert last_line(summary).startswith("Done: the code ran without errors (1 round,")
    assert "virginica" in text(cell(book, "summary.loc"))

    plot = cell(book, "%%autocoder\nPlot petal length")
    assert "KeyError: 'petal width (cm)'" in text(plot)  # round 1 failed, for real
    assert last_line(plot).startswith("Done: the code ran without errors (2 rounds,")
    assert has_image(plot)

    typo = cell(book, 'ratio = iris["petal_length"] / iris["sepal_lenght"]')
    assert [o.ename for o in typo.outputs if o.output_type == "error"] == ["KeyError"]
    fix = cell(book, "%autocoder fix")
    assert last_line(fix).startswith("Done: the code ran without errors (1 round,")
    ratios = text(cell(book, 'ratio.groupby(iris["species"])'))
    assert "setosa" in ratios and "virginica" in ratios


def test_wine_exploration(tmp_path):
    book, _ = run_notebook("wine_exploration.ipynb", tmp_path)

    load = cell(book, "%%autocoder\nLoad scikit-learn's bundled wine")
    assert "class_1" in text(load) and last_line(load).startswith("Done:")
    clean = cell(book, "%%autocoder\nCheck `wine`")
    assert "missing values: 0" in text(clean) and "duplicate rows: 0" in text(clean)
    rows, columns = ast.literal_eval(text(cell(book, "wine.shape")))
    assert columns == 14 and 170 <= rows <= 178

    rank = cell(book, "%%autocoder\nRank the measurements")
    assert "NameError: name 'pd' is not defined" in text(rank)
    assert last_line(rank).startswith("Done: the code ran without errors (2 rounds,")
    top_two = ast.literal_eval(text(cell(book, "separation.index[:2]")))
    assert len(top_two) == 2 and "cultivar" not in top_two

    plot = cell(book, "%%autocoder\nPlot histograms")
    assert has_image(plot) and last_line(plot).startswith("Done:")

    written = cell(book, "%%autocoder --no-run")
    assert last_line(written).startswith("Written, not run (")
    assert "accuracy" not in "".join(
        o.get("text", "") for o in written.outputs if o.output_type == "stream"
    )

    status = text(cell(book, "%autocoder status"))
    assert "Requests go to http://127.0.0.1:" in status and "The engine serves: scripted." in status
