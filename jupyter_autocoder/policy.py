"""The admin's policy for a server that several people share (JupyterHub and the like).

An admin presets the model and says what users may change, in `c.AutoCoder`:
`allowed_models` (names or shell-style patterns), `allow_downloads`,
`allowed_install_policies`, `max_rounds_limit`, and `allowed_model_paths` (folders whose
.gguf files may be loaded by path besides the model caches). `AdminPolicy` reads them
from the settings each time it is asked, and answers a refusal with a `PolicyError` that
names the setting. The server asks it before a model action, a proxied request and a turn;
the supervisor before it loads a model; the magic before a cell's options apply.
"""

from __future__ import annotations

import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from .config import INSTALL_POLICIES, AutoCoder
from .errors import ModelFileError, PolicyError

# The default of c.AutoCoder.max_rounds_limit, and the protocol's own limit of a turn.
MAX_ROUNDS_LIMIT = 10


class AdminPolicy:
    """What `settings` (an `AutoCoder`) allow; the settings are read at every question."""

    def __init__(self, settings: AutoCoder):
        self.settings = settings

    # --- models ---------------------------------------------------------------------------

    def model_allowed(self, name: str) -> bool:
        """Whether a pattern of `allowed_models` matches `name` (paths by their case, names
        and hf: references in any case, as the catalogue and the hub take them)."""
        patterns = self.settings.allowed_models
        if not patterns:
            return True
        if os.path.isabs(name):
            return any(fnmatchcase(name, pattern) for pattern in patterns)
        return any(fnmatchcase(name.lower(), pattern.lower()) for pattern in patterns)

    def check_model(self, name: str, action: str = "use") -> None:
        """Refuse a model that `allowed_models` does not name (`action`: what was asked)."""
        if not self.model_allowed(name):
            allowed = ", ".join(self.settings.allowed_models)
            raise PolicyError(
                f"Cannot {action} {name!r}: this server allows only {allowed} "
                "(c.AutoCoder.allowed_models).",
                "allowed_models",
            )

    def check_download(self, what: str) -> None:
        if not self.settings.allow_downloads:
            raise PolicyError(
                f"Cannot {what}: downloads are turned off on this server "
                "(c.AutoCoder.allow_downloads = False).",
                "allow_downloads",
            )

    def model_folders(self) -> list[Path]:
        """Where model files may be loaded from: the assembled models, the hub's cache, and
        the folders the admin adds."""
        from huggingface_hub import constants

        from .llm.resolve import cache_dir

        folders = [cache_dir() / "models", Path(constants.HF_HUB_CACHE)]
        return folders + [
            Path(os.path.expanduser(folder)) for folder in self.settings.allowed_model_paths
        ]

    @staticmethod
    def packaged_files() -> set[str]:
        """The real paths of the model files that installed PyPI packages of the catalogue
        ship (each file itself, not its package's folder: the status reports these paths)."""
        from .llm.catalogue import CATALOGUE
        from .llm.resolve import packaged_path

        paths = (packaged_path(spec) for spec in CATALOGUE.values() if spec.source == "pypi")
        return {os.path.realpath(path) for path in paths if path}

    def loadable_path(self, name: str) -> str:
        """The real path of the model file `name`, when it lies in a model folder.

        A path elsewhere is refused with the same words whether or not a file is there, so
        the answer says nothing of the rest of the filesystem; links and dot segments are
        resolved first (a link in a model folder to a file elsewhere is elsewhere)."""
        path = os.path.realpath(os.path.expanduser(name))
        folders = [os.path.realpath(folder) for folder in self.model_folders()]
        in_folder = any(path.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)
        if not in_folder and path not in self.packaged_files():
            raise ModelFileError(
                f"Model file not found: {name}. Only .gguf files under the model folders "
                f"({', '.join(folders)}) can be loaded; an admin can allow more folders "
                "(c.AutoCoder.allowed_model_paths)."
            )
        if not os.path.isfile(path):
            raise ModelFileError(f"Model file not found: {name}")
        return path

    # --- turns ------------------------------------------------------------------------------

    def check_rounds(self, rounds: int | None) -> None:
        limit = self.settings.max_rounds_limit
        if rounds is not None and rounds > limit:
            raise PolicyError(
                f"{rounds} rounds asked; this server allows at most {limit} a turn "
                "(c.AutoCoder.max_rounds_limit).",
                "max_rounds_limit",
            )

    def check_install_policy(self, policy: str | None) -> None:
        allowed = self.settings.allowed_install_policies
        if policy is not None and policy.lower() not in allowed:
            raise PolicyError(
                f"The install policy {policy!r} is not allowed on this server; allowed: "
                f"{', '.join(allowed)} (c.AutoCoder.allowed_install_policies).",
                "allowed_install_policies",
            )

    # --- what users are told -----------------------------------------------------------------

    def describe(self) -> str:
        """One line of what the policy restricts ('' when nothing), for `%autocoder status`."""
        settings = self.settings
        parts = []
        if settings.allowed_models:
            parts.append(f"models {', '.join(settings.allowed_models)}")
        if not settings.allow_downloads:
            parts.append("no downloads")
        if set(settings.allowed_install_policies) != set(INSTALL_POLICIES):
            parts.append(f"installs {', '.join(settings.allowed_install_policies)}")
        if settings.max_rounds_limit < MAX_ROUNDS_LIMIT:
            parts.append(f"at most {settings.max_rounds_limit} rounds")
        return f"Admin policy: {'; '.join(parts)}." if parts else ""

    def to_dict(self) -> dict[str, Any]:
        """The policy as the status reports it (`policy`), for the panel to show."""
        settings = self.settings
        return {
            "allowed_models": list(settings.allowed_models) or None,
            "allow_downloads": settings.allow_downloads,
            "allowed_install_policies": list(settings.allowed_install_policies),
            "max_rounds_limit": settings.max_rounds_limit,
            "install_policy": settings.install_policy,
            "max_rounds": settings.max_rounds,
        }
