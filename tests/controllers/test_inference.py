"""Inference: replicas behind a Service, scaled on the reported metric; scale to zero only from minScale 0."""

from __future__ import annotations

import json

import orjson
import pytest

from berth.controllers import inference
from tests.controllers.helpers import apply, client, eventually, names, pods_of, run_pod, workload_status

NS = "runai-serve"


@pytest.fixture(scope="module")
def http(cluster):
    cluster.project(NS.removeprefix("runai-"))
    with client(cluster, timeout=30) as c:
        yield c


def report(http, pod: str, **metrics: float) -> None:
    body = {"metadata": {"annotations": {"run.ai/metrics": json.dumps(metrics)}}}
    r = http.patch(f"/api/v1/namespaces/{NS}/pods/{pod}", content=orjson.dumps(body),
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200


def test_replicas_scale_on_concurrency_within_bounds(cluster, http):
    apply(cluster, f"""
apiVersion: run.ai/v2alpha1
kind: InferenceWorkload
metadata: {{name: triton, namespace: {NS}}}
spec:
  image: {{value: nvcr.io/nvidia/tritonserver:24.01-py3}}
  gpu: {{value: "0.5"}}
  minScale: {{value: 2}}
  maxScale: {{value: 4}}
  metric: {{value: concurrency}}
  target: {{value: 10}}
  ports: {{items: {{http: {{value: {{container: 8000}}}}}}}}
""")
    pods = eventually(lambda: (p := names(pods_of(http, NS, "triton"))) and len(p) == 2 and p)
    assert pods == ["triton-0", "triton-1"]
    pod = pods_of(http, NS, "triton")[0]
    assert pod["spec"]["priorityClassName"] == "inference" and pod["spec"]["restartPolicy"] == "Always"
    for name in pods:
        run_pod(http, NS, name)
    status = eventually(lambda: (s := workload_status(http, "inferenceworkloads", NS, "triton")).get("phase") == "Running"
                        and s)
    assert status["replicas"] == 2 and status["serviceUrls"] == [f"http://infw-triton-clusterip.{NS}.svc:8000"]
    report(http, "triton-0", concurrency=22)
    report(http, "triton-1", concurrency=13)  # 35 in flight, 10 per replica -> 4
    eventually(lambda: names(pods_of(http, NS, "triton")) == ["triton-0", "triton-1", "triton-2", "triton-3"])
    scaling = eventually(lambda: (s := workload_status(http, "inferenceworkloads", NS, "triton")).get("replicas") == 4
                         and s)
    assert scaling["phase"] == "Running"  # a scale-up is not a degradation: the new replicas are starting
    report(http, "triton-0", concurrency=100)  # more than maxScale can carry: stays at 4
    report(http, "triton-0", concurrency=1)
    report(http, "triton-1", concurrency=0)  # 1 in flight -> back to minScale
    eventually(lambda: len(pods_of(http, NS, "triton")) == 2)


def pod(name: str, ready_at: str | None = "2026-01-01T00:00:00Z", **metrics: float) -> dict:
    conditions = [{"type": "Ready", "status": "True" if ready_at else "False",
                   "lastTransitionTime": ready_at or "2026-01-01T00:00:00Z"}]
    return {"metadata": {"name": name, "annotations": {"run.ai/metrics": json.dumps(metrics)}},
            "status": {"phase": "Running", "conditions": conditions}}


def test_no_scale_down_while_a_replica_is_starting_or_not_yet_measured():
    """Just scaled up to 3 for 120 requests a second: the new replicas have not reported yet, and the total the
    first one reports alone (50) must not take them away again."""
    make = lambda name, index, **kw: {"metadata": {"name": name}}  # noqa: E731
    now = 1767225600 + 5
    unmeasured = [pod("s-0", throughput=50), pod("s-1"), pod("s-2")]
    for replica in unmeasured[1:]:
        replica["metadata"]["annotations"] = {}
    assert inference.plan(workload(1, 3), unmeasured, make, now=now).desired_pods == 3
    starting = [pod("s-0", throughput=50), pod("s-1", ready_at=None), pod("s-2", ready_at=None)]
    starting[1]["status"]["phase"] = starting[2]["status"]["phase"] = "Pending"
    starting[1]["spec"] = starting[2]["spec"] = {"nodeName": "local"}
    assert inference.plan(workload(1, 3), starting, make, now=now).desired_pods == 3
    unplaced = [pod("s-0", throughput=50), {**starting[1], "spec": {}}, {**starting[2], "spec": {}}]
    assert inference.plan(workload(1, 3), unplaced, make, now=now).desired_pods == 1  # they hold nothing
    measured = [pod("s-0", throughput=50), pod("s-1", throughput=0), pod("s-2", throughput=0)]
    assert inference.plan(workload(1, 3), measured, make, now=now).desired_pods == 1  # all measured: down


def workload(min_scale: int, replicas: int, last_active: str | None = None) -> dict:
    status = {"replicas": replicas}
    if last_active:
        status["lastActiveTime"] = last_active
    return {"apiVersion": "run.ai/v2alpha1", "kind": "InferenceWorkload",
            "metadata": {"name": "s", "namespace": NS, "uid": "u"},
            "spec": {"minScale": {"value": min_scale}, "maxScale": {"value": 3}, "metric": {"value": "throughput"},
                     "target": {"value": 50}},
            "status": status}


def make(name: str, index: int, **kw) -> dict:
    return {"metadata": {"name": name}}


def test_scale_to_zero_only_after_a_quiet_grace_period_and_only_from_min_scale_zero():
    quiet = [pod("s-0", throughput=0)]
    recent = inference.plan(workload(0, 1, "2026-01-01T00:00:00Z"), quiet, make, now=1767225600 + 30)
    assert recent.desired_pods == 1  # 30 s without requests: not yet
    later = inference.plan(workload(0, 1, "2026-01-01T00:00:00Z"), quiet, make, now=1767225600 + 61)
    assert later.desired_pods == 0 and later.delete == ["s-0"] and later.reason == "ScaledToZero"
    floor = inference.plan(workload(1, 1, "2026-01-01T00:00:00Z"), quiet, make, now=1767225600 + 600)
    assert floor.desired_pods == 1  # minScale 1 never scales to zero


def test_an_idle_workload_is_looked_at_again_when_its_retention_ends_and_one_never_used_goes_to_zero_too():
    never_used = workload(0, 1)
    never_used["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    never_used["metadata"]["annotations"] = {"autoscaling.knative.dev/scale-to-zero-pod-retention-period": "1m30s"}
    quiet = [pod("s-0", throughput=0)]
    early = inference.plan(never_used, quiet, make, now=1767225600 + 60)
    assert early.desired_pods == 1 and early.requeue_after == 30  # the controller comes back when it is time
    assert inference.plan(never_used, quiet, make, now=1767225600 + 91).desired_pods == 0


def test_a_request_waiting_at_the_service_wakes_a_workload_scaled_to_zero():
    asleep = workload(0, 0, "2026-01-01T00:00:00Z")
    assert inference.plan(asleep, [], make, now=1767225600 + 600).desired_pods == 0
    woken = inference.plan(asleep, [], make, now=1767225600 + 600, waiting=1)
    assert woken.desired_pods == 1 and [p["metadata"]["name"] for p in woken.create] == ["s-0"]
    assert woken.status_extra["lastActiveTime"] == "2026-01-01T00:10:00Z"  # the wait counts as activity


def test_a_woken_replica_is_not_scaled_away_before_it_is_ready_and_has_been_idle():
    woken = workload(0, 1, "2026-01-01T00:00:00Z")
    loading = [pod("s-0", ready_at=None, throughput=0)]  # still loading its model, hours after the last request
    assert inference.plan(woken, loading, make, now=1767225600 + 7200).desired_pods == 1
    just_ready = [pod("s-0", ready_at="2026-01-01T02:00:00Z", throughput=0)]
    kept = inference.plan(woken, just_ready, make, now=1767225600 + 7205)
    assert kept.desired_pods == 1 and kept.requeue_after == 55  # idle counts from when it became Ready
    assert inference.plan(woken, just_ready, make, now=1767225600 + 7261).desired_pods == 0


def test_retention_is_a_go_duration_and_never_shorter_than_it_takes_to_see_no_requests():
    def retention(text: str) -> float:
        return inference.retention_seconds({"metadata": {"annotations": {
            "autoscaling.knative.dev/scale-to-zero-pod-retention-period": text}}})
    assert [retention(t) for t in ("1m30s", "2h", "500ms", "0s")] == [90, 7200, 12, 12]
    assert [retention(t) for t in ("90", "1d", "PT5M", "-5m", "")] == [60] * 5  # not a duration: the default


def test_idle_replicas_go_to_zero_whatever_metric_they_scale_on():
    busy_cpu = workload(0, 1, "2026-01-01T00:00:00Z")
    busy_cpu["spec"]["metric"] = {"value": "cpu-utilization"}
    idle = [pod("s-0", throughput=0, concurrency=0, **{"cpu-utilization": 2.0})]
    assert inference.plan(busy_cpu, idle, make, now=1767225600 + 61).desired_pods == 0
    unmeasured = [{"metadata": {"name": "s-0"}, "status": pod("s-0")["status"]}]  # no node reports its load
    assert inference.plan(busy_cpu, unmeasured, make, now=1767225600 + 6100).desired_pods == 1


def test_utilisation_metrics_scale_the_current_replicas():
    assert inference.desired_replicas(2, [90.0, 70.0], "gpu-utilization", 40.0, 1, 10) == 4
    assert inference.desired_replicas(4, [10.0, 10.0, 10.0, 10.0], "cpu-utilization", 40.0, 1, 10) == 1
    assert inference.desired_replicas(1, [120.0], "throughput", 50.0, 1, 2) == 2


def test_a_crowd_waiting_at_zero_wakes_enough_replicas_for_it():
    asleep = workload(0, 0, "2026-01-01T00:00:00Z")
    asleep["spec"]["metric"], asleep["spec"]["target"] = {"value": "concurrency"}, {"value": 4}
    assert inference.plan(asleep, [], make, now=1767225600 + 600, waiting=10).desired_pods == 3
