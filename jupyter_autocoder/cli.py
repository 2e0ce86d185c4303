"""The `jupyter-autocoder` command line (also `jupyter autocoder`).

    jupyter-autocoder models                 the catalogue and what is on this machine
    jupyter-autocoder pull NAME              download or assemble a model, with progress
    jupyter-autocoder chat [--model M] TEXT  stream an answer to the terminal
    jupyter-autocoder serve [--model M]      the worker in the foreground, for several users
    jupyter-autocoder eval humaneval|bigcodebench-ds|notebook|FILE
                                             pass@1 one-shot and with the correction loop
    jupyter-autocoder export OUT.jsonl       verified sessions as a training set
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
    logging.basicConfig(level=logging.INFO if arguments.verbose else logging.WARNING, format="%(message)s")
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
    parser = argparse.ArgumentParser(prog="jupyter-autocoder", description="A local AI coding agent for Jupyter.")
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
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback by default)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--api-key", default=None, help="the key clients must send (default: a new random key)")
    _engine_options(serve)
    serve.set_defaults(handler=command_serve)

    evaluate = commands.add_parser("eval", help="measure pass@1 with and without the correction loop")
    evaluate.add_argument(
        "tasks",
        help="a task set (humaneval, bigcodebench-ds, notebook) or a JSONL file of tasks",
    )
    evaluate.add_argument(
        "--format", default=None,
        help="the task file's format (default: told by its first row; an unknown name lists "
        "the valid ones)",
    )
    _engine_options(evaluate)
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    evaluate.add_argument("--rounds", type=int, default=3, help="rounds of the correction loop")
    evaluate.add_argument("--retry-temperature", type=float, default=0.7,
                          help="sampling temperature of the answers after a failed round (the first is greedy)")
    evaluate.add_argument(
        "--seed", type=int, default=None,
        help="seed sent with every request, so that sampled answers can be drawn again "
        "(compare loop figures over several seeds)",
    )
    evaluate.add_argument(
        "--timeout", type=float, default=10.0,
        help="seconds a run of the model's code may take (default 10; a unittest suite gets "
        "at least 60, a notebook cell at least 30)",
    )
    evaluate.add_argument(
        "--check-results", action=argparse.BooleanOptionalAction, default=None,
        help="notebook tasks: the magic shows the model what a clean run left, to judge "
        "against the request (c.AutoCoder.check_results; default: its setting)",
    )
    evaluate.add_argument(
        "--variable-guard", choices=["off", "warn", "strict"], default=None,
        help="notebook tasks: the magic's guard of the task's own variables "
        "(c.AutoCoder.variable_guard; default: its setting, warn); the report counts the "
        "tasks whose code changed them unasked, before and after the model was told",
    )
    evaluate.add_argument(
        "--check-references", action="store_true",
        help="run each task's reference solution through its hidden test instead of asking "
        "the model (checks the tasks and the installed libraries); exits 1 if one fails",
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--output", default=None, help="also write per-task results to this JSONL file")
    evaluate.add_argument("--only", default=None, help="comma-separated task ids to run (e.g. HumanEval/10,HumanEval/32)")
    evaluate.add_argument("--trace-dir", default=None, help="write each task's session as a JSONL trace here")
    evaluate.set_defaults(handler=command_eval)

    export = commands.add_parser("export", help="write verified sessions as a multi-turn training set")
    export.add_argument("output", help="the JSONL file to write")
    export.add_argument("--traces", default=None, help="the trace directory (default: the standard one)")
    export.set_defaults(handler=command_export)
    return parser


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="model name or path (default: $AUTOCODER_MODEL or auto)")
    parser.add_argument("--n-gpu-layers", type=int, default=None, help="-1 all, 0 none (default: decided from memory)")
    parser.add_argument("--n-ctx", type=int, default=None, help="context size in tokens")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads")
    parser.add_argument("--draft", choices=["none", "prompt-lookup"], default=None, help="speculative decoding")


def settings_from(arguments: argparse.Namespace):  # noqa: ANN201 - AutoCoder, imported late
    from .config import AutoCoder

    settings = AutoCoder()
    for option, trait in (("model", "model"), ("n_gpu_layers", "n_gpu_layers"), ("n_ctx", "n_ctx"),
                          ("threads", "n_threads"), ("draft", "draft")):
        value = getattr(arguments, option, None)
        if value is not None:
            setattr(settings, trait, value)
    return settings


def command_models(arguments: argparse.Namespace) -> int:
    from .llm.resolve import list_models

    rows = list_models()
    if arguments.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<20} {'size':>8}  {'here':<5} source")
    for row in rows:
        print(f"{row['name']:<20} {row['size_bytes'] / 1e9:>6.2f}GB  {'yes' if row['cached'] else 'no':<5} {row['source']}")
    print("\nAlso accepted: auto, a path to a .gguf file, hf:OWNER/REPO/FILE.gguf")
    return 0


def command_pull(arguments: argparse.Namespace) -> int:
    from .llm.resolve import resolve_model

    started = time.perf_counter()
    resolved = resolve_model(arguments.name, progress=_TerminalProgress(), check_memory=False)
    sys.stderr.write("\n")
    if resolved.notice:
        print(resolved.notice, file=sys.stderr)
    print(f"{resolved.name}: {resolved.path} ({resolved.size_bytes / 1e9:.2f} GB, "
          f"{time.perf_counter() - started:.1f} s)")
    return 0


class _TerminalProgress:
    """A one-line progress display for downloads and assembly."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, done: int, total: int, what: str) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and done < total:
            return
        self._last = now
        share = done / total if total else 0
        sys.stderr.write(f"\r{what}: {done / 1e9:.2f} / {total / 1e9:.2f} GB ({share:.0%})")
        sys.stderr.flush()


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
        supervisor.ensure_running()
        status = supervisor.status()
        if status.get("notice"):
            print(status["notice"], file=sys.stderr)
        with supervisor.client() as client, client.stream_chat(
            messages, max_tokens=arguments.max_tokens, temperature=0.0
        ) as stream:
            try:
                for piece in stream:
                    sys.stdout.write(piece)
                    sys.stdout.flush()
            except KeyboardInterrupt:
                stream.cancel()
                print("\n[stopped]", file=sys.stderr)
                return 130
        rate = stream.completion_tokens / stream.seconds if stream.seconds else 0
        print(f"\n[{status['model']} on {status['device']}: {stream.completion_tokens} tokens, "
              f"{rate:.1f} tokens/s, first token after {stream.first_token_seconds or 0:.2f} s]", file=sys.stderr)
    finally:
        supervisor.stop()
    return 0


def command_serve(arguments: argparse.Namespace) -> int:
    from .llm import worker
    from .llm.resolve import resolve_model

    settings = settings_from(arguments)
    resolved = resolve_model(settings.model, progress=_TerminalProgress())
    if resolved.notice:
        print(resolved.notice, file=sys.stderr)
    api_key = arguments.api_key or os.environ.get(worker.WORKER_KEY_VARIABLE) or secrets.token_urlsafe(24)
    os.environ[worker.WORKER_KEY_VARIABLE] = api_key
    print(f"serving {resolved.name} ({resolved.path}) on http://{arguments.host}:{arguments.port}/v1", file=sys.stderr)
    print("point clients at it with:", file=sys.stderr)
    print(f"  export AUTOCODER_ENGINE_URL=http://{arguments.host}:{arguments.port}/v1", file=sys.stderr)
    print(f"  export AUTOCODER_API_KEY={api_key}", file=sys.stderr)
    worker_arguments = [
        "--model", resolved.path, "--model-alias", resolved.name,
        "--host", arguments.host, "--port", str(arguments.port),
        "--n-gpu-layers", str(settings.n_gpu_layers), "--n-ctx", str(settings.n_ctx),
        "--n-threads", str(settings.n_threads), "--draft", settings.draft,
    ]
    if resolved.chat.chat_format:
        worker_arguments += ["--chat-format", resolved.chat.chat_format]
    return worker.main(worker_arguments)


def command_eval(arguments: argparse.Namespace) -> int:
    from . import evaluation
    from .llm.supervisor import EngineSupervisor

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
        print(f"[{finished}] {record['task_id']}: {mark} after {record['rounds']} rounds "
              f"(one-shot {'pass' if record['passed_one_shot'] else 'fail'}, {record['seconds']:.1f} s)",
              file=sys.stderr, flush=True)
        if output is not None:
            output.write(json.dumps(record) + "\n")
            output.flush()

    supervisor = EngineSupervisor(settings_from(arguments))
    try:
        supervisor.ensure_running()
        with supervisor.client() as client:
            report: dict[str, Any] = evaluation.evaluate(
                tasks, client, rounds=arguments.rounds, limit=arguments.limit, progress=progress,
                trace_dir=arguments.trace_dir, retry_temperature=arguments.retry_temperature,
                seed=arguments.seed, timeout=arguments.timeout,
                check_results=arguments.check_results, variable_guard=arguments.variable_guard,
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
        print(f"[{number}] {task.task_id}: {'pass' if passed else 'FAIL'}", file=sys.stderr,
              flush=True)
    checked = len(tasks) - len(missing)
    report = {"tasks": len(tasks), "checked": checked, "passed": checked - len(failed),
              "failed": failed, "without_reference": missing,
              "seconds": round(time.perf_counter() - started, 1)}
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(f"references: {report['passed']} of {checked} pass"
              + (f"; failing: {', '.join(failed)}" if failed else "")
              + (f"; {len(missing)} tasks without a reference" if missing else ""))
    return 1 if failed else 0


def command_export(arguments: argparse.Namespace) -> int:
    from .agent import trace

    count = trace.export_verified(arguments.traces, arguments.output)
    print(f"wrote {count} verified sessions to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
