"""`%%autocoder`: a request in a cell; the model writes the code, runs it in this kernel,
corrects it from the real errors, and puts the working code into a new cell below.

    %load_ext jupyter_autocoder

    %%autocoder --rounds 4 --install auto
    Load the iris dataset from scikit-learn into a DataFrame `df` and plot petal length by
    species.

    %autocoder fix          # repair the last cell that failed, from its real error
    %autocoder status       # the model, its device and offloaded layers, where requests go
    %autocoder restore df   # put back a variable the last request's code replaced

To load it in every kernel, add it to IPython's configuration
(`~/.ipython/profile_default/ipython_config.py`):

    c.InteractiveShellApp.extensions = ["jupyter_autocoder"]

and `c.AutoCoder.<setting>` there configures it (model, max_rounds, exec_timeout, ...).

The options are declared once, with IPython's `magic_arguments` (as IPython's own script
magics are): the same declarations parse a cell's first line and write the help that
`%%autocoder?` and `%autocoder help` show. Where requests go is `engine.py`.

Loading stays light: this module imports only IPython's magic machinery; the agent, the
HTTP client, llama.cpp's supervisor and ipywidgets are imported when a request needs them.
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.process import arg_split

from .context import MAGIC_NAME, CellFailure, CellWatch, GeneratedCode
from .display import StoppedByUser
from .engine import KernelEngine

if TYPE_CHECKING:
    from ..config import AutoCoder
    from ..llm.client import ModelClient
    from .display import CellDisplay

COMMANDS = ("fix", "status", "restore", "help")
INSTALL_POLICIES = ("ask", "auto", "never")
ANSWER_TOKENS = 1024
# The forms of the magic, for the usage errors (the help's own usage lists every option).
USAGE = (
    f"%%{MAGIC_NAME} [options]  (the request in the cell body) | %{MAGIC_NAME} fix [options] "
    f"| %{MAGIC_NAME} status | %{MAGIC_NAME} restore [NAME]"
)


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


def usage_error(message: str) -> UsageError:
    """A bad option: IPython shows a UsageError as one short message, with no traceback."""
    return UsageError(f"{message}\n\nusage: {USAGE}\n(%{MAGIC_NAME} help for the options)")


@magics_class
class AutoCoderMagics(Magics):
    """The `autocoder` line and cell magic, and what it keeps for the kernel's life."""

    def __init__(self, shell: Any):
        super().__init__(shell)
        self.watch = CellWatch(shell)
        self.engine = KernelEngine()

    # -- the magic ---------------------------------------------------------------------

    # The name "%autocoder": IPython's help formatter writes the usage as "%" + name.
    @magic_arguments(f"%{MAGIC_NAME}")
    @argument(
        "command",
        nargs="?",
        metavar="fix|status|restore|help",
        help="fix: repair the last failing cell; status: where requests go; restore NAME: put "
        "back a variable that the last request's code replaced or deleted; help: this text",
    )
    @argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="with restore: the variable to put back (without it: what can be put back)",
    )
    @argument(
        "--model",
        metavar="NAME",
        help="model to use (catalogue name, .gguf path, hf:REPO/FILE.gguf)",
    )
    @argument(
        "--rounds",
        metavar="N",
        type=_positive_int,
        help="rounds of run-and-correct (default: c.AutoCoder.max_rounds)",
    )
    @argument(
        "--no-run",
        action="store_true",
        help="write the code into a new cell without running it",
    )
    @argument(
        "--install",
        choices=INSTALL_POLICIES,
        help="missing packages: ask (the input prompt), auto, or never "
        "(default: c.AutoCoder.install_policy)",
    )
    @argument(
        "--ask",
        action="store_true",
        help="ask before running each piece of code the model writes "
        "(default: c.AutoCoder.confirm_run)",
    )
    @argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_float,
        help="seconds each run may take before it is interrupted "
        "(default: c.AutoCoder.exec_timeout)",
    )
    @argument(
        "--explore",
        action="store_true",
        help="explore the data file or DataFrame the cell names: a plan, then a step at a "
        "time, each run and corrected here, and a summary quoting only numbers the outputs "
        "show; the steps' code goes into a new cell below",
    )
    @argument(
        "--review",
        action="store_true",
        help="with --explore: show the plan and ask which steps to run (at the input prompt)",
    )
    @argument(
        "--steps",
        metavar="N",
        type=_positive_int,
        help="with --explore: the most steps a plan may have (default 6)",
    )
    @argument("-h", "--help", action="store_true", help="show this help")
    @line_cell_magic
    def autocoder(self, line: str, cell: str | None = None) -> None:
        """Ask the model for code; it runs in this kernel and is corrected from its real errors.

        %%autocoder [options]
        <the request, in plain words>

            The answer streams into the output; the code runs here, its errors go back to
            the model until it runs cleanly (or the rounds are used up); the working code
            is put into a new cell below and its variables are in your namespace.

        %%autocoder --explore
        explore sales.csv            (or a DataFrame: explore df) a plan, then a step at a
                                     time, run and corrected here, and a summary; the
                                     steps' code goes into a new cell below
        %autocoder fix [options]     repair the last cell that failed, from its real error
        %autocoder status            the model, its device and offloaded layers, where
                                     requests go
        %autocoder restore NAME      put back a variable that the last request's code
                                     replaced or deleted (a change in place cannot be undone)
        %autocoder help              this text

        Variables the request does not ask to change are watched around each run
        (c.AutoCoder.variable_guard: warn, strict or off); a change is told to the model and
        shown here.

        The kernel's stop button stops the answer and the run; your variables are kept.
        The defaults are c.AutoCoder settings in IPython's configuration.
        """
        __tracebackhide__ = True  # an interrupt shows as itself, not as frames of this module
        options = parse_options(line)
        body = (cell or "").strip()
        if options.command == "help":
            print(help_text())
            return
        if options.command == "status":
            self.show_status()
            return
        if options.command == "restore":
            self.restore(options.name)
            return
        if options.command == "fix":
            failure = self.watch.last_failure
            if failure is None:
                raise UsageError(
                    "nothing to fix: no cell has failed since the extension was loaded, "
                    "or the last failure was fixed"
                )
            self.fix(failure, options, remark=body)
            return
        if cell is None:
            raise UsageError(
                f"write the request in the body of a %%{MAGIC_NAME} cell, or use "
                f"%{MAGIC_NAME} fix / status / help.\n\nusage: {USAGE}"
            )
        if not body:
            raise UsageError(
                f"the %%{MAGIC_NAME} cell has no request: write what you want below the first line"
            )
        if options.explore:
            self.explore(body, options)
            return
        self.request(body, options)

    # -- a request ----------------------------------------------------------------------------

    def request(self, request: str, options: argparse.Namespace) -> None:
        __tracebackhide__ = True
        from .context import build_context

        settings = self.settings()
        context = build_context(self.shell, self.watch, budget=settings.context_budget)
        self._ask(request, context, options, settings, check_expected=True)

    def explore(self, body: str, options: argparse.Namespace) -> None:
        """`%%autocoder --explore`: the cell names a data file or a DataFrame ("explore
        sales.csv", "df"); the exploration runs here, step by step, shown in this cell's
        output, and the steps' code is written into one new cell below (a kernel cannot add
        Markdown cells; the panel and `jupyter-autocoder explore` write them)."""
        __tracebackhide__ = True
        from ..agent.explore import MAX_STEPS, Exploration, steps_as_code
        from ..agent.settings import SessionSettings
        from ..errors import ExplorationError
        from ..executors import create_executor
        from .display import CellDisplay, ExplorationView, review_plan

        target = explore_target(body)
        settings = self.settings()
        check_policy(options, settings)
        display = CellDisplay(self.shell)
        client = self.engine.connect(settings, options.model, display)
        if client is None:
            return
        executor = create_executor("shell", self.shell, hold_errors=display.rich)
        session_settings = SessionSettings.from_config(
            settings,
            install_policy=options.install or settings.install_policy,
            confirm_run=options.ask or settings.confirm_run,
            max_rounds=options.rounds or settings.max_rounds,
            exec_timeout=options.timeout or settings.exec_timeout,
            max_tokens=ANSWER_TOKENS,
        )
        exploration = Exploration(
            client,
            executor,
            session_settings,
            approver=self._approve,
            max_steps=options.steps or MAX_STEPS,
            review_plan=review_plan if options.review else None,
        )
        view = ExplorationView(display)
        events = exploration.run(target)
        try:
            for event in events:
                view.show(event)
        except ExplorationError as error:
            raise UsageError(str(error)) from None
        except KeyboardInterrupt:
            exploration.stop()
            events.close()
            display.line(
                "⏹ **Stopped. Your variables are kept.**", "Stopped. Your variables are kept."
            )
            raise StoppedByUser("the exploration was stopped") from None
        finally:
            client.close()
        code = steps_as_code(exploration.cells)
        if code:
            self.write_cell(f"explore {target}", code)

    def fix(self, failure: CellFailure, options: argparse.Namespace, remark: str = "") -> None:
        __tracebackhide__ = True
        from .context import build_context

        settings = self.settings()
        context = build_context(
            self.shell, self.watch, budget=settings.context_budget, include_failure=True
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

        check_policy(options, settings)
        display = CellDisplay(self.shell)
        client = self.engine.connect(settings, options.model, display)
        if client is None:
            return False
        try:
            if options.no_run:
                return self._write_code(client, request, context, display, settings.context_budget)
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
        # The rounds' tracebacks go into the display, collapsed; a kernel `error` output is
        # left only for a turn that ends in failure (below).
        executor = create_executor("shell", self.shell, hold_errors=display.rich)
        # The settings, with this cell's options over them.
        session = AgentSession.from_config(
            settings,
            client,
            executor,
            approver=self._approve,
            install_policy=options.install or settings.install_policy,
            confirm_run=options.ask or settings.confirm_run,
            max_rounds=rounds,
            exec_timeout=options.timeout or settings.exec_timeout,
            context_budget=settings.context_budget,
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
        if done.reason == "stopped" and session.declined_code:
            # --ask, answered no: the code is the user's to read, change and run.
            self.write_cell(request, session.declined_code)
            text = "Not run, as you chose: the code is in the new cell below."
            display.line(f"⏸ **{text}**", text)
            return False
        code = None
        if done.success:
            code = done.code
        elif done.reason == "max_rounds" and session.last_code:
            code = failed_code_cell(session.last_code, session)
        if code:
            self.write_cell(request, code)
        if not done.success and done.reason != "stopped":
            executor.show_held_error()  # the last run's error, as a real error output
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
        from ..agent.streaming import Streamer
        from ..errors import EngineError
        from .display import plural

        messages = [
            system_message(),
            {"role": "user", "content": request_message(request, context, budget)},
        ]
        stream = client.stream_chat(messages, max_tokens=ANSWER_TOKENS, temperature=0.0)
        display.begin_answer("")
        try:
            for piece in Streamer().stream(stream):
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
        how = (
            f"{plural(stream.completion_tokens, 'token')} in {stream.seconds:.1f} s "
            f"at {speed:.0f} tokens/s"
        )
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
        """The agent asks before an install (policy `ask`, or a name with a warning), a shell
        command, or (--ask) each piece of code: the input prompt."""
        from .display import ask_yes_no

        if request.kind == "install":
            question = (
                f"Install {', '.join(request.packages)} into this kernel's environment "
                f"({request.command})?"
            )
        elif request.kind == "code":
            question = "Run the code above in this kernel?"
        else:
            question = f"Run this shell command: {request.command} ?"
        if request.kind != "code" and request.reason:
            question += f"\n  ({request.reason})"
        if request.warning:
            question += f"\n  ⚠ {request.warning}"
        if request.about:
            question += "".join(f"\n  {line}" for line in request.about.splitlines())
        answer = ask_yes_no(question)
        if answer is None:
            from .display import CellDisplay

            how = {
                "install": "`--install auto` installs without asking",
                "shell": "`c.AutoCoder.shell_policy = 'auto'` runs commands without asking",
                "code": "without `--ask`, the code runs without asking",
            }.get(request.kind, "")
            CellDisplay(self.shell).line(
                f"Nobody can answer here (this front end has no input prompt), so: no. {how}.",
                f"Nobody can answer here (no input prompt), so: no. {how.replace('`', '')}.",
            )
            return False
        return answer

    def restore(self, name: str | None) -> None:
        """`%autocoder restore NAME`: the object the last request's code replaced or deleted
        under NAME, put back; without NAME, what can be put back."""
        from ..executors.guard import guard_of
        from .display import CellDisplay

        guard = guard_of(self.shell)
        display = CellDisplay(self.shell)
        if name is None:
            kept = guard.kept_values()
            if not kept:
                display.line(
                    "Nothing to restore: the last request's code replaced or deleted none of "
                    "your variables (a change in place cannot be undone)."
                )
                return
            listed = [f"`{item['name']}` ({item['was']})" for item in kept]
            text = "Can be put back: " + ", ".join(listed) + f". `%{MAGIC_NAME} restore NAME`"
            display.line(text, text.replace("`", ""))
            return
        answer = guard.restore(self.shell.user_ns, name)
        if not answer["restored"]:
            raise UsageError(answer["message"].replace("`", ""))
        display.line(f"↩ {answer['message']}", answer["message"].replace("`", ""))

    # -- settings and status ----------------------------------------------------------

    def settings(self) -> AutoCoder:
        """The settings as they are now: IPython's configuration (c.AutoCoder), then the
        environment."""
        from ..config import AutoCoder

        return AutoCoder(parent=self.shell)

    def show_status(self) -> None:
        from .display import CellDisplay

        lines = self.status_lines(self.settings())
        CellDisplay(self.shell).line("\n".join(f"- {line}" for line in lines), "\n".join(lines))

    def status_lines(self, settings: AutoCoder) -> list[str]:
        """What `%autocoder status` says: where requests go, the model, its device and layers,
        and the defaults."""
        from .._version import __version__
        from ..policy import AdminPolicy

        policy = AdminPolicy(settings).describe()
        return [
            *self.engine.status_lines(settings),
            f"Defaults: {settings.max_rounds} rounds, install {settings.install_policy}, "
            f"timeout {settings.exec_timeout:g} s, context {settings.n_ctx} tokens; "
            f"jupyter-autocoder {__version__}.",
            *([policy] if policy else []),
        ]

    def close(self) -> None:
        """The extension is unloaded: stop watching the cells, stop this kernel's worker."""
        self.watch.unregister()
        self.engine.close()


def parse_options(line: str) -> argparse.Namespace:
    """The options of a cell's first line; a UsageError for anything they do not allow.

    Split as a shell splits (quotes group words), then parsed by the magic's own parser, as
    IPython's `%%script` does; the unknown words are told apart from a wrong command.
    """
    parser = AutoCoderMagics.autocoder.parser
    try:
        words = arg_split(line, posix=True)
    except ValueError as error:
        raise UsageError(f"cannot read the options: {error}") from None
    try:
        options, extra = parser.parse_known_args(words)
    except UsageError as error:  # IPython's parser raises its errors as UsageErrors
        raise usage_error(str(error)) from None
    if options.help:
        options.command = "help"
    if options.command is not None and options.command not in COMMANDS:
        raise UsageError(
            f"unknown command {options.command!r}: use fix, status or help, and write a request "
            f"in the body of a %%{MAGIC_NAME} cell.\n\nusage: {USAGE}"
        )
    if options.name is not None and options.command != "restore":
        extra.insert(0, options.name)
        options.name = None
    if options.name is not None and not options.name.isidentifier():
        raise usage_error(f"not a variable name: {options.name!r}")
    if extra:
        raise usage_error(f"unrecognized arguments: {' '.join(extra)}")
    return options


def explore_target(body: str) -> str:
    """What `%%autocoder --explore` explores: the cell's text, less a leading "explore"
    (and quotes or backticks around a name); `agent.explore.explore_target`, shared with
    the panel."""
    from ..agent.explore import explore_target as target_of
    from ..errors import ExplorationError

    try:
        return target_of(body)
    except ExplorationError as error:
        raise UsageError(f"%%{MAGIC_NAME} --explore: {error}") from None


def check_policy(options: argparse.Namespace, settings: AutoCoder) -> None:
    """A cell's --rounds, --install and --model within the admin's policy (the server hands
    it to its kernels in AUTOCODER_POLICY), else a UsageError that says which setting."""
    from ..errors import PolicyError
    from ..policy import AdminPolicy

    policy = AdminPolicy(settings)
    try:
        policy.check_rounds(options.rounds)
        policy.check_install_policy(options.install)
        if options.model:
            policy.check_model(options.model, "use")
    except PolicyError as error:
        raise UsageError(error.message) from None


def help_text() -> str:
    """The help of `%autocoder help`: what `%%autocoder?` shows, less its reST code marker."""
    text = AutoCoderMagics.autocoder.parser.format_help()
    return text.removeprefix("::\n\n")


def failed_code_cell(code: str, session: Any) -> str:
    """The last code of a request that never ran cleanly, marked so that nobody takes it for
    working code."""
    record = session.records[-1] if session.records else None
    error = record.result.error if record is not None and record.result is not None else None
    reason = f": {error.ename}: {error.evalue}" if error is not None else ""
    reason = reason.splitlines()[0][:200] if reason else ""
    return f"# autocoder: this code did not run cleanly{reason}\n{code}"
