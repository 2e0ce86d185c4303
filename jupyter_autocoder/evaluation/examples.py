"""The examples a task's prompt states, and checking code against them.

Examples are read from doctests (`>>> f(x)` and the line after, or `>>> f(x) == y`) and from
prose (`f(1) == 2`, `f(x) -> y`, "for example, f([1,2]) returns 3", "For x = 1, the output
should be 2", "Input: ... / Output: ..."). Checking a clean run against them tells the loop
whether its values are right without the hidden tests: they come from the prompt, which the
model sees anyway. `ExampleVerifier` runs them in the solving executor after each clean run.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..agent.feedback import attempt_key, clean_stream
from ..agent.verdict import ACCEPTED, Verdict
from .self_test import self_test_request, without_self_test

if TYPE_CHECKING:
    from ..executors.base import ExecutionResult, Executor
    from .tasks import Task


@dataclass
class Example:
    """One example a task's prompt states: a call and the value it should give."""

    call: str
    expected: str


_SEPARATORS = re.compile(
    r"^\s*(?:#\s*)?(?:==>|==|=>|->|➞|→|=|:)?\s*"
    r"(?:(?:should\s+)?(?:return|returns|returned|give|gives|is|yields|outputs?)\b\s*:?)?\s*"
)


def extract_examples(prompt: str, entry_point: str) -> list[Example]:
    """The examples the prompt states for `entry_point`, as (call, expected value) pairs.

    Doctest lines (`>>> f(x)` and the line after) and prose (`f(x) == y`, `f(x) -> y`,
    `f(x) ➞ y`, `f(x) returns y`). Pairs whose two sides are not valid Python are dropped.
    """
    examples: list[Example] = []
    seen: set[str] = set()
    lines = prompt.splitlines()
    doctest_lines: set[int] = set()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith(">>>"):
            continue
        call = stripped[3:].strip()
        doctest_lines.add(index)
        compared = _split_comparison(call)
        if compared is not None:  # `>>> f(x) == y`: the example is on one line
            if _is_example_call(compared[0], entry_point) and _is_value(compared[1]):
                _add(examples, seen, *compared)
            continue
        expected_lines = []
        for following in lines[index + 1 :]:
            text = following.strip()
            if not text or text.startswith(">>>") or text in ('"""', "'''"):
                break
            expected_lines.append(text.rstrip("\"'") if text.endswith(('"""', "'''")) else text)
        # Doctest output runs to the next blank line; prose may follow a one-line value directly.
        candidates = [" ".join(expected_lines).strip(), expected_lines[0] if expected_lines else ""]
        expected = next((c for c in candidates if c and _is_value(c)), None)
        if expected is not None and _is_example_call(call, entry_point):
            _add(examples, seen, call, expected)
    pattern = re.compile(rf"(?<![\w.]){re.escape(entry_point)}\s*\(")
    for index, line in enumerate(lines):
        if index in doctest_lines or line.lstrip().startswith("def "):
            continue
        for match in pattern.finditer(line):
            call = _balanced_call(line, match.start())
            if call is None or not _is_example_call(call, entry_point):
                continue
            rest = line[match.start() + len(call) :]
            separator = _SEPARATORS.match(rest)
            if separator is None or not separator.group(0).strip():
                continue
            expected = _leading_expression(rest[separator.end() :])
            if expected is not None:
                _add(examples, seen, call, expected)
    parameters = _parameters(prompt, entry_point)
    for call, expected in _input_output_examples(lines, entry_point, parameters):
        _add(examples, seen, call, expected)
    return examples


_FOR_LINE = re.compile(
    r"^\s*For\s+(?P<inputs>.+?),?\s+the\s+(?:output|result)\s+should\s+be\s+(?P<output>.+)$",
    re.IGNORECASE,
)
_INPUT_LINE = re.compile(r"^\s*Input\s*:\s*(?P<inputs>.+)$", re.IGNORECASE)
_OUTPUT_LINE = re.compile(r"^\s*Output\s*:\s*(?P<output>.+)$", re.IGNORECASE)


def _input_output_examples(
    lines: list[str], entry_point: str, parameters: list[str]
) -> list[tuple[str, str]]:
    """Examples in the "For x = 1, the output should be 2" and "Input: ... / Output: ..."
    styles."""
    found = []
    for index, line in enumerate(lines):
        inputs = output = None
        if (match := _FOR_LINE.match(line)) is not None:
            inputs, output = match["inputs"], match["output"]
        elif (match := _INPUT_LINE.match(line)) is not None:
            following = next((text for text in lines[index + 1 :] if text.strip()), "")
            if (answer := _OUTPUT_LINE.match(following)) is not None:
                inputs, output = match["inputs"], answer["output"]
        if inputs is None or output is None:
            continue
        call = _call_from_inputs(inputs, entry_point, parameters)
        expected = _leading_expression(output)
        if call is not None and expected is not None:
            found.append((call, expected))
    return found


def _call_from_inputs(inputs: str, entry_point: str, parameters: list[str]) -> str | None:
    """`f(1, [2])` from "x = 1, y = [2]" (or from a longer start of prose that begins so),
    `f([4, 2])` from "[4, 2]" when `f` takes one argument."""
    pieces = inputs.strip().rstrip(".,;").split(",")
    for end in range(len(pieces), 0, -1):
        arguments = ",".join(pieces[:end]).strip()
        call = f"{entry_point}({arguments})"
        try:
            tree = ast.parse(call, mode="eval").body
        except (SyntaxError, ValueError):
            continue
        if not isinstance(tree, ast.Call) or not _is_example_call(call, entry_point):
            continue
        names = [keyword.arg for keyword in tree.keywords]
        if tree.keywords and not tree.args and sorted(map(str, names)) == sorted(parameters):
            # Positional, in the signature's order: a solution may rename its parameters.
            values = {
                keyword.arg: ast.get_source_segment(call, keyword.value)
                for keyword in tree.keywords
            }
            return f"{entry_point}({', '.join(str(values[name]) for name in parameters)})"
        if tree.args and not tree.keywords and len(tree.args) == len(parameters):
            return call
    return None


def _parameters(prompt: str, entry_point: str) -> list[str]:
    """The entry point's parameter names, from the prompt's `def` line."""
    match = re.search(
        rf"^\s*def\s+{re.escape(entry_point)}\s*\((.*?)\)\s*(?:->[^:]*)?:",
        prompt,
        re.MULTILINE | re.DOTALL,
    )
    if match is None:
        return []
    try:
        tree = ast.parse(f"def f({match.group(1)}): pass")
    except SyntaxError:
        return []
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    return [argument.arg for argument in function.args.args]


def _split_comparison(text: str) -> tuple[str, str] | None:
    """("f(x)", "y") for the text `f(x) == y`; None for anything else."""
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], ast.Eq):
        left = ast.get_source_segment(text, tree.left) or ""
        return left, ast.get_source_segment(text, tree.comparators[0]) or ""
    return None


def _add(examples: list[Example], seen: set[str], call: str, expected: str) -> None:
    if call not in seen:
        seen.add(call)
        examples.append(Example(call, expected))


_VALUE_NODES = (
    ast.Expression,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Dict,
    ast.Load,
    ast.UnaryOp,
    ast.BinOp,
    ast.USub,
    ast.UAdd,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
)


_EXAMPLE_BUILTINS = frozenset(
    {
        "round",
        "sorted",
        "abs",
        "len",
        "list",
        "set",
        "tuple",
        "str",
        "int",
        "float",
        "sum",
        "min",
        "max",
        "bool",
    }
)


def _is_value(text: str, callables: frozenset[str] = frozenset()) -> bool:
    """Literals and arithmetic on them, plus calls of `callables`: no free names, so no prose
    and no recurrences such as `f(n - 1)`."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, _VALUE_NODES):
            continue
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in callables
        ):
            continue
        if isinstance(node, ast.Name) and node.id in callables:
            continue
        if isinstance(node, ast.keyword):
            continue
        return False
    return True


def _is_example_call(call: str, entry_point: str) -> bool:
    """A call of the entry point on literal arguments, maybe wrapped (`round(f(2.5), 2)`)."""
    if not _is_value(call, _EXAMPLE_BUILTINS | {entry_point}):
        return False
    tree = ast.parse(call.strip(), mode="eval")
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == entry_point
        for node in ast.walk(tree)
    )


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return False
    return True


def _balanced_call(line: str, start: int) -> str | None:
    depth = 0
    quote: str | None = None
    for position in range(start, len(line)):
        character = line[position]
        if quote:
            if character == quote and line[position - 1] != "\\":
                quote = None
            continue
        if character in "\"'":
            quote = character
        elif character in "([{":
            depth += 1
        elif character in ")]}":
            depth -= 1
            if depth == 0:
                call = line[start : position + 1]
                return call if _is_expression(call) else None
    return None


def _leading_expression(text: str) -> str | None:
    """The longest start of `text` that is a Python expression ("8" of "8 (because...)")."""
    text = text.strip().rstrip(".;")
    words = text.split(" ")
    for end in range(len(words), 0, -1):
        candidate = " ".join(words[:end]).strip().rstrip(".,;")
        # Prose written with another language's literals: "=> true".
        candidate = _PROSE_LITERALS.get(candidate, candidate)
        if candidate and _is_value(candidate):
            return candidate
    return None


_PROSE_LITERALS = {"true": "True", "false": "False", "null": "None", "none": "None"}


def examples_check_code(examples: list[Example]) -> str:
    """Python that runs each example and prints a JSON list of the ones that fail."""
    pairs = [(example.call, example.expected) for example in examples]
    return f'''\
def __autocoder_examples(pairs):
    import json, math
    def same(got, want):
        if got == want:
            return True
        if isinstance(got, (int, float)) and isinstance(want, (int, float)):
            return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
        sequences = (list, tuple)
        if isinstance(got, sequences) and isinstance(want, sequences) and len(got) == len(want):
            return all(same(a, b) for a, b in zip(got, want))
        return False
    failures = []
    for call, expected in pairs:
        try:
            want = eval(expected, globals())
        except Exception:
            continue  # not a value this prompt states in Python
        try:
            got = eval(call, globals())
        except Exception as error:
            failures.append(f"{{call}} raised {{type(error).__name__}}: {{error}}")
            continue
        if not same(got, want):
            failures.append(f"{{call}} returned {{got!r}}, but the task says {{expected}}")
    print("{_MARKER}" + json.dumps(failures))
try:
    __autocoder_examples({pairs!r})
finally:
    del __autocoder_examples
'''


_MARKER = "__AUTOCODER_EXAMPLES__"

RECHECK_REQUEST = (
    "Your code ran without errors. Check it once more against the task's description. "
    "Reply with the complete function in a ```python block: corrected if you find a "
    "mistake, otherwise unchanged."
)


class ExampleVerifier:
    """Accepts code once the prompt's examples hold; without examples, after a second look
    (a re-check round), or with `self_test`, once the model's own test of it has run
    cleanly (`self_test.py`).

    It returns a `Verdict`: accepted, feedback listing the failed examples, or (no examples)
    a re-check: the second look or the request for a self-test. It remembers how many
    examples each attempt failed (`failed_examples`), and without examples which attempts
    ran cleanly, so that a loop that never got everything right can still return its best
    attempt (`best_attempt`).
    """

    def __init__(
        self,
        task: Task,
        timeout: float | None = 10.0,
        max_rounds: int = 3,
        self_test: bool = False,
    ):
        self.task = task
        self.self_test = self_test
        self.timeout = timeout
        self.max_rounds = max_rounds
        self.failed_examples: dict[str, int] = {}  # attempt_key(code) -> examples it failed
        self.asked_for_self_test = False
        self._rechecked = False
        self._clean_attempts: list[str] = []  # attempt keys, in round order

    def __call__(
        self, code: str, result: ExecutionResult, executor: Executor, round_number: int
    ) -> Verdict:
        if not self.task.examples:
            # Called after clean runs only: the last of them is the fallback answer.
            self._clean_attempts.append(attempt_key(code))
            if self._rechecked or round_number >= self.max_rounds:
                return ACCEPTED
            self._rechecked = True
            if not self.self_test:
                return Verdict(RECHECK_REQUEST, recheck=True)
            self.asked_for_self_test = True
            # A re-check: the same code again (no test written) is accepted as it ran.
            return Verdict(self_test_request(self.task.entry_point or "the function"), recheck=True)
        key = attempt_key(code)
        everything = len(self.task.examples)
        check = executor.run(examples_check_code(self.task.examples), timeout=self.timeout)
        if check.timed_out:
            self.failed_examples[key] = everything
            return Verdict(
                "Running the task's examples did not finish in time: "
                "the function is too slow or never returns."
            )
        if check.error is not None:
            self.failed_examples[key] = everything
            return Verdict(
                f"Running the task's examples failed: {check.error.ename}: {check.error.evalue}"
            )
        failures = _failures(check.stdout)
        if failures is None:
            self.failed_examples[key] = everything
            return Verdict(
                "Running the task's examples printed nothing readable; was the function redefined?"
            )
        self.failed_examples[key] = len(failures)
        if not failures:
            return ACCEPTED
        listed = "\n".join(f"- {failure}" for failure in failures[:8])
        return Verdict(
            f"Your code runs, but these examples from the task fail:\n{listed}\n"
            "Find the mistake: say in one sentence what the code does wrong for these inputs, "
            "then reply with the complete corrected function."
        )

    def best_attempt(self, attempts: list[str]) -> str | None:
        """Of `attempts` (in round order), the first that failed the fewest examples; for a
        task without examples, the last that ran cleanly."""
        if not self.task.examples:
            clean = [
                code for code in attempts if code and attempt_key(code) in self._clean_attempts
            ]
            return clean[-1] if clean else None
        scored = [
            (self.failed_examples[attempt_key(code)], index)
            for index, code in enumerate(attempts)
            if code and attempt_key(code) in self.failed_examples
        ]
        return attempts[min(scored)[1]] if scored else None

    def answer(self, code: str) -> str:
        """The answer to score from the loop's `code`: without the self-test it was asked
        to add (the assertions are the loop's tool, not part of the answer)."""
        if not self.asked_for_self_test or not self.task.entry_point:
            return code
        return without_self_test(code, self.task.entry_point)


def _failures(stdout: str) -> list[str] | None:
    for line in reversed(clean_stream(stdout).splitlines()):
        if line.startswith(_MARKER):
            try:
                return list(json.loads(line[len(_MARKER) :]))
            except json.JSONDecodeError:
                return None
    return None
