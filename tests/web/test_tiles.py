"""The nodes page's tiles (`berth.web.app.node_tiles`, pure): each device and the share each pod holds of
it, read as the scheduler reads them (`berth.api.usage`): a whole GPU, a fraction, GPU memory, a MIG slice;
a pod the viewer may not see is shown without its name."""

from __future__ import annotations

import json

from berth.web.app import node_tiles


def node(name: str, gpus: list[dict]) -> dict:
    return {"metadata": {"name": name, "annotations": {"run.ai/gpus": json.dumps(gpus)}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, namespace: str, node_name: str, devices: str, *, gpus: int = 0, annotations: dict | None = None,
        limits: dict | None = None) -> dict:
    resources = {"limits": {**({"nvidia.com/gpu": str(gpus)} if gpus else {}), **(limits or {})}}
    return {"metadata": {"name": name, "namespace": namespace,
                         "annotations": {"run.ai/gpu-devices": devices, **(annotations or {})}},
            "spec": {"nodeName": node_name, "containers": [{"name": "main", "resources": resources}]},
            "status": {"phase": "Running"}}


def test_each_share_of_a_gpu_is_named_as_the_scheduler_counts_it():
    nodes = [node("a", [{"index": 0, "memoryMiB": 81920}, {"index": 1, "memoryMiB": 81920},
                        {"index": 2, "memoryMiB": 81920, "mig": ["3g.40gb", "1g.10gb"], "migSlices": 7}])]
    pods = [pod("whole", "runai-x", "a", "0", gpus=1),
            pod("half", "runai-x", "a", "1", annotations={"gpu-fraction": "0.5"}),
            pod("mem", "runai-y", "a", "1", annotations={"gpu-memory": "20480"}),
            pod("slice", "runai-x", "a", "2:1", limits={"nvidia.com/mig-1g.10gb": "1"})]
    [tiles] = node_tiles(nodes, pods, seen={"runai-x"})
    held = {g["index"]: [(o["pod"], o["share"], o["milli"]) for o in g["occupants"]] for g in tiles["gpus"]}
    assert held[0] == [("whole", "whole GPU", 1000)]
    assert held[1] == [("half", "0.5 GPU", 500), ("", "20480 MiB", 250)]  # runai-y's is not named
    assert held[2] == [("slice", "MIG 1g.10gb", 142)]  # one slice of seven, as the scheduler counts it
    assert tiles["gpus"][2]["mig"] == ["3g.40gb", "1g.10gb"]


def test_finished_pods_hold_nothing():
    done = pod("done", "runai-x", "a", "0", gpus=1)
    done["status"]["phase"] = "Succeeded"
    [tiles] = node_tiles([node("a", [{"index": 0, "memoryMiB": 81920}])], [done])
    assert tiles["gpus"][0]["occupants"] == []
