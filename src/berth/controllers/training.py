"""The plan of a TrainingWorkload: pods `<name>-<index>-<attempt>` that run to completion.

`completions` pods must succeed, at most `parallelism` run at once (hyper-parameter search); each is
independent (no gang); the indexes that succeeded are kept in `status.completedIndexes` ("0,2-4", as Jobs
write them), so an index whose pod was deleted after it succeeded is never run again. A failed pod is retried as a new pod, the next attempt of its index, after the
back-off of `berth.controllers.backoff` (10 s, doubling, at most 6 minutes), until the failures exceed
`backoffLimit` (default 6, as Kubernetes Jobs count it: failed pods in total); then the workload has Failed,
and its message says how the last attempt ended. `autoDeletionTimeAfterCompletionSeconds` deletes it some time after it ended.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from berth.controllers import backoff
from berth.controllers.plan import INDEX, Obj, Plan, attempt_of, is_active, meta, pod_phase, value

DEFAULT_BACKOFF_LIMIT = 6

PodMaker = Callable[[str, int], Obj]  # (pod name, index) -> pod manifest


def plan(workload: Obj, pods: list[Obj], make_pod: PodMaker, *, now: float) -> Plan:
    spec = workload.get("spec") or {}
    name = meta(workload)["name"]
    completions = int(value(spec, "completions", 1))
    parallelism = min(int(value(spec, "parallelism", 1)), completions)
    limit = int(value(spec, "backoffLimit", DEFAULT_BACKOFF_LIMIT))
    by_index: dict[int, list[Obj]] = defaultdict(list)
    for pod in pods:
        by_index[int((meta(pod).get("labels") or {}).get(INDEX, "0"))].append(pod)
    succeeded = {i for i, group in by_index.items() if any(pod_phase(p) == "Succeeded" for p in group)}
    succeeded |= indexes((workload.get("status") or {}).get("completedIndexes"))  # even if their pods are gone
    failed = [p for p in pods if pod_phase(p) == "Failed"]
    failures = len(failed)
    active = [p for p in pods if is_active(p)]
    result = Plan(min_member=1, desired_pods=max(min(parallelism, completions - len(succeeded)), 0))
    if succeeded:
        result.status_extra["completedIndexes"] = indexes_text(succeeded)
    if len(succeeded) >= completions:
        result.phase, result.reason = "Completed", "Completed"
        result.message = f"{completions} of {completions} pods succeeded" if completions > 1 else "the pod succeeded"
        result.delete = [meta(p)["name"] for p in active]
        return result
    if failures > limit:
        result.phase, result.reason = "Failed", "BackoffLimitExceeded"
        last = backoff.latest(failed)
        result.message = (f"{failures} pod{'s' if failures != 1 else ''} failed, more than backoffLimit ({limit}); "
                          f"the last, {meta(last)['name']}: {backoff.exit_summary(last)}; see kubectl logs "
                          f"{meta(last)['name']} -n {meta(workload).get('namespace', '')}")
        result.delete = [meta(p)["name"] for p in active]
        return result
    slots = parallelism - len(active)
    retry_at = backoff.next_start(failed)
    for index in range(completions):
        if slots <= 0:
            break
        if index in succeeded or any(is_active(p) for p in by_index[index]):
            continue
        newest = max(by_index[index], key=attempt_of, default=None)
        if newest is not None and pod_phase(newest) == "Failed" and retry_at is not None and now < retry_at:
            result.requeue_after = retry_at - now  # a failed attempt is retried after its back-off
            result.waiting = ("BackOff", f"pod {meta(newest)['name']} failed ({backoff.exit_summary(newest)}); "
                              f"the next attempt starts in {retry_at - now:.0f} s ({failures} failed so far; "
                              f"backoffLimit {limit})")
            slots -= 1
            continue
        taken = {meta(p)["name"] for p in by_index[index]}
        attempt = len(by_index[index])
        while f"{name}-{index}-{attempt}" in taken:
            attempt += 1
        result.create.append(make_pod(f"{name}-{index}-{attempt}", index))
        slots -= 1
    return result



def indexes(text: str | None) -> set[int]:
    """The indexes of a completedIndexes text: "0,2-4" -> {0, 2, 3, 4}."""
    found: set[int] = set()
    for part in (text or "").split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            found.update(range(int(low), int(high or low) + 1))
    return found


def indexes_text(found: set[int]) -> str:
    """{0, 2, 3, 4} -> "0,2-4"."""
    runs: list[list[int]] = []
    for index in sorted(found):
        if runs and index == runs[-1][1] + 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
