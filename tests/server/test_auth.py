"""Every route of the extension requires Jupyter authentication: a server started with
unauthenticated access forbidden (`ServerApp.allow_unauthenticated_access=False`) reports no
unauthenticated handler of ours, and every route refuses requests without the token,
the WebSocket upgrade included."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_autocoder.server.handlers import default_handlers

ROUTES = [
    ("GET", "status", None),
    ("GET", "models", None),
    ("POST", "models/load", {"model": "smollm2-135m"}),
    ("POST", "models/unload", {}),
    ("POST", "models/pull", {"model": "smollm2-135m"}),
    ("POST", "models/switch", {"model": "smollm2-135m"}),
    ("GET", "kernel-context", None),
    ("GET", "v1/models", None),
    (
        "POST",
        "v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}], "stream": True},
    ),
]
BAD_CREDENTIALS = {
    "none": {},
    "wrong-token": {"Authorization": "token not-the-token"},
    "wrong-bearer": {"Authorization": "Bearer not-the-key"},
    "query-token": None,  # ?token=wrong
}


def test_every_handler_verb_is_decorated_as_authenticated(jp_serverapp):
    """The check jupyter_server itself runs on extension handlers, on ours."""
    missing = []
    for pattern, handler in default_handlers():
        missing += jp_serverapp.web_app._check_handler_auth(pattern, handler)
    assert missing == []


async def test_a_locked_down_server_refuses_every_route_without_the_token(
    server_process, scripted_engine
):
    server = await server_process(
        {
            "ServerApp": {"allow_unauthenticated_access": False},
            "AutoCoder": {
                "engine_url": scripted_engine.base_url,
                "api_key": scripted_engine.api_key,
                "model": "scripted",
                "load_on_start": False,
            },
        }
    )
    log = server.log()
    assert "without @allow_unauthenticated" not in log, log
    assert "JupyterServerAuthWarning" not in log, log
    client = AsyncHTTPClient()

    for method, route, body in ROUTES:
        for name, headers in BAD_CREDENTIALS.items():
            url = f"{server.url}/autocoder/api/{route}" + (
                "?token=wrong" if headers is None else ""
            )
            response = await client.fetch(
                url,
                method=method,
                headers=headers or {},
                body=json.dumps(body) if body is not None else None,
                raise_error=False,
                follow_redirects=False,
            )
            assert response.code in (401, 403), (method, route, name, response.code)
            assert "message" in json.loads(response.body), (route, name)
            assert b"engine" not in response.body and b"models" not in response.body

        # and with the token the route is there (the refusals were not a broken route)
        response = await client.fetch(
            f"{server.url}/autocoder/api/{route}",
            method=method,
            headers=server.auth,
            body=json.dumps(body) if body is not None else None,
            raise_error=False,
        )
        assert response.code not in (401, 403, 404), (route, response.code, response.body)

    for name, headers in BAD_CREDENTIALS.items():
        url = f"{server.ws_url}/autocoder/api/agent" + ("?token=wrong" if headers is None else "")
        with pytest.raises(HTTPClientError) as refused:
            await websocket_connect(HTTPRequest(url, headers=headers or {}))
        assert refused.value.code == 403, name
    socket = await websocket_connect(
        HTTPRequest(f"{server.ws_url}/autocoder/api/agent", headers=server.auth)
    )
    assert json.loads(await socket.read_message())["type"] == "hello"
    socket.close()
    assert len(scripted_engine.history) == 1  # only the chat request that brought the token
    await server.stop()
