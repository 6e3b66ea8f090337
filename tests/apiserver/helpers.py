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
    r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code in (201, 409), r.text


def workload(name: str, gpu: str = "1", **meta) -> dict:
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": {"name": name, **meta},
            "spec": {"gpu": {"value": gpu}, "image": {"value": "ubuntu"}}}


def pod(name: str, owner: dict | None = None, block: bool = False) -> dict:
    meta: dict = {"name": name}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                    "controller": True, "blockOwnerDeletion": block}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "main", "image": "ubuntu"}]}}
