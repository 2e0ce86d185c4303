"""A client that goes stops its generation in the worker at the token in flight, without
waiting for another request to come (llama-cpp-python's server, left alone, keeps the
producer thread and the model until the next request stops them), and a prompt being read
stops between two parts of it rather than at its end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# The worker's own app in a process of its own (it patches llama_cpp.Llama), served by uvicorn
# in a thread, so that the generation's thread can be watched.
SCRIPT = r"""
import json, sys, threading, time
from jupyter_autocoder.llm import worker
from jupyter_autocoder.llm.client import ModelClient
import llama_cpp.server.app as llama_server

arguments = worker.parse_arguments(
    ["--model", sys.argv[1], "--n-ctx", "2048", "--n-gpu-layers", "0"]
)
app, _ = worker.load_app(arguments, "key")
sock = worker.bind("127.0.0.1", 0)
threading.Thread(target=worker.serve, args=(app, sock), daemon=True).start()
client = ModelClient(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", "key", model="m")
essay = [{"role": "user", "content": "Write a very long essay about the history of computing."}]

def generating():
    return [t for t in threading.enumerate() if t.name == "llama-generate" and t.is_alive()]

with client.stream_chat(essay, max_tokens=2000, temperature=0) as stream:
    for index, _ in enumerate(stream):
        if index == 5:
            assert generating(), "the answer is computed in the producer thread"
            cancelled_at = time.perf_counter()
            stream.cancel()
while generating() and time.perf_counter() - cancelled_at < 30:
    time.sleep(0.005)
stopped_after = time.perf_counter() - cancelled_at if not generating() else None
model_free = worker._Generation.model_lock.acquire(timeout=0.1)
if model_free:
    worker._Generation.model_lock.release()
answer = client.chat([{"role": "user", "content": "Say yes."}], max_tokens=4, temperature=0)

# A long prompt (about 1.4k tokens), cancelled while it is read; then the whole of another.
code = "\n".join(
    f"def feature_{i}(frame):\n    return frame['c{i}'].mean() * {i}" for i in range(60)
)
def prompt(tag):
    return [{"role": "user", "content": f"{tag}\n```python\n{code}\n```\nExplain feature_3."}]
stream = client.stream_chat(prompt("First."), max_tokens=4, temperature=0)
reader = threading.Thread(target=lambda: list(stream), daemon=True)
reader.start()
waited = time.perf_counter()
while not generating() and time.perf_counter() - waited < 30:
    time.sleep(0.001)
stream.cancel()
while generating() and time.perf_counter() - waited < 120:
    time.sleep(0.005)
model = llama_server._llama_proxy._current_model
read_when_stopped = model.n_tokens
client.chat(prompt("Second."), max_tokens=1, temperature=0)
print(json.dumps({
    "stopped_after": stopped_after, "model_free": model_free, "answer": answer,
    "read_when_stopped": read_when_stopped, "read_whole": model.n_tokens,
}))
"""


def test_a_client_that_goes_stops_its_generation_without_another_request(small_model_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, small_model_path],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    # It ends by itself (a token of this model takes milliseconds; how soon is measured in
    # bench/bench_engine.py, as the time here depends on the machine's other load).
    assert outcome["stopped_after"] is not None, outcome
    assert outcome["model_free"]
    assert outcome["answer"]  # and the next request is served
    # A prompt being read stops at the next part of it (128 tokens), not at its end.
    assert outcome["read_whole"] > 1000, outcome
    assert outcome["read_when_stopped"] < outcome["read_whole"] / 2, outcome
