"""Time-based fair share (KAI-Scheduler's "time-based fairshare"): what a project used lately lowers its share
of the over-quota resources, so a team that had the idle GPUs all morning gives way to one that had none.

The history is plain data that the caller (the runner, the simulator, a test) keeps from cycle to cycle and
hands in with the snapshot; nothing here reads a clock, `now` is always an argument:
- `record(history, now, held, capacity)` adds what each project held since the previous record (resource x
  seconds, per resource) into buckets of `bucket_s` seconds, and what the cluster had;
- `normalized(history, now, window_s, half_life_s)` reads it back: each project's usage over the window (a
  sliding one, KAI's default), every bucket weighed by 0.5 ** (age / half-life) when a half-life is set,
  divided by the cluster's capacity over the same window weighed alike. So, as in KAI's example, a project
  that held 24 GPU-hours of a 10-GPU cluster over a 10-hour window has usage 0.24.
`fairshare` then pours the over-quota resources by max(0, w + k (w - u)) instead of the weight w, where w is
the entry's weight divided by the weights of the entries still asking and u its usage (KAI's proportion
plugin, kValue k, default 1). Deserved quota is never touched: usage only moves over-quota shares.

Invariant: buckets are in time order and none is older than `keep_s` after a record, so memory stays bounded
(a week of one-minute buckets is 10,080 per project at most).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from berth.api.projects import project_of_namespace
from berth.scheduler.core.snapshot import Snapshot

Vector = list[float]  # gpu (GPUs), cpu (millicores), memory (MiB)


@dataclass(slots=True)
class Bucket:
    start: float
    used: dict[str, Vector] = field(default_factory=dict)  # resource-seconds per project
    capacity: Vector = field(default_factory=lambda: [0.0, 0.0, 0.0])  # resource-seconds of the cluster


@dataclass
class UsageHistory:
    """What projects held over time, in buckets (see the module docstring). Only `record` changes it."""

    bucket_s: float = 60.0
    keep_s: float = 7 * 86400.0  # at least the longest window it will be read with
    buckets: deque[Bucket] = field(default_factory=deque)
    last: float | None = None  # time of the latest record
    held: dict[str, Vector] = field(default_factory=dict)  # what each project held then
    capacity: Vector = field(default_factory=lambda: [0.0, 0.0, 0.0])  # what the cluster had then

    def __post_init__(self) -> None:
        if self.bucket_s <= 0:
            raise ValueError(f"bucket_s must be above 0, got {self.bucket_s}")


def record(history: UsageHistory, now: float, held: dict[str, Vector], capacity: Vector) -> None:
    """Count what was held since the previous record as used until `now`, then remember `held` from now on.
    A record with a time before the previous one changes only what is held (clocks may step back a little)."""
    if history.last is not None and now > history.last:
        _add(history, max(history.last, now - history.keep_s), now, history.held, history.capacity)
    if history.last is None or now > history.last:
        history.last = now
    history.held = {project: list(row) for project, row in held.items()}
    history.capacity = list(capacity)
    while history.buckets and history.buckets[0].start + history.bucket_s < now - history.keep_s:
        history.buckets.popleft()


def normalized(history: UsageHistory, now: float, window_s: float, half_life_s: float | None = None
               ) -> dict[str, Vector]:
    """Each project's usage over the window ending at `now`, as a share of the cluster's capacity (0..1) per
    resource, decayed by the half-life when one is given. What is held since the latest record counts too."""
    used: dict[str, Vector] = {}
    capacity = [0.0, 0.0, 0.0]
    since = now - window_s

    def weigh(start: float, end: float, rows: dict[str, Vector], cap: Vector) -> None:
        if end <= since or end <= start:
            return
        age = max(now - (start + end) / 2, 0.0)
        weight = 0.5 ** (age / half_life_s) if half_life_s else 1.0
        for project, row in rows.items():
            total = used.get(project)
            if total is None:
                total = used[project] = [0.0, 0.0, 0.0]
            for dim in range(3):
                total[dim] += row[dim] * weight
        for dim in range(3):
            capacity[dim] += cap[dim] * weight

    for bucket in history.buckets:
        weigh(bucket.start, bucket.start + history.bucket_s, bucket.used, bucket.capacity)
    if history.last is not None and now > history.last:
        span = now - max(history.last, since)
        weigh(max(history.last, since), now, {p: [x * span for x in row] for p, row in history.held.items()},
              [x * span for x in history.capacity])
    return {project: [row[d] / capacity[d] if capacity[d] > 0 else 0.0 for d in range(3)]
            for project, row in used.items()}


def _add(history: UsageHistory, start: float, end: float, held: dict[str, Vector], capacity: Vector) -> None:
    """Add `held` and `capacity` x time over [start, end), split at bucket boundaries."""
    size = history.bucket_s
    t = start
    while t < end:
        first = (t // size) * size
        upto = min(end, first + size)
        span = upto - t
        buckets = history.buckets
        if not buckets or buckets[-1].start < first:
            buckets.append(Bucket(first))
        bucket = buckets[-1]
        for project, row in held.items():
            total = bucket.used.get(project)
            if total is None:
                total = bucket.used[project] = [0.0, 0.0, 0.0]
            for dim in range(3):
                total[dim] += row[dim] * span
        for dim in range(3):
            bucket.capacity[dim] += capacity[dim] * span
        t = upto


def holdings(snapshot: Snapshot) -> tuple[dict[str, Vector], Vector]:
    """What each project holds in the snapshot (GPUs, millicores, MiB of its running pods) and what the
    cluster's schedulable nodes have: what `record` takes. A project is its pod group's queue, else the
    project of the pod's namespace (as the cycle reads it)."""
    queue_of = {g.key: g.queue for g in snapshot.groups}
    device_memory = {n.name: (n.gpus[0].memory_mib if n.gpus else 0) for n in snapshot.nodes}
    held: dict[str, Vector] = {}
    for pod in snapshot.pods:
        if pod.node is None:
            continue
        project = queue_of.get(f"{pod.namespace}/{pod.group or pod.name}") or project_of_namespace(pod.namespace)
        gpu = pod.gpus + pod.gpu_fraction
        if pod.gpu_memory and device_memory.get(pod.node):
            gpu += min(pod.gpu_memory / device_memory[pod.node], 1.0)
        row = held.get(project)
        if row is None:
            row = held[project] = [0.0, 0.0, 0.0]
        row[0] += gpu
        row[1] += pod.cpu
        row[2] += pod.memory
    capacity = [0.0, 0.0, 0.0]
    for node in snapshot.nodes:
        if node.unschedulable:
            continue
        capacity[0] += len(node.gpus) - sum(d.used for d in node.gpus)
        capacity[1] += node.cpu
        capacity[2] += node.memory
    return held, capacity
