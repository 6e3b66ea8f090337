"""The plan of an InteractiveWorkload: one pod `<name>-0-<attempt>` that runs until the user stops it.

The system never ends it, except when the project's `interactiveJobTimeLimitSecs` has passed since it
started: then its pod goes and the workload is TimedOut. A pod that ends or is evicted is replaced by the
next attempt (a preemptible workload that was preempted waits again in the queue, unless
`berth.controllers.preemption` ends it); a pod that failed is replaced only after the back-off
of `berth.controllers.backoff`, which grows with every failure and has no limit.
"""

from __future__ import annotations

from collections.abc import Callable

from berth.controllers import backoff
from berth.controllers.plan import Obj, Plan, attempt_of, is_active, meta, pod_phase, timestamp


def plan(workload: Obj, pods: list[Obj], make_pod: Callable[[str, int], Obj], *, time_limit: int | None,
         now: float) -> Plan:
    name = meta(workload)["name"]
    result = Plan(min_member=1, desired_pods=1)
    active = [p for p in pods if is_active(p)]
    started = timestamp((workload.get("status") or {}).get("startTime"))
    if time_limit and started is not None:
        left = started + time_limit - now
        if left <= 0:
            result.phase, result.reason = "TimedOut", "TimeLimitReached"
            result.message = f"ran for the project's interactive time limit of {time_limit} s"
            result.delete = [meta(p)["name"] for p in active]
            return result
        result.requeue_after = left
    if active:
        return result
    failed = [p for p in pods if pod_phase(p) == "Failed"]
    retry_at = backoff.next_start(failed)
    newest = max(pods, key=attempt_of, default=None)
    if newest is not None and pod_phase(newest) == "Failed" and retry_at is not None and now < retry_at:
        wait = retry_at - now
        result.requeue_after = wait if result.requeue_after is None else min(wait, result.requeue_after)
        result.waiting = ("BackOff", f"pod {meta(newest)['name']} failed ({backoff.exit_summary(newest)}); "
                          f"the next attempt starts in {wait:.0f} s")
        return result
    taken = {meta(p)["name"] for p in pods}
    attempt = 0
    while f"{name}-0-{attempt}" in taken:
        attempt += 1
    result.create.append(make_pod(f"{name}-0-{attempt}", 0))
    return result

