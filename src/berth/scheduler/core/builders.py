"""Short ways to write a snapshot, for tests, benchmarks and the simulator.

    c = Cluster()
    c.nodes(4, gpus=1)
    c.project("team-a", gpu=2)
    c.project("team-b", gpu=2)
    c.job("a1", "team-a", running_on="node-0")
    c.job("b1", "team-b", gpus=1)
    decisions = run_cycle(c.build())

Conventions: a project's workloads live in namespace `runai-<project>` (so a group's key is
`runai-<project>/<job>` and its pods are `<job>-0`, `<job>-1`, ...); jobs are submitted in the order they are
written unless `submitted` says otherwise; a running pod started when it was submitted unless `started` says
otherwise; quotas given without a pool are for the pool `default`.
"""

from __future__ import annotations

from itertools import count

from berth.scheduler.core.snapshot import (
    DEFAULT_POOL,
    DEFAULT_QUEUE_PRIORITY,
    NODE_TYPE_LABEL,
    UNLIMITED,
    Department,
    GpuDevice,
    Node,
    NodePool,
    Pod,
    PodGroup,
    PoolQuota,
    Project,
    Quota,
    Snapshot,
    Taint,
    Toleration,
)


def gpu_node(name: str, gpus: int = 8, *, gpu_memory: int = 81920, cpu: int = 64000, memory: int = 512 * 1024,
             pool: str | None = None, node_type: str | None = None, labels: dict[str, str] | None = None,
             taints: list[Taint] | None = None, max_pods: int = 110, unschedulable: bool = False) -> Node:
    labels = dict(labels or {})
    if node_type:
        labels[NODE_TYPE_LABEL] = node_type
    return Node(name, [GpuDevice(i, gpu_memory) for i in range(gpus)], cpu, memory, labels, list(taints or []),
                pool, unschedulable, max_pods)


def mig_node(name: str, gpus: list[list[str] | None], *, gpu_memory: int = 40960, mig_slices: int = 7,
             **kwargs) -> Node:
    """A node whose GPU i is whole when `gpus[i]` is None, else in MIG mode with those instances (profiles)."""
    node = gpu_node(name, len(gpus), gpu_memory=gpu_memory, **kwargs)
    for device, profiles in zip(node.gpus, gpus):
        if profiles is not None:
            device.mig, device.mig_slices = list(profiles), mig_slices
    return node


def pool_quota(gpu: float = 0, *, max_gpu: float = UNLIMITED, weight: float | None = None, cpu: float | None = None,
          memory: float | None = None) -> PoolQuota:
    """A pool quota in GPUs (and, when given, CPU millicores and memory MiB, kept only then)."""
    return PoolQuota(
        Quota(gpu, max_gpu, weight),
        Quota(cpu if cpu is not None else UNLIMITED),
        Quota(memory if memory is not None else UNLIMITED),
    )


class Cluster:
    """Builds a `Snapshot` step by step; every method returns what it made."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()
        self._clock = count()
        self._pools: dict[str, NodePool] = {}

    def pool(self, name: str, *, placement: str = "binpack", label_key: str = "run.ai/node-pool",
             label_value: str | None = None) -> NodePool:
        pool = NodePool(name, label_key, label_value or name, placement)
        self._pools[name] = pool
        self.snapshot.pools.append(pool)
        return pool

    def nodes(self, n: int, gpus: int = 8, *, prefix: str = "node", pool: str | None = None,
              start: int | None = None, **kwargs) -> list[Node]:
        """`n` nodes named <prefix>-<i>; in `pool` they carry its label."""
        first = len([x for x in self.snapshot.nodes if x.name.startswith(prefix + "-")]) if start is None else start
        made = []
        for i in range(first, first + n):
            node = gpu_node(f"{prefix}-{i}", gpus, **kwargs)
            if pool is not None:
                spec = self._pools.get(pool) or self.pool(pool)
                node.labels[spec.label_key] = spec.label_value
            made.append(node)
        self.snapshot.nodes.extend(made)
        return made

    def project(self, name: str, gpu: float = 0, *, max_gpu: float = UNLIMITED, weight: float | None = None,
                cpu: float | None = None, memory: float | None = None, department: str = "default",
                pools: dict[str, PoolQuota] | None = None, train_types: list[str] | None = None,
                interactive_types: list[str] | None = None, default_pools: list[str] | None = None,
                priority: int = DEFAULT_QUEUE_PRIORITY, preempt_min_runtime: float | None = None,
                reclaim_min_runtime: float | None = None) -> Project:
        quotas = dict(pools) if pools is not None else {
            DEFAULT_POOL: pool_quota(gpu, max_gpu=max_gpu, weight=weight, cpu=cpu, memory=memory)}
        project = Project(name, department, quotas, list(train_types or []), list(interactive_types or []),
                          list(default_pools or []), priority, preempt_min_runtime, reclaim_min_runtime)
        self.snapshot.projects.append(project)
        return project

    def department(self, name: str, gpu: float | None = None, *, max_gpu: float = UNLIMITED,
                   weight: float | None = None, pools: dict[str, PoolQuota] | None = None,
                   priority: int = DEFAULT_QUEUE_PRIORITY) -> Department:
        quotas = dict(pools) if pools is not None else (
            {DEFAULT_POOL: pool_quota(gpu, max_gpu=max_gpu, weight=weight)} if gpu is not None else {})
        department = Department(name, quotas, priority)
        self.snapshot.departments.append(department)
        return department

    def job(self, name: str, project: str, gpus: int = 1, *, pods: int = 1, fraction: float = 0.0,
            gpu_memory: int = 0, cpu: int = 0, memory: int = 0, priority: str = "train",
            preemptible: bool | None = None, min_member: int | None = None, node_pools: list[str] | None = None,
            node_type: str | None = None, selector: dict[str, str] | None = None,
            tolerations: list[Toleration] | None = None, submitted: float | None = None,
            running_on: str | list[str] | None = None, devices: list[list[int]] | None = None,
            started: float | None = None, num_devices: int = 1, mig: str = "",
            mig_instances: list[list[int]] | None = None) -> PodGroup:
        """A pod group of `pods` identical pods (a gang when min_member, by default all of them, is above 1).

        `fraction` or `gpu_memory` makes each pod ask a share of one GPU instead of `gpus` whole ones, on
        `num_devices` devices; `mig` makes it ask `gpus` MIG slices of that profile instead.
        `running_on` binds the pods (one node name for all, or one per pod) with `devices` per pod if given
        (and, for MIG, `mig_instances`: the instance on each device).
        """
        namespace = f"runai-{project}"
        when = float(next(self._clock)) if submitted is None else submitted
        group = PodGroup(name, namespace, project, min_member if min_member is not None else pods, priority,
                         preemptible, list(node_pools or []), None, when)
        self.snapshot.groups.append(group)
        shared = bool(fraction or gpu_memory)
        selector = dict(selector or {})
        if node_type:
            selector[NODE_TYPE_LABEL] = node_type
        where = [running_on] * pods if isinstance(running_on, str) else list(running_on or [None] * pods)
        for i in range(pods):
            node = where[i] if i < len(where) else None
            self.snapshot.pods.append(Pod(
                f"{name}-{i}", namespace, name, 0 if shared or mig else gpus, fraction, gpu_memory, cpu, memory,
                dict(selector), list(tolerations or []), [], node,
                list(devices[i]) if devices and node else [], None, None, when,
                (started if started is not None else when) if node else None,
                num_devices, {mig: gpus} if mig else {},
                list(mig_instances[i]) if mig_instances and node else [],
            ))
        return group

    def build(self) -> Snapshot:
        return self.snapshot
