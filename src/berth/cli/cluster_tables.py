"""The cluster as `berth list projects|nodes|nodepools|policies` and `berth top` show it: what each project
deserves, holds and asks for, each node's and node pool's GPUs and how many are taken.

Projects and node pools are read from the status the usage controller keeps (the same numbers the scheduler
charges); a node's allocation is the sum of what its placed pods hold, read the scheduler's way
(`berth.api.usage`), since a Node has no such status. A pool that has no NodePool object (`default`, unless an
admin made one) is summed from its nodes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from berth.api import usage
from berth.api.registry import POLICY_OF
from berth.api.usage import MILLI
from berth.cli.output import age, number
from berth.policy.lookup import GLOBAL_NAMESPACE as GLOBAL_POLICY_NAMESPACE

Obj = dict[str, Any]

POLICY_KINDS = tuple(POLICY_OF.values())

PROJECT_HEADERS = ("PROJECT", "DESERVED GPUs", "ALLOCATED GPUs", "REQUESTED GPUs", "OVER QUOTA GPUs", "MAX GPUs")
NODE_HEADERS = ("NAME", "STATUS", "NODE POOL", "GPUs", "ALLOCATED GPUs", "FREE GPUs")
NODE_WIDE = (*NODE_HEADERS, "CPU", "MEMORY", "PODS")
POOL_HEADERS = ("NODE POOL", "STATUS", "NODES", "GPUs", "ALLOCATED GPUs", "REQUESTED GPUs", "FREE GPUs")
POLICY_HEADERS = ("KIND", "NAME", "SCOPE", "AGE")


def _gpu(amounts: Obj | None) -> float:
    try:
        return float((amounts or {}).get("gpu") or 0)
    except (TypeError, ValueError):
        return 0.0


def project_row(project: Obj, default: str | None = None) -> list[str]:
    name = project["metadata"]["name"]
    spec, status = project.get("spec") or {}, project.get("status") or {}
    deserved = float(status.get("deservedGpus") or spec.get("deservedGpus") or 0)
    allocated = _gpu(status.get("allocated"))
    limit = spec.get("maxAllowedGpus")
    return [name + (" (default)" if name == default else ""), number(deserved), number(allocated),
            number(_gpu(status.get("requested"))), number(max(allocated - deserved, 0)),
            "unlimited" if limit in (None, -1) else number(limit)]


@dataclass
class NodeView:
    """One node and what its placed pods hold."""

    name: str
    ready: bool
    pool: str
    gpus: int
    allocated_milli: int = 0
    pods: int = 0
    cpu: str = "-"
    memory: str = "-"

    @property
    def allocated(self) -> float:
        return self.allocated_milli / MILLI

    def row(self, *, wide: bool) -> list[str]:
        cells = [self.name, "Ready" if self.ready else "NotReady", self.pool, str(self.gpus), number(self.allocated),
                 number(max(self.gpus - self.allocated, 0))]
        return cells + [self.cpu, self.memory, str(self.pods)] if wide else cells


def node_views(nodes: list[Obj], pools: list[Obj], pods: list[Obj]) -> list[NodeView]:
    selectors = [usage.pool_selector(p) for p in pools]
    views: dict[str, NodeView] = {}
    memory_of: dict[str, int] = {}
    for node in nodes:
        meta = node["metadata"]
        devices = usage.node_devices(node)
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        views[meta["name"]] = NodeView(meta["name"], usage.node_ready(node),
                                       usage.pool_of_node(meta.get("labels") or {}, selectors), len(devices),
                                       cpu=str(allocatable.get("cpu", "-")), memory=str(allocatable.get("memory", "-")))
        memory_of[meta["name"]] = devices[0].memory_mib if devices else usage.DEFAULT_GPU_MEMORY_MIB
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node in views and usage.counts(pod):
            views[node].allocated_milli += usage.pod_request(pod).gpu_milli(memory_of[node])
            views[node].pods += 1
    return sorted(views.values(), key=lambda v: v.name)


@dataclass
class PoolView:
    name: str
    phase: str = "-"
    nodes: int = 0
    gpus: float = 0
    allocated: float = 0
    requested: float | None = None
    members: list[str] = field(default_factory=list)

    def row(self) -> list[str]:
        return [self.name, self.phase, str(self.nodes), number(self.gpus), number(self.allocated),
                "-" if self.requested is None else number(self.requested), number(max(self.gpus - self.allocated, 0))]


def pool_views(pools: list[Obj], nodes: list[NodeView]) -> list[PoolView]:
    """Each NodePool object from its status, and each pool only nodes name (no object) summed from them."""
    views: dict[str, PoolView] = {}
    for pool in pools:
        status = pool.get("status") or {}
        views[pool["metadata"]["name"]] = PoolView(
            pool["metadata"]["name"], status.get("phase") or "-", len(status.get("nodes") or []),
            float(status.get("totalGpus") or 0), float(status.get("allocatedGpus") or 0),
            _gpu(status.get("requested")))
    by_pool: dict[str, list[NodeView]] = defaultdict(list)
    for node in nodes:
        by_pool[node.pool].append(node)
    for name, members in by_pool.items():
        if name in views:
            continue
        ready = [n for n in members if n.ready]
        views[name] = PoolView(name, "Ready" if ready else "Empty", len(members), sum(n.gpus for n in ready),
                               sum(n.allocated for n in members))
    return sorted(views.values(), key=lambda v: v.name)


async def read_nodes(client: Any) -> tuple[list[NodeView], list[PoolView]]:
    """The nodes and node pools, with one list of each kind and of the pods."""
    nodes, pools, pods = await asyncio.gather(client.list("Node"), client.list("NodePool"), client.list("Pod"))
    views = node_views(list(nodes), list(pools), list(pods))
    return views, pool_views(list(pools), views)


def policy_row(policy: Obj) -> list[str]:
    meta = policy["metadata"]
    namespace = meta.get("namespace", "")
    scope = "global" if namespace == GLOBAL_POLICY_NAMESPACE else f"project {namespace.removeprefix('runai-')}"
    return [policy.get("kind", ""), meta["name"], scope, age(meta.get("creationTimestamp"))]


async def read_policies(client: Any, namespace: str | None) -> list[Obj]:
    """The policies of a project's namespace and the global ones (every namespace when None)."""
    spaces = [None] if namespace is None else [namespace, GLOBAL_POLICY_NAMESPACE]
    lists = await asyncio.gather(*(client.list(kind, ns) for kind in POLICY_KINDS for ns in spaces))
    found = [p for listed in lists for p in listed]
    return sorted(found, key=lambda p: (p["metadata"].get("namespace") != GLOBAL_POLICY_NAMESPACE,
                                        p["metadata"].get("namespace", ""), p["kind"], p["metadata"]["name"]))
