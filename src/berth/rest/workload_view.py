"""A `run.ai` workload object as Run:ai's REST API shows it: the pure translation behind `GET /api/v1/workloads`.

Input is what the Kubernetes API returns (the workload, its pods, core Events) plus `Org`, the ids the
object does not carry (cluster, project, department); output is a dict in the shape of Run:ai's 2.18
schemas (`Workload`, `Pod`, `Event`, `HistoryRecord`), which `berth.rest.workload_models` describes.
Nothing here does I/O, so every rule is tested on dicts (tests/rest/test_workload_view.py).

Choices where Run:ai's record is silent (docs/rest.md, "Listing workloads", says them to users):
- `type` is the document's own name of the workload type (its PolicyType enum): workspace, training,
  distributed, inference.
- `phase` maps Berth's phases onto Run:ai's Phase enum (`PHASES`); `k8sPhase` is the object's own
  status.phase, unmapped (TimedOut stays TimedOut there).
- `phaseUpdatedAt` is the latest of the creation time, the conditions' transition times, the start and the
  completion time: Berth keeps no separate record of when the phase last changed.
- `submittedBy` is the workload's `spec.userId`, else `spec.username` (the `berth` CLI sets both); the API
  server keeps no creator on the object, so a workload applied as YAML without them has none.
- `source` is CLI when the `berth` CLI wrote the object, Control-plane when this REST API did, else Other
  (read from metadata.managedFields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from collections.abc import Iterable, Mapping
from typing import Any

from berth.api.priority import priority_class
from berth.api.types import amount
from berth.api.usage import pod_request, pool_of_node, pool_selector, pools_of

Obj = dict[str, Any]

#: Run:ai's workload type (the document's PolicyType names) of each kind.
TYPES = {"InteractiveWorkload": "workspace", "TrainingWorkload": "training",
         "DistributedWorkload": "distributed", "InferenceWorkload": "inference"}

#: Berth's workload phase -> Run:ai's Phase. Phases both have keep their name; TimedOut (an interactive
#: workload past its project's time limit) is Run:ai's Failed.
PHASES = {
    "Creating": "Creating", "Pending": "Pending", "Initializing": "Initializing", "Running": "Running",
    "Degraded": "Degraded", "Stopped": "Stopped", "Completed": "Completed", "Failed": "Failed",
    "TimedOut": "Failed", "Deleting": "Deleting", "Resuming": "Resuming", "Updating": "Updating",
    "Stopping": "Stopping", "Terminating": "Terminating", "Unknown": "Unknown",
}
#: The phase of a workload that has no status yet (just created; no controller has looked at it).
NEW_PHASE = "Creating"

#: Run:ai's DistributedFramework name of each jobType.
FRAMEWORKS = {"PyTorchJob": "PyTorch", "TFJob": "TF", "MPIJob": "MPI", "XGBoostJob": "XGBoost"}

#: Berth serves one tenant; Run:ai's schemas require its id.
TENANT_ID = 1

#: Field managers whose writes make a workload's `source`.
SOURCES = {"berth-cli": "CLI", "berth-rest": "Control-plane"}

#: Kinds whose REST path has suspend and resume in Run:ai 2.18.
SUSPENDABLE = ("InteractiveWorkload", "TrainingWorkload")

#: The component that writes a workload's phase changes as Events (berth.controllers.workloads).
PHASE_EVENT_SOURCE = "berth-controllers"


@dataclass(frozen=True)
class Org:
    """The ids of the cluster, project and department a workload belongs to."""

    cluster_id: str
    project_name: str
    project_id: str
    department_name: str
    department_id: str


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def scalar(spec: Obj, name: str) -> Any:
    """A scalar field's value (`{value: ...}`), None when unset."""
    entry = spec.get(name)
    return entry.get("value") if isinstance(entry, dict) else None


def runai_phase(phase: str | None) -> str:
    """Run:ai's phase for a Berth phase (None: no status yet); an unknown phase is Unknown."""
    return PHASES.get(phase or NEW_PHASE, "Unknown")


def is_template(obj: Obj) -> bool:
    """A workload of usage Template: a base for others that never runs, so not a workload Run:ai lists."""
    return (obj.get("spec") or {}).get("usage") == "Template"


def latest(*times: str | None) -> str | None:
    """The latest of RFC 3339 times as the API writes them (they sort as text); None when none is given."""
    given = [t for t in times if t]
    return max(given) if given else None


# -- resources -------------------------------------------------------------------------------------------------

def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return amount(value)
    except (ValueError, ArithmeticError, TypeError):
        return None


def _quantity_times(text: Any, times: int) -> str | None:
    """A quantity (`"4Gi"`) `times` over, in the same unit where it is a whole number of it."""
    if text is None:
        return None
    if times == 1:
        return str(text)
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text).strip())
    if match:
        try:
            return f"{_number(Decimal(match.group(1)) * times)}{match.group(2)}"
        except InvalidOperation:
            return None
    return None


def _cores(request: Decimal | None, limit: Decimal | None, times: int = 1) -> Obj | None:
    if request is None and limit is None:
        return None
    return {"request": None if request is None else _number(request * times),
            "limit": None if limit is None else _number(limit * times)}


def _memory(request: Any, limit: Any, times: int = 1) -> Obj | None:
    if request is None and limit is None:
        return None
    return {"request": _quantity_times(request, times), "limit": _quantity_times(limit, times)}


def pod_spec_resources(spec: Obj, times: int = 1) -> Obj:
    """Run:ai's WorkloadRequestResources for `times` pods made from a workload `spec` (times=1: one pod)."""
    gpu, devices = _amount(scalar(spec, "gpu")), _amount(scalar(spec, "gpuDevices"))
    gpu_memory, mig = scalar(spec, "gpuMemory"), scalar(spec, "migProfile")
    out: Obj = {}
    if mig:
        out["gpuRequestType"] = "migProfile"
        out["migProfile"] = [mig] * times
    elif gpu_memory:
        out["gpuRequestType"] = "memory"
        out["gpu"] = _cores(devices or Decimal(1), None, times)
        out["gpuMemory"] = _memory(gpu_memory, None, times)
    elif gpu is not None or devices is not None:
        out["gpuRequestType"] = "portion"
        per_pod = (gpu if gpu is not None else Decimal(1)) * (devices or Decimal(1))
        out["gpu"] = _cores(per_pod, _amount(scalar(spec, "gpuLimit")), times)
    cpu = _cores(_amount(scalar(spec, "cpu")), _amount(scalar(spec, "cpuLimit")), times)
    if cpu is not None:
        out["cpu"] = cpu
    memory = _memory(scalar(spec, "memory"), scalar(spec, "memoryLimit"), times)
    if memory is not None:
        out["cpuMemory"] = memory
    return out


def requested_pods(obj: Obj) -> Obj:
    """Run:ai's RequestedPods: how many pods the workload asks for, by kind."""
    spec, kind = obj.get("spec") or {}, obj.get("kind")
    if kind == "DistributedWorkload":
        workers = scalar(spec, "workers") or scalar(spec, "replicas")
        workers = 1 if workers is None else int(workers)
        out: Obj = {"number": workers + 1}
        if scalar(spec, "minReplicas") is not None:
            out["min"] = int(scalar(spec, "minReplicas")) + 1
        if scalar(spec, "maxReplicas") is not None:
            out["max"] = int(scalar(spec, "maxReplicas")) + 1
        return out
    if kind == "InferenceWorkload":
        low = scalar(spec, "minScale")
        low = 1 if low is None else int(low)
        high = scalar(spec, "maxScale")
        replicas = (obj.get("status") or {}).get("replicas")
        return {"number": low if replicas is None else int(replicas), "min": low,
                "max": low if high is None else int(high)}
    if kind == "TrainingWorkload":
        parallelism, completions = scalar(spec, "parallelism"), scalar(spec, "completions")
        return {"number": int(parallelism or 1), "parallelism": int(parallelism or 1),
                "completions": int(completions or 1)}
    return {"number": 1}


def _pods_total(pods: list[Obj]) -> Obj:
    """CPU (cores) and memory (bytes) of `pods` added up, as Run:ai's allocated resources."""
    cpu = sum(pod_request(p).cpu for p in pods)
    memory = sum(pod_request(p).memory for p in pods)
    return {"cpu": _number(Decimal(cpu) / 1000), "cpuMemory": f"{memory}Mi"}


def _nodes(pods: list[Obj]) -> list[str]:
    return [str((p.get("spec") or {}).get("nodeName")) for p in pods]


def _placed(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if (p.get("spec") or {}).get("nodeName")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


# -- the workload ----------------------------------------------------------------------------------------------

def source(obj: Obj) -> str:
    """CLI, Control-plane or Other: who created the object, as its first field manager says."""
    for entry in _meta(obj).get("managedFields") or []:
        found = SOURCES.get(str((entry or {}).get("manager") or ""))
        if found:
            return found
    return "Other"


def submitted_by(obj: Obj) -> str | None:
    spec = obj.get("spec") or {}
    found = scalar(spec, "userId") or scalar(spec, "username")
    return str(found) if found else None


def _life_times(obj: Obj) -> list[str | None]:
    """The times an object's life says something happened: created, deleted, started, completed, and each
    condition's transition."""
    meta, status = _meta(obj), obj.get("status") or {}
    return [meta.get("creationTimestamp"), meta.get("deletionTimestamp"), status.get("startTime"),
            status.get("completionTime"), *[c.get("lastTransitionTime") for c in status.get("conditions") or []]]


def updated_at(obj: Obj) -> str:
    """When the object last changed, as far as it tells: its field managers' times and its status times."""
    managed = [(e or {}).get("time") for e in _meta(obj).get("managedFields") or []]
    return latest(*_life_times(obj), *managed) or ""


def phase_updated_at(obj: Obj) -> str:
    return latest(*_life_times(obj)) or ""


def conditions(obj: Obj) -> list[Obj]:
    out = []
    for c in (obj.get("status") or {}).get("conditions") or []:
        entry: Obj = {"type": str(c.get("type") or ""), "status": str(c.get("status") or "Unknown"),
                      "lastTransitionTime": c.get("lastTransitionTime")}
        for key in ("message", "reason"):
            if c.get(key):
                entry[key] = str(c[key])
        out.append(entry)
    return out


def images(obj: Obj) -> list[str]:
    found = [scalar(obj.get("spec") or {}, "image"), scalar(obj.get("masterSpec") or {}, "image")]
    return list(dict.fromkeys(str(i) for i in found if i))


def node_pools(spec: Obj) -> list[str]:
    text = scalar(spec, "nodePools") or scalar(spec, "nodePool") or ""
    return [p for p in str(text).replace(",", " ").split() if p]


def workload(obj: Obj, org: Org, pods: list[Obj] | None = None, pools: Mapping[str, str] | None = None) -> Obj:
    """Run:ai's `Workload` for a workload object; `pods` (its pods, when read) give the CPU and memory its
    placed pods hold, and with `pools` (node name -> its node pool) the pools they run in."""
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    kind = str(obj.get("kind") or "")
    priority, preemptibility = priority_class(obj)
    counts = requested_pods(obj)
    per_pod = pod_spec_resources(spec)
    total = pod_spec_resources(spec, counts.get("number") or 1)
    if status.get("requestedGpus") is not None and per_pod.get("gpuRequestType") == "portion":
        total["gpu"] = {**(total.get("gpu") or {}), "request": status["requestedGpus"]}
    allocated: Obj = {"gpu": status.get("allocatedGpus") or 0}
    if pods is not None:
        allocated.update(_pods_total(_placed(pods)))
    out: Obj = {
        "type": TYPES.get(kind, kind),
        "name": str(meta.get("name") or ""),
        "id": str(meta.get("uid") or ""),
        "source": source(obj),
        "priorityClassName": priority,
        "clusterId": org.cluster_id,
        "projectName": org.project_name,
        "projectId": org.project_id,
        "departmentName": org.department_name,
        "departmentId": org.department_id,
        "namespace": str(meta.get("namespace") or ""),
        "createdAt": meta.get("creationTimestamp"),
        "phase": runai_phase(status.get("phase")),
        "phaseMessage": status.get("message") or None,
        "k8sPhase": str(status.get("phase") or NEW_PHASE),
        "conditions": conditions(obj),
        "tenantId": TENANT_ID,
        "runningPods": int(status.get("runningPods") or 0),
        "requestedPods": counts,
        "phaseUpdatedAt": phase_updated_at(obj),
        "k8sPhaseUpdatedAt": phase_updated_at(obj),
        "updatedAt": updated_at(obj),
        "deletedAt": meta.get("deletionTimestamp"),
        "completedAt": status.get("completionTime"),
        "submittedBy": submitted_by(obj),
        "workloadRequestedResources": total,
        "podsRequestedResources": per_pod,
        "allocatedResources": allocated,
        "actionsSupport": {"delete": True, "suspend": kind in SUSPENDABLE},
        "requestedNodePools": node_pools(spec),
        "currentNodePools": sorted({pools[n] for n in _nodes(_placed(pods or [])) if n in (pools or {})}),
        "images": images(obj),
        "urls": list(status.get("serviceUrls") or []),
        "preemptible": preemptibility == "preemptible",
    }
    if kind == "DistributedWorkload" and spec.get("jobType") in FRAMEWORKS:
        out["distributedFramework"] = FRAMEWORKS[spec["jobType"]]
    return out


# -- pods ------------------------------------------------------------------------------------------------------

def _container_started(pod: Obj, name: str) -> str | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == name:
            state = status.get("state") or {}
            return (state.get("running") or state.get("terminated") or {}).get("startedAt")
    return None


def _pod_completed(pod: Obj) -> str | None:
    status = pod.get("status") or {}
    if status.get("phase") not in ("Succeeded", "Failed"):
        return None
    ends = [((s.get("state") or {}).get("terminated") or {}).get("finishedAt")
            for s in status.get("containerStatuses") or []]
    return latest(*ends) or latest(*[c.get("lastTransitionTime") for c in status.get("conditions") or []])


def _pod_resources(pod: Obj) -> Obj:
    asked = pod_request(pod)
    out: Obj = {}
    if asked.mig:
        out["gpuRequestType"] = "migProfile"
        out["migProfile"] = asked.mig[0][0]
    elif asked.gpu_memory:
        out["gpuRequestType"] = "memory"
        out["gpu"] = {"request": asked.gpu_devices}
        out["gpuMemory"] = {"request": f"{asked.gpu_memory}Mi"}
    elif asked.gpus or asked.gpu_fraction:
        out["gpuRequestType"] = "portion"
        out["gpu"] = {"request": asked.gpus or _number(Decimal(str(asked.gpu_fraction)) * asked.gpu_devices)}
    if asked.cpu:
        out["cpu"] = {"request": _number(Decimal(asked.cpu) / 1000)}
    if asked.memory:
        out["cpuMemory"] = {"request": f"{asked.memory}Mi"}
    return out


def pod(obj: Obj, owner: Obj, org: Org, pools: Mapping[str, str] | None = None) -> Obj:
    """Run:ai's `Pod` for one of a workload's pods (`owner`), with the verbose fields (projectName,
    workloadName) always given; `pools` (node name -> its node pool) gives the pool it runs in."""
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    requested = _pod_resources(obj)
    placed = bool(spec.get("nodeName")) and status.get("phase") not in ("Succeeded", "Failed")
    allocated: Obj | None = None
    if placed:
        allocated = {"gpu": (requested.get("gpu") or {}).get("request") or 0,
                     "cpu": (requested.get("cpu") or {}).get("request"),
                     "cpuMemory": (requested.get("cpuMemory") or {}).get("request")}
    return {
        "name": str(meta.get("name") or ""),
        "priorityClassName": str(spec.get("priorityClassName") or priority_class(owner)[0]),
        "id": str(meta.get("uid") or ""),
        "workloadId": str(_meta(owner).get("uid") or ""),
        "clusterId": org.cluster_id,
        "projectId": org.project_id,
        "nodeName": spec.get("nodeName"),
        "currentNodePool": (pools or {}).get(str(spec.get("nodeName"))) if placed else None,
        "createdAt": meta.get("creationTimestamp"),
        "completedAt": _pod_completed(obj),
        "containers": [{"name": str(c.get("name") or ""), "image": str(c.get("image") or ""),
                        "startedAt": _container_started(obj, str(c.get("name") or ""))}
                       for c in spec.get("containers") or []],
        "requestedNodePools": pools_of(obj),
        "requestedResources": requested,
        "allocatedResources": allocated,
        "tolerations": [{k: t[k] for k in ("key", "operator", "value", "effect", "tolerationSeconds") if k in t}
                        for t in spec.get("tolerations") or []],
        "k8sPhase": str(status.get("phase") or "Pending"),
        "tenantId": TENANT_ID,
        "k8sPhaseUpdatedAt": latest(meta.get("creationTimestamp"), status.get("startTime"),
                                    *[c.get("lastTransitionTime") for c in status.get("conditions") or []]) or "",
        "updatedAt": latest(meta.get("creationTimestamp"), meta.get("deletionTimestamp"), status.get("startTime"),
                            *[(e or {}).get("time") for e in meta.get("managedFields") or []],
                            *[c.get("lastTransitionTime") for c in status.get("conditions") or []]) or "",
        "deletedAt": meta.get("deletionTimestamp"),
        "projectName": org.project_name,
        "workloadName": str(_meta(owner).get("name") or ""),
    }


def node_pools_of(nodes: Iterable[Obj], node_pools: Iterable[Obj]) -> dict[str, str]:
    """Node name -> the node pool it is in, from the Node and NodePool objects."""
    selectors = [pool_selector(p) for p in node_pools]
    return {str(_meta(n).get("name")): pool_of_node(_meta(n).get("labels") or {}, selectors) for n in nodes}


# -- events and history ----------------------------------------------------------------------------------------

def event_time(ev: Obj) -> str:
    """When an Event last happened: lastTimestamp, else eventTime, firstTimestamp, creationTimestamp."""
    return str(ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp")
               or _meta(ev).get("creationTimestamp") or "")


def event(ev: Obj, cluster_id: str) -> Obj:
    """Run:ai's `Event` for a core/v1 Event."""
    involved = ev.get("involvedObject") or {}
    source_of = (ev.get("source") or {}).get("component") or ev.get("reportingController") or ""
    out: Obj = {"createdAt": event_time(ev), "id": str(_meta(ev).get("uid") or ""),
                "type": str(ev.get("type") or "Normal"), "clusterId": cluster_id,
                "message": str(ev.get("message") or ""), "reason": str(ev.get("reason") or ""),
                "source": str(source_of),
                "involvedObject": {"uid": str(involved.get("uid") or ""), "kind": str(involved.get("kind") or ""),
                                   "name": str(involved.get("name") or ""),
                                   "namespace": str(involved.get("namespace") or "")}}
    if not out["id"]:
        del out["id"]
    return out


def phase_of_event(ev: Obj, owner_uid: str) -> tuple[str, str] | None:
    """(Berth phase, message) when `ev` records a phase change of the workload `owner_uid`: the workload
    controller writes one per change, its message "<Phase>: <message>"; else None."""
    if (ev.get("involvedObject") or {}).get("uid") != owner_uid:
        return None
    if ((ev.get("source") or {}).get("component") or ev.get("reportingController")) != PHASE_EVENT_SOURCE:
        return None
    head, _, rest = str(ev.get("message") or "").partition(": ")
    return (head, rest) if head in PHASES else None


def history(obj: Obj, events: list[Obj], cluster_id: str) -> list[Obj]:
    """Run:ai's `HistoryRecords` of a workload, oldest first: each phase change the workload controller
    recorded as an Event (a PhaseUpdate), every other Event of the workload and its pods (an Event), and the
    current phase when no recorded change shows it yet."""
    uid = str(_meta(obj).get("uid") or "")
    records: list[Obj] = []
    for ev in events:
        change = phase_of_event(ev, uid)
        if change is None:
            records.append({"meta": {"creationTimestamp": event_time(ev), "type": "Event"},
                            "spec": {"event": event(ev, cluster_id)}})
            continue
        first = str(ev.get("firstTimestamp") or event_time(ev))
        update = {"phase": runai_phase(change[0]), "phaseMessage": change[1]}
        records.append({"meta": {"creationTimestamp": first, "type": "PhaseUpdate"}, "spec": {"phaseUpdate": update}})
    status = obj.get("status") or {}
    now = {"phase": runai_phase(status.get("phase")), "phaseMessage": str(status.get("message") or "")}
    updates = [r for r in records if r["meta"]["type"] == "PhaseUpdate"]
    last = max((r["meta"]["creationTimestamp"] for r in updates), default=None)
    # events carry whole seconds: of two changes in one second, either may be the later one
    shown_last = {r["spec"]["phaseUpdate"]["phase"] for r in updates if r["meta"]["creationTimestamp"] == last}
    if now["phase"] not in shown_last:
        records.append({"meta": {"creationTimestamp": phase_updated_at(obj), "type": "PhaseUpdate"},
                        "spec": {"phaseUpdate": now}})
    return sorted(records, key=lambda r: r["meta"]["creationTimestamp"])
