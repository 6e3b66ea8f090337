"""The scheduler's Prometheus series: its cycles and decisions, and, per project and node pool, its fair
share and the workloads it keeps waiting (docs/metrics.md lists them, with where each name comes from).

Counting happens in the runner, never in `scheduler.core` (which stays pure): `bound` and `evicted` when a
binding or an eviction is written (a decision the API refused, or a pod that ended meanwhile, is not
counted), and `cycle_done` once per cycle with its duration, keeping a reference to its snapshot and
decisions; the per-project series are computed from those at scrape time, not per cycle. What projects
deserve, hold and ask for is the usage series' (`berth.controllers.metrics`). Labels are actions, projects and
node pools only (a few dozen values): nothing per pod, group or workload.

Names: KAI-Scheduler's where it publishes the quantity (in its default metrics namespace, `kai`), else
`berth_...`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from berth.api.projects import DEFAULT_POOL, namespace_of_project
from berth.scheduler.core import Decisions, Snapshot

Obj = dict[str, Any]
#: Cycle durations: from a millisecond (an idle cluster) to ten seconds (thousands of pending jobs).
CYCLE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ACTIONS = ("preempt", "reclaim", "consolidate")
QUEUE_LABELS = ["queue_name", "nodepool"]


class SchedulerMetrics(Collector):
    """The scheduler's series, in the components' registry (itself a collector of the last cycle's)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.cycle_seconds = Histogram(
            "berth_scheduling_cycle_duration_seconds", "Duration of a scheduling cycle in seconds: the snapshot, "
            "the core's decisions and the writes that apply them.", buckets=CYCLE_BUCKETS, registry=registry)
        self.e2e = Gauge(
            "kai_e2e_scheduling_latency_milliseconds", "Duration of the last scheduling cycle in milliseconds "
            "(scheduling algorithm and binding), as KAI-Scheduler publishes it.", registry=registry)
        self.binds = Counter("berth_scheduler_binds", "Pods the scheduler bound to a node (bindings written).", registry=registry)
        self.evictions = Counter(
            "berth_scheduler_evicted_pods", "Pods the scheduler evicted, by the action that took them (preempt: "
            "for higher priority work of the same project; reclaim: for a project under its deserved quota; "
            "consolidate: moved to make room).", ["action"], registry=registry)
        for action in ACTIONS:
            self.evictions.labels(action)  # every action shows, at 0, from the start
        self.last: tuple[Snapshot, Decisions] | None = None
        registry.register(self)

    def cycle_done(self, seconds: float, snapshot: Snapshot, decisions: Decisions) -> None:
        """Count one cycle (called by the runner once its writes are done)."""
        self.cycle_seconds.observe(seconds)
        self.e2e.set(seconds * 1000.0)
        self.last = (snapshot, decisions)

    def bound(self) -> None:
        """Count a pod bound (its binding written)."""
        self.binds.inc()

    def evicted(self, action: str) -> None:
        """Count a pod evicted (deleted) by `action`."""
        self.evictions.labels(action).inc()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The per-project series of the last cycle (fair share, waiting workloads), at scrape time."""
        fair = GaugeMetricFamily("kai_queue_fair_share_gpu", "The project's fair share of GPUs in the node pool, "
                                 "as the last scheduling cycle computed it.", labels=QUEUE_LABELS)
        pending = GaugeMetricFamily("berth_queue_pending_workloads", "Workloads (pod groups) of the project "
                                    "waiting to be scheduled after the last cycle, in the first node pool they "
                                    "prefer.", labels=QUEUE_LABELS)
        if self.last is not None:
            snapshot, decisions = self.last
            for project, pools in sorted(decisions.fair_share.items()):
                for pool, share in sorted(pools.items()):
                    fair.add_metric([project, pool], share)
            for (project, pool), count in sorted(pending_by_queue(snapshot, decisions).items()):
                pending.add_metric([project, pool], count)
        yield fair
        yield pending


def pending_by_queue(snapshot: Snapshot, decisions: Decisions) -> dict[tuple[str, str], int]:
    """Waiting workloads (pod groups) per (project, node pool): a group counts in the first pool it prefers
    (its own list, else its project's default pools, else `default`), as its requested GPUs do."""
    groups = {g.key: g for g in snapshot.groups}
    projects = {p.name: p for p in snapshot.projects}
    by_namespace = {namespace_of_project(p.name): p.name for p in snapshot.projects}
    out: dict[tuple[str, str], int] = defaultdict(int)
    for key in decisions.pending:
        group = groups.get(key)
        project = group.queue if group is not None else by_namespace.get(key.partition("/")[0])
        if not project:
            continue
        known = projects.get(project)
        preferred = (group.node_pools if group is not None else []) or (known.default_node_pools if known else [])
        out[(project, (preferred or [DEFAULT_POOL])[0])] += 1
    return out


