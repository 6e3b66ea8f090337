"""HTTP access to a test cluster with the admin token, for tests that speak the API directly."""

from __future__ import annotations

import ssl

import httpx

from tests.cluster import Cluster

TW = "/apis/run.ai/v2alpha1/namespaces/{ns}/trainingworkloads"
PODS = "/api/v1/namespaces/{ns}/pods"


def client(cluster: Cluster, **kw) -> httpx.Client:
    return httpx.Client(base_url=cluster.url, verify=ssl.create_default_context(cafile=str(cluster.ca)),
                        headers={"Authorization": f"Bearer {cluster.token}"}, **kw)


def namespace(http: httpx.Client, name: str) -> None:
    """The namespace `name`, given to a project of the same name (without `runai-`), so that workloads are
    admitted in it."""
    project = name.removeprefix("runai-")
    r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": name, "labels": {"runai/queue": project}}})
    assert r.status_code in (201, 409), r.text
    spec = {} if name == f"runai-{project}" else {"namespace": name}
    r = http.post("/apis/run.ai/v1/projects", json={"apiVersion": "run.ai/v1", "kind": "Project",
                                                    "metadata": {"name": project}, "spec": spec})
    assert r.status_code in (201, 409), r.text


def workload(name: str, gpu: str = "1", suspended: bool = False, **meta) -> dict:
    """A training workload; a `suspended` one (active: false) has no pods, so its gpu may be edited."""
    spec: dict = {"gpu": {"value": gpu}, "image": {"value": "ubuntu"}}
    if suspended:
        spec["active"] = {"value": False}
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": {"name": name, **meta},
            "spec": spec}


def pod(name: str, owner: dict | None = None, block: bool = False) -> dict:
    meta: dict = {"name": name}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                    "controller": True, "blockOwnerDeletion": block}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "main", "image": "ubuntu"}]}}


def place(http: httpx.Client, namespace: str, name: str, statuses: list[dict] | None = None) -> None:
    """Bind a pod to node-1 and, when given, report its container statuses, as the scheduler and a node
    agent would (the kubelet serves a container's log once it has started)."""
    bound = http.post(f"{PODS.format(ns=namespace)}/{name}/binding",
                      json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                            "target": {"kind": "Node", "name": "node-1"}})
    assert bound.status_code == 201, bound.text
    if statuses is not None:
        report(http, namespace, name, statuses)


def report(http: httpx.Client, namespace: str, name: str, statuses: list[dict]) -> None:
    """Write a pod's container statuses, as its node agent would."""
    current = http.get(f"{PODS.format(ns=namespace)}/{name}").json()
    current["status"] = {"phase": "Pending", "containerStatuses": statuses}
    assert http.put(f"{PODS.format(ns=namespace)}/{name}/status", json=current).status_code == 200


def running(container: str = "main") -> dict:
    """A container status of a container that has started."""
    return {"name": container, "ready": True, "restartCount": 0, "image": "ubuntu", "imageID": "",
            "state": {"running": {"startedAt": "2026-01-02T15:04:05Z"}}}
