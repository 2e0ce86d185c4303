"""What both Jupyter servers of the browser tests share (imported by their config files).

galata's `configure_jupyter_server` (a temporary root directory, no token, the galata
helper extension); the port from the environment; the agent's history in a temporary
directory; none of the developer's own AUTOCODER_* variables; and the labextension as
built in this working tree (jupyter_autocoder/labextension), ahead of any installed copy,
so that the tests see the code they sit beside.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from jupyterlab.galata import configure_jupyter_server

REPO = Path(__file__).resolve().parents[2]
AUTOCODER_VARIABLES = (
    "AUTOCODER_MODEL",
    "AUTOCODER_ENGINE_URL",
    "AUTOCODER_API_KEY",
    "AUTOCODER_N_GPU_LAYERS",
)


def configure(c: Any, port_variable: str, default_port: int) -> None:
    for name in AUTOCODER_VARIABLES:
        os.environ.pop(name, None)
    configure_jupyter_server(c)
    # Extensions are found by folder name in these directories, the first one winning.
    built = tempfile.mkdtemp(prefix="autocoder-ui-labextensions-")
    os.symlink(
        REPO / "jupyter_autocoder" / "labextension", os.path.join(built, "jupyter-autocoder")
    )
    galata = c.LabServerApp.extra_labextensions_path
    c.LabServerApp.extra_labextensions_path = [built, str(galata)]
    c.ServerApp.port = int(os.environ.get(port_variable, default_port))
    c.ServerApp.jpserver_extensions = {"jupyter_autocoder": True}
    c.AutoCoderApp.sessions_dir = tempfile.mkdtemp(prefix="autocoder-ui-sessions-")
    c.AutoCoder.exec_timeout = 60.0
    c.AutoCoder.max_rounds = 3
    c.AutoCoder.install_policy = "ask"
    c.AutoCoder.package_index_url = ""  # never PyPI: the near-miss check needs no network
