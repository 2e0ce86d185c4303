"""`%load_ext jupyter_autocoder` is light: it imports neither llama.cpp, nor the server, nor
the HTTP client, nor the agent; they come with the first request."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import REPO_ROOT, clean_environment, python_path

PROBE = r"""
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
before = set(sys.modules)
started = time.perf_counter()
shell.run_line_magic("load_ext", "jupyter_autocoder")
seconds = time.perf_counter() - started
print(json.dumps({
    "seconds": seconds,
    "imported": sorted(set(sys.modules) - before),
    "magics": [
        name for name in ("line", "cell") if "autocoder" in shell.magics_manager.magics[name]
    ],
}))
"""


def test_loading_the_extension_is_light():
    env = clean_environment(PYTHONPATH=python_path())
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO_ROOT),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["magics"] == ["line", "cell"]
    heavy = (
        "llama_cpp",
        "httpx",
        "ipywidgets",
        "tornado",
        "jupyter_server",
        "huggingface_hub",
        "jupyter_autocoder.server",
        "jupyter_autocoder.llm",
        "jupyter_autocoder.agent",
    )
    assert [m for m in probe["imported"] if m.startswith(heavy)] == []
    # Measured at about 0.01 s; a loaded 2-core machine gets a wide margin.
    assert probe["seconds"] < 0.5, probe
