"""Interruptions: a workload's pod taken away from it (preempted, reclaimed by another project, lost with its
node), recorded where users look, on the workload itself.

The pod that was interrupted is deleted or replaced, and its events go with it; the workload stays. So every
component that interrupts a pod (the scheduler when it evicts, a node agent when it loses a pod with its
node) calls `record_interruption` once, and nothing else writes these:
- a Warning Event on the pod's controlling workload (reason Preempted, Reclaimed or NodeLost) whose message
  says which pod, who took its GPUs and why;
- `status.interruptions` (+1) and `status.lastInterruption` (the same message) on that workload, and for a
  preemption (Preempted or Reclaimed, not NodeLost) `status.preemptions` (+1), which the workload's
  `terminateAfterPreemption` and `preemptionLimit` read; written with its resourceVersion, again on a
  Conflict (the workload controller writes status too, and keeps these fields: `berth.controllers.phase`).

A pod is counted at most once: not when it already carries the condition DisruptionTarget=True, which the
scheduler puts on a pod it evicts (the caller records first, then marks the pod), so a terminating pod seen
again is not counted again. A pod with no workload (a bare pod, a pod of another controller) and a workload
gone meanwhile are no error: there is nothing to record then.
"""

from __future__ import annotations

import logging
from typing import Any

from berth.api.registry import WORKLOADS
from berth.client.client import Client
from berth.client.errors import Conflict, NotFound

log = logging.getLogger(__name__)

Obj = dict[str, Any]

WORKLOAD_KINDS = frozenset(k.kind for k in WORKLOADS)
REASONS = ("Preempted", "Reclaimed", "NodeLost")
PREEMPTIONS = ("Preempted", "Reclaimed")  # the scheduler took the pod's resources for another workload
ATTEMPTS = 10


def workload_of(pod: Obj) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the workload that controls the pod, or None."""
    meta = pod.get("metadata") or {}
    for owner in meta.get("ownerReferences") or []:
        if owner.get("controller") and owner.get("kind") in WORKLOAD_KINDS and owner.get("name"):
            return owner["kind"], meta.get("namespace") or "", owner["name"]
    return None


def already_interrupted(pod: Obj) -> bool:
    return any(c.get("type") == "DisruptionTarget" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


async def record_interruption(client: Client, pod: Obj, *, reason: str, message: str,
                              component: str | None = None) -> None:
    """Record on the pod's workload that the pod was taken away: an Event and the count (see the module
    docstring). `reason` is one of `REASONS`; `message` names the pod, who took its GPUs and why."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}, not {reason!r}")
    owner = workload_of(pod)
    if owner is None or already_interrupted(pod):
        return
    kind, namespace, name = owner
    for _ in range(ATTEMPTS):
        try:
            workload = await client.get(kind, name, namespace)
            status = dict(workload.get("status") or {})
            status["interruptions"] = int(status.get("interruptions") or 0) + 1
            status["lastInterruption"] = message
            if reason in PREEMPTIONS:
                status["preemptions"] = int(status.get("preemptions") or 0) + 1
            await client.update_status({**workload, "status": status})
            break
        except Conflict:
            continue
        except NotFound:
            return
    else:
        log.warning("could not count an interruption of %s %s/%s: its status kept changing", kind, namespace, name)
    await client.create_event(workload, reason, message, type="Warning", component=component)
