"""Whether a preempted workload ends instead of going back to the queue: `terminateAfterPreemption` and
`preemptionLimit`, the same for every kind that has them (interactive, training, distributed).

A preemption is counted once, on the workload, by whoever takes the pod (`berth.client.interruptions`
writes `status.preemptions` before the pod is deleted), so the count survives the pod. A pod the scheduler
has marked Preempted whose count has not arrived yet counts as one, so a workload that must end on its
first preemption never starts a replacement in between. Pure: workload and pods in, a verdict out.
"""

from __future__ import annotations

from berth.controllers.plan import Obj, value

PREEMPTED = "Preempted"
LIMIT_REACHED = "PreemptionLimitReached"


def preemptions(workload: Obj, pods: list[Obj]) -> int:
    """How many times the workload has been preempted so far."""
    counted = int((workload.get("status") or {}).get("preemptions") or 0)
    marked = any((p.get("status") or {}).get("reason") == PREEMPTED for p in pods)
    return max(counted, 1 if marked else 0)


def ended(workload: Obj, pods: list[Obj]) -> tuple[str, str] | None:
    """(reason, message) when the workload's preemptions end it as Failed, else None."""
    spec = workload.get("spec") or {}
    count = preemptions(workload, pods)
    if count == 0:
        return None
    if value(spec, "terminateAfterPreemption", False):
        return PREEMPTED, "preempted, and terminateAfterPreemption is true: the workload ends instead of waiting again"
    limit = value(spec, "preemptionLimit")
    if limit is not None and count >= int(limit):
        times = "once" if count == 1 else f"{count} times"
        return LIMIT_REACHED, (f"preempted {times}, which reaches its preemptionLimit ({limit}): the workload ends "
                               "instead of waiting again")
    return None
