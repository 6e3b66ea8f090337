"""What Projects, Departments and NodePools hold and ask for, from the cluster's objects: the status the
usage controller (`berth.controllers.usage`) writes, computed in one pass. Pure: objects in, status out.

What is counted, and where (the same reading of pods and nodes as the scheduler's, `berth.api.usage`):
- A pod counts while it is not finished and was not deleted before being placed. Every such pod is
  *requested*; a pod bound to a node is also *allocated* (it holds that node's resources until it is gone).
- A pod is its project's when it is in the project's namespace (`spec.namespace`, else `runai-<project>`).
- Node pool: a placed pod counts in its node's pool; a waiting pod in the first pool it prefers (its
  `run.ai/node-pools`, else its project's `defaultNodePools`, else `default`), where the scheduler tries
  first.
- GPUs: whole devices plus a share of one (or of each of several); a `gpu-memory` share is taken of the
  device the pod holds, or, while it waits, of the pool's largest device (as the scheduler counts it); a MIG
  slice counts its share of its GPU's compute slices (`berth.api.mig`: a 1g.5gb of an A100 is 0.142 GPU;
  while it waits, of a 7-slice GPU).
- A department is the sum of its projects (`spec.department`, default `default`); its deserved GPUs per
  pool are its own quota where it gives one, else the sum of its projects' (as the scheduler honours them).
- A node pool lists its nodes in any state; `total` counts ready nodes only; `allocated` and `requested`
  count every pod in the pool, whatever its namespace.

Amounts are written as `{gpu: number, cpu: quantity, memory: quantity}`; conditions without times (the
controller keeps `lastTransitionTime` across writes: `phase.merge_conditions`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from berth.api import sharing, usage
from berth.api.projects import DEFAULT_POOL, deserved_gpus, namespace_of_project
from berth.api.mig import DEFAULT_SLICES as MIG_SLICES
from berth.api.usage import MILLI, PoolSelector

Obj = dict[str, Any]
Key = tuple[str, str]  # (kind, name)

DEFAULT_DEPARTMENT = "default"


def gpu_number(milli: int | float) -> int | float:
    """Milli-GPUs as the number written in a status: 2, 0.5, 3.75."""
    value = round(milli / MILLI, 3)
    return int(value) if value == int(value) else value


def gpus_in_words(milli: int | float) -> str:
    """`3 GPUs`, `1 GPU`, `0.5 GPU`."""
    value = gpu_number(milli)
    return f"{value} GPU" + ("" if 0 < value <= 1 else "s")


def cpu_quantity(millicores: int) -> str:
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def memory_quantity(mib: int) -> str:
    if mib == 0:
        return "0"
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


@dataclass
class Amount:
    """Milli-GPUs, millicores, MiB."""

    gpu: int = 0
    cpu: int = 0
    memory: int = 0

    def add(self, other: Amount) -> None:
        self.gpu += other.gpu
        self.cpu += other.cpu
        self.memory += other.memory

    def written(self) -> Obj:
        return {"gpu": gpu_number(self.gpu), "cpu": cpu_quantity(self.cpu), "memory": memory_quantity(self.memory)}


@dataclass
class Usage:
    allocated: Amount = field(default_factory=Amount)
    requested: Amount = field(default_factory=Amount)

    def add(self, other: Usage) -> None:
        self.allocated.add(other.allocated)
        self.requested.add(other.requested)

    def charge(self, amount: Amount, placed: bool) -> None:
        self.requested.add(amount)
        if placed:
            self.allocated.add(amount)


@dataclass
class Objects:
    """The cluster as the usage controller's caches hold it."""

    projects: list[Obj] = field(default_factory=list)
    departments: list[Obj] = field(default_factory=list)
    node_pools: list[Obj] = field(default_factory=list)
    nodes: list[Obj] = field(default_factory=list)
    pods: list[Obj] = field(default_factory=list)
    namespaces: Iterable[Obj] = ()
    request_of: Callable[[Obj], usage.PodRequest] = usage.pod_request  # what a pod asks for (a cache may serve it)


def _name(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("name") or ""


def _deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


@dataclass
class _Node:
    pool: str
    ready: bool
    devices: dict[int, int]  # index -> memory MiB
    cpu: int
    memory: int
    mig_slices: dict[int, int] = field(default_factory=dict)  # index -> compute slices, for GPUs in MIG mode


class _Books:
    """One pass over the pods: usage per project, per (project, pool) and per pool."""

    def __init__(self, objects: Objects) -> None:
        selectors = [usage.pool_selector(p) for p in objects.node_pools]
        self.nodes = {_name(n): self._node(n, selectors) for n in objects.nodes}
        self.largest_device: dict[str, int] = defaultdict(int)  # per pool
        for node in self.nodes.values():
            self.largest_device[node.pool] = max([self.largest_device[node.pool], *node.devices.values()])
        self.project_of_namespace = {namespace_of_project(_name(p), p.get("spec")): p for p in objects.projects}
        self.request_of = objects.request_of
        self.project: dict[str, Usage] = defaultdict(Usage)
        self.project_pool: dict[tuple[str, str], Usage] = defaultdict(Usage)
        self.pool: dict[str, Usage] = defaultdict(Usage)
        for pod in objects.pods:  # a GPU reservation pod holds what the pods sharing its GPU are counted for
            if usage.counts(pod) and (pod.get("metadata") or {}).get("namespace") != sharing.RESERVATION_NAMESPACE:
                self._count(pod)

    @staticmethod
    def _node(obj: Obj, selectors: list[PoolSelector]) -> _Node:
        cpu, memory = usage.node_capacity(obj)
        pool = usage.pool_of_node((obj.get("metadata") or {}).get("labels") or {}, selectors)
        devices = usage.node_devices(obj)
        return _Node(pool, usage.node_ready(obj), {d.index: d.memory_mib for d in devices}, cpu, memory,
                     {d.index: d.mig_slices for d in devices if d.mig is not None})

    def _count(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        project = self.project_of_namespace.get(meta.get("namespace") or "")
        asks = self.request_of(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name:
            node = self.nodes.get(node_name)
            pool = node.pool if node else None
            held = [d for d in usage.pod_devices(pod) if node and d in node.devices]
            device_memory = node.devices[held[0]] if held else max((node.devices.values() if node else ()),
                                                                   default=0)
            slices = node.mig_slices.get(held[0]) if held else None  # type: ignore[union-attr]
        else:
            preferred = usage.pools_of(pod) or list(((project or {}).get("spec") or {}).get("defaultNodePools") or [])
            pool = (preferred or [DEFAULT_POOL])[0]
            device_memory, slices = self.largest_device.get(pool, 0), None
        amount = Amount(asks.gpu_milli(device_memory or usage.DEFAULT_GPU_MEMORY_MIB, slices or MIG_SLICES),
                        asks.cpu, asks.memory)
        placed = bool(node_name)
        if pool is not None:
            self.pool[pool].charge(amount, placed)
        if project is not None:
            self.project[_name(project)].charge(amount, placed)
            if pool is not None:
                self.project_pool[(_name(project), pool)].charge(amount, placed)


def _pool_rows(rows: dict[str, Usage]) -> list[Obj]:
    return [{"nodePool": pool, "allocated": rows[pool].allocated.written(), "requested": rows[pool].requested.written()}
            for pool in sorted(rows)]


def _usage_fields(total: Usage) -> Obj:
    return {"allocated": total.allocated.written(), "requested": total.requested.written()}


def _over_quota(rows: dict[str, Usage], deserved: dict[str, float]) -> Obj:
    over = []
    for pool in sorted(rows):
        held, guaranteed = rows[pool].allocated.gpu, round(deserved.get(pool, 0) * MILLI)
        if held > guaranteed:
            over.append(f"holds {gpus_in_words(held)} in node pool {pool}, {gpu_number(held - guaranteed)} more "
                        f"than its deserved {gpu_number(guaranteed)}")
    if over:
        return {"type": "OverQuota", "status": "True", "reason": "OverQuota",
                "message": "; ".join(over) + ". Its pods beyond the deserved quota run on idle GPUs and may be "
                                             "reclaimed when other projects ask for their deserved share"}
    held = sum(r.allocated.gpu for r in rows.values())
    return {"type": "OverQuota", "status": "False", "reason": "WithinQuota",
            "message": f"holds {gpus_in_words(held)}, within its deserved quota "
                       f"({gpus_in_words(round(sum(deserved.values()) * MILLI))}) in every node pool"}


def _project(obj: Obj, books: _Books, namespaces: set[str]) -> Obj:
    name, spec = _name(obj), obj.get("spec") or {}
    namespace = namespace_of_project(name, spec)
    if _deleting(obj):
        phase, reason, message = "Deleting", "Deleting", "the project is being deleted"
    elif namespace in namespaces:
        phase, reason, message = "Ready", "NamespaceReady", f"its workloads run in namespace {namespace}"
    else:
        phase, reason, message = "Creating", "NamespaceMissing", f"creating namespace {namespace}"
    deserved = deserved_gpus(spec)
    rows = {pool: books.project_pool.get((name, pool)) or Usage() for pool in deserved}
    rows.update({pool: u for (project, pool), u in books.project_pool.items() if project == name})
    ready = {"type": "Ready", "status": "True" if phase == "Ready" else "False", "reason": reason, "message": message}
    return {"phase": phase, "namespace": namespace, "message": message,
            "deservedGpus": gpu_number(round(sum(deserved.values()) * MILLI)),
            **_usage_fields(books.project.get(name) or Usage()), "nodePools": _pool_rows(rows),
            "conditions": [ready, _over_quota(rows, deserved)]}


def _department(obj: Obj, members: list[Obj], books: _Books) -> Obj:
    own = deserved_gpus(obj.get("spec") or {})
    summed: dict[str, float] = defaultdict(float)
    total, rows = Usage(), defaultdict(Usage)
    for project in members:
        for pool, gpus in deserved_gpus(project.get("spec") or {}).items():
            summed[pool] += gpus
        total.add(books.project.get(_name(project)) or Usage())
        for (name, pool), u in books.project_pool.items():
            if name == _name(project):
                rows[pool].add(u)
    deserved = {**summed, **own}
    return {"deservedGpus": gpu_number(round(sum(deserved.values()) * MILLI)), **_usage_fields(total),
            "nodePools": _pool_rows(dict(rows)), "projects": sorted(_name(p) for p in members)}


def _node_pool(obj: Obj, books: _Books) -> Obj:
    name, spec = _name(obj), obj.get("spec") or {}
    nodes = sorted(n for n, node in books.nodes.items() if node.pool == name)
    ready = [books.nodes[n] for n in nodes if books.nodes[n].ready]
    total = Amount(MILLI * sum(len(n.devices) for n in ready), sum(n.cpu for n in ready), sum(n.memory for n in ready))
    held = books.pool.get(name) or Usage()
    counted = f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}"
    if ready:
        phase, reason = "Ready", "NodesReady"
        message = f"{len(ready)} of its {counted} ready, with {gpus_in_words(total.gpu)}"
    elif nodes:
        phase, reason = "Empty", "NoReadyNodes"
        message = f"none of its {counted} is ready"
    else:
        phase, reason = "Empty", "NoNodes"
        message = (f"no node has the label {spec['labelKey']}={spec.get('labelValue') or ''}" if spec.get("labelKey")
                   else "every node is in another node pool")
    return {"nodes": nodes, "totalGpus": gpu_number(total.gpu), "allocatedGpus": gpu_number(held.allocated.gpu),
            "total": total.written(), **_usage_fields(held), "phase": phase, "message": message,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": reason,
                            "message": message}]}


def statuses(objects: Objects) -> dict[Key, Obj]:
    """The status fields the usage controller owns, for every Project, Department and NodePool."""
    books = _Books(objects)
    namespaces = {_name(n) for n in objects.namespaces if not _deleting(n)}
    out: dict[Key, Obj] = {}
    members: dict[str, list[Obj]] = defaultdict(list)
    for project in objects.projects:
        out[("Project", _name(project))] = _project(project, books, namespaces)
        members[(project.get("spec") or {}).get("department") or DEFAULT_DEPARTMENT].append(project)
    for department in objects.departments:
        out[("Department", _name(department))] = _department(department, members.get(_name(department), []), books)
    for pool in objects.node_pools:
        out[("NodePool", _name(pool))] = _node_pool(pool, books)
    return out
