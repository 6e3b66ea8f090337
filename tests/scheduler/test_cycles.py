"""Several cycles in a row, applying each cycle's decisions: fair shares are reached and then stay put."""

from __future__ import annotations

from collections import Counter

from berth.scheduler.core import Cluster, CycleConfig, Decisions, Snapshot, run_cycle
from tests.scheduler.test_properties import random_cluster


def apply(snapshot: Snapshot, decisions: Decisions, now: float) -> None:
    """What the runner and the nodes would do: bind pods, stop evicted ones (they come back pending)."""
    pods = {p.key: p for p in snapshot.pods}
    for eviction in decisions.evictions:
        pod = pods[eviction.pod]
        pod.node, pod.devices, pod.started = None, [], None
    for bind in decisions.binds:
        pod = pods[bind.pod]
        pod.node, pod.devices, pod.started = bind.node, list(bind.devices), now


def running_gpus(snapshot: Snapshot) -> Counter:
    count: Counter = Counter()
    for pod in snapshot.pods:
        if pod.node:
            count[pod.namespace.removeprefix("runai-")] += pod.gpus + pod.gpu_fraction
    return count


def settle(snapshot: Snapshot, cycles: int = 10) -> list[Decisions]:
    history = []
    for t in range(cycles):
        decisions = run_cycle(snapshot, CycleConfig(now=float(t)))
        history.append(decisions)
        if not decisions.binds and not decisions.evictions:
            break
        apply(snapshot, decisions, float(t))
    return history


def test_late_projects_take_back_their_fair_share_and_it_stays_there():
    c = Cluster()
    c.nodes(4, gpus=4)
    c.project("a", gpu=2)
    c.project("b", gpu=4)
    c.project("c", gpu=2)
    for i in range(16):
        c.job(f"a{i}", "a", submitted=0)
    snapshot = c.build()
    settle(snapshot)
    assert running_gpus(snapshot) == {"a": 16}
    for i in range(10):
        c.job(f"b{i}", "b", submitted=10)
        c.job(f"c{i}", "c", submitted=10)
    history = settle(snapshot)
    assert running_gpus(snapshot) == {"a": 4, "b": 8, "c": 4}
    assert not history[-1].evictions and len(history) <= 4  # settles, no ping-pong


def test_gangs_and_singles_settle_without_thrashing():
    c = Cluster()
    c.nodes(4, gpus=8)
    c.project("a", gpu=16)
    c.project("b", gpu=16)
    for i in range(32):
        c.job(f"a{i}", "a", submitted=0)
    snapshot = c.build()
    settle(snapshot)
    c.job("b-gang", "b", gpus=8, pods=2, submitted=5)
    history = settle(snapshot)
    assert running_gpus(snapshot) == {"a": 16, "b": 16}
    assert sum(len(d.evictions) for d in history) == 16  # exactly what b's gang needed
    nodes = {p.node for p in snapshot.pods if p.namespace == "runai-b"}
    assert len(nodes) == 2


def test_interactive_over_quota_waits_across_cycles_without_evictions():
    c = Cluster()
    c.nodes(1, gpus=4)
    c.project("a", gpu=1)
    c.project("b", gpu=3)
    c.job("a-nb", "a", priority="build")
    c.job("a-nb2", "a", priority="build")
    for i in range(3):
        c.job(f"b{i}", "b")
    snapshot = c.build()
    history = settle(snapshot)
    assert running_gpus(snapshot) == {"a": 1, "b": 3}
    assert not any(d.evictions for d in history)
    assert "a-nb2" in {k.split("/")[1] for k in history[-1].pending}


def test_random_clusters_settle():
    for seed in range(100):
        snapshot = random_cluster(seed)
        history = settle(snapshot, cycles=12)
        assert not history[-1].binds and not history[-1].evictions, f"seed {seed} still moving after 12 cycles"
