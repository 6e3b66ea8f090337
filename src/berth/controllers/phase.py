"""A workload's status as users see it: the phase (Run:ai notes, section 6.2), counts, GPUs, nodes and
conditions, derived from its plan and its pods.

The state machine, written once (`ALLOWED` is its table; `advance` keeps every write to it):

    Creating -> Pending -> Initializing -> Running <-> Degraded -> Completed | Failed | TimedOut
      (each may skip ahead: a pod placed and started between two looks goes from Creating to Running)
    any but Deleting and the terminal ones -> Stopped (active: false) -> Initializing (resumed) -> ...
    any -> Deleting (metadata.deletionTimestamp)

- Creating: the workload has no pods yet.
- Pending: pods exist, none is placed yet; the message says why (the scheduler's reason, from the
  PodGroup).
- Initializing: pods are placed, not all running; after a resume, until they run again.
- Running: as many pods running as the workload needs (an inference workload: its minScale; one scaling
  up stays Running while the new replicas start).
- Degraded: it has run, and now fewer pods run than it needs (a pod preempted, lost with its node, failed
  and waiting out its back-off, or a container restarting after a back-off: CrashLoopBackOff); the
  reason and message say which. A workload that has run never goes back to Pending or Initializing:
  what would be those is Degraded, with the same reason.
- Completed, Failed, TimedOut: terminal, decided by the plan; they never change again.
Phases only move forward along these arrows; the two-way Running <-> Degraded and Stopped -> Initializing
are the only ways back, and each has a reason that says what happened.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from berth.controllers.plan import Obj, Plan, is_active, meta, pod_phase, rfc3339

TERMINAL = ("Completed", "Failed", "TimedOut")
_RANK = {"Creating": 0, "Pending": 1, "Initializing": 2, "Running": 3, "Degraded": 3,
         "Completed": 4, "Failed": 4, "TimedOut": 4}
PHASES = (*_RANK, "Stopped", "Deleting")


def allowed(old: str | None, new: str) -> bool:
    """Whether a workload may go from phase `old` (None: no status yet) to `new` (the same phase: yes)."""
    if old is None or old == new:
        return True
    if old == "Deleting":
        return False
    if new == "Deleting":
        return True
    if old in TERMINAL:
        return False
    if new == "Stopped":
        return True
    if old == "Stopped":
        return new == "Initializing" or new in TERMINAL
    return _RANK[new] > _RANK[old] or {old, new} == {"Running", "Degraded"}


#: Every transition the machine allows, for the documentation and the tests.
ALLOWED = {(a, b) for a in PHASES for b in PHASES if a != b and allowed(a, b)}


def advance(old: str | None, new: str) -> str:
    """The phase to show when the pods say `new` and the workload was `old`: `new` when the move is
    allowed; else Degraded for a workload that has run, Initializing for one resumed from Stopped, and
    otherwise `old` (a glitch of observation never moves a phase back)."""
    if allowed(old, new):
        return new
    if old in ("Running", "Degraded") and new in ("Creating", "Pending", "Initializing"):
        return "Degraded"
    if old == "Stopped":
        return "Initializing"
    return old or new


def _pending_reason(pod_group: Obj | None) -> tuple[str, str]:
    status = (pod_group or {}).get("status") or {}
    for condition in status.get("schedulingConditions") or []:
        if condition.get("message"):
            return condition.get("reason") or "Unschedulable", condition["message"]
    return "Pending", "waiting for the scheduler to place the pods"


def _gpus(pod: Obj) -> Decimal:
    annotations = meta(pod).get("annotations") or {}
    if annotations.get("gpu-fraction"):
        return Decimal(annotations["gpu-fraction"])
    total = Decimal(0)
    for container in (pod.get("spec") or {}).get("containers") or []:
        limit = ((container.get("resources") or {}).get("limits") or {}).get("nvidia.com/gpu")
        if limit is not None:
            total += Decimal(str(limit))
    return total


def _crash_looping(pods: list[Obj]) -> str:
    """What says that a running pod's container keeps failing (restarted after a back-off); "" when none."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") == "CrashLoopBackOff":
                restarts = status.get("restartCount") or 0
                return (f"pod {meta(pod).get('name')}: container {status.get('name')} keeps failing and is "
                        f"restarted after a back-off ({restarts} restart{'s' if restarts != 1 else ''}); see "
                        f"kubectl logs {meta(pod).get('name')} --previous")
    return ""


def _starting(placed: list[Obj]) -> str:
    """Why placed pods are not running yet: a container that waits with a reason (as a kubelet's
    CreateContainerConfigError), else that they are starting."""
    for pod in placed:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") and waiting["reason"] not in ("ContainerCreating", "PodInitializing"):
                detail = f": {waiting['message']}" if waiting.get("message") else ""
                return f"pod {meta(pod).get('name')}: container {status.get('name')} {waiting['reason']}{detail}"
    return "pods are placed and starting"


def _number(amount: Decimal) -> int | float:
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def derive(workload: Obj, plan: Plan, pods: list[Obj], pod_group: Obj | None, *, now: float) -> dict[str, Any]:
    """The status to write (without conditions' timestamps kept from before: see `merge_conditions`)."""
    old = workload.get("status") or {}
    active = [p for p in pods if is_active(p)]
    running = [p for p in active if pod_phase(p) == "Running"]
    placed = [p for p in active if (p.get("spec") or {}).get("nodeName")]
    required = plan.desired_pods if plan.required_pods is None else plan.required_pods
    reason, message = "", ""
    if meta(workload).get("deletionTimestamp"):
        phase, reason, message = "Deleting", "Deleting", "the workload is being deleted"
    elif old.get("phase") in TERMINAL and not plan.phase:
        phase, reason, message = old["phase"], old.get("reason", ""), old.get("message", "")
    elif plan.phase:
        phase, reason, message = plan.phase, plan.reason, plan.message
    elif running and len(running) >= required and (looping := _crash_looping(running)):
        phase, reason, message = "Degraded", "CrashLoopBackOff", looping
    elif running and len(running) >= required:
        phase, reason = "Running", "Running"
        message = f"{len(running)} pod{'s' if len(running) != 1 else ''} running"
    elif running:  # some run: the rest are starting (Initializing) or, once it has run, missing (Degraded)
        phase = "Degraded" if old.get("phase") in ("Running", "Degraded") else "Initializing"
        reason, message = "NotAllPodsRunning", f"{len(running)} of {required} pods running"
    elif plan.waiting is not None:
        phase, (reason, message) = ("Pending" if not placed else "Initializing"), plan.waiting
    elif not pods:
        phase, reason, message = "Creating", "Creating", "creating the workload's pods"
    elif placed:
        phase, reason, message = "Initializing", "Initializing", _starting(placed)
    else:
        phase = "Pending"
        reason, message = _pending_reason(pod_group)
    shown = advance(old.get("phase"), phase)
    if shown != phase and shown in TERMINAL:  # an ended workload keeps the words it ended with
        reason, message = old.get("reason", ""), old.get("message", "")
    elif shown == "Degraded" and phase != "Degraded":
        message = f"{len(running)} of {required} pods running: {message}"
    phase = shown
    status: dict[str, Any] = {
        "phase": phase,
        "reason": reason,
        "message": message,
        "observedGeneration": meta(workload).get("generation", 1),
        "runningPods": len(running),
        "pendingPods": len([p for p in active if pod_phase(p) == "Pending"]),
        "succeededPods": len([p for p in pods if pod_phase(p) == "Succeeded"]),
        "failedPods": len([p for p in pods if pod_phase(p) == "Failed"]),
        "requestedGpus": _number(sum((_gpus(p) for p in active), Decimal(0))),
        "allocatedGpus": _number(sum((_gpus(p) for p in placed), Decimal(0))),
        "nodes": sorted({(p.get("spec") or {}).get("nodeName") for p in placed}),
    }
    if old.get("startTime") or running:
        status["startTime"] = old.get("startTime") or rfc3339(now)
    if phase in TERMINAL:
        status["completionTime"] = old.get("completionTime") or rfc3339(now)
    for kept in ("serviceUrls", "replicas", "readyReplicas", "lastActiveTime", "failedAttempts", "interruptions",
                 "lastInterruption", "preemptions", "completedIndexes", "gpuRequest"):
        if kept in old:
            status[kept] = old[kept]
    status["conditions"] = merge_conditions(old.get("conditions") or [], _conditions(phase, reason, message, placed,
                                                                                    active, running), now)
    return status


def _conditions(phase: str, reason: str, message: str, placed: list[Obj], active: list[Obj],
                running: list[Obj]) -> list[dict[str, str]]:
    scheduled = bool(active) and len(placed) == len(active)
    runs = phase == "Running" or (phase == "Degraded" and bool(running))  # Degraded with none running: waits
    return [
        {"type": "Scheduled", "status": "True" if scheduled or phase in ("Running", "Completed") else "False",
         "reason": "Scheduled" if scheduled else reason, "message": "" if scheduled else message},
        {"type": "Running", "status": "True" if runs else "False", "reason": reason,
         "message": message},
        {"type": "Completed", "status": "True" if phase == "Completed" else "False", "reason": reason,
         "message": message if phase == "Completed" else ""},
        {"type": "Failed", "status": "True" if phase in ("Failed", "TimedOut") else "False", "reason": reason,
         "message": message if phase in ("Failed", "TimedOut") else ""},
    ]


def merge_conditions(old: list[dict[str, Any]], new: list[dict[str, str]], now: float) -> list[dict[str, Any]]:
    """New conditions, keeping lastTransitionTime where a condition's status did not change."""
    before = {c.get("type"): c for c in old}
    merged = []
    for condition in new:
        previous = before.get(condition["type"])
        entry: dict[str, Any] = {k: v for k, v in condition.items() if v != ""}
        if previous is not None and previous.get("status") == condition["status"]:
            entry["lastTransitionTime"] = previous.get("lastTransitionTime") or rfc3339(now)
        else:
            entry["lastTransitionTime"] = rfc3339(now)
        merged.append(entry)
    return merged
