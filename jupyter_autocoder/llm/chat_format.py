"""Which chat format a model is spoken to in.

The GGUF's own template wins where the file has one (llama.cpp then applies it). Otherwise
the family decides: AutoCoder 33B and AutoCoder-S 6.7B are deepseek-coder instruct models
(`### Instruction:` / `### Response:` turns, ending at `<|EOT|>`); AutoCoder-QW 7B is a
CodeQwen model and speaks ChatML like Qwen.
"""

from __future__ import annotations

from dataclasses import dataclass

from .gguf_file import GGUFHeader

DEEPSEEK_CODER = "autocoder-deepseek-coder"
DEEPSEEK_EOT = "<|EOT|>"
DEEPSEEK_BOS = "<｜begin▁of▁sentence｜>"
DEEPSEEK_DEFAULT_SYSTEM = (
    "You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by "
    "DeepSeek Company, and you only answer questions related to computer science."
)

# family -> llama.cpp chat format name
_FAMILY_FORMATS = {"deepseek-coder": DEEPSEEK_CODER, "qwen": "qwen", "smollm": "chatml"}


@dataclass(frozen=True)
class ChatFormatChoice:
    chat_format: str | None  # a llama.cpp chat format name; None: the GGUF's own template
    reason: str
    stop: tuple[str, ...] = ()


def guess_family(header: GGUFHeader) -> str | None:
    """The family of a file that is not in the catalogue, from its own name."""
    name = f"{header.name} {header.metadata.get('general.basename', '')} {header.path}".lower()
    if (
        "qw" in name
        and "autocoder" in name
        or "qwen" in name
        or header.architecture.startswith("qwen")
    ):
        return "qwen"
    if "autocoder" in name or "deepseek" in name:
        return "deepseek-coder"
    return None


def choose_chat_format(header: GGUFHeader, family: str | None = None) -> ChatFormatChoice:
    if header.chat_template:
        return ChatFormatChoice(None, "the chat template inside the GGUF file")
    family = family or guess_family(header)
    if family == "deepseek-coder":
        return ChatFormatChoice(
            DEEPSEEK_CODER, "deepseek-coder instruct format (AutoCoder)", (DEEPSEEK_EOT,)
        )
    if family in _FAMILY_FORMATS:
        return ChatFormatChoice(_FAMILY_FORMATS[family], f"{family} family format", ("<|im_end|>",))
    return ChatFormatChoice(
        "chatml", "no template in the file and an unknown family: ChatML", ("<|im_end|>",)
    )


def format_deepseek_coder(messages: list[dict[str, str]]) -> str:
    """The prompt of the deepseek-coder instruct format that AutoCoder was trained on."""
    system = DEEPSEEK_DEFAULT_SYSTEM
    if messages and messages[0]["role"] == "system":
        system, messages = messages[0]["content"], messages[1:]
    parts = [f"{DEEPSEEK_BOS}{system}\n"]
    for message in messages:
        if message["role"] == "assistant":
            parts.append(f"{message['content']}\n{DEEPSEEK_EOT}\n")
        else:
            parts.append(f"### Instruction:\n{message['content']}\n### Response:\n")
    return "".join(parts)


def register_llama_cpp_formats() -> None:
    """Add the deepseek-coder format to llama.cpp's registry (in the worker process only)."""
    from llama_cpp import llama_chat_format

    @llama_chat_format.register_chat_format(DEEPSEEK_CODER)
    def _deepseek_coder(messages, **kwargs):  # noqa: ANN001, ANN202 - llama.cpp's signature
        prompt = format_deepseek_coder(
            [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
        )
        # llama.cpp adds the BOS token itself when tokenizing.
        prompt = prompt[len(DEEPSEEK_BOS) :]
        return llama_chat_format.ChatFormatterResponse(prompt=prompt, stop=[DEEPSEEK_EOT])
