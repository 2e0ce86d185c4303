"""A server extension of the scripted browser tests only: what the scripted model double
was asked, for a test to assert what reached the model.

    GET /autocoder-test/scripted/requests?match=TEXT
    -> {"requests": [{"messages": [...]}, ...]}   (those whose first user message has TEXT)

Loaded by jupyter_server_scripted.py (`c.ServerApp.jpserver_extensions`); it reads the
`ScriptedEngine` that scripted_replies.start_engine() made in this process. Authenticated
as every Jupyter handler is.
"""

from __future__ import annotations

import json

import scripted_replies
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join


class ScriptedRequestsHandler(APIHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        engine = scripted_replies.ENGINE
        match = self.get_argument("match", "")
        requests = []
        for record in list(engine.history) if engine is not None else []:
            messages = record.messages
            first_user = next(
                (m.get("content", "") for m in messages if m.get("role") == "user"), ""
            )
            if match in first_user:
                requests.append({"messages": messages})
        self.finish(json.dumps({"requests": requests}))


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "scripted_history"}]


def _load_jupyter_server_extension(serverapp) -> None:
    base = serverapp.web_app.settings["base_url"]
    route = url_path_join(base, "autocoder-test", "scripted", "requests")
    serverapp.web_app.add_handlers(".*$", [(route, ScriptedRequestsHandler)])
