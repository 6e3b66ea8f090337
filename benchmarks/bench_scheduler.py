"""The scheduler core alone (no API): KAI-Scheduler's scale scenarios, kube-scheduler's SchedulingBasic shape,
and packing on the Alibaba GPU-sharing trace (openb). Each time is a whole `run_cycle` (building the cycle's
state from the snapshot included), the median of several rounds; the snapshot is built once, outside the
timing, as the runner's watch cache would hold it. Every benchmark also checks the decisions it times, so a
fast wrong answer cannot pass.
"""

from __future__ import annotations

import csv
import random
import statistics
import time
from pathlib import Path

from common import Figure

from berth.scheduler.core import (
    Cluster,
    CycleConfig,
    GpuDevice,
    Node,
    Pod,
    PodGroup,
    Snapshot,
    run_cycle,
)

TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces" / "openb_fgd" / "csv"


def _timed(snapshot: Snapshot, rounds: int, config: CycleConfig | None = None):
    times, decisions = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        decisions = run_cycle(snapshot, config)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, decisions


def kai_fill() -> Figure:
    """KAI's scale test: 500 nodes x 8 GPUs, 4,000 single-GPU jobs from 20 projects, all placed in one cycle."""
    c = Cluster()
    c.nodes(500, gpus=8)
    for p in range(20):
        c.project(f"p{p:02d}", gpu=200)
    for i in range(4000):
        c.job(f"j{i:04d}", f"p{i % 20:02d}")
    snapshot = c.build()
    median, times, d = _timed(snapshot, rounds=5)
    assert len(d.binds) == 4000 and not d.pending, (len(d.binds), len(d.pending))
    return Figure("scheduler.kai_fill_s", median, "s", "< 2 (KAI end-to-end: 6 min 37 s)",
                  {"rounds_s": [round(t, 3) for t in times], "nodes": 500, "gpus": 4000, "jobs": 4000})


def kai_reclaim() -> Figure:
    """KAI's reclaim benchmark: the cluster full of 4,000 preemptible 1-GPU jobs from 20 projects (each 100 GPUs
    above its quota), then a 250-pod x 8-GPU gang from a project whose quota is half the cluster."""
    c = Cluster()
    c.nodes(500, gpus=8)
    for p in range(20):
        c.project(f"p{p:02d}", gpu=100)
    c.project("hero", gpu=2000)
    for i in range(4000):
        c.job(f"j{i:04d}", f"p{i % 20:02d}", running_on=f"node-{i // 8}", devices=[[i % 8]])
    c.job("gang", "hero", gpus=8, pods=250)
    snapshot = c.build()
    median, times, d = _timed(snapshot, rounds=5)
    assert len(d.binds) == 250 and len(d.evictions) == 2000 and not d.pending, (len(d.binds), len(d.evictions))
    return Figure("scheduler.kai_reclaim_s", median, "s", "< 1.5 (KAI's Go benchmark of the reclaim action)",
                  {"rounds_s": [round(t, 3) for t in times], "evicted": len(d.evictions), "bound": len(d.binds)})


def basic_5k() -> Figure:
    """kube-scheduler's SchedulingBasic shape: 5,000 nodes (4 CPU, 32 GiB, 110 pods), 1,000 pods already
    running, 10,000 pods of 100m CPU and 500 MiB to place, one pod group each."""
    nodes = [Node(f"node-{i:04d}", [], 4000, 32 * 1024) for i in range(5000)]
    pods, groups = [], []
    for i in range(11000):
        running = i < 1000
        name = f"pod-{i:05d}"
        pods.append(Pod(name, "runai-p", name, cpu=100, memory=500, submitted=float(i),
                        node=f"node-{i % 5000:04d}" if running else None))
        groups.append(PodGroup(name, "runai-p", "p", submitted=float(i)))
    c = Cluster()
    c.project("p", gpu=0)
    snapshot = Snapshot(nodes, pods, groups, c.snapshot.projects)
    median, times, d = _timed(snapshot, rounds=5)
    assert len(d.binds) == 10000, len(d.binds)
    return Figure("scheduler.basic_5k_pods_per_s", 10000 / median, "pods/s",
                  "> 2000 (kube-scheduler CI floor: 680)",
                  {"rounds_s": [round(t, 3) for t in times], "nodes": 5000, "pods": 10000})


def _openb() -> tuple[list[Node], list[dict]]:
    if not TRACES.exists():
        from common import Skip
        raise Skip(f"the openb trace is not at {TRACES}")
    with open(TRACES / "openb_node_list_gpu_node.csv") as f:
        nodes = [Node(r["sn"], [GpuDevice(i) for i in range(int(r["gpu"]))], int(r["cpu_milli"]),
                      int(r["memory_mib"])) for r in csv.DictReader(f)]
    with open(TRACES / "openb_pod_list_default.csv") as f:
        pods = [{"cpu": int(r["cpu_milli"]), "mem": int(r["memory_mib"]), "gpus": int(r["num_gpu"]),
                 "milli": int(r["gpu_milli"])} for r in csv.DictReader(f)]
    return nodes, pods


def openb_alloc() -> Figure:
    """Packing on openb (1,213 nodes, 6,212 GPUs): the trace's pods in random order, repeated until they ask
    130 % of the GPUs, placed one by one (allocate only, no departures); the share of GPU capacity allocated,
    mean of 10 seeds. Whole-GPU pods ask `num_gpu` devices; pods with gpu_milli < 1000 ask a fraction. All the
    pods are in one snapshot, so the CPU-per-GPU ratio placement balances against is the sampled workload's (as
    FGD assumes the workload's distribution known)."""
    nodes, trace = _openb()
    capacity = sum(len(n.gpus) for n in nodes) * 1000
    c = Cluster()
    c.project("openb", gpu=10**6)
    shares, times = [], []
    for seed in range(10):
        rng = random.Random(seed)
        order: list[dict] = []
        asked = 0
        while asked < 1.3 * capacity:
            batch = trace[:]
            rng.shuffle(batch)
            for row in batch:
                order.append(row)
                asked += row["gpus"] * row["milli"]
                if asked >= 1.3 * capacity:
                    break
        pods, groups = [], []
        for i, row in enumerate(order):
            name = f"p{i:05d}"
            fraction = row["milli"] / 1000 if row["gpus"] == 1 and row["milli"] < 1000 else 0.0
            pods.append(Pod(name, "runai-openb", name, 0 if fraction else row["gpus"], fraction, 0, row["cpu"],
                            row["mem"], submitted=float(i)))
            groups.append(PodGroup(name, "runai-openb", "openb", submitted=float(i)))
        snapshot = Snapshot(nodes, pods, groups, c.snapshot.projects)
        start = time.perf_counter()
        d = run_cycle(snapshot, CycleConfig(actions=("allocate",), explain=False))
        times.append(time.perf_counter() - start)
        used = sum(round(b.gpu_fraction * 1000) * len(b.devices) for b in d.binds)
        shares.append(100 * used / capacity)
    return Figure("scheduler.openb_alloc_pct", statistics.mean(shares), "%",
                  "> 95 (best published policy on this trace: about 95 %)",
                  {"seeds": [round(s, 2) for s in shares], "cycle_s_median": round(statistics.median(times), 3),
                   "pods_per_seed": len(order)})


BENCHMARKS = [kai_fill, kai_reclaim, basic_5k, openb_alloc]
