"""A workload as the everyday commands show it: its row in `berth list` (CLI v1 and v2 columns), the
key/value block, pods and events of `berth describe`, and why it waits.

Everything is read from what the controllers and the scheduler already wrote (the workload's `status`:
phase, message, pod counts, GPUs, nodes, service URLs; each waiting pod's `PodScheduled` condition; the
Events), never recomputed, so the CLI says what kubectl and the UI say. Pure functions over plain dicts.
"""

from __future__ import annotations

import datetime
from typing import Any

from berth.api.projects import PROJECT_NAMESPACE_PREFIX
from berth.api.wellknown import ROLE_LABEL
from berth.cli.output import age, duration, number

Obj = dict[str, Any]

#: Phases after which a workload holds nothing (Run:ai's list shows "-" for their allocated GPUs).
FINISHED = ("Completed", "Failed", "TimedOut", "Stopped")
#: The pod a distributed workload's logs and shell default to, by framework (its role label).
LEAD_ROLES = ("master", "chief", "launcher")

V1_HEADERS = ("NAME", "STATUS", "AGE", "NODE", "TYPE", "GPUs Allocated (Requested)", "PODs Running (Pending)")
V1_WIDE = ("NAME", "STATUS", "AGE", "NODE", "IMAGE", "TYPE", "PROJECT", "USER", "GPUs Allocated (Requested)",
           "PODs Running (Pending)", "SERVICE URL(S)")
V2_HEADERS = ("WORKLOAD", "TYPE", "STATUS", "PROJECT", "PREEMPTIBLE", "RUNNING/REQUESTED PODS", "GPU ALLOCATION")


def value(spec: Obj, name: str, default: Any = None) -> Any:
    """A `{value: X}` field of a spec (jobType and other plain fields as they are)."""
    entry = spec.get(name)
    if isinstance(entry, dict):
        return entry.get("value", default) if entry.get("value") is not None else default
    return default if entry is None else entry


def spec_of(workload: Obj) -> Obj:
    return workload.get("spec") or {}


def status_of(workload: Obj) -> Obj:
    return workload.get("status") or {}


def project_of(workload: Obj) -> str:
    return (workload.get("metadata") or {}).get("namespace", "").removeprefix(PROJECT_NAMESPACE_PREFIX)


def framework(workload: Obj) -> str:
    """PyTorch, TF, MPI or XGBoost for a distributed workload (its jobType without Job)."""
    job_type = str(value(spec_of(workload), "jobType") or "PyTorchJob")
    return job_type.removesuffix("Job")


def v1_type(workload: Obj) -> str:
    """The TYPE column of `runai list`: Train, Interactive, Interactive-Preemptible, Inference, or the
    framework of a distributed training."""
    kind = workload.get("kind")
    if kind == "InteractiveWorkload":
        return "Interactive-Preemptible" if value(spec_of(workload), "preemptible") else "Interactive"
    if kind == "DistributedWorkload":
        return framework(workload)
    return {"TrainingWorkload": "Train", "InferenceWorkload": "Inference"}.get(str(kind), str(kind))


def v2_type(workload: Obj) -> str:
    """The Type column of CLI v2: Training, Workspace, Inference, or the framework."""
    kind = workload.get("kind")
    if kind == "DistributedWorkload":
        return framework(workload)
    return {"TrainingWorkload": "Training", "InteractiveWorkload": "Workspace",
            "InferenceWorkload": "Inference"}.get(str(kind), str(kind))


def preemptible(workload: Obj) -> bool:
    kind, spec = workload.get("kind"), spec_of(workload)
    if kind == "TrainingWorkload":
        return True
    if kind == "InteractiveWorkload":
        return bool(value(spec, "preemptible"))
    if kind == "DistributedWorkload":
        return not value(spec, "nonPreemptible")
    return False


def phase(workload: Obj) -> str:
    return status_of(workload).get("phase") or "Creating"


def node_column(workload: Obj) -> str:
    nodes = status_of(workload).get("nodes") or []
    return "-" if not nodes else nodes[0] if len(nodes) == 1 else "<multiple>"


def requested_gpus(workload: Obj) -> str:
    """What all its pods ask for, as the controller wrote it (`2`, `0.50`, `2 x 4G` for GPU memory)."""
    status = status_of(workload)
    return number(status.get("gpuRequest") or status.get("requestedGpus"))


def allocated_gpus(workload: Obj) -> str:
    """What its running pods hold; "-" once the workload has finished (Run:ai's list shows it so)."""
    return "-" if phase(workload) in FINISHED else number(status_of(workload).get("allocatedGpus") or 0)


def gpus_column(workload: Obj) -> str:
    return f"{allocated_gpus(workload)} ({requested_gpus(workload)})"


def pods_column(workload: Obj) -> str:
    status = status_of(workload)
    return f"{status.get('runningPods') or 0} ({status.get('pendingPods') or 0})"


def user(workload: Obj) -> str:
    return str(value(spec_of(workload), "username") or "-")


def v1_row(workload: Obj, *, wide: bool) -> list[str]:
    meta, status = workload.get("metadata") or {}, status_of(workload)
    if not wide:
        return [meta.get("name", ""), phase(workload), age(meta.get("creationTimestamp")), node_column(workload),
                v1_type(workload), gpus_column(workload), pods_column(workload)]
    return [meta.get("name", ""), phase(workload), age(meta.get("creationTimestamp")), node_column(workload),
            str(value(spec_of(workload), "image") or "-"), v1_type(workload), project_of(workload), user(workload),
            gpus_column(workload), pods_column(workload), ", ".join(status.get("serviceUrls") or []) or "-"]


def v2_row(workload: Obj) -> list[str]:
    status = status_of(workload)
    running, pending = status.get("runningPods") or 0, status.get("pendingPods") or 0
    return [(workload.get("metadata") or {}).get("name", ""), v2_type(workload), phase(workload),
            project_of(workload), "Yes" if preemptible(workload) else "No", f"{running}/{running + pending}",
            f"{allocated_gpus(workload)}/{requested_gpus(workload)}"]


# -- describe ------------------------------------------------------------------------------------------------

def _command_line(spec: Obj) -> str:
    return " ".join(str(part) for part in (value(spec, "command"), value(spec, "arguments") or value(spec, "args"))
                    if part) or "-"


def _created_by_cli(workload: Obj) -> bool:
    managers = {(entry or {}).get("manager") for entry in (workload.get("metadata") or {}).get("managedFields") or []}
    return "berth-cli" in managers


def _training_duration(status: Obj, now: datetime.datetime | None = None) -> str:
    start = status.get("startTime")
    if not start:
        return "-"
    begun = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
    end = status.get("completionTime")
    ended = (datetime.datetime.fromisoformat(end.replace("Z", "+00:00")) if end
             else now or datetime.datetime.now(datetime.UTC))
    return duration(max(int((ended - begun).total_seconds()), 0))


def fields(workload: Obj) -> list[tuple[str, str]]:
    """The key/value block of `runai describe job`, in its order; STATUS carries the phase's reason."""
    meta, spec, status = workload.get("metadata") or {}, spec_of(workload), status_of(workload)
    reason = status.get("reason")
    state = phase(workload) + (f" ({reason})" if reason and reason != phase(workload) else "")
    distributed = workload.get("kind") == "DistributedWorkload"
    return [
        ("NAME", meta.get("name", "")),
        ("NAMESPACE", meta.get("namespace", "")),
        ("KIND", str(workload.get("kind"))),
        ("TYPE", v1_type(workload)),
        ("STATUS", state),
        ("TRAINING DURATION", _training_duration(status)),
        ("GPUS", str(value(spec, "gpu") or value(spec, "gpuDevices") or value(spec, "gpuPortion") or "-")),
        ("TOTAL REQUESTED GPUS", requested_gpus(workload)),
        ("ALLOCATED GPUS", number(status.get("allocatedGpus") or 0)),
        ("ALLOCATED GPUS MEMORY", str(value(spec, "gpuMemory") or "-")),
        ("RUNNING PODS", str(status.get("runningPods") or 0)),
        ("PENDING PODS", str(status.get("pendingPods") or 0)),
        ("PARALLELISM", str(value(spec, "parallelism") or "-")),
        ("COMPLETIONS", str(value(spec, "completions") or "-")),
        ("SUCCEEDED PODS", str(status.get("succeededPods") or 0)),
        ("FAILED PODS", str(status.get("failedPods") or 0)),
        ("IS DISTRIBUTED WORKLOAD", "true" if distributed else "false"),
        ("CREATED BY CLI", "true" if _created_by_cli(workload) else "false"),
        ("SERVICE URL(S)", ", ".join(status.get("serviceUrls") or []) or "-"),
        ("COMMAND LINE", _command_line(spec)),
    ]


def _scheduled_condition(pod: Obj) -> Obj:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"), {})


def unplaced(pod: Obj) -> bool:
    """A pod the scheduler has not placed yet (and that is not being deleted or finished)."""
    return (not (pod.get("spec") or {}).get("nodeName") and not (pod.get("metadata") or {}).get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))


def waiting_reasons(workload: Obj, pods: list[Obj]) -> list[str]:
    """Why the workload, or some of its pods, wait: the workload's message while it is Pending (the scheduler's
    words, through the PodGroup), then each unplaced pod's PodScheduled=False message not already said."""
    status = status_of(workload)
    reasons: list[str] = []
    if phase(workload) in ("Pending", "Creating") and status.get("message"):
        reasons.append(str(status["message"]))
    for pod in pods:
        condition = _scheduled_condition(pod)
        if unplaced(pod) and condition.get("status") == "False" and condition.get("message"):
            message = str(condition["message"])
            if not any(message in said for said in reasons):
                reasons.append(f"pod {pod['metadata']['name']}: {message}")
    return reasons


def pod_status(pod: Obj) -> str:
    """A pod's state in one word: Terminating, a waiting container's reason (ContainerCreating, BackOff, ...),
    else its phase."""
    status = pod.get("status") or {}
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        reason = (state.get("waiting") or {}).get("reason")
        if reason:
            return str(reason)
    return str(status.get("phase") or "Pending")


def pod_row(workload: Obj, pod: Obj) -> list[str]:
    meta = pod.get("metadata") or {}
    role = (meta.get("labels") or {}).get(ROLE_LABEL)
    return [meta.get("name", ""), pod_status(pod).upper(), (role or v1_type(workload)).upper(),
            age(meta.get("creationTimestamp")), (pod.get("spec") or {}).get("nodeName") or "-"]


def _event_time(event: Obj) -> str:
    return (event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
            or (event.get("metadata") or {}).get("creationTimestamp") or "")


def event_row(event: Obj) -> list[str]:
    source = (event.get("source") or {}).get("component") or event.get("reportingComponent") or "-"
    involved = event.get("involvedObject") or {}
    about = f"{involved.get('kind', '').lower()}/{involved.get('name')}" if involved.get("kind") == "Pod" else ""
    count = event.get("count") or 1
    message = f"[{event.get('reason', '')}] " + (f"{about}: " if about else "") + str(event.get("message") or "")
    return [source, str(event.get("type") or "Normal"), age(_event_time(event) or None)
            + (f" (x{count})" if count > 1 else ""), message]


def sorted_events(events: list[Obj]) -> list[Obj]:
    """Oldest first; events of one second in the order they were written (their resourceVersion)."""
    def key(event: Obj) -> tuple[str, int]:
        version = str((event.get("metadata") or {}).get("resourceVersion") or "0")
        return _event_time(event), int(version) if version.isdigit() else 0

    return sorted(events, key=key)


def lead_pod(pods: list[Obj]) -> Obj | None:
    """The pod a command on the workload means when none is named: a distributed workload's master (chief,
    launcher), else the newest pod (a training's latest attempt)."""
    for pod in pods:
        if ((pod.get("metadata") or {}).get("labels") or {}).get(ROLE_LABEL) in LEAD_ROLES:
            return pod
    return pods[-1] if pods else None
