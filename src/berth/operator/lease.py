"""Leader election over a `coordination.k8s.io/v1` Lease: the pure part (what a replica may write, given what it
read), as client-go's leaderelection package decides it, so that Berth's replicas and any other Lease reader
agree on who leads.

A replica leads while it renews the Lease. Another replica takes the Lease only once it has seen the same
record, unchanged, for the Lease's whole duration on its own clock: renewTime is a wall-clock time written by
another machine and is only shown, never compared, so clock skew between machines cannot hand the Lease to two
replicas. Every write replaces the Lease at the resourceVersion read, so of two replicas writing at once one
is refused (409) and does not lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class Timing:
    """How long a Lease holds, how long a leader keeps trying to renew it, how often replicas try.

    The defaults make a takeover after a leader dies take at most duration + retry (12 s): a replica that has
    not renewed for `renew_deadline` stops acting before anyone else may take the Lease (duration > deadline).
    """

    duration_s: float = 10.0
    renew_deadline_s: float = 7.0
    retry_s: float = 2.0

    def problems(self) -> list[str]:
        """What is wrong with these timings (client-go's rules), each naming the option and the fix."""
        found = []
        if self.retry_s <= 0:
            found.append("--lease-retry must be above 0 seconds")
        if self.renew_deadline_s <= self.retry_s:
            found.append("--lease-renew-deadline must be longer than --lease-retry")
        if self.duration_s <= self.renew_deadline_s:
            found.append("--lease-duration must be longer than --lease-renew-deadline, or two replicas could act "
                         "at once")
        return found


def micro_time(at: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(lease: dict[str, Any] | None) -> tuple[Any, ...]:
    """What identifies one state of the Lease's holding: a change of any of it is a sign of life."""
    spec = (lease or {}).get("spec") or {}
    return (spec.get("holderIdentity") or "", spec.get("renewTime"), spec.get("leaseTransitions"),
            spec.get("leaseDurationSeconds"))


def holder(lease: dict[str, Any] | None) -> str:
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


def free(lease: dict[str, Any] | None, me: str, unchanged_for_s: float) -> bool:
    """Whether `me` may write itself into `lease`: no one holds it, `me` does, or its record has stood unchanged
    (as this replica has watched it) for longer than the duration the holder wrote."""
    held_by = holder(lease)
    if not held_by or held_by == me:
        return True
    duration = ((lease or {}).get("spec") or {}).get("leaseDurationSeconds") or 0
    return unchanged_for_s > float(duration)


def claimed(lease: dict[str, Any] | None, me: str, now: datetime, timing: Timing, namespace: str,
            name: str) -> dict[str, Any]:
    """The Lease as `me` writes it to take or renew it (at the read resourceVersion, when it was read)."""
    spec = dict((lease or {}).get("spec") or {})
    renewing = spec.get("holderIdentity") == me
    spec.update(holderIdentity=me, leaseDurationSeconds=max(1, round(timing.duration_s)), renewTime=micro_time(now))
    if not renewing:
        spec["acquireTime"] = micro_time(now)
        spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if lease is not None else 0)
    meta = dict((lease or {}).get("metadata") or {"name": name, "namespace": namespace})
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}


def released(lease: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The Lease as its holder leaves it when it stops: held by no one, so another replica takes it at once
    (as client-go's ReleaseOnCancel writes it)."""
    spec = {**(lease.get("spec") or {}), "holderIdentity": "", "leaseDurationSeconds": 1,
            "renewTime": micro_time(now)}
    spec.pop("acquireTime", None)
    return {**lease, "spec": spec}
