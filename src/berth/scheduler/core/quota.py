"""Quota rules: may this job's project (and department) hold this much more in this pool?

Two rules, checked for the project and then for its department, per node pool and per resource:
- maxAllowed caps everything the project holds there, preemptible or not;
- a non-preemptible job (interactive, inference, a distributed job marked nonPreemptible) may only use the
  deserved quota: the project's non-preemptible jobs together must stay within deserved in every resource
  that has one. Its preemptible jobs do not count (as in KAI-Scheduler: they may be evicted at any time, so
  they hold no claim on the quota); otherwise a notebook in a project whose training runs over quota would
  have to evict every over-quota training first, for GPUs the trainings give back to it anyway. A pool where
  the project has no quota is deserved 0, so only preemptible jobs run there (Run:ai's rule for node pools).
A project is over quota as soon as one resource is over.

Preemptible jobs may go beyond deserved into idle resources; they are what reclaim takes back. That is not a
rule here but the reason the rule above exists. `freed` lets preempt ask "would it fit after these evictions"
(of preemptible jobs: it changes what maxAllowed sees, never what the deserved rule sees).
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.scheduler.core.fairshare import EPS, INF
from berth.scheduler.core.resources import ZERO, Amount


@dataclass(frozen=True, slots=True)
class Limits:
    """A project's or department's quota in one pool, in the core's units (INF: none)."""

    deserved: tuple[float, float, float]
    max_allowed: tuple[float, float, float]


NO_LIMITS = Limits((INF, INF, INF), (INF, INF, INF))


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why quota refuses a job, with the numbers the message needs."""

    rule: str  # "maxAllowed" or "deserved" (then `used` is what non-preemptible jobs hold)
    scope: str  # "project" or "department"
    name: str
    pool: str
    dim: int
    limit: float
    used: float
    need: float


def check(preemptible: bool, pool: str, need: Amount,
          scopes: list[tuple[str, str, Limits, list[int], list[int]]], freed: Amount = ZERO) -> Refusal | None:
    """The first rule that refuses `need` more in `pool`, or None. `scopes` are (scope, name, limits, used,
    used by non-preemptible jobs)."""
    for scope, name, limits, used, np_used in scopes:
        for dim in range(3):
            if not need[dim]:
                continue
            after = used[dim] - freed[dim] + need[dim]
            cap = limits.max_allowed[dim]
            if cap != INF and after > cap + EPS:
                return Refusal("maxAllowed", scope, name, pool, dim, cap, used[dim] - freed[dim], need[dim])
            deserved = limits.deserved[dim]
            if not preemptible and deserved != INF and np_used[dim] + need[dim] > deserved + EPS:
                return Refusal("deserved", scope, name, pool, dim, deserved, np_used[dim], need[dim])
    return None
