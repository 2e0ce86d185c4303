"""`%%autocoder`, the IPython magic: `%load_ext jupyter_autocoder` registers it.

- `magics.py`: the `AutoCoderMagics` class (options, a request, `fix`, `status`, `help`)
- `context.py`: what the model is told of the notebook, and the watch on the user's cells
- `display.py`: how a request shows its work in the cell's output
- `engine.py`: where requests go (AUTOCODER_ENGINE_URL, the Jupyter server's proxy, or this
  kernel's own llama.cpp worker) and what `%autocoder status` says of it

Loading stays light: only IPython's magic machinery is imported here; the agent, the HTTP
client, llama.cpp's supervisor and ipywidgets come with the first request.
"""

from __future__ import annotations

from typing import Any

from .context import MAGIC_NAME
from .magics import AutoCoderMagics

__all__ = ["AutoCoderMagics", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(shell: Any) -> None:
    """Register the magic and start watching the user's cells (for `fix` and the context)."""
    magics = AutoCoderMagics(shell)
    shell.register_magics(magics)
    magics.watch.register()


def unload_ipython_extension(shell: Any) -> None:
    """Unregister the magic, stop watching the cells and stop this kernel's worker."""
    magics = shell.magics_manager.registry.pop(AutoCoderMagics.__name__, None)
    for kind in ("line", "cell"):
        shell.magics_manager.magics[kind].pop(MAGIC_NAME, None)
    if isinstance(magics, AutoCoderMagics):
        magics.close()
