"""Fixtures of the proxy's security tests: the server fixtures of tests/server/conftest.py
(a real jupyter_server with the extension, the scripted engine, `jupyter server`
processes), loaded from that file, plus a client that sends a request path exactly as
written (no normalisation of `%2F`, `%3F` or dot segments), the way an attacker would."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from jupyter_server.utils import url_path_join


def _load_server_fixtures():
    # tests/server is not a package: load its conftest under a name of its own.
    path = Path(__file__).resolve().parents[2] / "server" / "conftest.py"
    spec = importlib.util.spec_from_file_location("autocoder_tests_server_conftest", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


globals().update(
    {
        name: value
        for name, value in vars(_load_server_fixtures()).items()
        if not name.startswith("__")
    }
)


class RawResponse:
    def __init__(self, response):
        self.code = response.code
        self.body = response.body or b""

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        try:
            return self.json().get("message", "")
        except ValueError:
            return self.body.decode("utf-8", "replace")


@pytest.fixture
def send_raw(http_server_client, jp_base_url):
    """`await send_raw(method, "v1/<raw path>", key=..., body=...)`: the path below
    `<base_url>autocoder/api/` is sent as written; returns the answer, whatever its status."""

    async def send(
        method: str,
        raw_path: str,
        *,
        key: str | None = None,
        token: str | None = None,
        body: dict | bytes | None = None,
    ) -> RawResponse:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if token is not None:
            headers["Authorization"] = f"token {token}"
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        if method == "POST" and body is None:
            body = b"{}"
        response = await http_server_client.fetch(
            url_path_join(jp_base_url, "autocoder", "api") + "/" + raw_path,
            method=method,
            body=body,
            headers=headers,
            raise_error=False,
            request_timeout=120,
        )
        return RawResponse(response)

    return send
