"""KAI-Scheduler's scale scenarios (500 nodes x 8 GPUs) through the core: the decisions are complete and right at
size. The timings themselves are benchmarks (benchmarks/bench_scheduler.py), not tests.
"""

from __future__ import annotations

from collections import Counter

from berth.scheduler.core import Cluster, run_cycle


def fill(nodes: int) -> None:
    c = Cluster()
    c.nodes(nodes, gpus=8)
    for p in range(20):
        c.project(f"p{p:02d}", gpu=nodes * 8 / 20)
    for i in range(nodes * 8):
        c.job(f"j{i:05d}", f"p{i % 20:02d}")
    d = run_cycle(c.build())
    assert len(d.binds) == nodes * 8 and not d.pending and not d.evictions
    per_node = Counter(b.node for b in d.binds)
    assert set(per_node.values()) == {8}
    assert len({(b.node, b.devices) for b in d.binds}) == nodes * 8  # no device given twice


def reclaim(nodes: int) -> None:
    c = Cluster()
    c.nodes(nodes, gpus=8)
    for p in range(20):
        c.project(f"p{p:02d}", gpu=nodes * 4 / 20)
    c.project("hero", gpu=nodes * 4)
    for i in range(nodes * 8):
        c.job(f"j{i:05d}", f"p{i % 20:02d}", running_on=f"node-{i // 8}", devices=[[i % 8]])
    c.job("gang", "hero", gpus=8, pods=nodes // 2)
    d = run_cycle(c.build())
    assert len(d.binds) == nodes // 2 and len(d.evictions) == nodes * 4 and not d.pending
    assert {e.node for e in d.evictions} == {b.node for b in d.binds}  # whole nodes freed, nothing wasted
    lost = Counter(e.pod.split("/")[0] for e in d.evictions)
    assert set(lost.values()) == {nodes * 4 // 20}  # every project gave back exactly what it had over its share


def test_fill_at_kai_scale():
    fill(500)


def test_reclaim_at_kai_scale():
    reclaim(500)
