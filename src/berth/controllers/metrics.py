"""What every project deserves, holds and asks for, per node pool, as Prometheus gauges (docs/metrics.md).

Computed at scrape time from caches the caller hands in (in `berth up`, the scheduler's: the same pods the
scheduler places), by `berth.controllers.tally`, the code that writes the Project statuses `kubectl get
projects` shows: a scrape and a project's status count exactly the same things. Nothing is counted between
scrapes, so the series cost nothing while nobody scrapes. Labels are projects and node pools only.

Names: KAI-Scheduler's queue controller's (`kai_queue_deserved_gpus`, `kai_queue_allocated_gpus`, with its
label `queue_name`, and its label `nodepool` added since Berth keeps a quota per pool), Run:ai's published
per-project totals (`runai_project_guaranteed_gpus`, `runai_allocated_gpu_count_per_project`, label
`project`), and `berth_queue_requested_gpus`, which neither publishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from berth.api.projects import deserved_gpus
from berth.controllers.tally import Objects, statuses

Obj = dict[str, Any]
Items = Callable[[], list[Obj]]
QUEUE_LABELS = ["queue_name", "nodepool"]


@dataclass
class Caches:
    """Where the collector reads the cluster: functions returning the cached objects of each kind."""

    projects: Items
    pods: Items
    nodes: Items
    node_pools: Items


class UsageCollector(Collector):
    """Per project and node pool: deserved, allocated and requested GPUs; per project: the totals."""

    def __init__(self, caches: Caches) -> None:
        self.caches = caches

    def collect(self) -> Iterator[GaugeMetricFamily]:
        projects = self.caches.projects()
        found = statuses(Objects(projects=projects, node_pools=self.caches.node_pools(), nodes=self.caches.nodes(),
                                 pods=self.caches.pods()))
        deserved = GaugeMetricFamily("kai_queue_deserved_gpus", "GPUs guaranteed to the project (its deserved "
                                     "quota) in the node pool.", labels=QUEUE_LABELS)
        allocated = GaugeMetricFamily("kai_queue_allocated_gpus", "GPUs the project's pods hold in the node pool "
                                      "(pods bound to its nodes).", labels=QUEUE_LABELS)
        requested = GaugeMetricFamily("berth_queue_requested_gpus", "GPUs the project's pods ask for in the node "
                                      "pool: those it holds and those of its waiting pods (counted in the first "
                                      "pool they prefer).", labels=QUEUE_LABELS)
        guaranteed = GaugeMetricFamily("runai_project_guaranteed_gpus", "Guaranteed GPU quota per project (all "
                                       "node pools).", labels=["project"])
        held = GaugeMetricFamily("runai_allocated_gpu_count_per_project", "Number of allocated GPUs per project "
                                 "(all node pools).", labels=["project"])
        for project in projects:
            name = (project.get("metadata") or {}).get("name") or ""
            status = found.get(("Project", name)) or {}
            quota = deserved_gpus(project.get("spec") or {})
            rows = {row["nodePool"]: row for row in status.get("nodePools") or []}
            for pool in sorted(set(quota) | set(rows)):
                row = rows.get(pool) or {}
                deserved.add_metric([name, pool], quota.get(pool, 0.0))
                allocated.add_metric([name, pool], (row.get("allocated") or {}).get("gpu", 0))
                requested.add_metric([name, pool], (row.get("requested") or {}).get("gpu", 0))
            guaranteed.add_metric([name], status.get("deservedGpus", 0))
            held.add_metric([name], (status.get("allocated") or {}).get("gpu", 0))
        yield from (deserved, allocated, requested, guaranteed, held)
