"""An executor inside the running kernel, through the current IPython InteractiveShell.

It is what `%%autocoder` uses: the code runs in the user's own namespace, its outputs are
shown in the cell as usual *and* captured for the agent. A timeout interrupts the main
thread (as the kernel's stop button does); the namespace survives.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
import traceback as traceback_module
from collections.abc import Iterable
from typing import Any

from ..errors import ExecutorError
from .base import (
    ERROR,
    INTERRUPTED,
    OK,
    TIMEOUT,
    ExecutionResult,
    Executor,
    OutputCollector,
    installed_versions_expression,
    valid_identifiers,
)


class ShellExecutor(Executor):
    """Run code with `shell.run_cell` on the shell's (main) thread.

    `shell` defaults to the running IPython (`get_ipython()`). Timeouts need the main
    thread (where a kernel runs cells); elsewhere the code runs without one.
    """

    def __init__(
        self,
        shell: Any = None,
        *,
        store_history: bool = False,
        interrupt_grace: float = 2.0,
        hold_errors: bool = False,
    ):
        if shell is None:
            from IPython import get_ipython

            shell = get_ipython()
            if shell is None:
                raise ExecutorError(
                    "ShellExecutor needs a running IPython shell (a kernel or the IPython terminal)"
                )
        self.shell = shell
        self.store_history = store_history
        self.interrupt_grace = interrupt_grace
        # In a kernel, a traceback is an `error` output of the cell that runs the magic; the
        # magic holds it back (a failed round is not the cell's failure) and shows the last
        # one with `show_held_error` when its turn ends in failure.
        self.hold_errors = hold_errors
        self.held_error: tuple[Any, ...] | None = None
        self._lock = threading.Lock()
        self._running = False
        self._running_on_main_thread = False
        self._timer_fired = False

    def run(self, code: str, timeout: float | None = None) -> ExecutionResult:
        collector = OutputCollector()
        on_main_thread = threading.current_thread() is threading.main_thread()
        stop_timer = threading.Event()
        with self._lock:
            self._running = True
            self._running_on_main_thread = on_main_thread
            self._timer_fired = False
        capture = _Capture(self.shell, collector).install()
        self.held_error = None
        held = _HeldTracebacks(self).install() if self.hold_errors else None
        # The C-level default handler raises KeyboardInterrupt without a frame of ours in
        # the user's traceback (ipykernel sets the same one while a cell runs).
        previous_handler = (
            signal.signal(signal.SIGINT, signal.default_int_handler) if on_main_thread else None
        )
        timer = None
        if timeout and on_main_thread:
            timer = threading.Thread(target=self._watch, args=(timeout, stop_timer), daemon=True)
            timer.start()
        started = time.perf_counter()
        duration = 0.0
        outcome = None
        escaped_interrupt = False
        try:
            try:
                outcome = self.shell.run_cell(code, store_history=self.store_history, silent=False)
            finally:
                duration = time.perf_counter() - started
                self._stop_watching(stop_timer, timer)
            observed = outcome is not None and isinstance(outcome.error_in_exec, KeyboardInterrupt)
            if self._timer_fired and not observed:
                # An interrupt of ours may still be on its way after the code ended: take it here.
                time.sleep(0.01)
        except KeyboardInterrupt:
            # It landed in IPython's machinery or in this bookkeeping rather than in the code.
            self._stop_watching(stop_timer, timer)
            escaped_interrupt = outcome is None
        finally:
            capture.restore()
            if held is not None:
                held.restore()
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        return self._result(outcome, collector, duration, escaped_interrupt)

    def _stop_watching(self, stop_timer: threading.Event, timer: threading.Thread | None) -> None:
        with self._lock:
            self._running = False
        stop_timer.set()
        if timer is not None:
            timer.join()

    def _result(
        self, outcome: Any, collector: OutputCollector, duration: float, escaped_interrupt: bool
    ) -> ExecutionResult:
        timed_out = self._timer_fired
        error = None
        if outcome is not None:
            error = outcome.error_before_exec or outcome.error_in_exec
            if outcome.result is not None:
                data, metadata = self.shell.display_formatter.format(outcome.result)
                collector.display(data, metadata, execute_result=True)
        if error is not None:
            collector.error(type(error).__name__, str(error), self._traceback(error))
        elif escaped_interrupt:
            collector.error("KeyboardInterrupt", "", [])
        interrupted = escaped_interrupt or isinstance(error, KeyboardInterrupt)
        if timed_out and interrupted:
            status = TIMEOUT
        elif interrupted:
            status = INTERRUPTED
        elif error is not None:
            status = ERROR
        else:
            status = OK
        execution_count = getattr(self.shell, "execution_count", None)
        return ExecutionResult(
            collector.outputs, duration, timed_out and interrupted, status, execution_count
        )

    def _traceback(self, error: BaseException) -> list[str]:
        if isinstance(error, SyntaxError):
            return traceback_module.format_exception_only(type(error), error)
        try:
            return list(
                self.shell.InteractiveTB.structured_traceback(
                    type(error), error, error.__traceback__
                )
            )
        except Exception:  # a traceback formatter failing must not hide the error itself
            return traceback_module.format_exception(type(error), error, error.__traceback__)

    def _watch(self, timeout: float, stop: threading.Event) -> None:
        if stop.wait(timeout):
            return
        # Code that swallows KeyboardInterrupt gets a few more.
        for _ in range(3):
            with self._lock:
                if not self._running:
                    return
                self._timer_fired = True
                _interrupt_main_thread()
            if stop.wait(self.interrupt_grace):
                return

    def interrupt(self) -> None:
        # Only code running on the main thread can be interrupted (a signal goes there).
        with self._lock:
            if self._running and self._running_on_main_thread:
                _interrupt_main_thread()

    def show_held_error(self) -> bool:
        """Show the traceback held back from the last run as the shell shows one (in a kernel,
        an `error` output of the current cell); False when the last run had none."""
        if self.held_error is None:
            return False
        self.shell._showtraceback(*self.held_error)
        return True

    def defined_names(self, names: Iterable[str]) -> set[str]:
        namespace = self.shell.user_ns
        return {name for name in valid_identifiers(names) if name in namespace}

    def existing_files(self, paths: Iterable[str]) -> set[str]:
        return {str(path) for path in paths if os.path.exists(str(path))}

    def kernel_context(self, budget: int = 3000, details: Iterable[str] = ()) -> dict[str, Any]:
        from .values import kernel_context

        hidden = getattr(self.shell, "user_ns_hidden", None)
        return kernel_context(self.shell.user_ns, hidden, budget=budget, details=details)

    def installed_versions(self, distributions: Iterable[str]) -> dict[str, str]:
        # The shell is the kernel's own process: its environment is the one code runs in.
        return eval(installed_versions_expression(distributions), {})

    def user_names(self) -> list[str]:
        from .values import user_names

        return user_names(self.shell.user_ns, getattr(self.shell, "user_ns_hidden", None))

    def describe_figures(self) -> bool:
        from .figures import describe_figures

        return describe_figures(self.shell)

    def describe_names(self, names: Iterable[str]) -> dict[str, str]:
        from .values import describe_names

        return describe_names(self.shell.user_ns, valid_identifiers(names))

    def guard(self, action: str, arguments: dict[str, Any] | None = None) -> Any:
        from .guard import call

        return call(self.shell, action, arguments)


def _interrupt_main_thread() -> None:
    """KeyboardInterrupt in the main thread, even inside a blocking call such as time.sleep.

    `_thread.interrupt_main()` only simulates the signal, which a blocking system call never
    notices; a real SIGINT aimed at the main thread interrupts it.
    """
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
    else:
        _thread.interrupt_main()


class _HeldTracebacks:
    """Keeps the shell from showing a run's traceback; the executor holds it instead.

    IPython formats a traceback in `showtraceback` and hands it to `_showtraceback` to show
    (ipykernel's sends the `error` message): replacing only that step keeps IPython's own
    formatting, so the held traceback is the one the kernel would have shown."""

    def __init__(self, executor: ShellExecutor):
        self.executor = executor
        self._saved: Any = None

    def install(self) -> _HeldTracebacks:
        shell = self.executor.shell
        self._saved = vars(shell).get("_showtraceback")

        def hold(etype: Any, evalue: Any, stb: Any) -> None:
            self.executor.held_error = (etype, evalue, stb)

        shell._showtraceback = hold
        return self

    def restore(self) -> None:
        shell = self.executor.shell
        if self._saved is None:
            vars(shell).pop("_showtraceback", None)
        else:
            shell._showtraceback = self._saved


class _Capture:
    """Tee stdout/stderr and rich display into a collector while still showing them."""

    def __init__(self, shell: Any, collector: OutputCollector):
        self.shell = shell
        self.collector = collector
        self.muted = False  # while IPython's own publisher prints, don't record it twice
        self._saved: dict[str, Any] = {}

    def install(self) -> _Capture:
        from IPython.core.displaypub import DisplayPublisher

        capture = self

        class TeeDisplayPublisher(DisplayPublisher):
            def publish(self, *args: Any, **kwargs: Any) -> None:
                # Forwarded exactly as called: publishers differ in their signatures
                # (ipykernel's has no `source`).
                data = kwargs["data"] if "data" in kwargs else args[0]
                metadata = kwargs.get("metadata", args[1] if len(args) > 1 else None)
                capture.collector.display(data, metadata)
                capture.muted = True
                try:
                    capture._saved["display_pub"].publish(*args, **kwargs)
                finally:
                    capture.muted = False

            def clear_output(self, wait=False):  # type: ignore[no-untyped-def]
                capture.collector.clear(wait)
                capture._saved["display_pub"].clear_output(wait)

            def __getattr__(self, name: str) -> Any:  # e.g. ipykernel's session, pub_socket
                return getattr(capture._saved["display_pub"], name)

        shell = self.shell
        self._saved = {
            "stdout": sys.stdout,
            "stderr": sys.stderr,
            "display_pub": shell.display_pub,
            "displayhook": sys.displayhook,
            "trap_hook": getattr(getattr(shell, "display_trap", None), "hook", None),
        }
        sys.stdout = _Tee(sys.stdout, "stdout", self)
        sys.stderr = _Tee(sys.stderr, "stderr", self)
        shell.display_pub = TeeDisplayPublisher(shell=shell)
        # The cell's value is shown by the display hook; it is recorded from run_cell's result.
        original_hook = shell.displayhook

        def muted_hook(value: Any) -> Any:
            self.muted = True
            try:
                return original_hook(value)
            finally:
                self.muted = False

        sys.displayhook = muted_hook
        if self._saved["trap_hook"] is not None:
            shell.display_trap.hook = muted_hook
        return self

    def restore(self) -> None:
        sys.stdout = self._saved["stdout"]
        sys.stderr = self._saved["stderr"]
        self.shell.display_pub = self._saved["display_pub"]
        sys.displayhook = self._saved["displayhook"]
        if self._saved["trap_hook"] is not None:
            self.shell.display_trap.hook = self._saved["trap_hook"]


class _Tee:
    """A text stream that writes through to the original and records what it saw."""

    def __init__(self, original: Any, name: str, capture: _Capture):
        self._original = original
        self._name = name
        self._capture = capture

    def write(self, text: str) -> int:
        if not self._capture.muted and isinstance(text, str):
            self._capture.collector.stream(self._name, text)
        return self._original.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)
