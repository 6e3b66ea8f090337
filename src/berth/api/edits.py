"""Which spec fields of a submitted workload may change, and when: one table, read by admission
(`berth.policy.guards`, on `berth up` and through `berth webhook`) and rendered into docs/api.md.

A workload's pods are made from its spec when they are made, and keep what they were made with; its
Services are made once. So a field falls in one of three classes:

- **any time**: the controllers read it continuously (suspend and resume, scale bounds, completions...), or
  Berth only records it (display names). The change takes effect at once.
- **while suspended**: it is baked into the pods (image, command, resources...). It may change while the
  workload is suspended (`active: false`, no pods), or in the edit that suspends or resumes it: the pods
  made on resume carry the new value. Kinds that cannot be suspended (Distributed, Inference) are
  resubmitted instead.
- **never**: it decides objects made once (the Services of its ports, the kind of job) or what the
  workload is (a template or not). Delete the workload and submit it again.

A template (`usage: Template`) makes nothing and may change freely, except `usage` itself. Metadata
(labels, annotations) is not spec and may always change. A field missing from the table is a test
failure (tests/api/test_edits.py): every new field needs a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from berth.api.workloads import WORKLOAD_SPECS


class When(Enum):
    """When a submitted workload's field may change."""

    ANY_TIME = "any time"
    WHILE_SUSPENDED = "while suspended"
    NEVER = "never"


@dataclass(frozen=True)
class Edit:
    when: When
    why: str


_A, _S, _N = When.ANY_TIME, When.WHILE_SUSPENDED, When.NEVER
_POD = "baked into the pods when they are made"
_RECORDED = "recorded only: nothing in Berth acts on it"

#: Spec field (its name in the model) -> when it may change and why.
EDITS: dict[str, Edit] = {
    # read continuously by the controllers
    "active": Edit(_A, "suspends (false: the pods are removed) and resumes (true) the workload"),
    "completions": Edit(_A, "read by the training plan at every step: more start more pods, fewer start no more"),
    "parallelism": Edit(_A, "read by the training plan at every step (running pods are not stopped)"),
    "backoffLimit": Edit(_A, "read whenever a pod fails"),
    "ttlAfterFinish": Edit(_A, "read once the workload has ended"),
    "autoDeletionTimeAfterCompletionSeconds": Edit(_A, "read once the workload has ended"),
    "terminateAfterPreemption": Edit(_A, "read when a pod is preempted"),
    "preemptionLimit": Edit(_A, "read when a pod is preempted"),
    "runPolicy": Edit(_A, "backoffLimit is read when a pod fails, cleanPodPolicy when the job ends"),
    "minScale": Edit(_A, "read by the autoscaler at every step"),
    "maxScale": Edit(_A, "read by the autoscaler at every step"),
    "metric": Edit(_A, "read by the autoscaler at every step"),
    "metricName": Edit(_A, "read by the autoscaler at every step"),
    "target": Edit(_A, "read by the autoscaler at every step"),
    # recorded only
    "name": Edit(_A, _RECORDED), "namePrefix": Edit(_A, "read once, when the workload is submitted"), "username": Edit(_A, _RECORDED),
    "userId": Edit(_A, _RECORDED), "exposedUrls": Edit(_A, _RECORDED), "ingressUrl": Edit(_A, _RECORDED),
    "isPrivateServiceUrl": Edit(_A, _RECORDED), "class_": Edit(_A, _RECORDED),
    # baked into the pods
    **{f: Edit(_S, _POD) for f in (
        "image", "imagePullPolicy", "imagePullSecrets", "command", "arguments", "workingDir", "environment",
        "cpu", "cpuLimit", "memory", "memoryLimit", "gpu", "gpuLimit", "gpuMemory", "migProfile", "gpuDevices",
        "extendedResources", "largeShm", "pvcs", "volumes", "emptyDirVolumes", "configMapVolumes",
        "secretVolumes", "gitSync", "s3", "labels", "annotations", "tolerations", "nodeType", "runAsUser",
        "runAsUid", "runAsGid", "supplementalGroups", "createHomeDir", "capabilities",
        "allowPrivilegeEscalation", "hostIpc", "hostNetwork", "stdin", "tty", "mountPropagation",
        "nodePool", "nodePools", "podAffinity", "podAffinitySchedulingRule", "podAffinityTopology",
        "notebookToken", "tensorboardLogdir", "mpi", "processes", "slotsPerWorker", "workers", "minReplicas",
        "maxReplicas", "mpiJob", "pyTorchJob", "masterSpec")},
    "baseWorkload": Edit(_S, "its values are composed into the spec, and so into the pods"),
    "preemptible": Edit(_S, "the pods' priority is set when they are made"),
    "nonPreemptible": Edit(_S, "the pods' priority is set when they are made"),
    # made once
    "usage": Edit(_N, "a template stays a template: submit a workload that names it as baseWorkload"),
    "jobType": Edit(_N, "the kind of job decides every pod, Service and ConfigMap of the workload"),
    "ports": Edit(_N, "its Services are made once, from the first value"),
    "serviceType": Edit(_N, "its Services are made once, from the first value"),
    "jupyter": Edit(_N, "it adds a port, and the workload's Services are made once"),
    "tensorboard": Edit(_N, "it adds a port, and the workload's Services are made once"),
}


def _properties(kind: str) -> dict[str, str]:
    """JSON property name (`class`, `replicas`) -> model field name (`class_`, `workers`)."""
    found = {}
    for name, info in WORKLOAD_SPECS[kind].model_fields.items():
        found[name] = name
        if info.serialization_alias:
            found[info.serialization_alias] = name
        for alias in getattr(info.validation_alias, "choices", ()) or ():
            found[str(alias)] = name
    return found


_PROPERTIES = {kind: _properties(kind) for kind in WORKLOAD_SPECS}


def edit_of(kind: str, prop: str) -> tuple[str, Edit] | None:
    """The field a spec property of `kind` is, and its edit rule; None for a property the kind lacks."""
    name = _PROPERTIES[kind].get(prop)
    return (name, EDITS[name]) if name is not None else None


def can_suspend(kind: str) -> bool:
    return "active" in WORKLOAD_SPECS[kind].model_fields


def _shown(name: str) -> str:
    """A field as written in YAML (`class`, not the model's `class_`)."""
    spec = next(spec for spec in WORKLOAD_SPECS.values() if name in spec.model_fields)
    return spec.model_fields[name].serialization_alias or name


def markdown() -> str:
    """The table for docs/api.md: the fields of each class and reason, one row each."""
    groups: dict[tuple[When, str], list[str]] = {}
    for name, edit in EDITS.items():
        groups.setdefault((edit.when, edit.why), []).append(_shown(name))
    order = list(When)
    rows = ["| Fields | May change | Why |", "|---|---|---|"]
    for (when, why), fields in sorted(groups.items(), key=lambda g: order.index(g[0][0])):  # stable: table order
        listed = ", ".join(f"`{f}`" for f in sorted(fields, key=str.lower))
        rows.append(f"| {listed} | {when.value} | {why} |")
    return "\n".join(rows)
