"""MIG slices and fractions on several devices, in the pure core: where they land and why they wait."""

from __future__ import annotations

from berth.scheduler.core import Cluster, mig_node, run_cycle
from tests.scheduler.helpers import bound_groups, evicted_groups, reason, waiting

A100 = ["3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb"]  # a mixed partition of one A100-40GB (7 compute slices)


def bind_of(decisions, name: str):
    return next(b for b in decisions.binds if b.group.endswith(f"/{name}"))


def mixed_cluster() -> Cluster:
    """One node: GPU 0 whole, GPU 1 in MIG mode."""
    c = Cluster()
    c.snapshot.nodes.append(mig_node("node-0", [None, A100]))
    c.project("team", gpu=2)
    return c


def test_a_mig_slice_lands_on_an_instance_of_its_profile_on_the_mig_gpu():
    c = mixed_cluster()
    c.job("slice", "team", mig="1g.5gb")
    d = run_cycle(c.build())
    bind = bind_of(d, "slice")
    assert (bind.devices, bind.mig) == ((1,), (2,))  # GPU 1, its first 1g.5gb instance
    assert bind.gpu_fraction == 0.142  # 1 of 7 compute slices, rounded down


def test_a_whole_gpu_pod_never_lands_on_a_gpu_in_mig_mode():
    c = mixed_cluster()
    c.job("whole", "team", gpus=1)
    c.job("two", "team", gpus=2)
    d = run_cycle(c.build())
    assert bind_of(d, "whole").devices == (0,)
    assert "two" not in bound_groups(d)
    assert waiting(d, "two") == "no node has 2 GPUs (the largest has 1)"


def test_fractions_never_share_a_gpu_in_mig_mode():
    c = mixed_cluster()
    for i in range(3):
        c.job(f"half-{i}", "team", fraction=0.5)
    d = run_cycle(c.build())
    assert {bind_of(d, f"half-{i}").devices for i in range(2)} == {(0,)}
    assert waiting(d, "half-2") == "needs 0.5 of a GPU in pool default; every GPU is full"


def test_a_mig_slice_never_shares_the_gpu_of_a_whole_gpu_pod():
    c = Cluster()
    c.snapshot.nodes.append(mig_node("node-0", [None]))  # no GPU in MIG mode
    c.project("team", gpu=2)
    c.job("slice", "team", mig="1g.5gb")
    d = run_cycle(c.build())
    assert not d.binds
    assert reason(d, "slice") == "NoMigProfile"
    assert waiting(d, "slice") == "no node has a MIG slice nvidia.com/mig-1g.5gb (no GPU there is in MIG mode)"


def test_a_profile_no_node_has_is_named_with_the_profiles_there_are():
    c = mixed_cluster()
    c.job("big", "team", mig="7g.40gb")
    d = run_cycle(c.build())
    assert waiting(d, "big") == ("no node has a MIG slice nvidia.com/mig-7g.40gb (MIG slices there: "
                                 "nvidia.com/mig-1g.5gb, nvidia.com/mig-2g.10gb, nvidia.com/mig-3g.20gb)")


def test_a_slice_waits_while_every_instance_of_its_profile_is_in_use():
    c = mixed_cluster()
    c.job("a", "team", mig="1g.5gb", running_on="node-0", devices=[[1]], mig_instances=[[2]])
    c.job("b", "team", mig="1g.5gb", running_on="node-0", devices=[[1]], mig_instances=[[3]])
    c.job("c", "team", mig="1g.5gb")
    c.job("d", "team", mig="2g.10gb")  # another profile of the same GPU is still free
    d = run_cycle(c.build())
    assert bound_groups(d) == {"d"}
    assert bind_of(d, "d").mig == (1,)
    assert waiting(d, "c") == "no node has a free nvidia.com/mig-1g.5gb; all 2 are in use"


def test_two_slices_of_one_pod_take_two_instances():
    c = mixed_cluster()
    c.job("pair", "team", gpus=2, mig="1g.5gb")
    d = run_cycle(c.build())
    assert (bind_of(d, "pair").devices, bind_of(d, "pair").mig) == ((1, 1), (2, 3))


def test_a_mig_slice_counts_its_share_of_compute_slices_against_quota():
    c = Cluster()
    c.snapshot.nodes.append(mig_node("node-0", [A100]))
    c.project("team", gpu=0.5, max_gpu=0.5)
    c.job("three", "team", mig="3g.20gb")  # 3/7 = 0.428 GPU
    c.job("one", "team", mig="1g.5gb")  # 0.142 more passes 0.5
    d = run_cycle(c.build())
    assert bound_groups(d) == {"three"}
    assert "may use at most 0.5 GPU" in waiting(d, "one")


def test_a_higher_priority_slice_preempts_a_training_on_the_same_profile_only():
    c = Cluster()
    c.snapshot.nodes.append(mig_node("node-0", [None, ["1g.5gb"]]))
    c.project("team", gpu=2)
    c.job("whole", "team", gpus=1, running_on="node-0", devices=[[0]])
    c.job("train", "team", mig="1g.5gb", running_on="node-0", devices=[[1]], mig_instances=[[0]])
    c.job("nb", "team", mig="1g.5gb", priority="build")
    d = run_cycle(c.build())
    assert evicted_groups(d) == {"train"}  # the whole-GPU training frees no slice, so it stays
    assert bind_of(d, "nb").mig == (0,)


def test_two_halves_land_on_two_distinct_gpus_of_one_node():
    c = Cluster()
    c.nodes(1, gpus=1, prefix="small")
    c.nodes(1, gpus=4, prefix="big")
    c.project("team", gpu=4)
    c.job("pair", "team", fraction=0.5, num_devices=2)
    d = run_cycle(c.build())
    bind = bind_of(d, "pair")
    assert bind.node == "big-0" and len(set(bind.devices)) == 2 and bind.gpu_fraction == 0.5


def test_several_device_shares_binpack_onto_partly_used_gpus():
    c = Cluster()
    c.nodes(1, gpus=4)
    c.project("team", gpu=4)
    c.job("a", "team", fraction=0.5, running_on="node-0", devices=[[2]])
    c.job("b", "team", fraction=0.5, running_on="node-0", devices=[[3]])
    c.job("pair", "team", fraction=0.5, num_devices=2)
    d = run_cycle(c.build())
    assert bind_of(d, "pair").devices == (2, 3)  # whole GPUs 0 and 1 stay free


def test_a_running_several_device_share_holds_every_device_it_took():
    c = Cluster()
    c.nodes(1, gpus=2)
    c.project("team", gpu=2)
    c.job("pair", "team", fraction=0.6, num_devices=2, running_on="node-0", devices=[[0, 1]])
    c.job("half", "team", fraction=0.5)
    d = run_cycle(c.build())
    assert waiting(d, "half") == "needs 0.5 of a GPU in pool default; the most free on any GPU is 0.4"


def test_more_devices_than_a_node_has_says_so():
    c = Cluster()
    c.nodes(2, gpus=2)
    c.project("team", gpu=4)
    c.job("three", "team", fraction=0.5, num_devices=3)
    c.job("a", "team", fraction=0.7, running_on="node-0", devices=[[0]], priority="build")  # not to be moved
    c.job("b", "team", fraction=0.7, running_on="node-1", devices=[[1]], priority="build")
    c.job("pair", "team", fraction=0.5, num_devices=2)
    d = run_cycle(c.build())
    assert waiting(d, "three") == "no node has 3 GPUs (the largest has 2)"
    assert waiting(d, "pair") == ("needs 2 GPUs with 0.5 of a GPU free on each in pool default; the most on one "
                                  "node is 1")


def test_fraction_devices_without_a_fraction_is_refused():
    c = Cluster()
    c.nodes(1, gpus=2)
    c.project("team", gpu=2)
    c.job("odd", "team", gpus=1, num_devices=2)
    d = run_cycle(c.build())
    assert reason(d, "odd") == "InvalidRequest"
    assert "gpu-fraction-num-devices (2) without gpu-fraction or gpu-memory" in waiting(d, "odd")


def test_a_whole_gpu_in_a_pool_of_mig_gpus_is_told_to_ask_for_a_slice():
    c = Cluster()
    c.snapshot.nodes.append(mig_node("node-0", [A100, ["7g.40gb"]]))
    c.project("team", gpu=2)
    c.job("whole", "team", gpus=1)
    c.job("half", "team", fraction=0.5)
    d = run_cycle(c.build())
    expected = "every GPU is in MIG mode and offers only MIG slices; ask for one with migProfile"
    assert waiting(d, "whole") == waiting(d, "half") == expected
