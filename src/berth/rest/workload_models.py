"""Response bodies of the workload read paths, as pydantic models in Run:ai's 2.18 shapes (`Workload`,
`Pod`, `Event`, `HistoryRecord` and what they hold), so that FastAPI's OpenAPI document describes what is
served. Field names and required fields are Run:ai's; descriptions say what Berth puts there.

`Sparse` leaves out of the JSON every field that is None, except those its `_nullable` names: Run:ai's
schemas require some fields that may be null (`deletedAt`) and make others optional but never null
(`phaseMessage`), and both must hold for an answer to validate against them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer


class Sparse(BaseModel):
    """A response body that omits None fields but those in `_nullable`."""

    _nullable: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None or k in self._nullable}


Phase = Literal["Creating", "Initializing", "Resuming", "Pending", "Deleting", "Running", "Updating", "Stopped",
                "Stopping", "Degraded", "Failed", "Completed", "Terminating", "Unknown"]
GpuRequestType = Literal["portion", "memory", "migProfile"]


class Cores(Sparse):
    request: float | None = Field(None, description="Asked for.")
    limit: float | None = Field(None, description="The most that may be used.")


class Quantity(Sparse):
    request: str | None = Field(None, description="Asked for, as a quantity (\"4Gi\").")
    limit: str | None = Field(None, description="The most that may be used, as a quantity.")


class RequestedResources(Sparse):
    """What a workload's pods ask for (all of them, or one)."""

    gpuRequestType: GpuRequestType | None = Field(None, description="How GPUs are asked for.")
    gpu: Cores | None = Field(None, description="GPUs: whole devices, or a portion of one.")
    gpuMemory: Quantity | None = Field(None, description="GPU memory per device, when asked for by memory.")
    cpu: Cores | None = Field(None, description="CPU cores.")
    cpuMemory: Quantity | None = Field(None, description="CPU memory.")
    migProfile: list[str] | None = Field(None, description="MIG slices, one per pod.")


class PodRequestedResources(RequestedResources):
    migProfile: str | None = Field(None, description="The pod's MIG slice.")  # type: ignore[assignment]


class AllocatedResources(Sparse):
    gpu: float | None = Field(None, description="GPUs held now (status.allocatedGpus).")
    cpu: float | None = Field(None, description="CPU cores held by the placed pods.")
    cpuMemory: str | None = Field(None, description="CPU memory held by the placed pods.")


class Condition(Sparse):
    _nullable = frozenset({"lastTransitionTime"})
    type: str
    status: str
    message: str | None = None
    reason: str | None = None
    lastTransitionTime: str | None = None


class RequestedPods(Sparse):
    number: int | None = Field(None, description="Pods the workload runs at once.")
    min: int | None = Field(None, description="Fewest pods (elastic distributed, inference).")
    max: int | None = Field(None, description="Most pods (elastic distributed, inference).")
    parallelism: int | None = Field(None, description="Training: pods running at once.")
    completions: int | None = Field(None, description="Training: successful pods needed.")


class ActionsSupport(Sparse):
    delete: bool = True
    suspend: bool = Field(..., description="Whether the type has suspend and resume (workspace, training).")


class Workload(Sparse):
    """A workload of any type, as Run:ai's list shows it."""

    _nullable = frozenset({"deletedAt", "completedAt"})
    type: str = Field(..., description="workspace, training, distributed or inference.")
    name: str
    id: str = Field(..., description="The workload object's uid.")
    source: Literal["CLI", "Control-plane", "Other"] = Field(
        ..., description="CLI when the berth CLI submitted it, Control-plane when this REST API did, else Other.")
    priorityClassName: str
    clusterId: str = Field(..., description="The uid of the cluster's runai namespace.")
    projectName: str
    projectId: str = Field(..., description="The Project's uid.")
    departmentName: str
    departmentId: str = Field(..., description="The Department's uid (its name where the caller cannot read it).")
    namespace: str
    createdAt: str
    phase: Phase = Field(..., description="Run:ai's phase for the object's status.phase (docs/rest.md).")
    phaseMessage: str | None = None
    k8sPhase: str = Field(..., description="The object's status.phase as Berth writes it.")
    conditions: list[Condition]
    tenantId: int
    runningPods: int
    requestedPods: RequestedPods | None = None
    phaseUpdatedAt: str
    k8sPhaseUpdatedAt: str
    updatedAt: str
    deletedAt: str | None = Field(..., description="When deletion began (metadata.deletionTimestamp).")
    completedAt: str | None = None
    submittedBy: str | None = Field(None, description="spec.userId, else spec.username.")
    workloadRequestedResources: RequestedResources | None = None
    podsRequestedResources: RequestedResources | None = None
    allocatedResources: AllocatedResources | None = None
    actionsSupport: ActionsSupport | None = None
    requestedNodePools: list[str] | None = None
    currentNodePools: list[str] | None = Field(None, description="The node pools its placed pods run in.")
    images: list[str] | None = None
    urls: list[str] | None = None
    distributedFramework: str | None = None
    preemptible: bool | None = None


class Workloads(Sparse):
    workloads: list[Workload]
    next: int | None = Field(None, description="The offset of the next page; absent on the last.")


class Count(BaseModel):
    count: int


class Container(Sparse):
    _nullable = frozenset({"startedAt"})
    name: str
    image: str
    startedAt: str | None = None


class Toleration(Sparse):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    tolerationSeconds: int | None = None


class PodAllocatedResources(Sparse):
    gpu: float | None = None
    cpu: float | None = None
    cpuMemory: str | None = None


class Pod(Sparse):
    """One pod of a workload."""

    _nullable = frozenset({"nodeName", "currentNodePool", "completedAt", "deletedAt", "allocatedResources"})
    name: str
    priorityClassName: str
    id: str = Field(..., description="The pod's uid.")
    workloadId: str
    clusterId: str
    projectId: str | None = None
    nodeName: str | None = None
    currentNodePool: str | None = Field(None, description="The node pool of its node, once placed.")
    createdAt: str
    completedAt: str | None = None
    containers: list[Container]
    requestedNodePools: list[str] | None = None
    requestedResources: PodRequestedResources | None = None
    allocatedResources: PodAllocatedResources | None = None
    tolerations: list[Toleration] | None = None
    k8sPhase: str
    tenantId: int
    k8sPhaseUpdatedAt: str
    updatedAt: str
    deletedAt: str | None = None
    projectName: str | None = None
    workloadName: str | None = None


class Pods(Sparse):
    pods: list[Pod]
    next: int | None = None


class InvolvedObject(BaseModel):
    uid: str
    kind: str
    name: str
    namespace: str


class Event(Sparse):
    """A core Event about the workload or one of its pods."""

    createdAt: str = Field(..., description="lastTimestamp, else eventTime or firstTimestamp.")
    id: str | None = None
    type: str
    clusterId: str
    message: str
    reason: str | None = None
    source: str | None = None
    involvedObject: InvolvedObject | None = None


class Events(Sparse):
    events: list[Event]
    next: int | None = None


class PhaseUpdate(BaseModel):
    phase: Phase
    phaseMessage: str


class HistorySpec(Sparse):
    event: Event | None = None
    phaseUpdate: PhaseUpdate | None = None


class HistoryMeta(BaseModel):
    creationTimestamp: str
    type: Literal["Event", "PhaseUpdate"]


class HistoryRecord(BaseModel):
    meta: HistoryMeta
    spec: HistorySpec


class History(Sparse):
    records: list[HistoryRecord]
    next: int | None = None
