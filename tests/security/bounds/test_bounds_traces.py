"""Traces hold whole conversations and outputs: they are written 0600 in a 0700 folder, as the
history is, and kept within a size and an age (`c.AutoCoder.trace_max_mb`,
`trace_max_age_days`), also by `jupyter-autocoder traces --prune`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest
from bounds_support import make_notebook, stdout_of

from jupyter_autocoder.agent.trace import read_trace

CODE = "```python\nprint('traced')\n```"
DAY = 24 * 3600


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def old_trace(directory, name: str, size: int, age_days: float):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text('{"type": "session"}\n' + "x" * size + "\n")
    then = time.time() - age_days * DAY
    os.utime(path, (then, then))
    return path


@pytest.fixture
def trace_limits() -> dict:
    return {}


@pytest.fixture
def jp_server_config(jp_server_config, trace_limits):
    jp_server_config.AutoCoder.update(trace_limits)
    return jp_server_config


async def test_traces_are_written_private(
    open_socket, autocoder, engine_responder, sessions_dir, jp_root_dir
):
    # Before the fix: -rw-r--r-- in a drwxr-xr-x folder, with the whole conversation in it.
    engine_responder.function = lambda body: CODE
    socket = await open_socket(run_cell=stdout_of("traced\n"))
    notebook = make_notebook(jp_root_dir, "t.ipynb")
    events = await socket.turn({"type": "start", "notebook": notebook, "request": "trace me"})
    trace_path = events[-1]["trace_path"]
    assert any(record.get("content") == CODE for record in read_trace(trace_path))
    assert mode_of(trace_path) == 0o600
    assert mode_of(sessions_dir / "traces") == 0o700
    assert mode_of(sessions_dir) == 0o700
    for path in sessions_dir.glob("*.json*"):
        assert mode_of(path) == 0o600


@pytest.mark.parametrize("trace_limits", [{"trace_max_mb": 1, "trace_max_age_days": 30}])
async def test_traces_are_kept_within_a_size_and_an_age(
    open_socket, autocoder, engine_responder, sessions_dir, jp_root_dir, trace_limits
):
    traces = sessions_dir / "traces"
    ancient = old_trace(traces, "20200101-000000-ancient.jsonl", 1000, age_days=400)
    bulky = [
        old_trace(traces, f"2026010{n}-000000-bulky{n}.jsonl", 400_000, age_days=10 - n)
        for n in range(4)
    ]
    unrelated = traces / "notes.txt"
    unrelated.write_text("not a trace")
    engine_responder.function = lambda body: CODE
    socket = await open_socket(run_cell=stdout_of("traced\n"))
    notebook = make_notebook(jp_root_dir, "r.ipynb")
    events = await socket.turn({"type": "start", "notebook": notebook, "request": "trace me"})

    left = sorted(path.name for path in traces.glob("*.jsonl"))
    assert not ancient.exists()  # older than 30 days
    assert sum(path.stat().st_size for path in traces.glob("*.jsonl")) <= 1024 * 1024
    assert os.path.basename(events[-1]["trace_path"]) in left  # the new one is kept
    assert [name for name in left if "bulky" in name] == [
        bulky[2].name,
        bulky[3].name,
    ]  # the newest
    assert unrelated.exists()


def run_cli(*arguments: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_autocoder.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_the_traces_command_lists_and_prunes(tmp_path):
    traces = tmp_path / "traces"
    old = old_trace(traces, "20200101-000000-old.jsonl", 10, age_days=100)
    recent = [
        old_trace(traces, f"2026020{n}-000000-r{n}.jsonl", 300_000, age_days=5 - n)
        for n in range(3)
    ]

    listed = run_cli("traces", "--dir", str(traces))
    assert listed.returncode == 0, listed.stderr
    assert "4 traces" in listed.stdout and str(traces) in listed.stdout
    assert old.exists()  # listing removes nothing

    pruned = run_cli(
        "traces", "--dir", str(traces), "--prune", "--max-age-days", "30", "--max-mb", "0.5"
    )
    assert pruned.returncode == 0, pruned.stderr
    assert not old.exists() and not recent[0].exists() and not recent[1].exists()
    assert recent[2].exists()
    assert "removed 3 traces" in pruned.stdout


def test_the_traces_command_prunes_the_standard_folders_by_default(tmp_path):
    data = tmp_path / "data"
    magic_traces = data / "autocoder" / "traces"
    panel_traces = data / "autocoder" / "sessions" / "traces"
    stale = [
        old_trace(folder, "20200101-000000-stale.jsonl", 10, age_days=365)
        for folder in (magic_traces, panel_traces)
    ]
    fresh = old_trace(panel_traces, "20260101-000000-fresh.jsonl", 10, age_days=1)
    environment = {"JUPYTER_DATA_DIR": str(data)}
    pruned = run_cli("traces", "--prune", env=environment)
    assert pruned.returncode == 0, pruned.stderr
    assert not any(path.exists() for path in stale) and fresh.exists()
