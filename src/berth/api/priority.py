"""The priority classes every component reads: one table, so that no name is written that is read as
another.

Names and values are those KAI-Scheduler (the open-sourced Run:ai scheduler) installs: train 50,
build-preemptible 75, build 100, inference 125; a class of 100 or more is non-preemptible. Run:ai 2.18
also writes interactive-preemptible (its CLI's label for a preemptible interactive job, and a value of the
REST API's priorityClass), which is the same class as build-preemptible. The workload controller writes
these names on PodGroups and pods; the scheduler reads them from there; a PodGroup naming another class is
refused, as kube-apiserver refuses a pod whose PriorityClass does not exist.
"""

from __future__ import annotations

from typing import Any

from berth.api.types import enum

PRIORITY_CLASSES: dict[str, int] = {
    "inference": 125,
    "build": 100,
    "interactive-preemptible": 75,
    "build-preemptible": 75,
    "train": 50,
}
NON_PREEMPTIBLE_FROM = 100
"""A class of this priority or more is non-preemptible unless its group says otherwise (KAI)."""

PriorityClassName = enum(*PRIORITY_CLASSES, expects="a priority class: " + ", ".join(
    f"{name} ({value})" for name, value in PRIORITY_CLASSES.items()))


def _flag(spec: dict[str, Any], name: str) -> bool:
    entry = spec.get(name)
    return bool(entry.get("value")) if isinstance(entry, dict) else False


def priority_class(workload: dict[str, Any]) -> tuple[str, str]:
    """(priorityClassName, preemptibility) of a workload by its kind and preemptible flags, as Run:ai and KAI
    set them: what the workload controller writes on its PodGroup and pods, and what the REST API shows."""
    kind = workload.get("kind")
    spec = workload.get("spec") or {}
    if kind == "InferenceWorkload":
        return "inference", "non-preemptible"
    if kind == "InteractiveWorkload":
        if _flag(spec, "preemptible"):
            return "build-preemptible", "preemptible"
        return "build", "non-preemptible"
    if kind == "DistributedWorkload" and _flag(spec, "nonPreemptible"):
        return "train", "non-preemptible"
    return "train", "preemptible"
