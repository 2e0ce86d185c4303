"""Synthetic GGUF models (bench/synth_gguf.py): a model-shaped file loads in the real worker
and decodes exactly the tokens asked for; GPU layers and the memory check, with the sizes of
the real 33B and 6.7B files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import llama_cpp
import pytest

from bench.synth_gguf import (
    SHAPES,
    bytes_read_per_token,
    no_end_bias,
    plan_tensors,
    weight_bytes,
    write_model,
)
from jupyter_autocoder.errors import ModelTooLargeError
from jupyter_autocoder.llm import resolve
from jupyter_autocoder.llm.catalogue import CATALOGUE
from jupyter_autocoder.llm.hardware import GPU, needed_bytes, plan_gpu_layers
from jupyter_autocoder.llm.supervisor import EngineSupervisor
from jupyter_autocoder.llm.worker import EVENT_PREFIX
from jupyter_autocoder.magic.engine import describe_local

GB = 10**9
GIB = 2**30
PROMPT = [{"role": "user", "content": "Write a long story."}]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """The tiny llama shape, 2 layers, Q4_K_M: about 1.5 MB."""
    return str(write_model(tmp_path_factory.mktemp("synthetic") / "tiny.gguf", "tiny", "Q4_K_M"))


def _sparse(tmp_path, shape: str) -> str:
    return str(write_model(tmp_path / f"{shape}.gguf", shape, "Q4_K_M", sparse=True))


# --- the shapes are the real models' ---------------------------------------------------


def test_the_shapes_make_files_of_the_real_models_sizes():
    # The hub's Q4_K_M files (the catalogue's sizes, rounded there to 0.01-0.1 GB): the same
    # tensors, types and shapes give the same bytes, to within that rounding.
    for name in ("autocoder-33b", "autocoder-s-6.7b", "autocoder-qw-7b"):
        listed = CATALOGUE[name].quantisations[0].size_bytes
        assert abs(weight_bytes(SHAPES[name], "Q4_K_M") - listed) / listed < 0.005, name
    # The one real file at hand: Qwen2.5-Coder-1.5B Q4_K_M, whose tensors hold exactly
    # 1,111,370,240 bytes (its 1,117,320,768 less header and tokenizer).
    assert weight_bytes(SHAPES["qwen2.5-coder-1.5b"], "Q4_K_M") == 1_111_370_240


def test_q4_k_m_is_llama_cpps_mix():
    # Read off the real Qwen2.5-Coder-1.5B Q4_K_M file: the layers whose attn_v and
    # ffn_down are Q6_K (llama.cpp counts them in file order: blk.0, blk.1, blk.10, ...).
    shape = SHAPES["qwen2.5-coder-1.5b"]
    types = {t.name: t.type(shape.n_layers, "Q4_K_M").name for t in plan_tensors(shape)}
    layers = range(shape.n_layers)
    q6 = [i for i in layers if types[f"blk.{i}.ffn_down.weight"] == "Q6_K"]
    assert q6 == [0, 1, 5, 6, 7, 8, 9, 10, 13, 16, 19, 21, 24, 27]
    assert all(types[f"blk.{i}.attn_v.weight"] == types[f"blk.{i}.ffn_down.weight"] for i in layers)
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"
    assert types["blk.3.ffn_up.weight"] == "Q4_K" and types["blk.3.attn_q.bias"] == "F32"
    # CodeQwen's 13440-wide rows cannot hold 256-weight K blocks: llama.cpp falls back.
    qw = SHAPES["autocoder-qw-7b"]
    qw_types = {t.name: t.type(qw.n_layers, "Q4_K_M").name for t in plan_tensors(qw)}
    assert {qw_types[f"blk.{i}.ffn_down.weight"] for i in range(qw.n_layers)} == {"Q5_0", "Q8_0"}


def test_a_decoded_token_reads_the_weights_less_the_embedding_table():
    shape = SHAPES["autocoder-s-6.7b"]
    embedding = shape.vocab * shape.hidden // 256 * 144  # Q4_K: 144 bytes per 256 weights
    expected = weight_bytes(shape, "Q4_K_M") - embedding + embedding // shape.vocab
    assert bytes_read_per_token(shape, "Q4_K_M") == expected


# --- the real worker --------------------------------------------------------------------


def test_a_synthetic_model_decodes_exactly_the_tokens_asked_for_in_the_real_worker(
    tiny_model, make_settings
):
    engine = EngineSupervisor(make_settings(model=tiny_model, n_gpu_layers=0))
    engine.start()
    try:
        status = engine.status()
        assert status["state"] == "ready" and status["n_layers"] == 2 and status["device"] == "cpu"
        body = {
            "model": engine.model_name,
            "messages": PROMPT,
            "max_tokens": 48,
            "temperature": 0,
            "logit_bias": no_end_bias(tiny_model),
        }
        headers = {"Authorization": f"Bearer {engine.api_key}"}
        answer = httpx.post(
            f"{engine.base_url}/chat/completions",
            json=body,
            headers=headers,
            timeout=60,
            trust_env=False,
        ).json()
        assert answer["usage"]["completion_tokens"] == 48
        assert answer["choices"][0]["finish_reason"] == "length"
        # streamed through the project's client, the same: no end token cuts a run short
        with (
            engine.client() as client,
            client.stream_chat(
                PROMPT, max_tokens=32, temperature=0, logit_bias=no_end_bias(tiny_model)
            ) as stream,
        ):
            text = "".join(stream)
        assert stream.finish_reason == "length" and text
    finally:
        engine.stop()


def _ready_event(model: str, n_gpu_layers: int) -> dict:
    """What the worker itself reports when it has loaded `model` (then it is stopped)."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_autocoder.llm.worker",
            "--model",
            model,
            "--n-gpu-layers",
            str(n_gpu_layers),
            "--n-ctx",
            "512",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in worker.stdout:  # type: ignore[union-attr]
            if line.startswith(EVENT_PREFIX):
                event = json.loads(line[len(EVENT_PREFIX) :])
                if event["event"] in ("ready", "error"):
                    return event
        raise AssertionError("the worker ended without a ready event")
    finally:
        worker.terminate()
        worker.wait(10)


def test_status_shows_the_device_and_layers_the_worker_reports(tiny_model, make_settings):
    # All layers asked for: a build that can offload puts both on the GPU; this CPU build
    # puts none there, and must not claim it did.
    offloaded = 2 if llama_cpp.llama_supports_gpu_offload() else 0
    reported = _ready_event(tiny_model, -1)
    assert reported["event"] == "ready" and reported["n_gpu_layers"] == offloaded
    engine = EngineSupervisor(make_settings(model=tiny_model, n_gpu_layers=-1))
    engine.start()
    try:
        status = engine.status()
    finally:
        engine.stop()
    for key in ("device", "n_gpu_layers", "n_layers"):
        assert status[key] == reported[key], key
    # what `%autocoder status` prints from it
    line = describe_local(status)
    assert f"on {reported['device']} ({offloaded} of 2 layers offloaded to the GPU)" in line


# --- GPU layers and the memory check, with the real files' sizes ------------------------


def test_gpu_layers_follow_the_free_gpu_memory_for_the_real_sizes(tmp_path):
    big = os.path.getsize(_sparse(tmp_path, "autocoder-33b"))  # 19.9 GB, no disk used
    small = os.path.getsize(_sparse(tmp_path, "autocoder-s-6.7b"))  # 4.08 GB
    assert 19.9 * GB < big < 20.0 * GB and 4.0 * GB < small < 4.2 * GB
    h200 = GPU("cuda", "NVIDIA H200", 141 * GB, 140 * GB)
    rtx_4090 = GPU("cuda", "RTX 4090", 24 * GIB, 23 * GIB)
    sixteen_gb = GPU("cuda", "16 GB card", 16 * GIB, int(15.5 * GIB))
    laptop = GPU("cuda", "laptop GPU", 4 * GIB, int(3.5 * GIB))
    assert plan_gpu_layers(-2, big, 62, h200, supports_offload=True) == -1  # all
    assert plan_gpu_layers(-2, big, 62, rtx_4090, supports_offload=True) == -1
    assert plan_gpu_layers(-2, small, 32, sixteen_gb, supports_offload=True) == -1
    for gpu, size, layers in ((sixteen_gb, big, 62), (laptop, small, 32)):
        share = plan_gpu_layers(-2, size, layers, gpu, supports_offload=True)
        assert 0 < share < layers
        # the layers put there fit the free memory, and two more would not have
        assert needed_bytes(size * share // layers) <= gpu.free_bytes
        assert needed_bytes(size * (share + 2) // layers) > gpu.free_bytes
    # a CPU-only build, or no GPU: nothing offloaded
    assert plan_gpu_layers(-2, small, 32, h200, supports_offload=False) == 0
    assert plan_gpu_layers(-2, small, 32, None, supports_offload=True) == 0


def test_a_model_too_large_for_ram_and_gpu_is_refused_with_what_to_do(tmp_path, monkeypatch):
    big, small = _sparse(tmp_path, "autocoder-33b"), _sparse(tmp_path, "autocoder-s-6.7b")
    monkeypatch.setattr(resolve, "ram_bytes", lambda: (16 * GIB, 12 * GIB))  # a 16 GB laptop
    six_gb = GPU("cuda", "6 GB card", 6 * GIB, 6 * GIB)
    with pytest.raises(ModelTooLargeError) as raised:
        resolve.resolve_model(big, gpu=six_gb)
    message = str(raised.value)
    assert "needs about 23.5 GB" in message and "has 21.9 GB" in message
    assert "Choose a smaller model (autocoder-s-6.7b" in message
    assert resolve.resolve_model(small, gpu=six_gb).path == small
    monkeypatch.setattr(resolve, "detect_gpu", lambda: None)
    with pytest.raises(ModelTooLargeError):  # nor without a GPU
        resolve.resolve_model(big, gpu=None)
    # a 24 GB card with that RAM holds the 33B
    resolved = resolve.resolve_model(big, gpu=GPU("cuda", "RTX 4090", 24 * GIB, 23 * GIB))
    assert resolved.n_layers == 62 and resolved.header.architecture == "llama"
