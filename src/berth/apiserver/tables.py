"""Server-side Tables (`meta.k8s.io/v1 Table`): what `kubectl get` prints.

Custom resources get their columns from the printer columns in `berth.api.registry` (the same ones their
CRDs declare), so `kubectl get tw` looks the same against Berth and against a real cluster with Berth's
CRDs. Core kinds get the columns kubectl users know (pods: READY, STATUS, RESTARTS, AGE...). Columns of
priority 1 appear only with `-o wide`; kubectl filters them itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from berth.apiserver.resources import Resource

Column = tuple[str, str, str, int]  # name, type, description, priority
Row = list[Any]


def human_duration(seconds: float) -> str:
    """A duration as kubectl's AGE column shows it: 45s, 5m10s, 3h, 2d4h, 400d, 3y20d."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    days = hours // 24
    years, rest = divmod(days, 365)
    if years < 8:
        return f"{years}y{rest}d" if rest else f"{years}y"
    return f"{years}y"


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """The age of an RFC 3339 timestamp, or <unknown>."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp.replace("Z", "+0000")[:19] + "+0000", "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return "<unknown>"
    return human_duration(((now or datetime.now(timezone.utc)) - then).total_seconds())


def json_path(obj: Any, path: str) -> Any:
    """The value at a simple JSONPath (`.status.phase`, `.spec.items[0].name`), or None."""
    node = obj
    for part in path.strip().lstrip(".").split("."):
        if not part:
            continue
        name, _, index = part.partition("[")
        if name:
            node = node.get(name) if isinstance(node, dict) else None
        if index:
            i = int(index.rstrip("]"))
            node = node[i] if isinstance(node, list) and -len(node) <= i < len(node) else None
        if node is None:
            return None
    return node


# -----------------------------------------------------------------------------------------------------
# Core kinds
# -----------------------------------------------------------------------------------------------------

NAME: Column = ("Name", "string", "Name of the object.", 0)
AGE: Column = ("Age", "string", "Time since the object was created.", 0)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _pod_status(pod: dict[str, Any]) -> str:
    if _meta(pod).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in status.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if "terminated" in state and state["terminated"].get("exitCode", 0) != 0:
            return "Init:" + (state["terminated"].get("reason") or "Error")
        if "waiting" in state and state["waiting"].get("reason") not in (None, "PodInitializing"):
            return "Init:" + state["waiting"]["reason"]
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal") else
                                            f"ExitCode:{term.get('exitCode', 0)}")
    return reason


def _pod(pod: dict[str, Any]) -> Row:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len(spec.get("containers") or [])
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    return [_meta(pod).get("name"), f"{ready}/{total}", _pod_status(pod), restarts,
            age(_meta(pod).get("creationTimestamp")), status.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", "<none>"]


def _node(node: dict[str, Any]) -> Row:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    state = "Ready" if ready and ready.get("status") == "True" else ("NotReady" if ready else "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = _meta(node).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k)
    info = (node.get("status") or {}).get("nodeInfo") or {}
    addresses = (node.get("status") or {}).get("addresses") or []
    internal = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "<none>")
    gpus = ((node.get("status") or {}).get("allocatable") or {}).get("nvidia.com/gpu", "0")
    return [_meta(node).get("name"), state, ",".join(roles) or "<none>", age(_meta(node).get("creationTimestamp")),
            info.get("kubeletVersion", ""), internal, gpus, info.get("osImage", "<unknown>")]


def _ports(spec: dict[str, Any]) -> str:
    parts = []
    for port in spec.get("ports") or []:
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _service(svc: dict[str, Any]) -> Row:
    spec = svc.get("spec") or {}
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items()) or "<none>"
    return [_meta(svc).get("name"), spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", external,
            _ports(spec), age(_meta(svc).get("creationTimestamp")), selector]


def _event(ev: dict[str, Any]) -> Row:
    obj = ev.get("involvedObject") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or _meta(ev).get("creationTimestamp")
    source = ev.get("source") or {}
    return [age(last), ev.get("type", ""), ev.get("reason", ""), f"{(obj.get('kind') or '').lower()}/{obj.get('name', '')}",
            ev.get("message", ""), obj.get("fieldPath", ""), source.get("component", ""),
            age(ev.get("firstTimestamp")), ev.get("count", 1), _meta(ev).get("name")]


def _pvc(pvc: dict[str, Any]) -> Row:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    capacity = (status.get("capacity") or {}).get("storage", "")
    modes = ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                      "ReadWriteOncePod": "RWOP"}.get(m, m) for m in status.get("accessModes") or [])
    return [_meta(pvc).get("name"), status.get("phase", "Pending"), spec.get("volumeName", ""), capacity, modes,
            spec.get("storageClassName") or "<unset>", age(_meta(pvc).get("creationTimestamp"))]


_CORE: dict[str, tuple[list[Column], Callable[[dict[str, Any]], Row]]] = {
    "pods": ([NAME, ("Ready", "string", "Ready containers of all.", 0),
              ("Status", "string", "Phase or the reason it is not running.", 0),
              ("Restarts", "integer", "Container restarts.", 0), AGE,
              ("IP", "string", "Pod IP.", 1), ("Node", "string", "Node the pod runs on.", 1),
              ("Nominated Node", "string", "Node nominated by preemption.", 1),
              ("Readiness Gates", "string", "Readiness gates.", 1)], _pod),
    "nodes": ([NAME, ("Status", "string", "Ready or NotReady.", 0), ("Roles", "string", "Node roles.", 0), AGE,
               ("Version", "string", "Agent version.", 0), ("Internal-IP", "string", "Internal address.", 1),
               ("GPUs", "string", "Allocatable GPUs.", 1), ("OS-Image", "string", "Operating system.", 1)], _node),
    "services": ([NAME, ("Type", "string", "Service type.", 0), ("Cluster-IP", "string", "Cluster IP.", 0),
                  ("External-IP", "string", "External addresses.", 0), ("Port(s)", "string", "Ports.", 0), AGE,
                  ("Selector", "string", "Pod selector.", 1)], _service),
    "events": ([("Last Seen", "string", "When last seen.", 0), ("Type", "string", "Normal or Warning.", 0),
                ("Reason", "string", "Why.", 0), ("Object", "string", "The object concerned.", 0),
                ("Message", "string", "What happened.", 0), ("Subobject", "string", "Field path.", 1),
                ("Source", "string", "Reporting component.", 1), ("First Seen", "string", "When first seen.", 1),
                ("Count", "integer", "How often.", 1), ("Name", "string", "Event name.", 1)], _event),
    "persistentvolumeclaims": ([NAME, ("Status", "string", "Phase.", 0), ("Volume", "string", "Bound volume.", 0),
                                ("Capacity", "string", "Size.", 0), ("Access Modes", "string", "Modes.", 0),
                                ("StorageClass", "string", "Storage class.", 0), AGE], _pvc),
    "namespaces": ([NAME, ("Status", "string", "Active or Terminating.", 0), AGE],
                   lambda o: [_meta(o).get("name"), (o.get("status") or {}).get("phase", "Active"),
                              age(_meta(o).get("creationTimestamp"))]),
    "configmaps": ([NAME, ("Data", "integer", "Number of keys.", 0), AGE],
                   lambda o: [_meta(o).get("name"), len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                              age(_meta(o).get("creationTimestamp"))]),
    "secrets": ([NAME, ("Type", "string", "Secret type.", 0), ("Data", "integer", "Number of keys.", 0), AGE],
                lambda o: [_meta(o).get("name"), o.get("type", "Opaque"), len(o.get("data") or {}),
                           age(_meta(o).get("creationTimestamp"))]),
    "serviceaccounts": ([NAME, ("Secrets", "integer", "Token secrets.", 0), AGE],
                        lambda o: [_meta(o).get("name"), len(o.get("secrets") or []),
                                   age(_meta(o).get("creationTimestamp"))]),
    "leases": ([NAME, ("Holder", "string", "Holder identity.", 0), AGE],
               lambda o: [_meta(o).get("name"), (o.get("spec") or {}).get("holderIdentity", ""),
                          age(_meta(o).get("creationTimestamp"))]),
}


def _custom_columns(resource: Resource) -> tuple[list[Column], Callable[[dict[str, Any]], Row]]:
    assert resource.model is not None
    printer = resource.model.columns
    columns: list[Column] = [NAME] + [
        (c.name, "string" if c.type == "date" else c.type, c.description, c.priority) for c in printer
    ]

    def row(obj: dict[str, Any]) -> Row:
        cells: Row = [_meta(obj).get("name")]
        for c in printer:
            value = json_path(obj, c.json_path)
            cells.append(age(value) if c.type == "date" else value)
        return cells

    return columns, row


def columns_for(resource: Resource) -> tuple[list[Column], Callable[[dict[str, Any]], Row]]:
    if resource.model is not None:
        return _custom_columns(resource)
    return _CORE.get(resource.plural, ([NAME, AGE], lambda o: [_meta(o).get("name"),
                                                               age(_meta(o).get("creationTimestamp"))]))


def _row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(resource: Resource, objects: list[dict[str, Any]], *, include: str = "Metadata",
          list_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Table of `objects`, with each row carrying the object's metadata (or the object) as kubectl needs."""
    columns, row = columns_for(resource)
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj)}
        row_obj = _row_object(obj, include)
        if row_obj is not None:
            entry["object"] = row_obj
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta or {},
        "columnDefinitions": [
            {"name": n, "type": t, "format": "name" if n == "Name" and i == 0 else "", "description": d,
             "priority": p}
            for i, (n, t, d, p) in enumerate(columns)
        ],
        "rows": rows,
    }
