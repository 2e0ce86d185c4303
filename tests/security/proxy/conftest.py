"""Fixtures of the proxy's security tests: the server fixtures of
tests/jupyter_server_fixtures.py (a real jupyter_server with the extension, the scripted
engine, `jupyter server` processes), plus a client that sends a request path exactly as
written (no normalisation of `%2F`, `%3F` or dot segments), the way an attacker would."""

from __future__ import annotations

import json

import pytest
from jupyter_server.utils import url_path_join
from jupyter_server_fixtures import *  # noqa: F403 - the fixtures


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
