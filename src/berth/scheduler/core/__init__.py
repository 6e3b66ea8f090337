"""`berth.scheduler.core`: Run:ai's scheduling on an in-memory snapshot, pure and deterministic.

    from berth.scheduler.core import Cluster, run_cycle
    decisions = run_cycle(snapshot)          # Decisions: binds, evictions, pending reasons

Modules, in the order a cycle uses them:
- `snapshot`   the input dataclasses (nodes, GPUs, pods, pod groups, projects, departments, node pools)
- `session`    the cycle's working set built from a snapshot; `CycleConfig`
- `state`, `placement`, `devices`, `filters`   what is free where, and how a pod finds a node
- `resources`  amounts as integer (milli-GPU, millicore, MiB) tuples and how to say them
- `fairshare`  hierarchical water-fill of every pool among departments and projects, by priority and weight
- `timeshare`  the usage history (kept by the caller) that makes the fair share time-based
- `quota`      deserved / maxAllowed rules; `jobs` the order jobs are visited in
- `statement`  tentative allocations and evictions, committed or rolled back
- `actions`    allocate, consolidate, reclaim, preempt (and `victims`, their shared eviction search)
- `reasons`    why a job waits, in words; `decisions` the output; `cycle` the entry point
- `builders`   short ways to write snapshots
No I/O anywhere and no randomness (so no seed): the same snapshot and `CycleConfig` give the same decisions.
The runner and the simulator feed snapshots in and apply the decisions.
"""

from berth.scheduler.core.builders import Cluster, gpu_node, mig_node, pool_quota
from berth.scheduler.core.cycle import run_cycle
from berth.scheduler.core.decisions import Bind, Decisions, Eviction, Pending
from berth.scheduler.core.session import CycleConfig
from berth.scheduler.core.snapshot import (
    DEFAULT_POOL,
    NODE_TYPE_LABEL,
    PRIORITY_CLASSES,
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

__all__ = [
    "DEFAULT_POOL",
    "NODE_TYPE_LABEL",
    "PRIORITY_CLASSES",
    "UNLIMITED",
    "Bind",
    "Cluster",
    "CycleConfig",
    "Decisions",
    "Department",
    "Eviction",
    "GpuDevice",
    "Node",
    "NodePool",
    "Pending",
    "Pod",
    "PodGroup",
    "PoolQuota",
    "Project",
    "Quota",
    "Snapshot",
    "Taint",
    "Toleration",
    "gpu_node",
    "mig_node",
    "pool_quota",
    "run_cycle",
]
