"""Fill-in-the-middle prompts: each family's tokens, the GGUF's own tokens first, the chat
fallback (Jupyter AI's way), and the budget cuts from the far end."""

from __future__ import annotations

import pytest

from jupyter_autocoder.llm.catalogue import CATALOGUE
from jupyter_autocoder.llm.fim import (
    FIM_TEMPLATES,
    chat_messages,
    choose_template,
    cut_prefix,
    cut_suffix,
    get_fim_template,
    strip_chat_fences,
    template_from_tokens,
)

PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("autocoder-33b", "<｜fim▁begin｜>" + PREFIX + "<｜fim▁hole｜>" + SUFFIX + "<｜fim▁end｜>"),
        (
            "autocoder-s-6.7b",
            "<｜fim▁begin｜>" + PREFIX + "<｜fim▁hole｜>" + SUFFIX + "<｜fim▁end｜>",
        ),
        (
            "qwen2.5-coder-1.5b",
            "<|fim_prefix|>" + PREFIX + "<|fim_suffix|>" + SUFFIX + "<|fim_middle|>",
        ),
        ("autocoder-qw-7b", "<fim_prefix>" + PREFIX + "<fim_suffix>" + SUFFIX + "<fim_middle>"),
    ],
)
def test_each_catalogue_family_has_its_own_fim_prompt(model, expected):
    template = choose_template(None, CATALOGUE[model].fim)
    assert template.prompt(PREFIX, SUFFIX) == expected


def test_qwen_stops_at_its_end_and_file_tokens():
    stop = get_fim_template("qwen2.5-coder").stop
    assert {"<|endoftext|>", "<|fim_pad|>", "<|file_sep|>"} <= set(stop)


def test_a_model_without_fim_tokens_has_no_template():
    assert CATALOGUE["smollm2-135m"].fim == ""
    assert choose_template(None, CATALOGUE["smollm2-135m"].fim) is None
    assert choose_template({}, "") is None


def test_the_tokens_found_in_the_gguf_win_over_the_catalogue():
    # What the worker reports for the qwen2.5-coder GGUF (llama.cpp's vocabulary).
    reported = {
        "prefix": "<|fim_prefix|>",
        "suffix": "<|fim_suffix|>",
        "middle": "<|fim_middle|>",
        "pad": "<|fim_pad|>",
        "sep": "<|file_sep|>",
        "repo": "<|repo_name|>",
        "eos": "<|im_end|>",
    }
    template = choose_template(reported, "deepseek-coder")
    assert template.name == "qwen2.5-coder"
    assert template.prompt("a", "b") == "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"
    assert "<|im_end|>" in template.stop and "<|fim_pad|>" in template.stop


def test_unknown_gguf_tokens_make_a_template_of_their_own():
    template = template_from_tokens(
        {"prefix": "<PRE>", "suffix": "<SUF>", "middle": "<MID>", "eos": "</s>"}
    )
    assert template.name == "gguf"
    assert template.prompt("x", "y") == "<PRE>x<SUF>y<MID>"
    assert "</s>" in template.stop
    assert template_from_tokens({"prefix": "<PRE>", "suffix": "", "middle": "<MID>"}) is None


def test_an_unknown_template_name_lists_the_valid_ones():
    with pytest.raises(LookupError) as raised:
        get_fim_template("starcoder3")
    for name in FIM_TEMPLATES:
        assert name in str(raised.value)


def test_the_prefix_is_cut_from_its_far_end_at_a_line_start():
    text = "import os\nimport sys\n\ndef f():\n    return 1\n"
    cut = cut_prefix(text, 25)
    assert text.endswith(cut) and len(cut) <= 25
    assert cut == "\ndef f():\n    return 1\n"  # whole lines (the blank one too), the nearest kept
    assert cut_prefix(text, 1000) == text
    assert cut_prefix(text, 0) == ""


def test_the_suffix_is_cut_from_its_far_end_at_a_line_end():
    text = "    return x\n\nprint(f(1))\nprint(f(2))\n"
    cut = cut_suffix(text, 20)
    assert text.startswith(cut) and len(cut) <= 20
    assert cut == "    return x\n\n"
    assert cut_suffix(text, 1000) == text


def test_a_single_long_line_is_cut_within_it():
    assert cut_prefix("x" * 50, 10) == "x" * 10
    assert cut_suffix("y" * 50, 10) == "y" * 10


def test_the_chat_way_shows_the_suffix_then_leaves_the_prefix_in_an_open_fence():
    system, user = chat_messages(PREFIX, SUFFIX, "python", "analysis.ipynb")
    assert system["role"] == "system" and "code" in system["content"].lower()
    assert "`analysis.ipynb`" in user["content"] and "python" in user["content"]
    assert "```\nprint(add(1, 2))\n```" in user["content"]
    assert user["content"].endswith("```\n" + PREFIX)
    assert "after" not in chat_messages(PREFIX, "  \n")[1]["content"]  # no suffix, no block


def test_jupyter_ai_cleanup_strips_fences_and_a_repeated_prefix_only():
    assert strip_chat_fences("```python\nreturn a + b\n```", "x = 1") == "return a + b"
    assert strip_chat_fences("```\nx = 1\nreturn a\n```", "x = 1\n") == "return a"
    assert strip_chat_fences("return a + b\nprint(1)", "") == "return a + b\nprint(1)"
