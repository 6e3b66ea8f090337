"""A workload's pod template: the core/v1 Pod the workload controller stamps out for each of its pods.

Pure: a stored workload (apiVersion, kind, metadata, spec as `berth.api.workloads` shapes it) in, a plain
JSON-able dict out, with a stable key order, so that a controller can compare the pod it would make with
the one that exists. The caller names the pod (`metadata.name` is left out) and may change what differs
per role (restartPolicy, framework environment). Storage lives in `berth.controllers.volumes`.

What the pod carries, and why:
- `schedulerName: runai-scheduler` and the labels `POD_LABELS` (workload name and kind, project, queue),
  which Berth's scheduler and controllers select by; the spec's label items cannot override them.
- GPUs as KAI-Scheduler encodes them: whole devices as `nvidia.com/gpu` (limits and requests); a share of
  one GPU as the annotation `gpu-fraction` (e.g. "0.5") or `gpu-memory` (MiB), with no `nvidia.com/gpu`, so
  only a GPU-sharing scheduler places it, and `gpu-fraction-num-devices` when `gpuDevices` asks that share
  of several GPUs; a MIG slice as the resource NVIDIA's device plugin offers it, `nvidia.com/mig-<profile>: 1`.
- The Run:ai environment `RUNAI_PROJECT`, `RUNAI_JOB_NAME`, `RUNAI_NUM_OF_GPUS`, placed before the user's
  variables so that those may refer to them as `$(RUNAI_JOB_NAME)`; a user item of the same name is dropped.

A spec that cannot become a valid pod raises `PodSpecError` naming the field and the fix.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from berth.api import mig
from berth.api.projects import project_of_namespace
from berth.api.types import gpu_amount, parse_quantity
from berth.api.wellknown import ROLE_LABEL, WORKLOAD_KIND_LABEL, WORKLOAD_NAME_LABEL
from berth.controllers.volumes import (
    PodSpecError,
    dns_name,
    env_var,
    items_of,
    storage,
    value_of,
)

__all__ = [
    "POD_LABELS", "SCHEDULER_NAME", "GpuRequest", "PodSpecError", "effective_spec", "gpu_request", "node_pools",
    "pod_template", "project_of", "workload_labels",
]

PROJECT_LABEL = "project"
QUEUE_LABEL = "runai/queue"
POD_LABELS = (WORKLOAD_NAME_LABEL, WORKLOAD_KIND_LABEL, PROJECT_LABEL, QUEUE_LABEL)
"""Labels every pod of a workload carries (values from `workload_labels`); the selector of its pods."""

SCHEDULER_NAME = "runai-scheduler"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_FRACTION = "gpu-fraction"
GPU_MEMORY = "gpu-memory"
GPU_DEVICES = "gpu-fraction-num-devices"
DEFAULT_HOME = "/home/runai"
MAIN_CONTAINER = "main"

_MIB = 2**20
_GPU_FIELDS = ("gpu", "gpuDevices", "gpuMemory", "migProfile", "gpuLimit")
_RESERVED_ENV = ("RUNAI_PROJECT", "RUNAI_JOB_NAME", "RUNAI_NUM_OF_GPUS")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_PORT_NAME = re.compile(r"^(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# ---------------------------------------------------------------------------------------------------------
# GPUs
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GpuRequest:
    """What each pod asks of GPUs: at most one of whole `devices`, a `fraction` of a GPU's memory or an
    amount of GPU memory (`memory_mib`), each on `shared_devices` GPUs, or a MIG slice (`mig_profile`)."""

    devices: int = 0
    fraction: Decimal | None = None
    memory_mib: int | None = None
    mig_profile: str | None = None
    shared_devices: int = 0

    @property
    def total(self) -> Decimal:
        """GPUs per pod, as RUNAI_NUM_OF_GPUS and the workload status count them.

        A memory request counts as the GPUs it shares (its fraction depends on the GPU it lands on); a MIG
        slice counts as one GPU, which is what the container sees.
        """
        if self.fraction is not None:
            return self.fraction * max(self.shared_devices, 1)
        if self.memory_mib is not None:
            return Decimal(self.shared_devices)
        if self.mig_profile is not None:
            return Decimal(1)
        return Decimal(self.devices)


def gpu_request(spec: dict[str, Any]) -> GpuRequest:
    """The GPU request of a spec's `gpu`, `gpuDevices`, `gpuMemory` and `migProfile` fields.

    `gpuMemory` becomes whole MiB, rounded down (4G = 4000000000 bytes = 3814.7 MiB -> 3814): a pod never
    asks for more memory than the user wrote. With `gpuDevices`, a `gpuMemory` or a fraction `gpu` is what
    each of that many GPUs gives (Run:ai's REST API: gpuDevicesRequest with gpuPortionRequest or
    gpuMemoryRequest; KAI: gpu-fraction-num-devices).
    """
    devices = value_of(spec, "gpuDevices")
    mig = value_of(spec, "migProfile")
    memory = value_of(spec, "gpuMemory")
    gpu = value_of(spec, "gpu")
    if mig:
        return GpuRequest(mig_profile=mig)
    if memory is not None:
        mib = int(parse_quantity(memory) // _MIB)
        if mib < 1:
            raise PodSpecError(f"spec.gpuMemory: {memory} is less than 1 MiB of GPU memory; ask for more, e.g. 4G")
        return GpuRequest(memory_mib=mib, shared_devices=max(int(devices or 1), 1))
    amount = gpu_amount(gpu) if gpu is not None else None
    if amount is not None and 0 < amount < 1:
        return GpuRequest(fraction=amount.normalize(), shared_devices=int(devices or 0))
    if devices:
        return GpuRequest(devices=int(devices))
    if amount is not None:
        return GpuRequest(devices=int(amount))
    return GpuRequest()


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def gpus_shown(requests: list[tuple[int, dict[str, Any]]]) -> str:
    """What pods ask of GPUs all together, as the GPU column shows it: `requests` are (how many pods, the
    spec they are made from). GPUs and fractions add up ("2", "1.5"); GPU memory and MIG slices are named
    ("2 x 4G", "1 x 1g.5gb"); "0" when no pod asks for a GPU."""
    total, shared = Decimal(0), []
    for count, spec in requests:
        gpus = gpu_request(spec)
        if count <= 0:
            continue
        if gpus.mig_profile is not None:
            shared.append(f"{count} x {gpus.mig_profile}")
        elif gpus.memory_mib is not None:
            shared.append(f"{count * gpus.shared_devices} x {value_of(spec, 'gpuMemory')}")
        else:
            total += count * gpus.total
    parts = ([_number(total)] if total or not shared else []) + shared
    return " + ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Projects and node pools
# ---------------------------------------------------------------------------------------------------------

def project_of(namespace: str) -> str:
    """The project a namespace belongs to by Run:ai's convention: `runai-team-a` -> `team-a`."""
    return project_of_namespace(namespace)


def node_pools(spec: dict[str, Any], project: dict[str, Any] | None) -> list[str]:
    """Node pools in order of preference: the spec's `nodePools` (split on spaces or commas), else its
    deprecated `nodePool`, else the project's `defaultNodePools`, else `["default"]`."""
    text = value_of(spec, "nodePools") or value_of(spec, "nodePool") or ""
    pools = [p for p in re.split(r"[\s,]+", str(text)) if p]
    if not pools and project:
        pools = list((project.get("spec") or {}).get("defaultNodePools") or [])
    return list(dict.fromkeys(pools)) or ["default"]


def _label_value(text: str) -> str:
    """A label value (63 characters at most); a longer workload name keeps its start and a hash."""
    if len(text) <= 63 and _LABEL_VALUE.match(text):
        return text
    return dns_name(text)


def workload_labels(workload: dict[str, Any], project: str | None = None) -> dict[str, str]:
    """The values of `POD_LABELS` for a workload's pods: a selector for exactly its pods."""
    meta = workload.get("metadata") or {}
    project = project or project_of(meta.get("namespace") or "")
    return {
        WORKLOAD_NAME_LABEL: _label_value(meta.get("name") or ""),
        WORKLOAD_KIND_LABEL: workload.get("kind") or "",
        PROJECT_LABEL: _label_value(project),
        QUEUE_LABEL: _label_value(project),
    }


# ---------------------------------------------------------------------------------------------------------
# The pod
# ---------------------------------------------------------------------------------------------------------

def effective_spec(spec: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """`spec` with `overrides` applied field by field (an empty wrapper overrides nothing).

    The GPU fields are one request: an override that sets any of them replaces all of the spec's, so that
    `masterSpec: {gpu: {value: "0"}}` means no GPU even when the workers ask with `gpuDevices`.
    """
    given = {k: v for k, v in (overrides or {}).items() if v not in (None, {})}
    merged = dict(spec)
    if any(k in given for k in _GPU_FIELDS):
        for k in _GPU_FIELDS:
            merged.pop(k, None)
    merged.update(given)
    return merged


def pod_template(
    workload: dict[str, Any], *, role: str | None = None, overrides: dict[str, Any] | None = None,
    project: str | None = None,
) -> dict[str, Any]:
    """The Pod (without `metadata.name`) for one pod of `workload`.

    `role` adds the label `run.ai/role`; `overrides` are spec fields that win over the workload's (a
    DistributedWorkload's masterSpec); `project` names the project when its namespace does not follow
    `runai-<project>` (default: `project_of(namespace)`).
    """
    meta = workload.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    if not meta.get("uid"):
        raise PodSpecError("metadata.uid: the workload has none; build pods only from a stored workload")
    spec = effective_spec(workload.get("spec") or {}, overrides)
    project = project or project_of(namespace)
    gpus = gpu_request(spec)
    home = _home(spec)
    mounted = storage(spec, meta.get("name") or "", home=home)

    labels = workload_labels(workload, project)
    for key, text in items_of(spec, "labels"):
        _check_key(key, "labels")
        if not _LABEL_VALUE.match(str(text)) or len(str(text)) > 63:
            raise PodSpecError(f"spec.labels.items.{key}: {text!r} is not a label value (63 letters, digits, "
                               "'-', '_' or '.' at most, starting and ending with a letter or digit)")
        labels.setdefault(key, str(text))
    if role:
        labels[ROLE_LABEL] = role
    annotations: dict[str, str] = {}
    for key, text in items_of(spec, "annotations"):
        _check_key(key, "annotations")
        annotations[key] = str(text)
    annotations.update(_gpu_annotations(gpus))

    container = _container(spec, workload, project, gpus, home, mounted.mounts)
    pod_spec: dict[str, Any] = {"schedulerName": SCHEDULER_NAME, "restartPolicy": "Never"}
    if value_of(spec, "nodeType"):
        pod_spec["nodeSelector"] = {"run.ai/type": str(value_of(spec, "nodeType"))}
    affinity = _affinity(spec, labels)
    if affinity:
        pod_spec["affinity"] = affinity
    tolerations = [_toleration(item) for _, item in items_of(spec, "tolerations")]
    if tolerations:
        pod_spec["tolerations"] = tolerations
    security = _pod_security(spec)
    if security:
        pod_spec["securityContext"] = security
    for name, key in (("hostIpc", "hostIPC"), ("hostNetwork", "hostNetwork")):
        if value_of(spec, name) is not None:
            pod_spec[key] = bool(value_of(spec, name))
    if value_of(spec, "imagePullSecrets"):
        pod_spec["imagePullSecrets"] = [{"name": str(value_of(spec, "imagePullSecrets"))}]
    if mounted.init_containers:
        pod_spec["initContainers"] = mounted.init_containers
    pod_spec["containers"] = [container]
    if mounted.volumes:
        pod_spec["volumes"] = mounted.volumes
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": workload.get("apiVersion") or "run.ai/v2alpha1",
                "kind": workload.get("kind") or "",
                "name": meta.get("name") or "",
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }],
        },
        "spec": pod_spec,
    }


def _check_key(key: str, field_name: str) -> None:
    if not _QUALIFIED_KEY.match(key) or len(key.rpartition("/")[2]) > 63:
        raise PodSpecError(f"spec.{field_name}.items.{key}: not a valid key; write name or prefix/name with "
                           "letters, digits, '-', '_' and '.' (e.g. team or example.com/team)")


def _gpu_annotations(gpus: GpuRequest) -> dict[str, str]:
    if gpus.fraction is not None:
        out = {GPU_FRACTION: _number(gpus.fraction)}
    elif gpus.memory_mib is not None:
        out = {GPU_MEMORY: str(gpus.memory_mib)}
    else:
        return {}
    if gpus.shared_devices > 1:
        out[GPU_DEVICES] = str(gpus.shared_devices)
    return out


def _home(spec: dict[str, Any]) -> str | None:
    """Where the temporary home directory goes: createHomeDir, which defaults to runAsUser."""
    wanted = value_of(spec, "createHomeDir")
    if wanted is None:
        wanted = bool(value_of(spec, "runAsUser"))
    if not wanted:
        return None
    user_home = dict(items_of(spec, "environment")).get("HOME")
    return str(user_home) if user_home and not str(user_home).startswith("SECRET:") else DEFAULT_HOME


def _words(spec: dict[str, Any], name: str) -> list[str]:
    text = value_of(spec, name)
    if text is None:
        return []
    try:
        return shlex.split(str(text))
    except ValueError as exc:  # e.g. "No closing quotation"
        raise PodSpecError(f"spec.{name}.value: {exc} in {text!r}; quote as a POSIX shell would") from None


def _container(
    spec: dict[str, Any], workload: dict[str, Any], project: str, gpus: GpuRequest, home: str | None,
    mounts: list[dict[str, Any]],
) -> dict[str, Any]:
    image = value_of(spec, "image")
    if not image:
        raise PodSpecError("spec.image: required; give the container image, e.g. image: {value: ubuntu}")
    container: dict[str, Any] = {
        "name": MAIN_CONTAINER, "image": str(image),
        "imagePullPolicy": value_of(spec, "imagePullPolicy") or "Always",
    }
    command, args = _words(spec, "command"), _words(spec, "arguments")
    if command:
        container["command"] = command
    if args:
        container["args"] = args
    if value_of(spec, "workingDir"):
        container["workingDir"] = str(value_of(spec, "workingDir"))
    container["env"] = _env(spec, workload, project, gpus, home)
    container["resources"] = _resources(spec, gpus)
    ports = _ports(spec)
    if ports:
        container["ports"] = ports
    if mounts:
        container["volumeMounts"] = mounts
    for name in ("stdin", "tty"):
        if value_of(spec, name) is not None:
            container[name] = bool(value_of(spec, name))
    security: dict[str, Any] = {}
    if value_of(spec, "allowPrivilegeEscalation") is not None:
        security["allowPrivilegeEscalation"] = bool(value_of(spec, "allowPrivilegeEscalation"))
    capabilities = list(dict.fromkeys(str(c) for _, c in items_of(spec, "capabilities")))
    if capabilities:
        security["capabilities"] = {"add": capabilities}
    if security:
        container["securityContext"] = security
    return container


def _env(
    spec: dict[str, Any], workload: dict[str, Any], project: str, gpus: GpuRequest, home: str | None,
) -> list[dict[str, Any]]:
    meta = workload.get("metadata") or {}
    job_name = value_of(workload.get("spec") or {}, "name") or meta.get("name") or ""
    env = [
        {"name": "RUNAI_PROJECT", "value": project},
        {"name": "RUNAI_JOB_NAME", "value": str(job_name)},
        {"name": "RUNAI_NUM_OF_GPUS", "value": _number(gpus.total)},
    ]
    user = [(name, text) for name, text in items_of(spec, "environment") if name not in _RESERVED_ENV]
    if home is not None and "HOME" not in dict(user):
        env.append({"name": "HOME", "value": home})
    env += [env_var(name, text, f"spec.environment.items.{name}") for name, text in user]
    return env


def _resources(spec: dict[str, Any], gpus: GpuRequest) -> dict[str, Any]:
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    for kind, request_field, limit_field in (("cpu", "cpu", "cpuLimit"), ("memory", "memory", "memoryLimit")):
        request, limit = value_of(spec, request_field), value_of(spec, limit_field)
        if request is not None and limit is not None and parse_quantity(limit) < parse_quantity(request):
            raise PodSpecError(f"spec.{limit_field}: {limit} is less than {request_field} ({request}); "
                               f"raise {limit_field} or lower {request_field}")
        if request is not None:
            requests[kind] = str(request)
        if limit is not None:
            limits[kind] = str(limit)
    extended = {GPU_RESOURCE: str(gpus.devices)} if gpus.devices else {}
    if gpus.mig_profile is not None:
        extended[mig.resource_name(gpus.mig_profile)] = "1"
    for label, item in items_of(spec, "extendedResources"):
        if not item.get("resource"):
            raise PodSpecError(f"spec.extendedResources.items.{label}: resource is required, e.g. nvidia.com/mlnx_rdma")
        extended[str(item["resource"])] = str(item.get("quantity", 1))
    requests.update(extended)  # extended resources cannot be overcommitted: requests equal limits
    limits.update(extended)
    return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}


def _ports(spec: dict[str, Any]) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = []
    seen_ports: set[int] = set()
    seen_names: set[str] = set()
    for label, item in items_of(spec, "ports"):
        number = item.get("container")
        if number is None:
            raise PodSpecError(f"spec.ports.items.{label}: container is required; give the port the container "
                               "listens on")
        if number in seen_ports:
            continue
        seen_ports.add(number)
        port: dict[str, Any] = {"containerPort": number}
        name = str(item.get("name") or label)
        if len(name) <= 15 and _PORT_NAME.match(name) and name not in seen_names:
            port["name"] = name
            seen_names.add(name)
        ports.append(port)
    return ports


def _toleration(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: item[k] for k in ("operator", "key", "value", "effect") if item.get(k) is not None}
    if item.get("seconds") is not None:
        out["tolerationSeconds"] = item["seconds"]
    return out


def _pod_security(spec: dict[str, Any]) -> dict[str, Any]:
    security: dict[str, Any] = {}
    if value_of(spec, "runAsUser"):
        if value_of(spec, "runAsUid") is not None:
            security["runAsUser"] = value_of(spec, "runAsUid")
        if value_of(spec, "runAsGid") is not None:
            security["runAsGroup"] = value_of(spec, "runAsGid")
        security["runAsNonRoot"] = True
    text = value_of(spec, "supplementalGroups")
    if text:
        groups = []
        for word in re.split(r"[;,]", str(text)):
            if not word.strip():
                continue
            if not word.strip().isdigit():
                raise PodSpecError(f"spec.supplementalGroups.value: {word.strip()!r} is not a group id; write "
                                   "numeric ids separated by ';' or ',' (\"1000;2000\")")
            groups.append(int(word))
        if groups:
            security["supplementalGroups"] = list(dict.fromkeys(groups))
    return security


def _affinity(spec: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """podAffinity: keep this workload's pods on nodes that share the podAffinityTopology label's value."""
    if not value_of(spec, "podAffinity"):
        return {}
    topology = value_of(spec, "podAffinityTopology")
    if not topology:
        raise PodSpecError("spec.podAffinityTopology: required with podAffinity; give a node label key, "
                           "e.g. topology.kubernetes.io/zone")
    term = {"labelSelector": {"matchLabels": {WORKLOAD_NAME_LABEL: labels[WORKLOAD_NAME_LABEL]}},
            "topologyKey": str(topology)}
    if value_of(spec, "podAffinitySchedulingRule") == "Required":
        return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    preferred = [{"weight": 100, "podAffinityTerm": term}]
    return {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}}
