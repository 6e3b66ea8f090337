"""Run:ai's read paths over workloads applied as YAML with kubectl: `GET /api/v1/workloads` (list, count,
filters, sort, paging), one workload, its pods, events and history, every workload's pods; answers checked
against Run:ai's published schemas; a researcher sees their own projects only.

One `berth up` for the module, with the controllers but without the scheduler and the local node, so that
the test moves pods itself (binding them, marking them Running) and phases follow deterministically."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster import Cluster, running
from tests.controllers.helpers import apply, eventually, run_pod, workload_status
from tests.rest.conftest import add_user, rest
from tests.rest.runai import conforms

WORKLOADS = """
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {name: a-train, namespace: runai-team-a}
spec: {image: {value: python:3.11}, gpu: {value: "1"}, cpu: {value: 250m}, memory: {value: 256Mi},
       username: {value: rita}}
---
apiVersion: run.ai/v2alpha1
kind: InteractiveWorkload
metadata: {name: a-notebook, namespace: runai-team-a}
spec: {image: {value: jupyter/base-notebook}, gpu: {value: "0.5"}}
---
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {name: b-train, namespace: runai-team-b}
spec: {image: {value: python:3.11}, gpu: {value: "2"}, nodePools: {value: a100}}
---
apiVersion: run.ai/v1
kind: NodePool
metadata: {name: a100}
spec: {labelKey: run.ai/type, labelValue: a100}
---
apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {run.ai/type: a100}}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Projects team-a and team-b, three workloads applied with kubectl, a-train's pod running on node-1 of
    the node pool a100."""
    for cluster in running(Path(tmp_path_factory.mktemp("rest-read")), "--no-scheduler", "--no-local-node"):
        cluster.project("team-a")
        cluster.project("team-b")
        apply(cluster, WORKLOADS)
        with rest(cluster) as http:
            eventually(lambda: http.get("/api/v1/namespaces/runai-team-a/pods/a-train-0-0").status_code == 200)
            run_pod(http, "runai-team-a", "a-train-0-0", "node-1")
            eventually(lambda: workload_status(http, "trainingworkloads", "runai-team-a", "a-train").get("phase")
                       == "Running")
            eventually(lambda: workload_status(http, "trainingworkloads", "runai-team-b", "b-train").get("phase")
                       == "Pending")
        yield cluster


@pytest.fixture(scope="module")
def admin(world: Cluster) -> Iterator[httpx.Client]:
    with rest(world) as http:
        yield http


@pytest.fixture(scope="module")
def rita(world: Cluster) -> Iterator[httpx.Client]:
    with rest(world, add_user(world, "rita", "researcher", "team-a")) as http:
        yield http


def uid(cluster: Cluster, kind: str, name: str, namespace: str | None = None) -> str:
    args = ["get", kind, name, "-o", "jsonpath={.metadata.uid}"] + (["-n", namespace] if namespace else [])
    return cluster.kubectl(*args).stdout.strip()


def listed(http: httpx.Client, **params: object) -> dict:
    answer = http.get("/api/v1/workloads", params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    conforms(body, "get", "/api/v1/workloads", 200)
    return body


def by_name(body: dict) -> dict[str, dict]:
    return {w["name"]: w for w in body["workloads"]}


def test_a_workload_applied_as_yaml_appears_with_the_same_values(world: Cluster, admin: httpx.Client) -> None:
    found = by_name(listed(admin))
    assert set(found) == {"a-train", "a-notebook", "b-train"}
    train = found["a-train"]
    assert train["id"] == uid(world, "tw", "a-train", "runai-team-a")
    assert train["type"] == "training" and train["namespace"] == "runai-team-a"
    assert train["projectName"] == "team-a" and train["projectId"] == uid(world, "projects.run.ai", "team-a")
    assert train["clusterId"] == uid(world, "namespace", "runai")
    assert train["podsRequestedResources"]["gpu"]["request"] == 1
    assert train["podsRequestedResources"]["cpu"]["request"] == 0.25
    assert train["podsRequestedResources"]["cpuMemory"]["request"] == "256Mi"
    assert train["submittedBy"] == "rita" and train["source"] == "Other"
    assert train["phase"] == "Running" and train["runningPods"] == 1 and train["allocatedResources"]["gpu"] == 1
    assert found["a-notebook"]["type"] == "workspace"
    assert found["a-notebook"]["podsRequestedResources"]["gpu"]["request"] == 0.5
    assert found["b-train"]["phase"] == "Pending" and found["b-train"]["requestedNodePools"] == ["a100"]


def test_filters_sort_and_paging(admin: httpx.Client) -> None:
    assert [w["name"] for w in listed(admin, filterBy="projectName==team-a", sortBy="name")["workloads"]] \
        == ["a-notebook", "a-train"]
    assert [w["name"] for w in listed(admin, filterBy=["type==training", "phase==Pending"])["workloads"]] \
        == ["b-train"]
    assert [w["name"] for w in listed(admin, filterBy="type==training,allocatedGPU>=1")["workloads"]] == ["a-train"]
    assert [w["name"] for w in listed(admin, filterBy="nodepool==a100")["workloads"]] == ["b-train"]
    assert [w["name"] for w in listed(admin, sortBy="name", sortOrder="desc")["workloads"]] \
        == ["b-train", "a-train", "a-notebook"]
    first = listed(admin, sortBy="name", limit=2)
    assert [w["name"] for w in first["workloads"]] == ["a-notebook", "a-train"] and first["next"] == 2
    last = listed(admin, sortBy="name", limit=2, offset=first["next"])
    assert [w["name"] for w in last["workloads"]] == ["b-train"] and "next" not in last
    count = admin.get("/api/v1/workloads/count", params={"filterBy": "projectName==team-a"})
    assert count.status_code == 200 and count.json() == {"count": 2}
    conforms(count.json(), "get", "/api/v1/workloads/count", 200)
    assert listed(admin, deleted="true")["workloads"] == []


def test_a_bad_filter_or_limit_is_400_naming_the_parameter(admin: httpx.Client) -> None:
    answer = admin.get("/api/v1/workloads", params={"filterBy": "owner==rita"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["message"].startswith("filterBy: ") and "submittedBy" in body["details"]
    assert body["complianceIssues"][0]["field"] == "filterBy"
    answer = admin.get("/api/v1/workloads/count", params={"filterBy": "createdAt=@2026"})
    assert answer.status_code == 400 and answer.json()["complianceIssues"][0]["field"] == "filterBy"
    answer = admin.get("/api/v1/workloads", params={"limit": 501})
    assert answer.status_code == 400 and answer.json()["complianceIssues"][0]["field"] == "limit"
    answer = admin.get("/api/v1/workloads", params={"sortBy": "owner"})
    assert answer.status_code == 400 and answer.json()["complianceIssues"][0]["field"] == "sortBy"


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/api/v1/workloads", {"filterBy": ""}, 200),
    ("/api/v1/workloads", {"filterBy": "name==\u00fc,x"}, 200),
    ("/api/v1/workloads", {"offset": 2**70}, 200),
    ("/api/v1/workloads", {"offset": -1}, 400),
    ("/api/v1/workloads", {"limit": "many"}, 400),
    ("/api/v1/workloads", {"sortOrder": "up"}, 400),
    ("/api/v1/workloads", {"deleted": "maybe"}, 400),
    ("/api/v1/workloads", {"filterBy": "=="}, 400),
    ("/api/v1/workloads/pods", {"completed": "soon"}, 400),
    ("/api/v1/workloads/pods", {"filterBy": "name==x"}, 400),
    ("/api/v1/workloads/pods/count", {"filterBy": "completedAt<=2026-13-45"}, 400),
])
def test_odd_parameters_are_answered_never_500(admin: httpx.Client, path: str, params: dict, status: int) -> None:
    answer = admin.get(path, params=params)
    assert answer.status_code == status, answer.text
    if status == 400:
        assert answer.json()["code"] == 400 and answer.json()["complianceIssues"][0]["field"] in params


def test_one_workload_its_pods_events_and_history(world: Cluster, admin: httpx.Client) -> None:
    workload_id = uid(world, "tw", "a-train", "runai-team-a")
    one = admin.get(f"/api/v1/workloads/{workload_id}")
    assert one.status_code == 200, one.text
    conforms(one.json(), "get", "/api/v1/workloads/{workloadId}", 200)
    assert one.json()["name"] == "a-train"

    pods = admin.get(f"/api/v1/workloads/{workload_id}/pods").json()
    conforms(pods, "get", "/api/v1/workloads/{workloadId}/pods", 200)
    [pod] = pods["pods"]
    assert pod["name"] == "a-train-0-0" and pod["nodeName"] == "node-1" and pod["k8sPhase"] == "Running"
    assert pod["id"] == uid(world, "pod", "a-train-0-0", "runai-team-a") and pod["workloadId"] == workload_id
    assert pod["allocatedResources"]["gpu"] == 1 and pod["currentNodePool"] == "a100"
    assert one.json()["currentNodePools"] == ["a100"]

    events = admin.get(f"/api/v1/workloads/{workload_id}/events").json()
    conforms(events, "get", "/api/v1/workloads/{workloadId}/events", 200)
    assert any(e["involvedObject"]["uid"] == workload_id and e["message"].startswith("Running")
               for e in events["events"])

    history = admin.get(f"/api/v1/workloads/{workload_id}/history").json()
    conforms(history, "get", "/api/v1/workloads/{workloadId}/history", 200)
    phases = [r["spec"]["phaseUpdate"]["phase"] for r in history["records"] if r["meta"]["type"] == "PhaseUpdate"]
    assert phases[0] in ("Creating", "Pending") and phases[-1] == "Running" and phases.count("Running") == 1
    times = [r["meta"]["creationTimestamp"] for r in history["records"]]
    assert times == sorted(times)


def test_every_workloads_pods(admin: httpx.Client) -> None:
    pods = admin.get("/api/v1/workloads/pods", params={"sortBy": "createdAt"}).json()
    conforms(pods, "get", "/api/v1/workloads/pods", 200)
    assert {p["workloadName"] for p in pods["pods"]} == {"a-train", "a-notebook", "b-train"}
    placed = admin.get("/api/v1/workloads/pods/count", params={"filterBy": "nodeName==node-1"}).json()
    conforms(placed, "get", "/api/v1/workloads/pods/count", 200)
    assert placed == {"count": 1}
    in_pool = admin.get("/api/v1/workloads/pods", params={"filterBy": "currentNodepool==a100"}).json()
    assert [p["name"] for p in in_pool["pods"]] == ["a-train-0-0"]


def test_unknown_and_malformed_ids_are_404_in_runais_error_shape(admin: httpx.Client) -> None:
    for path in ("/api/v1/workloads/not-a-uuid", "/api/v1/workloads/not-a-uuid/pods",
                 "/api/v1/workloads/00000000-0000-4000-8000-000000000000/history"):
        answer = admin.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["code"] == 404 and "not found" in answer.json()["message"]


def test_a_researcher_sees_only_their_projects(world: Cluster, rita: httpx.Client) -> None:
    assert set(by_name(listed(rita))) == {"a-train", "a-notebook"}
    assert rita.get("/api/v1/workloads/count").json() == {"count": 2}
    assert {p["workloadName"] for p in rita.get("/api/v1/workloads/pods").json()["pods"]} == {"a-train", "a-notebook"}
    theirs = uid(world, "tw", "b-train", "runai-team-b")
    for path in (f"/api/v1/workloads/{theirs}", f"/api/v1/workloads/{theirs}/events"):
        assert rita.get(path).status_code == 404
    ours = uid(world, "tw", "a-train", "runai-team-a")
    assert rita.get(f"/api/v1/workloads/{ours}").json()["departmentName"] == "default"


def test_no_token_is_401(world: Cluster) -> None:
    with rest(world, "") as anonymous:
        answer = anonymous.get("/api/v1/workloads")
    assert answer.status_code == 401 and answer.json()["code"] == 401


def test_deleted_lists_the_workloads_being_deleted(world: Cluster, admin: httpx.Client) -> None:
    """Last in the module: it adds a workload to team-a, held in deletion by a finalizer until the end."""
    apply(world, """
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {name: a-going, namespace: runai-team-a, finalizers: [example.com/hold]}
spec: {image: {value: python:3.11}}
""")
    try:
        world.kubectl("delete", "tw", "a-going", "-n", "runai-team-a", "--wait=false")
        going = eventually(lambda: listed(admin, deleted="true")["workloads"])
        assert [w["name"] for w in going] == ["a-going"] and going[0]["deletedAt"]
        assert eventually(lambda: going[0]["phase"] == "Deleting" or
                          listed(admin, deleted="true")["workloads"][0]["phase"] == "Deleting")
        assert "a-going" not in by_name(listed(admin, deleted="false"))
        assert admin.get("/api/v1/workloads/count", params={"deleted": "true"}).json() == {"count": 1}
    finally:
        world.kubectl("patch", "tw", "a-going", "-n", "runai-team-a", "--type=merge", "-p",
                      '{"metadata":{"finalizers":null}}', check=False)
