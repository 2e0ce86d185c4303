"""The numbers a summary quotes, checked against the real outputs it summarises.

An exploration closes with a summary written by the model. A small model readily writes a
plausible number that no cell printed; here every number of the summary must be found in
the outputs (as printed, or rounded or cut to the summary's decimals, or as a percentage
of a fraction). What cannot be found is reported (the exploration asks the model once to
correct it), and `flag_unverified` marks each such number where it stands.

    check = check_numbers(summary, outputs_text)
    check.unverified                      # ["6.1", "42%"]
    text = flag_unverified(summary, check.unverified)   # "... 6.1 [not in any output] ..."

Not numbers of a finding, and so not checked: list markers ("1.", "2)"), step references
("step 2"), and digits inside a name (`col_2`, x1, "Q4").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# A number: thousands separated by commas, or plain digits, with decimals and an exponent;
# a percent sign after it. Digits glued to a letter, "_" or "." before are part of a name.
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−–]?)(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
    r"(?:[eE][-+]?\d+)?|\.\d+)(?P<percent>\s?%)?(?![\w])"
)
# Digits in the outputs, wherever they are: a table's cell can touch anything.
_OUTPUT_NUMBER = re.compile(r"[-−]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]\s+)?\d+[.)](?=\s)")
_STEP_REFERENCE = re.compile(r"\bsteps?\s+$", re.IGNORECASE)
# Put after a number of the summary that no output shows.
UNVERIFIED_MARK = " [not in any output]"


@dataclass(frozen=True)
class QuotedNumber:
    """A number as the summary writes it: its text, value, decimals and whether a percent."""

    text: str
    value: float
    decimals: int
    percent: bool = False


@dataclass
class NumberCheck:
    """What `check_numbers` found: the summary's numbers, and those not in the outputs."""

    quoted: list[QuotedNumber] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unverified


def quoted_numbers(text: str) -> list[QuotedNumber]:
    """The numbers of findings that `text` quotes (list markers, step references and digits
    inside names left out)."""
    found: list[QuotedNumber] = []
    for line in text.splitlines():
        marker = _LIST_MARKER.match(line)
        start = marker.end() if marker else 0
        for match in _NUMBER.finditer(line, start):
            if _STEP_REFERENCE.search(line[: match.start()]):
                continue
            digits = match.group("digits")
            plain = digits.replace(",", "")
            try:
                value = float(plain)
            except ValueError:
                continue
            if match.group("sign"):
                value = -value
            mantissa = plain.lower().split("e")[0]
            decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
            found.append(
                QuotedNumber(match.group(0).strip(), value, decimals, bool(match.group("percent")))
            )
    return found


def output_numbers(text: str) -> list[float]:
    """Every number in the outputs' text."""
    values = []
    for match in _OUTPUT_NUMBER.finditer(text):
        try:
            values.append(float(match.group(0).replace("−", "-")))
        except ValueError:
            continue
    return values


def matches(quoted: QuotedNumber, value: float) -> bool:
    """Whether `quoted` is `value` as written, rounded or cut to the quoted decimals, or (a
    percentage) that of a fraction."""
    candidates = [value]
    if quoted.percent:
        candidates.append(value * 100)
    unit = 10.0**-quoted.decimals
    for candidate in candidates:
        if math.isclose(candidate, quoted.value, rel_tol=1e-9, abs_tol=1e-12):
            return True
        if abs(candidate - quoted.value) <= unit / 2 + 1e-9 * max(1.0, abs(candidate)):
            return True  # rounded
        cut = math.trunc(candidate / unit) * unit
        if math.isclose(cut, quoted.value, rel_tol=1e-9, abs_tol=unit * 1e-6):
            return True  # cut off
    return False


def check_numbers(summary: str, outputs: str | Iterable[str]) -> NumberCheck:
    """Each number the summary quotes, looked for in the outputs; those not found, in order
    and once each."""
    text = outputs if isinstance(outputs, str) else "\n".join(outputs)
    values = output_numbers(text)
    check = NumberCheck(quoted=quoted_numbers(summary))
    for quoted in check.quoted:
        if quoted.text in check.unverified:
            continue
        if not any(matches(quoted, value) for value in values):
            check.unverified.append(quoted.text)
    return check


def flag_unverified(summary: str, unverified: Iterable[str]) -> str:
    """The summary with each number of `unverified` marked where it is quoted, so that a
    reader sees which numbers no output shows (nothing is rewritten or left out)."""
    wanted = set(unverified)
    if not wanted:
        return summary.strip()
    lines = []
    for line in summary.splitlines():
        marker = _LIST_MARKER.match(line)
        start = marker.end() if marker else 0
        pieces, last = [], 0
        for match in _NUMBER.finditer(line, start):
            if match.group(0).strip() in wanted:
                pieces.append(line[last : match.end()] + UNVERIFIED_MARK)
                last = match.end()
        lines.append("".join(pieces) + line[last:])
    return "\n".join(lines).strip()
