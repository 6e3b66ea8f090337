"""The cluster as the cycle sees it at this instant: what is free on each node and what each project uses.

`ClusterState` is built once per cycle from the snapshot and then changed only through `place` and `unplace`
(called by `statement.Statement`, which logs them so that they can be undone). Those two keep four things in
step, which is the invariant of this module:
- each node's free CPU, memory, pod count and per-device free milli-GPUs;
- the pool indexes of `placement` (a node is unindexed before it changes and indexed again after);
- `placements` and `node_pods`: where every placed pod is;
- usage per (project, pool), (department, pool) and per project and department over all pools, and the part
  of it that non-preemptible jobs hold per (project, pool) and (department, pool), which is what a project's
  deserved quota bounds (see `quota`).
Nothing here decides anything; the actions do.
"""

from __future__ import annotations

from berth.scheduler.core.devices import NodeState, Shape
from berth.scheduler.core.placement import PoolIndex
from berth.scheduler.core.resources import MILLI
from berth.scheduler.core.snapshot import Pod


class PodInfo:
    """A snapshot pod with what the core derived from it: its request and who it is charged to."""

    __slots__ = ("department", "job", "key", "pod", "project", "shape")

    def __init__(self, pod: Pod, shape: Shape, project: str, department: str) -> None:
        self.key = pod.key
        self.pod = pod
        self.shape = shape
        self.project = project
        self.department = department
        self.job = None  # the jobs.Job it belongs to, set when jobs are built


class Placement:
    """Where a pod is: its node, and on it its GPU devices and the milli-GPUs it takes of each (for a MIG pod,
    the node's MIG slots and what each counts for: see `devices`)."""

    __slots__ = ("devices", "milli", "node")

    def __init__(self, node: int, devices: tuple[int, ...], milli: int) -> None:
        self.node = node
        self.devices = devices
        self.milli = milli

    @property
    def gpu_milli(self) -> int:
        return self.milli * len(self.devices)


class ClusterState:
    def __init__(self, nodes: list[NodeState], pools: dict[str, PoolIndex]) -> None:
        self.nodes = nodes
        self.pools = pools
        self.placements: dict[str, Placement] = {}
        self.node_pods: list[dict[str, PodInfo]] = [{} for _ in nodes]
        self.usage: dict[tuple[str, str], list[int]] = {}  # (project, pool) -> [gpu_milli, cpu, mem]
        self.dept_usage: dict[tuple[str, str], list[int]] = {}
        self.project_total: dict[str, list[int]] = {}
        self.dept_total: dict[str, list[int]] = {}
        self.np_usage: dict[tuple[str, str], list[int]] = {}  # the non-preemptible part of `usage`
        self.np_dept_usage: dict[tuple[str, str], list[int]] = {}  # the non-preemptible part of `dept_usage`
        self.releases = 0  # bumped whenever resources are given back (an eviction or a rollback)
        self.pool_free: dict[str, list[int]] = {}  # free [gpu_milli, cpu, mem] on each pool's schedulable nodes

    def total_free(self) -> None:
        """Recount `pool_free` from the nodes (once, after loading the running pods)."""
        self.pool_free = {name: [0, 0, 0] for name in self.pools}
        for node in self.nodes:
            if node.schedulable:
                row = self.pool_free[node.pool]
                row[0] += node.free_gpu()
                row[1] += node.free_cpu
                row[2] += node.free_mem

    def used(self, project: str, pool: str) -> list[int]:
        return self.usage.get((project, pool)) or [0, 0, 0]

    def dept_used(self, department: str, pool: str) -> list[int]:
        return self.dept_usage.get((department, pool)) or [0, 0, 0]

    def np_used(self, project: str, pool: str) -> list[int]:
        """What the project's non-preemptible jobs hold in the pool."""
        return self.np_usage.get((project, pool)) or [0, 0, 0]

    def np_dept_used(self, department: str, pool: str) -> list[int]:
        return self.np_dept_usage.get((department, pool)) or [0, 0, 0]

    def pool_of(self, info: PodInfo) -> str | None:
        placed = self.placements.get(info.key)
        return self.nodes[placed.node].pool if placed is not None else None

    def place(self, info: PodInfo, node_idx: int, devices: tuple[int, ...], milli: int) -> Placement:
        node = self.nodes[node_idx]
        pool = self.pools[node.pool]
        shape = info.shape
        pool.unindex(node)
        node.free_cpu -= shape.cpu
        node.free_mem -= shape.mem
        node.pods += 1
        gpu = 0
        if shape.mig:
            gpu = node.take_slots(devices)
        elif devices:
            free = node.dev_free
            for d in devices:
                before = free[d]
                free[d] = before - milli
                gpu += max(before, 0) - max(before - milli, 0)
                if before == MILLI:
                    node.whole -= 1
        pool.index(node)
        if node.schedulable and self.pool_free:
            row = self.pool_free[node.pool]
            row[0] -= gpu
            row[1] -= shape.cpu
            row[2] -= shape.mem
        placed = Placement(node_idx, devices, milli)
        self.placements[info.key] = placed
        self.node_pods[node_idx][info.key] = info
        self._charge(info, node.pool, placed.gpu_milli, 1)
        return placed

    def unplace(self, info: PodInfo) -> Placement:
        placed = self.placements.pop(info.key)
        node = self.nodes[placed.node]
        pool = self.pools[node.pool]
        shape = info.shape
        pool.unindex(node)
        node.free_cpu += shape.cpu
        node.free_mem += shape.mem
        node.pods -= 1
        free = node.dev_free
        gpu = 0
        if shape.mig:
            gpu = node.take_slots(placed.devices, -1)
        else:
            for d in placed.devices:
                before = free[d]
                free[d] = before + placed.milli
                gpu += max(before + placed.milli, 0) - max(before, 0)
                if free[d] == MILLI:
                    node.whole += 1
        pool.index(node)
        if node.schedulable and self.pool_free:
            row = self.pool_free[node.pool]
            row[0] += gpu
            row[1] += shape.cpu
            row[2] += shape.mem
        del self.node_pods[placed.node][info.key]
        self._charge(info, node.pool, placed.gpu_milli, -1)
        self.releases += 1
        return placed

    def _charge(self, info: PodInfo, pool: str, gpu_milli: int, sign: int) -> None:
        cpu, mem = info.shape.cpu * sign, info.shape.mem * sign
        gpu = gpu_milli * sign
        tables = [(self.usage, (info.project, pool)), (self.dept_usage, (info.department, pool)),
                  (self.project_total, info.project), (self.dept_total, info.department)]
        if info.job is not None and not info.job.preemptible:
            tables += [(self.np_usage, (info.project, pool)), (self.np_dept_usage, (info.department, pool))]
        for table, key in tables:
            row = table.get(key)
            if row is None:
                row = table[key] = [0, 0, 0]
            row[0] += gpu
            row[1] += cpu
            row[2] += mem
