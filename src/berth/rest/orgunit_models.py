"""Request and response bodies of `/api/v1/org-unit` (projects, departments), in Run:ai's 2.18 shapes.

Field names and nesting are Run:ai's (ProjectCreationRequest, Project, Resources, DepartmentSlim, ...), so
a client written against Run:ai's document works unchanged; where a field is the same as a Berth field
(`berth.api.projects`) its description is that field's, so the two cannot drift. The translation to and
from the Project and Department objects is `berth.rest.orgunit_map`; these models only say the shapes.
Unknown request fields are ignored, as Run:ai's API does; values Berth cannot honour are refused by the
translation with the field named.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, FiniteFloat

from berth.api.projects import ProjectSpec, ProjectStatus, ResourceQuota


def _said(model: type[BaseModel], name: str, more: str = "") -> str:
    """The description of a Berth field, the one source of what it means."""
    return (model.model_fields[name].description or "") + more


class NodePoolRef(BaseModel):
    """The node pool a quota is for: by id (see GET /v1/k8s/clusters/{clusterId}/node-pools) or name."""

    id: str | None = Field(None, description="The node pool's id (or its name). None with name: the pool named.")
    name: str | None = Field(None, description="The node pool's name.")


class GpuResource(BaseModel):
    deserved: FiniteFloat = Field(..., description=_said(ResourceQuota, "deserved"))
    limit: FiniteFloat | None = Field(None, description=_said(ResourceQuota, "maxAllowed"))
    overQuotaWeight: FiniteFloat | None = Field(None, description=_said(ResourceQuota, "overQuotaWeight"))


class CpuResource(BaseModel):
    deserved: FiniteFloat | None = Field(None, description="Guaranteed CPU in millicores (2000 = 2 cores).")
    limit: FiniteFloat | None = Field(None, description="Most CPU the project may use, in millicores; -1: no limit.")
    overQuotaWeight: FiniteFloat | None = Field(None, description=_said(ResourceQuota, "overQuotaWeight"))


class MemoryResource(BaseModel):
    deserved: FiniteFloat | None = Field(None, description="Guaranteed CPU memory, in `units`.")
    limit: FiniteFloat | None = Field(None, description="Most CPU memory it may use, in `units`; -1: no limit.")
    overQuotaWeight: FiniteFloat | None = Field(None, description=_said(ResourceQuota, "overQuotaWeight"))
    units: Literal["Mib", "MB", "GB"] = Field(
        "Mib", description="Unit of deserved and limit: Mib (MiB, Berth's unit), MB or GB. Answers use Mib.")


class Resources(BaseModel):
    """A quota in one node pool."""

    nodePool: NodePoolRef | None = Field(None, description="The node pool; None: the pool default.")
    gpu: GpuResource = Field(..., description="GPU quota in the pool, in GPUs.")
    cpu: CpuResource | None = Field(None, description="CPU quota in the pool, in millicores.")
    memory: MemoryResource | None = Field(None, description="CPU memory quota in the pool.")


class SchedulingRules(BaseModel):
    interactiveJobTimeLimitSeconds: int | None = Field(
        None, ge=1, description=_said(ProjectSpec, "interactiveJobTimeLimitSecs"))
    trainingJobTimeLimitSeconds: int | None = Field(
        None, ge=1, description=_said(ProjectSpec, "trainingJobTimeLimitSecs"))
    interactiveJobMaxIdleDurationSeconds: int | None = Field(None, ge=1, description="Not supported by Berth.")
    interactiveJobPreemptIdleDurationSeconds: int | None = Field(None, ge=1, description="Not supported by Berth.")
    trainingJobMaxIdleDurationSeconds: int | None = Field(None, ge=1, description="Not supported by Berth.")


class NodeTypes(BaseModel):
    training: list[str] | None = Field(None, description=_said(ProjectSpec, "nodeAffinityTrain"))
    workspace: list[str] | None = Field(None, description=_said(ProjectSpec, "nodeAffinityInteractive"))


class ProjectUpdateRequest(BaseModel):
    schedulingRules: SchedulingRules | None = Field(None, description="Time limits of the project's workloads.")
    defaultNodePools: list[str] | None = Field(None, description=_said(ProjectSpec, "defaultNodePools"))
    nodeTypes: NodeTypes | None = Field(None, description="Node types per kind of workload.")
    resources: list[Resources] = Field(..., description="The quota per node pool.")


class ProjectCreationRequest(ProjectUpdateRequest):
    name: str = Field(..., description="The project's name (a DNS label); its namespace is runai-<name>.")
    clusterId: str = Field(..., description="The cluster's id (GET /api/v1/clusters).")
    requestedNamespace: str | None = Field(None, description=_said(ProjectSpec, "namespace"))
    parentId: str | None = Field(None, description="The department's id (or name). " + _said(ProjectSpec, "department"))


class QuotaStatusResource(BaseModel):
    gpu: float | None = Field(None, description="GPUs.")
    cpu: float | None = Field(None, description="CPU in millicores.")
    memory: float | None = Field(None, description="CPU memory in MB (10^6 bytes).")


class QuotaStatus(BaseModel):
    allocated: QuotaStatusResource | None = Field(None, description=_said(ProjectStatus, "allocated"))
    requested: QuotaStatusResource | None = Field(None, description=_said(ProjectStatus, "requested"))


class QuotaStatusNodePool(QuotaStatus):
    nodePoolName: str | None = Field(None, description="The node pool.")
    nodePoolId: str | None = Field(None, description="The node pool's id.")


class ProjectStatusBody(BaseModel):
    namespace: str | None = Field(None, description=_said(ProjectStatus, "namespace"))
    phase: str | None = Field(None, description=_said(ProjectStatus, "phase"))
    phaseMessage: str | None = Field(None, description=_said(ProjectStatus, "message"))
    nodePoolQuotaStatuses: list[QuotaStatusNodePool] | None = Field(None, description="Usage per node pool.")
    quotaStatus: QuotaStatus | None = Field(None, description="Usage over all node pools.")


class Parent(BaseModel):
    id: str | None = Field(None, description="The department's id (absent when no Department object exists).")
    name: str | None = Field(None, description="The department's name.")


class Project(BaseModel):
    id: str = Field(..., description="The Project object's uid.")
    name: str
    clusterId: str
    parentId: str | None = Field(None, description="The department's id.")
    parent: Parent | None = Field(None, description="The department.")
    requestedNamespace: str | None = Field(None, description=_said(ProjectSpec, "namespace"))
    schedulingRules: SchedulingRules | None = None
    defaultNodePools: list[str] | None = Field(None, description=_said(ProjectSpec, "defaultNodePools"))
    nodeTypes: NodeTypes | None = None
    resources: list[Resources] = Field(default_factory=list, description="The quota per node pool.")
    status: ProjectStatusBody = Field(default_factory=ProjectStatusBody)
    phase: str | None = Field(None, description=_said(ProjectStatus, "phase"))
    createdAt: str | None = Field(None, description="When the Project object was created.")
    updatedAt: str | None = Field(None, description="When the Project object was last written.")


class ProjectList(BaseModel):
    projects: list[Project]
    next: int | None = Field(None, description="The offset of the next page; absent on the last page.")


class DepartmentUpdateRequest(BaseModel):
    resources: list[Resources] = Field(..., description="The quota per node pool.")


class DepartmentCreationRequest(DepartmentUpdateRequest):
    name: str = Field(..., description="The department's name.")
    clusterId: str = Field(..., description="The cluster's id (GET /api/v1/clusters).")


class Child(BaseModel):
    id: str | None = Field(None, description="The project's id.")
    name: str | None = None


class DepartmentStatusBody(BaseModel):
    nodePoolQuotaStatuses: list[QuotaStatusNodePool] | None = None
    quotaStatus: QuotaStatus | None = None


class DepartmentSlim(BaseModel):
    id: str = Field(..., description="The Department object's uid.")
    name: str
    clusterId: str
    resources: list[Resources] = Field(default_factory=list, description="The quota per node pool.")
    createdAt: str | None = None
    updatedAt: str | None = None


class Department(DepartmentSlim):
    children: list[Child] | None = Field(None, description="The department's projects.")
    projectsAggregatedResources: list[Resources] | None = Field(
        None, description="The sum of its projects' quotas per node pool.")
    status: DepartmentStatusBody | None = None


class DepartmentList(BaseModel):
    departments: list[DepartmentSlim]
    next: int | None = Field(None, description="The offset of the next page; absent on the last page.")
