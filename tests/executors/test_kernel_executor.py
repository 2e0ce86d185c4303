"""KernelExecutor on real kernels: outputs, timeouts that interrupt, death and restart, attach."""

from __future__ import annotations

import time

import pytest
from jupyter_client.manager import KernelManager

from jupyter_autocoder.agent.feedback import strip_ansi
from jupyter_autocoder.errors import KernelDiedError
from jupyter_autocoder.executors import (
    DisplayOutput,
    ErrorOutput,
    ExecutionResult,
    KernelExecutor,
)


def test_outputs_arrive_typed(kernel):
    result = kernel.run(
        "from IPython.display import display, HTML\n"
        "import sys\n"
        "print('to stdout')\n"
        "print('to stderr', file=sys.stderr)\n"
        "display(HTML('<b>bold</b>'))\n"
        "6 * 7"
    )
    assert result.ok and result.status == "ok" and not result.timed_out
    assert result.stdout == "to stdout\n"
    assert result.stderr == "to stderr\n"
    html = [
        o
        for o in result.outputs
        if isinstance(o, DisplayOutput) and o.output_type == "display_data"
    ]
    assert html and html[0].data["text/html"] == "<b>bold</b>"
    value = [
        o
        for o in result.outputs
        if isinstance(o, DisplayOutput) and o.output_type == "execute_result"
    ]
    assert value[0].data["text/plain"] == "42"
    assert result.execution_count is not None
    # The JSON form round-trips (the panel's browser executor sends this shape back).
    again = ExecutionResult.from_dict(result.to_dict())
    assert again.stdout == result.stdout and again.displays[0].data == html[0].data


def test_error_has_name_value_and_traceback(kernel):
    result = kernel.run("def f():\n    return 1 / 0\nf()")
    assert not result.ok and result.status == "error"
    error = result.error
    assert isinstance(error, ErrorOutput)
    assert error.ename == "ZeroDivisionError" and error.evalue == "division by zero"
    assert any("return 1 / 0" in strip_ansi(line) for line in error.traceback)


def test_timeout_interrupts_and_earlier_state_survives(kernel):
    kernel.run("before = 'kept'")
    started = time.perf_counter()
    result = kernel.run("partial = 1\nwhile True:\n    partial += 1", timeout=1.0)
    assert time.perf_counter() - started < 8
    assert result.timed_out and result.status == "timeout"
    assert result.error.ename == "KeyboardInterrupt"
    # Interrupted, not restarted: both the old state and what the cell did before it survive.
    after = kernel.run("print(before, partial > 1)")
    assert after.ok and after.stdout == "kept True\n"


def test_defined_names_and_existing_files(kernel, tmp_path):
    (tmp_path / "there.csv").write_text("a\n1\n")
    kernel.run(f"import os\nos.chdir({str(tmp_path)!r})\nalpha = 1\ndef beta(): pass")
    assert kernel.defined_names(["alpha", "beta", "gamma", "not valid!"]) == {"alpha", "beta"}
    assert kernel.existing_files(["there.csv", "missing.csv"]) == {"there.csv"}


def test_endless_output_is_bounded(kernel):
    result = kernel.run("for i in range(3000):\n    print('line', i, 'x' * 100)")
    assert result.ok
    text = result.stdout
    assert len(text) < 250_000
    assert text.startswith("line 0 x") and text.rstrip().endswith("line 2999 " + "x" * 100)
    assert "characters cut" in text


def test_kernel_death_is_a_clear_error_and_restart_works():
    executor = KernelExecutor()
    try:
        executor.run("survivor = 1")
        with pytest.raises(KernelDiedError) as died:
            executor.run("import os\nos._exit(3)")
        assert "kernel died" in str(died.value) and "restart()" in str(died.value)
        assert died.value.exit_code == 3
        # Still dead until restarted: the same clear error, no hang.
        with pytest.raises(KernelDiedError):
            executor.run("1 + 1")
        executor.restart()
        result = executor.run("print(1 + 1)\n'survivor' in globals()")
        assert result.ok and result.stdout == "2\n"
        assert result.displays[0].data["text/plain"] == "False"  # a fresh kernel: state is gone
    finally:
        executor.close()


def test_attach_to_a_running_kernel_and_interrupt_it():
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel()
    try:
        executor = KernelExecutor.attach(manager.connection_file)
        executor.run("shared = 'from the owner'")
        result = executor.run("import time\ntime.sleep(60)", timeout=1.0)
        assert result.timed_out and result.error.ename == "KeyboardInterrupt"
        assert executor.run("print(shared)").stdout == "from the owner\n"
        with pytest.raises(Exception, match="cannot restart"):
            executor.restart()
        executor.close()
        assert manager.is_alive()  # closing an attached executor leaves the kernel running
    finally:
        manager.shutdown_kernel(now=True)


def test_install_refuses_what_looks_like_an_option(kernel):
    with pytest.raises(ValueError):
        kernel.install(["--index-url=https://example.invalid/simple"])
    with pytest.raises(ValueError):
        kernel.install([])
