"""Every kind Berth serves, with its names, scope and printer columns: the one list the CRDs, the API
server's discovery, `explain` and the loader all read.

Names follow the Run:ai conventions: group `run.ai`, workloads and policies in `v2alpha1` (namespaced),
Project, Department and NodePool in `v1` (cluster-scoped), PodGroup in `scheduling.run.ai/v2alpha2`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from berth.api import podgroup, policies, projects, workloads


@dataclass(frozen=True)
class PrinterColumn:
    """A column of `kubectl get` for the kind (CRD additionalPrinterColumns)."""

    name: str
    type: str
    json_path: str
    description: str
    priority: int = 0  # 1: shown only with -o wide

    def to_crd(self) -> dict[str, object]:
        column: dict[str, object] = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            column["priority"] = self.priority
        return column


AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since the object was created.")


@dataclass(frozen=True)
class Kind:
    """One kind of resource and how clients name it."""

    kind: str
    group: str
    version: str
    plural: str
    model: type[BaseModel]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    namespaced: bool = True
    columns: tuple[PrinterColumn, ...] = (AGE,)
    has_status: bool = True

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def description(self) -> str:
        return " ".join((self.model.__doc__ or "").split())

    def names(self) -> set[str]:
        """Every name a user may call the kind by, lower-cased."""
        return {self.kind.lower(), self.plural, self.singular, *self.short_names}


def _workload_columns() -> tuple[PrinterColumn, ...]:
    return (
        PrinterColumn("Status", "string", ".status.phase", "The workload's phase."),
        PrinterColumn("GPU", "string", ".status.gpuRequest", "GPUs the whole workload asks for (all its pods)."),
        PrinterColumn("Running", "integer", ".status.runningPods", "Pods running."),
        PrinterColumn("Pending", "integer", ".status.pendingPods", "Pods waiting."),
        AGE,
        PrinterColumn("Image", "string", ".spec.image.value", "Container image.", priority=1),
        PrinterColumn("Message", "string", ".status.message", "Why the workload is in its phase.", priority=1),
    )


def _policy_columns() -> tuple[PrinterColumn, ...]:
    return (
        PrinterColumn("Max-GPU", "string", ".spec.gpu.rules.max", "Most GPUs a workload may ask for."),
        PrinterColumn("Default-GPU", "string", ".spec.gpu.value", "GPUs a workload gets by default."),
        AGE,
    )


_WORKLOAD = dict(group="run.ai", version="v2alpha1", categories=("runai", "all"), columns=_workload_columns())
_POLICY = dict(group="run.ai", version="v2alpha1", columns=_policy_columns(), has_status=False)

KINDS: tuple[Kind, ...] = (
    Kind("InteractiveWorkload", plural="interactiveworkloads", model=workloads.InteractiveWorkload,
         short_names=("iw",), **_WORKLOAD),
    Kind("TrainingWorkload", plural="trainingworkloads", model=workloads.TrainingWorkload,
         short_names=("tw",), **_WORKLOAD),
    Kind("DistributedWorkload", plural="distributedworkloads", model=workloads.DistributedWorkload,
         short_names=("dw",), **_WORKLOAD),
    Kind("InferenceWorkload", plural="inferenceworkloads", model=workloads.InferenceWorkload,
         short_names=("infw",), **_WORKLOAD),
    Kind("InteractivePolicy", plural="interactivepolicies", model=policies.InteractivePolicy,
         short_names=("ipol",), **_POLICY),
    Kind("TrainingPolicy", plural="trainingpolicies", model=policies.TrainingPolicy,
         short_names=("tpol",), **_POLICY),
    Kind("DistributedPolicy", plural="distributedpolicies", model=policies.DistributedPolicy,
         short_names=("dpol",), **_POLICY),
    Kind("InferencePolicy", plural="inferencepolicies", model=policies.InferencePolicy,
         short_names=("infpol",), **_POLICY),
    Kind("Project", group="run.ai", version="v1", plural="projects", model=projects.Project,
         short_names=("rp", "proj"), namespaced=False, columns=(
             PrinterColumn("Department", "string", ".spec.department", "Department of the project."),
             PrinterColumn("Deserved-GPUs", "number", ".status.deservedGpus",
                           "GPUs guaranteed to the project, over all node pools."),
             PrinterColumn("Allocated-GPUs", "number", ".status.allocated.gpu", "GPUs its pods hold now."),
             PrinterColumn("Namespace", "string", ".status.namespace", "Namespace of its workloads."),
             PrinterColumn("Status", "string", ".status.phase", "The project's phase."),
             AGE,
             PrinterColumn("Priority", "integer", ".spec.priority",
                           "Over-quota resources go to higher priorities first (unset: 100).", priority=1),
         )),
    Kind("Department", group="run.ai", version="v1", plural="departments", model=projects.Department,
         short_names=("dept",), namespaced=False, columns=(
             PrinterColumn("Deserved-GPUs", "number", ".status.deservedGpus",
                           "GPUs guaranteed to the department, over all node pools."),
             PrinterColumn("Allocated-GPUs", "number", ".status.allocated.gpu", "GPUs its projects hold now."),
             AGE,
             PrinterColumn("Priority", "integer", ".spec.priority",
                           "Over-quota resources go to higher priorities first (unset: 100).", priority=1),
         )),
    Kind("NodePool", group="run.ai", version="v1", plural="nodepools", model=projects.NodePool,
         short_names=("np",), namespaced=False, columns=(
             PrinterColumn("Label-Key", "string", ".spec.labelKey", "Node label key selecting the nodes."),
             PrinterColumn("Label-Value", "string", ".spec.labelValue", "Node label value selecting the nodes."),
             PrinterColumn("GPUs", "number", ".status.totalGpus", "GPUs on the pool's ready nodes."),
             PrinterColumn("Allocated-GPUs", "number", ".status.allocatedGpus", "GPUs its pods hold now."),
             PrinterColumn("Status", "string", ".status.phase", "Ready or Empty."),
             AGE,
         )),
    Kind("PodGroup", group="scheduling.run.ai", version="v2alpha2", plural="podgroups", model=podgroup.PodGroup,
         short_names=("pg",), columns=(
             PrinterColumn("Queue", "string", ".spec.queue", "The project the group is charged to."),
             PrinterColumn("Min-Member", "integer", ".spec.minMember", "Pods that must start together."),
             PrinterColumn("Phase", "string", ".status.phase", "Pending or Running."),
             AGE,
         )),
)

_BY_KIND = {k.kind: k for k in KINDS}
_BY_NAME = {name: k for k in KINDS for name in k.names()}


def by_kind(kind: str, api_version: str | None = None) -> Kind | None:
    """The kind of this exact name (and apiVersion, when given)."""
    found = _BY_KIND.get(kind)
    if found and api_version is not None and found.api_version != api_version:
        return None
    return found


def lookup(name: str) -> Kind | None:
    """The kind a user means by `name`: kind, plural, singular or short name, any case; `tw.run.ai` too."""
    key = name.lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    head, _, group = key.partition(".")
    found = _BY_NAME.get(head)
    if found and group and group in (found.group, f"{found.version}.{found.group}"):
        return found
    return None


def all_names() -> list[str]:
    """Every accepted name, for suggestions."""
    return sorted({n for k in KINDS for n in (k.kind, k.plural, *k.short_names)})
