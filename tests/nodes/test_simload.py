"""Offered load on simulated nodes: each Running replica of a workload reports an even share of the load
its workload is offered."""

from __future__ import annotations

import json

from berth.nodes.simload import offered, shares


def pod(name: str, workload: str = "model", load: object = None, phase: str = "Running",
        namespace: str = "runai-a") -> dict:
    annotations = {} if load is None else {"berth.dev/sim-load": load if isinstance(load, str) else json.dumps(load)}
    return {"metadata": {"name": name, "namespace": namespace, "labels": {"run.ai/workload-name": workload},
                         "annotations": annotations}, "status": {"phase": phase}}


def test_the_offered_load_is_shared_among_the_running_replicas_and_latency_is_not():
    load = {"concurrency": 12, "throughput": 40, "latency": 250}
    pods = [pod("model-0", load=load), pod("model-1", load=load), pod("model-2", load=load, phase="Pending"),
            pod("other-0", workload="other", load={"concurrency": 1}), pod("plain-0", workload="plain")]
    assert shares(pods) == {
        ("runai-a", "model-0"): {"concurrency": 6.0, "throughput": 20.0, "latency": 250.0},
        ("runai-a", "model-1"): {"concurrency": 6.0, "throughput": 20.0, "latency": 250.0},
        ("runai-a", "other-0"): {"concurrency": 1.0},
    }


def test_a_load_that_is_not_an_object_of_numbers_is_ignored():
    assert offered(pod("a", load="12")) is None
    assert offered(pod("a", load="{concurrency: 12}")) is None
    assert offered(pod("a", load={"concurrency": "12"})) is None
    assert offered(pod("a", load={"concurrency": True})) is None
    assert shares([pod("a", load="oops")]) == {}
