"""An executor over a Jupyter kernel through jupyter_client: headless use, evaluation, tests.

It starts its own kernel, or attaches to a running one through its connection file. A cell
that runs past its timeout is *interrupted*, never restarted, so the variables defined
before it survive. A kernel that dies is reported as `KernelDiedError`; `restart()` starts
a fresh one.
"""

from __future__ import annotations

import ast
import logging
import os
import queue
import time
from collections.abc import Iterable, Mapping
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from ..errors import ExecutorError, KernelDiedError, KernelUnresponsiveError
from .base import (
    ERROR,
    INTERRUPTED,
    OK,
    TIMEOUT,
    ErrorOutput,
    ExecutionResult,
    Executor,
    OutputCollector,
    installed_versions_expression,
    valid_identifiers,
)
from .figures import DESCRIBE_FIGURES_EXPRESSION

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.1
_ALIVE_CHECK_SECONDS = 0.5
_ATTACHED_DEATH_SECONDS = 5.0


class KernelExecutor(Executor):
    """Run code in a Jupyter kernel.

    `KernelExecutor()` starts its own kernel on first use (or at `start()`);
    `KernelExecutor(connection_file=...)` attaches to a running one (it can then be
    interrupted through the control channel, but not restarted).
    """

    def __init__(
        self,
        kernel_name: str = "python3",
        *,
        connection_file: str | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
        interrupt_grace: float = 5.0,
    ):
        self.kernel_name = kernel_name
        self.connection_file = connection_file
        self.cwd = cwd
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.interrupt_grace = interrupt_grace
        self.manager: KernelManager | None = None
        self.client: BlockingKernelClient | None = None
        self._dead_message: str | None = None
        self._running_msg_id: str | None = None
        self._silent_since: float | None = None

    @classmethod
    def attach(cls, connection_file: str, **kwargs: Any) -> KernelExecutor:
        """An executor for the kernel behind `connection_file` (not started, not owned)."""
        return cls(connection_file=connection_file, **kwargs)

    @property
    def owns_kernel(self) -> bool:
        return self.connection_file is None

    @property
    def started(self) -> bool:
        return self.client is not None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> KernelExecutor:
        if self.client is not None:
            return self
        if self.owns_kernel:
            self.manager = KernelManager(kernel_name=self.kernel_name)
            kwargs: dict[str, Any] = {}
            if self.cwd:
                kwargs["cwd"] = self.cwd
            if self.env:
                kwargs["env"] = {**os.environ, **self.env}
            self.manager.start_kernel(**kwargs)
            client = self.manager.client()
        else:
            client = BlockingKernelClient()
            client.load_connection_file(self.connection_file)
        client.start_channels()
        try:
            self._wait_for_ready(client)
        except RuntimeError as error:
            client.stop_channels()
            self._shutdown_manager()
            raise ExecutorError(f"the kernel did not start: {error}") from error
        self.client = client
        self._dead_message = None
        return self

    def _wait_for_ready(self, client: BlockingKernelClient) -> None:
        if self.owns_kernel:
            client.wait_for_ready(timeout=self.startup_timeout)
            return
        # Attached: the heartbeat of a kernel that is still starting reads as dead for a
        # moment, which wait_for_ready takes for a death; keep asking until the deadline.
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                client.wait_for_ready(timeout=max(deadline - time.monotonic(), 0.1))
                return
            except RuntimeError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def restart(self) -> None:
        """Start a fresh kernel in place of this one (all variables are lost)."""
        if not self.owns_kernel:
            raise ExecutorError(
                "cannot restart a kernel this executor attached to; restart it where it was started"
            )
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        if self.manager is not None and self.manager.has_kernel:
            try:
                self.manager.restart_kernel(now=True)
            except Exception as error:  # a dead kernel can fail to restart in place
                log.info("restart in place failed (%s); starting a new kernel", error)
                self._shutdown_manager()
        if self.manager is not None and self.manager.has_kernel:
            self.client = self.manager.client()
            self.client.start_channels()
            try:
                self.client.wait_for_ready(timeout=self.startup_timeout)
            except RuntimeError as error:
                raise ExecutorError(f"the restarted kernel did not answer: {error}") from error
            self._dead_message = None
        else:
            self.manager = None
            self.start()

    def close(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        self._shutdown_manager()

    def _shutdown_manager(self) -> None:
        manager, self.manager = self.manager, None
        if manager is not None and manager.has_kernel:
            try:
                manager.shutdown_kernel(now=True)
            except Exception as error:
                log.warning("could not shut the kernel down cleanly: %s", error)

    def is_alive(self) -> bool:
        if self.client is None:
            return False
        if self.manager is not None:
            return self.manager.is_alive()
        return self.client.is_alive()

    # -- running -----------------------------------------------------------------

    def run(
        self, code: str, timeout: float | None = None, *, silent: bool = False
    ) -> ExecutionResult:
        """`silent`: as a front end's own requests run, out of the history and without an
        execution count (printed output still comes back)."""
        client = self._ready_client()
        collector = OutputCollector()
        started = time.perf_counter()
        deadline = started + timeout if timeout else None
        msg_id = client.execute(
            code, silent=silent, store_history=not silent, allow_stdin=False, stop_on_error=False
        )
        self._running_msg_id = msg_id
        timed_out = False
        interrupts = 0
        next_interrupt_at: float | None = None
        next_alive_check = started + _ALIVE_CHECK_SECONDS
        try:
            while True:
                now = time.perf_counter()
                if deadline is not None and now >= deadline and not timed_out:
                    timed_out = True
                    next_interrupt_at = now
                if next_interrupt_at is not None and now >= next_interrupt_at:
                    if interrupts >= 3:
                        raise KernelUnresponsiveError(
                            f"the kernel ignored {interrupts} interrupts after the {timeout} s "
                            "timeout; "
                            "restart it (its variables will be lost)"
                        )
                    self._interrupt_kernel()
                    interrupts += 1
                    next_interrupt_at = now + self.interrupt_grace
                if now >= next_alive_check:
                    self._check_alive()
                    next_alive_check = now + _ALIVE_CHECK_SECONDS
                try:
                    message = client.get_iopub_msg(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if _handle_iopub(message, collector):
                    break
        except KeyboardInterrupt:
            # Our caller is being stopped: stop the code too, rather than leave it running.
            self._interrupt_kernel()
            self._wait_idle(msg_id, self.interrupt_grace)
            raise
        finally:
            self._running_msg_id = None
        reply = self._shell_reply(msg_id)
        duration = time.perf_counter() - started
        error = next((o for o in reversed(collector.outputs) if isinstance(o, ErrorOutput)), None)
        # The reply says how the cell ended; an error output alone may be a traceback that
        # the code merely displayed (a nested run, say).
        if reply is not None:
            failed = reply.get("status") != "ok"
            ename = reply.get("ename") or (error.ename if error else "")
        else:
            failed = error is not None
            ename = error.ename if error else ""
        if timed_out:
            status = TIMEOUT
        elif failed and ename == "KeyboardInterrupt":
            status = INTERRUPTED
        elif failed:
            status = ERROR
        else:
            status = OK
        if failed and error is None:
            collector.error(
                ename or "Error",
                (reply or {}).get("evalue", ""),
                (reply or {}).get("traceback", []),
            )
        return ExecutionResult(
            outputs=collector.outputs,
            duration=duration,
            timed_out=timed_out,
            status=status,
            execution_count=(reply or {}).get("execution_count"),
        )

    def _wait_idle(self, msg_id: str, seconds: float) -> None:
        assert self.client is not None
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            try:
                message = self.client.get_iopub_msg(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if message.get("parent_header", {}).get("msg_id") == msg_id and _handle_iopub(
                message, OutputCollector()
            ):
                return

    def interrupt(self) -> None:
        if self._running_msg_id is not None and self.client is not None:
            self._interrupt_kernel()

    def _interrupt_kernel(self) -> None:
        if self.manager is not None:
            self.manager.interrupt_kernel()
            return
        # Not ours: ask the kernel itself, through the control channel.
        assert self.client is not None
        message = self.client.session.msg("interrupt_request", {})
        self.client.control_channel.send(message)

    def _ready_client(self) -> BlockingKernelClient:
        if self._dead_message is not None:
            raise KernelDiedError(self._dead_message + " Call restart() to start a new kernel.")
        if self.client is None:
            self.start()
        assert self.client is not None
        return self.client

    def _check_alive(self) -> None:
        if self.is_alive():
            self._silent_since = None
            return
        if self.manager is None:
            # Attached: only the heartbeat tells, and a loaded machine can miss a beat.
            now = time.monotonic()
            self._silent_since = self._silent_since or now
            if now - self._silent_since < _ATTACHED_DEATH_SECONDS:
                return
        exit_code = None
        if self.manager is not None and self.manager.provisioner is not None:
            process = getattr(self.manager.provisioner, "process", None)
            exit_code = process.poll() if process is not None else None
        suffix = f" (exit status {exit_code})" if exit_code is not None else ""
        self._dead_message = (
            f"The kernel died while running the code{suffix}; its variables are lost."
        )
        raise KernelDiedError(
            self._dead_message + " Call restart() to start a new kernel.", exit_code
        )

    def _shell_reply(self, msg_id: str) -> dict[str, Any] | None:
        assert self.client is not None
        deadline = time.perf_counter() + 5.0
        while time.perf_counter() < deadline:
            try:
                message = self.client.get_shell_msg(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if message.get("parent_header", {}).get("msg_id") == msg_id:
                return message.get("content", {})
        log.warning("no execute_reply from the kernel for %s", msg_id)
        return None

    # -- checks after a run -------------------------------------------------------

    def _evaluate(self, expression: str) -> Any:
        """The value of a Python literal expression evaluated in the kernel's namespace."""
        client = self._ready_client()
        msg_id = client.execute(
            "", silent=True, store_history=False, user_expressions={"value": expression}
        )
        reply = self._shell_reply(msg_id)
        if not reply:
            raise ExecutorError("the kernel did not answer a user-expression request")
        value = reply.get("user_expressions", {}).get("value", {})
        if value.get("status") != "ok":
            raise ExecutorError(
                f"evaluating in the kernel failed: {value.get('ename')}: {value.get('evalue')}"
            )
        return ast.literal_eval(value["data"]["text/plain"])

    def defined_names(self, names: Iterable[str]) -> set[str]:
        wanted = valid_identifiers(names)
        if not wanted:
            return set()
        expression = f"[name for name in {wanted!r} if name in get_ipython().user_ns]"
        return set(self._evaluate(expression))

    def existing_files(self, paths: Iterable[str]) -> set[str]:
        wanted = sorted({str(path) for path in paths})
        if not wanted:
            return set()
        expression = f"[path for path in {wanted!r} if __import__('os').path.exists(path)]"
        return set(self._evaluate(expression))

    def kernel_context(
        self, budget: int = 3000, details: Iterable[str] = ()
    ) -> dict[str, Any] | None:
        """Through the code the panel sends too (`kernel_code`), run silently: it works in a
        kernel whose environment lacks this package."""
        from . import kernel_code

        options = {"budget": budget, "details": [name for name in details if isinstance(name, str)]}
        try:
            return kernel_code.collect(lambda code: self.run(code, 60.0, silent=True), options)
        except ExecutorError as error:
            log.info("cannot describe the kernel's variables: %s", error)
            return None

    def installed_versions(self, distributions: Iterable[str]) -> dict[str, str]:
        expression = installed_versions_expression(distributions)
        try:
            return {str(name): str(version) for name, version in self._evaluate(expression).items()}
        except ExecutorError as error:
            log.info("cannot list the kernel's installed packages: %s", error)
            return {}

    # The kernel imports this package's `values` module to look; a kernel of another
    # environment may not have it, and then nothing is described.
    _VALUES = "__import__('jupyter_autocoder.executors.values', fromlist=['values'])"

    def user_names(self) -> list[str] | None:
        expression = (
            f"{self._VALUES}.user_names(get_ipython().user_ns, get_ipython().user_ns_hidden)"
        )
        try:
            return list(self._evaluate(expression))
        except ExecutorError as error:
            log.info("cannot list the kernel's names: %s", error)
            return None

    def describe_figures(self) -> bool:
        try:
            return bool(self._evaluate(DESCRIBE_FIGURES_EXPRESSION))
        except ExecutorError as error:
            log.info("cannot have the kernel describe its figures: %s", error)
            return False

    def describe_names(self, names: Iterable[str]) -> dict[str, str]:
        wanted = [name for name in names if isinstance(name, str) and name.isidentifier()]
        if not wanted:
            return {}
        expression = f"{self._VALUES}.describe_names(get_ipython().user_ns, {wanted!r})"
        try:
            return dict(self._evaluate(expression))
        except ExecutorError as error:
            log.info("cannot describe the kernel's variables: %s", error)
            return {}

    _GUARD = "__import__('jupyter_autocoder.executors.guard', fromlist=['guard'])"

    def guard(self, action: str, arguments: dict[str, Any] | None = None) -> Any:
        expression = f"{self._GUARD}.call(get_ipython(), {action!r}, {dict(arguments or {})!r})"
        try:
            return self._evaluate(expression)
        except ExecutorError as error:
            log.info("the guard of the kernel's variables cannot run: %s", error)
            return None


def _handle_iopub(message: dict[str, Any], collector: OutputCollector) -> bool:
    """Record one iopub message; True when the kernel went idle (the cell is over)."""
    kind = message["header"]["msg_type"]
    content = message.get("content", {})
    if kind == "status":
        return content.get("execution_state") == "idle"
    if kind == "stream":
        collector.stream(content.get("name", "stdout"), content.get("text", ""))
    elif kind in ("display_data", "update_display_data"):
        collector.display(content.get("data", {}), content.get("metadata", {}))
    elif kind == "execute_result":
        collector.display(content.get("data", {}), content.get("metadata", {}), execute_result=True)
    elif kind == "error":
        collector.error(
            content.get("ename", ""), content.get("evalue", ""), content.get("traceback", [])
        )
    elif kind == "clear_output":
        collector.clear(wait=bool(content.get("wait")))
    return False
