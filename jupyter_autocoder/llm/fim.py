"""Prompts for inline completion: fill-in-the-middle with the model's own tokens, and the
fallbacks for a model that has none.

A code model trained for fill-in-the-middle (FIM) is given the text before the cursor and
the text after it between its special tokens, and writes the middle. Where the tokens come
from, in order: what llama.cpp finds in the GGUF file (its metadata, or the tokens of a
known family in its vocabulary; the worker reports them), else the catalogue's template for
the model. The three templates of the catalogue:

- `deepseek-coder` (AutoCoder 33B, AutoCoder-S 6.7B): `<｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>`
- `qwen2.5-coder`: `<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>`
- `codeqwen` (AutoCoder-QW 7B, a CodeQwen1.5 model): `<fim_prefix>P<fim_suffix>S<fim_middle>`,
  the StarCoder spelling that CodeQwen1.5 uses (Qwen2.5-Coder changed it).

A model without FIM tokens is asked in one of two other ways (`PREFIX` or `CHAT`). `CHAT`
is also the way Jupyter AI asks (a system prompt asking for the code between a prefix and
a suffix), kept here so the evaluation can compare the two on the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FIM, PREFIX, CHAT = "fim", "prefix", "chat"
METHODS = (FIM, PREFIX, CHAT)


@dataclass(frozen=True)
class FimTemplate:
    """A model's fill-in-the-middle tokens, in prefix-suffix-middle order."""

    name: str
    prefix: str
    suffix: str
    middle: str
    stop: tuple[str, ...] = ()

    def prompt(self, prefix: str, suffix: str) -> str:
        return f"{self.prefix}{prefix}{self.suffix}{suffix}{self.middle}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prefix": self.prefix,
            "suffix": self.suffix,
            "middle": self.middle,
            "stop": list(self.stop),
        }


FIM_TEMPLATES: dict[str, FimTemplate] = {
    template.name: template
    for template in (
        FimTemplate(
            "deepseek-coder",
            "<｜fim▁begin｜>",
            "<｜fim▁hole｜>",
            "<｜fim▁end｜>",
            ("<｜end▁of▁sentence｜>", "<|EOT|>", "<｜fim▁begin｜>", "<｜fim▁hole｜>"),
        ),
        FimTemplate(
            "qwen2.5-coder",
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            (
                "<|endoftext|>",
                "<|fim_pad|>",
                "<|file_sep|>",
                "<|repo_name|>",
                "<|im_end|>",
                "<|fim_prefix|>",
                "<|fim_suffix|>",
                "<|fim_middle|>",
            ),
        ),
        FimTemplate(
            "codeqwen",
            "<fim_prefix>",
            "<fim_suffix>",
            "<fim_middle>",
            (
                "<|endoftext|>",
                "<fim_pad>",
                "<file_sep>",
                "<reponame>",
                "<fim_prefix>",
                "<fim_suffix>",
                "<fim_middle>",
            ),
        ),
    )
}


def get_fim_template(name: str) -> FimTemplate:
    """The template called `name`; an unknown name raises with the valid ones."""
    try:
        return FIM_TEMPLATES[name]
    except KeyError:
        raise LookupError(
            f"Unknown fill-in-the-middle template {name!r}. Valid: {', '.join(FIM_TEMPLATES)}."
        ) from None


def template_from_tokens(tokens: dict[str, Any] | None) -> FimTemplate | None:
    """The template of the FIM tokens the worker found in the GGUF (llama.cpp's vocabulary:
    `prefix`, `suffix`, `middle`, and optionally `pad`, `sep`, `repo`, `eos`), or None."""
    if not tokens or not all(
        isinstance(tokens.get(key), str) and tokens[key] for key in ("prefix", "suffix", "middle")
    ):
        return None
    known = next(
        (
            t
            for t in FIM_TEMPLATES.values()
            if (t.prefix, t.suffix, t.middle)
            == (tokens["prefix"], tokens["suffix"], tokens["middle"])
        ),
        None,
    )
    extra = tuple(
        str(tokens[key])
        for key in ("pad", "sep", "repo", "eos")
        if isinstance(tokens.get(key), str) and tokens[key]
    )
    stop = tuple(
        dict.fromkeys(
            (
                *(known.stop if known else ()),
                *extra,
                tokens["prefix"],
                tokens["suffix"],
                tokens["middle"],
            )
        )
    )
    return FimTemplate(
        known.name if known else "gguf", tokens["prefix"], tokens["suffix"], tokens["middle"], stop
    )


def choose_template(
    reported: dict[str, Any] | None, catalogue_fim: str | None
) -> FimTemplate | None:
    """The GGUF's own tokens first, then the catalogue's template; None: the model has none."""
    template = template_from_tokens(reported)
    if template is not None:
        return template
    if catalogue_fim:
        return get_fim_template(catalogue_fim)
    return None


# -- budgets ------------------------------------------------------------------------------


def cut_prefix(text: str, limit: int) -> str:
    """The last `limit` characters of `text`, from the start of a line where one begins
    inside them (a line cut in half only misleads the model)."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    kept = text[-limit:]
    newline = kept.find("\n")
    return kept[newline + 1 :] if 0 <= newline < len(kept) - 1 else kept


def cut_suffix(text: str, limit: int) -> str:
    """The first `limit` characters of `text`, up to the end of a line where one ends
    inside them."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    kept = text[:limit]
    newline = kept.rfind("\n")
    return kept[: newline + 1] if newline > 0 else kept


# -- the prompts ------------------------------------------------------------------------------


def fim_prompt(template: FimTemplate, prefix: str, suffix: str) -> str:
    return template.prompt(prefix, suffix)


# Jupyter AI's way (jupyter_ai/completions: a system prompt, the suffix in a fenced block,
# then the prefix after an opening fence, stopping at a closing fence), stated in our words.
CHAT_SYSTEM_PROMPT = (
    "You are a code completion tool. Reply with code only, with as few comments as possible, "
    "written in the language's own comment syntax. Write clean code. The code runs in "
    "JupyterLab, where cells may also use IPython syntax such as magics."
)
CHAT_STOP = ("\n```",)


def chat_messages(
    prefix: str, suffix: str, language: str = "python", filename: str = "untitled"
) -> list[dict[str, str]]:
    """The chat request of the `CHAT` method: what comes after the cursor, then the code to
    continue, left inside an open fence."""
    parts = [f"The document is `{filename}`, written in {language}.\n"]
    if suffix.strip():
        parts.append(
            f"This code comes after the place to complete:\n\n```\n{suffix.strip()}\n```\n"
        )
    parts.append(f"Continue the following code:\n\n```\n{prefix}")
    return [
        {"role": "system", "content": CHAT_SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(parts)},
    ]


def strip_chat_fences(text: str, prefix: str, language: str = "python") -> str:
    """Jupyter AI's clean-up of a chat answer: an opening fence (and a repeated prefix after
    it) and a closing fence are removed; nothing else is changed."""
    names = {"python": ("python", "py"), "ipython": ("ipython", "python", "py")}
    for opening in [f"```{name}" for name in names.get(language, (language,))] + ["```"]:
        if text.lstrip().startswith(opening):
            text = text.lstrip()[len(opening) :].lstrip()
            if prefix and text.startswith(prefix):
                text = text[len(prefix) :]
            break
    if text.rstrip().endswith("```"):
        text = text.rstrip()[:-3].rstrip()
    return text
