"""Whether the places models come from can be reached: a quick look before a download.

huggingface_hub retries an unreachable hub for about 25 s, and pip for its own timeout per
package; one TCP connection with a short timeout tells the same in milliseconds. PyPI is
the package index pip is configured with (`PIP_INDEX_URL`, pip.conf), so the probe agrees
with `pip install` on the same machine. A configured proxy is probed in place of the host.
"""

from __future__ import annotations

import configparser
import os
import socket
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_TIMEOUT = 3.0
PYPI_SIMPLE = "https://pypi.org/simple"


def hub_reachable(timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when the Hugging Face hub (`HF_ENDPOINT`) answers a connection, and the hub's
    offline mode is off."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    return url_reachable(constants.ENDPOINT, timeout)


def hub_host() -> str:
    from huggingface_hub import constants

    return urlparse(constants.ENDPOINT).hostname or constants.ENDPOINT


def pypi_reachable(timeout: float = DEFAULT_TIMEOUT) -> bool:
    """True when pip's package index answers a connection (False with `PIP_NO_INDEX`)."""
    index = package_index_url()
    return index is not None and url_reachable(index, timeout)


def package_index_url() -> str | None:
    """The index pip downloads from, as pip's environment and configuration files say;
    None when pip is told to use no index."""
    if _truthy(os.environ.get("PIP_NO_INDEX")):
        return None
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"].split()[0]
    settings = _pip_settings()
    if _truthy(settings.get("no-index")):
        return None
    return settings.get("index-url", PYPI_SIMPLE).split()[0]


def url_reachable(url: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """One connection to the URL's host (or to the proxy configured for it); a file: URL
    is reachable when its directory exists."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path)).exists()
    host = parsed.hostname
    if not host:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxied.hostname or host, proxied.port or 8080
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _pip_settings() -> dict[str, str]:
    """`index-url` and `no-index` from pip's configuration files, later files winning, in
    the order pip reads them (site-wide, user, the environment's own, PIP_CONFIG_FILE)."""
    files = [Path("/etc/xdg/pip/pip.conf"), Path("/etc/pip.conf")]
    home = Path.home()
    files += [home / ".pip" / "pip.conf", home / ".config" / "pip" / "pip.conf"]
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA", "")
        files += [Path(appdata) / "pip" / "pip.ini"] if appdata else []
    files.append(Path(sys.prefix) / ("pip.ini" if sys.platform == "win32" else "pip.conf"))
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    found: dict[str, str] = {}
    for path in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "download", "install"):
            if parser.has_section(section):
                for key in ("index-url", "no-index"):
                    if parser.has_option(section, key):
                        found[key] = parser.get(section, key)
    return found
