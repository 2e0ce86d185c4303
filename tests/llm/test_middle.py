"""Cleaning a model's middle into ghost text: the end of the block, never the suffix again,
no stray fences, the line limit; and the same text whether it arrives whole or in pieces."""

from __future__ import annotations

import pytest

from jupyter_autocoder.llm.middle import MiddleFilter, clean_middle

STOP = ("<|endoftext|>", "<|fim_pad|>")


def streamed(text, prefix, suffix, max_lines=0, language="python", size=1):
    """The text a user sees when the answer arrives `size` characters at a time."""
    middle = MiddleFilter(prefix, suffix, max_lines, language, STOP)
    shown = ""
    for start in range(0, len(text), size):
        piece = middle.feed(text[start : start + size])
        shown += piece
        if middle.stopped:
            break
    return shown + middle.finish(), middle


CASES = [
    # prefix, suffix, what the model wrote, what the user gets
    pytest.param(
        "def f(x):\n    return ",
        "\n\nprint(f(1))\n",
        "x + 1\n\nprint(f(1))\n",
        "x + 1",
        id="stops before repeating the suffix",
    ),
    pytest.param(
        "total = sum(",
        ")\nprint(total)",
        "values)",
        "values",
        id="mid-line: the closing bracket after the cursor is not repeated",
    ),
    pytest.param("print(foo(", ")\n", "x, y))", "x, y)", id="mid-line: only the overlap goes"),
    pytest.param("items = [", "]", "1, 2, 3]\nmore = 4", "1, 2, 3", id="mid-line: one line only"),
    pytest.param(
        "def f(x):",
        "",
        "\n    y = x * 2\n    return y\n\ndef g():\n    pass\n",
        "\n    y = x * 2\n    return y",
        id="block end: a dedent leaves the function",
    ),
    pytest.param(
        "import pandas as pd\n",
        "",
        "df = pd.DataFrame()\n\ndf.head()\n",
        "df = pd.DataFrame()",
        id="top level: a blank line after a statement ends it",
    ),
    pytest.param(
        "def f(x):\n    ",
        "",
        "a = 1\n\n    b = 2\n    return a + b\n",
        "a = 1\n\n    b = 2\n    return a + b",
        id="a blank line inside a block is kept",
    ),
    pytest.param("x = ", "", "```python\nx = 5\n```\nmore text", "x = 5", id="stray fences go"),
    pytest.param("y = ", "", "1<|endoftext|>junk", "1", id="a special token ends it"),
    pytest.param(
        "def f(x):\n    ", "", "a = 1\n    b = 2\n    c = 3\n", "a = 1\n    b = 2", id="max lines"
    ),
    pytest.param("x = 1", "", "   \n\n", "", id="whitespace only is nothing"),
]


@pytest.mark.parametrize(("prefix", "suffix", "raw", "expected"), CASES)
def test_cleaning(prefix, suffix, raw, expected):
    max_lines = 2 if "c = 3" in raw else 0
    assert clean_middle(raw, prefix, suffix, max_lines, stop=STOP) == expected


@pytest.mark.parametrize(("prefix", "suffix", "raw", "expected"), CASES)
@pytest.mark.parametrize("size", [1, 3, 7])
def test_streamed_pieces_give_the_same_text_and_never_take_back(
    prefix, suffix, raw, expected, size
):
    max_lines = 2 if "c = 3" in raw else 0
    text, _ = streamed(raw, prefix, suffix, max_lines, size=size)
    assert text == expected


def test_the_first_line_shows_before_the_answer_ends():
    middle = MiddleFilter("def f(x):\n    ", "", 0)
    assert middle.feed("return x") == "return x"  # shown at once, not held until a newline
    assert middle.feed(" + 1\n") == " + 1"
    assert middle.feed("    ") == ""  # the next line's indentation is not known yet
    assert middle.feed("x") == "\n    x"


def test_it_says_when_the_rest_is_not_wanted():
    _, middle = streamed(
        "return x + 1\nprint(f(1))\nmore\nmore\n", "def f(x):\n    ", "\nprint(f(1))\n"
    )
    assert middle.stopped and middle.stop_reason == "repeats the suffix"
    _, middle = streamed("1\ny = 2\n", "x = ", "")
    assert middle.stopped and middle.stop_reason == "end of line"  # a simple statement


def test_other_languages_are_not_cut_by_python_indentation():
    text = clean_middle("x <- 1\ny <- 2", "f <- function() {\n  ", "", language="r")
    assert text == "x <- 1\ny <- 2"
