"""/metrics on a real `berth up` with simulated GPU nodes: after a scenario (two projects with quotas, trainings
placed and one waiting), each project's allocated GPUs in the scrape equal the GPUs of its pods that kubectl
shows bound; request counters move with kubectl's calls; who may read /metrics; and the label sets stay
bounded whatever paths a client asks for."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster import Cluster, running
from tests.controllers.helpers import eventually
from tests.rest.conftest import add_user, rest
from tests.rest.runai import conforms
from tests.scheduler.test_end_to_end import project, status, submit

NODES = """
pools:
- {name: default, count: 1, gpus: 4}
"""

Samples = dict[str, list[tuple[dict[str, str], float]]]


TEAM_A = ("a0", "a1", "a2", "a3")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """team-a (deserved 2) fills the node's 4 GPUs with four 1-GPU trainings; team-b (deserved 1) submits a
    1-GPU training, and the scheduler reclaims one of team-a's (over its fair share) for it; that one waits."""
    tmp = tmp_path_factory.mktemp("metrics")
    (tmp / "cluster.yaml").write_text(textwrap.dedent(NODES))
    for c in running(tmp, "--nodes", str(tmp / "cluster.yaml"), "--no-local-node"):
        project(c, "team-a", 2)
        project(c, "team-b", 1)
        for name in TEAM_A:
            submit(c, "TrainingWorkload", name, "team-a", "1")
        eventually(lambda: all(phase(c, "team-a", n) == "Running" for n in TEAM_A), timeout=40)
        submit(c, "TrainingWorkload", "b0", "team-b", "1")
        eventually(lambda: phase(c, "team-b", "b0") == "Running", timeout=60)
        # The reclaimed training waits (its phase says Degraded: it ran, and has lost its pod).
        eventually(lambda: [phase(c, "team-a", n) for n in TEAM_A].count("Running") == 3, timeout=40)
        yield c


def phase(c: Cluster, project_name: str, name: str) -> str | None:
    return status(c, "trainingworkloads", project_name, name).get("phase")


def scrape(c: Cluster, token: str | None = None) -> Samples:
    with rest(c, token) as http:
        answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: Samples = defaultdict(list)
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            out[sample.name].append((sample.labels, sample.value))
    return out


def value(samples: Samples, name: str, **labels: str) -> float | None:
    found = [v for ls, v in samples.get(name, []) if all(ls.get(k) == w for k, w in labels.items())]
    return sum(found) if found else None


def bound_gpus(c: Cluster, namespace: str) -> float:
    """The scheduler's state as kubectl shows it: the GPUs that the project's bound, unfinished pods ask for."""
    pods = json.loads(c.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    total = 0.0
    for pod in pods:
        if not pod["spec"].get("nodeName") or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for container in pod["spec"]["containers"]:
            limits = (container.get("resources") or {}).get("limits") or {}
            total += float(limits.get("nvidia.com/gpu", 0))
    return total


def test_each_projects_allocated_gpus_match_the_pods_the_scheduler_bound(scenario: Cluster) -> None:
    c = scenario
    expected = {"team-a": bound_gpus(c, "runai-team-a"), "team-b": bound_gpus(c, "runai-team-b")}
    assert expected == {"team-a": 3.0, "team-b": 1.0}

    def agreed() -> Samples | None:  # the usage is counted at the scrape; the last cycle's waiting work after it
        s = scrape(c)
        held = all(value(s, "kai_queue_allocated_gpus", queue_name=p, nodepool="default") == g
                   for p, g in expected.items())
        return s if held and value(s, "berth_queue_pending_workloads", queue_name="team-a") else None

    samples = eventually(agreed, timeout=20)
    for name, gpus in expected.items():
        assert value(samples, "runai_allocated_gpu_count_per_project", project=name) == gpus
        # The Project's status (written by the usage controller, from the same tally) agrees, once written.
        eventually(lambda n=name, g=gpus: json.loads(c.kubectl("get", "project", n, "-o", "json").stdout).get(
            "status", {}).get("allocated", {}).get("gpu") == g, timeout=20)
    assert value(samples, "kai_queue_deserved_gpus", queue_name="team-a", nodepool="default") == 2
    assert value(samples, "runai_project_guaranteed_gpus", project="team-b") == 1
    # team-a asks for the three it holds and the one its reclaimed training wants again; that one waits.
    assert value(samples, "berth_queue_requested_gpus", queue_name="team-a", nodepool="default") == 4
    assert value(samples, "berth_queue_pending_workloads", queue_name="team-a", nodepool="default") == 1
    assert value(samples, "berth_queue_pending_workloads", queue_name="team-b") is None
    assert value(samples, "berth_components_up") == 1
    # The last cycle's fair shares: each project at least its deserved quota, together no more than the 4 GPUs.
    fair = {p: value(samples, "kai_queue_fair_share_gpu", queue_name=p, nodepool="default") for p in expected}
    assert fair == {"team-a": 3, "team-b": 1}, fair
    # The scheduler's own series: it has cycled, bound the three trainings' pods, and reclaimed one.
    assert value(samples, "berth_scheduling_cycle_duration_seconds_count") >= 1
    assert value(samples, "berth_scheduler_binds_total") >= 3
    assert value(samples, "berth_scheduler_evicted_pods_total", action="reclaim") >= 1  # team-a's, for team-b
    assert value(samples, "berth_scheduler_evicted_pods_total", action="preempt") == 0
    assert value(samples, "kai_e2e_scheduling_latency_milliseconds") > 0
    # The store: its objects by resource and its size.
    assert value(samples, "apiserver_storage_objects", resource="trainingworkloads.run.ai") == 5
    assert value(samples, "apiserver_storage_size_bytes") > 0
    # No series is per pod, workload or group: no label value names one.
    names = {*TEAM_A, "b0"}
    for series in samples.values():
        for labels, _ in series:
            assert not any(v.startswith(tuple(names)) for v in labels.values()), labels


def test_request_counters_move_with_kubectl_calls(scenario: Cluster) -> None:
    c = scenario
    lists = dict(verb="LIST", group="", version="v1", resource="pods", scope="namespace", code="200")
    before = value(scrape(c), "apiserver_request_total", **lists) or 0
    for _ in range(3):
        c.kubectl("get", "pods", "-n", "runai-team-a")
    c.kubectl("get", "pod", "nothing-here", "-n", "runai-team-a", check=False)
    after = scrape(c)
    assert value(after, "apiserver_request_total", **lists) >= before + 3
    assert value(after, "apiserver_request_total", verb="GET", resource="pods", scope="resource", code="404") >= 1
    assert value(after, "apiserver_request_duration_seconds_count", verb="LIST", resource="pods") >= 3
    # The components watch pods: their open watches show, and none is counted as a finished request's latency.
    assert value(after, "apiserver_longrunning_requests", verb="WATCH", resource="pods") >= 1
    assert value(after, "apiserver_request_duration_seconds_count", verb="WATCH") is None


def test_admins_and_viewers_read_metrics_researchers_do_not(scenario: Cluster) -> None:
    c = scenario
    viewer = add_user(c, "vera", "viewer")
    researcher = add_user(c, "rob", "researcher", "team-a")
    assert value(scrape(c, viewer), "kai_queue_deserved_gpus", queue_name="team-b") == 1
    with rest(c, researcher) as http:
        refused = http.get("/metrics")
    assert refused.status_code == 403
    assert refused.json()["message"] == ('forbidden: User "rob" cannot get path "/metrics": the researcher role '
                                         'may not get /metrics')
    with rest(c, "") as http:
        assert http.get("/metrics").status_code == 401
    env = {"KUBECONFIG": str(c.data_dir / "users" / "rob.kubeconfig")}
    assert c.kubectl("auth", "can-i", "get", "/metrics", env=env, check=False).stdout.startswith("no")
    env = {"KUBECONFIG": str(c.data_dir / "users" / "vera.kubeconfig")}
    assert c.kubectl("auth", "can-i", "get", "/metrics", env=env).stdout.strip() == "yes"
    assert "kai_queue_allocated_gpus" in c.kubectl("get", "--raw", "/metrics", env=env).stdout


def request_label_sets(samples: Samples) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted(labels.items())) for labels, _ in samples["apiserver_request_total"]}


def test_label_sets_stay_bounded_after_requests_to_many_unknown_paths(scenario: Cluster) -> None:
    c = scenario
    before = request_label_sets(scrape(c))
    with rest(c) as http:
        for i in range(60):
            http.get(f"/apis/fuzz{i}.example/v{i}/things{i}")
            http.get(f"/api/v1/namespaces/ns{i}/widgets{i}/w{i}")
            http.request(f"VERB{i}", f"/nowhere/{i}")
            http.get(f"/{i}%0A/metrics")
    after = request_label_sets(scrape(c))
    # 240 requests to 240 paths: none of their names becomes a label value; at most the label sets of an unknown
    # resource, a non-resource path and an unknown method are new, with the codes they got. (The components'
    # own requests may add label sets meanwhile, for resources Berth serves.)
    values = {value for labels in after for _, value in labels}
    assert not any(word in value for value in values for word in ("fuzz", "things", "widgets", "VERB", "nowhere"))
    new = [dict(labels) for labels in after - before if dict(labels)["resource"] in ("unknown", "")]
    assert 1 <= len(new) <= 4, new
    for labels in new:
        assert labels["verb"] in ("GET", "other"), labels
        assert labels["group"] == labels["version"] == labels["subresource"] == "", labels


#: A model served by one replica (CPU only: the GPUs are all taken) on a simulated node, offered 30 requests a
#: second answered in 120 ms.
INFERENCE = {"apiVersion": "run.ai/v2alpha1", "kind": "InferenceWorkload",
             "metadata": {"name": "model", "namespace": "runai-serve"},
             "spec": {"image": {"value": "vllm/vllm-openai"}, "cpu": {"value": "1"}, "minScale": {"value": 1},
                      "maxScale": {"value": 1}, "ports": {"items": {"http": {"value": {"container": 8000}}}},
                      "annotations": {"items": {"berth.dev/sim-load": {
                          "value": json.dumps({"throughput": 30, "latency": 120})}}}}}
WORKLOAD_METRICS = "/api/v1/workloads/inferences/{workloadId}/metrics"
POD_METRICS = "/api/v1/workloads/inferences/{workloadId}/pods/{podId}/metrics"


def test_inference_metrics_serve_the_readings_the_node_reports_in_runais_shape(scenario: Cluster) -> None:
    """The simulated node reports the load offered to the model's one replica on the pod (`run.ai/metrics`);
    Run:ai's inference metrics endpoints answer it, for the workload and for its pod."""
    c = scenario
    project(c, "serve", 1)
    c.kubectl("apply", "-f", "-", input=json.dumps(INFERENCE))

    def reported() -> dict | None:
        pods = json.loads(c.kubectl("get", "pods", "-n", "runai-serve", "-o", "json").stdout)["items"]
        return next((p for p in pods if "run.ai/metrics" in (p["metadata"].get("annotations") or {})), None)

    pod = eventually(reported, timeout=40)
    uid = json.loads(c.kubectl("get", "inferenceworkload", "model", "-n", "runai-serve", "-o", "json").stdout)[
        "metadata"]["uid"]
    window = {"metricType": ["THROUGHPUT", "LATENCY"], "start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}
    with rest(c) as http:
        whole = http.get(f"/api/v1/workloads/inferences/{uid}/metrics", params=window)
        one = http.get(f"/api/v1/workloads/inferences/{uid}/pods/{pod['metadata']['uid']}/metrics", params=window)
        past = http.get(f"/api/v1/workloads/inferences/{uid}/metrics",
                        params={**window, "end": "2021-01-01T00:00:00Z"})
        backwards = http.get(f"/api/v1/workloads/inferences/{uid}/metrics",
                             params={**window, "start": "2100-01-02T00:00:00Z"})
        missing = http.get(f"/api/v1/workloads/inferences/{pod['metadata']['uid']}/metrics", params=window)
    for answer, path in ((whole, WORKLOAD_METRICS), (one, POD_METRICS), (past, WORKLOAD_METRICS)):
        assert answer.status_code == 200, answer.text
        conforms(answer.json(), "get", path, 200)
    for answer in (whole, one):
        shown = {m["type"]: [v["value"] for v in m["values"]] for m in answer.json()["measurements"]}
        assert shown == {"THROUGHPUT": ["30"], "LATENCY": ["120"]}
    assert [m["values"] for m in past.json()["measurements"]] == [[], []]  # Berth keeps no history
    assert backwards.status_code == 400 and backwards.json()["complianceIssues"][0]["field"] == "end"
    assert missing.status_code == 404


def test_while_the_components_are_down_a_scrape_says_so_and_their_series_come_back_with_them(
        scenario: Cluster) -> None:
    c = scenario
    assert c.process is not None
    pid = c.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children  # the components' process
    os.kill(int(children[0]), signal.SIGKILL)
    eventually(lambda: not Path(f"/proc/{children[0]}").exists() or
               Path(f"/proc/{children[0]}/stat").read_text().split(")")[1].split()[0] == "Z", timeout=5)
    down = scrape(c)
    assert value(down, "berth_components_up") == 0
    assert "kai_queue_allocated_gpus" not in down and value(down, "apiserver_request_total") > 0
    # berth up restarts the process; its series are back with it.
    def up_again() -> Samples | None:
        samples = scrape(c)
        return samples if value(samples, "berth_components_up") == 1 else None

    assert "berth_scheduling_cycle_duration_seconds_count" in eventually(up_again, timeout=40)
