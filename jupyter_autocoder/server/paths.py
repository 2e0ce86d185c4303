"""Notebook paths from the browser, checked to name something inside the server's root."""

from __future__ import annotations

import os
from typing import Any

from ..errors import PathError

MAX_PATH_CHARS = 4096


def notebook_path(path: Any, root_dir: str) -> str:
    """The canonical API path (`dir/name.ipynb`) for `path`, or PathError.

    Refused: anything but a non-empty string, NUL characters, absolute paths, `..` that
    would leave the root, and (when the file exists) a symlink that resolves outside it.
    """
    if not isinstance(path, str) or not path.strip():
        raise PathError("'notebook' must be the notebook's path, relative to the server root")
    if len(path) > MAX_PATH_CHARS or "\0" in path:
        raise PathError("'notebook' is not a valid path")
    if path.startswith(("/", "\\")) or os.path.isabs(path) or (len(path) > 1 and path[1] == ":"):
        raise PathError(f"notebook path {path!r} must be relative to the server root")
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PathError(f"notebook path {path!r} is outside the server root")
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        raise PathError(f"notebook path {path!r} names no file")
    canonical = "/".join(parts)
    root = os.path.realpath(root_dir)
    real = os.path.realpath(os.path.join(root, *parts))
    if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
        raise PathError(f"notebook path {path!r} is outside the server root")
    return canonical
