"""What the Prometheus series cost the scheduler and a scrape, at KAI's scale (500 nodes x 8 GPUs, 4,000
running 1-GPU pods of 20 projects): the runner's bookkeeping for a cycle (`SchedulerMetrics.cycle_done`, and
one `bound` per binding written) next to the time of the cycle's decisions alone, and one scrape of the components' registry (the per-project usage is computed then, from
the caches, by the same tally as the project statuses).
"""

from __future__ import annotations

import statistics
import time

from common import Figure
from prometheus_client import CollectorRegistry, generate_latest

from berth.controllers.metrics import Caches, UsageCollector
from berth.scheduler.core import Cluster, run_cycle
from berth.scheduler.metrics import SchedulerMetrics

NODES, GPUS, PROJECTS, PODS = 500, 8, 20, 4000


def _median(action, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def per_cycle() -> Figure:
    """The runner's bookkeeping for a cycle that binds 4,000 pods, against the core's time for that cycle (the
    4,000 bindings written through the API take far longer still)."""
    c = Cluster()
    c.nodes(NODES, gpus=GPUS)
    for p in range(PROJECTS):
        c.project(f"p{p:02d}", gpu=200)
    for i in range(PODS):
        c.job(f"j{i:04d}", f"p{i % PROJECTS:02d}")
    snapshot = c.build()
    started = time.perf_counter()
    decisions = run_cycle(snapshot)
    cycle = time.perf_counter() - started
    metrics = SchedulerMetrics(CollectorRegistry(auto_describe=False))
    cost = _median(lambda: metrics.cycle_done(cycle, snapshot, decisions), rounds=51)
    cost += len(decisions.binds) * _median(metrics.bound, rounds=51)  # one count per binding written
    return Figure("metrics.per_cycle_s", cost, "s", "noise next to the cycle (< 1% of it)",
                  {"cycle_s": round(cycle, 3), "share_of_cycle": round(cost / cycle, 6), "binds": len(decisions.binds)})


def _objects() -> Caches:
    nodes = [{"metadata": {"name": f"node-{n}", "labels": {}},
              "status": {"allocatable": {"nvidia.com/gpu": str(GPUS), "cpu": "64", "memory": "512Gi"},
                         "conditions": [{"type": "Ready", "status": "True"}]}} for n in range(NODES)]
    projects = [{"metadata": {"name": f"p{p:02d}"}, "spec": {"deservedGpus": 200}} for p in range(PROJECTS)]
    pods = [{"metadata": {"name": f"j{i:04d}-0", "namespace": f"runai-p{i % PROJECTS:02d}",
                          "annotations": {"run.ai/gpu-devices": str(i % GPUS)}},
             "spec": {"nodeName": f"node-{i // GPUS}",
                      "containers": [{"name": "main", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
             "status": {"phase": "Running"}} for i in range(PODS)]
    return Caches(lambda: projects, lambda: pods, lambda: nodes, lambda: [])


def scrape() -> Figure:
    """One scrape of the components' registry: the scheduler's series and every project's usage."""
    registry = CollectorRegistry(auto_describe=False)
    SchedulerMetrics(registry)
    registry.register(UsageCollector(_objects()))
    text = generate_latest(registry)
    assert b'kai_queue_allocated_gpus{nodepool="default",queue_name="p00"} 200.0' in text, text[:2000]
    cost = _median(lambda: generate_latest(registry), rounds=9)
    return Figure("metrics.components_scrape_s", cost, "s", "well under Prometheus' 10 s scrape timeout "
                  "(berth up waits 2 s)", {"pods": PODS, "nodes": NODES, "projects": PROJECTS,
                                            "bytes": len(text)})


BENCHMARKS = [per_cycle, scrape]
