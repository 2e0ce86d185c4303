"""Finding what the model wants run in its answer.

Accepted: ```python fences (several are joined in order), ```sh fences with `pip install`
lines (other lines there are shell commands that need approval), AutoCoder's
`<API_RUN_START>` ... `<API_RUN_STOP>` tags (when present only tagged blocks run, as in
AutoCoder's own interpreter), and a bare answer that is clearly Python. Nothing here
raises on garbage: problems are reported in `ParsedReply.problems`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from .packages import InstallRequest, is_pip_install, parse_pip_install

PYTHON_LANGUAGES = {"python", "py", "python3", "ipython", "ipython3", "pycon"}
SHELL_LANGUAGES = {"sh", "bash", "shell", "console", "zsh", "shell-session", "terminal", "cmd"}

TAG_START = "<API_RUN_START>"
TAG_STOP = "<API_RUN_STOP>"

_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$", re.MULTILINE)
_SHELL_MAGIC_PREFIXES = (
    "!",
    "%pip",
    "%conda",
    "%system",
    "%sx",
    "%%bash",
    "%%sh",
    "%%script",
    "%%system",
)


@dataclass
class ParsedReply:
    """What an answer asks for."""

    code: str = ""  # Python to run (the blocks joined), "" when none
    installs: list[InstallRequest] = field(default_factory=list)
    shell_commands: list[str] = field(default_factory=list)  # need the user's approval
    prose: str = ""  # the answer without its code blocks
    problems: list[str] = field(
        default_factory=list
    )  # malformed parts, said so the model can fix them

    @property
    def has_actions(self) -> bool:
        return bool(self.code.strip() or self.installs or self.shell_commands)


@dataclass
class _Block:
    language: str
    body: str
    closed: bool = True


def parse_reply(text: str) -> ParsedReply:
    """Split a model answer into code to run, installs, shell commands and prose."""
    text = (text or "").replace("\r\n", "\n")
    reply = ParsedReply()
    if TAG_START in text:
        blocks = _tagged_blocks(text, reply)
    else:
        blocks, reply.prose = _fenced_blocks(text, reply)
        if not blocks and not reply.problems and _looks_like_python(text):
            blocks = [_Block("python", text.strip())]
            reply.prose = ""
    python_parts: list[str] = []
    for block in blocks:
        if block.language == "python":
            code = _take_shell_lines(block.body, reply)
            if code.strip():
                python_parts.append(code.strip("\n"))
        elif block.language == "sh":
            _take_shell_block(block.body, reply)
    reply.code = "\n\n".join(python_parts)
    return reply


def _fenced_blocks(text: str, reply: ParsedReply) -> tuple[list[_Block], str]:
    blocks: list[_Block] = []
    prose_parts: list[str] = []
    position = 0
    while True:
        opening = _FENCE.search(text, position)
        if opening is None:
            prose_parts.append(text[position:])
            break
        prose_parts.append(text[position : opening.start()])
        fence = opening.group("fence")
        info = opening.group("info").strip()
        body_start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = closing.search(text, body_start) if body_start <= len(text) else None
        if end is None:
            body = text[body_start:]
            block = _classify(info, body, closed=False)
            if block is not None and block.language == "python" and not _parses(body):
                reply.problems.append(
                    "The ```python block is not closed and its code is incomplete "
                    "(the answer may have been cut off): answer again with shorter, complete code."
                )
            elif block is not None:
                blocks.append(block)
            break
        block = _classify(info, text[body_start : end.start()], closed=True)
        if block is not None:
            blocks.append(block)
        position = end.end()
    return blocks, "".join(prose_parts).strip()


def _classify(info: str, body: str, closed: bool) -> _Block | None:
    language = info.split()[0].lower().lstrip("{.").rstrip("}") if info else ""
    if language in PYTHON_LANGUAGES:
        return _Block("python", body, closed)
    if language in SHELL_LANGUAGES:
        return _Block("sh", body, closed)
    if language:
        return None  # json, text, output...: shown, not run
    # An unlabelled fence: pip lines are installs, Python is code, anything else is shown only.
    lines = [
        line for line in body.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    if lines and all(is_pip_install(line) for line in lines):
        return _Block("sh", body, closed)
    if _looks_like_python(body):
        return _Block("python", body, closed)
    return None


def _tagged_blocks(text: str, reply: ParsedReply) -> list[_Block]:
    blocks: list[_Block] = []
    prose_parts: list[str] = []
    position = 0
    while True:
        start = text.find(TAG_START, position)
        if start < 0:
            prose_parts.append(text[position:])
            break
        prose_parts.append(text[position:start])
        body_start = start + len(TAG_START)
        stop = text.find(TAG_STOP, body_start)
        # A missing stop tag usually means generation stopped on it (a stop sequence).
        inner = text[body_start:] if stop < 0 else text[body_start:stop]
        position = len(text) if stop < 0 else stop + len(TAG_STOP)
        fenced, _ = _fenced_blocks(inner, reply)
        if fenced:
            blocks.extend(fenced)
        elif inner.strip():
            lines = [line for line in inner.splitlines() if line.strip()]
            if all(is_pip_install(line) for line in lines):
                blocks.append(_Block("sh", inner))
            elif _looks_like_python(inner):
                blocks.append(_Block("python", inner))
            else:
                reply.problems.append(
                    f"The text between {TAG_START} and {TAG_STOP} is not Python code."
                )
    reply.prose = "".join(prose_parts).replace(TAG_STOP, "").strip()
    return blocks


def _take_shell_lines(code: str, reply: ParsedReply) -> str:
    """Move `!pip install` and other shell escapes that stand alone in column 0 out of Python
    code, to be judged and run apart (those inside the code are found by escapes.py)."""
    if not any(line.lstrip().startswith(_SHELL_MAGIC_PREFIXES) for line in code.splitlines()):
        return code
    kept: list[str] = []
    lines = code.splitlines()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("%%bash", "%%sh", "%%script", "%%system")) and index == 0:
            _take_shell_block("\n".join(lines[1:]), reply)
            return ""
        if stripped.startswith("%%") and index:
            # No cell magic past the first line: IPython reads it (and the rest) as code of
            # the cell magic above, or as a line magic, and escapes.py judges it there.
            kept.append(line)
            continue
        if stripped.startswith(_SHELL_MAGIC_PREFIXES) and line == line.lstrip():
            if is_pip_install(stripped):
                reply.installs.append(parse_pip_install(stripped))
            else:
                command = stripped.lstrip("!%")
                for name in ("system ", "sx "):
                    command = command.removeprefix(name)
                reply.shell_commands.append(command.strip())
            continue
        kept.append(line)
    return "\n".join(kept)


def _take_shell_block(body: str, reply: ParsedReply) -> None:
    for line in _join_continuations(body.splitlines()):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if is_pip_install(stripped):
            reply.installs.append(parse_pip_install(stripped))
        else:
            reply.shell_commands.append(stripped.removeprefix("$ "))


def _join_continuations(lines: list[str]) -> list[str]:
    joined: list[str] = []
    pending = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending)
    return joined


def _parses(code: str) -> bool:
    try:
        ast.parse(_without_magics(code))
    except (SyntaxError, ValueError):
        return False
    return True


def _without_magics(code: str) -> str:
    # IPython syntax (magics, shell escapes) is valid in a cell; blank it for the ast check.
    return "\n".join(
        "pass" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()
    )


_STATEMENT_NODES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.For,
    ast.While,
    ast.If,
    ast.With,
    ast.Try,
)


def _looks_like_python(text: str) -> bool:
    """Clearly Python: it parses and does something (not prose that happens to parse)."""
    stripped = text.strip()
    if not stripped:
        return False
    try:
        tree = ast.parse(_without_magics(stripped))
    except (SyntaxError, ValueError):
        return False
    if not tree.body:
        return False
    for node in tree.body:
        if isinstance(node, _STATEMENT_NODES):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
            continue
        if isinstance(node, ast.Pass) and len(tree.body) > 1:
            continue
        return False
    return True
