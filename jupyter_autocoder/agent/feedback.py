"""Turning an execution result into the user turn the model reads next.

Errors keep their type, message and traceback (ANSI codes removed, long text cut to its head
and tail); printed output is kept the same way; rich outputs are described briefly
(`[image/png 640x480]`, a DataFrame's shape and first rows). What a request names (a
variable, a function, a file) is read in `requested.py`.
"""

from __future__ import annotations

import ast
import base64
import binascii
import html
import re
import struct

from ..executors.base import DisplayOutput, ErrorOutput, ExecutionResult, StreamOutput
from ..executors.figures import FIGURE_TEXT_PREFIX

# What a request names lives in requested.py; the loop imports it from here too.
from .requested import ExpectedResults, expected_results, missing_results_feedback

__all__ = [
    "ExpectedResults",
    "attempt_key",
    "clean_stream",
    "cut_middle",
    "describe_display",
    "describe_outputs",
    "execution_feedback",
    "expected_results",
    "format_error",
    "image_size",
    "missing_results_feedback",
    "repeat_feedback",
    "strip_ansi",
]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def cut_middle(text: str, limit: int) -> str:
    """`text` within `limit` characters: its head and its tail, with the cut said."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 3 // 5
    tail = limit - head
    dropped = len(text) - head - tail
    return f"{text[:head]}\n[... {dropped} characters cut ...]\n{text[-tail:]}"


def clean_stream(text: str) -> str:
    """Printed text as a terminal would leave it: carriage-return rewrites resolved."""
    lines = []
    for line in strip_ansi(text).split("\n"):
        if "\r" in line:
            parts = [part for part in line.split("\r") if part]
            line = parts[-1] if parts else ""
        lines.append(line)
    return "\n".join(lines)


# -- rich outputs --------------------------------------------------------------------


def image_size(mime: str, data: object) -> tuple[int, int] | None:
    """Width and height of a base64 PNG or JPEG, read from its header bytes."""
    if not isinstance(data, str):
        return None
    try:
        if mime == "image/png":
            # 24 bytes (32 base64 characters): signature, IHDR length and type, width, height.
            head = base64.b64decode("".join(data[:64].split())[:32])
            if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
                return None
            return struct.unpack(">II", head[16:24])
        if mime == "image/jpeg":
            return _jpeg_size(base64.b64decode("".join(data.split()), validate=False))
    except (binascii.Error, struct.error, ValueError):
        return None
    return None


def _jpeg_size(raw: bytes) -> tuple[int, int] | None:
    if raw[:2] != b"\xff\xd8":
        return None
    index = 2
    while index + 9 < len(raw):
        if raw[index] != 0xFF:
            index += 1
            continue
        marker = raw[index + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        length = struct.unpack(">H", raw[index + 2 : index + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", raw[index + 5 : index + 9])
            return width, height
        index += 2 + length
    return None


_ROWS_COLUMNS = re.compile(r"\[?(\d+)\s+rows?\s*[x×]\s*(\d+)\s+columns?\]?")


def dataframe_shape(html_text: str = "", plain_text: str = "") -> tuple[int, int] | None:
    """A DataFrame's (rows, columns) from its HTML or text representation."""
    for text in (html_text, plain_text):
        match = _ROWS_COLUMNS.search(html.unescape(text or ""))
        if match:
            return int(match.group(1)), int(match.group(2))
    if html_text and "dataframe" in html_text:
        body = re.search(r"<tbody>(.*?)</tbody>", html_text, re.DOTALL)
        if body:
            rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.DOTALL)
            if rows:
                first = rows[0]
                # Index labels are <th>, values <td>.
                return len(rows), len(re.findall(r"<td[\s>]", first))
    return None


def describe_display(output: DisplayOutput, text_limit: int = 800) -> str:
    data = output.data
    plain = data.get("text/plain", "")
    plain = "".join(plain) if isinstance(plain, list) else str(plain)
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            size = image_size(mime, data[mime])
            label = f"[{mime} {size[0]}x{size[1]}]" if size else f"[{mime}]"
            if plain.startswith(FIGURE_TEXT_PREFIX):  # what the plot shows, in words
                return f"{label} {cut_middle(plain.strip(), text_limit)}"
            return label
    html_text = data.get("text/html", "")
    html_text = "".join(html_text) if isinstance(html_text, list) else str(html_text)
    if 'class="dataframe' in html_text or "dataframe" in html_text[:300]:
        shape = dataframe_shape(html_text, plain)
        head = (
            "\n".join(strip_ansi(plain).splitlines()[:6]) if plain else _html_table_head(html_text)
        )
        label = f"[DataFrame {shape[0]} rows x {shape[1]} columns]" if shape else "[DataFrame]"
        return f"{label}\n{head}".rstrip()
    if "image/svg+xml" in data:
        return "[image/svg+xml]"
    if "application/vnd.jupyter.widget-view+json" in data:
        return "[interactive widget]"
    if plain:
        return cut_middle(strip_ansi(plain), text_limit)
    if html_text:
        return f"[text/html, {len(html_text)} characters] " + cut_middle(
            _html_text(html_text), text_limit // 2
        )
    mimes = ", ".join(sorted(data)) or "empty output"
    return f"[{mimes}]"


def _html_text(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


def _html_table_head(text: str, rows: int = 5) -> str:
    lines = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", text, re.DOTALL)[: rows + 1]:
        cells = [
            _html_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


# -- the feedback turn ---------------------------------------------------------------


def format_error(error: ErrorOutput, limit: int = 3000) -> str:
    traceback = strip_ansi("\n".join(error.traceback))
    # IPython's rule of dashes above a traceback says nothing to a model.
    traceback = "\n".join(line for line in traceback.splitlines() if line.strip("- ")).strip()
    header = f"{error.ename}: {strip_ansi(error.evalue)}".strip()
    if not traceback:
        return header
    last_line = traceback.splitlines()[-1] if traceback else ""
    if not last_line.startswith(error.ename):
        traceback = f"{traceback}\n{header}"
    return f"{header}\n{cut_middle(traceback, limit)}"


def describe_outputs(result: ExecutionResult, limit: int = 2000) -> str:
    """Printed text and rich outputs of a run, in order, within `limit` characters."""
    parts: list[str] = []
    for output in result.outputs:
        if isinstance(output, StreamOutput):
            text = clean_stream(output.text).rstrip("\n")
            if text:
                parts.append(text if output.name == "stdout" else f"[stderr]\n{text}")
        elif isinstance(output, DisplayOutput):
            parts.append(describe_display(output))
    return cut_middle("\n".join(parts), limit)


def execution_feedback(
    result: ExecutionResult, timeout: float | None = None, limit: int = 4000
) -> str:
    """The user turn that tells the model what its code did."""
    lines: list[str] = []
    if result.timed_out:
        seconds = f"{timeout:g} s" if timeout else "its time limit"
        lines.append(
            f"The code was still running after {seconds} and was interrupted. "
            "Variables defined before that point are kept. Make it finish faster "
            "(smaller data, no endless loop) or do the work in smaller steps."
        )
    error = result.error
    output_text = describe_outputs(result, limit=limit // 2 if error else limit)
    if error is not None and not result.timed_out:
        lines.append("The code raised an error:")
        lines.append(format_error(error, limit=limit - len(output_text) if output_text else limit))
    elif error is None:
        lines.append("The code ran without errors.")
    if output_text:
        lines.append("Output:\n" + output_text)
    elif error is None:
        lines.append("It printed nothing.")
    return "\n".join(lines)


def attempt_key(code: str) -> str:
    """`code` with its layout and comments dropped, to see that an answer repeats an earlier one."""
    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


def repeat_feedback(earlier_round: int, earlier_feedback: str) -> str:
    """What the model is told when it answers with code that already failed."""
    return (
        f"This is the same code as in round {earlier_round}, which failed:\n{earlier_feedback}\n\n"
        "Do not repeat it. Find the mistake, say in one sentence what it is, "
        "then give the complete corrected code, written differently."
    )
