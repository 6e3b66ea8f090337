"""Fair share: how much of each node pool every department and project should have right now.

Computed at the start of every cycle, per node pool and per resource, top down (departments, then the projects
of each department), by a water-fill:
1. everyone gets its deserved quota, but no more than it asks for (what it runs plus what it waits for) and no
   more than its maxAllowed; if those add up to more than there is, they are scaled down alike (a department
   whose projects' quotas add up to more than its own gives them its own);
2. what is left is poured into the entries that still ask for more, in proportion to their over-quota weight
   (in proportion to deserved when no entry at that level sets a weight; a missing weight among set ones
   counts 1), each capped at what it asks for; what a capped entry does not take flows on to the others.
So with quotas 3 and 1 and 8 idle GPUs both asking for everything, the fair shares are 9 and 3 (75 % / 25 %).

Priority (KAI-Scheduler's queue priority, default 100): step 2 serves the entries of the highest priority first,
and only what they do not take flows to the next priority down; deserved quotas (step 1) are not affected. So
a priority-200 project that asks for every idle GPU gets them all, and a priority-100 project keeps its
deserved quota and nothing more: that is also what reclaim leaves it, since reclaim works up to fair shares.

Time-based fair share (`timeshare`): with a usage u per entry (its share of the cluster's recent capacity) and
a factor k > 0, each round of step 2 pours by max(0, w + k (w - u)), w being the entry's weight over the
weights of the entries of its priority still asking, instead of by the weight alone.

A resource for which an entry has no deserved quota (UNLIMITED, the default for CPU and memory) is not kept
for it: its fair share is infinite and it never makes the entry over quota. The result is read-only; the
ordering of projects (allocated / fair share) and reclaim (who is above its fair share) use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from berth.scheduler.core.resources import quota_milli
from berth.scheduler.core.snapshot import DEFAULT_QUEUE_PRIORITY, UNLIMITED, Quota

INF = math.inf
EPS = 1e-9


@dataclass(slots=True)
class Entry:
    """One department or project in one pool and one resource, in the core's units."""

    deserved: float  # INF when not kept
    request: float
    cap: float  # INF when no maxAllowed
    weight: float | None
    priority: int = DEFAULT_QUEUE_PRIORITY
    usage: float = 0.0  # recent usage as a share of the cluster (time-based fair share only)


def water_fill(total: float, entries: list[Entry], k: float = 0.0) -> list[float]:
    """Shares of `total` for `entries`: deserved first, then what is left by priority and weight (and usage when
    `k` > 0), each capped by its ask."""
    limits = [min(e.request, e.cap) for e in entries]
    share = [min(e.deserved, lim) for e, lim in zip(entries, limits)]
    given = sum(share)
    if given > total + EPS:
        scale = total / given if given > 0 else 0.0
        return [s * scale for s in share]
    remaining = total - given
    explicit = any(e.weight is not None for e in entries)
    if explicit:
        weights = [e.weight if e.weight is not None else 1.0 for e in entries]
    else:
        weights = [e.deserved if e.deserved != INF else 0.0 for e in entries]
    usage = [e.usage for e in entries] if k > 0 else None
    levels = sorted({e.priority for e in entries}, reverse=True)
    for level in levels:
        if remaining <= EPS:
            break
        members = [i for i, e in enumerate(entries) if e.priority == level] if len(levels) > 1 else None
        remaining = _pour(remaining, share, limits, weights, members, usage, k)
    for level in levels:  # the weighted ones are all served: zero-weight entries share what is left alike
        if remaining <= EPS:
            break
        members = [i for i, e in enumerate(entries) if e.priority == level] if len(levels) > 1 else None
        remaining = _pour(remaining, share, limits, [1.0] * len(entries), members, usage, k)
    return share


def _pour(remaining: float, share: list[float], limits: list[float], weights: list[float],
          members: list[int] | None = None, usage: list[float] | None = None, k: float = 0.0) -> float:
    """Progressive filling: `remaining` by weight into entries (of `members`, default all) below their limit;
    returns what is left. With `usage`, each round's weights are the time-based ones (module docstring)."""
    candidates = range(len(share)) if members is None else members
    active = [i for i in candidates if weights[i] > 0 and limits[i] > share[i] + EPS]
    while remaining > EPS and active:
        effective = weights if usage is None else _time_based(weights, usage, k, active)
        total_weight = sum(effective[i] for i in active)
        if total_weight <= 0:  # cannot happen with usages that sum to at most 1; plain weights then
            effective, total_weight = weights, sum(weights[i] for i in active)
        full = [i for i in active if limits[i] - share[i] <= remaining * effective[i] / total_weight + EPS]
        if not full:
            for i in active:
                share[i] += remaining * effective[i] / total_weight
            return 0.0
        for i in full:
            remaining -= limits[i] - share[i]
            share[i] = limits[i]
        full_set = set(full)
        active = [i for i in active if i not in full_set]
    return remaining


def _time_based(weights: list[float], usage: list[float], k: float, active: list[int]) -> dict[int, float]:
    """KAI's share weights: max(0, w + k (w - u)) with w normalized over the entries still asking."""
    total = sum(weights[i] for i in active)
    out = {}
    for i in active:
        w = weights[i] / total if total > 0 else 0.0
        out[i] = max(0.0, w + k * (w - usage[i]))
    return out


def _entry(quota: Quota | None, dim: int, request: float) -> Entry:
    if quota is None:
        return Entry(0.0, request, INF, None)
    deserved = INF if quota.deserved == UNLIMITED else quota_milli(dim, quota.deserved)
    cap = INF if quota.max_allowed == UNLIMITED else quota_milli(dim, quota.max_allowed)
    return Entry(deserved, request, cap, quota.over_quota_weight)


@dataclass
class FairShare:
    """Fair shares in the core's units, per (project, pool) and (department, pool), and over all pools."""

    project: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    department: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    project_total: dict[str, list[float]] = field(default_factory=dict)
    department_total: dict[str, list[float]] = field(default_factory=dict)

    def of(self, project: str, pool: str) -> list[float]:
        return self.project.get((project, pool)) or [0.0, INF, INF]


def compute(
    capacity: dict[str, tuple[int, int, int]],
    project_quota: dict[tuple[str, str], list[Quota | None]],
    department_quota: dict[tuple[str, str], list[Quota | None]],
    members: dict[str, list[str]],
    requested: dict[tuple[str, str], list[int]],
    priority: dict[str, int] | None = None,
    usage: dict[str, list[float]] | None = None,
    k: float = 0.0,
) -> FairShare:
    """Fair shares for every pool of `capacity`.

    `project_quota[(project, pool)]` and `department_quota[(department, pool)]` give the gpu/cpu/memory quota
    (None for a department: the sum of its projects'); `members` maps departments to their projects;
    `requested[(project, pool)]` is what the project runs plus waits for there, in the core's units.
    `priority` gives projects' and departments' priorities (one namespace of names per level is enough: keys
    are looked up as `project` and `department:<name>`; default 100); `usage` each project's recent usage
    (a department's is its projects' sum) for the time-based fair share with factor `k` (off when k is 0).
    """
    priority = priority or {}
    if not usage or k <= 0:
        usage, k = {}, 0.0
    dept_usage = {d: [sum(usage.get(p, _ZERO_USAGE)[dim] for p in ps) for dim in range(3)]
                  for d, ps in members.items()} if usage else {}
    result = FairShare()
    for pool, cap in capacity.items():
        for dim in range(3):
            depts = sorted(members)
            dept_entries = []
            child_entries: dict[str, list[Entry]] = {}
            for dept in depts:
                children = [_entry(project_quota.get((p, pool), _ZERO_QUOTAS)[dim], dim,
                                   requested.get((p, pool), _NONE)[dim]) for p in members[dept]]
                for p, child in zip(members[dept], children):
                    child.priority = priority.get(p, DEFAULT_QUEUE_PRIORITY)
                    if usage:
                        child.usage = usage.get(p, _ZERO_USAGE)[dim]
                own = department_quota.get((dept, pool), _NONE_QUOTAS)[dim]
                request = sum(c.request for c in children)
                if own is not None and own.deserved != UNLIMITED:
                    entry = _entry(own, dim, request)
                else:
                    entry = Entry(sum(c.deserved for c in children), request,
                                  INF if own is None or own.max_allowed == UNLIMITED
                                  else quota_milli(dim, own.max_allowed),
                                  own.over_quota_weight if own is not None else None)
                entry.priority = priority.get(DEPARTMENT_KEY + dept, DEFAULT_QUEUE_PRIORITY)
                if usage:
                    entry.usage = dept_usage[dept][dim]
                child_entries[dept] = children
                dept_entries.append(entry)
            dept_shares = water_fill(float(cap[dim]), dept_entries, k)
            for dept, entry, share in zip(depts, dept_entries, dept_shares):
                _put(result.department, (dept, pool), dim, INF if entry.deserved == INF else share)
                children = child_entries[dept]
                for project, child, child_share in zip(members[dept], children, water_fill(share, children, k)):
                    _put(result.project, (project, pool), dim, INF if child.deserved == INF else child_share)
    for (project, _), row in result.project.items():
        _accumulate(result.project_total, project, row)
    for (dept, _), row in result.department.items():
        _accumulate(result.department_total, dept, row)
    return result


_NONE = (0, 0, 0)
_ZERO_USAGE = (0.0, 0.0, 0.0)
DEPARTMENT_KEY = "department:"
_ZERO_QUOTAS = (Quota(), Quota(deserved=UNLIMITED), Quota(deserved=UNLIMITED))
_NONE_QUOTAS = (None, None, None)


def _put(table: dict, key: tuple[str, str], dim: int, value: float) -> None:
    row = table.get(key)
    if row is None:
        row = table[key] = [0.0, 0.0, 0.0]
    row[dim] = value


def _accumulate(table: dict, key: str, row: list[float]) -> None:
    total = table.get(key)
    if total is None:
        table[key] = list(row)
    else:
        for dim in range(3):
            total[dim] += row[dim]


def saturation(used: list[int], share: list[float]) -> float:
    """Allocated / fair share over the resources that are kept (the largest ratio); how deprived a project is."""
    worst = 0.0
    for dim in range(3):
        fs = share[dim]
        if fs == INF:
            continue
        u = used[dim]
        ratio = (u / fs) if fs > EPS else (INF if u > 0 else 0.0)
        worst = max(worst, ratio)
    return worst
