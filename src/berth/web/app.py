"""The UI's ASGI app: the page at `/ui/`, its static files, and `/ui/api/...`, what the page reads.

Every `/ui/api` request carries the user's token (`Authorization: Bearer`), which is forwarded to the
Kubernetes API (`Client.as_bearer`): the API server authenticates and authorizes it as it does kubectl, so
the UI never decides who may see what. The workloads feed is one stream per tab (a browser keeps at most
six connections to a server, so one watch per kind and project would starve it): the app watches each
workload kind in every namespace the user may list them in, and sends one line per change.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from berth.api import usage
from berth.api.projects import DEFAULT_POOL, namespace_of_project, project_of_namespace
from berth.api.registry import POLICY_OF, WORKLOADS, by_kind
from berth.api.schema import crd_schema
from berth.api.wellknown import WORKLOAD_NAME_LABEL
from berth.client import ApiError, Client
from berth.policy import lookup

PREFIXES = ("/ui",)
GLOBAL_NAMESPACE = lookup.GLOBAL_NAMESPACE  # where global policies live
POLICY_KINDS = tuple(POLICY_OF.values())
STATIC = Path(__file__).parent / "static"
KINDS = tuple(k.kind for k in WORKLOADS)
_FILES = {"app.js": "text/javascript", "style.css": "text/css"}


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def summary(obj: dict[str, Any]) -> dict[str, Any]:
    """What the workloads list shows of a workload."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    gpu = (spec.get("gpu") or {}).get("value") if isinstance(spec.get("gpu"), dict) else None
    return {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "project": (meta.get("labels") or {}).get("project") or project_of_namespace(meta.get("namespace", "")),
            "phase": status.get("phase") or "Pending", "gpu": gpu or "", "created": meta.get("creationTimestamp", "")}


def project_summary(obj: dict[str, Any]) -> dict[str, Any]:
    """What the projects page shows of a project: per node pool, GPUs deserved, allocated and requested
    (placed pods and waiting ones that prefer the pool)."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    deserved = {(r.get("nodePool") or DEFAULT_POOL): ((r.get("gpu") or {}).get("deserved") or 0)
                for r in spec.get("nodePoolsResources") or []}
    pools: dict[str, dict[str, float]] = {}
    for used in status.get("nodePools") or []:
        pools[used.get("nodePool") or DEFAULT_POOL] = {
            "allocated": float((used.get("allocated") or {}).get("gpu") or 0),
            "requested": float((used.get("requested") or {}).get("gpu") or 0)}
    if not deserved:  # one quota over all pools: shown on the default pool
        deserved = {DEFAULT_POOL: spec.get("deservedGpus") or 0}
    rows = [{"pool": pool, "deserved": float(deserved.get(pool, 0)), **pools.get(pool, {"allocated": 0.0,
                                                                                           "requested": 0.0})}
            for pool in sorted(set(deserved) | set(pools))]
    name = meta.get("name", "")
    return {"name": name, "namespace": status.get("namespace") or namespace_of_project(name, spec), "pools": rows}


def node_tiles(nodes: list[dict[str, Any]], pods: list[dict[str, Any]],
               seen: set[str] | None = None) -> list[dict[str, Any]]:
    """What the nodes page draws: each node's devices (`berth.api.usage`, as the scheduler reads them) and
    the pods placed on each, with their share of it: a whole GPU, a fraction, GPU memory, or a MIG slice.
    A pod outside the namespaces `seen` (None: all) is shown without its name or project."""
    by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        if not usage.finished(pod):
            by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
    out = []
    for node in sorted(nodes, key=lambda n: (n.get("metadata") or {}).get("name", "")):
        name = (node.get("metadata") or {}).get("name", "")
        devices = usage.node_devices(node)
        tiles = {d.index: {"index": d.index, "memoryMiB": d.memory_mib, "mig": list(d.mig or []), "occupants": []}
                 for d in devices}
        for pod in by_node.get(name, []):
            request, (held, instances) = usage.pod_request(pod), usage.pod_held(pod)
            meta = pod.get("metadata") or {}
            for i, index in enumerate(held):
                tile = tiles.get(index)
                if tile is None:
                    continue
                device = next(d for d in devices if d.index == index)
                whole = request.gpus > 0 and not instances
                milli = usage.MILLI if whole else request.gpu_milli(device.memory_mib, device.mig_slices) // max(
                    len(held), 1)
                instance = instances[i] if instances else None
                share = ("whole GPU" if whole else f"MIG {device.mig[instance]}" if instance is not None and device.mig
                         else f"{request.gpu_memory} MiB" if request.gpu_memory else f"{milli / usage.MILLI:g} GPU")
                visible = seen is None or meta.get("namespace", "") in seen
                tile["occupants"].append({"pod": meta.get("name", "") if visible else "",
                                          "namespace": meta.get("namespace", "") if visible else "",
                                          "share": share, "milli": milli, "instance": instance})
        out.append({"name": name, "ready": usage.node_ready(node), "gpus": [tiles[d.index] for d in devices]})
    return out


def pod_summary(pod: dict[str, Any]) -> dict[str, Any]:
    """A pod as the detail page lists it: its phase, node, and why it waits (its PodScheduled condition's
    message: the scheduler's reason in plain words)."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    waiting = next((c.get("message", "") for c in status.get("conditions") or []
                    if c.get("type") == "PodScheduled" and c.get("status") == "False"), "")
    return {"name": meta.get("name", ""), "phase": status.get("phase", ""), "node": spec.get("nodeName", ""),
            "waiting": waiting}


def event_summary(event: dict[str, Any]) -> dict[str, Any]:
    return {"time": event.get("lastTimestamp") or event.get("eventTime") or "", "type": event.get("type", ""),
            "reason": event.get("reason", ""), "object": (event.get("involvedObject") or {}).get("name", ""),
            "message": event.get("message", ""), "count": event.get("count") or 1}


#: The fields a form shows first; the rest are under "More".
MAIN_FIELDS = ("jobType", "image", "command", "arguments", "gpu", "gpuMemory", "cpu", "memory", "environment", "ports",
               "workingDir", "nodePools", "nodeType", "largeShm")


def form_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec fields of a workload schema as form fields: name, label, help, input type, and whether the
    form shows it first. A plain value (`jobType`, `usage`) is a "select" of its enum, or an input, marked
    "plain" (written as it is). A field that takes one value ({value: ...}) is "text", "number" or
    "checkbox"; an itemized one ({items: {<label>: {value: ...}}}) is "pairs" when an item's value is text
    (one LABEL=VALUE a line) and "records" when it is an object ("label: key=value, key=value" a line),
    with its keys and their types."""
    fields = []
    for name, prop in ((schema.get("properties") or {}).get("spec") or {}).get("properties", {}).items():
        props = prop.get("properties") or {}
        field: dict[str, Any] = {"name": name, "label": _label(name), "help": prop.get("description", ""),
                                 "main": name in MAIN_FIELDS}
        if not props and prop.get("type") in ("string", "integer", "boolean"):  # a plain value (jobType, usage)
            field["plain"] = True
            field["type"] = "select" if prop.get("enum") else _INPUTS.get(prop["type"], "text")
            if prop.get("enum"):
                field["options"] = list(prop["enum"])
        elif set(props) == {"value"} and isinstance(props["value"], dict):
            field["type"] = _INPUTS.get(props["value"].get("type", ""), "text")
        elif set(props) == {"items"}:
            value = ((props["items"].get("additionalProperties") or {}).get("properties") or {}).get("value") or {}
            if value.get("type") == "string":
                field["type"] = "pairs"
            elif value.get("type") == "object" and value.get("properties"):
                field["type"] = "records"
                field["keys"] = {k: _INPUTS.get(v.get("type", ""), "text") for k, v in value["properties"].items()}
            else:
                continue
        else:
            continue
        fields.append(field)
    fields.sort(key=lambda f: (not f["main"], MAIN_FIELDS.index(f["name"]) if f["main"] else 0))
    return fields


_INPUTS = {"boolean": "checkbox", "integer": "number"}


def _label(name: str) -> str:
    """`gpuMemory` -> "GPU memory"."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).split()
    out = " ".join(w if w.isupper() else w.lower() for w in words)
    out = re.sub(r"\b(gpu|cpu|mpi|uid|gid|ipc|url|urls|pvc|shm)\b", lambda m: m.group(1).upper(), out)
    return out[:1].upper() + out[1:]


async def _object_sent(request: Request, kinds: tuple[str, ...],
                       what: str) -> tuple[dict[str, Any], None] | tuple[None, Response]:
    """The one object a request's body holds (YAML, of which JSON is a part), when its kind is one of
    `kinds`; else the refusal to answer, naming a YAML error's line."""
    try:
        obj = yaml.safe_load((await request.body()).decode("utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        return None, _refusal(f"not YAML: {where}{getattr(exc, 'problem', exc)}")
    if not isinstance(obj, dict) or obj.get("kind") not in kinds:
        return None, _refusal(f"send one {what}: kind is one of {', '.join(kinds)}",
                              [{"field": "kind", "message": f"not a {what} kind"}])
    return obj, None


def _refusal(message: str, causes: list[dict[str, str]] | None = None) -> Response:
    """A refusal for the page to show (answered 200: it is no error of the browser's)."""
    return JSONResponse({"refused": {"message": message, "causes": causes or []}})


def _refused(exc: ApiError) -> Response:
    """The API server's refusal, with the fields its causes name."""
    return _refusal(exc.message, [{"field": c.get("field", ""), "message": c.get("message", "")} for c in exc.causes])


class Ui:
    """The app's shared state: the base client (the cluster's address and CA) whose `as_bearer` acts as
    each caller."""

    def __init__(self, base: Client) -> None:
        self.base = base

    async def me(self, request: Request) -> Response:
        """Who the token is, where they may list workloads and where create them: {"name", "all": bool,
        "namespaces": [...], "writable": [...]};
        a token the API server refuses is {"refused": why}, answered 200 so that a mistyped token is a
        message on the page, not an error in the browser's console."""
        async with self.base.as_bearer(_token(request)) as client:
            try:
                scope = await self._scope(client)
                scope["writable"] = [ns for ns in scope["namespaces"]
                                     if await client.can_i("create", "trainingworkloads", "run.ai", ns)]
                return JSONResponse(scope)
            except ApiError as exc:
                if exc.code == 401:
                    return JSONResponse({"refused": exc.message})
                return JSONResponse({"message": exc.message}, status_code=exc.code or 500)

    async def _scope(self, client: Client) -> dict[str, Any]:
        """Who the caller is, whether they may list workloads everywhere ("all"), and the namespaces of the
        projects they may list them in (every project's for "all")."""
        name = await client.whoami()
        everywhere = await client.can_i("list", "trainingworkloads", "run.ai")
        projects = await client.list("Project")
        namespaces = [namespace_of_project(p["metadata"]["name"], p.get("spec")) for p in projects]
        if not everywhere:
            namespaces = [ns for ns in namespaces if await client.can_i("list", "trainingworkloads", "run.ai", ns)]
        return {"name": name, "all": everywhere, "namespaces": sorted(namespaces)}

    async def workloads(self, request: Request) -> Response:
        """The live feed: a line {"type", "workload": summary} per change of any workload the user may see."""
        client = self.base.as_bearer(_token(request))
        try:
            scope = await self._scope(client)
        except ApiError as exc:
            await client.close()
            return JSONResponse({"message": exc.message}, status_code=exc.code or 500)
        return StreamingResponse(self._feed(client, scope), media_type="application/x-ndjson")

    async def _feed(self, client: Client, scope: dict[str, Any]) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        places = [None] if scope["all"] else scope["namespaces"]

        async def follow(kind: str, namespace: str | None) -> None:
            async with contextlib.aclosing(client.watch(kind, namespace)) as changes:
                async for event_type, obj in changes:
                    await queue.put(orjson.dumps({"type": event_type, "workload": summary(obj)}) + b"\n")

        async def projects() -> None:
            mine = None if scope["all"] else set(scope["namespaces"])
            async with contextlib.aclosing(client.watch("Project")) as changes:
                async for event_type, obj in changes:
                    project = project_summary(obj)
                    if mine is None or project["namespace"] in mine:
                        await queue.put(orjson.dumps({"type": event_type, "project": project}) + b"\n")

        tasks = [asyncio.create_task(follow(kind, ns)) for kind in KINDS for ns in places]
        tasks.append(asyncio.create_task(projects()))
        try:
            while True:
                yield await queue.get()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    async def form(self, request: Request) -> Response:
        """The submit form of a workload kind, generated from its schema (`berth.api`): `form_fields`."""
        kind = by_kind(request.path_params["kind"])
        if kind is None or kind.kind not in KINDS:
            return JSONResponse({"message": f"no workload kind {request.path_params['kind']!r}"}, status_code=404)
        return JSONResponse({"kind": kind.kind, "apiVersion": f"{kind.group}/{kind.version}", "plural": kind.plural,
                             "fields": form_fields(crd_schema(kind))})

    async def policy(self, request: Request) -> Response:
        """The policy a workload of this kind in this namespace gets (the project's, else the global one;
        `berth.policy.lookup`): {"policy": its description or null, "fields": {field: {"value", "required",
        "min", "max", "options", "canEdit"} or, itemized, {"items": {label: value}, "required", "canAdd"}}},
        for the form to pre-fill and bound. The API server still decides on submit: this only helps to ask
        for what it allows."""
        kind, namespace = request.path_params["kind"], request.path_params["namespace"]
        if kind not in KINDS:
            return JSONResponse({"message": f"no workload kind {kind!r}"}, status_code=404)
        policy_kind = POLICY_OF[kind]
        async with self.base.as_bearer(_token(request)) as client:
            try:
                own = await client.list(policy_kind, namespace)
                everyone = await client.list(policy_kind, GLOBAL_NAMESPACE)
            except ApiError as exc:
                return JSONResponse({"refused": exc.message})
        chosen = lookup.select(list(own), list(everyone))
        if chosen is None:
            return JSONResponse({"policy": None, "fields": {}})
        fields = {}
        for name, entry in (chosen.get("spec") or {}).items():
            if not isinstance(entry, dict):
                continue
            rules = entry.get("rules") or {}
            if "items" in entry or "itemRules" in entry:  # an itemized field: its default items
                items = {label: (item or {}).get("value") for label, item in (entry.get("items") or {}).items()
                         if label != "DEFAULTS"}
                fields[name] = {"items": items, **{k: rules.get(k) for k in ("required", "canAdd")
                                                   if rules.get(k) is not None}}
            elif "value" in entry or "rules" in entry:
                fields[name] = {"value": entry.get("value"), **{k: rules.get(k) for k in (
                    "required", "min", "max", "options", "canEdit") if rules.get(k) is not None}}
        return JSONResponse({"policy": lookup.describe(chosen), "fields": fields})

    async def submit(self, request: Request) -> Response:
        """Create the workload the form built, as the caller: {"created": {...}}, or {"refused": {"message",
        "causes": [{"field", "message"}]}} with the API server's verdict (answered 200: a refusal is the
        page's to show, next to the field it names, not an error in the browser's console)."""
        body, refusal = await _object_sent(request, KINDS, "workload")  # the form's JSON, or an uploaded file
        if refusal is not None:
            return refusal
        async with self.base.as_bearer(_token(request)) as client:
            try:
                created = await client.create(body)
            except ApiError as exc:
                return _refused(exc)
        meta = created.get("metadata") or {}
        return JSONResponse({"created": {"name": meta.get("name"), "namespace": meta.get("namespace")}})

    async def detail(self, request: Request) -> Response:
        """One workload as the detail page shows it: the object, its pods, and the events of it and its pods
        (oldest first): {"workload", "pods", "events"}; a refusal is {"refused": why}."""
        kind, namespace, name = (request.path_params[k] for k in ("kind", "namespace", "name"))
        if kind not in KINDS:
            return JSONResponse({"message": f"no workload kind {kind!r}"}, status_code=404)
        async with self.base.as_bearer(_token(request)) as client:
            try:
                workload = await client.get(kind, name, namespace)
                pods = await client.list("Pod", namespace, labels={WORKLOAD_NAME_LABEL: name})
                events = await client.list("Event", namespace)
            except ApiError as exc:
                return JSONResponse({"refused": exc.message})
        involved = {name} | {(p.get("metadata") or {}).get("name") for p in pods}
        mine = [e for e in events if (e.get("involvedObject") or {}).get("name") in involved]
        mine.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
        return JSONResponse({"workload": workload, "pods": [pod_summary(p) for p in pods],
                             "events": [event_summary(e) for e in mine]})

    async def act(self, request: Request) -> Response:
        """suspend, resume or delete a workload as the caller: {"done": action} or {"refused": why}."""
        kind, namespace, name, action = (request.path_params[k] for k in ("kind", "namespace", "name", "action"))
        if kind not in KINDS or action not in ("suspend", "resume", "delete"):
            return JSONResponse({"message": f"cannot {action} a {kind}"}, status_code=404)
        async with self.base.as_bearer(_token(request)) as client:
            try:
                if action == "delete":
                    await client.delete(kind, name, namespace)
                else:  # what `berth suspend` and `berth resume` do
                    await client.patch(kind, name, {"spec": {"active": {"value": action == "resume"}}}, namespace)
            except ApiError as exc:
                return JSONResponse({"refused": exc.message})
        return JSONResponse({"done": action})

    async def logs(self, request: Request) -> Response:
        """A pod's output, followed (kubectl logs -f) as the caller; a container that has not started, or a
        refusal, is one line saying so (the page tries again)."""
        namespace, pod = request.path_params["namespace"], request.path_params["pod"]
        client = self.base.as_bearer(_token(request))
        chunks = client.logs(namespace, pod, follow=True, container=request.query_params.get("container"))
        try:
            first = await anext(chunks, b"")
        except ApiError as exc:
            await client.close()
            return Response(f"(no output yet: {exc.message})\n", media_type="text/plain",
                            headers={"X-Berth-Log": "waiting"})

        async def rest() -> AsyncIterator[bytes]:
            try:
                yield first
                async for chunk in chunks:
                    yield chunk
            finally:
                await chunks.aclose()
                await client.close()

        return StreamingResponse(rest(), media_type="text/plain")

    async def nodes(self, request: Request) -> Response:
        """Every node's GPUs and who holds them: {"nodes": [{"name", "ready", "gpus": [{"index", "memoryMiB",
        "mig": [...], "occupants": [{"pod", "namespace", "share", "milli", "instance"}]}]}]}.

        A researcher may read only their projects' pods, but a GPU another project holds is not free: the
        app reads the placed pods with its own credentials and names only those the caller may see; the
        others are shown as another project's, with their share and nothing else."""
        async with self.base.as_bearer(_token(request)) as client:
            try:
                scope = await self._scope(client)
                nodes = await client.list("Node")
            except ApiError as exc:
                return JSONResponse({"refused": exc.message})
        pods = await self.base.list("Pod", None, fields="spec.nodeName!=")
        seen = None if scope["all"] else set(scope["namespaces"])
        return JSONResponse({"nodes": node_tiles(nodes, pods, seen)})

    async def policies(self, request: Request) -> Response:
        """The policies that bear on the caller's projects (theirs and the global ones in `runai`), each as
        YAML, and whether the caller may change it: {"policies": [{"kind", "namespace", "name", "yaml",
        "editable"}], "creatable": [namespaces where the caller may create one]}."""
        async with self.base.as_bearer(_token(request)) as client:
            try:
                scope = await self._scope(client)
                places = [None] if scope["all"] else [GLOBAL_NAMESPACE, *scope["namespaces"]]
                found = [obj for kind in POLICY_KINDS for ns in places for obj in await client.list(kind, ns)]
                editable = {ns: await client.can_i("update", "trainingpolicies", "run.ai", ns)
                            for ns in {GLOBAL_NAMESPACE, *scope["namespaces"]}}
            except ApiError as exc:
                return JSONResponse({"refused": exc.message})
        rows = []
        for obj in sorted(found, key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])):
            meta = obj["metadata"]
            shown = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
            rows.append({"kind": obj["kind"], "namespace": meta.get("namespace", ""), "name": meta["name"],
                         "yaml": yaml.safe_dump(shown, sort_keys=False), "editable": editable.get(
                             meta.get("namespace", ""), False)})
        return JSONResponse({"policies": rows, "creatable": sorted(ns for ns, ok in editable.items() if ok)})

    async def save_policy(self, request: Request) -> Response:
        """Write a policy sent as YAML, as the caller: replaced when it names the resourceVersion it was read
        at (a policy changed meanwhile is a conflict, as with kubectl edit), else created. {"saved": name} or
        {"refused": {"message", "causes"}}, a YAML error naming its line among them."""
        obj, refusal = await _object_sent(request, POLICY_KINDS, "policy")
        if refusal is not None:
            return refusal
        async with self.base.as_bearer(_token(request)) as client:
            try:
                if (obj.get("metadata") or {}).get("resourceVersion"):
                    saved = await client.replace(obj)
                else:
                    saved = await client.create(obj)
            except ApiError as exc:
                return _refused(exc)
        return JSONResponse({"saved": saved["metadata"]["name"]})

    async def page(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _FILES:
            return Response("not found", status_code=404)
        return FileResponse(STATIC / name, media_type=_FILES[name])


def create(base: Client) -> Starlette:
    ui = Ui(base)
    app = Starlette(routes=[
        Route("/ui", lambda request: RedirectResponse("/ui/")),
        Route("/ui/", ui.page),
        Route("/ui/static/{name}", ui.static),
        Route("/ui/api/me", ui.me),
        Route("/ui/api/workloads", ui.workloads),
        Route("/ui/api/form/{kind}", ui.form),
        Route("/ui/api/submit", ui.submit, methods=["POST"]),
        Route("/ui/api/policy/{kind}/{namespace}", ui.policy),
        Route("/ui/api/workload/{kind}/{namespace}/{name}", ui.detail),
        Route("/ui/api/workload/{kind}/{namespace}/{name}/{action}", ui.act, methods=["POST"]),
        Route("/ui/api/logs/{namespace}/{pod}", ui.logs),
        Route("/ui/api/nodes", ui.nodes),
        Route("/ui/api/policies", ui.policies),
        Route("/ui/api/policies", ui.save_policy, methods=["POST"]),
    ])
    app.aclose = base.close  # type: ignore[attr-defined]  # berth.apiserver.mounts closes it on exit
    return app


def mounts(kubeconfig: Path) -> list[tuple[tuple[str, ...], Any]]:
    """The UI for `berth up`'s API server, talking to it through the kubeconfig it wrote."""
    return [(PREFIXES, create(Client.from_kubeconfig(kubeconfig, field_manager="berth-ui")))]
