"""Quota rules, filters, placement strategies and the smaller rules of the core, one snapshot each."""

from __future__ import annotations

from berth.scheduler.core import Cluster, CycleConfig, Taint, Toleration, pool_quota, run_cycle
from tests.scheduler.helpers import bound_groups, evicted_groups, reason, waiting


def test_max_allowed_caps_even_preemptible_work():
    c = Cluster()
    c.nodes(1, gpus=8)
    c.project("a", gpu=2, max_gpu=3)
    for i in range(4):
        c.job(f"t{i}", "a")
    d = run_cycle(c.build())
    assert len(d.binds) == 3
    assert reason(d, "t3") == "OverLimit"
    assert waiting(d, "t3") == "project a may use at most 3 GPUs (maxAllowed) and uses 3 GPUs; this workload needs " \
                               "1 GPU more"


def test_a_project_is_over_quota_if_any_resource_is():
    c = Cluster()
    c.nodes(1, gpus=8, cpu=64000)
    c.project("a", gpu=4, cpu=8000)
    c.job("nb1", "a", priority="build", cpu=6000)
    c.job("nb2", "a", priority="build", cpu=6000)  # GPUs within quota, CPU not
    d = run_cycle(c.build())
    assert bound_groups(d) == {"nb1"}
    assert waiting(d, "nb2") == ("project a uses 6 CPU cores of its deserved 8 CPU cores and this workload needs 6 "
                                 "CPU cores; interactive workloads cannot use over-quota CPU")


def test_department_deserved_limits_its_non_preemptible_work():
    c = Cluster()
    c.nodes(1, gpus=8)
    c.department("d", 2)
    c.project("a", 2, department="d")
    c.project("b", 2, department="d")
    c.job("a-nb", "a", gpus=2, priority="build", running_on="node-0")
    c.job("b-nb", "b", priority="build")
    d = run_cycle(c.build())
    assert not d.binds
    assert waiting(d, "b-nb") == ("department d is at its deserved quota of 2 GPUs; interactive workloads cannot use "
                                  "over-quota GPUs")


def test_pool_without_quota_takes_only_preemptible_work():
    c = Cluster()
    c.pool("spare")
    c.nodes(1, gpus=2, prefix="s", pool="spare")
    c.project("a", pools={"default": pool_quota(2)})
    c.job("nb", "a", priority="build", node_pools=["spare"])
    c.job("t", "a", node_pools=["spare"])
    d = run_cycle(c.build())
    assert bound_groups(d) == {"t"}
    assert waiting(d, "nb") == "project a has no deserved GPUs in pool spare; interactive workloads cannot use " \
                               "over-quota GPUs"


def test_taints_keep_off_pods_that_do_not_tolerate_them():
    c = Cluster()
    c.nodes(1, gpus=2, taints=[Taint("dedicated", "infer", "NoSchedule")])
    c.project("a", gpu=4)
    c.job("plain", "a")
    c.job("tolerant", "a", tolerations=[Toleration("dedicated", "Equal", "infer", "NoSchedule")])
    c.job("exists", "a", tolerations=[Toleration("dedicated", "Exists")])
    d = run_cycle(c.build())
    assert bound_groups(d) == {"tolerant", "exists"}
    assert waiting(d, "plain") == ("the nodes of pool default have the taint dedicated=infer:NoSchedule, which the "
                                   "workload does not tolerate")


def test_prefer_no_schedule_taints_do_not_filter():
    c = Cluster()
    c.nodes(1, gpus=1, taints=[Taint("soft", "", "PreferNoSchedule")])
    c.project("a", gpu=1)
    c.job("j", "a")
    assert bound_groups(run_cycle(c.build())) == {"j"}


def test_node_selector_on_any_label():
    c = Cluster()
    c.nodes(1, gpus=1, labels={"zone": "a"})
    c.nodes(1, gpus=1, prefix="other", labels={"zone": "b"})
    c.project("p", gpu=2)
    c.job("j", "p", selector={"zone": "b"})
    c.job("k", "p", selector={"zone": "c"})
    d = run_cycle(c.build())
    assert d.binds[0].node == "other-0"
    assert waiting(d, "k") == "no node in pool default has the label zone=c (nodeSelector)"


def test_cordoned_nodes_take_nothing_new_but_keep_their_pods():
    c = Cluster()
    c.nodes(1, gpus=2, unschedulable=True)
    c.project("a", gpu=2)
    c.job("running", "a", running_on="node-0")
    c.job("new", "a")
    d = run_cycle(c.build())
    assert not d.binds and not d.evictions
    assert waiting(d, "new") == "every node in pool default is cordoned"


def test_binpack_fills_a_node_before_the_next():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=8)
    c.job("x", "a", gpus=1, running_on="node-1")
    c.job("y", "a", gpus=2)
    c.job("z", "a", gpus=1)
    d = run_cycle(c.build())
    assert {b.node for b in d.binds} == {"node-1"}


def test_spread_balances_across_nodes_and_devices():
    c = Cluster()
    c.pool("s", placement="spread")
    c.nodes(2, gpus=2, pool="s")
    c.project("a", pools={"s": pool_quota(4)})
    c.job("f1", "a", fraction=0.25, node_pools=["s"])
    c.job("f2", "a", fraction=0.25, node_pools=["s"])
    c.job("f3", "a", fraction=0.25, node_pools=["s"])
    d = run_cycle(c.build())
    spots = {(b.node, b.devices) for b in d.binds}
    assert len(spots) == 3  # three different devices, on both nodes
    assert {b.node for b in d.binds} == {"node-0", "node-1"}


def test_cpu_heavy_gpu_pods_go_where_cpu_is_plentiful():
    c = Cluster()
    c.nodes(1, gpus=8, prefix="lean", cpu=16000)  # 2 cores per GPU
    c.nodes(1, gpus=8, prefix="rich", cpu=128000)  # 16 cores per GPU
    c.project("a", gpu=16)
    c.job("light", "a", gpus=1, cpu=1000, submitted=0)
    c.job("heavy", "a", gpus=1, cpu=12000, submitted=1)
    c.job("cpu-only", "a", gpus=0, cpu=8000, submitted=2)
    d = run_cycle(c.build())
    nodes = {b.group.split("/")[1]: b.node for b in d.binds}
    assert nodes["heavy"] == "rich-0"  # on lean it would leave 7 GPUs with 4 cores
    assert nodes["cpu-only"] == "rich-0"  # where its CPU is least needed by free GPUs


def test_not_enough_cpu_is_said_as_such():
    c = Cluster()
    c.nodes(2, gpus=4, cpu=8000)
    c.project("a", gpu=8)
    c.job("j", "a", gpus=1, cpu=16000)
    d = run_cycle(c.build())
    assert reason(d, "j") == "NotEnoughCPU"
    assert waiting(d, "j") == ("needs a node with 1 free GPU and 16 CPU cores free in pool default; the most free on "
                               "such a node is 8 CPU cores")


def test_min_runtime_protects_recently_started_victims():
    def snapshot():
        c = Cluster()
        c.nodes(1, gpus=2)
        c.project("a", gpu=1)
        c.project("b", gpu=1)
        c.job("a1", "a", running_on="node-0", started=50)
        c.job("a2", "a", running_on="node-0", started=95)
        c.job("b1", "b")
        return c.build()
    young = run_cycle(snapshot(), CycleConfig(now=100, reclaim_min_runtime=60))
    assert not young.evictions and "b1" in {k.split("/")[1] for k in young.pending}
    old = run_cycle(snapshot(), CycleConfig(now=200, reclaim_min_runtime=60))
    assert evicted_groups(old) == {"a2"}


def test_preempt_min_runtime():
    c = Cluster()
    c.nodes(1, gpus=1)
    c.project("a", gpu=1)
    c.job("t", "a", running_on="node-0", started=90)
    c.job("nb", "a", priority="build")
    assert not run_cycle(c.build(), CycleConfig(now=100, preempt_min_runtime=60)).evictions
    assert evicted_groups(run_cycle(c.build(), CycleConfig(now=200, preempt_min_runtime=60))) == {"t"}


def test_elastic_group_places_what_fits_beyond_min_member():
    c = Cluster()
    c.nodes(1, gpus=2)
    c.project("a", gpu=2)
    c.job("hpo", "a", pods=3, min_member=1)
    d = run_cycle(c.build())
    assert len(d.binds) == 2
    assert "hpo" in {k.split("/")[1] for k in d.pending}  # its third pod still waits


def test_priority_then_submission_time_within_a_project():
    c = Cluster()
    c.nodes(1, gpus=1)
    c.project("a", gpu=1)
    c.job("early-train", "a", submitted=0)
    c.job("late-build", "a", priority="build", submitted=5)
    c.job("later-build", "a", priority="build", submitted=6)
    d = run_cycle(c.build())
    assert bound_groups(d) == {"late-build"}


def test_the_most_deprived_project_goes_first():
    c = Cluster()
    c.nodes(1, gpus=4)
    c.project("rich", gpu=2)
    c.project("poor", gpu=2)
    c.job("r0", "rich", running_on="node-0")
    c.job("r1", "rich", running_on="node-0")
    c.job("r2", "rich", submitted=-10)  # earlier, but its project already has its share
    c.job("p0", "poor")
    c.job("p1", "poor")
    d = run_cycle(c.build())
    assert bound_groups(d) == {"p0", "p1"}


def test_unknown_project_and_bad_requests_wait_with_a_reason():
    c = Cluster()
    c.nodes(1, gpus=1)
    c.project("a", gpu=1)
    c.job("orphan", "nobody")
    c.job("weird", "a", fraction=1.5)
    d = run_cycle(c.build())
    assert reason(d, "orphan") == "ProjectNotFound"
    assert reason(d, "weird") == "InvalidRequest"
    assert "gpu-fraction 1.5 must be below 1" in waiting(d, "weird")


def test_a_pool_without_nodes():
    c = Cluster()
    c.pool("h100")
    c.nodes(1, gpus=1)
    c.project("a", gpu=1)
    c.job("j", "a", node_pools=["h100"])
    d = run_cycle(c.build())
    assert reason(d, "j") == "NoNodePool" and waiting(d, "j") == "pool h100 has no nodes"


def test_a_node_pool_that_does_not_exist_is_named_with_the_pools_that_do():
    c = Cluster()
    c.pool("a100")
    c.nodes(1, gpus=1, prefix="a", pool="a100")
    c.nodes(1, gpus=1)
    c.project("a", gpu=1)
    c.job("typo", "a", node_pools=["a10"])
    c.job("other", "a", node_pools=["h100"])
    d = run_cycle(c.build())
    assert reason(d, "typo") == "NoNodePool"
    assert waiting(d, "typo") == "no node pool named a10 (pools: a100, default); did you mean a100?"
    assert waiting(d, "other") == "no node pool named h100 (pools: a100, default)"


def test_more_gpus_than_any_node_has_says_so():
    c = Cluster()
    c.nodes(2, gpus=8)
    c.nodes(1, gpus=2, prefix="small")
    c.project("a", gpu=8)
    c.job("busy", "a", gpus=6, running_on="node-0")
    c.job("huge", "a", gpus=100)
    c.job("gang", "a", gpus=16, pods=2)
    d = run_cycle(c.build())
    assert reason(d, "huge") == "NotEnoughGPUs"
    assert waiting(d, "huge") == "no node has 100 GPUs (the largest has 8)"
    assert waiting(d, "gang") == "no node has 16 GPUs (the largest has 8)"


def test_more_gpu_memory_than_any_device_has_says_so():
    c = Cluster()
    c.pool("small")
    c.nodes(1, gpus=2, gpu_memory=40960, prefix="s", pool="small")
    c.project("a", pools={"small": pool_quota(2)})
    c.job("m", "a", gpu_memory=50000, node_pools=["small"])
    d = run_cycle(c.build())
    assert waiting(d, "m") == "no GPU in pool small has 50000 MiB of memory (the largest has 40960 MiB)"


def test_project_default_node_pools():
    c = Cluster()
    c.pool("a100")
    c.nodes(1, gpus=1, prefix="a", pool="a100")
    c.nodes(1, gpus=1)
    c.project("p", pools={"a100": pool_quota(1), "default": pool_quota(1)}, default_pools=["a100"])
    c.job("j", "p")
    assert run_cycle(c.build()).binds[0].node == "a-0"


def test_gpu_memory_on_devices_of_different_sizes():
    c = Cluster()
    c.nodes(1, gpus=1, prefix="small", gpu_memory=16000)
    c.nodes(1, gpus=1, prefix="big", gpu_memory=80000)
    c.project("a", gpu=2)
    c.job("m", "a", gpu_memory=20000)
    (bind,) = run_cycle(c.build()).binds
    assert bind.node == "big-0" and bind.gpu_fraction == 0.25 and bind.gpu_memory == 20000


def test_a_job_placed_earlier_in_the_cycle_is_simply_not_placed_when_it_must_give_way():
    c = Cluster()
    c.nodes(1, gpus=4)
    c.project("a", gpu=2, max_gpu=3)
    c.job("t1", "a", running_on="node-0", started=0)
    c.job("t2", "a", running_on="node-0", started=1)
    c.job("serve", "a", gpus=2, priority="inference")  # over maxAllowed: allocate refuses it, preempt makes room
    c.job("t3", "a")  # allocate places it on an idle GPU first (within maxAllowed)
    d = run_cycle(c.build())
    assert bound_groups(d) == {"serve"}
    assert evicted_groups(d) == {"t2"}  # t3 never started: it is not evicted, just not bound
    assert waiting(d, "t3").startswith("placed, then given up in the same cycle to runai-a/serve (inference)")


def test_cpu_and_memory_shortages_are_said_per_node():
    c = Cluster()
    c.nodes(2, gpus=4, cpu=64000, memory=32768)
    c.project("x", gpu=8)
    c.job("cpu", "x", gpus=0, cpu=99000)
    c.job("mem", "x", gpus=1, memory=64000)
    d = run_cycle(c.build())
    assert waiting(d, "cpu") == ("needs 99 CPU cores free on one node in pool default; the most free on any node is "
                                 "64 CPU cores")
    assert waiting(d, "mem") == ("needs a node with 1 free GPU and 62.5 GiB of memory free in pool default; the most "
                                 "free on such a node is 32 GiB of memory")
    assert reason(d, "mem") == "NotEnoughMemory"


def test_an_eviction_that_a_later_one_made_unneeded_is_taken_back():
    # Project a (maxAllowed 6) runs 8 GPUs. For b1, preempt evicts the three latest 1-GPU trainings to get within
    # maxAllowed, and b1 takes the GPU of t2; for b2 it then evicts the 4-GPU training too, and b2 takes the GPU of
    # t3. With big gone, t4 was not needed: it stays.
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=0, max_gpu=6)
    c.job("t0", "a", running_on="node-0", devices=[[0]], started=0)
    c.job("big", "a", gpus=4, running_on="node-1", devices=[[0, 1, 2, 3]], started=1)
    for i in (2, 3, 4):
        c.job(f"t{i}", "a", running_on="node-0", devices=[[i - 1]], started=i)
    c.job("b1", "a", priority="build-preemptible")
    c.job("b2", "a", priority="build-preemptible")
    d = run_cycle(c.build())
    assert bound_groups(d) == {"b1", "b2"}
    assert evicted_groups(d) == {"big", "t2", "t3"}
    assert {b.node for b in d.binds} == {"node-0"}
