"""The scheduler's input: one consistent picture of the cluster, as plain dataclasses.

A `Snapshot` is what the runner (or the simulator, or a test) hands to `run_cycle`. It is data only: the core
never changes it, so one snapshot can be scheduled twice and must give the same decisions both times.

Units, chosen so that the hot loops work on integers:
- GPUs: whole devices as `int`; a share of one device as a fraction in (0, 1) or as GPU memory in MiB.
  Inside the core a device is 1000 milli-GPUs, so 0.5 + 0.5 fills a device exactly and 0.5 + 0.7 does not.
- CPU: millicores (`int`). Memory: MiB (`int`).
- Quotas: GPUs (may be fractional), millicores and MiB. `UNLIMITED` (-1) means no quota is kept for that
  resource (deserved) or no cap (maxAllowed), as in KAI-Scheduler queues.
- Times: seconds on any clock, as long as `CycleConfig.now` uses the same one.

Invariants the core relies on (the builders in `builders.py` keep them):
- names are unique per kind; a pod's `group` names a `PodGroup` in its namespace, or the core makes a group of
  one for it (a bare pod, as KAI's pod-grouper does);
- a pod with `node` set is running there and holds `devices` on it; the GPU usage of those pods is *not*
  counted again in `GpuDevice.used`, which is only for usage the snapshot has no pod for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import TYPE_CHECKING

from berth.api.priority import NON_PREEMPTIBLE_FROM, PRIORITY_CLASSES  # noqa: F401 - read from here by core
from berth.api.projects import DEFAULT_POOL

if TYPE_CHECKING:
    from berth.scheduler.core.timeshare import UsageHistory

UNLIMITED: float = -1
NODE_TYPE_LABEL = "run.ai/type"

# KAI-Scheduler's shipped priority classes, from the one table the controllers write from (berth.api.priority).
# A group of priority 100 or more is non-preemptible unless it says otherwise, and then may only use its
# project's deserved quota.

#: A project's or department's priority when it gives none (KAI-Scheduler's default queue priority).
DEFAULT_QUEUE_PRIORITY = 100

# Workload kinds, for the project's node affinity (training and interactive have a list each).
TRAIN, INTERACTIVE, INFERENCE = "train", "interactive", "inference"
_KIND_OF_CLASS = {"build": INTERACTIVE, "interactive-preemptible": INTERACTIVE, "build-preemptible": INTERACTIVE,
                  "inference": INFERENCE, "train": TRAIN}


def kind_of_priority_class(priority_class: str) -> str:
    """The workload kind a priority class stands for when a group does not say (Run:ai's CLI sets `build` for
    interactive jobs and nothing for training)."""
    return _KIND_OF_CLASS.get(priority_class, TRAIN)


@dataclass(slots=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"  # NoSchedule and NoExecute keep pods off; PreferNoSchedule does not


@dataclass(slots=True)
class Toleration:
    key: str = ""  # empty with operator Exists tolerates every taint
    operator: str = "Equal"  # Equal or Exists
    value: str = ""
    effect: str = ""  # empty tolerates every effect


@dataclass(slots=True)
class GpuDevice:
    index: int
    memory_mib: int = 81920
    used: float = 0.0  # fraction held by something the snapshot has no pod for (0..1)
    mig: list[str] | None = None  # in MIG mode: its MIG instances' profiles, by instance; only MIG pods use it
    mig_slices: int = 7  # the GPU's compute slices, which a MIG slice counts a share of (`berth.api.mig`)


@dataclass(slots=True)
class Node:
    name: str
    gpus: list[GpuDevice] = field(default_factory=list)
    cpu: int = 64000  # allocatable millicores
    memory: int = 512 * 1024  # allocatable MiB
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Taint] = field(default_factory=list)
    pool: str | None = None  # None: the pool whose label the node carries, else `default`
    unschedulable: bool = False  # cordoned: running pods stay, nothing new lands
    max_pods: int = 110


@dataclass(slots=True)
class Pod:
    name: str
    namespace: str = "default"
    group: str | None = None  # PodGroup name; None: a group of its own
    gpus: int = 0  # whole devices
    gpu_fraction: float = 0.0  # share of one device, 0 < f < 1
    gpu_memory: int = 0  # MiB of one device (instead of a fraction)
    cpu: int = 0
    memory: int = 0
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[Toleration] = field(default_factory=list)
    node_pools: list[str] = field(default_factory=list)  # used when its group names none
    node: str | None = None  # bound node: the pod is running (or about to)
    devices: list[int] = field(default_factory=list)  # GPU device indexes it holds on `node`
    priority_class: str | None = None  # used when its group names none
    preemptible: bool | None = None  # used when its group says nothing
    submitted: float = 0.0
    started: float | None = None
    gpu_devices: int = 1  # how many devices each get that share (KAI's gpu-fraction-num-devices)
    mig: dict[str, int] = field(default_factory=dict)  # MIG slices asked: profile -> how many
    mig_instances: list[int] = field(default_factory=list)  # the MIG instance it holds on each of `devices`

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(slots=True)
class PodGroup:
    """The unit the scheduler places (KAI's PodGroup): `min_member` pods together or none."""

    name: str
    namespace: str = "default"
    queue: str = ""  # the project
    min_member: int = 1
    priority_class: str | None = None  # default: the first pod's, else train
    preemptible: bool | None = None  # default: priority below 100
    node_pools: list[str] = field(default_factory=list)  # preference order; default: the project's, else default
    kind: str | None = None  # train / interactive / inference; default: from the priority class
    submitted: float | None = None  # default: the earliest pod's

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(slots=True)
class Quota:
    """One resource in one node pool: guaranteed share, cap, and weight of the share of idle resources."""

    deserved: float = 0
    max_allowed: float = UNLIMITED
    over_quota_weight: float | None = None  # None: over-quota shares follow deserved


def _unlimited_quota() -> Quota:
    return Quota(deserved=UNLIMITED)


@dataclass(slots=True)
class PoolQuota:
    """A project's or department's quota in one node pool. CPU and memory are not kept unless given."""

    gpu: Quota = field(default_factory=Quota)
    cpu: Quota = field(default_factory=_unlimited_quota)
    memory: Quota = field(default_factory=_unlimited_quota)


@dataclass(slots=True)
class Project:
    name: str
    department: str = "default"
    quotas: dict[str, PoolQuota] = field(default_factory=dict)  # by node pool; a pool not listed: zero quota
    node_affinity_train: list[str] = field(default_factory=list)  # node types; empty: any
    node_affinity_interactive: list[str] = field(default_factory=list)
    default_node_pools: list[str] = field(default_factory=list)
    priority: int = DEFAULT_QUEUE_PRIORITY  # over-quota resources go to higher priorities first (KAI queue priority)
    preempt_min_runtime: float | None = None  # seconds its jobs run before preempt may take them; None: the cycle's
    reclaim_min_runtime: float | None = None  # seconds its jobs run before reclaim may take them; None: the cycle's


@dataclass(slots=True)
class Department:
    name: str
    quotas: dict[str, PoolQuota] = field(default_factory=dict)  # a pool not listed: the sum of its projects'
    priority: int = DEFAULT_QUEUE_PRIORITY


@dataclass(slots=True)
class NodePool:
    name: str
    label_key: str | None = None
    label_value: str | None = None
    placement: str = "binpack"  # binpack or spread


@dataclass(slots=True)
class Snapshot:
    nodes: list[Node] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    groups: list[PodGroup] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)
    pools: list[NodePool] = field(default_factory=list)  # `default` exists even when not listed
    # Recent usage per project (see `timeshare`), kept by the caller across cycles; read only when
    # `CycleConfig.time_based` is on. The core never changes it.
    usage: UsageHistory | None = None
