"""HTTP and WebSocket handlers under `<base_url>/autocoder/api/`: thin translations to the
extension's services (`EngineHost`, `ModelPulls`, `EngineProxy`, `AgentService`).

Every verb is authenticated (`@tornado.web.authenticated`, `@ws_authenticated` for the
socket) and authorized on the `autocoder` resource; errors reach the client as JSON with a
`message` (APIHandler). The proxy also accepts the key the server gives its kernels, and
the key its own agent sessions use (held by the server alone); each key is an identity of
its own, and the proxy's queue lanes follow the identity.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Protocol

import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.auth.identity import User
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import websocket
from tornado.iostream import StreamClosedError

from .._version import __version__
from ..errors import AutoCoderError, EngineBusyError, PolicyError, ProtocolError, ProxyError
from .engine import list_models
from .protocol import Continue, Hello, Refusal, Start, parse_message
from .proxy import ProxyRequest, key_matches

if TYPE_CHECKING:
    from ..config import AutoCoder
    from .channel import Channel
    from .completion import CompletionService
    from .engine import EngineHost, ModelPulls
    from .proxy import EngineProxy
    from .sessions import AgentService

AUTH_RESOURCE = "autocoder"
MODEL_ACTIONS = ("pull", "load", "unload", "switch")
# The identity of requests that bring the proxy key: the kernels this server started.
KERNEL_USER = User(username="autocoder-kernel", name="Kernel of this server (proxy key)")
# The identity of this server's own agent sessions (a key that never leaves the process).
AGENT_USER = User(username="autocoder-agent", name="Agent sessions of this server")
# The fair queue's lanes of the two: all kernels share one, the sessions one per notebook.
KERNELS_LANE = "kernels"
AGENT_LANE = "agent-sessions"


class ServerServices(Protocol):
    """What the handlers use of the extension app (`AutoCoderApp`), which imports this module."""

    autocoder_config: AutoCoder
    max_request_bytes: int
    max_message_bytes: int
    proxy_key: str
    agent_key: str
    engine: EngineHost
    pulls: ModelPulls
    proxy: EngineProxy
    agents: AgentService
    completions: CompletionService

    def status(self) -> dict[str, Any]: ...


@tornado.web.stream_request_body
class AutoCoderHandler(ExtensionHandlerMixin, APIHandler):
    """Base of this extension's REST handlers.

    The request body is read here, chunk by chunk, within `c.AutoCoderApp.max_request_bytes`:
    a body declared larger is refused (413) from its headers, before tornado reads a byte of
    it, and one sent without a length (chunked) is cut off by tornado past the limit. The
    verbs find it whole in `self.request.body`, as without streaming.
    """

    auth_resource = AUTH_RESOURCE
    _body: bytearray | None = None
    _declared_length: int | None = None

    async def prepare(self) -> None:
        await super().prepare()
        limit = self.autocoder.max_request_bytes
        declared = self.request.headers.get("Content-Length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise tornado.web.HTTPError(400, "the Content-Length header is not a number")
            self._declared_length = int(declared)
            if self._declared_length > limit:
                raise tornado.web.HTTPError(
                    413, f"the request is {self._declared_length} bytes; the limit is {limit}"
                )
        self.request.connection.set_max_body_size(limit)  # type: ignore[union-attr]
        self._body = bytearray()

    def data_received(self, chunk: bytes) -> None:
        if self._body is None:
            return
        self._body += chunk
        # Whole once the declared length has come; without one, after every chunk (each
        # within the limit that tornado keeps).
        if self._declared_length is None or len(self._body) >= self._declared_length:
            self.request.body = bytes(self._body)

    @property
    def autocoder(self) -> ServerServices:
        return self.extensionapp  # type: ignore[return-value]

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        # default=str: paths and similar values in engine dicts become strings, not a 500.
        self.finish(json.dumps(payload, default=str))

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object, or a 400 that says what is wrong."""
        limit = self.autocoder.max_request_bytes
        if len(self.request.body) > limit:
            raise tornado.web.HTTPError(
                413, f"the request is {len(self.request.body)} bytes; the limit is {limit}"
            )
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise tornado.web.HTTPError(400, f"the request body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, "the request body must be a JSON object")
        return body


class ProxyKeyHandler(AutoCoderHandler):
    """A handler that the kernels' proxy key opens too (see `ProxyKeyIdentity`); other users
    still need the `autocoder` permission."""

    proxy_key_authenticated = False  # the kernels' key or the agent sessions' key
    agent_key_authenticated = False

    def accepted_keys(self) -> dict[str, User]:
        """The server's own keys this handler accepts, and the identity each stands for."""
        return {self.autocoder.proxy_key: KERNEL_USER}

    @property
    def identity_provider(self) -> Any:
        return ProxyKeyIdentity(super().identity_provider, self.accepted_keys())

    async def authorize_unless_kernel(self, action: str, what: str) -> None:
        if self.proxy_key_authenticated:
            return
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)
        )
        if not allowed:
            raise tornado.web.HTTPError(403, f"not authorized to {what} ({AUTH_RESOURCE})")


class StatusHandler(ProxyKeyHandler):
    """GET: the package version, the model engine's status, the queue and recent speed.

    Also readable with the proxy key, so that `%autocoder status` in one of this server's
    kernels can say on which device the model runs; it only reads.
    """

    @tornado.web.authenticated
    async def get(self) -> None:
        await self.authorize_unless_kernel("read", "read the status")
        await self.autocoder.engine.probe_remote()
        self.write_json(self.autocoder.status())


class ModelsHandler(AutoCoderHandler):
    """GET: the catalogue with what is cached, the configured and loaded model, pulls."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        app = self.autocoder
        await app.engine.probe_remote()
        # The catalogue looks at files on disk (caches): keep that off the event loop.
        models = await asyncio.get_running_loop().run_in_executor(None, list_models)
        policy = app.engine.policy
        for model in models:
            model["allowed"] = policy.model_allowed(model["name"])
        engine = app.engine.status()
        self.write_json(
            {
                "models": models,
                "configured": app.autocoder_config.model,
                "loaded": engine["model"] if engine["state"] == "ready" else None,
                "state": engine["state"],
                "remote": app.engine.remote,
                "pulls": app.pulls.status(),
                "policy": policy.to_dict(),
            }
        )


class KernelContextHandler(AutoCoderHandler):
    """GET: the code with which the panel asks a notebook's kernel for its variables
    (`executors/kernel_code.py`: the module's name, its load code, the call template) and
    the characters the variables may take (half of `c.AutoCoder.context_budget`)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        from ..executors import kernel_code

        code = kernel_code.describe()
        budget = self.autocoder.autocoder_config.context_budget // 2
        self.write_json({**code, "budget": budget})


class ModelActionHandler(AutoCoderHandler):
    """POST models/{pull,load,unload,switch} with {"model": name}: see docs/protocol.md."""

    @tornado.web.authenticated
    @authorized
    async def post(self, action: str) -> None:
        if action not in MODEL_ACTIONS:
            raise tornado.web.HTTPError(
                404, f"unknown model action {action!r}; expected one of {', '.join(MODEL_ACTIONS)}"
            )
        body = self.json_body()
        engine = self.autocoder.engine
        loop = asyncio.get_running_loop()
        # The check may look at files (model folders, caches): off the event loop.
        try:
            model = await loop.run_in_executor(
                None, engine.checked_model, action, body.get("model")
            )
        except Exception as error:
            self._refuse(error)
            return
        try:
            if action == "pull":
                pull = self.autocoder.pulls.start(model)
                self.write_json({"pull": pull}, 202)
                return
            if action == "unload":
                await loop.run_in_executor(None, engine.unload)
                self.write_json({"engine": engine.status()})
                return
            if action == "load":
                await loop.run_in_executor(None, engine.load, model)
            else:
                await loop.run_in_executor(None, engine.switch, model)
        except EngineBusyError as error:
            raise tornado.web.HTTPError(409, str(error)) from None
        except ValueError as error:
            raise tornado.web.HTTPError(400, str(error)) from None
        self.write_json({"engine": engine.status()}, 202)

    def _refuse(self, error: Exception) -> None:
        """The answer to a model that did not pass the check: 403 for the admin's policy,
        404 for a model that is not there (or may not be named), 400 for a pull that needs
        none. Written here rather than raised: an HTTPError would double every % of a name."""
        if isinstance(error, PolicyError):
            status = 403
        elif isinstance(error, (AutoCoderError, LookupError)):
            status = 404
        elif isinstance(error, ValueError):
            status = 400
        else:
            raise error
        self.log.warning("jupyter_autocoder: refused: %s", error)
        self.write_json({"message": str(error), "reason": None}, status)


class ProxyKeyIdentity:
    """The server's identity provider, plus the proxy key: a request that brings it is one
    of this server's kernels (token-authenticated, so no XSRF cookie is asked for)."""

    def __init__(self, inner: Any, keys: dict[str, User]):
        self._inner = inner
        self._keys = keys

    def get_user(self, handler: Any) -> Any:
        scheme, _, value = handler.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            for key, user in self._keys.items():
                if key_matches(value.strip(), key):
                    handler._token_authenticated = True
                    handler.proxy_key_authenticated = True
                    handler.agent_key_authenticated = user is AGENT_USER
                    return user
        return self._inner.get_user(handler)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ProxyHandler(ProxyKeyHandler):
    """`v1/...`: the OpenAI-compatible proxy (see proxy.py). Key or Jupyter token."""

    _task: asyncio.Future[None] | None = None
    _client_gone = False
    _content_type = "application/json"

    def accepted_keys(self) -> dict[str, User]:
        return {**super().accepted_keys(), self.autocoder.agent_key: AGENT_USER}

    @tornado.web.authenticated
    async def get(self, path: str) -> None:
        await self._forward("GET", path)

    @tornado.web.authenticated
    async def post(self, path: str) -> None:
        await self._forward("POST", path)

    async def _forward(self, method: str, path: str) -> None:
        await self.authorize_unless_kernel("execute", "use the model")
        # The lane is who asks, as authenticated: never what the request says of itself
        # (a fresh `user` per request, or a fresh connection, would be a fresh lane).
        if self.agent_key_authenticated:
            lane = AGENT_LANE
        elif self.proxy_key_authenticated:
            lane = KERNELS_LANE
        else:
            lane = f"user:{getattr(self.current_user, 'username', self.current_user)}"
        request = ProxyRequest(
            method,
            path,
            self.request.body,
            lane,
            raw_path=self.request.path,
            notebook_lanes=self.agent_key_authenticated,
        )
        self._task = asyncio.ensure_future(self.autocoder.proxy.forward(request, self))
        try:
            await self._task
        except ProxyError as error:
            self.write_json(error.to_dict(), error.status)
            return
        except StreamClosedError:
            return  # the client went away while we wrote: nobody to answer
        except asyncio.CancelledError:
            if self._client_gone:
                return  # cancelled by on_connection_close
            raise
        if not self._finished:
            self.finish(set_content_type=self._content_type)

    def on_connection_close(self) -> None:
        # The client went away: leave the queue, or close the upstream stream (the model stops).
        self._client_gone = True
        if self._task is not None:
            self._task.cancel()

    # ResponseSink, for EngineProxy
    async def begin(self, status: int, content_type: str) -> None:
        self.set_status(status)
        self._content_type = content_type
        self.set_header("Content-Type", content_type)
        if content_type.startswith("text/event-stream"):
            self.set_header("Cache-Control", "no-cache")
            self.set_header("X-Accel-Buffering", "no")
            # Each event goes out as it comes: without this, Nagle holds the first token
            # back until the client acknowledges the headers (40 ms of delayed ACK).
            stream = getattr(self.request.connection, "stream", None)
            if stream is not None:
                stream.set_nodelay(True)
            await self.flush()

    async def send(self, data: bytes) -> None:
        self.write(data)
        await self.flush()


class CompletionHandler(AutoCoderHandler):
    """POST `complete`: an inline completion, streamed as NDJSON (see completion.py).

    Jupyter's own authentication (token or session) and the `autocoder` permission to
    execute; the kernels' proxy key does not open it (completions come from the browser).
    """

    _task: asyncio.Future[None] | None = None
    _client_gone = False
    _began = False

    @tornado.web.authenticated
    async def post(self) -> None:
        from .completion import CompletionRequest

        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "execute", AUTH_RESOURCE)
        )
        if not allowed:
            raise tornado.web.HTTPError(403, f"not authorized to use the model ({AUTH_RESOURCE})")
        service = self.autocoder.completions
        try:
            request = CompletionRequest.parse(self.request.body, service.max_request_bytes)
        except ProxyError as error:
            self.write_json(error.to_dict(), error.status)
            return
        user = getattr(self.current_user, "username", None) or str(self.current_user)
        self._task = asyncio.ensure_future(service.complete(request, user, self))
        try:
            await self._task
        except ProxyError as error:
            payload = {**error.to_dict(), "reason": error.kind}
            self.write_json(payload, error.status)
            return
        except StreamClosedError:
            return
        except asyncio.CancelledError:
            if self._client_gone:
                return
            # Superseded by a newer request of the same editor: end this answer quietly.
            if not self._began:
                self.write_json(
                    {"message": "superseded by a newer request", "reason": "superseded"}, 409
                )
                return
            self.write(json.dumps({"done": True, "reason": "superseded"}).encode() + b"\n")
        if not self._finished:
            self.finish()

    def on_connection_close(self) -> None:
        # The editor went on (a newer keystroke closed this request): stop the model.
        self._client_gone = True
        if self._task is not None:
            self._task.cancel()

    # CompletionSink, for CompletionService
    async def begin(self, status: int, content_type: str) -> None:
        self._began = True
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None:
            stream.set_nodelay(True)  # each piece of ghost text goes out as it comes
        await self.flush()

    async def send(self, data: bytes) -> None:
        self.write(data)
        await self.flush()


class AgentSocketHandler(
    ExtensionHandlerMixin, WebSocketMixin, websocket.WebSocketHandler, JupyterHandler
):
    """`agent`: the panel's WebSocket (docs/protocol.md); the work is `AgentService`'s."""

    auth_resource = AUTH_RESOURCE
    channel: Channel | None = None

    @property
    def autocoder(self) -> ServerServices:
        return self.extensionapp  # type: ignore[return-value]

    async def pre_get(self) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "execute", AUTH_RESOURCE)
        )
        if not allowed:
            raise tornado.web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        from .channel import Channel

        super().open(*args, **kwargs)
        loop = asyncio.get_running_loop()
        self.channel = Channel(self.write_message, loop, user=self._user_key())
        self.channel.send(Hello(version=__version__).to_dict())

    def _user_key(self) -> str:
        """Who runs the turns of this socket, for the per-user cap. Requests that bring the
        server's token (not a login cookie) are all one user: jupyter_server makes up a new
        anonymous user for each, and they all hold the same key."""
        if self.token_authenticated:
            return "token"
        user = self.current_user
        return f"user:{getattr(user, 'username', user)}"

    async def on_message(self, message: str | bytes) -> None:
        channel = self.channel
        if channel is None:
            return
        try:
            parsed = parse_message(message, self.autocoder.max_message_bytes)
            self._check_policy(parsed)
            await self.autocoder.agents.handle(channel, parsed)
        except ProtocolError as error:
            channel.send(Refusal.from_error(error).to_dict())
        except Exception as error:  # a bug must not close the socket, nor go unreported
            self.log.exception("jupyter_autocoder: a message on the agent socket failed")
            refusal = Refusal(message=f"internal error: {error}", in_reply_to=None)
            channel.send(refusal.to_dict())

    def _check_policy(self, message: Any) -> None:
        """A turn's round limit within the admin's `max_rounds_limit`."""
        if isinstance(message, (Start, Continue)):
            try:
                self.autocoder.engine.policy.check_rounds(message.max_rounds)
            except PolicyError as error:
                raise ProtocolError(error.message, message.type, message.notebook) from None

    def on_close(self) -> None:
        if self.channel is not None:
            self.autocoder.agents.detach(self.channel)


def api_path(*parts: str) -> str:
    """A route under this extension's namespace (the ExtensionApp prefixes the base URL)."""
    return url_path_join("autocoder", "api", *parts)


def default_handlers() -> list[tuple[str, type[JupyterHandler]]]:
    return [
        (api_path("status"), StatusHandler),
        (api_path("models"), ModelsHandler),
        (api_path("models", "([^/]+)"), ModelActionHandler),
        (api_path("kernel-context"), KernelContextHandler),
        (api_path("v1", "(.*)"), ProxyHandler),
        (api_path("complete"), CompletionHandler),
        (api_path("agent"), AgentSocketHandler),
    ]
