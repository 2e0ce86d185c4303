"""What the model is told: execution feedback and the rendered notebook context."""

from __future__ import annotations

import base64
import struct
import zlib

from jupyter_autocoder.agent.feedback import (
    cut_middle,
    describe_display,
    execution_feedback,
    expected_results,
    image_size,
)
from jupyter_autocoder.agent.prompts import (
    CellContext,
    NotebookContext,
    VariableContext,
    render_context,
)
from jupyter_autocoder.executors.base import (
    DisplayOutput,
    ErrorOutput,
    ExecutionResult,
    StreamOutput,
)


def png(width: int, height: int) -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 10))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(raw).decode()


DATAFRAME_HTML = """<div><table border="1" class="dataframe">
<thead><tr style="text-align: right;"><th></th><th>a</th><th>b</th></tr></thead>
<tbody>
<tr><th>0</th><td>1</td><td>x</td></tr>
<tr><th>1</th><td>2</td><td>y</td></tr>
<tr><th>2</th><td>3</td><td>z</td></tr>
</tbody></table></div>"""


def test_error_feedback_is_clean_and_bounded():
    traceback = ["\x1b[0;31m-----\x1b[0m", "\x1b[0;31mKeyError\x1b[0m  Traceback"] + [
        f"frame {i}" for i in range(2000)
    ]
    result = ExecutionResult(
        [StreamOutput("stdout", "partial output\n"), ErrorOutput("KeyError", "'price'", traceback)],
        status="error",
    )
    text = execution_feedback(result, limit=3000)
    assert "\x1b" not in text
    assert text.startswith("The code raised an error:\nKeyError: 'price'")
    assert "frame 0" in text and "frame 1999" in text and "characters cut" in text
    assert "partial output" in text
    assert len(text) < 3600


def test_timeout_feedback_says_state_is_kept():
    result = ExecutionResult(
        [ErrorOutput("KeyboardInterrupt", "", [])], timed_out=True, status="timeout"
    )
    text = execution_feedback(result, timeout=30)
    assert "still running after 30 s" in text and "kept" in text


def test_rich_outputs_are_described_briefly():
    image = DisplayOutput({"image/png": png(640, 480), "text/plain": "<Figure size 640x480>"})
    assert describe_display(image) == "[image/png 640x480]"
    assert image_size("image/png", "not base64 at all") is None
    frame = DisplayOutput(
        {"text/html": DATAFRAME_HTML, "text/plain": "   a  b\n0  1  x\n1  2  y\n2  3  z"}
    )
    text = describe_display(frame)
    assert text.startswith("[DataFrame 3 rows x 2 columns]") and "0  1  x" in text
    big = DisplayOutput(
        {"text/html": '<table class="dataframe"><p>1000 rows × 5 columns</p></table>'}
    )
    assert describe_display(big).startswith("[DataFrame 1000 rows x 5 columns]")
    result = ExecutionResult([StreamOutput("stdout", "50%\r100%\ndone\n"), image])
    text = execution_feedback(result)
    assert text.startswith("The code ran without errors.")
    assert "100%\ndone" in text and "50%" not in text and "[image/png 640x480]" in text


def test_cut_middle_keeps_head_and_tail():
    text = "A" * 1000 + "B" * 1000
    cut = cut_middle(text, 100)
    assert cut.startswith("A" * 60) and cut.endswith("B" * 40) and "1900 characters cut" in cut
    assert cut_middle("short", 100) == "short"


def test_expected_results_from_the_request():
    found = expected_results(
        "Write a function called clean_prices, store the result in `tidy`, and save it to "
        "out/tidy.csv."
    )
    assert found.names == ["clean_prices", "tidy"] and found.files == ["out/tidy.csv"]
    assert expected_results("Write a function fib(n) that returns the nth number").names == ["fib"]
    nothing = expected_results("Load data.csv, group by `region` and plot the totals")
    assert nothing.names == [] and nothing.files == []


def test_context_renders_newest_first_within_budget():
    context = NotebookContext(
        cells=[CellContext(f"step_{i} = {i}", f"out {i}", i) for i in range(1, 40)],
        variables=[VariableContext("df", "DataFrame", "100 rows x 3 columns")],
        last_error="Traceback...\nValueError: bad value",
    )
    text = render_context(context, budget=800)
    assert len(text) <= 800
    assert text.startswith("Last error in the notebook:")
    assert "df (DataFrame): 100 rows x 3 columns" in text
    assert "step_39 = 39" in text and "step_1 = 1" not in text  # the oldest are the ones dropped
    assert text.index("step_39") < text.index("step_38")
    assert render_context(NotebookContext()) == ""
    assert NotebookContext.from_dict(context.to_dict()) == context
