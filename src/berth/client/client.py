"""`Client`: the verbs of the Kubernetes API on plain dicts, the same against `berth up` and a real cluster.

Conventions every method keeps:
- `kind` is a name as users write it ("TrainingWorkload", "tw", "pods", "trainingworkloads.run.ai"), an entry
  of `berth.api.registry` (what `registry.resolve` gives the CLI) or a `ResourceKind`; methods that take an
  object read its apiVersion and kind instead.
- `namespace`: required for one object of a namespaced kind (from the argument, else the object's
  metadata.namespace); for `list` and `watch`, None means every namespace. A namespace on a cluster-scoped
  kind is an error, so a mix-up shows at the call and not as a 404.
- Writes carry a field manager: the client's (`field_manager=`, one per component) unless a call names one.
- `replace` and `update_status` send the object's resourceVersion, so a stale object fails with `Conflict`
  instead of overwriting someone else's change. `patch` does not, unless the patch itself sets
  metadata.resourceVersion.
- Errors are `berth.client.errors` exceptions (`NotFound`, `Conflict`, `Invalid`, `Gone`, `Unreachable`, ...);
  nothing from the underlying library leaks out.

One `Client` belongs to one event loop (its connection pool does); close it, or use `async with`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Self

from berth.api.registry import Kind
from berth.client import errors
from berth.client._wire import Wire, in_cluster_available, kubeconfig, service_account
from berth.client.events import EventRecorder
from berth.client.kinds import ResourceKind, of_object, resolve

if TYPE_CHECKING:  # the informers import this module
    from berth.client.informer import Shared

Obj = dict[str, Any]
Selector = str | Mapping[str, str] | None
PatchType = Literal["merge", "json", "strategic"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
PROPAGATION = ("Background", "Foreground", "Orphan")
#: A watch stream shorter than this that ends cleanly is followed by a pause, not an instant reconnect.
MIN_STREAM_S = 1.0


class ObjectList(list[Obj]):
    """The objects of a list, and the resourceVersion they were read at (watch from there to miss nothing)."""

    def __init__(self, items: list[Obj] | None = None, resource_version: str = "") -> None:
        super().__init__(items or [])
        self.resource_version = resource_version


def selector_text(value: Selector) -> str | None:
    """A selector as the query parameter carries it (a mapping as `k=v,...`); None for none."""
    if value is None or isinstance(value, str):
        return value or None
    return ",".join(f"{k}={v}" for k, v in value.items()) or None


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Client:
    """An async Kubernetes client for plain-dict objects. Build it with `from_kubeconfig`, `in_cluster` or
    `from_env`."""

    def __init__(self, wire: Wire, *, field_manager: str = "berth") -> None:
        self._wire = wire
        self.field_manager = field_manager
        #: When set, this client's Informers share one watch per kind with those of every other client holding
        #: the same one (the components of one process).
        self.shared_informers: Shared | None = None
        self._events = EventRecorder(self.create, lambda name, patch, namespace: self.patch(
            "Event", name, patch, namespace), wall=_now)

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str] | None = None, context: str | None = None, *,
                        field_manager: str = "berth", timeout: float = 30.0, unix: str | None = None) -> Client:
        """From a kubeconfig file (default: $KUBECONFIG, else ~/.kube/config) and context (default: current).
        `unix`: the server's local socket to send over instead of its address (`berth up`'s components)."""
        return cls(Wire(kubeconfig(path, context), timeout=timeout, unix=unix), field_manager=field_manager)

    @classmethod
    def in_cluster(cls, *, field_manager: str = "berth", timeout: float = 30.0) -> Client:
        """From the pod's service account, for the operator running inside a real cluster."""
        return cls(Wire(service_account(), timeout=timeout), field_manager=field_manager)

    @classmethod
    def from_env(cls, kubeconfig: str | os.PathLike[str] | None = None, *, field_manager: str = "berth",
                 timeout: float = 30.0) -> Client:
        """The kubeconfig given (a component's --kubeconfig); else in-cluster when running in a pod; else
        $KUBECONFIG or ~/.kube/config: what a component started anywhere wants."""
        if kubeconfig is None and in_cluster_available():
            return cls.in_cluster(field_manager=field_manager, timeout=timeout)
        return cls.from_kubeconfig(kubeconfig, field_manager=field_manager, timeout=timeout)

    def as_bearer(self, token: str | None, *, field_manager: str | None = None) -> Client:
        """A new client of the same cluster that acts as whoever holds `token` (a bearer token); it is
        authenticated and authorized by the API server as that caller. Run:ai's REST API
        (`berth.rest`) forwards each caller's token this way, so the API server's authorization is the
        only one. Close it like any client."""
        return Client(self._wire.as_bearer(token), field_manager=field_manager or self.field_manager)

    @property
    def server(self) -> str:
        """The API server's URL."""
        return self._wire.server

    @property
    def namespace(self) -> str:
        """The context's namespace ("default" when unset): what a CLI uses when the user names none."""
        return self._wire.namespace

    @property
    def bearer_token(self) -> str | None:
        """The bearer token this client presents (None: it authenticates otherwise, or not at all)."""
        return self._wire.bearer_token

    async def connect_socket(self, path: str, params: list[tuple[str, str]], subprotocols: list[str]) -> Any:
        """A WebSocket to `path` (pods/exec, pods/attach, pods/portforward) with these query parameters,
        offering `subprotocols`: a `websockets` client connection. An answer other than the upgrade raises
        the `ApiError` of its Status; no answer raises `Unreachable` (`berth.client.sockets`)."""
        from berth.client.sockets import connect

        return await connect(self._wire, path, params, subprotocols)

    async def close(self) -> None:
        await self._wire.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _one_namespace(kind: ResourceKind, namespace: str | None, obj: Obj | None = None) -> str | None:
        if not kind.namespaced:
            if namespace:
                raise ValueError(f"{kind.kind} is cluster-scoped: do not pass a namespace")
            return None
        namespace = namespace or (_meta(obj).get("namespace") if obj is not None else None)
        if not namespace:
            raise ValueError(f"{kind.kind} is namespaced: pass namespace= (or set metadata.namespace)")
        return namespace

    @staticmethod
    def _any_namespace(kind: ResourceKind, namespace: str | None) -> str | None:
        if namespace and not kind.namespaced:
            raise ValueError(f"{kind.kind} is cluster-scoped: do not pass a namespace")
        return namespace

    @staticmethod
    def _named(obj: Obj) -> str:
        name = _meta(obj).get("name")
        if not name:
            raise ValueError("the object needs metadata.name")
        return str(name)

    def _write_params(self, dry_run: bool, field_manager: str | None, **extra: Any) -> dict[str, Any]:
        return {"dryRun": "All" if dry_run else None, "fieldManager": field_manager or self.field_manager, **extra}

    @staticmethod
    def _typed(kind: ResourceKind, obj: Obj) -> Obj:
        """Lists of built-in kinds from a real API server leave apiVersion and kind out of their items."""
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        return obj

    # -- reading ------------------------------------------------------------------------------------

    async def get(self, kind: str | Kind, name: str, namespace: str | None = None) -> Obj:
        rk = resolve(kind)
        path = rk.path(self._one_namespace(rk, namespace), name)
        return self._typed(rk, await self._wire.request("GET", path))

    async def list(self, kind: str | Kind, namespace: str | None = None, *, labels: Selector = None,
                   fields: Selector = None, page_size: int = 500) -> ObjectList:
        """Every matching object, read in pages of `page_size` that the server serves from one snapshot;
        `Gone` if the snapshot expires between pages (list again). `labels`/`fields` are selector strings
        (`"team=vision,tier!=db"`) or {key: value} for equality."""
        rk = resolve(kind)
        path = rk.path(self._any_namespace(rk, namespace))
        params: dict[str, Any] = {"labelSelector": selector_text(labels), "fieldSelector": selector_text(fields),
                                  "limit": page_size if page_size > 0 else None}
        result = ObjectList()
        while True:
            page = await self._wire.request("GET", path, params=params)
            meta = page.get("metadata") or {}
            result.resource_version = result.resource_version or str(meta.get("resourceVersion") or "")
            result.extend(self._typed(rk, item) for item in page.get("items") or [])
            if not meta.get("continue"):
                return result
            params["continue"] = meta["continue"]

    async def watch(self, kind: str | Kind, namespace: str | None = None, *, labels: Selector = None,
                    fields: Selector = None, resource_version: str | None = None, bookmarks: bool = False,
                    server_timeout: int | None = None) -> AsyncIterator[tuple[str, Obj]]:
        """(type, object) for each change: ADDED, MODIFIED, DELETED, and BOOKMARK when `bookmarks`.

        Without `resource_version` the server first sends an ADDED for every existing object; with one,
        only changes after it. A stream the server ends (after `server_timeout` seconds, or its own limit)
        is resumed from the last resourceVersion seen, so the iterator ends only by raising or by the caller
        leaving it: `Gone` when that resourceVersion has been compacted away (list again, then watch from the
        list's), `Unreachable` when the connection fails. Close it (`contextlib.aclosing`) to hang up at once.
        """
        rk = resolve(kind)
        path = rk.path(self._any_namespace(rk, namespace))
        rv = resource_version
        while True:
            params = {"watch": "true", "allowWatchBookmarks": "true", "labelSelector": selector_text(labels),
                      "fieldSelector": selector_text(fields), "resourceVersion": rv or None,
                      "timeoutSeconds": server_timeout}
            started = time.monotonic()
            async with contextlib.aclosing(self._wire.stream(path, params)) as lines:
                async for event in lines:
                    event_type, obj = event.get("type"), event.get("object") or {}
                    if event_type == "ERROR":
                        raise errors.from_status(obj)
                    rv = str(_meta(obj).get("resourceVersion") or rv or "") or None
                    if event_type == "BOOKMARK":
                        if bookmarks:
                            yield event_type, obj
                        continue
                    yield str(event_type), self._typed(rk, obj)
            if time.monotonic() - started < MIN_STREAM_S:
                await asyncio.sleep(MIN_STREAM_S)

    async def wait(self, kind: str | Kind, name: str, namespace: str | None = None, *,
                   until: Callable[[Obj | None], bool], timeout: float) -> Obj | None:
        """Wait until `until(object)` holds (`until(None)`: the object is gone), as `kubectl wait` does:
        list by name, then watch from the list. Returns the object (None when gone); TimeoutError after
        `timeout` seconds."""
        rk = resolve(kind)
        ns = self._one_namespace(rk, namespace)
        by_name = f"metadata.name={name}"
        async with asyncio.timeout(timeout):
            while True:
                listed = await self.list(rk, ns, fields=by_name)
                current = listed[0] if listed else None
                if until(current):
                    return current
                try:
                    async for event_type, obj in self.watch(rk, ns, fields=by_name,
                                                            resource_version=listed.resource_version):
                        current = None if event_type == "DELETED" else obj
                        if until(current):
                            return current
                except errors.Gone:
                    continue

    # -- writing ------------------------------------------------------------------------------------

    async def create(self, obj: Obj, *, namespace: str | None = None, dry_run: bool = False,
                     field_manager: str | None = None) -> Obj:
        """POST a new object; `AlreadyExists` if the name is taken. `dry_run`: validated and admitted, not
        stored."""
        rk = of_object(obj)
        path = rk.path(self._one_namespace(rk, namespace, obj))
        return await self._wire.request("POST", path, params=self._write_params(dry_run, field_manager), body=obj)

    async def replace(self, obj: Obj, *, dry_run: bool = False, field_manager: str | None = None) -> Obj:
        """PUT the whole object. Its metadata.resourceVersion is a precondition: `Conflict` when stale."""
        rk = of_object(obj)
        path = rk.path(self._one_namespace(rk, None, obj), self._named(obj))
        return await self._wire.request("PUT", path, params=self._write_params(dry_run, field_manager), body=obj)

    async def update_status(self, obj: Obj, *, dry_run: bool = False, field_manager: str | None = None) -> Obj:
        """PUT the status subresource: only .status changes (the rest of the body is ignored), with the same
        resourceVersion precondition as `replace`."""
        rk = of_object(obj)
        path = rk.path(self._one_namespace(rk, None, obj), self._named(obj), "status")
        return await self._wire.request("PUT", path, params=self._write_params(dry_run, field_manager), body=obj)

    async def patch(self, kind: str | Kind, name: str, patch: Obj | list[Any], namespace: str | None = None,
                    *, type: PatchType = "merge", subresource: str | None = None, dry_run: bool = False,
                    field_manager: str | None = None) -> Obj:
        """PATCH: `merge` (RFC 7386, a dict), `json` (RFC 6902, a list of operations; a failing `test` is
        `Invalid`), or `strategic` (built-in kinds only; custom kinds answer `UnsupportedMediaType`).
        `subresource="status"` patches the status."""
        if type not in PATCH_CONTENT_TYPES:
            raise ValueError(f'patch type must be one of {", ".join(PATCH_CONTENT_TYPES)}, not "{type}"')
        if (type == "json") != isinstance(patch, list):
            raise ValueError("a json patch is a list of operations; merge and strategic patches are dicts")
        rk = resolve(kind)
        path = rk.path(self._one_namespace(rk, namespace), name, subresource)
        return await self._wire.request("PATCH", path, params=self._write_params(dry_run, field_manager),
                                        body=patch, content_type=PATCH_CONTENT_TYPES[type])

    async def apply(self, obj: Obj, *, field_manager: str | None = None, force: bool = False,
                    dry_run: bool = False, subresource: str | None = None) -> Obj:
        """Server-side apply: create, or set exactly the fields in `obj` as owned by `field_manager`.
        `Conflict` (with causes naming the other manager) when another manager owns a field being changed;
        `force=True` takes the fields over. Keep one manager name per component and purpose."""
        rk = of_object(obj)
        path = rk.path(self._one_namespace(rk, None, obj), self._named(obj), subresource)
        params = self._write_params(dry_run, field_manager, force="true" if force else None)
        return await self._wire.request("PATCH", path, params=params, body=obj, content_type=APPLY_CONTENT_TYPE)

    async def delete(self, kind: str | Kind, name: str, namespace: str | None = None, *,
                     propagation: str = "Background", dry_run: bool = False,
                     resource_version: str | None = None) -> None:
        """DELETE. `propagation` decides the dependents' fate (Background: the garbage collector deletes them
        after; Foreground: the object stays until they are gone; Orphan: they are kept). An object with
        finalizers only gets a deletionTimestamp now: `wait(..., until=lambda o: o is None)` to see it go.
        `resource_version` makes the delete conditional (`Conflict` when the object changed)."""
        if propagation not in PROPAGATION:
            raise ValueError(f'propagation must be one of {", ".join(PROPAGATION)}, not "{propagation}"')
        rk = resolve(kind)
        path = rk.path(self._one_namespace(rk, namespace), name)
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        if resource_version:
            options["preconditions"] = {"resourceVersion": resource_version}
        await self._wire.request("DELETE", path, params={"dryRun": "All" if dry_run else None}, body=options)

    # -- pods and events ----------------------------------------------------------------------------

    async def bind(self, namespace: str, pod_name: str, node_name: str,
                   annotations: Mapping[str, str] | None = None, uid: str | None = None) -> None:
        """Assign a pending pod to a node (POST pods/{name}/binding), as a scheduler does; `Conflict` when the
        pod is already bound, or when `uid` is given and the pod of that name is another one now.
        `annotations` are set on the pod in the same write (the API server copies a Binding's annotations to
        its pod, Kubernetes' and Berth's alike)."""
        meta: dict[str, Any] = {"name": pod_name, "namespace": namespace}
        if uid:
            meta["uid"] = uid
        if annotations:
            meta["annotations"] = dict(annotations)
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": meta,
                "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        await self._wire.request("POST", resolve("Pod").path(namespace, pod_name, "binding"), body=body)

    async def logs(self, namespace: str, pod: str, *, container: str | None = None, follow: bool = False,
                   since_seconds: int | None = None, since_time: str | None = None, tail_lines: int | None = None,
                   timestamps: bool = False, previous: bool = False,
                   limit_bytes: int | None = None) -> AsyncIterator[bytes]:
        """A container's output (GET pods/{name}/log, kubectl logs' options), in chunks as they arrive; with
        `follow` the stream ends when the pod has finished or is gone. Errors (`BadRequest` for a container
        that has not started) are raised before the first chunk."""
        params: dict[str, Any] = {
            "container": container, "follow": "true" if follow else None, "sinceSeconds": since_seconds,
            "sinceTime": since_time, "tailLines": tail_lines, "timestamps": "true" if timestamps else None,
            "previous": "true" if previous else None, "limitBytes": limit_bytes}
        path = resolve("Pod").path(namespace, pod, "log")
        async with contextlib.aclosing(self._wire.stream_bytes(path, params)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def can_i(self, verb: str, resource: str, group: str = "", namespace: str | None = None) -> bool:
        """May this client's user do `verb` on `resource` (a plural, `pods/log` for a subresource) of API
        `group` in `namespace` (None: cluster-wide or every namespace)? The API server's own answer, a
        SelfSubjectAccessReview, as `kubectl auth can-i` asks it."""
        plural, _, sub = resource.partition("/")
        attributes = {"verb": verb, "group": group, "resource": plural, "subresource": sub or None,
                      "namespace": namespace}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {k: v for k, v in attributes.items() if v}}}
        answer = await self._wire.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                          body=review)
        return bool((answer.get("status") or {}).get("allowed"))

    async def whoami(self) -> str:
        """This client's user name, as the API server authenticated it (a SelfSubjectReview, what
        `kubectl auth whoami` asks)."""
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        answer = await self._wire.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=review)
        return str(((answer.get("status") or {}).get("userInfo") or {}).get("username") or "")

    async def version(self) -> Obj:
        """The server's /version document (gitVersion, platform, ...), as `kubectl version` reads it."""
        return await self._wire.request("GET", "/version")

    async def create_event(self, involved: Obj, reason: str, message: str, *, type: str = "Normal",
                           action: str | None = None, component: str | None = None) -> Obj:
        """Record a core/v1 Event about `involved` (an object as read from the API), where
        `kubectl describe` shows it. `type` is Normal or Warning; `reason` a CamelCase word
        ("Scheduled", "FailedScheduling"); `component` defaults to the client's field manager. A repeat of an
        event this client recorded lately bumps that Event's count (`berth.client.events`)."""
        return await self._events.record(involved, reason, message, type=type, action=action,
                                         component=component or self.field_manager)
