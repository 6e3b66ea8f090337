"""Statements: whatever an action tries, rolling back leaves the state exactly as it was, indexes included."""

from __future__ import annotations

import random

import pytest

from berth.scheduler.core import Cluster, CycleConfig
from berth.scheduler.core.resources import MILLI
from berth.scheduler.core.session import Session
from berth.scheduler.core.statement import Statement


def random_session(seed: int) -> Session:
    rng = random.Random(seed)
    c = Cluster()
    c.pool("s", placement="spread")
    c.nodes(6, gpus=4, cpu=32000, memory=128 * 1024)
    c.nodes(4, gpus=8, prefix="s", pool="s", cpu=64000)
    c.nodes(2, gpus=0, prefix="cpu", cpu=16000)
    c.project("a", gpu=8)
    c.project("b", gpu=8)
    for i in range(40):
        kind = rng.choice(["whole", "fraction", "memory", "cpu"])
        kwargs = {"whole": {"gpus": rng.choice([1, 2, 4])}, "fraction": {"fraction": rng.choice([0.1, 0.25, 0.5, 0.7])},
                  "memory": {"gpu_memory": rng.choice([4000, 20000, 40000])}, "cpu": {"gpus": 0}}[kind]
        c.job(f"j{i}", rng.choice("ab"), cpu=rng.choice([0, 500, 4000]), memory=rng.choice([0, 1024, 8192]),
              pods=rng.choice([1, 1, 2]), node_pools=[rng.choice(["default", "s"])], **kwargs)
    return Session(c.build(), CycleConfig())


def fingerprint(session: Session):
    state = session.state
    nodes = [(n.free_cpu, n.free_mem, n.pods, tuple(n.dev_free), n.whole, n.surplus) for n in session.nodes]
    pools = {name: ([list(b) for b in p.buckets], list(p.devices), list(p.by_surplus))
             for name, p in session.pools.items()}
    places = {k: (p.node, p.devices, p.milli) for k, p in state.placements.items()}
    usage = {k: tuple(v) for k, v in state.usage.items() if any(v)}
    return nodes, pools, places, usage, {k: tuple(v) for k, v in state.pool_free.items()}


def check_invariants(session: Session) -> None:
    """Indexes hold each node under its current keys, and usage is the sum of the placements."""
    for name, pool in session.pools.items():
        expected_buckets = [[] for _ in pool.buckets]
        expected_devices, expected_surplus = [], []
        for idx in pool.members:
            n = session.nodes[idx]
            assert n.whole == sum(1 for f in n.dev_free if f == MILLI)
            assert 0 <= n.pods and all(f <= MILLI for f in n.dev_free)
            if not n.schedulable:
                continue
            assert n.surplus == pytest.approx(n.free_cpu - pool.ratio * n.free_gpu())
            expected_buckets[n.whole].append((n.surplus, idx))
            expected_surplus.append((n.surplus, idx))
            expected_devices += [(f, n.whole, n.surplus, idx, d) for d, f in enumerate(n.dev_free) if f > 0]
        assert pool.buckets == [sorted(b) for b in expected_buckets], name
        assert pool.devices == sorted(expected_devices), name
        assert pool.by_surplus == sorted(expected_surplus), name
    free: dict = {name: [0, 0, 0] for name in session.pools}
    for n in session.nodes:
        if n.schedulable:
            free[n.pool] = [free[n.pool][0] + n.free_gpu(), free[n.pool][1] + n.free_cpu, free[n.pool][2] + n.free_mem]
    assert free == session.state.pool_free
    totals: dict = {}
    for job in session.jobs:
        for info in job.pods:
            placed = session.state.placements.get(info.key)
            if placed is not None:
                row = totals.setdefault((info.project, session.nodes[placed.node].pool), [0, 0, 0])
                row[0] += placed.gpu_milli
                row[1] += info.shape.cpu
                row[2] += info.shape.mem
    assert {k: v for k, v in totals.items() if any(v)} == {k: v for k, v in session.state.usage.items() if any(v)}


@pytest.mark.parametrize("seed", range(8))
def test_rollback_restores_everything(seed):
    rng = random.Random(seed)
    session = random_session(seed)
    before = fingerprint(session)
    statement = Statement(session.state)
    pods = [p for job in session.jobs for p in job.pods]
    checkpoints = []
    for step in range(60):
        placed = [p for p in pods if p.key in session.state.placements]
        if placed and rng.random() < 0.35:
            statement.evict(rng.choice(placed), "test")
        else:
            waiting = [p for p in pods if p.key not in session.state.placements]
            if not waiting:
                continue
            info = rng.choice(waiting)
            pool = info.job.pools[0]
            found = session.pools[pool].find(info.shape, None)
            if found is not None:
                statement.allocate(info, *found)
        if step % 10 == 0:
            checkpoints.append((statement.checkpoint(), fingerprint(session)))
        check_invariants(session)
    for checkpoint, snapshot in reversed(checkpoints):
        statement.rollback(checkpoint)
        assert fingerprint(session) == snapshot
    statement.rollback(0)
    assert fingerprint(session) == before
    check_invariants(session)
