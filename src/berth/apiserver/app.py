"""The HTTP face of the API server: routing Kubernetes paths to the verbs of `berth.apiserver.api`,
authentication, content negotiation (JSON, Tables, aggregated discovery), watch streams and errors.

Paths served (kubectl's and the client libraries', see the protocol notes):
  /version /healthz /livez /readyz                      public
  /api /apis /apis/{g} /api/v1 /apis/{g}/{v}            discovery (aggregated or legacy, by Accept)
  /openapi/v3 /openapi/v3/{api/v1|apis/g/v}             OpenAPI v3
  /api/v1/[namespaces/{ns}/]{plural}[/{name}[/{sub}]]   core resources
  /apis/{g}/{v}/[namespaces/{ns}/]{plural}[/{name}[/{sub}]]
Trailing slashes are tolerated; booleans parse like Go's strconv.ParseBool.

A pod's `exec`, `attach` and `portforward` come as WebSockets and are relayed to the pod's node
(`berth.apiserver.streaming`); the same paths without the WebSocket upgrade (kubectl's SPDY fallback)
get a 400 Status that says why the WebSocket was refused, or that Berth speaks only WebSockets, so kubectl
prints why instead of "could not find the requested resource". They are not advertised in discovery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.websockets import WebSocket

from berth.apiserver import discovery, errors, logs, openapi, streaming, tables
from berth.apiserver.authorization import (PUBLIC, SSAR_PATH, SSR_PATH, access_review, authenticate, check,
                                          check_path, verb, while_valid, who_am_i)
from berth.apiserver.api import Api, WriteOptions
from berth.apiserver.limits import Limiter
from berth.apiserver.resources import Resource, find, in_group_version
from berth.apiserver.settings import Limits
from berth.apiserver.validation import MAX_BODY, decode
from berth.apiserver.watch import TRUE, WatchHub, stream
from berth.store import WriteFailed
from berth.authz.roles import User
from berth.apiserver.users import BOOTSTRAP, Directory

if TYPE_CHECKING:
    from berth.apiserver.metrics import ApiServerMetrics

log = logging.getLogger(__name__)

JSON = "application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
FALSE = {"0", "f", "F", "false", "False", "FALSE"}
#: A pod's streaming subresources, by the kubectl command that asks for them (served over WebSockets).
STREAMING = streaming.COMMANDS


@dataclass
class Target:
    """What a resource path addresses."""

    resource: Resource
    namespace: str | None  # None: all namespaces (or a cluster-scoped resource)
    name: str | None
    subresource: str


def _json(data: Any, status: int = 200, content_type: str = JSON, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=content_type, headers=headers)


def _header_text(text: str) -> str:
    """Text for a quoted header value: quotes escaped, and anything but printable ASCII written as Python
    escapes (`\\xfc`, `\\n`), since a header is Latin-1 and a newline would end it (found by fuzzing: a
    warning naming an unknown field "ü" was a 500)."""
    return "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode() for c in text.replace('"', '\\"'))


def _error(exc: errors.ApiError) -> Response:
    retry = (exc.details or {}).get("retryAfterSeconds")
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return Response(exc.body(), status_code=exc.code, media_type=JSON, headers=headers)


def route(group: str, version: str, parts: list[str]) -> Target:
    """Resolve the path parts after /api/v1 or /apis/{g}/{v} to a resource target."""
    namespace: str | None = None
    if len(parts) >= 3 and parts[0] == "namespaces" and not (group == "" and parts[2] in ("status", "finalize")):
        namespace, parts = parts[1], parts[2:]
    if not parts or len(parts) > 3:
        raise errors.not_found_path()
    resource = find(group, version, parts[0])
    if resource is None:
        raise errors.not_found_path()
    if namespace is not None and not resource.namespaced:
        raise errors.not_found_path()
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else ""
    if sub and sub not in resource.subresources and not (resource.kind == "Pod" and sub in STREAMING):
        raise errors.not_found_path()
    if resource.namespaced and name is not None and namespace is None:
        raise errors.not_found_path()
    return Target(resource, namespace, name, sub)


@dataclass(frozen=True)
class Addressed:
    """A request for a path under /api/v1 or /apis/{g}/{v}, as its ASGI scope alone says it."""

    group: str
    version: str
    rest: tuple[str, ...]  # the path's parts after the group and version
    target: Target | None  # None: no such resource
    watch: bool  # watch=true in the query


_ADDRESSED = "berth.addressed"


def addressed(scope: MutableMapping[str, Any]) -> Addressed | None:
    """What a request addresses, None for a path that is no resource path (discovery, OpenAPI, health, the
    REST API's). Read once per request and kept in its scope: the audit log and the metrics both ask."""
    if _ADDRESSED in scope:
        found: Addressed | None = scope[_ADDRESSED]
        return found
    parts = [p for p in scope.get("path", "").split("/") if p]
    found = None
    if parts[:2] == ["api", "v1"] and len(parts) > 2:
        group, version, rest = "", "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) > 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        scope[_ADDRESSED] = None
        return None
    try:
        target: Target | None = route(group, version, rest)
    except errors.ApiError:
        target = None
    query = scope.get("query_string", b"").decode("latin-1")
    watch = "watch" in query and any(k == "watch" and v in TRUE for k, v in parse_qsl(query))
    found = scope[_ADDRESSED] = Addressed(group, version, tuple(rest), target, watch)
    return found


def _wants_table(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in accept.split(","))


def _bool(params: dict[str, str], key: str) -> bool:
    value = params.get(key)
    if value is None or value == "":
        return False
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise errors.bad_request(f'invalid boolean value for {key}: "{value}"')


class _Watch(StreamingResponse):
    """A watch stream that gives its client's watch slot back when it ends, however it ends."""

    def __init__(self, body: AsyncIterator[bytes], media_type: str, on_close: Callable[[], None]) -> None:
        super().__init__(body, media_type=media_type)
        self.on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


class Server:
    """One API server: the verbs over a store, who may use them (the bootstrap token and the users of the data
    directory; none checked when `token` is None, the single-user plain-HTTP mode), and its background tasks.

    Every request but the public probes is authenticated, and every resource request authorized
    (`berth.apiserver.authorization`); the user's name is left in `request.state.user` for what runs after
    (the audit log)."""

    def __init__(self, api: Api, *, token: str | None, data_dir: Path | None = None,
                 tasks: list[Callable[[WatchHub], Awaitable[None]]] | None = None,
                 limits: Limits | None = None, metrics: ApiServerMetrics | None = None) -> None:
        self.api = api
        #: The Prometheus series served at /metrics (`berth.apiserver.metrics`); None: no /metrics.
        self.metrics = metrics
        self.token = token
        #: Per-client rate, watch and page limits (`berth.apiserver.limits`).
        self.limiter = Limiter(limits or Limits(), admin_token=token, admin_user=BOOTSTRAP)
        self.data_dir = data_dir
        self.directory = Directory(data_dir, token) if token is not None else None
        self.hub: WatchHub | None = None
        #: Background loops that live as long as the app (the garbage collector, later controllers).
        self.tasks = tasks or []

    # -- plumbing -----------------------------------------------------------------------------------

    async def _body(self, request: Request) -> Any:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            raise errors.too_large(MAX_BODY)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise errors.too_large(MAX_BODY)
        if not raw:
            return None
        return decode(raw, request.headers.get("content-type", JSON))

    def _options(self, params: dict[str, str]) -> WriteOptions:
        dry = params.get("dryRun", "")
        if dry and dry != "All":
            raise errors.bad_request(f'dryRun must be "All", not "{dry}"')
        return WriteOptions(
            dry_run=dry == "All",
            validation=params.get("fieldValidation") or "Strict",
            manager=params.get("fieldManager", ""),
            force=_bool(params, "force"),
        )

    def _out(self, request: Request, target: Target, obj: dict[str, Any], status: int = 200,
             warnings: list[str] | None = None) -> Response:
        headers = {}
        if warnings:
            headers["Warning"] = ", ".join(f'299 - "{_header_text(w)}"' for w in warnings)
        if _wants_table(request) and obj.get("kind") == target.resource.kind:
            include = request.query_params.get("includeObject", "Metadata")
            body = tables.table(target.resource, [obj], include=include,
                                list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")})
            return _json(body, status, TABLE, headers)
        return _json(obj, status, headers=headers)

    # -- endpoints ----------------------------------------------------------------------------------

    async def dispatch(self, request: Request) -> Response:
        try:
            if request.scope["path"].rstrip("/") in PUBLIC:  # health checks answer anyone, never throttled
                return await self._dispatch(request, None)
            user = authenticate(self.directory, request.headers)
            request.state.user = user.name
            self.limiter.admit(request)
            return await self._dispatch(request, user)
        except errors.ApiError as exc:
            return _error(exc)
        except WriteFailed as exc:  # the disk refused a write: nothing was stored, the store is intact
            return _error(errors.storage_failed(str(exc), exc.disk_full))
        except ClientDisconnect:  # the client hung up before its body came (it is stopping, or killed)
            return Response(status_code=499)

    async def _dispatch(self, request: Request, user: User | None) -> Response:
        """Route a request; `user` is None only for the public paths (which touch no resource)."""
        path = request.scope["path"].rstrip("/") or "/"  # not request.url's: urlsplit drops tabs and newlines
        parts = [p for p in path.split("/") if p]
        if path in ("/healthz", "/livez", "/readyz"):
            return PlainTextResponse("ok")
        if path == "/version":
            return _json(discovery.version_info())
        if path == "/metrics" and self.metrics is not None and user is not None:
            check_path(user, "get", path)
            if request.method != "GET":
                raise errors.method_not_allowed(request.method)
            return Response(await self.metrics.exposition(), media_type=self.metrics.content_type)
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        if parts == ["openapi", "v2"] and request.method == "GET":
            # kubectl asks for the v2 document only for a kind the v3 documents lack (a misspelled kind): an
            # empty one lets it say "no matches for kind" instead of failing to download it.
            return Response(b"", media_type=openapi.V2_PROTOBUF)
        if parts[:1] == ["openapi"]:
            raise errors.not_found_path()
        if parts == ["api"] or parts == ["apis"]:
            return self._discovery(request, core=parts == ["api"])
        if parts[:1] == ["api"] and len(parts) >= 2:
            if parts[1] != "v1":
                raise errors.not_found_path()
            if len(parts) == 2:
                return _json(discovery.resource_list("", "v1"))
            return await self._resource(request, route("", "v1", parts[2:]), user)
        if parts[:1] == ["apis"] and len(parts) >= 2:
            if len(parts) == 2:
                found = discovery.api_group(parts[1])
                if found is None:
                    raise errors.not_found_path()
                return _json(found)
            if len(parts) == 3:
                listed = discovery.resource_list(parts[1], parts[2])
                if listed is None:
                    raise errors.not_found_path()
                return _json(listed)
            if parts == SSAR_PATH and request.method == "POST" and user is not None:
                return _json(access_review(user, await self._body(request)), 201)
            if parts == SSR_PATH and request.method == "POST" and user is not None:
                await self._body(request)  # read, not needed: the answer is who sent it
                return _json(who_am_i(user), 201)
            return await self._resource(request, route(parts[1], parts[2], parts[3:]), user)
        raise errors.not_found_path()

    def _discovery(self, request: Request, core: bool) -> Response:
        version = discovery.negotiate_aggregated(request.headers.get("accept", ""))
        if version is not None:
            return _json(discovery.aggregated(version, core), content_type=discovery.AGGREGATED[version])
        if core:
            host = request.headers.get("host", "127.0.0.1")
            return _json(discovery.api_versions(host))
        return _json(discovery.api_group_list())

    def _openapi(self, rest: list[str]) -> Response:
        if not rest:
            return Response(openapi.index(), media_type=JSON)
        if rest[0] == "api" and len(rest) == 2:
            group, version = "", rest[1]
        elif rest[0] == "apis" and len(rest) == 3:
            group, version = rest[1], rest[2]
        else:
            raise errors.not_found_path()
        if not in_group_version(group, version):
            raise errors.not_found_path()
        return Response(openapi.document(group, version), media_type=JSON,
                        headers={"Cache-Control": "public, immutable"})

    async def _resource(self, request: Request, target: Target, user: User | None) -> Response:
        method = request.method
        params = dict(request.query_params)
        api = self.api
        res, ns, name, sub = target.resource, target.namespace, target.name, target.subresource
        if user is None:
            raise errors.unauthorized()
        check(user, verb(method, name is not None, method == "GET" and name is None and _bool(params, "watch")),
              res, ns, name, sub)
        ns_value = ns or ""
        if name is None:
            if method == "GET":
                if _bool(params, "watch"):
                    return self._watch(request, target, params)
                listed = api.list(res, ns, self.limiter.page(params))
                if _wants_table(request):
                    include = params.get("includeObject", "Metadata")
                    body = tables.table(res, listed["items"], include=include, list_meta=listed["metadata"])
                    return _json(body, content_type=TABLE)
                return _json(listed)
            if method == "POST":
                if res.namespaced and ns is None:
                    raise errors.method_not_allowed("create without a namespace")
                result = api.create(res, ns_value, await self._body(request), self._options(params))
                request.state.created = result.obj["metadata"]["name"]  # for the audit log (generateName)
                return self._out(request, target, result.obj, 201, result.warnings)
            if method == "DELETE":
                options = await self._body(request)
                return _json(api.delete_collection(res, ns, params, options, self._options(params).dry_run))
            raise errors.method_not_allowed(method)
        if sub == "log":
            if method != "GET":
                raise errors.method_not_allowed(method)
            return await logs.respond(api, self.data_dir, ns_value, name, params)
        if sub in STREAMING:  # not a WebSocket (kubectl's SPDY fallback): say why the WebSocket was refused
            streaming.node_target(api, sub, ns_value, name, list(request.query_params.multi_items()))
            raise errors.bad_request(
                f"{STREAMING[sub]} over SPDY is not supported: Berth serves {sub} over WebSockets only, which kubectl "
                "1.30 and later (and the berth CLI) use; upgrade kubectl, or use `berth exec`, `berth attach`, "
                "`berth port-forward`")
        if sub == "binding":
            if method != "POST":
                raise errors.method_not_allowed(method)
            return _json(api.bind(ns_value, name, await self._body(request)), 201)
        if sub == "eviction":
            if method != "POST":
                raise errors.method_not_allowed(method)
            return _json(api.evict(ns_value, name, await self._body(request)), 201)
        if method == "GET":
            return self._out(request, target, api.get(res, ns_value, name))
        if method == "PUT":
            result = api.update(res, ns_value, name, await self._body(request), self._options(params), sub)
            return self._out(request, target, result.obj, 200, result.warnings)
        if method == "PATCH":
            content_type = request.headers.get("content-type", "")
            body = await self._body(request)
            result = api.patch(res, ns_value, name, body, content_type, self._options(params), sub)
            return self._out(request, target, result.obj, 201 if result.created else 200, result.warnings)
        if method == "DELETE":
            if sub:
                raise errors.method_not_allowed(method)
            options = await self._body(request) or {}
            if isinstance(options, dict):
                for key in ("propagationPolicy", "gracePeriodSeconds"):
                    if key not in options and params.get(key):
                        options[key] = params[key]
            result = api.delete(res, ns_value, name, options, self._options(params).dry_run)
            if result.get("kind") == "Status":
                return _json(result)
            return self._out(request, target, result)
        raise errors.method_not_allowed(method)

    async def socket(self, websocket: WebSocket) -> None:
        """A WebSocket: a pod's exec, attach or portforward (relayed to its node), else refused with a Status."""
        try:
            user = authenticate(self.directory, websocket.headers)
            websocket.state.user = user.name
            self.limiter.admit(websocket)
            parts = [p for p in websocket.url.path.split("/") if p]
            if parts[:2] != ["api", "v1"]:
                raise errors.not_found_path()
            target = route("", "v1", parts[2:])
            if target.resource.kind != "Pod" or target.subresource not in STREAMING or target.name is None:
                raise errors.bad_request("only a pod's exec, attach and portforward are served over WebSockets")
            check(user, "create", target.resource, target.namespace, target.name, target.subresource)
            await streaming.serve(websocket, self.api, self.token, target.subresource, target.namespace or "",
                                  target.name)
        except errors.ApiError as exc:
            await websocket.send_denial_response(_error(exc))

    def _watch(self, request: Request, target: Target, params: dict[str, str]) -> Response:
        assert self.hub is not None, "the watch hub starts with the app"
        labels, fields = self.api.selectors(target.resource, params)
        render: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # None: objects as stored
        content_type = JSON
        if _wants_table(request):
            include = params.get("includeObject", "Metadata")
            content_type = TABLE

            def table_row(obj: dict[str, Any]) -> dict[str, Any]:
                return tables.table(target.resource, [obj], include=include,
                                    list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")})

            render = table_row

        close = self.limiter.open_watch(request)
        body = stream(self.api.store, self.hub, target.resource, target.namespace, params, labels, fields, render)
        return _Watch(while_valid(self.directory, request.headers, body), media_type=content_type, on_close=close)

    # -- the app ------------------------------------------------------------------------------------

    def app(self) -> Callable[..., Awaitable[None]]:
        """The ASGI app: every path to `dispatch` (HTTP) or `socket` (WebSocket), the lifespan of the background
        tasks, and the request series around them.

        A plain ASGI callable, not Starlette's application and router: every path goes to one handler, so
        their routing, middleware stack and exception layers only cost (measured: about a tenth of a small
        write's CPU). What they did that matters is kept: a method not served is a 405 with `Allow`, and an
        exception that escapes a handler is logged and answered with a 500 when nothing was sent yet."""
        return _Asgi(self) if self.metrics is None else self.metrics.instrument(_Asgi(self))


#: The methods that reach `dispatch` (which answers HEAD on a resource with a 405 Status, as it always did);
#: any other is a plain 405 naming these, as Starlette's router answered.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
_ALLOW = {"Allow": ", ".join(sorted(METHODS))}


class _Asgi:
    """`Server` as an ASGI app (see `Server.app`)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self.server.socket(WebSocket(scope, receive, send))
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        started = False

        async def sender(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            if scope["method"] not in METHODS:
                response: Response = PlainTextResponse("Method Not Allowed", 405, headers=_ALLOW)
            else:
                response = await self.server.dispatch(Request(scope, receive))
            await response(scope, receive, sender)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if not started:
                await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)
            raise

    async def _lifespan(self, receive: Any, send: Any) -> None:
        server = self.server
        running: list[asyncio.Task[None]] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                server.hub = WatchHub(server.api.store, asyncio.get_running_loop())
                running = [asyncio.create_task(task(server.hub)) for task in server.tasks]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if server.hub is not None:
                    server.hub.close()
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
