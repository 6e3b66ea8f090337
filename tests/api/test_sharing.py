"""The GPU-sharing contract (`berth.api.sharing`): names that fit, and what a reservation pod's line may say."""

from __future__ import annotations

from berth.api import sharing


def test_a_reservation_pod_name_is_a_dns_label_even_for_a_long_node_name():
    assert sharing.reservation_name("node-1", 3) == "gpu-reservation-node-1-3"
    long = sharing.reservation_name("a" * 60 + ".example.internal", 7)
    assert len(long) <= 63 and long.endswith("-7")
    assert long != sharing.reservation_name("a" * 60 + ".example.other", 7)  # hashed apart


def test_the_line_a_reservation_pod_prints_is_read_only_when_it_names_gpus():
    assert sharing.gpu_identity("GPU-8f6b1c2e-1d2a-4c3b-9a7e-0f1e2d3c4b5a\n") == "GPU-8f6b1c2e-1d2a-4c3b-9a7e-0f1e2d3c4b5a"
    assert sharing.gpu_identity("0") == "0"
    assert sharing.gpu_identity("GPU-a1, GPU-b2") == "GPU-a1,GPU-b2"
    assert sharing.gpu_identity("MIG-4f1e2d3c-aaaa-bbbb-cccc-0123456789ab") is not None
    assert sharing.gpu_identity("berth: cannot start 'berth': Permission denied") is None
    assert sharing.gpu_identity("") is None


def test_the_configmap_says_the_gpu_and_the_share():
    assert sharing.shared_gpu_data("GPU-a1", 0.25, 20480) == {
        "NVIDIA_VISIBLE_DEVICES": "GPU-a1", "GPU_PORTION": "0.25", "GPU_MEMORY_LIMIT_MIB": "20480"}
    assert sharing.env_from("p-0-0") == {"configMapRef": {"name": "p-0-0-shared-gpu", "optional": True}}


def test_a_reservation_pod_asks_one_whole_gpu_on_its_node_and_no_scheduler():
    pod = sharing.reservation_pod("n1", 2, "registry/berth:1")
    assert pod["spec"]["nodeName"] == "n1" and pod["spec"]["schedulerName"] == sharing.RESERVATION_SCHEDULER
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["spec"]["containers"][0]["command"] == ["berth", "gpu-reservation"]
    assert pod["metadata"]["namespace"] == "runai-reservation"


def test_the_reservation_pod_validates_strictly_against_the_kubernetes_schema():
    import kubernetes_validate

    kubernetes_validate.validate(sharing.reservation_pod("n1", 0, "berth:1"), "1.37.0", strict=True)
