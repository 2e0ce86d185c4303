"""Measuring the agent loop on coding tasks: pass@1 of the first answer and of the loop.

It drives the loop (`agent/`) from outside; nothing in the loop imports it.

- `tasks.py`: the `Task` type and one loader per task format, by name (`load_tasks`).
- `examples.py`: the examples a prompt states, and `ExampleVerifier`, the loop's only
  feedback about what the code computes.
- `self_test.py`: `--self-test`, without examples: the model's own test of its function,
  asked after a clean run and left out of the scored answer.
- `scoring.py`: the hidden test, in a fresh Python process, after the session.
- `notebook.py`: notebook-state tasks, carried out by `%%autocoder` in a real kernel and
  scored there by their hidden test.
- `run.py`: `evaluate(...)` over tasks, `evaluate_task(...)` for one; where the hidden tests
  are kept from the model.
- `data/`: the task sets shipped with the package (BigCodeBench's data-science subset, the
  notebook tasks); `data/README.md` names their sources and licences.
"""

from .examples import Example, ExampleVerifier, examples_check_code, extract_examples
from .run import EvalOptions, check_reference, evaluate, evaluate_task, task_request
from .scoring import score, scoring_program
from .tasks import (
    TASK_FORMATS,
    Task,
    TaskFormat,
    detect_format,
    get_task_format,
    load_bigcodebench,
    load_humaneval,
    load_notebook_tasks,
    load_task_file,
    load_tasks,
)

__all__ = [
    "TASK_FORMATS",
    "EvalOptions",
    "Example",
    "ExampleVerifier",
    "Task",
    "TaskFormat",
    "check_reference",
    "detect_format",
    "evaluate",
    "evaluate_task",
    "examples_check_code",
    "extract_examples",
    "get_task_format",
    "load_bigcodebench",
    "load_humaneval",
    "load_notebook_tasks",
    "load_task_file",
    "load_tasks",
    "score",
    "scoring_program",
    "task_request",
]
