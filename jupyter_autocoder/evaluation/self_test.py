"""The model's own test, for a task whose prompt states no examples to check against.

A function that only got defined ran "without errors" and proved nothing: BigCodeBench's
tasks state types, shapes, titles and values in prose, and the loop had no error to work
from. So after the first clean run the model is asked to call its function on an input it
makes up and to assert what the task states (AutoCoder's execution-verified loop writes
its own test cases too); a failed assertion is an error the loop can correct.

The test is the loop's tool, not part of the answer: `without_self_test` takes it out
again before the answer is scored, so that a wrong assertion cannot fail a right
function, and nothing of it runs beside the hidden tests.

It is opt-in (`eval --self-test`): a 1.5B model's tests invent requirements and cost twice
the tokens without fixing a task (README, "Measuring the loop"); a larger model may do
better.
"""

from __future__ import annotations

import ast

SELF_TEST_REQUEST = (
    "Your code ran without errors, but that does not show that it does what the task asks. "
    "Test it: reply with the complete code again, and after it a short test (three to five "
    "`assert` lines) that calls `{entry_point}` on a small input you make up and checks what "
    "the task states: the type and shape of what it returns, column names, a plot's title "
    "and labels, values you can work out by hand. Keep the signature and defaults the task "
    "gives; show no plots. If an assertion fails, fix the function, not the assertion, "
    "unless the assertion is what is wrong."
)


def self_test_request(entry_point: str) -> str:
    """What the model is asked after its first clean run of a task without examples."""
    return SELF_TEST_REQUEST.format(entry_point=entry_point)


def without_self_test(code: str, entry_point: str) -> str:
    """`code` less the test a self-test round added: top-level assertions, statements that
    call `entry_point` or a `test...` function, `test...` functions themselves, and
    statements that use what those left (`print(result)` after `result = task_func(3)`).
    Definitions, imports and constants stay. Code that does not parse is returned as it is.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.splitlines(keepends=True)
    dropped: set[int] = set()
    test_names: set[str] = set()  # what the test's statements bound
    for node in tree.body:
        if not _is_test(node, entry_point, test_names):
            continue
        test_names |= _bound_names(node)
        start = node.lineno - 1
        if getattr(node, "decorator_list", None):
            start = min(decorator.lineno for decorator in node.decorator_list) - 1
        dropped.update(range(start, node.end_lineno or node.lineno))
    if not dropped:
        return code
    kept = "".join(line for index, line in enumerate(lines) if index not in dropped)
    return kept.rstrip() + "\n"


def _is_test(node: ast.stmt, entry_point: str, test_names: set[str]) -> bool:
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef)):
        return False
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name.startswith("test")
    for inner in ast.walk(node):
        if isinstance(inner, ast.Assert):
            return True
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
            if inner.id in test_names:
                return True
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name):
            name = inner.func.id
            if name == entry_point or name.startswith("test"):
                return True
    return False


def _bound_names(node: ast.stmt) -> set[str]:
    return {
        inner.id
        for inner in ast.walk(node)
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store)
    }
