"""ShellExecutor on a real IPython InteractiveShell, and inside a real kernel."""

from __future__ import annotations

import json
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_autocoder.executors import DisplayOutput, ShellExecutor


@pytest.fixture(scope="module")
def shell():
    return InteractiveShell.instance()


@pytest.fixture
def executor(shell):
    shell.user_ns.pop("user_state", None)
    return ShellExecutor(shell)


def test_runs_in_the_shell_namespace_and_still_shows_output(shell, executor, capsys):
    shell.user_ns["user_state"] = 20
    result = executor.run("doubled = user_state * 2\nprint('doubled is', doubled)\ndoubled + 2")
    assert result.ok
    assert shell.user_ns["doubled"] == 40  # the user's own namespace
    assert result.stdout == "doubled is 40\n"
    value = result.displays[-1]
    assert value.output_type == "execute_result" and value.data["text/plain"] == "42"
    shown = capsys.readouterr().out
    assert "doubled is 40" in shown and "42" in shown  # captured *and* displayed
    assert shown.count("doubled is 40") == 1  # displayed once, not twice


def test_rich_display_is_captured_with_its_mime_bundle(executor):
    result = executor.run(
        "from IPython.display import display, HTML\ndisplay(HTML('<i>rich</i>'), metadata={'k': 1})"
    )
    assert result.ok
    [output] = [o for o in result.outputs if isinstance(o, DisplayOutput)]
    assert output.output_type == "display_data"
    assert output.data["text/html"] == "<i>rich</i>"
    assert result.stdout == ""  # the terminal publisher's own print is not recorded as a stream


def test_errors_and_syntax_errors(executor):
    result = executor.run("{}['missing']")
    assert result.status == "error" and result.error.ename == "KeyError"
    assert result.error.traceback
    broken = executor.run("def broken(:\n    pass")
    assert broken.status == "error" and broken.error.ename == "SyntaxError"


def test_timeout_interrupts_the_main_thread_and_the_namespace_survives(shell, executor):
    executor.run("user_state = 'before'")
    started = time.perf_counter()
    result = executor.run("progress = 0\nwhile True:\n    progress += 1", timeout=0.5)
    assert time.perf_counter() - started < 5
    assert result.timed_out and result.status == "timeout"
    assert result.error.ename == "KeyboardInterrupt"
    assert shell.user_ns["user_state"] == "before" and shell.user_ns["progress"] > 0
    # The shell is usable afterwards, and a late interrupt does not leak into the next run.
    for _ in range(5):
        quick = executor.run("import time\ntime.sleep(0.05)\nafter = True", timeout=0.05)
        assert quick.status in ("ok", "timeout")
    assert executor.run("print('still here')").stdout == "still here\n"


def test_defined_names_and_files(shell, executor, tmp_path):
    executor.run("defined_here = 1")
    assert executor.defined_names(["defined_here", "nowhere"]) == {"defined_here"}
    present = tmp_path / "made.txt"
    present.write_text("x")
    assert executor.existing_files([str(present), str(tmp_path / "no.txt")]) == {str(present)}


INNER = r"""
import json
from jupyter_autocoder.executors import ShellExecutor
inner = ShellExecutor(get_ipython())
first = inner.run(
    "from IPython.display import display, Markdown\nprint('inner print')\n"
    "display(Markdown('**inner**'))\nkept = 5"
)
stuck = inner.run("import time\ntime.sleep(30)", timeout=0.5)
summary = {
    "first_ok": first.ok,
    "first_stdout": first.stdout,
    "first_mimes": [sorted(o.data) for o in first.displays],
    "stuck_status": stuck.status,
    "kept": kept,
}
print("SUMMARY" + json.dumps(summary))
"""


def test_inside_a_real_kernel_outputs_reach_the_user_and_the_agent(module_kernel):
    started = time.perf_counter()
    outer = module_kernel.run(INNER, timeout=30)
    assert time.perf_counter() - started < 15
    assert outer.ok, outer.error
    # What the user's notebook received from the inner run: the print and the Markdown.
    assert "inner print\n" in outer.stdout
    assert any(o.data.get("text/markdown") == "**inner**" for o in outer.displays)
    summary_line = next(line for line in outer.stdout.splitlines() if line.startswith("SUMMARY"))
    summary = json.loads(summary_line[len("SUMMARY") :])
    # What the agent captured from the same run.
    assert summary["first_ok"] and summary["first_stdout"] == "inner print\n"
    assert ["text/markdown", "text/plain"] in summary["first_mimes"]
    assert summary["stuck_status"] == "timeout" and summary["kept"] == 5
