"""Reading decisions in tests: which groups got where, who was evicted, why a group waits."""

from __future__ import annotations

from collections import Counter

from berth.scheduler.core import Decisions


def bound_groups(decisions: Decisions) -> set[str]:
    """Names of the groups (without namespace) with at least one pod bound."""
    return {b.group.split("/", 1)[1] for b in decisions.binds}


def evicted_groups(decisions: Decisions) -> set[str]:
    return {e.group.split("/", 1)[1] for e in decisions.evictions}


def waiting(decisions: Decisions, name: str) -> str:
    """The pending message of the group called `name` (any namespace)."""
    for key, pending in decisions.pending.items():
        if key.split("/", 1)[1] == name:
            return pending.message
    raise AssertionError(f"{name} is not pending; pending: {sorted(decisions.pending)}")


def reason(decisions: Decisions, name: str) -> str:
    for key, pending in decisions.pending.items():
        if key.split("/", 1)[1] == name:
            return pending.reason
    raise AssertionError(f"{name} is not pending")


def gpus_bound_by_project(decisions: Decisions) -> Counter:
    """GPUs newly bound this cycle, per project (namespace runai-<project>)."""
    count: Counter = Counter()
    for b in decisions.binds:
        count[b.group.split("/", 1)[0].removeprefix("runai-")] += len(b.devices) * b.gpu_fraction
    return count
