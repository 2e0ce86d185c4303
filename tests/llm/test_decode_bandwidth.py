"""A real decode corrects `auto`'s bandwidth figure: the worker, on the CPU alone, records the
rate at which it read the model's weights, in the cache beside the probe's figure."""

from __future__ import annotations

import os
import time

from jupyter_autocoder.llm import bandwidth
from jupyter_autocoder.llm.choice import Machine
from jupyter_autocoder.llm.supervisor import EngineSupervisor

ESSAY = [{"role": "user", "content": "Write a very long essay about the history of computing."}]


def wait_for_figure(cache, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = bandwidth.decode_bandwidth(cache)
        if found:
            return found
        time.sleep(0.05)
    return None


def test_a_cpu_decode_records_the_rate_it_read_the_weights_at(
    tmp_path, monkeypatch, make_settings, small_model_path
):
    monkeypatch.setenv("AUTOCODER_CACHE_DIR", str(tmp_path))  # where the supervisor points it
    cache = tmp_path / "bandwidth.json"
    command = EngineSupervisor._command
    # smollm2-135m is below the size whose decodes count (its per-token cost dominates):
    # the test lets it count, to decode in seconds.
    monkeypatch.setattr(
        EngineSupervisor,
        "_command",
        lambda self, resolved: [*command(self, resolved), "--decode-record-min-bytes", "0"],
    )
    engine = EngineSupervisor(make_settings())
    engine.start()
    try:
        with engine.client() as client:
            with client.stream_chat(ESSAY, max_tokens=8, temperature=0) as stream:
                list(stream)
            time.sleep(0.5)
            assert not cache.exists()  # 8 tokens say nothing of the memory

            with client.stream_chat(ESSAY, max_tokens=96, temperature=0) as stream:
                list(stream)
            assert stream.completion_tokens >= 40
            found = wait_for_figure(cache)
    finally:
        engine.stop()
    assert found is not None
    figure, model = found
    assert model == "smollm2-135m"
    tokens_per_second = figure / os.path.getsize(small_model_path)
    assert 5 < tokens_per_second < 2000, tokens_per_second
    machine = Machine(
        cpu_cores=2,
        ram_total=24 * 2**30,
        ram_available=20 * 2**30,
        cpu_bandwidth=46e9,
        cpu_decode_bandwidth=figure,
        cpu_decode_model=model,
    )
    assert "measured from decodes of smollm2-135m" in machine.describe()
