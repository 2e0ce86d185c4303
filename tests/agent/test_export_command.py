"""`jupyter-autocoder export OUT.jsonl` as the README shows it: no `--traces`, the standard
trace directories of the magic and CLI and of the panel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def py(code: str) -> str:
    return f"Here is the code:\n```python\n{code}\n```"


def run_export(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, JUPYTER_DATA_DIR=str(data_dir))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "jupyter_autocoder.cli", "export", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_export_without_traces_reads_the_standard_directories(
    kernel, engine, make_session, tmp_path
):
    data = tmp_path / "data"
    engine.enqueue(
        py("answer = 42\nprint(answer)"),
        py("greeting = 'hello'\nprint(greeting)"),
        py("raise RuntimeError('never works')"),
    )
    from_the_magic = make_session(kernel, trace_dir=str(data / "autocoder" / "traces"))
    list(from_the_magic.run("define `answer`"))
    from_the_panel = make_session(kernel, trace_dir=str(data / "autocoder" / "sessions" / "traces"))
    list(from_the_panel.run("define `greeting`"))
    failed = make_session(kernel, max_rounds=1, trace_dir=str(data / "autocoder" / "traces"))
    list(failed.run("break"))

    out = tmp_path / "out" / "verified.jsonl"
    result = run_export(data, str(out))

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"wrote 2 verified sessions to {out}" in result.stdout
    entries = [json.loads(line) for line in out.read_text().splitlines()]
    answers = sorted(entry["messages"][-1]["content"] for entry in entries)
    assert "answer = 42" in answers[0] and "greeting = 'hello'" in answers[1]


def test_export_says_where_it_looked_when_there_is_nothing(tmp_path):
    result = run_export(tmp_path / "empty", str(tmp_path / "verified.jsonl"))

    assert result.returncode == 0, result.stderr
    assert "wrote 0 verified sessions" in result.stdout
    assert str(tmp_path / "empty" / "autocoder" / "traces") in result.stdout
