"""The one reading of pods, nodes and pool membership that the scheduler and the usage controller share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from berth.api.usage import PodRequest, PoolSelector, memory_milli, node_gpus, pod_request, pool_of_node


def test_a_node_in_two_pools_is_in_the_first_by_name_whatever_the_order():
    pools = [PoolSelector("zeta", "gpu", "a100"), PoolSelector("alpha", "zone", "east"), PoolSelector("default")]
    labels = {"gpu": "a100", "zone": "east"}
    assert pool_of_node(labels, pools) == pool_of_node(labels, reversed(pools)) == "alpha"
    assert pool_of_node({"gpu": "h100"}, pools) == "default"


def test_a_pod_request_reads_containers_and_gpu_share_annotations():
    pod = {"metadata": {"annotations": {"gpu-memory": "20480"}},
           "spec": {"containers": [{"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                                   {"resources": {"limits": {"cpu": "1", "memory": "512Mi", "nvidia.com/gpu": "2"}}}]}}
    asks = pod_request(pod)
    assert asks == PodRequest(gpus=2, gpu_memory=20480, cpu=1500, memory=1536)
    assert asks.gpu_milli(81920) == 2250
    assert pod_request({"metadata": {"annotations": {"gpu-fraction": "half"}}}) == PodRequest()


def test_a_node_without_the_gpus_annotation_has_80_gib_devices():
    assert node_gpus({"status": {"allocatable": {"nvidia.com/gpu": "2"}}}) == [(0, 81920), (1, 81920)]


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_a_gpu_memory_share_is_rounded_up_and_fits_only_when_the_memory_does(asked: int, device: int):
    milli = memory_milli(asked, device)
    assert milli * device >= asked * 1000 > (milli - 1) * device
    assert (milli <= 1000) == (asked <= device)


def test_mig_slices_and_shares_of_several_devices_are_read_from_the_pod():
    from berth.api.usage import devices_value, node_devices, pod_devices, pod_mig_instances
    pod = {"metadata": {"annotations": {"run.ai/gpu-devices": "1:2,1:3"}},
           "spec": {"containers": [{"resources": {"limits": {"nvidia.com/mig-1g.5gb": "2"}}},
                                   {"resources": {"requests": {"nvidia.com/mig-1g.5gb": "1", "nvidia.com/mig-x": "1"}}}]}}
    asks = pod_request(pod)
    assert asks.mig == (("1g.5gb", 3),) and asks.gpus == 0
    assert asks.gpu_milli() == 3 * 142 and asks.gpu_milli(mig_slices=4) == 3 * 250
    assert (pod_devices(pod), pod_mig_instances(pod)) == ([1, 1], [2, 3])
    assert devices_value([1, 1], [2, 3]) == "1:2,1:3" and devices_value([0, 2]) == "0,2"
    pair = pod_request({"metadata": {"annotations": {"gpu-fraction": "0.5", "gpu-fraction-num-devices": "2"}}})
    assert (pair.gpu_devices, pair.gpu_milli()) == (2, 1000)
    node = {"metadata": {"annotations": {"run.ai/gpus": '[{"index": 0, "mig": ["7g.40gb"], "migSlices": 7}, '
                                                        '{"index": 1}]'}}}
    assert [(d.index, d.mig) for d in node_devices(node)] == [(0, ("7g.40gb",)), (1, None)]
    assert node_gpus(node) == [(0, 81920), (1, 81920)]
