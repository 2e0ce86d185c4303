"""What a model wrote between a prefix and a suffix, cleaned into text a user can accept.

Model output is untrusted and small models ramble, so the middle is cut where the user's
block ends and never repeats what is already after the cursor:

- a stray Markdown fence is dropped (an opening one) or ends the text (a closing one);
- in the middle of a line, or after a simple statement begun on it (`x = `), the completion
  is that line only, and the end of it that the line already has after the cursor
  (`foo(x` + `)` when `)` follows) is not repeated;
- on an empty line or after a line that opens a block, it stops at the first line that
  repeats the suffix's next line, at a line that leaves the cursor's block (Python: a
  smaller indentation; at top level, a blank line after a statement), and after
  `max_lines` lines;
- trailing whitespace and special tokens are never part of it.

`MiddleFilter` does this while the answer streams: `feed(piece)` returns only text that no
later piece can take back (ghost text only grows), `finish()` the rest.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w")
_PYTHON_LIKE = {"", "python", "ipython", "python3", "sage"}


def clean_middle(
    text: str,
    prefix: str,
    suffix: str,
    max_lines: int = 0,
    language: str = "python",
    stop: tuple[str, ...] = (),
) -> str:
    """The whole answer, cleaned (what `MiddleFilter` gives in the end)."""
    middle = MiddleFilter(prefix, suffix, max_lines, language, stop)
    return middle.feed(text) + middle.finish()


class MiddleFilter:
    """Cleans a streamed middle; `stopped` turns true once the rest can be thrown away."""

    def __init__(
        self,
        prefix: str,
        suffix: str,
        max_lines: int = 0,
        language: str = "python",
        stop: tuple[str, ...] = (),
    ):
        self.max_lines = max(0, int(max_lines))
        self.python = language.lower() in _PYTHON_LIKE
        self.stop = tuple(s for s in stop if s)
        cursor_line = prefix.rsplit("\n", 1)[-1]
        self.rest = suffix.split("\n", 1)[0]  # what follows the cursor on its line
        # In the middle of a line, or at the end of a simple statement (`x = `), the block
        # is that one line; a line that opens a block (`def f():`, `call(`) or an empty
        # line gets more.
        self.single_line = bool(self.rest.strip()) or (
            bool(cursor_line.strip()) and not _opens_block(cursor_line)
        )
        self.next_line = next((line for line in suffix.split("\n")[1:] if line.strip()), "").strip()
        if self.single_line:
            self.next_line = ""
        self.block_indent = _block_indent(prefix, cursor_line)
        self._raw = ""
        self._emitted = ""
        self.stopped = False
        self.stop_reason = ""

    @property
    def text(self) -> str:
        """Everything given out so far."""
        return self._emitted

    def feed(self, piece: str) -> str:
        """Take a piece of the answer; returns the new text that is certain."""
        if self.stopped or not piece:
            return ""
        self._raw += piece
        return self._advance(self._clean(final=False))

    def finish(self) -> str:
        """The end of the answer: the rest of the text, cleaned."""
        return self._advance(self._clean(final=True))

    def _advance(self, safe: str) -> str:
        # Given-out text is never taken back; a cleaning that would is ignored.
        if not safe.startswith(self._emitted):
            return ""
        new, self._emitted = safe[len(self._emitted) :], safe
        return new

    def _clean(self, final: bool) -> str:
        raw = self._raw
        for token in self.stop:
            if token in raw:
                raw = raw[: raw.index(token)]
                final = True
                self._stop("stop token")
        lines = raw.split("\n")
        partial = None if final else lines.pop()
        first_line_done = bool(lines)
        kept: list[str] = []
        for number, line in enumerate(lines):
            verdict = self._judge(number, line, kept)
            if verdict == "skip":
                continue
            if verdict == "stop":
                partial = None
                break
            kept.append(line)
        else:
            if partial is not None and not self.stopped:
                shown = self._shown_part(len(lines), partial, kept)
                if shown:
                    kept.append(shown)
                partial = None
        if first_line_done and kept and self.single_line:
            kept[0] = _without_overlap(kept[0], self.rest)
        return "\n".join(kept).rstrip()

    def _judge(self, number: int, line: str, kept: list[str]) -> str:
        """What to do with a complete line: keep it, skip it, or stop before it."""
        stripped = line.strip()
        content = any(k.strip() for k in kept)
        if stripped.startswith("```"):
            if not content:
                return "skip"  # an opening fence
            return self._stop("closing fence")
        if kept and self.single_line:
            return self._stop("end of line")
        if self.max_lines and _counted(kept) >= self.max_lines and (kept or stripped):
            return self._stop("max lines")
        if number > 0 and stripped:
            if self.next_line and stripped == self.next_line:
                return self._stop("repeats the suffix")
            if self.python and _indent(line) < self.block_indent:
                return self._stop("end of block")
        if number > 0 and not stripped and self.python and self.block_indent == 0:
            last = next((k for k in reversed(kept) if k.strip()), "")
            if last and _indent(last) == 0 and not _opens_block(last):
                return self._stop("blank line after a statement")
        return "keep"

    def _shown_part(self, number: int, partial: str, kept: list[str]) -> str:
        """How much of the line still being written can be shown now."""
        stripped = partial.strip()
        if "```".startswith(stripped) or stripped.startswith("```"):
            return ""  # may become a fence
        if self.stop:
            partial = partial[: _held_from(partial, self.stop)]  # may begin a stop token
        if number == 0:
            if self.single_line:
                return partial[
                    : len(partial) - _overlap_length(partial, self.rest, partial_ok=True)
                ]
            return partial
        if kept and self.single_line:
            return ""
        if self.max_lines and _counted(kept) >= self.max_lines:
            return ""
        if not stripped:
            return ""  # its indentation is not known yet
        if self.next_line and self.next_line.startswith(stripped):
            return ""  # may become a repeat of the suffix
        if self.python and _indent(partial) < self.block_indent:
            return ""
        return partial

    def _stop(self, reason: str) -> str:
        if not self.stopped:
            self.stopped, self.stop_reason = True, reason
        return "stop"


def _indent(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def _opens_block(line: str) -> bool:
    return line.rstrip().endswith((":", "(", "[", "{", ",", "\\"))


def _block_indent(prefix: str, cursor_line: str) -> int:
    """The indentation the completion's later lines must keep to stay in the cursor's block."""
    if cursor_line.strip():
        base = _indent(cursor_line)
        return base + 1 if _opens_block(cursor_line) else base
    if cursor_line:
        return _indent(cursor_line)
    previous = next((line for line in reversed(prefix.split("\n")[:-1]) if line.strip()), "")
    if previous and _opens_block(previous):
        return _indent(previous) + 1
    return 0


def _counted(kept: list[str]) -> int:
    """Lines that count against max_lines: an empty first line (the rest of the cursor's
    line left empty) does not."""
    return len(kept) - (1 if kept and not kept[0].strip() else 0)


def _overlap_length(line: str, rest: str, partial_ok: bool = False) -> int:
    """Characters at the end of `line` that the text after the cursor already has."""
    rest = rest.rstrip()
    for length in range(min(len(line), len(rest)), 0, -1):
        if not line.endswith(rest[:length]):
            continue
        if partial_ok:
            return length  # still streaming: hold back any possible overlap
        if _boundary(rest, length) and _boundary(line, len(line) - length):
            return length
    return 0


def _without_overlap(line: str, rest: str) -> str:
    length = _overlap_length(line.rstrip(), rest)
    line = line.rstrip()
    return line[: len(line) - length] if length else line


def _boundary(text: str, index: int) -> bool:
    """True unless `index` falls between two word characters of `text`."""
    if index <= 0 or index >= len(text):
        return True
    return not (_WORD.match(text[index - 1]) and _WORD.match(text[index]))


def _held_from(text: str, tokens: tuple[str, ...]) -> int:
    """Where a possible beginning of a stop token starts at the end of `text`."""
    cut = len(text)
    for token in tokens:
        for length in range(min(len(token) - 1, len(text)), 0, -1):
            if text.endswith(token[:length]):
                cut = min(cut, len(text) - length)
                break
    return cut
