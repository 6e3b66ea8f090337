"""The plan of an InferenceWorkload: `minScale`..`maxScale` replicas `<name>-<i>` behind a Service, scaled on
a metric.

Node agents report each serving pod's load in the annotation `run.ai/metrics` (JSON: `concurrency`
requests in flight, `throughput` requests per second, `latency` ms, `cpu-utilization` and
`gpu-utilization` percent, or the custom `metricName`). The autoscaler wants enough replicas that each
carries `target` of the metric: for concurrency and throughput, the total divided by the target; for the
others, the current replicas scaled by average / target; never down while a placed replica is starting or
not yet measured (it carries load nobody has counted). Results are clamped to minScale..maxScale, and
the workload scales to zero only when minScale is 0 and no request has been seen for the retention period
(Knative's annotation `autoscaling.knative.dev/scale-to-zero-pod-retention-period` on the workload, else
60 s). While it is at zero, the local node's service proxy holds the requests that come, as Knative's
activator does, and counts them on the Service (`run.ai/waiting-requests`): any wakes the workload.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable


from berth.api.wellknown import readings
from berth.controllers import backoff, services
from berth.controllers.plan import (
    Obj,
    Plan,
    is_active,
    meta,
    pod_phase,
    rfc3339,
    timestamp,
    value,
)

SCALE_TO_ZERO_GRACE_S = 60.0  # without a retention annotation, idle this long before going to zero
MIN_IDLE_S = 12.0  # node agents report load every 2 s over 10 s: "no requests" takes this long to know
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_GO_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+")
RETENTION_ANNOTATION = "autoscaling.knative.dev/scale-to-zero-pod-retention-period"
TOTALS = ("concurrency", "throughput")  # metrics that add up across replicas


def _metric(pod: Obj, name: str) -> float | None:
    return readings(pod).get(name)


def desired_replicas(current: int, readings: list[float], metric: str, target: float, low: int, high: int) -> int:
    """Replicas for these readings (one per ready replica), clamped to low..high."""
    if not readings or target <= 0:
        return max(min(current, high), low)
    if metric in TOTALS:
        wanted = math.ceil(sum(readings) / target)
    else:
        wanted = math.ceil(max(current, 1) * (sum(readings) / len(readings)) / target)
    return max(min(wanted, high), low)


def retention_seconds(workload: Obj) -> float:
    """How long a workload that may scale to zero keeps a replica after its last request: Knative's
    `autoscaling.knative.dev/scale-to-zero-pod-retention-period` annotation (a Go duration: "90s", "1m30s"),
    else `SCALE_TO_ZERO_GRACE_S`; never less than `MIN_IDLE_S`, the time it takes to know there were no
    requests."""
    text = (meta(workload).get("annotations") or {}).get(RETENTION_ANNOTATION) or ""
    seconds = SCALE_TO_ZERO_GRACE_S
    if _GO_DURATION.fullmatch(text.strip()):
        seconds = sum(float(n) * _GO_UNITS[unit] for n, unit in _GO_PART.findall(text))
    return max(seconds, MIN_IDLE_S)


def _ready_since(pod: Obj) -> float | None:
    """When the pod last became Ready; None when it is not Ready."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return timestamp(condition.get("lastTransitionTime")) or 0.0 if condition.get("status") == "True" else None
    return None


def plan(workload: Obj, pods: list[Obj], make_pod: Callable[..., Obj], *, now: float, waiting: int = 0) -> Plan:
    """`waiting`: requests the service proxy holds for want of a ready replica (`run.ai/waiting-requests`);
    any wakes a workload scaled to zero."""
    spec = workload.get("spec") or {}
    status = workload.get("status") or {}
    name = meta(workload)["name"]
    low = int(value(spec, "minScale", 1))
    high = max(int(value(spec, "maxScale", max(low, 1))), low)
    current = int(status.get("replicas", max(low, 1)))
    metric = value(spec, "metricName") or value(spec, "metric")
    active = [p for p in pods if is_active(p)]
    ready = [p for p in active if pod_phase(p) == "Running"]
    last_active = timestamp(status.get("lastActiveTime"))
    wanted, requeue = current, None
    if metric:
        readings = [r for r in (_metric(p, metric) for p in ready) if r is not None]
        wanted = desired_replicas(current, readings, metric, float(value(spec, "target", 1) or 1), low, high)
        starting = [p for p in active if (p.get("spec") or {}).get("nodeName") and p not in ready]
        if wanted < current and (len(readings) < len(ready) or starting):
            # Replicas placed and starting, or running but not measured yet, carry load nobody has counted:
            # scaling down on what the others report would take away a replica just made for that load. (One
            # that waits unplaced carries nothing and holds nothing back.)
            wanted = current
    traffic = sum((_metric(p, "concurrency") or 0) + (_metric(p, "throughput") or 0) for p in ready)
    if traffic > 0:
        last_active = now
    if waiting > 0:  # requests wait at the service: wake from zero, with enough replicas for them
        enough = math.ceil(waiting / float(value(spec, "target", 1) or 1)) if metric == "concurrency" else 1
        wanted, last_active = max(wanted, enough, 1), now
    elif low == 0 and current > 0:
        # Zero only when every replica is Ready and measured, and none has served a request for the
        # retention period, counted from the last request or the newest replica's becoming Ready.
        serving = [p for p in active if _ready_since(p) is not None]
        measured = all(_metric(p, "concurrency") is not None or _metric(p, "throughput") is not None for p in serving)
        idle = bool(serving) and len(serving) == len(active) and measured and traffic == 0
        wanted = max(wanted, 1)
        if idle:
            since = max([t for t in (last_active, timestamp(meta(workload).get("creationTimestamp"))) if t]
                        + [_ready_since(p) or 0.0 for p in serving])
            left = retention_seconds(workload) - (now - since)
            if left <= 0:
                wanted = 0
            else:
                requeue = left  # look again when the retention ends
    wanted = max(min(wanted, high), low)
    result = Plan(min_member=1, desired_pods=wanted, requeue_after=requeue)
    svcs = services.port_services(workload)
    result.objects = svcs
    by_index = {int(meta(p)["name"].rsplit("-", 1)[1]): p for p in pods if meta(p)["name"].rsplit("-", 1)[-1].isdigit()}
    # A replica that failed (its node could not run it) is deleted and made again, after a back-off that
    # counts the failures already replaced (status.failedAttempts) with those still here.
    replaced = int(status.get("failedAttempts") or 0)
    failed = {i: p for i, p in by_index.items() if pod_phase(p) == "Failed" and not meta(p).get("deletionTimestamp")}
    retry_at = backoff.next_start(list(failed.values()))
    if retry_at is not None:
        retry_at += backoff.delay(replaced + len(failed)) - backoff.delay(len(failed))
    for index in range(wanted):
        if by_index.get(index) is None:
            result.create.append(make_pod(f"{name}-{index}", index, restart_policy="Always"))
    result.delete = [meta(p)["name"] for i, p in by_index.items() if i >= wanted and is_active(p)]
    if failed and retry_at is not None and now < retry_at:
        newest = backoff.latest(list(failed.values()))
        result.waiting = ("BackOff", f"replica {meta(newest)['name']} failed ({backoff.exit_summary(newest)}); "
                          f"it is made again in {retry_at - now:.0f} s")
        requeue = retry_at - now if requeue is None else min(requeue, retry_at - now)
        result.requeue_after = requeue
    elif failed:
        result.delete += [meta(p)["name"] for p in failed.values()]
        replaced += len(failed)
    result.required_pods = min(wanted, max(low, 1))
    result.status_extra = {"replicas": wanted, "readyReplicas": len(ready)}
    if replaced:
        result.status_extra["failedAttempts"] = replaced
    if last_active is not None:
        result.status_extra["lastActiveTime"] = rfc3339(last_active)
    if low == 0 and wanted == 0:
        result.phase, result.reason = "Running", "ScaledToZero"
        result.message = "no requests: scaled to zero replicas"
    return result
