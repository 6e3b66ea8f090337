"""Run:ai's /api/v1/clusters, its nodes and /v1/k8s/clusters/{id}/node-pools on a real `berth up`: the one
cluster, nodes registered as Berth's node agents register them (with GPUs, in node pools by label), node
pools read and written by an admin only, answers in Run:ai's 2.18 schemas."""

from __future__ import annotations

import asyncio
import json

import pytest

from berth.client import Client
from berth.nodes.node import Gpu, NodeSpec, register
from tests.cluster import Cluster
from tests.rest.conftest import add_user, rest
from tests.rest.org import cluster_id
from tests.rest.runai import conforms

pytestmark = pytest.mark.usefixtures("bare_module_cluster")


@pytest.fixture(scope="module")
def nodes(bare_module_cluster: Cluster) -> Cluster:
    """Two A100 nodes (pool a100 by the label gpu-type=A100) and a CPU node (pool default)."""
    bare_module_cluster.kubectl("apply", "-f", "examples/projects/nodepool-a100.yaml")
    a100 = tuple(Gpu(i, "NVIDIA-A100-SXM4-80GB") for i in range(4))

    async def up() -> None:
        async with Client.from_kubeconfig(bare_module_cluster.kubeconfig) as client:
            for spec in (NodeSpec("gpu-0", gpus=a100, labels={"gpu-type": "A100"}, simulated=True),
                         NodeSpec("gpu-1", gpus=a100, labels={"gpu-type": "A100"}, simulated=True),
                         NodeSpec("cpu-0", simulated=True)):
                await register(client, spec)

    asyncio.run(up())
    return bare_module_cluster


def test_the_cluster_is_listed_with_its_id(bare_module_cluster: Cluster) -> None:
    uid = cluster_id(bare_module_cluster)
    with rest(bare_module_cluster) as http:
        listed = http.get("/api/v1/clusters")
        one = http.get(f"/api/v1/clusters/{uid}")
        slim = http.get("/api/v1/clusters", params={"verbosity": "metadata"})
        other = http.get("/api/v1/clusters/5f3c2a8e-0000-4000-8000-000000000000")
    with rest(bare_module_cluster, "") as anonymous:
        refused = anonymous.get("/api/v1/clusters")
    conforms(listed.json(), "get", "/api/v1/clusters", 200)
    conforms(one.json(), "get", "/api/v1/clusters/{clusterUuid}", 200)
    conforms(slim.json(), "get", "/api/v1/clusters", 200)
    assert [c["uuid"] for c in listed.json()] == [uid] and one.json()["uuid"] == uid
    assert one.json()["status"]["state"] == "Connected"
    assert set(slim.json()[0]) == {"uuid", "tenantId", "name", "createdAt"}
    assert other.status_code == 404 and uid in other.json()["details"]
    assert refused.status_code == 401


def test_nodes_carry_their_pool_and_gpus(nodes: Cluster) -> None:
    uid = cluster_id(nodes)
    with rest(nodes) as http:
        listed = http.get(f"/api/v1/clusters/{uid}/nodes")
        one = http.get(f"/api/v1/clusters/{uid}/nodes", params={"nodeName": "gpu-1"})
    assert listed.status_code == 200, listed.text
    conforms(listed.json(), "get", "/api/v1/clusters/{clusterUuid}/nodes", 200)
    by_name = {n["name"]: n for n in listed.json()["nodes"]}
    assert by_name["gpu-0"]["nodePool"] == "a100" and by_name["cpu-0"]["nodePool"] == "default"
    assert by_name["gpu-0"]["gpuInfo"] == {"gpuType": "NVIDIA-A100-SXM4-80GB", "gpuCount": 4}
    assert "gpuInfo" not in by_name["cpu-0"]
    assert by_name["gpu-0"]["status"] == "Ready" and by_name["gpu-0"]["clusterUuid"] == uid
    assert [n["name"] for n in one.json()["nodes"]] == ["gpu-1"]


def test_node_pools_list_their_nodes(nodes: Cluster) -> None:
    uid = cluster_id(nodes)
    with rest(nodes) as http:
        listed = http.get(f"/v1/k8s/clusters/{uid}/node-pools")
    assert listed.status_code == 200, listed.text
    conforms(listed.json(), "get", "/v1/k8s/clusters/{clusterId}/node-pools", 200)
    pools = {p["name"]: p for p in listed.json()}
    assert json.loads(pools["a100"]["nodes"]) == ["gpu-0", "gpu-1"]
    assert (pools["a100"]["labelKey"], pools["a100"]["labelValue"]) == ("gpu-type", "A100")
    assert pools["a100"]["status"] == "Ready" and not pools["a100"]["isDefault"]
    assert pools["a100"]["placementStrategy"] == {"gpu": "binpack", "cpu": "binpack"}
    assert "cpu-0" in json.loads(pools["default"]["nodes"]) and pools["default"]["isDefault"]


def test_an_admin_writes_node_pools_and_a_researcher_may_not(nodes: Cluster) -> None:
    uid = cluster_id(nodes)
    base = f"/v1/k8s/clusters/{uid}/node-pools"
    nodes.project("ned-p")
    token = add_user(nodes, "ned", "researcher", "ned-p")
    with rest(nodes, token) as http:
        refused = http.post(base, json={"name": "t4", "labelKey": "gpu-type", "labelValue": "T4"})
    with rest(nodes) as http:
        bad = http.post(base, json={"name": "t4", "labelKey": "gpu-type", "labelValue": "T4",
                                    "overProvisioningRatio": 2})
        created = http.post(base, json={"name": "t4", "labelKey": "gpu-type", "labelValue": "T4",
                                        "placementStrategy": {"gpu": "spread"}})
        assert created.status_code == 201, created.text
        spec = json.loads(nodes.kubectl("get", "nodepool", "t4", "-o", "json").stdout)["spec"]
        assert spec == {"labelKey": "gpu-type", "labelValue": "T4", "placementStrategy": "spread"}
        pool_id = next(p["id"] for p in http.get(base).json() if p["name"] == "t4")
        relabelled = http.put(f"{base}/{pool_id}/labels", json={"labelKey": "gpu-type", "labelValue": "A100"})
        assert relabelled.status_code == 202, relabelled.text
        t4 = next(p for p in http.get(base).json() if p["name"] == "t4")
        assert json.loads(t4["nodes"]) == []  # both pools select the A100 nodes: a100 wins, first by name
        gone = http.delete(f"{base}/{pool_id}")
    assert refused.status_code == 403 and 'User "ned" cannot create' in refused.json()["message"]
    assert bad.status_code == 400 and bad.json()["complianceIssues"][0]["field"] == "overProvisioningRatio"
    assert gone.status_code == 202
    assert nodes.kubectl("get", "nodepool", "t4", check=False).returncode != 0


def test_the_default_pool_is_id_0_and_changing_it_makes_its_node_pool(nodes: Cluster) -> None:
    base = f"/v1/k8s/clusters/{cluster_id(nodes)}/node-pools"
    assert nodes.kubectl("get", "nodepool", "default", check=False).returncode != 0
    with rest(nodes) as http:
        changed = http.put(f"{base}/0", json={"placementStrategy": {"gpu": "spread", "cpu": "spread"}})
        listed = {p["name"]: p for p in http.get(base).json()}
        kept = http.delete(f"{base}/0")
    assert changed.status_code == 202, changed.text
    spec = json.loads(nodes.kubectl("get", "nodepool", "default", "-o", "json").stdout)["spec"]
    assert spec == {"placementStrategy": "spread"}
    assert listed["default"]["id"] == 0 and listed["default"]["placementStrategy"]["gpu"] == "spread"
    assert kept.status_code == 400
