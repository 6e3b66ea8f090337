"""Every kind Berth serves, once: the one table of names, scope, subresources, field selectors and verbs,
and, for Berth's own kinds, the model and printer columns.

Each reader derives its view from this table and writes none of these facts again: the CRDs
(`berth.api.crd`), `explain` and the loader read Berth's own kinds (`KINDS`, with models); the API server
(`berth.apiserver.resources`: discovery, routing, OpenAPI, Tables) and the client (`berth.client.kinds`:
URLs) read every kind (`ALL`); the CLI resolves what a user types with `resolve`.

Names follow the Run:ai conventions: group `run.ai`, workloads and policies in `v2alpha1` (namespaced),
Project, Department and NodePool in `v1` (cluster-scoped), PodGroup in `scheduling.run.ai/v2alpha2`. The
core Kubernetes kinds (pods, nodes, events...) are here by name only: Berth stores them as plain objects
and models none of them.

Invariant: a name (kind, plural, singular or short name, lower-cased) means one kind; the tests hold the
table to what `kubectl api-resources` lists against `berth up`.
"""

from __future__ import annotations

from collections.abc import Iterable
import dataclasses
import functools
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from berth.api.closest import suggest

if TYPE_CHECKING:
    from pydantic import BaseModel

#: What every kind serves, as `kubectl api-resources -o wide` lists it.
VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


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
    """One kind of resource: where it is served, how users name it, and what it supports."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    #: Field selectors the API supports beyond metadata.name and metadata.namespace.
    field_selectors: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = VERBS

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`trainingworkloads.run.ai` or `pods`: how the API server names the resource (and its CRD)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def names(self) -> set[str]:
        """Every name a user may call the kind by, lower-cased (the singular is the kind's name)."""
        return {self.plural, self.singular, *self.short_names}

    def facts(self) -> dict[str, Any]:
        """This entry's fields as a `Kind` has them: what a reader's view (a subclass) is built from."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Kind)}


@dataclass(frozen=True)
class CustomKind(Kind):
    """A kind Berth defines (a custom resource on a real cluster): its model validates and documents it."""

    subresources: tuple[str, ...] = ("status",)
    #: Where the model is, as `module:Name`: imported on first use, so that reading the table (every
    #: `berth` command does) does not build the pydantic models (the policy kinds take a while).
    model_path: str = field(kw_only=True)
    columns: tuple[PrinterColumn, ...] = (AGE,)

    @property
    def model(self) -> type[BaseModel]:
        """The model that validates and documents the kind."""
        return _import(self.model_path)

    @property
    def description(self) -> str:
        return " ".join((self.model.__doc__ or "").split())


@functools.cache
def _import(path: str) -> type[BaseModel]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


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


def _workload(kind: str, plural: str, short: str, model: str) -> CustomKind:
    return CustomKind("run.ai", "v2alpha1", kind, plural, short_names=(short,), categories=("runai", "all"),
                      model_path=model, columns=_workload_columns())


def _policy(kind: str, plural: str, short: str, model: str) -> CustomKind:
    return CustomKind("run.ai", "v2alpha1", kind, plural, short_names=(short,), subresources=(), model_path=model,
                      columns=_policy_columns())


def _org(kind: str, plural: str, short_names: tuple[str, ...], model: str,
         columns: tuple[PrinterColumn, ...]) -> CustomKind:
    return CustomKind("run.ai", "v1", kind, plural, namespaced=False, short_names=short_names, model_path=model,
                      columns=columns)


_PRIORITY = PrinterColumn("Priority", "integer", ".spec.priority",
                          "Over-quota resources go to higher priorities first (unset: 100).", priority=1)

#: The four kinds of workload: what the controllers run, the CLI lists and a project's quota counts.
WORKLOADS: tuple[CustomKind, ...] = (
    _workload("InteractiveWorkload", "interactiveworkloads", "iw", "berth.api.workloads:InteractiveWorkload"),
    _workload("TrainingWorkload", "trainingworkloads", "tw", "berth.api.workloads:TrainingWorkload"),
    _workload("DistributedWorkload", "distributedworkloads", "dw", "berth.api.workloads:DistributedWorkload"),
    _workload("InferenceWorkload", "inferenceworkloads", "infw", "berth.api.workloads:InferenceWorkload"),
)

#: Each workload kind's policy kind (InteractiveWorkload: InteractivePolicy), by name: the models need not
#: be built to know it.
POLICY_OF: dict[str, str] = {w.kind: w.kind.removesuffix("Workload") + "Policy" for w in WORKLOADS}

#: Berth's own kinds, in the order `berth crds` prints them.
KINDS: tuple[CustomKind, ...] = WORKLOADS + (
    _policy("InteractivePolicy", "interactivepolicies", "ipol", "berth.api.policies:InteractivePolicy"),
    _policy("TrainingPolicy", "trainingpolicies", "tpol", "berth.api.policies:TrainingPolicy"),
    _policy("DistributedPolicy", "distributedpolicies", "dpol", "berth.api.policies:DistributedPolicy"),
    _policy("InferencePolicy", "inferencepolicies", "infpol", "berth.api.policies:InferencePolicy"),
    _org("Project", "projects", ("rp", "proj"), "berth.api.projects:Project", (
        PrinterColumn("Department", "string", ".spec.department", "Department of the project."),
        PrinterColumn("Deserved-GPUs", "number", ".status.deservedGpus",
                      "GPUs guaranteed to the project, over all node pools."),
        PrinterColumn("Allocated-GPUs", "number", ".status.allocated.gpu", "GPUs its pods hold now."),
        PrinterColumn("Namespace", "string", ".status.namespace", "Namespace of its workloads."),
        PrinterColumn("Status", "string", ".status.phase", "The project's phase."),
        AGE,
        _PRIORITY,
    )),
    _org("Department", "departments", ("dept",), "berth.api.projects:Department", (
        PrinterColumn("Deserved-GPUs", "number", ".status.deservedGpus",
                      "GPUs guaranteed to the department, over all node pools."),
        PrinterColumn("Allocated-GPUs", "number", ".status.allocated.gpu", "GPUs its projects hold now."),
        AGE,
        _PRIORITY,
    )),
    _org("NodePool", "nodepools", ("np",), "berth.api.projects:NodePool", (
        PrinterColumn("Label-Key", "string", ".spec.labelKey", "Node label key selecting the nodes."),
        PrinterColumn("Label-Value", "string", ".spec.labelValue", "Node label value selecting the nodes."),
        PrinterColumn("GPUs", "number", ".status.totalGpus", "GPUs on the pool's ready nodes."),
        PrinterColumn("Allocated-GPUs", "number", ".status.allocatedGpus", "GPUs its pods hold now."),
        PrinterColumn("Status", "string", ".status.phase", "Ready or Empty."),
        AGE,
    )),
    CustomKind("scheduling.run.ai", "v2alpha2", "PodGroup", "podgroups", short_names=("pg",),
               model_path="berth.api.podgroup:PodGroup", columns=(
                   PrinterColumn("Queue", "string", ".spec.queue", "The project the group is charged to."),
                   PrinterColumn("Min-Member", "integer", ".spec.minMember", "Pods that must start together."),
                   PrinterColumn("Phase", "string", ".status.phase", "Pending or Running."),
                   AGE,
               )),
)

_EVENT_FIELDS = frozenset(
    {f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    | {"reason", "type", "source", "reportingComponent"}
)

#: The core Kubernetes kinds Berth serves, which the controllers, scheduler and node agents need.
CORE_KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",), subresources=("status",),
         field_selectors=frozenset({"status.phase"})),
    Kind("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=("status",),
         field_selectors=frozenset({"spec.unschedulable"})),
    Kind("", "v1", "Pod", "pods", short_names=("po",), categories=("all",),
         subresources=("status", "log", "binding", "eviction"),
         field_selectors=frozenset({"spec.nodeName", "spec.schedulerName", "spec.restartPolicy", "status.phase",
                                    "status.podIP", "status.nominatedNodeName", "spec.serviceAccountName"})),
    Kind("", "v1", "Service", "services", short_names=("svc",), categories=("all",), subresources=("status",)),
    Kind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",),
         subresources=("status",)),
    Kind("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    Kind("", "v1", "Secret", "secrets", field_selectors=frozenset({"type"})),
    Kind("", "v1", "Event", "events", short_names=("ev",), field_selectors=_EVENT_FIELDS),
    Kind("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    Kind("coordination.k8s.io", "v1", "Lease", "leases"),
    # What installing Berth on a real cluster writes (deploy/): stored as they are, so that `kubectl apply
    # --dry-run=server -k deploy/` checks the installation here; berth up runs no Deployment or Job and
    # authorizes by its own roles, not by RBAC objects (docs/kubernetes.md).
    Kind("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=("all",),
         subresources=("status",)),
    Kind("batch", "v1", "Job", "jobs", categories=("all",), subresources=("status",)),
    Kind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",),
         subresources=("status",)),
    Kind("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    Kind("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    Kind("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    Kind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    Kind("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
         namespaced=False),
    Kind("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
         "validatingwebhookconfigurations", namespaced=False),
    # Berth's own kinds are built in; their CRDs are served as records of them (berth.apiserver.crds)
    Kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
         namespaced=False, short_names=("crd", "crds"), subresources=("status",)),
)

#: Every kind the API server serves, core first (the order of discovery).
ALL: tuple[Kind, ...] = CORE_KINDS + KINDS


K = TypeVar("K", bound=Kind)


class UnknownKind(LookupError):
    """A name that is no kind Berth serves; the message suggests the closest one."""

    def __init__(self, name: str, hint: str | None) -> None:
        super().__init__(f'unknown kind "{name}"' + (f' (did you mean "{hint}"?)' if hint else ""))
        self.name = name
        self.hint = hint


def _index(kinds: Iterable[K]) -> dict[str, K]:
    index: dict[str, K] = {}
    for kind in kinds:
        for name in kind.names():
            if index.setdefault(name, kind) is not kind:
                raise ValueError(f'"{name}" names both {index[name].kind} and {kind.kind}')
    return index


_CUSTOM_BY_NAME = _index(KINDS)
_ALL_BY_NAME = _index(ALL)
_CUSTOM_BY_KIND = {k.kind: k for k in KINDS}
_ALL_BY_API = {(k.api_version, k.kind): k for k in ALL}


def _match(name: str, index: dict[str, K]) -> K | None:
    """`name` in any case, or `name.group` / `name.version.group` as kubectl takes it (`pods.`, `pod.v1.`:
    the core group is the empty one)."""
    key = name.lower()
    if key in index:
        return index[key]
    head, dot, group = key.partition(".")
    found = index.get(head)
    if found and dot and group in (found.group, f"{found.version}.{found.group}"):
        return found
    return None


def lookup(name: str) -> CustomKind | None:
    """Berth's own kind a user means by `name` (what explain and CRDs document): kind, plural, singular or
    short name, any case; `tw.run.ai` too."""
    return _match(name, _CUSTOM_BY_NAME)


def find(name: str) -> Kind | None:
    """Any served kind a user means by `name` (`tw`, `Pods`, `trainingworkloads.run.ai`), or None."""
    return _match(name, _ALL_BY_NAME)


def resolve(name: str) -> Kind:
    """Any served kind a user means by `name`; raises UnknownKind, suggesting the closest name, on a miss."""
    found = find(name)
    if found is None:
        raise UnknownKind(name, suggest(name, all_names(ALL)))
    return found


def by_kind(kind: str, api_version: str | None = None) -> CustomKind | None:
    """Berth's own kind of this exact name (and apiVersion, when given)."""
    found = _CUSTOM_BY_KIND.get(kind)
    if found and api_version is not None and found.api_version != api_version:
        return None
    return found


def by_api_version(api_version: str, kind: str) -> Kind | None:
    """Any served kind, as an object names it (apiVersion and kind)."""
    return _ALL_BY_API.get((api_version, kind))


def all_names(kinds: Iterable[Kind] = KINDS) -> list[str]:
    """Every accepted name of these kinds (Berth's own by default) as users write them, for suggestions."""
    return sorted({n for k in kinds for n in (k.kind, k.plural, *k.short_names)})
