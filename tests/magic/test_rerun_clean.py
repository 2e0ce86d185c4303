"""The notebook `%%autocoder` leaves behind reruns clean: after a turn whose first code
failed, the notebook holds the request's cell and one new cell with the working code (no
trail of failed attempts), and "Restart kernel and run all cells" (nbclient, a fresh
kernel) runs every cell without an error."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from .conftest import NotebookKernel, clean_environment, py, python_path

SETUP = "numbers = [1, 2, 3, 4]"
REQUEST = "%%autocoder --rounds 3\nStore the mean of `numbers` in `result` and print it."
BUGGY = py("result = mean(numbers)\nprint(result)")
FIXED = py("from statistics import mean\nresult = mean(numbers)\nprint(result)")


def test_a_turn_with_a_failed_round_leaves_one_working_cell_and_reruns_clean(engine, tmp_path):
    env = clean_environment(
        PYTHONPATH=python_path(),
        AUTOCODER_ENGINE_URL=engine.base_url,
        AUTOCODER_API_KEY=engine.api_key,
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
    )
    # The turn, as a notebook front end runs it: the bug fails, the fix runs.
    engine.enqueue(BUGGY, FIXED)
    kernel = NotebookKernel(env, cwd=str(tmp_path))
    try:
        cells = [
            nbformat.v4.new_code_cell(source)
            for source in ("%load_ext jupyter_autocoder", SETUP, REQUEST)
        ]
        for cell in cells:
            run = kernel.execute(cell.source)
            assert run.status == "ok", run.text
            cell.outputs = [nbformat.v4.output_from_msg(_message(o)) for o in run.outputs]
    finally:
        kernel.close()
    assert "NameError: name 'mean' is not defined" in run.text  # round 1 failed, in view
    assert run.new_cell == "from statistics import mean\nresult = mean(numbers)\nprint(result)\n"

    # What JupyterLab then holds: the new cell below the request's, not run.
    cells.append(nbformat.v4.new_code_cell(run.new_cell.rstrip("\n")))
    notebook = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / "turn.ipynb"
    nbformat.write(notebook, path)
    generated = [cell.source for cell in notebook.cells[3:]]
    assert generated == [run.new_cell.rstrip("\n")]  # one cell: no failed attempt kept

    # Restart kernel and run all cells: the request asks the model again (the same two
    # answers), and the working cell runs too. No cell fails: nbclient raises at the first
    # cell whose run ends in an error. The magic's own output shows round 1's real error
    # collapsed in its display, not as an error output (a turn that ends well leaves none),
    # and no other cell shows one.
    engine.enqueue(BUGGY, FIXED)
    rerun = nbformat.read(path, as_version=4)
    NotebookClient(rerun, timeout=120, kernel_name="python3").execute(env=env, cwd=str(tmp_path))
    errors = [
        (index, output.ename)
        for index, cell in enumerate(rerun.cells)
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    shown = "".join(str(output.get("data", {})) for output in rerun.cells[2].outputs)
    assert "NameError: name 'mean' is not defined" in shown
    assert [o.text for o in rerun.cells[3].outputs if o.output_type == "stream"] == ["2.5\n"]


def _message(output: dict) -> dict:
    """An output as the iopub message `nbformat.v4.output_from_msg` reads."""
    content = {key: value for key, value in output.items() if key != "output_type"}
    return {"header": {"msg_type": output["output_type"]}, "content": content}
