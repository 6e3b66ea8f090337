"""The plan of a TrainingWorkload: pods `<name>-<index>-<attempt>` that run to completion.

`completions` pods must succeed, at most `parallelism` run at once (hyper-parameter search); each is
independent (no gang). A failed pod is retried as a new pod, the next attempt of its index, until the
failures exceed `backoffLimit` (default 6, as Kubernetes Jobs count it: failed pods in total); then the
workload has Failed. `autoDeletionTimeAfterCompletionSeconds` deletes it some time after it ended.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from berth.controllers.plan import INDEX, Obj, Plan, is_active, meta, pod_phase, value

DEFAULT_BACKOFF_LIMIT = 6

PodMaker = Callable[[str, int], Obj]  # (pod name, index) -> pod manifest


def plan(workload: Obj, pods: list[Obj], make_pod: PodMaker) -> Plan:
    spec = workload.get("spec") or {}
    name = meta(workload)["name"]
    completions = int(value(spec, "completions", 1))
    parallelism = min(int(value(spec, "parallelism", 1)), completions)
    backoff = int(value(spec, "backoffLimit", DEFAULT_BACKOFF_LIMIT))
    by_index: dict[int, list[Obj]] = defaultdict(list)
    for pod in pods:
        by_index[int((meta(pod).get("labels") or {}).get(INDEX, "0"))].append(pod)
    succeeded = {i for i, group in by_index.items() if any(pod_phase(p) == "Succeeded" for p in group)}
    failures = sum(1 for p in pods if pod_phase(p) == "Failed")
    active = [p for p in pods if is_active(p)]
    result = Plan(min_member=1, desired_pods=max(min(parallelism, completions - len(succeeded)), 0))
    if len(succeeded) >= completions:
        result.phase, result.reason = "Completed", "Completed"
        result.message = f"{completions} of {completions} pods succeeded" if completions > 1 else "the pod succeeded"
        result.delete = [meta(p)["name"] for p in active]
        return result
    if failures > backoff:
        result.phase, result.reason = "Failed", "BackoffLimitExceeded"
        result.message = (f"{failures} pods failed, more than backoffLimit ({backoff}); "
                          f"see kubectl logs {name}-<index>-<attempt> -n {meta(workload).get('namespace', '')}")
        result.delete = [meta(p)["name"] for p in active]
        return result
    slots = parallelism - len(active)
    for index in range(completions):
        if slots <= 0:
            break
        if index in succeeded or any(is_active(p) for p in by_index[index]):
            continue
        taken = {meta(p)["name"] for p in by_index[index]}
        attempt = len(by_index[index])
        while f"{name}-{index}-{attempt}" in taken:
            attempt += 1
        result.create.append(make_pod(f"{name}-{index}-{attempt}", index))
        slots -= 1
    return result
