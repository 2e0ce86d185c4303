"""The model worker: a process of its own that runs llama.cpp behind the OpenAI protocol.

It is llama-cpp-python's own server app (`llama_cpp.server`), started the way a supervisor
needs it: the socket is bound before the model loads (so the port is known and a port in
use is a clear error), the key comes through the environment (never the command line,
which `ps` shows), progress is reported as JSON lines on stdout, and the process ends with
its parent so that a model is never left holding memory.

    python -m jupyter_autocoder.llm.worker --model PATH [--host 127.0.0.1] [--port 0] ...
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import json
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

EVENT_PREFIX = "AUTOCODER_WORKER "
WORKER_KEY_VARIABLE = "AUTOCODER_WORKER_KEY"
# "0" turns the prefetching stream off (to measure against llama-cpp-python's own path).
PREFETCH_VARIABLE = "AUTOCODER_WORKER_PREFETCH"
# "0" turns off stopping at a disconnect and reading prompts in parts (to measure them).
EARLY_STOP_VARIABLE = "AUTOCODER_WORKER_EARLY_STOP"


def emit(event: str, **fields: Any) -> None:
    """One line the supervisor reads; anything else on stdout is llama.cpp's own chatter."""
    sys.stdout.write(EVENT_PREFIX + json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Serve one GGUF model over the OpenAI chat protocol."
    )
    parser.add_argument("--model", required=True, help="path to the .gguf file")
    parser.add_argument("--model-alias", default=None, help="the model's name in /v1/models")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--n-gpu-layers", type=int, default=-2, help="-2 decides from GPU memory, -1 all, 0 none"
    )
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--n-threads", type=int, default=0, help="0: a physical core but one")
    parser.add_argument("--n-threads-batch", type=int, default=0, help="0: a physical core but one")
    parser.add_argument("--n-batch", type=int, default=512)
    parser.add_argument(
        "--chat-format", default=None, help="llama.cpp chat format; default: the GGUF's template"
    )
    parser.add_argument("--draft", choices=["none", "prompt-lookup"], default="none")
    parser.add_argument("--parent-pid", type=int, default=0, help="exit when this process is gone")
    parser.add_argument(
        "--completion-ctx",
        type=int,
        default=0,
        help="context size of the inline-completion lane (llm/completion_lane.py); 0: none",
    )
    parser.add_argument(
        "--bandwidth-cache",
        default=None,
        help="record the rate CPU-only decodes read the weights at in this file (bandwidth.json)",
    )
    parser.add_argument(
        "--decode-record-min-bytes",
        type=int,
        default=None,
        help="record decodes of weights at least this large (default: bandwidth.py's)",
    )
    return parser.parse_args(argv)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and accepted
    # sockets inherit it; without it each token on a kept-alive connection can wait 40 ms
    # for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    return sock


def watch_parent(parent_pid: int) -> None:
    """End this worker when the process that started it is gone (killed, crashed)."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class GenerationStopped(Exception):
    """A stopped generation ends while its prompt is read (between two parts)."""


# The generation that the current thread computes, when it is a producer.
_producing = threading.local()
# Tokens of a prompt read between two checks for a stop: a prompt of 1k tokens takes seconds
# on a CPU, and a stop must not wait for all of it. Smaller parts cost prompt speed (measured
# in bench/bench_engine.py's cancel figures).
PROMPT_PART = 128


class _Generation:
    """One streamed completion being computed by a producer thread, a few chunks ahead."""

    END = object()
    AHEAD = 4  # chunks computed ahead of the sender; a client that stops reading stops it here
    model_lock = threading.Lock()  # one generation at a time holds the model
    current: _Generation | None = None
    # Told (decoded tokens after the first, seconds) when a generation ends: the decode
    # figure of `bandwidth.DecodeRecorder`, set only for a model wholly on the CPU.
    recorder: Callable[[int, float], Any] | None = None

    def __init__(self, chunks: Iterator[dict[str, Any]]):
        self.chunks = chunks
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()  # unbounded: END always fits
        self.room = threading.Semaphore(self.AHEAD)
        self.stopping = threading.Event()

    def produce(self) -> None:
        _producing.generation = self  # for the prompt's reading, in this thread (`read_in_parts`)
        timer = _DecodeTimer() if self.recorder is not None else None
        try:
            while self._wait_for_room():
                chunk = next(self.chunks, self.END)
                if timer is not None and chunk is not self.END:
                    timer.note(chunk)
                self.queue.put(chunk)
                if chunk is self.END:
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            self.queue.put(error)
        finally:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()
            self.queue.put(self.END)
            self.model_lock.release()
            if timer is not None and self.recorder is not None:
                timer.report(self.recorder)

    def stop(self) -> None:
        """From any thread: end after the token in flight. A producer waiting for room and a
        sender waiting for a chunk are woken now, not at their next poll or token."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.room.release()
        self.queue.put(self.END)

    def _wait_for_room(self) -> bool:
        while not self.stopping.is_set():
            if self.room.acquire(timeout=0.05):
                return not self.stopping.is_set()
        return False

    def next(self) -> dict[str, Any]:
        item = self.queue.get()
        self.room.release()
        if item is self.END:
            self.queue.put(self.END)  # a later call sees the end too
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item


class _DecodeTimer:
    """When a generation's text-carrying chunks came (one token each): a clock read per
    token, and the figure handed on after the last one, off the decode path."""

    def __init__(self) -> None:
        self.tokens = 0
        self.first = self.last = 0.0

    def note(self, chunk: Any) -> None:
        try:
            text = chunk["choices"][0]["delta"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            return
        if text:
            self.last = time.perf_counter()
            if not self.tokens:
                self.first = self.last
            self.tokens += 1

    def report(self, recorder: Callable[[int, float], Any]) -> None:
        if self.tokens < 2:
            return
        try:
            recorder(self.tokens - 1, self.last - self.first)
        except Exception as error:  # a figure not kept must never break a generation
            emit("note", message=f"the decode figure was not recorded: {error}")


class PrefetchedStream:
    """A streamed completion computed in a thread of its own, ahead of the sender.

    llama-cpp-python's server asks for each next chunk from the event loop through a
    thread hop, so llama.cpp waits while the previous chunk is sent. A producer thread
    keeps llama.cpp busy instead. When a client goes, the server stops reading: the
    producer stops at most AHEAD chunks later, and the next request (which the server's
    own lock lets in only after the previous sender has ended) stops it for good and waits
    for its last token before it touches the model. `StopOnDisconnect` stops it as soon as
    its client goes.
    """

    def __init__(self, chunks: Iterator[dict[str, Any]]):
        self._generation = _Generation(chunks)
        _Generation.current = self._generation
        request = _current_request.get()
        if request is not None:
            request.attach(self._generation)
        threading.Thread(
            target=self._generation.produce, name="llama-generate", daemon=True
        ).start()

    def __iter__(self) -> PrefetchedStream:
        return self

    def __next__(self) -> dict[str, Any]:
        return self._generation.next()

    def close(self) -> None:
        self._generation.stop()

    __del__ = close


class _RequestState:
    """One HTTP request as the threads computing its answer see it: whether its client has
    gone, and the generation started for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gone = False
        self._generation: _Generation | None = None

    def attach(self, generation: _Generation) -> None:
        with self._lock:
            self._generation = generation
            gone = self._gone
        if gone:
            generation.stop()

    def disconnected(self) -> None:
        with self._lock:
            self._gone = True
            generation = self._generation
        if generation is not None:
            generation.stop()


# The request being served; context variables follow it into anyio's worker threads, where
# llama-cpp-python's server calls the model.
_current_request: contextvars.ContextVar[_RequestState | None] = contextvars.ContextVar(
    "autocoder_worker_request", default=None
)


class StopOnDisconnect:
    """ASGI middleware: a client that goes stops its generation at the token in flight.

    llama-cpp-python's server learns of a disconnect only when its sender has the next
    chunk, and stops nothing: the producer went on until the next request stopped it, two
    tokens after the cancel (70 ms on qwen2.5-coder-1.5b on two cores, measured with
    bench/bench_engine.py). The disconnect message passes through here first.
    """

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = _RequestState()
        token = _current_request.set(request)

        async def watched_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.disconnect":
                request.disconnected()
            return message

        try:
            await self.app(scope, watched_receive, send)
        finally:
            _current_request.reset(token)


def read_in_parts(llama_class: Any) -> None:
    """Make a producer read a long prompt in parts of PROMPT_PART tokens, stopping between
    them when its generation is stopped (llama-cpp-python's `eval` reads it in one go)."""
    original = llama_class.eval

    @functools.wraps(original)
    def read(self: Any, tokens: Any) -> None:
        generation = getattr(_producing, "generation", None)
        if generation is None:
            original(self, tokens)
            return
        # Checked before every part, however short: the completion lane's wrapper hands the
        # chat context's prompt over in parts of its own, shorter than ours.
        for start in range(0, len(tokens), PROMPT_PART):
            if generation.stopping.is_set():
                raise GenerationStopped("the client has gone")
            original(self, tokens[start : start + PROMPT_PART])

    llama_class.eval = read


def prefetch_streams(llama_class: Any) -> None:
    """Make streamed chat completions of `llama_class` run in a producer thread."""
    if os.environ.get(EARLY_STOP_VARIABLE, "1") != "0":
        read_in_parts(llama_class)
    original = llama_class.create_chat_completion

    @functools.wraps(original)
    def create_chat_completion(self: Any, *args: Any, **kwargs: Any) -> Any:
        abandoned = _Generation.current
        if abandoned is not None:
            abandoned.stop()  # its sender has ended: nobody reads it any more
        _Generation.model_lock.acquire()  # waits for that generation's last token
        try:
            result = original(self, *args, **kwargs)
        except BaseException:
            _Generation.model_lock.release()
            raise
        if not kwargs.get("stream"):
            _Generation.model_lock.release()
            return result
        return PrefetchedStream(result)

    llama_class.create_chat_completion = create_chat_completion


def load_app(arguments: argparse.Namespace, api_key: str | None) -> tuple[Any, dict[str, Any]]:
    """llama-cpp-python's FastAPI app with the model loaded, and what was decided about offload."""
    import llama_cpp
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    from .chat_format import register_llama_cpp_formats
    from .gguf_file import read_header
    from .hardware import decode_threads, detect_gpu, plan_gpu_layers

    register_llama_cpp_formats()
    if os.environ.get(PREFETCH_VARIABLE, "1") != "0":
        prefetch_streams(llama_cpp.Llama)
    header = read_header(arguments.model)
    supports_offload = bool(llama_cpp.llama_supports_gpu_offload())
    gpu = detect_gpu() if supports_offload else None
    n_layers = header.n_layers or 0
    n_gpu_layers = plan_gpu_layers(
        arguments.n_gpu_layers, os.path.getsize(arguments.model), n_layers, gpu, supports_offload
    )
    n_threads = arguments.n_threads or decode_threads()
    n_threads_batch = arguments.n_threads_batch or decode_threads()
    model_settings = ModelSettings(
        model=arguments.model,
        model_alias=arguments.model_alias or os.path.basename(arguments.model),
        n_gpu_layers=n_gpu_layers,
        n_ctx=arguments.n_ctx,
        n_batch=arguments.n_batch,
        n_threads=n_threads,
        n_threads_batch=n_threads_batch,
        chat_format=arguments.chat_format,
        draft_model="prompt-lookup-decoding" if arguments.draft == "prompt-lookup" else None,
        # The server's default (True) keeps every prompt token's logits: about 0.36 MB a
        # token on smollm2-135m, 1.2 MB on qwen2.5-coder-1.5b, for logprobs nobody asks for
        # (docs/performance.md). Prompt-lookup drafting needs them (its scores array is
        # sized by this setting).
        logits_all=arguments.draft == "prompt-lookup",
        verbose=False,
    )
    server_settings = ServerSettings(
        host=arguments.host,
        port=arguments.port,
        api_key=api_key,
        # A new request must wait its turn, not cut off the stream of another notebook.
        interrupt_requests=False,
    )
    app = create_app(server_settings=server_settings, model_settings=[model_settings])
    from .completion_lane import attach

    completion = attach(app, arguments.completion_ctx, api_key)
    if os.environ.get(EARLY_STOP_VARIABLE, "1") != "0":
        app.add_middleware(StopOnDisconnect)
    # What reaches the GPU: nothing on a build that cannot offload, whatever was asked.
    if not supports_offload:
        offloaded = 0
    else:
        offloaded = n_layers if n_gpu_layers < 0 else min(n_gpu_layers, n_layers)
    device = gpu.kind if (gpu is not None and offloaded > 0) else "cpu"
    # Drafted tokens come several to a step: only plain CPU decodes say what the memory gives.
    recording = bool(arguments.bandwidth_cache) and device == "cpu" and arguments.draft == "none"
    if recording:
        from pathlib import Path

        from .bandwidth import MIN_DECODE_WEIGHT_BYTES, DecodeRecorder

        recorder = DecodeRecorder(
            Path(arguments.bandwidth_cache),
            model_settings.model_alias,
            os.path.getsize(arguments.model),
            min_weight_bytes=(
                MIN_DECODE_WEIGHT_BYTES
                if arguments.decode_record_min_bytes is None
                else arguments.decode_record_min_bytes
            ),
        )
        recording = recorder.enabled
        _Generation.recorder = recorder.record if recording else None
    return app, {
        "device": device,
        "gpu": gpu.name if gpu else None,
        "supports_offload": supports_offload,
        "n_gpu_layers": offloaded,
        "n_layers": n_layers,
        "n_ctx": arguments.n_ctx,
        "n_threads": n_threads,
        "n_threads_batch": n_threads_batch,
        "chat_format": arguments.chat_format or "gguf template",
        "draft": arguments.draft,
        "records_decodes": recording,
        **completion,
    }


def serve(app: Any, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.parent_pid:
        watch_parent(arguments.parent_pid)
    api_key = os.environ.get(WORKER_KEY_VARIABLE) or None
    if api_key is None and arguments.host not in ("127.0.0.1", "localhost", "::1"):
        emit(
            "error",
            message=f"refusing to listen on {arguments.host} without a key ({WORKER_KEY_VARIABLE})",
        )
        return 2
    try:
        sock = bind(arguments.host, arguments.port)
    except OSError as error:
        emit(
            "error",
            message=(
                f"cannot listen on {arguments.host}:{arguments.port}: "
                f"{error.strerror or error}. Is another server using that port? Choose another "
                "with --port."
            ),
        )
        return 2
    emit("listening", host=arguments.host, port=sock.getsockname()[1], pid=os.getpid())
    started = time.perf_counter()
    try:
        app, facts = load_app(arguments, api_key)
    except Exception as error:  # any load failure must reach the user as a message
        emit("error", message=f"llama.cpp could not load {arguments.model}: {error}")
        return 3
    emit("ready", load_seconds=round(time.perf_counter() - started, 3), **facts)
    serve(app, sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
