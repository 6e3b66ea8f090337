"""When a workload may start a pod again after failures: exponential back-off, as Kubernetes Jobs wait.

A pod that failed is replaced only after a pause that doubles with every failure of the workload: 10 s after
the first, 20 s after the second, ... at most 6 minutes, counted from when the last failed pod ended (Job
controller's `DefaultJobPodFailureBackOff` and `MaxJobPodFailureBackOff`). Everything is computed from the
pods as the API shows them, so a restarted controller waits exactly as long as the one before it would
have, and no sequence of failures can make a controller create pods faster than this allows.
"""

from __future__ import annotations

from typing import Any

from berth.api.types import epoch_seconds

Obj = dict[str, Any]

BASE_S = 10.0
CAP_S = 360.0


def delay(failures: int) -> float:
    """The pause before the next pod after `failures` failed pods (0 when none failed)."""
    if failures <= 0:
        return 0.0
    return min(BASE_S * 2 ** min(failures - 1, 16), CAP_S)


def finished_at(pod: Obj) -> float | None:
    """When a failed pod ended: its containers' latest finishedAt, else when it stopped being Ready, else
    when it was created."""
    status = pod.get("status") or {}
    times = [epoch_seconds(((s.get("state") or {}).get("terminated") or {}).get("finishedAt"))
             for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])]
    known = [t for t in times if t is not None]
    if known:
        return max(known)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready" and (when := epoch_seconds(condition.get("lastTransitionTime"))):
            return when
    return epoch_seconds((pod.get("metadata") or {}).get("creationTimestamp"))


def next_start(failed: list[Obj]) -> float | None:
    """The earliest time a new pod may start after these failed pods; None when there are none."""
    if not failed:
        return None
    ends = [t for t in (finished_at(p) for p in failed) if t is not None]
    return (max(ends) if ends else 0.0) + delay(len(failed))


def latest(failed: list[Obj]) -> Obj:
    """The failed pod that ended last (of a non-empty list)."""
    return max(failed, key=lambda p: (finished_at(p) or 0.0, (p.get("metadata") or {}).get("name") or ""))


def exit_summary(pod: Obj) -> str:
    """How a failed pod ended, in words: its container's exit code and reason, or the pod's reason."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated") or {}
        if terminated.get("exitCode"):
            text = f"container {container.get('name')} exited with code {terminated['exitCode']}"
            if terminated.get("reason"):
                text += f" ({terminated['reason']})"
            return text
    if status.get("reason"):
        return f"{status['reason']}: {status.get('message') or ''}".rstrip(": ")
    return "it failed"
