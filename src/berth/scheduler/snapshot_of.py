"""Kubernetes objects -> the core's `Snapshot`: how the runner (and anything else reading a cluster) describes
the cluster to `berth.scheduler.core`.

Pure functions over plain dicts as the API returns them. What a pod asks for, what a node offers and the
node pools a pod prefers are read by `berth.api.usage` (the controllers that report usage read them there
too); which quota applies in which pool by `berth.api.projects.quota_by_pool`. Read here besides: a pod's
group from the annotation `pod-group-name`, its node selector, tolerations and priority class.

A pod of `default-scheduler` (a pod that names no scheduler), when the scheduler serves those, is a group of
one charged to the project whose namespace it is in, else to the built-in queue `default-queue`: a project
with no quota (deserved 0, no cap), so its pods run only on idle resources, after everyone else's, and are
the first that reclaim takes back. A Project named `default-queue` gives them a quota.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from berth.api import usage
from berth.api.projects import max_allowed_of, namespace_of_project, quota_by_pool, quota_mib, quota_millicores
from berth.api.types import epoch_seconds
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
from berth.scheduler.core.snapshot import DEFAULT_QUEUE_PRIORITY, UNLIMITED

Obj = dict[str, Any]
T = TypeVar("T")

GROUP_ANNOTATION = "pod-group-name"
DEFAULT_SCHEDULER = "default-scheduler"  # what a pod that names no scheduler gets (kube-apiserver's default)
DEFAULT_QUEUE = "default-queue"


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def node(obj: Obj) -> Node:
    meta, spec = _meta(obj), obj.get("spec") or {}
    allocatable = (obj.get("status") or {}).get("allocatable") or {}
    cpu, memory = usage.node_capacity(obj)
    return Node(
        name=meta["name"],
        gpus=[GpuDevice(d.index, d.memory_mib, mig=None if d.mig is None else list(d.mig), mig_slices=d.mig_slices)
              for d in usage.node_devices(obj)],
        cpu=cpu,
        memory=memory,
        labels=dict(meta.get("labels") or {}),
        taints=[Taint(t.get("key", ""), t.get("value", ""), t.get("effect", "NoSchedule")) for t in spec.get("taints") or []],
        unschedulable=bool(spec.get("unschedulable")) or not usage.node_ready(obj),
        max_pods=int(allocatable.get("pods", 110) or 110),
    )


def pod(obj: Obj) -> Pod:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    asks = usage.pod_request(obj)
    devices, mig_instances = usage.pod_held(obj)
    return Pod(
        name=meta["name"],
        namespace=meta.get("namespace", "default"),
        group=(meta.get("annotations") or {}).get(GROUP_ANNOTATION),
        gpus=asks.gpus,
        gpu_fraction=asks.gpu_fraction,
        gpu_memory=asks.gpu_memory,
        cpu=asks.cpu,
        memory=asks.memory,
        node_selector=dict(spec.get("nodeSelector") or {}),
        tolerations=[Toleration(t.get("key", ""), t.get("operator", "Equal"), t.get("value", ""), t.get("effect", ""))
                     for t in spec.get("tolerations") or []],
        node_pools=usage.pools_of(obj),
        node=spec.get("nodeName") or None,
        devices=devices,
        priority_class=spec.get("priorityClassName"),
        submitted=epoch_seconds(meta.get("creationTimestamp")) or 0.0,
        started=epoch_seconds(status.get("startTime")),
        gpu_devices=asks.gpu_devices,
        mig=dict(asks.mig),
        mig_instances=mig_instances,
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
        node_pools=usage.pools_of(obj),
        submitted=epoch_seconds(meta.get("creationTimestamp")),
    )


def _quota(entry: Obj | None, unit: Callable[[Any], float | None] = float) -> Quota:
    entry = entry or {}
    deserved = unit(entry.get("deserved")) or 0
    max_allowed = unit(max_allowed_of(entry))
    return Quota(deserved=float(deserved) if deserved != UNLIMITED else UNLIMITED,
                 max_allowed=float(max_allowed) if max_allowed not in (None, UNLIMITED) else UNLIMITED,
                 over_quota_weight=entry.get("overQuotaWeight"))


def _gpus(value: Any) -> float | None:
    return None if value is None else float(value)


def quotas(spec: Obj) -> dict[str, PoolQuota]:
    """Per node pool quota of a Project or Department spec (which pool gets which: `quota_by_pool`), in the
    core's units: GPUs, millicores, MiB (numbers are already in those units; quantity strings are converted)."""
    out = {}
    for pool, entry in quota_by_pool(spec).items():
        cpu = _quota(entry.get("cpu"), quota_millicores) if entry.get("cpu") else Quota(deserved=UNLIMITED)
        memory = _quota(entry.get("memory"), quota_mib) if entry.get("memory") else Quota(deserved=UNLIMITED)
        out[pool] = PoolQuota(gpu=_quota(entry.get("gpu"), _gpus), cpu=cpu, memory=memory)
    return out


def project(obj: Obj) -> Project:
    spec = obj.get("spec") or {}
    return Project(
        name=_meta(obj)["name"],
        department=spec.get("department") or "default",
        quotas=quotas(spec),
        node_affinity_train=list(spec.get("nodeAffinityTrain") or []),
        node_affinity_interactive=list(spec.get("nodeAffinityInteractive") or []),
        default_node_pools=list(spec.get("defaultNodePools") or []),
        priority=_priority(spec),
        preempt_min_runtime=spec.get("preemptMinRuntimeSecs"),
        reclaim_min_runtime=spec.get("reclaimMinRuntimeSecs"),
    )


def _priority(spec: Obj) -> int:
    value = spec.get("priority")
    return DEFAULT_QUEUE_PRIORITY if value is None else int(value)


def department(obj: Obj) -> Department:
    spec = obj.get("spec") or {}
    return Department(name=_meta(obj)["name"], quotas=quotas(spec), priority=_priority(spec))


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


class Kept(Generic[T]):
    """Conversions kept across cycles: each object is converted once per resourceVersion, not once per
    cycle (a cycle at 8,000 pods would otherwise convert all of them to bind a handful). The converted
    objects are shared between cycles, so nothing downstream may modify them (the core does not; the
    runner copies a pod before it overlays an assumed binding)."""

    def __init__(self, convert: Callable[[Obj], T]) -> None:
        self._convert = convert
        self._kept: dict[tuple[str, str], tuple[str | None, T]] = {}

    def __call__(self, objects: Iterable[Obj]) -> list[T]:
        """Every object converted, in order; the objects not seen this time are forgotten."""
        kept: dict[tuple[str, str], tuple[str | None, T]] = {}
        out = []
        for obj in objects:
            meta = _meta(obj)
            key, version = (meta.get("namespace", ""), meta["name"]), meta.get("resourceVersion")
            hit = self._kept.get(key)
            if hit is None or version is None or hit[0] != version:
                hit = (version, self._convert(obj))
            kept[key] = hit
            out.append(hit[1])
        self._kept = kept
        return out
