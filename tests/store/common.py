"""What the store tests share: resource refs and a small object shaped like what the API server stores."""

from __future__ import annotations

from berth.store import ResourceRef

WORKLOADS = ResourceRef("run.ai", "trainingworkloads")
PODS = ResourceRef("", "pods")
NODES = ResourceRef("", "nodes")  # cluster-scoped: namespace ""


def workload(name: str, namespace: str = "team-a", **labels: str) -> dict:
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"gpu": {"value": "1"}}}
