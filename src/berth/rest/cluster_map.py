"""Nodes, node pools and the cluster in Run:ai's REST shapes: pure translation of the API's objects.

- A node pool's id: Run:ai's are numbers; Berth's NodePool objects have uids, so the id is a number made
  from the uid (its first 52 bits, exact in JSON), stable for the object's life. The pool `default` exists
  whether or not a NodePool object names it (every node no pool selects is in it); its id is always 0.
- A node's pool is `berth.api.usage.pool_of_node` (the scheduler's reading); its GPUs `node_devices`, its
  GPU type the `nvidia.com/gpu.product` label (as NVIDIA's GPU feature discovery sets it).
- A node pool's `nodes` is its nodes' names as a JSON array in a string, Run:ai's shape; its status is
  Ready with a ready node, else Empty; `overProvisioningRatio` is always 1.
- The cluster is the one this API serves; its id is `berth.rest.ids.cluster_id`.
Nothing here does I/O; `berth.rest.clusters` reads the objects and serves these.
"""

from __future__ import annotations

import json
from typing import Any

from berth.api.projects import DEFAULT_POOL
from berth.api.usage import node_devices, node_ready, pool_of_node, pool_selector

Obj = dict[str, Any]
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
#: Run:ai's tenant: Berth has one, numbered 1.
TENANT_ID = 1


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def pool_id(node_pool: Obj | None) -> int:
    """A node pool's number (see the module's docstring); 0 for the default pool."""
    meta = _meta(node_pool or {})
    uid = meta.get("uid")
    return int(uid.replace("-", "")[:13], 16) if uid and meta.get("name") != DEFAULT_POOL else 0


def pools_by_name(node_pools: list[Obj]) -> dict[str, Obj]:
    """NodePool objects by name, with the default pool present (an object without uid when none names it)."""
    found = {_meta(p)["name"]: p for p in node_pools}
    found.setdefault(DEFAULT_POOL, {"metadata": {"name": DEFAULT_POOL}, "spec": {}})
    return found


def find_pool(pools: dict[str, Obj], key: str) -> str | None:
    """The name of the pool whose id (number), uid or name is `key`; None when none is."""
    for name, pool in pools.items():
        if key in (name, str(pool_id(pool)), _meta(pool).get("uid")):
            return name
    return None


def updated_at(obj: Obj) -> str | None:
    """When the object was last written: its latest managedFields time, else its creation."""
    times = [str(m["time"]) for m in _meta(obj).get("managedFields") or [] if m.get("time")]
    return max(times) if times else _meta(obj).get("creationTimestamp")


def node_pool_of(node: Obj, node_pools: list[Obj]) -> str:
    return pool_of_node(_meta(node).get("labels") or {}, [pool_selector(p) for p in node_pools if _meta(p).get("name")])


def node_answer(node: Obj, node_pools: list[Obj], cluster_id: str) -> Obj:
    """A Node as Run:ai's Node schema."""
    meta, status = _meta(node), node.get("status") or {}
    conditions = status.get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    state = "Ready" if node_ready(node) else ("NotReady" if ready and ready.get("status") == "False" else "Unknown")
    devices = node_devices(node)
    out: Obj = {
        "name": meta["name"], "status": state, "nodePool": node_pool_of(node, node_pools),
        "createdAt": meta.get("creationTimestamp"), "clusterUuid": cluster_id,
        "updatedAt": (ready or {}).get("lastHeartbeatTime") or (ready or {}).get("lastTransitionTime")
        or meta.get("creationTimestamp"),
        "conditions": [{"type": c.get("type") or "", "reason": c.get("reason") or c.get("status") or "",
                        **({"message": c["message"]} if c.get("message") else {})} for c in conditions],
        "taints": [{"key": t.get("key") or "", "effect": t.get("effect") or "NoSchedule",
                    **({"value": t["value"]} if t.get("value") else {})}
                   for t in (node.get("spec") or {}).get("taints") or []],
    }
    if devices:
        out["gpuInfo"] = {"gpuType": (meta.get("labels") or {}).get(GPU_PRODUCT_LABEL, "unknown"),
                          "gpuCount": len(devices)}
    return out


#: Berth's NodePool phases -> Run:ai's node pool statuses.
POOL_STATUS = {"Ready": "Ready", "Empty": "Empty"}


def node_pool_answer(pool: Obj, nodes: list[Obj], node_pools: list[Obj], cluster_id: str) -> Obj:
    """A NodePool as Run:ai's NodePool1: its nodes by the same reading as the scheduler's; Ready when one of
    them is ready, else Empty (Deleting while it is being deleted)."""
    meta, spec = _meta(pool), pool.get("spec") or {}
    name = meta["name"]
    members = [n for n in nodes if node_pool_of(n, node_pools) == name]
    ready = [n for n in members if node_ready(n)]
    if meta.get("deletionTimestamp"):
        status, message = "Deleting", "the node pool is being deleted"
    elif ready:
        status, message = "Ready", f"{len(ready)} of its {len(members)} nodes ready"
    else:
        status = "Empty"
        message = "none of its nodes is ready" if members else "no node is in the pool"
    strategy = spec.get("placementStrategy") or "binpack"
    out: Obj = {
        "id": pool_id(pool), "name": name, "clusterId": cluster_id, "overProvisioningRatio": 1,
        "placementStrategy": {"gpu": strategy, "cpu": strategy}, "status": status, "statusMessage": message,
        "nodes": json.dumps(sorted(_meta(n)["name"] for n in members)), "isDefault": name == DEFAULT_POOL,
    }
    for key in ("labelKey", "labelValue"):
        if spec.get(key):
            out[key] = spec[key]
    created = meta.get("creationTimestamp")
    if created:
        out["createdAt"] = created
        out["updatedAt"] = updated_at(pool)
    return out


def cluster_answer(namespace: Obj, cluster_id: str, version: str, kube_version: str | None,
                   verbosity: str = "full") -> Obj:
    """The cluster as Run:ai's DisplayedCluster; `namespace` is the `runai` namespace it takes its id from."""
    out: Obj = {"uuid": cluster_id, "tenantId": TENANT_ID, "name": "berth",
                "createdAt": _meta(namespace).get("creationTimestamp")}
    if verbosity == "full":
        out.update({"version": version, "status": {
            "state": "Connected",
            "platform": {"type": "vanilla", **({"kubeVersion": kube_version} if kube_version else {})}}})
    return out
