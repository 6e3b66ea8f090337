"""Projects, departments and node pools (`run.ai/v1`, cluster-scoped): who gets which GPUs.

A project is the quota entity every workload belongs to; its namespace is `runai-<project>` labelled
`runai/queue=<project>`. A department groups projects under a quota of its own. A node pool is a named
set of nodes chosen by one label; quotas may be given per pool. These are the scheduler's inputs
(`berth.scheduler`); the fields mirror the early `projects.run.ai` CRD and the 2.x project model (the
Run:ai notes, section 4). Where quantities are `-1`, they mean "no limit", as in KAI-Scheduler queues.
Units of quotas follow Run:ai's project API: GPUs, CPU in millicores, memory in MiB; a quantity string
("4", "40Gi") is read as Kubernetes reads it, so the type of the value says its unit.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from berth.api.base import Model
from berth.api.meta import Condition, ObjectMeta
from berth.api.types import OpenAPI, Count, Integer, Number, Quantity, String, enum, field_error, parse_quantity

PlacementStrategy = enum("binpack", "spread")

#: Every node no NodePool selects is in this pool, and quotas given without a pool are for it.
DEFAULT_POOL = "default"

#: A project's namespace is `runai-<project>` unless the Project names another (`spec.namespace`).
PROJECT_NAMESPACE_PREFIX = "runai-"


#: The label that gives a namespace to a project (the project controller sets it on the project's namespace).
QUEUE_LABEL = "runai/queue"


def claimed_by(namespace: str, labels: dict[str, str] | None) -> str | None:
    """The project a namespace says it belongs to: its `runai/queue` label, else `<project>` of
    `runai-<project>`; None for a namespace that names no project (whether that project exists is the
    caller's to check)."""
    label = (labels or {}).get(QUEUE_LABEL)
    if label:
        return label
    if namespace.startswith(PROJECT_NAMESPACE_PREFIX) and len(namespace) > len(PROJECT_NAMESPACE_PREFIX):
        return namespace[len(PROJECT_NAMESPACE_PREFIX):]
    return None


def project_of_namespace(namespace: str) -> str:
    """The project a namespace belongs to by Run:ai's convention: `runai-team-a` -> `team-a`."""
    if namespace.startswith(PROJECT_NAMESPACE_PREFIX) and len(namespace) > len(PROJECT_NAMESPACE_PREFIX):
        return namespace[len(PROJECT_NAMESPACE_PREFIX):]
    return namespace


def namespace_of_project(name: str, spec: dict | None = None) -> str:
    """The namespace of a project's workloads: `spec.namespace` when the Project names one, else runai-<name>."""
    return (spec or {}).get("namespace") or PROJECT_NAMESPACE_PREFIX + name


def project_namespace(project: dict) -> dict:
    """The Namespace a Project's workloads live in, as Berth makes it: labelled `runai/queue=<project>`, and
    owned by the Project (so it goes with it) unless the Project names a namespace of its own."""
    meta = project["metadata"]
    labels = {QUEUE_LABEL: meta["name"]}
    namespace: dict = {"name": namespace_of_project(meta["name"], project.get("spec")), "labels": labels}
    if not (project.get("spec") or {}).get("namespace"):
        namespace["ownerReferences"] = [{"apiVersion": "run.ai/v1", "kind": "Project", "name": meta["name"],
                                         "uid": meta["uid"], "controller": True}]
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": namespace}


def quota_by_pool(spec: dict) -> dict[str, dict]:
    """A Project's or Department's quota per node pool, each as a `nodePoolsResources` entry: the entries
    given, else `deservedGpus`, `maxAllowedGpus` and `gpuOverQuotaWeight` as the GPU quota of the pool
    `default`; empty when the spec gives no quota at all. The scheduler and the usage reports read quotas
    only through this."""
    entries = spec.get("nodePoolsResources") or []
    if entries:
        return {entry["nodePool"]: entry for entry in entries}
    if spec.get("deservedGpus") is None and spec.get("maxAllowedGpus") is None:
        return {}
    gpu = {"deserved": spec.get("deservedGpus") or 0}
    if spec.get("maxAllowedGpus") is not None:
        gpu["maxAllowed"] = spec["maxAllowedGpus"]
    if spec.get("gpuOverQuotaWeight") is not None:
        gpu["overQuotaWeight"] = spec["gpuOverQuotaWeight"]
    return {DEFAULT_POOL: {"nodePool": DEFAULT_POOL, "gpu": gpu}}


def deserved_gpus(spec: dict) -> dict[str, float]:
    """GPUs guaranteed per node pool (pools the quota names; 0 where it says nothing)."""
    return {pool: float(((entry.get("gpu") or {}).get("deserved")) or 0) for pool, entry in quota_by_pool(spec).items()}


def _quota_amount(unit: str, per_unit: str, example: str) -> Any:
    """A CPU or memory quota amount: a number in `unit` (as Run:ai's project API gives it), -1 for no limit, or a
    Kubernetes quantity string (`"4"`, `"500m"`, `"40Gi"`). The type tells the unit, so a number is never read
    as cores or bytes; a positive number below 100 is refused as a likely mistake for the other unit."""

    def check(value: Any) -> str | int:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise PydanticCustomError("berth_value", "expected a number of {unit} or a quantity like {example}, "
                                      "got {value}", {"unit": unit, "example": example, "value": value})
        if isinstance(value, str):
            try:
                parse_quantity(value)
            except ValueError:
                raise PydanticCustomError("berth_value", "{value} is not a quantity; write a number of {unit} or "
                                          "a quantity like {example}", {"value": value, "unit": unit,
                                                                       "example": example}) from None
            return value
        if value != int(value):
            raise PydanticCustomError("berth_value", "{value} {unit} is not a whole number; write a whole number "
                                      "of {unit} or a quantity like {example}",
                                      {"value": value, "unit": unit, "example": example})
        value = int(value)
        if value < -1:
            raise PydanticCustomError("berth_value", "must be -1 (no limit) or no less than 0, got {value}",
                                      {"value": value})
        if 0 < value < 100:
            raise PydanticCustomError("berth_value", "a number here is in {unit}: {value} is {small}; write a "
                                      "number of {unit}, or a quantity like {example}",
                                      {"unit": unit, "value": value, "small": per_unit.format(value),
                                       "example": example})
        return value

    return Annotated[str | int, PlainValidator(check),
                     OpenAPI({"x-kubernetes-int-or-string": True}, f"a number of {unit} or a quantity like {example}",
                             "string")]


CpuAmount = _quota_amount("millicores", "{} thousandths of a core", '"4" (cores) or "500m"')
MemoryAmount = _quota_amount("MiB", "{} MiB", '"40Gi"')


def quota_millicores(value: str | int | float | None) -> float | None:
    """A CPU quota amount in millicores (a quantity string is cores: "4" is 4000); -1 stays -1."""
    if value is None or isinstance(value, (int, float)):
        return value
    return float(parse_quantity(value) * 1000)


def quota_mib(value: str | int | float | None) -> float | None:
    """A memory quota amount in MiB (a quantity string is bytes: "1Gi" is 1024); -1 stays -1."""
    if value is None or isinstance(value, (int, float)):
        return value
    return float(parse_quantity(value) / (1024 * 1024))


class _Bounds(Model):
    """The rules every resource's quota keeps: deserved >= 0; maxAllowed -1 or >= deserved."""

    _unit = "GPUs"

    @staticmethod
    def _amount(value: Any) -> float | None:
        return value

    @model_validator(mode="after")
    def _bounds(self) -> "_Bounds":
        deserved, cap = self._amount(self.deserved), self._amount(self.maxAllowed)
        if deserved is not None and deserved < 0:
            raise field_error("deserved", "must be no less than 0", self.deserved)
        if cap is not None and cap != -1 and deserved is not None and cap < deserved:
            said = self.deserved if deserved == self.deserved else f"{self.deserved}, {deserved:g} {self._unit}"
            raise field_error("maxAllowed", "must be -1 (no limit) or no less than deserved ({d})", self.maxAllowed,
                              d=said)
        return self


_WEIGHT = ("Share of idle resources beyond deserved, relative to other projects' weights (None=0, Low=1, Medium=2, "
           "High=3), among projects of the same priority. Default: proportional to deserved.")
_CAP = ("Most the project may use, over quota included; -1 means no limit. Default -1. Also accepted as limit, "
        "its name in Run:ai's REST API and KAI-Scheduler's queues.")
_CAP_NAMES = {"validation_alias": AliasChoices("maxAllowed", "limit"), "serialization_alias": "maxAllowed"}


def max_allowed_of(entry: dict) -> Any:
    """The cap of one resource's quota as stored: `maxAllowed`, else `limit` (the same field, see `_CAP`)."""
    return entry.get("maxAllowed", entry.get("limit"))


class ResourceQuota(_Bounds):
    """GPU quota in one node pool, in GPUs."""

    deserved: Number | None = Field(
        None,
        description=("Guaranteed GPUs: workloads within it are never reclaimed by other projects. Default 0 "
                     "(everything used is over quota)."),
    )
    maxAllowed: Number | None = Field(None, description=_CAP, **_CAP_NAMES)
    overQuotaWeight: Number | None = Field(None, description=_WEIGHT)


class CpuQuota(_Bounds):
    """CPU quota in one node pool: numbers are millicores, as in Run:ai's project API (2000 is 2 cores); a
    quantity string is cores as Kubernetes writes them ("2", "500m")."""

    deserved: CpuAmount | None = Field(
        None,
        description=("Guaranteed CPU: millicores (2000 = 2 cores) or a quantity (\"2\", \"500m\"). Default: no "
                     "CPU quota is kept (CPU never makes the project over quota)."),
    )
    maxAllowed: CpuAmount | None = Field(None, description=_CAP + " Millicores or a quantity, as deserved.",
                                         **_CAP_NAMES)
    overQuotaWeight: Number | None = Field(None, description=_WEIGHT)

    _unit = "millicores"

    @staticmethod
    def _amount(value: Any) -> float | None:
        return quota_millicores(value)


class MemoryQuota(_Bounds):
    """CPU memory quota in one node pool: numbers are MiB, as in Run:ai's project API (40960 is 40 GiB); a
    quantity string is bytes as Kubernetes writes them ("40Gi", "512Mi")."""

    deserved: MemoryAmount | None = Field(
        None,
        description=("Guaranteed CPU memory: MiB (40960 = 40 GiB) or a quantity (\"40Gi\"). Default: no memory "
                     "quota is kept (memory never makes the project over quota)."),
    )
    maxAllowed: MemoryAmount | None = Field(None, description=_CAP + " MiB or a quantity, as deserved.",
                                            **_CAP_NAMES)
    overQuotaWeight: Number | None = Field(None, description=_WEIGHT)

    _unit = "MiB"

    @staticmethod
    def _amount(value: Any) -> float | None:
        return quota_mib(value)


class NodePoolResources(Model):
    """A project's or department's quota in one node pool."""

    nodePool: String = Field(..., description="Name of the NodePool this quota applies to.")
    gpu: ResourceQuota | None = Field(None, description="GPU quota in this pool, in GPUs.")
    cpu: CpuQuota | None = Field(None, description="CPU quota in this pool: millicores, or a quantity in cores.")
    memory: MemoryQuota | None = Field(None, description="CPU memory quota in this pool: MiB, or a quantity.")


class ResourceAmounts(Model):
    """An amount of each schedulable resource."""

    gpu: Number | None = Field(None, description="GPUs (fractions add up).")
    cpu: Quantity | None = Field(None, description="CPU cores, as a quantity.")
    memory: Quantity | None = Field(None, description="CPU memory, as a quantity.")


class NodePoolUsage(Model):
    """What a project or department holds and asks for in one node pool."""

    nodePool: String = Field(..., description="The node pool.")
    allocated: ResourceAmounts | None = Field(None, description="Resources held by its placed pods in the pool.")
    requested: ResourceAmounts | None = Field(
        None, description="Resources its pods ask for in the pool: placed ones, and waiting ones that prefer it first."
    )


class QuotaSpec(Model):
    """Quota fields shared by projects and departments."""

    deservedGpus: Number | None = Field(
        None,
        description=(
            "GPUs guaranteed to the project across all node pools (ignored when nodePoolsResources is given). "
            "Default 0."
        ),
    )
    maxAllowedGpus: Number | None = Field(
        None, description="Most GPUs the project may use, over quota included; -1 means no limit. Default -1."
    )
    gpuOverQuotaWeight: Number | None = Field(
        None,
        description=(
            "Weight of the project's share of idle GPUs beyond its quota: None=0, Low=1, Medium=2, High=3. "
            "0 disables over-quota use. Default: shares proportional to deservedGpus."
        ),
    )
    nodePoolsResources: list[NodePoolResources] | None = Field(
        None, description="Quota per node pool; the project's quota is their sum."
    )
    priority: Integer | None = Field(
        None,
        description=(
            "Scheduling priority among its siblings (projects of a department, or departments), as a "
            "KAI-Scheduler queue's: over-quota resources go to the highest priority first, and only what it "
            "does not ask for to the next; within its fair share a higher priority is served first; its "
            "workloads are reclaimed last. Deserved quota is guaranteed whatever the priority. Default 100."
        ),
    )

    @model_validator(mode="after")
    def _gpu_bounds(self) -> "QuotaSpec":
        if self.deservedGpus is not None and self.deservedGpus < 0:
            raise field_error("deservedGpus", "must be no less than 0", self.deservedGpus)
        if self.maxAllowedGpus is not None and self.maxAllowedGpus != -1 and self.deservedGpus is not None:
            if self.maxAllowedGpus < self.deservedGpus:
                raise field_error("maxAllowedGpus", "must be -1 (no limit) or no less than deservedGpus ({d})",
                                  self.maxAllowedGpus, d=self.deservedGpus)
        pools = [r.nodePool for r in self.nodePoolsResources or []]
        dupes = sorted({p for p in pools if pools.count(p) > 1})
        if dupes:
            raise field_error("nodePoolsResources", "lists node pool {p} more than once", p=", ".join(dupes))
        return self


class ProjectSpec(QuotaSpec):
    """A project: its quota, its department, where its workloads may run and for how long."""

    department: String | None = Field(None, description="Name of the Department the project belongs to. Default: default.")
    namespace: String | None = Field(
        None,
        description=(
            "Existing namespace to use for the project's workloads instead of creating runai-<project>. "
            "The namespace gets the label runai/queue=<project>."
        ),
    )
    nodeAffinityTrain: list[String] | None = Field(
        None,
        description=(
            "Node types (values of the node label run.ai/type) training workloads may run on. Empty: any node."
        ),
    )
    nodeAffinityInteractive: list[String] | None = Field(
        None,
        description=(
            "Node types (values of the node label run.ai/type) interactive workloads may run on. Empty: any node."
        ),
    )
    defaultNodePools: list[String] | None = Field(
        None, description="Node pools, in order of preference, for workloads that name none. Default: [default]."
    )
    interactiveJobTimeLimitSecs: Count | None = Field(
        None,
        description=(
            "Longest an interactive workload may run; then it ends as TimedOut. Seconds; 0 or unset: no limit."
        ),
    )
    trainingJobTimeLimitSecs: Count | None = Field(
        None, description="Longest a training workload may run; then it is stopped. Seconds; 0 or unset: no limit."
    )
    preemptMinRuntimeSecs: Count | None = Field(
        None,
        description=(
            "Seconds a workload of this project runs before a higher-priority workload of the project may preempt "
            "it (KAI-Scheduler's preemptMinRuntime). Unset: the scheduler's default (0 unless configured)."
        ),
    )
    reclaimMinRuntimeSecs: Count | None = Field(
        None,
        description=(
            "Seconds a workload of this project runs before another project may reclaim its over-quota resources "
            "(KAI-Scheduler's reclaimMinRuntime). Unset: the scheduler's default (0 unless configured)."
        ),
    )


ProjectPhase = enum("Creating", "Ready", "Deleting", "Failed")


class ProjectStatus(Model):
    """What the system observed about a project (kept current by the usage controller)."""

    phase: ProjectPhase | None = Field(
        None, description="Creating until the namespace exists, then Ready; Deleting once being deleted."
    )
    namespace: String | None = Field(None, description="The namespace holding the project's workloads.")
    deservedGpus: Number | None = Field(
        None,
        description=(
            "GPUs guaranteed to the project over all node pools: deservedGpus, or the sum of nodePoolsResources."
        ),
    )
    allocated: ResourceAmounts | None = Field(
        None, description="Resources held by the project's placed pods that have not finished."
    )
    requested: ResourceAmounts | None = Field(
        None, description="Resources asked for by all the project's pods that have not finished, placed or waiting."
    )
    nodePools: list[NodePoolUsage] | None = Field(
        None, description="Allocated and requested per node pool: the pools it has quota in or pods in."
    )
    message: String | None = Field(None, description="Plain words on the phase.")
    conditions: list[Condition] | None = Field(
        None,
        description=(
            "Ready (its namespace exists) and OverQuota (it holds more GPUs than its deserved quota in some "
            "node pool; the message says where and by how much)."
        ),
    )


class Project(Model):
    """A Run:ai project: a team's GPU quota and the namespace its workloads run in (runai-<name>)."""

    apiVersion: String = Field(..., description="run.ai/v1")
    kind: String = Field(..., description="Project")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: ProjectSpec = Field(default_factory=ProjectSpec, description="Quota, placement and limits.")
    status: ProjectStatus | None = Field(None, description="What the system observed; read-only.")


class DepartmentSpec(QuotaSpec):
    """A department: a quota over a group of projects."""


class DepartmentStatus(Model):
    """What the system observed about a department: the sum over its projects."""

    deservedGpus: Number | None = Field(
        None,
        description=(
            "GPUs guaranteed to the department over all node pools: its own quota where it gives one, else the "
            "sum of its projects'."
        ),
    )
    allocated: ResourceAmounts | None = Field(None, description="Resources held by all its projects' pods.")
    requested: ResourceAmounts | None = Field(None, description="Resources asked for by all its projects' pods.")
    nodePools: list[NodePoolUsage] | None = Field(None, description="Allocated and requested per node pool.")
    projects: list[String] | None = Field(None, description="Projects that belong to the department.")


class Department(Model):
    """A Run:ai department: a quota shared by its projects. When the projects' quotas add up to more than
    the department's, the department's quota is what the scheduler honours."""

    apiVersion: String = Field(..., description="run.ai/v1")
    kind: String = Field(..., description="Department")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: DepartmentSpec = Field(default_factory=DepartmentSpec, description="Quota.")
    status: DepartmentStatus | None = Field(None, description="What the system observed; read-only.")


class NodePoolSpec(Model):
    """Which nodes form the pool and how the scheduler fills them."""

    labelKey: String | None = Field(
        None, description="Node label key that selects the pool's nodes, e.g. gpu-type. Required except for default."
    )
    labelValue: String | None = Field(None, description="Value of labelKey on the pool's nodes, e.g. A100.")
    placementStrategy: PlacementStrategy | None = Field(
        None,
        description=(
            "binpack fills a node (and a GPU, for fractions) before using the next, keeping whole nodes free "
            "for large jobs; spread balances pods across nodes and GPUs. Default: binpack."
        ),
    )

    @model_validator(mode="after")
    def _label(self) -> "NodePoolSpec":
        if (self.labelKey is None) != (self.labelValue is None):
            raise field_error("labelValue" if self.labelValue is None else "labelKey",
                              "give labelKey and labelValue together")
        return self


class NodePoolStatus(Model):
    """What the system observed about a node pool (kept current by the usage controller)."""

    nodes: list[String] | None = Field(None, description="Nodes in the pool now, ready or not.")
    totalGpus: Number | None = Field(None, description="GPUs on the pool's ready nodes.")
    allocatedGpus: Number | None = Field(None, description="GPUs held by the pods placed in the pool.")
    total: ResourceAmounts | None = Field(None, description="GPUs, CPU and memory of the pool's ready nodes.")
    allocated: ResourceAmounts | None = Field(None, description="Resources held by the pods placed in the pool.")
    requested: ResourceAmounts | None = Field(
        None, description="Resources asked for in the pool: placed pods, and waiting ones that prefer it first."
    )
    phase: enum("Ready", "Empty") | None = Field(None, description="Ready when at least one of its nodes is ready.")
    message: String | None = Field(None, description="Plain words on the phase.")
    conditions: list[Condition] | None = Field(None, description="Ready: whether it has a ready node.")


class NodePool(Model):
    """A Run:ai node pool: the nodes carrying one label (labelKey=labelValue). Every node without a pool is in
    the pool default. Projects get quota per pool, and workloads list the pools they prefer."""

    apiVersion: String = Field(..., description="run.ai/v1")
    kind: String = Field(..., description="NodePool")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: NodePoolSpec = Field(default_factory=NodePoolSpec, description="Which nodes and how to fill them.")
    status: NodePoolStatus | None = Field(None, description="What the system observed; read-only.")
