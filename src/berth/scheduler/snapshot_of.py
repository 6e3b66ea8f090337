"""Kubernetes objects -> the core's `Snapshot`: how the runner (and anything else reading a cluster) describes
the cluster to `berth.scheduler.core`.

Pure functions over plain dicts as the API returns them. Conventions read here:
- a Node's GPUs from its annotation `run.ai/gpus` (else `nvidia.com/gpu` allocatable, 80 GiB each);
- a pod's group from the annotation `pod-group-name`, its GPU devices from `run.ai/gpu-devices`, a shared
  GPU from `gpu-fraction` or `gpu-memory` (MiB), as KAI-Scheduler encodes them; node pools it prefers from
  `run.ai/node-pools` (on the pod or its PodGroup);
- quotas from Projects and Departments (`nodePoolsResources`, else `deservedGpus` in the pool `default`);
- a pod of `default-scheduler` (a pod that names no scheduler), when the scheduler serves those, is a group of
  one charged to the project whose namespace it is in, else to the built-in queue `default-queue`: a project
  with no quota (deserved 0, no cap), so its pods run only on idle resources, after everyone else's, and are
  the first that reclaim takes back. A Project named `default-queue` gives them a quota.
"""

from __future__ import annotations

import json
from typing import Any

from berth.api.projects import namespace_of_project
from berth.api.types import amount, epoch_seconds
from berth.scheduler.core import (
    Department,
    GpuDevice,
    Node,
    NodePool,
    Pod,
    PodGroup,
    PoolQuota,
    Project,
    Quota,
    Taint,
    Toleration,
)
from berth.scheduler.core.snapshot import DEFAULT_POOL, UNLIMITED

Obj = dict[str, Any]

GPUS_ANNOTATION = "run.ai/gpus"
DEVICES_ANNOTATION = "run.ai/gpu-devices"
POOLS_ANNOTATION = "run.ai/node-pools"
GROUP_ANNOTATION = "pod-group-name"
DEFAULT_SCHEDULER = "default-scheduler"  # what a pod that names no scheduler gets (kube-apiserver's default)
DEFAULT_QUEUE = "default-queue"
DEFAULT_GPU_MEMORY_MIB = 81920


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _millicores(value: Any) -> int:
    try:
        return int(amount(value) * 1000)
    except (ValueError, ArithmeticError, TypeError):
        return 0


def _mib(value: Any) -> int:
    try:
        return int(amount(value) / (1024 * 1024))
    except (ValueError, ArithmeticError, TypeError):
        return 0


def _pools(text: str | None) -> list[str]:
    return [p for p in (text or "").replace(",", " ").split() if p]


def node(obj: Obj) -> Node:
    meta, status = _meta(obj), obj.get("status") or {}
    allocatable = status.get("allocatable") or {}
    gpus: list[GpuDevice] = []
    raw = (meta.get("annotations") or {}).get(GPUS_ANNOTATION)
    if raw:
        try:
            gpus = [GpuDevice(int(g["index"]), int(g.get("memoryMiB") or DEFAULT_GPU_MEMORY_MIB)) for g in json.loads(raw)]
        except (ValueError, KeyError, TypeError):
            gpus = []
    if not gpus:
        count = int(amount(allocatable.get("nvidia.com/gpu", 0) or 0))
        gpus = [GpuDevice(i, DEFAULT_GPU_MEMORY_MIB) for i in range(count)]
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    spec = obj.get("spec") or {}
    return Node(
        name=meta["name"],
        gpus=gpus,
        cpu=_millicores(allocatable.get("cpu", 0)),
        memory=_mib(allocatable.get("memory", 0)),
        labels=dict(meta.get("labels") or {}),
        taints=[Taint(t.get("key", ""), t.get("value", ""), t.get("effect", "NoSchedule")) for t in spec.get("taints") or []],
        unschedulable=bool(spec.get("unschedulable")) or not ready,
        max_pods=int(allocatable.get("pods", 110) or 110),
    )


def _requests(pod: Obj) -> tuple[int, int, int]:
    gpus = cpu = memory = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        gpu = limits.get("nvidia.com/gpu", requests.get("nvidia.com/gpu", 0))
        gpus += int(amount(gpu or 0))
        cpu += _millicores(requests.get("cpu", limits.get("cpu", 0)) or 0)
        memory += _mib(requests.get("memory", limits.get("memory", 0)) or 0)
    return gpus, cpu, memory


def pod(obj: Obj) -> Pod:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    annotations = meta.get("annotations") or {}
    gpus, cpu, memory = _requests(obj)
    fraction = float(annotations.get("gpu-fraction") or 0)
    gpu_memory = int(annotations.get("gpu-memory") or 0)
    devices = [int(d) for d in (annotations.get(DEVICES_ANNOTATION) or "").split(",") if d.strip().isdigit()]
    return Pod(
        name=meta["name"],
        namespace=meta.get("namespace", "default"),
        group=annotations.get(GROUP_ANNOTATION),
        gpus=gpus,
        gpu_fraction=fraction,
        gpu_memory=gpu_memory,
        cpu=cpu,
        memory=memory,
        node_selector=dict(spec.get("nodeSelector") or {}),
        tolerations=[Toleration(t.get("key", ""), t.get("operator", "Equal"), t.get("value", ""), t.get("effect", ""))
                     for t in spec.get("tolerations") or []],
        node_pools=_pools(annotations.get(POOLS_ANNOTATION)),
        node=spec.get("nodeName") or None,
        devices=devices,
        priority_class=spec.get("priorityClassName"),
        submitted=epoch_seconds(meta.get("creationTimestamp")) or 0.0,
        started=epoch_seconds(status.get("startTime")),
    )


def pod_group(obj: Obj) -> PodGroup:
    meta, spec = _meta(obj), obj.get("spec") or {}
    preemptibility = spec.get("preemptibility")
    return PodGroup(
        name=meta["name"],
        namespace=meta.get("namespace", "default"),
        queue=spec.get("queue") or "",
        min_member=int(spec.get("minMember") or 1),
        priority_class=spec.get("priorityClassName"),
        preemptible=None if preemptibility is None else preemptibility == "preemptible",
        node_pools=_pools((meta.get("annotations") or {}).get(POOLS_ANNOTATION)),
        submitted=epoch_seconds(meta.get("creationTimestamp")),
    )


def _quota(entry: Obj | None, scale: float = 1.0) -> Quota:
    entry = entry or {}
    deserved = entry.get("deserved", 0)
    max_allowed = entry.get("maxAllowed", UNLIMITED)
    return Quota(deserved=float(deserved) * scale if deserved != UNLIMITED else UNLIMITED,
                 max_allowed=float(max_allowed) * scale if max_allowed not in (None, UNLIMITED) else UNLIMITED,
                 over_quota_weight=entry.get("overQuotaWeight"))


def quotas(spec: Obj) -> dict[str, PoolQuota]:
    """Per node pool quota of a Project or Department spec."""
    pools = spec.get("nodePoolsResources") or []
    if pools:
        out = {}
        for entry in pools:
            cpu = _quota(entry.get("cpu"), 1000) if entry.get("cpu") else Quota(deserved=UNLIMITED)
            memory = _quota(entry.get("memory")) if entry.get("memory") else Quota(deserved=UNLIMITED)
            out[entry["nodePool"]] = PoolQuota(gpu=_quota(entry.get("gpu")), cpu=cpu, memory=memory)
        return out
    if spec.get("deservedGpus") is None and spec.get("maxAllowedGpus") is None:
        return {}
    gpu = Quota(deserved=float(spec.get("deservedGpus") or 0),
                max_allowed=float(spec["maxAllowedGpus"]) if spec.get("maxAllowedGpus") is not None else UNLIMITED,
                over_quota_weight=spec.get("gpuOverQuotaWeight"))
    return {DEFAULT_POOL: PoolQuota(gpu=gpu)}


def project(obj: Obj) -> Project:
    spec = obj.get("spec") or {}
    return Project(
        name=_meta(obj)["name"],
        department=spec.get("department") or "default",
        quotas=quotas(spec),
        node_affinity_train=list(spec.get("nodeAffinityTrain") or []),
        node_affinity_interactive=list(spec.get("nodeAffinityInteractive") or []),
        default_node_pools=list(spec.get("defaultNodePools") or []),
    )


def department(obj: Obj) -> Department:
    return Department(name=_meta(obj)["name"], quotas=quotas(obj.get("spec") or {}))


def node_pool(obj: Obj) -> NodePool:
    spec = obj.get("spec") or {}
    return NodePool(name=_meta(obj)["name"], label_key=spec.get("labelKey"), label_value=spec.get("labelValue"),
                    placement=spec.get("placementStrategy") or "binpack")


def scheduler_name(obj: Obj) -> str:
    return (obj.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER


def queues_by_namespace(projects: list[Obj]) -> dict[str, str]:
    """Namespace -> the project it belongs to (`spec.namespace`, else runai-<project>)."""
    return {namespace_of_project(_meta(p)["name"], p.get("spec")): _meta(p)["name"] for p in projects}


def adopted_group(pod: Pod, queues: dict[str, str]) -> PodGroup:
    """The group of one of a `default-scheduler` pod (see the module docstring for its queue)."""
    return PodGroup(name=pod.name, namespace=pod.namespace, queue=queues.get(pod.namespace, DEFAULT_QUEUE),
                    submitted=pod.submitted)


def default_queue() -> Project:
    """The built-in queue of `default-scheduler` pods outside any project: no quota in any pool."""
    return Project(name=DEFAULT_QUEUE)
