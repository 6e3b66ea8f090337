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
