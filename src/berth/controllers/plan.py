"""What a workload should have now, given what it has: the common shape of every kind's plan.

A plan is computed from the workload and its observed pods only (no I/O), so it can be tested as a table
of situations, and so a controller restarted at any point computes the same plan again: pods are named
deterministically, and a pod already there is never created twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from berth.api.priority import PRIORITY_CLASSES
from berth.api.types import epoch_seconds
from berth.controllers.podspec import WORKLOAD_KIND_LABEL, WORKLOAD_NAME_LABEL

Obj = dict[str, Any]

#: Labels every pod and object made for a workload carries (the controllers' selectors; set by podspec).
WORKLOAD_NAME = WORKLOAD_NAME_LABEL
WORKLOAD_KIND = WORKLOAD_KIND_LABEL
ROLE = "run.ai/role"
INDEX = "run.ai/index"
POD_GROUP_ANNOTATION = "pod-group-name"  # as KAI-Scheduler's pod-grouper names it
NODE_POOLS_ANNOTATION = "run.ai/node-pools"  # on PodGroups and pods: the pools the workload names, in order

PRIORITY = PRIORITY_CLASSES  # the one table of priority classes, which the scheduler reads too


@dataclass
class Plan:
    """The gap between a workload and the world, and how it looks from outside."""

    create: list[Obj] = field(default_factory=list)  # pods to create (full manifests)
    delete: list[str] = field(default_factory=list)  # names of pods to delete
    objects: list[Obj] = field(default_factory=list)  # Services, ConfigMaps, PVCs that must exist
    min_member: int = 1  # the gang size for the PodGroup
    desired_pods: int = 1  # pods the workload should be running when all is well
    #: Pods that must run for the workload to be Running rather than Degraded (None: desired_pods). An
    #: inference workload scaling up is not degraded while its new replicas start.
    required_pods: int | None = None
    #: Set when the plan decides the outcome itself (Completed, Failed, TimedOut, Stopped); else derived from pods.
    phase: str = ""
    reason: str = ""
    message: str = ""
    #: Why the workload runs fewer pods than it wants when the plan knows it better than the pods do (a
    #: back-off before a retry): (reason, message).
    waiting: tuple[str, str] | None = None
    #: Seconds after which the workload must be looked at again (a time limit, an auto-deletion), if any.
    requeue_after: float | None = None
    delete_workload: bool = False  # autoDeletionTimeAfterCompletionSeconds has passed
    #: Status fields only the kind knows (an inference workload's replicas, a training's failed attempts).
    status_extra: dict[str, Any] = field(default_factory=dict)


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def pod_phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def attempt_of(pod: Obj) -> int:
    """The attempt number a pod's name ends with (`<workload>-<index>-<attempt>`), -1 when none."""
    tail = meta(pod)["name"].rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def is_finished(pod: Obj) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    """A pod that is, or may become, running (not finished, not being deleted)."""
    return not is_finished(pod) and not meta(pod).get("deletionTimestamp")


def value(spec: Obj, name: str, default: Any = None) -> Any:
    """The value of a wrapped scalar field of a spec (`{value: X}`), or `default`."""
    entry = spec.get(name)
    if isinstance(entry, dict) and entry.get("value") is not None:
        return entry["value"]
    return default


def timestamp(text: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time as the API writes it, or None."""
    return epoch_seconds(text)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def duration_seconds(text: str) -> float:
    """Seconds in a duration like "90s", "1h30m", "250ms" (the API's Duration fields)."""
    total = 0.0
    for number, unit in re.findall(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)", text):
        total += float(number) * _UNITS[unit]
    return total
