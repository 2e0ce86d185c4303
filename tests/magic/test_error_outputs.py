"""A round that failed and was corrected leaves no kernel `error` output in the
`%%autocoder` cell: its traceback is in the magic's own display, collapsed. A turn that ends
in failure keeps one real error output, the last run's. Checked on a real kernel, and on a
notebook executed by nbclient, saved and read back as a notebook checker (nbval, a CI scan
for errors) reads it."""

from __future__ import annotations

import os

import nbformat

from jupyter_autocoder.magic.display import ANSI_ESCAPE

from .conftest import clean_environment, py, python_path


def errors(outputs: list) -> list:
    return [output for output in outputs if output["output_type"] == "error"]


def tracebacks_shown(outputs: list) -> list[str]:
    """The collapsed tracebacks of the magic's display (HTML `<details>`)."""
    return [
        output["data"]["text/html"]
        for output in outputs
        if "<details" in output.get("data", {}).get("text/html", "")
    ]


def test_a_recovered_round_shows_its_traceback_collapsed_and_no_error_output(nb, script):
    script.enqueue(
        py("ratio_total = sum(ratio_parts)\nprint(ratio_total)"),
        py("ratio_parts = [1, 2]\nratio_total = sum(ratio_parts)\nprint(ratio_total)"),
    )
    run = nb.execute("%%autocoder\nSum the ratio parts into `ratio_total`.")

    assert run.status == "ok", run.text
    assert errors(run.outputs) == []
    [shown] = tracebacks_shown(run.outputs)
    assert "<summary>" in shown and "NameError" in shown
    assert "ratio_total = sum(ratio_parts)" in shown  # the frame of the code that failed
    assert "\x1b[" not in shown  # no terminal colour codes in the HTML
    text = run.text
    assert text.index("NameError: name 'ratio_parts' is not defined") < text.index("Round 2 of 3")
    assert text.strip().splitlines()[-1].startswith("Done: the code ran without errors (2 rounds,")


def test_a_turn_that_ends_in_failure_keeps_the_last_error_as_a_real_error_output(nb, script):
    script.enqueue(py("first_try = 1 / 0"), py("second_try = int('x')"))
    run = nb.execute("%%autocoder --rounds 2\nCompute something that fails.")

    assert run.status == "ok", run.text
    [error] = errors(run.outputs)
    assert error["ename"] == "ValueError" and "int()" in error["evalue"]
    traceback = ANSI_ESCAPE.sub("", "\n".join(error["traceback"]))
    assert "second_try = int('x')" in traceback
    # Round 1's failure is in the display, collapsed; the last one is the real error output.
    assert any("ZeroDivisionError" in shown for shown in tracebacks_shown(run.outputs))
    kinds = [output["output_type"] for output in run.outputs]
    assert kinds.index("error") == len(kinds) - 2  # just above the closing line
    assert run.text.strip().splitlines()[-1].startswith("No clean run after 2 rounds (")


def test_a_saved_notebook_has_error_outputs_only_where_the_turn_failed(engine, script, tmp_path):
    from nbclient import NotebookClient

    script.enqueue(
        py("saved_total = sum(saved_parts)"),
        py("saved_parts = [2, 3]\nsaved_total = sum(saved_parts)\nprint(saved_total)"),
        py("never_right = 1 / 0"),
    )
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_autocoder"),
        nbformat.v4.new_code_cell("%%autocoder\nSum the saved parts into `saved_total`."),
        nbformat.v4.new_code_cell("%%autocoder --rounds 1\nDivide by zero."),
    ]
    env = clean_environment(
        PYTHONPATH=python_path(),
        AUTOCODER_ENGINE_URL=engine.base_url,
        AUTOCODER_API_KEY=engine.api_key,
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
    )
    client = NotebookClient(
        book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=env)
    path = tmp_path / "saved.ipynb"
    nbformat.write(book, os.fspath(path))

    saved = nbformat.read(os.fspath(path), as_version=4)
    nbformat.validate(saved)
    _, recovered, failed = saved.cells
    assert errors(recovered.outputs) == []
    shown = [o.get("data", {}).get("text/plain", "") for o in recovered.outputs]
    assert shown[-1].startswith("Done: the code ran without errors (2 rounds,")
    assert [error["ename"] for error in errors(failed.outputs)] == ["ZeroDivisionError"]
