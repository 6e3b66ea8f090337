"""`/api/v1/clusters` (the one cluster this API serves), its nodes, and `/v1/k8s/clusters/{id}/node-pools`:
Run:ai's cluster, Node and NodePool shapes over the Kubernetes Nodes and Berth's NodePool objects, read as
the caller (every role reads nodes and node pools). A cluster id other than this cluster's is 404, as
for an unknown cluster in Run:ai. Node pools are written by admins only (the API server refuses others):
POST, PUT, PUT .../labels and DELETE map onto the NodePool object (`labelKey`, `labelValue`,
`placementStrategy`; `overProvisioningRatio` other than 1 is refused: Berth does not over-provision).
The translation is `berth.rest.cluster_map`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from berth import __version__
from berth.api.projects import DEFAULT_POOL, NodePoolSpec
from berth.client import Client
from berth.client import errors as client_errors
from berth.rest import ids
from berth.rest.cluster_map import cluster_answer, find_pool, node_answer, node_pool_answer, pools_by_name
from berth.rest.context import caller, rest_of
from berth.rest.errors import RestError, bad_request
from berth.rest.orgunit import translated

Obj = dict[str, Any]
router = APIRouter(tags=["Clusters"])
ANSWER: dict[str, Any] = {"response_model_exclude_none": True}


# -- models ------------------------------------------------------------------------------------------


class ClusterPlatform(BaseModel):
    type: str | None = Field(None, description="vanilla: a Kubernetes API (Berth's own or a real cluster's).")
    kubeVersion: str | None = Field(None, description="The API server's version.")


class ClusterStatus(BaseModel):
    state: str | None = Field(None, description="Connected: this API serves it.")
    platform: ClusterPlatform | None = None


class DisplayedCluster(BaseModel):
    uuid: str = Field(..., description="The cluster's id: the uid of its `runai` namespace.")
    tenantId: int = Field(..., description="Always 1: Berth has one tenant.")
    name: str
    createdAt: str | None = Field(None, description="When the `runai` namespace was created.")
    version: str | None = Field(None, description="Berth's version.")
    status: ClusterStatus | None = None


class NodeCondition(BaseModel):
    type: str
    reason: str
    message: str | None = None


class NodeTaint(BaseModel):
    key: str
    value: str | None = None
    effect: str


class GpuInfo(BaseModel):
    gpuType: str = Field(..., description="The node's nvidia.com/gpu.product label.")
    gpuCount: int = Field(..., description="Its GPU devices.")


class Node(BaseModel):
    name: str
    status: Literal["Ready", "NotReady", "Unknown"]
    nodePool: str = Field(..., description="The node pool it is in: the first, by name, whose label it has.")
    createdAt: str | None = None
    updatedAt: str | None = Field(None, description="Its latest heartbeat.")
    clusterUuid: str
    conditions: list[NodeCondition] | None = None
    taints: list[NodeTaint] | None = None
    gpuInfo: GpuInfo | None = None


class Nodes(BaseModel):
    nodes: list[Node]


class PlacementStrategy(BaseModel):
    gpu: Literal["spread", "binpack"] | None = Field(
        None, description=NodePoolSpec.model_fields["placementStrategy"].description)
    cpu: Literal["spread", "binpack"] | None = Field(None, description="Berth has one strategy for both; as gpu.")


class NodePoolLabels(BaseModel):
    labelKey: str | None = Field(None, description=NodePoolSpec.model_fields["labelKey"].description)
    labelValue: str | None = Field(None, description=NodePoolSpec.model_fields["labelValue"].description)


class NodePoolUpdate(NodePoolLabels):
    overProvisioningRatio: int | None = Field(None, description="Only 1: Berth does not over-provision.")
    placementStrategy: PlacementStrategy | None = None


class NodePoolCreate(NodePoolUpdate):
    name: str = Field(..., description="The NodePool's name.")


class NodePoolAnswer(NodePoolCreate):
    id: int = Field(..., description="A number made from the NodePool's uid; 0 for an implicit default pool.")
    clusterId: str
    createdAt: str | None = None
    updatedAt: str | None = None
    status: str | None = None
    statusMessage: str | None = None
    nodes: str | None = Field(None, description="Its nodes' names, as a JSON array in a string (Run:ai's shape).")
    isDefault: bool | None = None


# -- the cluster -------------------------------------------------------------------------------------


async def _this_cluster(request: Request, given: str) -> str:
    cluster_id = await ids.cluster_id(rest_of(request))
    if given != cluster_id:
        raise RestError(404, f"cluster {given!r} not found",
                        details=f"this cluster's id is {cluster_id} (GET /api/v1/clusters)")
    return cluster_id


async def _clusters(request: Request, client: Client, verbosity: str) -> list[Obj]:
    rest = rest_of(request)
    await client.can_i("get", "nodes")  # who is asking: an unknown token is refused (401) here
    cluster_id = await ids.cluster_id(rest)
    namespace: Obj = {}
    for name in ids.CLUSTER_NAMESPACES:  # the one the id was taken from
        with contextlib.suppress(client_errors.NotFound):
            namespace = await rest.base.get("Namespace", name)
            if namespace["metadata"]["uid"] == cluster_id:
                break
    version = (await rest.base.version()).get("gitVersion")
    return [cluster_answer(namespace, cluster_id, __version__, version, verbosity)]


VERBOSITY = Query("full", description="metadata: only uuid, tenantId, name and createdAt.")


@router.get("/api/v1/clusters", response_model=list[DisplayedCluster], **ANSWER)
async def list_clusters(request: Request, verbosity: Literal["metadata", "full"] = VERBOSITY,
                        client: Client = Depends(caller)) -> list[Obj]:
    """The cluster this API serves (one)."""
    return await _clusters(request, client, verbosity)


@router.get("/api/v1/clusters/{clusterUuid}", response_model=DisplayedCluster, **ANSWER)
async def get_cluster(request: Request, clusterUuid: str,  # noqa: N803
                      verbosity: Literal["metadata", "full"] = VERBOSITY,
                      client: Client = Depends(caller)) -> Obj:
    """This cluster, by its id."""
    await _this_cluster(request, clusterUuid)
    return (await _clusters(request, client, verbosity))[0]


@router.get("/api/v1/clusters/{clusterUuid}/nodes", response_model=Nodes, **ANSWER)
async def list_nodes(request: Request, clusterUuid: str, nodeName: str | None = None,  # noqa: N803
                     client: Client = Depends(caller)) -> Obj:
    """The cluster's nodes (or the one named), with their pool, state and GPUs."""
    cluster_id = await _this_cluster(request, clusterUuid)
    nodes, pools = await asyncio.gather(client.list("Node"), client.list("NodePool"))
    return {"nodes": [node_answer(n, pools, cluster_id) for n in nodes
                      if nodeName is None or n["metadata"]["name"] == nodeName]}


# -- node pools --------------------------------------------------------------------------------------


@router.get("/v1/k8s/clusters/{clusterId}/node-pools", response_model=list[NodePoolAnswer], **ANSWER)
async def list_node_pools(request: Request, clusterId: str,  # noqa: N803
                          client: Client = Depends(caller)) -> list[Obj]:
    """The cluster's node pools, the default pool among them, with their nodes and state."""
    cluster_id = await _this_cluster(request, clusterId)
    nodes, listed = await asyncio.gather(client.list("Node"), client.list("NodePool"))
    return [node_pool_answer(p, nodes, listed, cluster_id) for _, p in sorted(pools_by_name(listed).items())]


def _pool_spec(body: NodePoolUpdate) -> Obj:
    """The NodePool spec fields a request sets (None: remove, for a merge patch)."""
    if body.overProvisioningRatio not in (None, 1):
        raise bad_request("overProvisioningRatio", "Berth does not over-provision GPUs; only 1 is accepted",
                          "leave it out or send 1")
    strategy = body.placementStrategy
    spec: Obj = {"labelKey": body.labelKey, "labelValue": body.labelValue}
    if strategy is not None:
        if strategy.gpu and strategy.cpu and strategy.gpu != strategy.cpu:
            raise bad_request("placementStrategy.cpu", "Berth has one placement strategy for GPUs and CPUs",
                              f"send the same as placementStrategy.gpu ({strategy.gpu})")
        spec["placementStrategy"] = strategy.gpu or strategy.cpu
    return spec


async def _pool(client: Client, pool_id: str) -> Obj:
    """The NodePool whose id, uid or name is `pool_id`; the implicit default pool is an object without uid."""
    pools = pools_by_name(await client.list("NodePool"))
    name = find_pool(pools, pool_id)
    if name is None:
        raise RestError(404, f"node pool {pool_id!r} not found",
                        details="GET /v1/k8s/clusters/{clusterId}/node-pools lists the node pools and their ids")
    return pools[name]


def _new_pool(name: str, spec: Obj) -> Obj:
    return {"apiVersion": "run.ai/v1", "kind": "NodePool", "metadata": {"name": name},
            "spec": {k: v for k, v in spec.items() if v is not None}}


async def _patch_pool(request: Request, client: Client, cluster: str, pool: str, spec: Obj) -> Response:
    """Change a NodePool's spec; the implicit default pool gets its NodePool object so."""
    await _this_cluster(request, cluster)
    found = await _pool(client, pool)
    with translated():
        if found["metadata"].get("uid"):
            await client.patch("NodePool", found["metadata"]["name"], {"spec": spec})
        else:
            await client.create(_new_pool(found["metadata"]["name"], spec))
    return Response(status_code=202)


@router.post("/v1/k8s/clusters/{clusterId}/node-pools", status_code=201, response_class=Response)
async def create_node_pool(request: Request, clusterId: str, body: NodePoolCreate,  # noqa: N803
                           client: Client = Depends(caller)) -> Response:
    """Create a node pool: the nodes labelled labelKey=labelValue."""
    await _this_cluster(request, clusterId)
    with translated():
        await client.create(_new_pool(body.name, _pool_spec(body)))
    return Response(status_code=201)


@router.put("/v1/k8s/clusters/{clusterId}/node-pools/{id}", status_code=202, response_class=Response)
async def update_node_pool(request: Request, clusterId: str, id: str, body: NodePoolUpdate,  # noqa: A002,N803
                           client: Client = Depends(caller)) -> Response:
    """Replace a node pool's label and placement strategy."""
    return await _patch_pool(request, client, clusterId, id, _pool_spec(body))


@router.put("/v1/k8s/clusters/{clusterId}/node-pools/{id}/labels", status_code=202, response_class=Response)
async def update_node_pool_labels(request: Request, clusterId: str, id: str, body: NodePoolLabels,  # noqa: A002,N803
                                  client: Client = Depends(caller)) -> Response:
    """Change which nodes form a node pool."""
    return await _patch_pool(request, client, clusterId, id, {"labelKey": body.labelKey, "labelValue": body.labelValue})


@router.delete("/v1/k8s/clusters/{clusterId}/node-pools/{id}", status_code=202, response_class=Response)
async def delete_node_pool(request: Request, clusterId: str, id: str,  # noqa: A002,N803
                           client: Client = Depends(caller)) -> Response:
    """Delete a node pool; its nodes go back to the pool default."""
    await _this_cluster(request, clusterId)
    found = await _pool(client, id)
    if found["metadata"]["name"] == DEFAULT_POOL:
        raise RestError(400, "the default node pool cannot be deleted: every node no pool selects is in it",
                        details="delete the node pools that select nodes instead")
    with translated():
        await client.delete("NodePool", found["metadata"]["name"])
    return Response(status_code=202)
