"""Offered load for simulated serving pods: what-if runs of inference autoscaling on simulated nodes.

A simulated pod serves nothing, so there is nothing to measure. Instead, the annotation `berth.dev/sim-load`
on a pod says what load is offered to its whole workload, as JSON (`{"concurrency": 12, "throughput":
40}`); set it through the workload's `annotations` items, which every replica gets. The simulated nodes
then report, for each Running replica of that workload, an even share in `run.ai/metrics`, as a load
balancer would spread it: every figure divided by the number of replicas, except `latency`, which is the
same for each. The autoscaler does with that what it would do with the load measured on the local node.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from berth.api.wellknown import WORKLOAD_NAME_LABEL

Obj = dict[str, Any]
Key = tuple[str, str]

SIM_LOAD_ANNOTATION = "berth.dev/sim-load"
UNDIVIDED = ("latency",)  # per request, not per replica


def offered(pod: Obj) -> dict[str, float] | None:
    """The load a pod's annotation offers its workload; None when it has none, or it is not a JSON object of
    numbers (the annotation is then ignored, not guessed at)."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(SIM_LOAD_ANNOTATION)
    if not raw:
        return None
    try:
        load = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(load, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                             for v in load.values()):
        return None
    return {str(k): float(v) for k, v in load.items()}


def shares(pods: Iterable[Obj]) -> dict[Key, dict[str, float]]:
    """(namespace, name) -> the readings each Running pod with an offered load reports: its workload's load
    shared evenly among the workload's Running pods."""
    groups: dict[Key, list[tuple[Key, dict[str, float]]]] = defaultdict(list)
    for pod in pods:
        meta = pod.get("metadata") or {}
        load = offered(pod)
        if load is None or (pod.get("status") or {}).get("phase") != "Running" or meta.get("deletionTimestamp"):
            continue
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        workload = (meta.get("labels") or {}).get(WORKLOAD_NAME_LABEL) or name
        groups[(namespace, workload)].append(((namespace, name), load))
    found = {}
    for members in groups.values():
        for key, load in members:
            found[key] = {k: round(v if k in UNDIVIDED else v / len(members), 3) for k, v in load.items()}
    return found
