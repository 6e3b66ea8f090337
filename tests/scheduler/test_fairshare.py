"""Fair share: the water-fill alone, and through a cycle with departments, caps and asks."""

from __future__ import annotations

import pytest

from berth.scheduler.core import Cluster, pool_quota, run_cycle
from berth.scheduler.core.fairshare import INF, Entry, saturation, water_fill


def shares(total, *entries):
    return [round(s, 6) for s in water_fill(total, [Entry(*e) for e in entries])]


def test_deserved_first_then_spare_by_deserved():
    assert shares(12, (3, INF, INF, None), (1, INF, INF, None)) == [9, 3]


def test_spare_by_weight_when_weights_are_set():
    assert shares(12, (3, INF, INF, 1), (1, INF, INF, 3)) == [5, 7]


def test_a_missing_weight_counts_one_among_set_ones():
    assert shares(10, (0, INF, INF, 3), (0, INF, INF, None)) == [7.5, 2.5]


def test_nobody_gets_more_than_it_asks_and_the_rest_flows_on():
    assert shares(12, (3, 4, INF, None), (1, INF, INF, None)) == [4, 8]


def test_max_allowed_caps_the_share():
    assert shares(12, (3, INF, 5, None), (1, INF, INF, None)) == [5, 7]


def test_no_quotas_at_all_split_equally():
    assert shares(9, (0, INF, INF, None), (0, INF, INF, None), (0, 2, INF, None)) == [3.5, 3.5, 2]


def test_zero_weights_share_only_what_weighted_ones_leave():
    assert shares(10, (2, INF, INF, 0), (2, 3, INF, 1)) == [7, 3]


def test_deserved_above_capacity_is_scaled_down_alike():
    assert shares(6, (4, INF, INF, None), (8, INF, INF, None)) == [2, 4]


def test_unkept_resource_takes_its_ask_first():
    assert shares(10, (INF, 4, INF, None), (2, INF, INF, None)) == [4, 6]


def test_saturation_is_the_largest_kept_ratio():
    assert saturation([3000, 8000, 0], [6000.0, 4000.0, INF]) == 2.0
    assert saturation([0, 0, 0], [0.0, INF, INF]) == 0.0
    assert saturation([1, 0, 0], [0.0, INF, INF]) == INF


def test_departments_split_first_then_their_projects():
    c = Cluster()
    c.nodes(2, gpus=8)
    c.department("research", 12)
    c.department("product", 4)
    c.project("r1", 6, department="research")
    c.project("r2", 2, department="research")
    c.project("p1", 4, department="product")
    for project in ("r1", "r2", "p1"):
        for i in range(16):
            c.job(f"{project}-{i}", project)
    d = run_cycle(c.build())
    # research's 12 GPUs go 6/2 by quota and 4 more by quota share: 9 and 3; product keeps its 4.
    assert d.fair_share == {"p1": {"default": 4.0}, "r1": {"default": 9.0}, "r2": {"default": 3.0}}


def test_department_quota_binds_when_its_projects_ask_for_more():
    c = Cluster()
    c.nodes(1, gpus=8)
    c.department("d", 4, max_gpu=4)
    c.project("a", 4, department="d")
    c.project("b", 4, department="d")
    c.project("other", 0)
    for i in range(8):
        c.job(f"a{i}", "a")
        c.job(f"b{i}", "b")
    d = run_cycle(c.build())
    assert d.fair_share["a"]["default"] == pytest.approx(2.0)
    assert d.fair_share["b"]["default"] == pytest.approx(2.0)
    placed = {b.group.split("/")[0] for b in d.binds}
    assert len(d.binds) == 4 and placed == {"runai-a", "runai-b"}  # maxAllowed of the department: 4


def test_fair_share_per_pool():
    c = Cluster()
    c.pool("a100")
    c.nodes(1, gpus=4, prefix="a", pool="a100")
    c.nodes(1, gpus=4)
    c.project("x", pools={"a100": pool_quota(3), "default": pool_quota(1)})
    c.project("y", pools={"a100": pool_quota(1), "default": pool_quota(1)})
    for i in range(8):
        c.job(f"x{i}", "x", node_pools=["a100", "default"])
        c.job(f"y{i}", "y", node_pools=["a100", "default"])
    d = run_cycle(c.build())
    assert d.fair_share == {"x": {"a100": 3.0, "default": 2.0}, "y": {"a100": 1.0, "default": 2.0}}
