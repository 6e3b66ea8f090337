"""The same snapshot gives the same decisions, whatever the order of its lists, and is never modified."""

from __future__ import annotations

import copy
import random

from berth.scheduler.core import Cluster, run_cycle


def busy_snapshot(seed: int):
    rng = random.Random(seed)
    c = Cluster()
    c.nodes(8, gpus=4)
    for p in "abcd":
        c.project(p, gpu=rng.choice([2, 4, 8, 10]))
    n = 0
    for node in range(8):
        free = 4
        while free:
            g = min(free, rng.choice([1, 1, 2]))
            c.job(f"r{n}", rng.choice("abcd"), gpus=g, running_on=f"node-{node}",
                  priority=rng.choice(["train", "train", "build"]), started=float(n))
            free -= g
            n += 1
    for i in range(12):
        c.job(f"p{i}", rng.choice("abcd"), gpus=rng.choice([1, 2, 4]), pods=rng.choice([1, 1, 2]),
              priority=rng.choice(["train", "build", "inference"]))
    return c.build()


def test_shuffled_snapshots_give_the_same_decisions():
    for seed in range(5):
        snapshot = busy_snapshot(seed)
        pristine = copy.deepcopy(snapshot)
        first = run_cycle(snapshot)
        assert snapshot == pristine
        assert first.binds or first.evictions  # the scenario does something
        for shuffle in range(3):
            other = copy.deepcopy(snapshot)
            rng = random.Random(shuffle)
            for items in (other.nodes, other.pods, other.groups, other.projects):
                rng.shuffle(items)
            again = run_cycle(other)
            assert again.binds == first.binds
            assert again.evictions == first.evictions
            assert again.pending == first.pending


def test_running_twice_gives_the_same_decisions():
    snapshot = busy_snapshot(7)
    assert run_cycle(snapshot) == run_cycle(snapshot)
