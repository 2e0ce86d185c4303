"""The worker's lane for inline completions: a second llama.cpp context over the same model,
served ahead of chat.

One llama.cpp context serves one request at a time, so a completion used to wait behind a
streaming agent answer (measured: a 14-token completion took 9 s during an agent turn). The
lane is a context of its own on the *same* loaded model (the weights are shared, only its
KV cache and buffers are new: +50 MB for SmolLM2-135M at 2,048 tokens, where a second
`Llama` from the same file took +157 MB), and a gate gives it the CPU: while a completion
runs, the chat context waits between chunks of its prompt and between its tokens, and goes
on where it stopped afterwards (its own cache intact).

A completion is stopped between chunks of 64 prompt tokens and between tokens as soon as its
client goes (a newer keystroke), so the next one starts at once.

Routes, on the worker's loopback socket with its key (the server's completion route is the
only caller; the OpenAI proxy does not reach them):

- `POST /autocoder/completions`: an OpenAI completions body (`prompt`, or `messages` for
  the chat fallback; `max_tokens`, `temperature`, `stop`), streamed as OpenAI chunks, then
  one chunk with `usage` (`prompt_tokens`, `cached_tokens`: how many of the prompt's tokens
  the lane's cache already held, `completion_tokens`).
- `GET /autocoder/lane`: whether the lane is busy, and its counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hmac
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

EVAL_CHUNK = 64  # prompt tokens evaluated between two looks at the gate or the stop flag
MAX_TOKENS = 1024
_END = object()


class CompletionCancelledError(Exception):
    """Raised inside llama.cpp's evaluation loop when the completion's client has gone."""


class ComputeThread:
    """Runs every llama.cpp evaluation of the worker, of both contexts, on one long-lived
    thread, completions first.

    llama.cpp's CPU build here uses OpenMP, and libgomp hung (measured: both threads of a
    team waiting in a barrier forever) when a thread that had evaluated ended while
    another thread's generation was still going, which is what a completion thread does
    during a chat answer. On one thread the teams are always the same; it also keeps the
    two contexts from computing at once (they would only share the cores).
    """

    def __init__(self) -> None:
        self._requests: queue.PriorityQueue[Any] = queue.PriorityQueue()
        self._order = itertools.count()
        threading.Thread(target=self._serve, name="autocoder-compute", daemon=True).start()

    def call(self, priority: int, function: Any, *args: Any) -> Any:
        """`function(*args)` on the compute thread; a lower `priority` goes first."""
        done = threading.Event()
        outcome: dict[str, Any] = {}
        self._requests.put((priority, next(self._order), function, args, outcome, done))
        done.wait()
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("result")

    def route(self, llama: Any, priority: int) -> None:
        """Send the evaluations of `llama`'s context to this thread."""
        context = llama._ctx
        decode = context.decode
        context.decode = lambda batch: self.call(priority, decode, batch)

    def _serve(self) -> None:
        while True:
            _, _, function, args, outcome, done = self._requests.get()
            try:
                outcome["result"] = function(*args)
            except BaseException as error:  # handed to the caller, which raises it
                outcome["error"] = error
            done.set()


class PriorityGate:
    """Held while a completion runs: the chat context waits at it between chunks of its
    prompt and between its tokens, and goes on where it stopped afterwards."""

    def __init__(self) -> None:
        self._holders = 0
        self._changed = threading.Condition()

    @property
    def held(self) -> bool:
        return self._holders > 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._changed:
            self._holders += 1
        try:
            yield
        finally:
            with self._changed:
                self._holders -= 1
                self._changed.notify_all()

    def wait(self) -> None:
        with self._changed:
            while self._holders:
                self._changed.wait()


def yield_to_completions(llama: Any, gate: PriorityGate) -> None:
    """Make `llama` (the chat context) evaluate in chunks of its prompt, or one token, and
    wait between them while a completion runs."""
    evaluate = llama.eval

    def eval(tokens: Any) -> None:  # noqa: A001 - llama.cpp's own name
        tokens = list(tokens)
        for start in range(0, len(tokens), EVAL_CHUNK):
            gate.wait()
            evaluate(tokens[start : start + EVAL_CHUNK])

    llama.eval = eval


def fim_tokens(llama: Any) -> dict[str, str]:
    """The fill-in-the-middle tokens llama.cpp found for this model (from the GGUF's
    metadata, or the tokens of a known family in its vocabulary); {} when it has none."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    found = {}
    for name, function in (
        ("prefix", llama_cpp.llama_vocab_fim_pre),
        ("suffix", llama_cpp.llama_vocab_fim_suf),
        ("middle", llama_cpp.llama_vocab_fim_mid),
        ("pad", llama_cpp.llama_vocab_fim_pad),
        ("sep", llama_cpp.llama_vocab_fim_sep),
        ("repo", llama_cpp.llama_vocab_fim_rep),
    ):
        token = function(vocab)
        if token >= 0:
            found[name] = llama.detokenize([token], special=True).decode("utf-8", "replace")
    if not all(found.get(key) for key in ("prefix", "suffix", "middle")):
        return {}
    eos = llama.token_eos()
    if eos >= 0:
        found["eos"] = llama.detokenize([eos], special=True).decode("utf-8", "replace")
    return found


def second_context(main: Any, n_ctx: int) -> Any:
    """A `Llama` that shares `main`'s loaded model but has a context (KV cache, batch,
    sampler) of its own. llama.cpp allows several contexts per model; llama-cpp-python has
    no public way to make one, so this copies the object's state (not `copy.copy`, which
    would load the model again through its pickling hooks) and replaces the context's parts.
    """
    import numpy as np
    from llama_cpp import _internals as internals

    lane = object.__new__(type(main))
    lane.__dict__.update(main.__dict__)
    lane.__dict__.pop("eval", None)  # a wrapper set on main's instance acts on main's context
    lane._stack = contextlib.ExitStack()  # closes this context only; the model stays main's
    params = type(main.context_params).from_buffer_copy(main.context_params)
    params.n_ctx = n_ctx
    lane.context_params = params
    lane._ctx = lane._stack.enter_context(
        contextlib.closing(internals.LlamaContext(model=main._model, params=params, verbose=False))
    )
    lane._batch = lane._stack.enter_context(
        contextlib.closing(
            internals.LlamaBatch(n_tokens=main.n_batch, embd=0, n_seq_max=n_ctx, verbose=False)
        )
    )
    lane._n_ctx = lane.n_ctx()
    lane._candidates = internals.LlamaTokenDataArray(n_vocab=lane._n_vocab)
    lane.n_tokens = 0
    lane._requires_eval = True
    lane._sampler = None
    lane.input_ids = np.ndarray((n_ctx,), dtype=np.intc)
    # Logits of the last token only: a completion never asks for logprobs, and logits of
    # every prompt token cost the vocabulary projection for each (llama_cpp.server's
    # default, logits_all=True, does that for the chat context).
    lane._logits_all = False
    lane.scores = np.ndarray((main.n_batch, lane._n_vocab), dtype=np.single)
    lane._chat_handlers = {}
    lane.cache = None
    lane.draft_model = None
    lane._mirostat_mu = ctypes.c_float(10.0)
    return lane


class CompletionLane:
    """One completion at a time in its own context, ahead of chat (see the module's doc)."""

    def __init__(self, llama: Any, gate: PriorityGate):
        self.llama = llama
        self.gate = gate
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self.busy = False
        self.requests = 0
        self.cancelled = 0
        self.generated_tokens = 0
        self.last_usage: dict[str, Any] = {}
        evaluate = llama.eval

        def eval(tokens: Any) -> None:  # noqa: A001 - llama.cpp's own name
            tokens = list(tokens)
            for start in range(0, len(tokens), EVAL_CHUNK):
                if self._stop is not None and self._stop.is_set():
                    raise CompletionCancelledError
                evaluate(tokens[start : start + EVAL_CHUNK])

        llama.eval = eval

    def status(self) -> dict[str, Any]:
        return {
            "busy": self.busy,
            "chat_waiting": self.gate.held,
            "requests": self.requests,
            "cancelled": self.cancelled,
            "generated_tokens": self.generated_tokens,
            "last_usage": self.last_usage,
            "n_ctx": self.llama.n_ctx(),
        }

    def cached_prefix(self, tokens: list[int]) -> int:
        """How many leading `tokens` the lane's context already holds."""
        held = self.llama.input_ids[: self.llama.n_tokens]
        count = 0
        for old, new in zip(held, tokens):
            if old != new:
                break
            count += 1
        return count

    def generate(self, body: dict[str, Any], stop: threading.Event) -> Iterator[dict[str, Any]]:
        """The chunks of one completion; ends early once `stop` is set (the client went)."""
        with self._lock:  # a newer request waits here until the cancelled one has stopped
            if stop.is_set():
                return
            self._stop = stop
            self.busy = True
            self.requests += 1
            started = time.perf_counter()
            usage: dict[str, Any] = {}
            produced = 0
            try:
                with self.gate.hold():
                    params = {
                        "max_tokens": body["max_tokens"],
                        "temperature": body["temperature"],
                        "stop": body["stop"],
                        "stream": True,
                    }
                    if "messages" in body:
                        # The class's own method, not the worker's prefetching wrapper,
                        # which would queue this behind the chat context's model lock.
                        chat = type(self.llama).create_chat_completion
                        chat = getattr(chat, "__wrapped__", chat)
                        chunks = chat(self.llama, messages=body["messages"], **params)
                    else:
                        prompt = body["prompt"]
                        tokens = self.llama.tokenize(prompt.encode("utf-8"), special=True)
                        usage = {
                            "prompt_tokens": len(tokens),
                            "cached_tokens": self.cached_prefix(tokens),
                        }
                        chunks = self.llama.create_completion(prompt=prompt, **params)
                    try:
                        for chunk in chunks:
                            if stop.is_set():
                                break
                            produced += 1
                            yield chunk
                    finally:
                        chunks.close()
            except CompletionCancelledError:
                pass
            finally:
                if stop.is_set():
                    self.cancelled += 1
                self.generated_tokens += produced
                self.last_usage = {
                    **usage,
                    "completion_tokens": produced,
                    "seconds": round(time.perf_counter() - started, 3),
                    "cancelled": stop.is_set(),
                }
                self._stop = None
                self.busy = False
        yield {"choices": [], "usage": dict(self.last_usage)}


def checked_body(payload: Any) -> dict[str, Any]:
    """The request's parameters, checked; ValueError says what is wrong."""
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    body: dict[str, Any] = {}
    if isinstance(payload.get("messages"), list):
        messages = payload["messages"]
        if not all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise ValueError("'messages' must be chat messages with a role and a content")
        body["messages"] = [{"role": m["role"], "content": m["content"]} for m in messages]
    elif isinstance(payload.get("prompt"), str):
        body["prompt"] = payload["prompt"]
    else:
        raise ValueError("a completion needs a 'prompt' (text) or 'messages'")
    max_tokens = payload.get("max_tokens", 64)
    if not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_TOKENS:
        raise ValueError(f"'max_tokens' must be an integer from 1 to {MAX_TOKENS}")
    temperature = payload.get("temperature", 0.0)
    if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise ValueError("'temperature' must be a number from 0 to 2")
    stop = payload.get("stop") or []
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop) or len(stop) > 16:
        raise ValueError("'stop' must be a list of at most 16 strings")
    body.update(max_tokens=max_tokens, temperature=float(temperature), stop=stop)
    return body


def add_routes(app: Any, lane: CompletionLane, api_key: str | None) -> None:
    """The lane's routes on the worker's FastAPI app."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, StreamingResponse

    def authorized(request: Request) -> bool:
        if not api_key:
            return True
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), api_key.encode()
        )

    async def lane_status(request):  # type: ignore[no-untyped-def]
        if not authorized(request):
            return JSONResponse({"error": {"message": "Invalid API key"}}, status_code=401)
        return lane.status()

    async def complete(request):  # type: ignore[no-untyped-def]
        if not authorized(request):
            return JSONResponse({"error": {"message": "Invalid API key"}}, status_code=401)
        try:
            body = checked_body(await request.json())
        except (ValueError, json.JSONDecodeError) as error:
            return JSONResponse({"error": {"message": str(error)}}, status_code=400)
        return StreamingResponse(_events(lane, body), media_type="text/event-stream")

    # FastAPI reads the parameter's type to hand over the request; this module's postponed
    # annotations would be strings it cannot resolve, so the type is given as an object.
    for endpoint in (lane_status, complete):
        endpoint.__annotations__ = {"request": Request}
    app.add_api_route("/autocoder/lane", lane_status, methods=["GET"])
    app.add_api_route("/autocoder/completions", complete, methods=["POST"])


async def _events(lane: CompletionLane, body: dict[str, Any]) -> Any:
    """Server-sent events of one completion, computed in a thread; leaving (the client
    went: starlette cancels this generator) sets the stop flag, and llama.cpp stops."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in lane.generate(body, stop):
                loop.call_soon_threadsafe(items.put_nowait, chunk)
        except BaseException as error:  # handed to the sender, which reports it
            log.exception("completion failed")
            loop.call_soon_threadsafe(items.put_nowait, error)
        finally:
            loop.call_soon_threadsafe(items.put_nowait, _END)

    threading.Thread(target=produce, name="autocoder-complete", daemon=True).start()
    try:
        while True:
            item = await items.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                yield "data: " + json.dumps({"error": {"message": str(item)}}) + "\n\n"
                break
            yield "data: " + json.dumps(item) + "\n\n"
        yield "data: [DONE]\n\n"
    finally:
        stop.set()


def attach(app: Any, n_ctx: int, api_key: str | None) -> dict[str, Any]:
    """Report the model's FIM tokens and, with `n_ctx` > 0, open the completion lane on
    `app` (llama-cpp-python's server app, its model loaded). Returns the facts for the
    worker's `ready` event: `fim` (the tokens, {} for none) and `completion_ctx`."""
    from llama_cpp.server import app as server_app

    main = server_app._llama_proxy._current_model
    facts: dict[str, Any] = {"fim": fim_tokens(main), "completion_ctx": 0}
    if n_ctx > 0:
        gate = PriorityGate()
        lane = CompletionLane(second_context(main, n_ctx), gate)
        compute = ComputeThread()
        compute.route(lane.llama, priority=0)
        compute.route(main, priority=1)
        yield_to_completions(main, gate)
        add_routes(app, lane, api_key)
        facts["completion_ctx"] = n_ctx
    return facts
