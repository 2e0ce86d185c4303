"""`executors/values.py` as code to send to a kernel: for the panel, whose notebook's kernel
may run in an environment without jupyter_autocoder (or with another version of it).

The kernel is sent the module's own source once (`load_code`): it becomes a module of
`sys.modules` under a name that carries a digest of the source, so a kernel that still
holds an older copy loads the new one beside it, and nothing is bound in the user's
namespace. Each request is then a short call (`call_template`), which prints the context
as JSON, or `{"missing": true}` when the kernel does not have the module (a new or
restarted kernel): the caller then sends `load_code` first.

    GET /autocoder/api/kernel-context  ->  {"module", "load", "call", "budget"}

The server gives these to the panel; the panel substitutes its options into `call`
(`OPTIONS_PLACEHOLDER`, a JSON object written as a Python string literal) and runs it
silently in the kernel (labextension/src/agent/variables.ts). `collect(run, options)` does
the same from Python, for an executor that can run code silently (`KernelExecutor`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ExecutorError
from . import values
from .base import ExecutionResult

OPTIONS_PLACEHOLDER = "__AUTOCODER_OPTIONS__"
MISSING = {"missing": True}


@lru_cache(maxsize=1)
def values_source() -> str:
    """The source of `executors/values.py`, as this package has it."""
    return Path(values.__file__).read_text("utf-8")


def module_name() -> str:
    """The kernel's name for the module: changes when its source changes."""
    digest = hashlib.sha256(values_source().encode("utf-8")).hexdigest()[:12]
    return f"_autocoder_values_{digest}"


def load_code() -> str:
    """Code that makes the module in the kernel (under `module_name()`) and binds nothing
    in the user's namespace."""
    name = module_name()
    loader = (
        "import sys, types\n"
        f"module = types.ModuleType({name!r})\n"
        f"exec(compile({values_source()!r}, '<jupyter-autocoder values>', 'exec'), "
        "module.__dict__)\n"
        f"sys.modules[{name!r}] = module\n"
    )
    return f"exec({loader!r}, {{}})\n"


def call_template() -> str:
    """Code that prints `values.kernel_context_json` of the user's namespace as one line of
    JSON, with `OPTIONS_PLACEHOLDER` where a Python string literal of the JSON options goes."""
    name = module_name()
    return (
        "print((lambda module: module.kernel_context_json(globals(), "
        f"{OPTIONS_PLACEHOLDER}) if module is not None else {json.dumps(json.dumps(MISSING))})"
        f"(__import__('sys').modules.get({name!r})))\n"
    )


def call_code(options: dict[str, Any]) -> str:
    """`call_template()` with `options` (`budget`, `details`) filled in, as the panel does."""
    return call_template().replace(OPTIONS_PLACEHOLDER, json.dumps(json.dumps(options)))


def collect(run: Callable[[str], ExecutionResult], options: dict[str, Any]) -> dict[str, Any]:
    """The context of a kernel's namespace (`values.kernel_context`) through `run(code)`, a
    silent execution there: the module is sent first when the kernel lacks it. Raises
    ExecutorError when the kernel does not answer with the context."""
    answer = _printed_json(run(call_code(options)))
    if answer == MISSING:
        loaded = run(load_code())
        if not loaded.ok:
            raise ExecutorError(f"the kernel could not load the context code ({_problem(loaded)})")
        answer = _printed_json(run(call_code(options)))
    if not isinstance(answer, dict) or answer == MISSING:
        raise ExecutorError("the kernel did not answer with its variables")
    return answer


def _printed_json(result: ExecutionResult) -> Any:
    lines = result.stdout.strip().splitlines()
    if not result.ok or not lines:
        raise ExecutorError(f"asking the kernel for its variables failed ({_problem(result)})")
    try:
        return json.loads(lines[-1])
    except ValueError as error:
        raise ExecutorError(f"the kernel answered {lines[-1][:200]!r}") from error


def _problem(result: ExecutionResult) -> str:
    error = result.error
    return f"{error.ename}: {error.evalue}" if error else result.status


def describe() -> dict[str, str]:
    """What the panel is given: the module's name, its load code and the call template."""
    return {"module": module_name(), "load": load_code(), "call": call_template()}
