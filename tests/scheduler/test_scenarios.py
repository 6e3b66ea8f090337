"""The scenarios issue E asks the core to show, each a small snapshot with the decisions a Run:ai user expects."""

from __future__ import annotations

from berth.scheduler.core import Cluster, pool_quota, run_cycle
from tests.scheduler.helpers import bound_groups, evicted_groups, gpus_bound_by_project, reason, waiting


def test_over_quota_walkthrough_team_b_takes_back_a_team_a_training_job():
    # Run:ai's walkthrough: team-a (quota 2) runs 3 GPUs on a 4-GPU cluster; team-b submits within its quota.
    c = Cluster()
    c.nodes(2, gpus=2)
    c.project("team-a", gpu=2)
    c.project("team-b", gpu=2)
    c.job("a1", "team-a", running_on="node-0")
    c.job("a2", "team-a", running_on="node-0")
    c.job("a3", "team-a", running_on="node-1")
    c.job("b1", "team-b")
    c.job("b2", "team-b")
    d = run_cycle(c.build())
    assert bound_groups(d) == {"b1", "b2"}
    assert evicted_groups(d) == {"a3"}  # one training job, the most recently started
    (eviction,) = d.evictions
    assert eviction.reason == ("reclaimed on node node-1 to make room for runai-team-b/b2 (project team-b is below "
                               "its fair share; project team-a uses 3 GPUs, above its fair share of 2 GPUs)")
    b2 = next(b for b in d.binds if b.group.endswith("/b2"))
    assert b2.node == "node-1" and b2.pipelined  # it waits for a3 to leave
    assert d.fair_share == {"team-a": {"default": 2.0}, "team-b": {"default": 2.0}}


def test_walkthrough_is_stable_on_the_next_cycle():
    c = Cluster()
    c.nodes(2, gpus=2)
    c.project("team-a", gpu=2)
    c.project("team-b", gpu=2)
    c.job("a1", "team-a", running_on="node-0")
    c.job("a2", "team-a", running_on="node-0")
    c.job("a3", "team-a")  # preempted last cycle, back to pending
    c.job("b1", "team-b", running_on="node-1")
    c.job("b2", "team-b", running_on="node-1")
    d = run_cycle(c.build())
    assert not d.binds and not d.evictions
    assert reason(d, "a3") == "NotEnoughGPUs"


def test_idle_gpus_split_75_25_between_quotas_3_and_1():
    c = Cluster()
    c.nodes(3, gpus=4)  # 12 GPUs: 4 deserved, 8 idle
    c.project("a", gpu=3)
    c.project("b", gpu=1)
    for i in range(12):
        c.job(f"a{i}", "a")
        c.job(f"b{i}", "b")
    d = run_cycle(c.build())
    assert d.fair_share == {"a": {"default": 9.0}, "b": {"default": 3.0}}
    assert gpus_bound_by_project(d) == {"a": 9, "b": 3}
    assert not d.evictions


def test_reclaim_restores_75_25_when_the_second_project_arrives_late():
    c = Cluster()
    c.nodes(3, gpus=4)
    c.project("a", gpu=3)
    c.project("b", gpu=1)
    for i in range(12):
        c.job(f"a{i}", "a", running_on=f"node-{i // 4}")
    for i in range(12):
        c.job(f"b{i}", "b")
    d = run_cycle(c.build())
    assert gpus_bound_by_project(d) == {"b": 3}
    assert len(d.evictions) == 3 and evicted_groups(d) <= {f"a{i}" for i in range(12)}
    assert "project b is at its fair share of 3 GPUs (it uses 3 GPUs)" in waiting(d, "b11")


def test_over_quota_weights_split_idle_gpus_instead_of_quotas():
    # Run:ai's example: quota 3 with weight Low (1) and quota 1 with weight High (3): the 8 idle GPUs go 25 % / 75 %.
    c = Cluster()
    c.nodes(3, gpus=4)
    c.project("a", gpu=3, weight=1)
    c.project("b", gpu=1, weight=3)
    for i in range(12):
        c.job(f"a{i}", "a")
        c.job(f"b{i}", "b")
    d = run_cycle(c.build())
    assert d.fair_share == {"a": {"default": 5.0}, "b": {"default": 7.0}}
    assert gpus_bound_by_project(d) == {"a": 5, "b": 7}


def test_weight_zero_gets_no_over_quota_share_while_others_want_more():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=2, weight=0)
    c.project("b", gpu=2, weight=1)
    for i in range(8):
        c.job(f"a{i}", "a")
        c.job(f"b{i}", "b")
    d = run_cycle(c.build())
    assert d.fair_share == {"a": {"default": 2.0}, "b": {"default": 6.0}}


def test_interactive_refused_over_quota_while_training_may_use_idle_gpus():
    c = Cluster()
    c.nodes(1, gpus=8)
    c.project("team-a", gpu=4)
    for i in range(4):
        c.job(f"nb{i}", "team-a", priority="build", running_on="node-0")
    c.job("notebook", "team-a", priority="build")
    c.job("train", "team-a")
    d = run_cycle(c.build())
    assert bound_groups(d) == {"train"}
    assert waiting(d, "notebook") == (
        "project team-a is at its deserved quota of 4 GPUs; interactive workloads cannot use over-quota GPUs")
    assert reason(d, "notebook") == "OverQuota"


def test_interactive_is_never_reclaimed_only_training_is():
    c = Cluster()
    c.nodes(1, gpus=4)
    c.project("a", gpu=2)
    c.project("b", gpu=2)
    c.job("a-nb1", "a", priority="build", running_on="node-0")
    c.job("a-nb2", "a", priority="build", running_on="node-0")
    c.job("a-t1", "a", running_on="node-0")
    c.job("a-t2", "a", running_on="node-0")
    c.job("b1", "b", gpus=2)
    d = run_cycle(c.build())
    assert evicted_groups(d) == {"a-t1", "a-t2"}
    assert bound_groups(d) == {"b1"}


def test_interactive_is_never_preempted_by_higher_priority_work_of_its_project():
    c = Cluster()
    c.nodes(1, gpus=2)
    c.project("a", gpu=2)
    c.job("nb1", "a", priority="build", running_on="node-0")
    c.job("nb2", "a", priority="build", running_on="node-0")
    c.job("serve", "a", priority="inference")
    d = run_cycle(c.build())
    assert not d.evictions and not d.binds
    assert "inference workloads cannot use over-quota GPUs" in waiting(d, "serve")


def test_interactive_within_quota_preempts_training_of_its_own_project():
    c = Cluster()
    c.nodes(1, gpus=4)
    c.project("a", gpu=2)
    c.project("b", gpu=2)
    c.job("t1", "a", running_on="node-0")
    c.job("t2", "a", running_on="node-0")
    c.job("b1", "b", running_on="node-0")
    c.job("b2", "b", running_on="node-0")
    c.job("nb", "a", priority="build")
    d = run_cycle(c.build())
    assert evicted_groups(d) == {"t2"}
    assert bound_groups(d) == {"nb"}
    assert d.evictions[0].reason == ("preempted on node node-0 to make room for runai-a/nb (higher priority in "
                                     "project a: build (priority 100) outranks train (priority 50))")


def test_gang_is_placed_all_or_nothing():
    c = Cluster()
    c.nodes(2, gpus=8)
    c.project("a", gpu=16)
    c.job("small", "a", gpus=2, running_on="node-0")
    c.job("gang", "a", gpus=8, pods=2)  # needs two empty nodes: only one is
    c.job("fits", "a", gpus=6, pods=2)
    d = run_cycle(c.build())
    assert bound_groups(d) == {"fits"}
    assert {b.node for b in d.binds} == {"node-0", "node-1"}
    assert waiting(d, "gang").startswith("needs 2 nodes with 8 free GPUs in pool default")


def test_gang_waits_whole_and_does_not_hold_part_of_the_cluster():
    c = Cluster()
    c.nodes(3, gpus=8)
    c.project("a", gpu=24)
    c.job("busy", "a", gpus=4, running_on="node-2")
    c.job("gang", "a", gpus=8, pods=3)
    d = run_cycle(c.build())
    assert not d.binds and not d.evictions  # not 2 of 3 pods
    assert waiting(d, "gang") == "needs 3 nodes with 8 free GPUs in pool default; only 2 have that many, " \
                                 "the next best has 4"


def test_a_pod_whose_pod_group_is_not_seen_yet_waits_for_it():
    # The controller creates a gang's PodGroup before its pods, but the scheduler watches both separately:
    # its pods may arrive first. Placed as a group of one, the master of a 5-pod gang would run alone
    # on a 4-GPU node (CI saw exactly that); it waits for its PodGroup instead.
    c = Cluster()
    c.nodes(1, gpus=4)
    c.project("a", gpu=8)
    c.job("too-big", "a", gpus=1, pods=5)
    c.snapshot.groups.clear()
    d = run_cycle(c.build())
    assert not d.binds
    assert reason(d, "too-big") == "PodGroupNotFound"
    assert waiting(d, "too-big") == ("waiting for its PodGroup too-big (named by the pods' annotation "
                                     "pod-group-name), which does not exist in namespace runai-a yet")


def test_evicting_one_pod_of_a_gang_evicts_all_of_them():
    c = Cluster()
    c.nodes(2, gpus=2)
    c.project("a", gpu=4)
    c.job("dist", "a", gpus=2, pods=2, running_on=["node-0", "node-1"])
    c.job("nb", "a", gpus=2, priority="build")
    d = run_cycle(c.build())
    assert {e.pod for e in d.evictions} == {"runai-a/dist-0", "runai-a/dist-1"}
    assert bound_groups(d) == {"nb"}


def test_fractions_half_and_half_share_one_device():
    c = Cluster()
    c.nodes(1, gpus=1)
    c.project("a", gpu=1)
    c.job("f1", "a", fraction=0.5)
    c.job("f2", "a", fraction=0.5)
    d = run_cycle(c.build())
    assert [(b.node, b.devices, b.gpu_fraction) for b in d.binds] == [("node-0", (0,), 0.5), ("node-0", (0,), 0.5)]


def test_fractions_half_and_seven_tenths_do_not_share_a_device():
    c = Cluster()
    c.nodes(1, gpus=1)
    c.project("a", gpu=1)
    c.job("f1", "a", fraction=0.5)
    c.job("f2", "a", fraction=0.7)
    d = run_cycle(c.build())
    assert bound_groups(d) == {"f1"}
    assert waiting(d, "f2") == "needs 0.7 of a GPU in pool default; the most free on any GPU is 0.5"


def test_fractions_pack_onto_the_fullest_device_that_fits():
    c = Cluster()
    c.nodes(1, gpus=2)
    c.project("a", gpu=2)
    c.job("f5", "a", fraction=0.5)
    c.job("f7", "a", fraction=0.7)
    c.job("f3", "a", fraction=0.3)
    d = run_cycle(c.build())
    devices = {b.group.split("/")[1]: b.devices[0] for b in d.binds}
    assert devices["f5"] != devices["f7"]
    assert devices["f3"] == devices["f7"]  # 0.7 + 0.3 fills one device; 0.5 of the other stays free


def test_gpu_memory_requests_share_a_device_by_memory():
    c = Cluster()
    c.nodes(1, gpus=1, gpu_memory=40000)
    c.project("a", gpu=1)
    c.job("m1", "a", gpu_memory=20000)
    c.job("m2", "a", gpu_memory=20000)
    c.job("m3", "a", gpu_memory=1)
    d = run_cycle(c.build())
    assert [(b.group.split("/")[1], b.gpu_fraction, b.gpu_memory) for b in d.binds] == [
        ("m1", 0.5, 20000), ("m2", 0.5, 20000)]
    assert "needs 1 MiB of one GPU's memory" in waiting(d, "m3")


def test_node_pools_are_tried_in_preference_order():
    c = Cluster()
    c.pool("a100")
    c.pool("v100")
    c.nodes(1, gpus=2, prefix="a", pool="a100")
    c.nodes(1, gpus=2, prefix="v", pool="v100")
    c.project("p", pools={"a100": pool_quota(2), "v100": pool_quota(2)})
    for name in ("j1", "j2", "j3"):
        c.job(name, "p", node_pools=["v100", "a100"])
    c.job("j4", "p", gpus=2, node_pools=["v100", "a100"])
    d = run_cycle(c.build())
    nodes = {b.group.split("/")[1]: b.node for b in d.binds}
    assert nodes == {"j1": "v-0", "j2": "v-0", "j3": "a-0"}
    assert waiting(d, "j4") == ("needs a node with 2 free GPUs in pool v100; the best node has 0. "
                                "Needs a node with 2 free GPUs in pool a100; the best node has 1")


def test_gang_stays_in_one_node_pool():
    c = Cluster()
    c.pool("x")
    c.pool("y")
    c.nodes(1, gpus=4, prefix="x", pool="x")
    c.nodes(1, gpus=4, prefix="y", pool="y")
    c.project("p", pools={"x": pool_quota(8), "y": pool_quota(8)})
    c.job("gang", "p", gpus=4, pods=2, node_pools=["x", "y"])  # one pod would fit in each pool
    d = run_cycle(c.build())
    assert not d.binds


def test_node_type_filtering_and_project_affinity():
    c = Cluster()
    c.nodes(1, gpus=2, prefix="dgx", node_type="dgx")
    c.nodes(1, gpus=2, prefix="t4", node_type="t4")
    c.project("p", gpu=4, train_types=["t4"])
    c.job("on-dgx", "p", node_type="dgx")  # training may not use dgx in this project
    c.job("any", "p", gpus=2)  # training without a node type: only t4 nodes
    c.job("nb", "p", priority="build", node_type="dgx")  # interactive has no affinity list here
    d = run_cycle(c.build())
    nodes = {b.group.split("/")[1]: b.node for b in d.binds}
    assert nodes == {"any": "t4-0", "nb": "dgx-0"}
    assert reason(d, "on-dgx") == "NodeTypeNotAllowed"
    assert waiting(d, "on-dgx") == ("node type dgx is not among the node types project p allows for training "
                                    "workloads (t4)")


def test_node_type_selector_without_matching_nodes():
    c = Cluster()
    c.nodes(2, gpus=2, node_type="t4")
    c.project("p", gpu=4)
    c.job("j", "p", node_type="h100")
    d = run_cycle(c.build())
    assert waiting(d, "j") == "no node in pool default is of node type h100"


def test_consolidation_moves_a_preemptible_job_to_make_room():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=8)
    c.job("x", "a", gpus=2, running_on="node-0", devices=[[0, 1]])
    c.job("y", "a", gpus=2, running_on="node-1", devices=[[0, 1]])
    c.job("big", "a", gpus=4)
    d = run_cycle(c.build())
    (move,) = d.evictions
    (bind,) = d.binds
    assert bind.group.endswith("/big") and bind.pipelined
    assert move.node == bind.node and move.moved_to not in (None, bind.node)
    assert move.action == "consolidate" and "consolidation" in move.reason


def test_consolidation_happens_only_if_every_moved_job_fits_again():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=8)
    c.job("x", "a", gpus=2, running_on="node-0", devices=[[0, 1]])
    c.job("y", "a", gpus=3, running_on="node-1", devices=[[0, 1, 2]])
    c.job("big", "a", gpus=3)  # 3 GPUs are free, but moving x or y leaves it nowhere to go
    d = run_cycle(c.build())
    assert not d.evictions and not d.binds
    assert waiting(d, "big") == "needs a node with 3 free GPUs in pool default; the best node has 2"


def test_consolidation_never_moves_non_preemptible_work():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=8)
    c.job("x", "a", gpus=2, priority="build", running_on="node-0", devices=[[0, 1]])
    c.job("y", "a", gpus=2, priority="build", running_on="node-1", devices=[[0, 1]])
    c.job("big", "a", gpus=4)
    d = run_cycle(c.build())
    assert not d.evictions and not d.binds


def test_reclaim_refused_when_the_victims_cannot_free_enough():
    # team-a is 2 GPUs above its fair share, but its only preemptible job holds 6: taking it would put team-a
    # below its quota, so nothing is evicted and team-b's job waits.
    c = Cluster()
    c.nodes(1, gpus=8)
    c.project("team-a", gpu=4)
    c.project("team-b", gpu=4)
    c.job("a6", "team-a", gpus=6, running_on="node-0")
    c.job("b1", "team-b", gpus=2, running_on="node-0")
    c.job("b2", "team-b", gpus=2)
    d = run_cycle(c.build())
    assert not d.evictions and not d.binds
    assert waiting(d, "b2") == (
        "needs a node with 2 free GPUs in pool default; the best node has 0; projects above their fair share "
        "could give back only 0 GPUs of preemptible workloads without going below it, and 0 GPUs are free: less "
        "than the 2 GPUs it needs")


def test_reclaim_is_all_or_nothing_for_a_gang():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=2)
    c.project("b", gpu=6)
    c.job("a-nb", "a", gpus=2, priority="build", running_on="node-0")
    c.job("a-t", "a", gpus=2, running_on="node-0")
    c.job("b-run", "b", gpus=2, priority="build", running_on="node-1")
    c.job("b-t", "b", gpus=2, running_on="node-1")
    c.job("b-gang", "b", gpus=4, pods=2)  # would need both nodes empty: a-nb and b-run cannot move
    d = run_cycle(c.build())
    assert not d.evictions and not d.binds


def test_pending_reason_names_the_pool_and_the_best_node():
    c = Cluster()
    c.pool("a100")
    c.nodes(2, gpus=8, prefix="a100", pool="a100")
    c.project("team-a", pools={"a100": pool_quota(16)})
    c.job("r0", "team-a", gpus=2, priority="build", running_on="a100-0", node_pools=["a100"])
    c.job("r1", "team-a", gpus=2, priority="build", running_on="a100-1", node_pools=["a100"])
    c.job("big", "team-a", gpus=8, pods=2, node_pools=["a100"])
    d = run_cycle(c.build())
    assert waiting(d, "big") == "needs 2 nodes with 8 free GPUs in pool a100; the best node has 6"


def _pa_full_of_training_and_a_notebook() -> Cluster:
    # Issue G, defect 3: two nodes x 4 GPUs, project pa deserves 4 and runs eight 1-GPU trainings (4 of them
    # over quota); a 1-GPU InteractiveWorkload of pa arrives.
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("pa", gpu=4)
    for i in range(8):
        c.job(f"t{i}", "pa", running_on=f"node-{i // 4}", devices=[[i % 4]], started=float(i))
    c.job("nb", "pa", priority="build", submitted=100.0)
    return c


def test_an_interactive_workload_over_its_projects_trainings_evicts_one_training_not_five():
    d = run_cycle(_pa_full_of_training_and_a_notebook().build())
    assert bound_groups(d) == {"nb"}
    assert evicted_groups(d) == {"t7"}  # one GPU is needed: the most recently started training gives it
    assert d.evictions[0].node == d.binds[0].node == "node-1"
    assert (d.evictions[0].action, d.evictions[0].by) == ("preempt", "runai-pa/nb")


def test_after_a_preemption_the_victims_recreated_pods_are_not_placed_again_at_once():
    c = _pa_full_of_training_and_a_notebook()
    first = run_cycle(c.build())
    # Apply the decisions as the runner and the workload controller do: the notebook runs where it was bound,
    # each victim's pod is deleted and made again, pending.
    bound = {b.pod: b for b in first.binds}
    evicted = first.evicted()
    for pod in c.snapshot.pods:
        if pod.key in bound:
            pod.node, pod.devices = bound[pod.key].node, list(bound[pod.key].devices)
            pod.started = 101.0
        elif pod.key in evicted:
            pod.node, pod.devices, pod.started = None, [], None
    second = run_cycle(c.build())
    assert not second.binds and not second.evictions
    assert reason(second, first.evictions[0].group.split("/", 1)[1]) == "NotEnoughGPUs"
