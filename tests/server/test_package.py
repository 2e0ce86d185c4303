"""The package as installed: light to import, one version, the labextension and server
extension where JupyterLab and jupyter_server find them."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_autocoder

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTION = "jupyter-autocoder"
LABEXTENSION = "jupyter-autocoder"


def _installed_files(suffix: str) -> list[Path]:
    """The files of the installed distribution whose path ends with `suffix`."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{DISTRIBUTION} is not installed (pip install . to test the installation)")
    return [
        Path(distribution.locate_file(f))
        for f in distribution.files or []
        if str(f).endswith(suffix)
    ]


def _jupyter(*args: str) -> str:
    # `jupyter X` runs `jupyter-X` from PATH: make it this interpreter's (an unactivated venv).
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "PATH": path},
    )
    return result.stdout + result.stderr  # the extension listings write to stderr


def test_import_is_light():
    code = (
        "import sys, jupyter_autocoder; "
        "print(','.join(m for m in ('llama_cpp', 'jupyter_server', 'tornado', 'httpx', "
        "'huggingface_hub', 'IPython', 'jupyterlab') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_versions_agree():
    package_json = json.loads((REPO / "package.json").read_text())
    assert package_json["version"] == jupyter_autocoder.__version__


def test_extension_entry_points():
    (point,) = jupyter_autocoder._jupyter_server_extension_points()
    assert point["app"].name == "jupyter_autocoder"
    (lab,) = jupyter_autocoder._jupyter_labextension_paths()
    assert lab["dest"] == LABEXTENSION


def test_labextension_is_installed():
    manifests = _installed_files(f"labextensions/{LABEXTENSION}/package.json")
    assert manifests, f"the installed {DISTRIBUTION} carries no labextension"
    manifest = json.loads(manifests[0].read_text())
    assert manifest["name"] == LABEXTENSION
    assert manifest["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")

    listing = _jupyter("labextension", "list")
    lines = [line for line in listing.splitlines() if LABEXTENSION in line and "enabled" in line]
    assert lines, listing


def test_server_extension_is_enabled_by_default():
    configs = _installed_files("jupyter_server_config.d/jupyter_autocoder.json")
    assert configs, f"the installed {DISTRIBUTION} does not enable its server extension"
    assert json.loads(configs[0].read_text())["ServerApp"]["jpserver_extensions"] == {
        "jupyter_autocoder": True
    }

    listing = _jupyter("server", "extension", "list")
    lines = [line for line in listing.splitlines() if "jupyter_autocoder" in line]
    assert any("enabled" in line for line in lines), listing
