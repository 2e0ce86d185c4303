"""`%%autocoder`: a request in a cell; the model writes the code, runs it in this kernel,
corrects it from the real errors, and puts the working code into a new cell below.

    %load_ext jupyter_autocoder

    %%autocoder --rounds 4 --install auto
    Load the iris dataset from scikit-learn into a DataFrame `df` and plot petal length by species.

    %autocoder fix          # repair the last cell that failed, from its real error
    %autocoder status       # the model, its device and offloaded layers, where requests go

To load it in every kernel, add it to IPython's configuration
(`~/.ipython/profile_default/ipython_config.py`):

    c.InteractiveShellApp.extensions = ["jupyter_autocoder"]

and `c.AutoCoder.<setting>` there configures it (model, max_rounds, exec_timeout, ...).

Where requests go: with `AUTOCODER_ENGINE_URL` set (a kernel that a Jupyter server with this
extension started gets its proxy's URL and key; or any OpenAI-compatible engine), there;
otherwise to a llama.cpp worker that this kernel starts on the first request and keeps for
its life (stopped when the kernel exits).

Loading stays light: this module imports only IPython's magic machinery; the agent, the
HTTP client, llama.cpp's supervisor and ipywidgets are imported when a request needs them.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import shlex
import time
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from .context import MAGIC_NAME, CellFailure, CellWatch, GeneratedCode

if TYPE_CHECKING:
    from ..config import AutoCoder
    from ..llm.client import ModelClient
    from ..llm.supervisor import EngineSupervisor
    from .display import CellDisplay

log = logging.getLogger(__name__)

COMMANDS = ("fix", "status", "help")
INSTALL_POLICIES = ("ask", "auto", "never")
# A local worker's load is waited for this often, to redraw its progress.
LOAD_POLL_SECONDS = 0.25
ANSWER_TOKENS = 1024


class StoppedByUser(KeyboardInterrupt):
    """Ends a cell that the kernel's interrupt stopped, after the magic has said how it ended.

    It fails the cell as any interrupted cell fails (so cells queued after it, as in "run
    all", do not run), but is shown as one line instead of a traceback through this module.
    """

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"KeyboardInterrupt: {self}"]


class _UsageParser(argparse.ArgumentParser):
    """argparse whose errors are IPython UsageErrors (shown as one short message, no traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(
            f"{message}\n\n{self.format_usage().strip()}\n(%autocoder help for the options)"
        )

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or "")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    # argparse %-formats the usage: a magic's own % signs are doubled.
    usage = f"%%{MAGIC_NAME} [options]  (the request in the cell body) | %{MAGIC_NAME} fix [options] | %{MAGIC_NAME} status"
    parser = _UsageParser(
        prog=MAGIC_NAME,
        usage=usage.replace("%", "%%"),
        description="Ask the model for code; it runs in this kernel and is corrected from its real errors.",
        add_help=False,
    )
    parser.add_argument(
        "command",
        nargs="?",
        metavar="fix|status|help",
        help="fix: repair the last failing cell; status: where requests go; help: this text",
    )
    parser.add_argument(
        "--model", help="model to use (catalogue name, .gguf path, hf:REPO/FILE.gguf)"
    )
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        help="rounds of run-and-correct (default: c.AutoCoder.max_rounds)",
    )
    parser.add_argument(
        "--no-run", action="store_true", help="write the code into a new cell without running it"
    )
    parser.add_argument(
        "--install",
        choices=INSTALL_POLICIES,
        help="missing packages: ask (the input prompt), auto, or never (default: c.AutoCoder.install_policy)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        help="seconds each run may take before it is interrupted (default: c.AutoCoder.exec_timeout)",
    )
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    return parser


def parse_options(line: str) -> argparse.Namespace:
    """The magic's options; a UsageError for anything it does not understand."""
    parser = build_parser()
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise UsageError(f"cannot read the options: {error}") from None
    options, extra = parser.parse_known_args(words)
    if options.help:
        options.command = "help"
    if options.command is not None and options.command not in COMMANDS:
        raise UsageError(
            f"unknown command {options.command!r}: use fix, status or help, and write a request "
            f"in the body of a %%{MAGIC_NAME} cell.\n\n{parser.format_usage().strip()}"
        )
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return options


@magics_class
class AutoCoderMagics(Magics):
    """The `autocoder` line and cell magic, and what it keeps for the kernel's life."""

    def __init__(self, shell: Any):
        super().__init__(shell)
        self.watch = CellWatch(shell)
        self._supervisor: EngineSupervisor | None = None

    # -- the magic ---------------------------------------------------------------------

    @line_cell_magic
    def autocoder(self, line: str, cell: str | None = None) -> None:
        """Ask the model for code that runs in this kernel.

        %%autocoder [--model NAME] [--rounds N] [--no-run] [--install ask|auto|never] [--timeout S]
        <the request, in plain words>

            The answer streams into the output; the code runs here, its errors go back to
            the model until it runs cleanly (or the rounds are used up); the working code
            is put into a new cell below and its variables are in your namespace.

        %autocoder fix [options]     repair the last cell that failed, from its real error
        %autocoder status            the model, its device and offloaded layers, where requests go
        %autocoder help              the options

        Options:
          --model NAME      catalogue name, path to a .gguf file, or hf:REPO/FILE.gguf
          --rounds N        rounds of run-and-correct (c.AutoCoder.max_rounds)
          --no-run          write the code into a new cell without running it
          --install POLICY  missing packages: ask (input prompt), auto, never
          --timeout S       seconds a run may take before it is interrupted
        The kernel's stop button stops the answer and the run; your variables are kept.
        """
        __tracebackhide__ = True  # an interrupt shows as itself, not as frames of this module
        options = parse_options(line)
        body = (cell or "").strip()
        if options.command == "help":
            print(build_parser().format_help())
            return
        if options.command == "status":
            self.show_status()
            return
        if options.command == "fix":
            failure = self.watch.last_failure
            if failure is None:
                raise UsageError(
                    "nothing to fix: no cell has failed since the extension was loaded, or the last failure was fixed"
                )
            self.fix(failure, options, remark=body)
            return
        if cell is None:
            raise UsageError(
                f"write the request in the body of a %%{MAGIC_NAME} cell, or use "
                f"%{MAGIC_NAME} fix / status / help.\n\n{build_parser().format_usage().strip()}"
            )
        if not body:
            raise UsageError(
                f"the %%{MAGIC_NAME} cell has no request: write what you want below the first line"
            )
        self.request(body, options)

    # -- a request ----------------------------------------------------------------------------

    def request(self, request: str, options: argparse.Namespace) -> None:
        __tracebackhide__ = True
        from .context import build_context

        settings = self.settings()
        context = build_context(self.shell, self.watch, budget=context_budget(settings))
        self._ask(request, context, options, settings, check_expected=True)

    def fix(self, failure: CellFailure, options: argparse.Namespace, remark: str = "") -> None:
        __tracebackhide__ = True
        from .context import build_context

        settings = self.settings()
        context = build_context(
            self.shell, self.watch, budget=context_budget(settings), include_failure=True
        )
        label = (
            f"In [{failure.execution_count}]"
            if failure.execution_count is not None
            else "The last cell"
        )
        request = (
            f"{label} failed with {failure.ename}: {failure.evalue}\n"
            f"```python\n{failure.source.strip()}\n```\n"
            "Fix it: answer with the complete corrected cell, doing what it was meant to do."
        )
        if remark:
            request += f"\n{remark}"
        fixed = self._ask(request, context, options, settings, check_expected=False)
        if fixed and not options.no_run and self.watch.last_failure is failure:
            self.watch.last_failure = (
                None  # repaired: neither fixed again nor told as the last error
            )

    def _ask(
        self,
        request: str,
        context: Any,
        options: argparse.Namespace,
        settings: AutoCoder,
        *,
        check_expected: bool,
    ) -> bool:
        """Ask, show, write the new cell; True when code was written (and ran cleanly, if run)."""
        __tracebackhide__ = True
        from .display import CellDisplay

        display = CellDisplay(self.shell)
        client = self.connect(settings, options.model, display)
        if client is None:
            return False
        try:
            if options.no_run:
                return self._write_code(client, request, context, display, context_budget(settings))
            return self._run_agent(
                client, request, context, options, settings, display, check_expected
            )
        finally:
            client.close()

    def _run_agent(
        self,
        client: ModelClient,
        request: str,
        context: Any,
        options: argparse.Namespace,
        settings: AutoCoder,
        display: CellDisplay,
        check_expected: bool,
    ) -> bool:
        __tracebackhide__ = True
        from ..agent import AgentSession
        from ..executors import create_executor
        from .display import EventView

        rounds = options.rounds or settings.max_rounds
        # The settings, with this cell's options over them.
        session = AgentSession.from_config(
            settings,
            client,
            create_executor("shell", self.shell),
            approver=self._approve,
            install_policy=options.install or settings.install_policy,
            max_rounds=rounds,
            exec_timeout=options.timeout or settings.exec_timeout,
            context_budget=context_budget(settings),
            max_tokens=ANSWER_TOKENS,
            check_expected=check_expected,
        )
        view = EventView(display)
        events = session.run(request, context)
        done = None
        try:
            for event in events:
                if event.type == "done":
                    done = event
                else:
                    view.show(event)
        except KeyboardInterrupt:
            # It landed in our own drawing rather than in the session: end the session too.
            session.stop()
            events.close()
            display.end_answer()
            display.line(
                "⏹ **Stopped. Your variables are kept.**", "Stopped. Your variables are kept."
            )
            raise StoppedByUser("the request was stopped") from None
        finally:
            session.close()
        if done is None:  # the session always ends with a done event; never leave the user guessing
            display.line("⚠ The session ended without a result.")
            return False
        code = None
        if done.success:
            code = done.code
        elif done.reason == "max_rounds" and session.last_code:
            code = failed_code_cell(session.last_code, session)
        if code:
            self.write_cell(request, code)
        model_seconds = sum(record.model_seconds for record in session.records)
        speed = done.completion_tokens / model_seconds if model_seconds > 0 else None
        view.done(done, speed, wrote_cell=bool(code))
        if done.reason == "stopped":
            raise StoppedByUser("the request was stopped")
        return done.success

    def _write_code(
        self, client: ModelClient, request: str, context: Any, display: CellDisplay, budget: int
    ) -> bool:
        """--no-run: one answer, its code written into a new cell, nothing run."""
        __tracebackhide__ = True
        from ..agent.parse import parse_reply
        from ..agent.prompts import request_message, system_message
        from ..errors import EngineError
        from .display import plural

        messages = [
            system_message(),
            {"role": "user", "content": request_message(request, context, budget)},
        ]
        stream = client.stream_chat(messages, max_tokens=ANSWER_TOKENS, temperature=0.0)
        display.begin_answer("")
        try:
            with stream:
                for piece in stream:
                    display.add_to_answer(piece)
        except KeyboardInterrupt:
            stream.cancel()
            display.end_answer()
            display.line("⏹ **Stopped.**", "Stopped.")
            raise StoppedByUser("the request was stopped") from None
        except EngineError as error:
            display.line(f"⚠ The model engine failed: {error}", f"The model engine failed: {error}")
            return False
        display.end_answer()
        parsed = parse_reply(stream.text)
        lines = [
            f"%pip install {' '.join(shlex.quote(p) for p in install.packages)}"
            for install in parsed.installs
            if install.valid
        ]
        code = "\n".join([*lines, parsed.code.strip()]).strip() if parsed.code.strip() else ""
        speed = stream.completion_tokens / stream.seconds if stream.seconds > 0 else 0
        how = f"{plural(stream.completion_tokens, 'token')} in {stream.seconds:.1f} s at {speed:.0f} tokens/s"
        if not code:
            display.line(
                f"⚠ **The answer has no code ({how}).**", f"The answer has no code ({how})."
            )
            return False
        self.write_cell(request, code)
        text = f"Written, not run ({how}). The code is in the new cell below."
        display.line(f"📝 **{text}**", text)
        return True

    def write_cell(self, request: str, code: str) -> None:
        """Put `code` into a new cell below this one, and remember it for later context."""
        count = getattr(self.shell, "execution_count", None)
        if isinstance(count, int):
            self.watch.generated[count] = GeneratedCode(request, code)
        self.shell.set_next_input(code.rstrip() + "\n", replace=False)

    def _approve(self, request: Any) -> bool:
        """The agent asks before an install (policy `ask`) or a shell command: the input prompt."""
        from .display import ask_yes_no

        if request.kind == "install":
            question = f"Install {', '.join(request.packages)} into this kernel's environment ({request.command})?"
        else:
            question = f"Run this shell command: {request.command} ?"
        answer = ask_yes_no(question)
        if answer is None:
            from .display import CellDisplay

            CellDisplay(self.shell).line(
                "Nobody can answer here (this front end has no input prompt), so: no. "
                "`--install auto` installs without asking.",
                "Nobody can answer here (no input prompt), so: no. --install auto installs without asking.",
            )
            return False
        return answer

    # -- where requests go --------------------------------------------------------------------

    def settings(self) -> AutoCoder:
        """The settings as they are now: IPython's configuration (c.AutoCoder), then the environment."""
        from ..config import AutoCoder

        return AutoCoder(parent=self.shell)

    def connect(
        self, settings: AutoCoder, model: str | None, display: CellDisplay
    ) -> ModelClient | None:
        """A client for the engine, starting this kernel's worker if it must; None (and the
        reason shown) when there is no engine to be had."""
        __tracebackhide__ = True
        from ..errors import EngineError
        from ..llm.client import ModelClient

        if settings.engine_url:
            name = model or (settings.model if settings.model != "auto" else "default")
            return ModelClient(settings.engine_url, api_key=settings.api_key or None, model=name)
        try:
            supervisor = self.local_engine(settings, model, display)
        except EngineError as error:
            display.line(
                f"⚠ **The model could not be started:** {error}",
                f"The model could not be started: {error}",
            )
            return None
        return supervisor.client()

    def local_engine(
        self, settings: AutoCoder, model: str | None, display: CellDisplay
    ) -> EngineSupervisor:
        """This kernel's own worker, started (with its progress shown) if it is not running."""
        __tracebackhide__ = True
        from ..errors import EngineUnavailableError
        from ..llm.supervisor import DOWNLOADING, LOADING, READY, EngineSupervisor
        from .display import LoadProgress

        supervisor = self._supervisor
        if supervisor is None:
            supervisor = self._supervisor = EngineSupervisor(settings)
            atexit.register(self.shutdown)
        if model and model not in (supervisor.settings.model, supervisor.model_name):
            supervisor.switch(model, wait=False)
        if supervisor.state == READY:
            supervisor.ensure_running()  # notices a worker that died, and restarts it
            return supervisor
        supervisor.start(wait=False)
        progress = LoadProgress(display)
        started = time.monotonic()
        try:
            status = supervisor.status()
            while status["state"] in (DOWNLOADING, LOADING):
                progress.update(status)
                if time.monotonic() - started > settings.worker_start_timeout:
                    break
                time.sleep(LOAD_POLL_SECONDS)
                status = supervisor.status()
        except KeyboardInterrupt:
            display.line("⏹ Stopped waiting; the model goes on loading for the next request.")
            raise StoppedByUser("stopped while the model loads") from None
        finally:
            progress.close()
        if status["state"] in (DOWNLOADING, LOADING):
            raise EngineUnavailableError(
                f"the model was not ready after {settings.worker_start_timeout:.0f} s"
            )
        supervisor.ensure_running(timeout=1.0)  # raises with the reason when it failed
        status = supervisor.status()
        display.line(f"_{describe_local(status)}_", describe_local(status))
        return supervisor

    def shutdown(self) -> None:
        """Stop this kernel's worker (at exit, or when the extension is unloaded)."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            try:
                supervisor.stop()
            except Exception:  # at exit: log, never raise
                log.exception("stopping the model worker failed")

    # -- status ---------------------------------------------------------------------------------

    def show_status(self) -> None:
        from .display import CellDisplay

        lines = self.status_lines(self.settings())
        CellDisplay(self.shell).line("\n".join(f"- {line}" for line in lines), "\n".join(lines))

    def status_lines(self, settings: AutoCoder) -> list[str]:
        """What `%autocoder status` says: where requests go, the model, its device and layers."""
        from .._version import __version__

        lines: list[str] = []
        if settings.engine_url:
            url = settings.engine_url.rstrip("/")
            through = (
                "the Jupyter server's model, through its proxy"
                if url.endswith("/autocoder/api/v1")
                else "the engine that AUTOCODER_ENGINE_URL names"
            )
            key = "with a key" if settings.api_key else "without a key"
            lines.append(f"Requests go to {url}: {through}, {key}.")
            lines.extend(remote_facts(url, settings.api_key))
        else:
            supervisor = self._supervisor
            if supervisor is None:
                lines.append(
                    "Requests go to a llama.cpp worker of this kernel; it starts on the first request "
                    f"(model {settings.model})."
                )
            else:
                status = supervisor.status()
                where = f" at {status['base_url']}" if status.get("base_url") else ""
                where += f" (pid {status['pid']})" if status.get("pid") else ""
                lines.append(
                    f"Requests go to this kernel's llama.cpp worker{where}, state {status['state']}."
                )
                lines.append(describe_local(status))
                if status.get("path"):
                    lines.append(f"File: {status['path']}")
                if status.get("error"):
                    lines.append(f"Error: {status['error']}")
        lines.append(
            f"Defaults: {settings.max_rounds} rounds, install {settings.install_policy}, "
            f"timeout {settings.exec_timeout:g} s, context {settings.n_ctx} tokens; jupyter-autocoder {__version__}."
        )
        return lines

    def close(self) -> None:
        self.watch.unregister()
        self.shutdown()
        atexit.unregister(self.shutdown)


def describe_local(status: dict[str, Any]) -> str:
    """The model, its device and offloaded layers, from a supervisor status."""
    text = f"Model {status.get('model')} on {status.get('device') or 'an unknown device'}"
    layers, total = status.get("n_gpu_layers"), status.get("n_layers")
    if layers is not None:
        text += f" ({layers} of {total if total is not None else '?'} layers offloaded to the GPU)"
    if status.get("load_seconds") is not None:
        text += f", loaded in {status['load_seconds']:.1f} s"
    return text + "."


def remote_facts(url: str, api_key: str | None, timeout: float = 3.0) -> list[str]:
    """What the engine says about itself: its models; through the server's proxy, the
    server's own status (device, layers) when it lets the kernel's key read it."""
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    lines: list[str] = []
    try:
        response = httpx.get(f"{url}/models", headers=headers, timeout=timeout, trust_env=False)
        if response.status_code == 200:
            names = [entry.get("id", "?") for entry in response.json().get("data", [])]
            lines.append(f"The engine serves: {', '.join(names) or 'no model listed'}.")
        else:
            lines.append(f"The engine answered {response.status_code} when asked for its models.")
    except (httpx.HTTPError, ValueError) as error:
        lines.append(f"The engine cannot be reached now: {error}")
        return lines
    if url.endswith("/autocoder/api/v1"):
        try:
            response = httpx.get(
                url[: -len("/v1")] + "/status", headers=headers, timeout=timeout, trust_env=False
            )
            engine = response.json().get("engine") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            engine = None
        if isinstance(engine, dict):
            lines.append(describe_local(engine) + f" State: {engine.get('state')}.")
        else:
            lines.append(
                "Its device and offloaded layers: the server's status (JupyterLab's status bar)."
            )
    return lines


def context_budget(settings: AutoCoder) -> int:
    """Characters of notebook context for a request: about a third of the context window
    (at roughly three characters a token), leaving room for the answer and the rounds' feedback."""
    return max(2000, min(16000, settings.n_ctx))


def failed_code_cell(code: str, session: Any) -> str:
    """The last code of a request that never ran cleanly, marked so that nobody takes it for working code."""
    record = session.records[-1] if session.records else None
    error = record.result.error if record is not None and record.result is not None else None
    reason = f": {error.ename}: {error.evalue}" if error is not None else ""
    reason = reason.splitlines()[0][:200] if reason else ""
    return f"# autocoder: this code did not run cleanly{reason}\n{code}"

