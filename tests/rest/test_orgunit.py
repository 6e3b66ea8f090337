"""Run:ai's /api/v1/org-unit (projects, departments) on a real `berth up` (its local node with 2 simulated
GPUs): what REST writes kubectl shows, what kubectl applies REST lists, a project's usage as the scheduler
charged it, answers in Run:ai's 2.18 schemas, a researcher sees only their projects and may write none,
and bad input is a 400 naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from tests.cluster import Cluster, running
from tests.controllers.helpers import eventually
from tests.rest.conftest import add_user, rest
from tests.rest.org import cluster_id, pool_id
from tests.rest.runai import conforms, request_schema


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`berth up` whose local node has 2 simulated GPUs."""
    yield from running(tmp_path_factory.mktemp("orgunit"), "--gpus", "2")


PROJECTS = "/api/v1/org-unit/projects"
DEPARTMENTS = "/api/v1/org-unit/departments"


def kube(cluster: Cluster, kind: str, name: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", kind, name, "-o", "json").stdout)


def project_body(cluster: Cluster, name: str, **more: Any) -> dict[str, Any]:
    body = {"name": name, "clusterId": cluster_id(cluster),
            "resources": [{"nodePool": {"id": pool_id(cluster, "default"), "name": "default"},
                           "gpu": {"deserved": 2, "limit": 4, "overQuotaWeight": 2},
                           "cpu": {"deserved": 2000}, "memory": {"deserved": 4096, "units": "Mib"}}],
            "schedulingRules": {"interactiveJobTimeLimitSeconds": 3600},
            "nodeTypes": {"training": ["dgx-a100"], "workspace": ["dgx-a100"]},
            "defaultNodePools": ["default"], **more}
    jsonschema.validate(body, request_schema("post", PROJECTS))
    return body


def test_a_project_created_through_rest_is_the_project_kubectl_shows(cluster: Cluster) -> None:
    with rest(cluster) as http:
        answer = http.post(PROJECTS, json=project_body(cluster, "rest-a"))
        assert answer.status_code == 201, answer.text
        conforms(answer.json(), "post", PROJECTS, 201)
        spec = kube(cluster, "project", "rest-a")["spec"]
        assert spec["nodePoolsResources"] == [{"nodePool": "default",
                                               "gpu": {"deserved": 2, "maxAllowed": 4, "overQuotaWeight": 2},
                                               "cpu": {"deserved": 2000}, "memory": {"deserved": 4096}}]
        assert spec["interactiveJobTimeLimitSecs"] == 3600
        assert spec["nodeAffinityTrain"] == spec["nodeAffinityInteractive"] == ["dgx-a100"]
        project_id = answer.json()["id"]
        assert project_id == kube(cluster, "project", "rest-a")["metadata"]["uid"]
        # the project controller makes its namespace; the usage controller writes the phase
        got = eventually(lambda: (r := http.get(f"{PROJECTS}/{project_id}")).json()["phase"] == "Ready" and r,
                         timeout=20)
    conforms(got.json(), "get", "/api/v1/org-unit/projects/{projectId}", 200)
    body = got.json()
    assert body["phase"] == body["status"]["phase"] == "Ready"
    assert body["status"]["namespace"] == "runai-rest-a"
    assert body["status"]["quotaStatus"]["allocated"]["gpu"] == 0
    assert body["resources"][0]["gpu"] == {"deserved": 2, "limit": 4, "overQuotaWeight": 2}
    assert body["resources"][0]["memory"] == {"deserved": 4096, "units": "Mib"}
    assert body["schedulingRules"] == {"interactiveJobTimeLimitSeconds": 3600}


def test_a_project_applied_with_kubectl_is_listed_with_its_uid(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "examples/projects/project-team-b.yaml")
    uid = kube(cluster, "project", "team-b")["metadata"]["uid"]
    with rest(cluster) as http:
        listed = http.get(PROJECTS, params={"filterBy": "name==team-b"})
        assert listed.status_code == 200, listed.text
        conforms(listed.json(), "get", PROJECTS, 200)
        [found] = listed.json()["projects"]
        by_name = http.get(f"{PROJECTS}/team-b").json()
        paged = http.get(PROJECTS, params={"limit": 1, "sortBy": "name", "sortOrder": "desc"}).json()
    assert found["id"] == by_name["id"] == uid
    assert found["parent"] == {"name": "research"}  # no Department object named research: no parentId
    assert found["resources"] == [{"nodePool": {"id": "0", "name": "default"}, "gpu": {"deserved": 2}}]
    assert len(paged["projects"]) == 1 and paged["next"] == 1


def test_quota_written_through_resources_shows_in_kubectl(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "examples/projects/project-team-b.yaml", "-f",
                    "examples/projects/nodepool-a100.yaml")
    path = "/api/v1/org-unit/projects/{projectId}/resources"
    with rest(cluster) as http:
        put = http.put(f"{PROJECTS}/team-b/resources", json=[{"nodePool": {"name": "default"}, "gpu": {"deserved": 3}}])
        assert put.status_code == 200, put.text
        conforms(put.json(), "put", path, 200)
        spec = kube(cluster, "project", "team-b")["spec"]
        assert spec["nodePoolsResources"] == [{"nodePool": "default", "gpu": {"deserved": 3}}]
        assert "deservedGpus" not in spec  # one quota, said once
        patched = http.patch(f"{PROJECTS}/team-b/resources", json=[{"nodePool": {"name": "a100"},
                                                                     "gpu": {"deserved": 1, "limit": -1}}])
        assert patched.status_code == 200, patched.text
        conforms(patched.json(), "patch", path, 200)
        pools = {e["nodePool"]: e["gpu"] for e in kube(cluster, "project", "team-b")["spec"]["nodePoolsResources"]}
        assert pools == {"default": {"deserved": 3}, "a100": {"deserved": 1, "maxAllowed": -1}}
        http.patch(f"{PROJECTS}/team-b/resources", json=[{"nodePool": {"name": "a100"}, "gpu": {"deserved": 2}}])
    pools = {e["nodePool"]: e["gpu"] for e in kube(cluster, "project", "team-b")["spec"]["nodePoolsResources"]}
    assert pools == {"default": {"deserved": 3}, "a100": {"deserved": 2, "maxAllowed": -1}}  # the limit is kept
    a100_id = [r["nodePool"]["id"] for r in patched.json() if r["nodePool"]["name"] == "a100"]
    assert a100_id and a100_id[0] != "0"


def test_put_replaces_the_updatable_fields(cluster: Cluster) -> None:
    with rest(cluster) as http:
        http.post(PROJECTS, json=project_body(cluster, "rest-put"))
        answer = http.put(f"{PROJECTS}/rest-put", json={"resources": [{"gpu": {"deserved": 1}}],
                                                         "defaultNodePools": ["default"]})
    assert answer.status_code == 200, answer.text
    conforms(answer.json(), "put", "/api/v1/org-unit/projects/{projectId}", 200)
    spec = kube(cluster, "project", "rest-put")["spec"]
    assert spec["nodePoolsResources"] == [{"nodePool": "default", "gpu": {"deserved": 1}}]
    assert "interactiveJobTimeLimitSecs" not in spec and "nodeAffinityTrain" not in spec


def test_a_project_answer_carries_what_its_workloads_hold(cluster: Cluster) -> None:
    with rest(cluster) as http:
        # no node types: the local node has none
        created = http.post(PROJECTS, json=project_body(cluster, "rest-used", nodeTypes=None))
        assert created.status_code == 201, created.text
        cluster.kubectl("wait", "--for=jsonpath={.status.phase}=Active", "namespace/runai-rest-used",
                        "--timeout=20s")
        cluster.kubectl("apply", "-f", "-", input=(
            "apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: held, namespace: runai-rest-used}\n"
            "spec: {image: {value: ubuntu}, command: {value: sleep 600}, gpu: {value: '1'}}\n"))

        def held() -> dict[str, Any] | None:
            body = http.get(f"{PROJECTS}/rest-used").json()
            return body if body["status"]["quotaStatus"]["allocated"]["gpu"] == 1 else None

        body = eventually(held, timeout=30)
    conforms(body, "get", "/api/v1/org-unit/projects/{projectId}", 200)
    assert body["status"]["quotaStatus"]["requested"]["gpu"] == 1
    [pool] = body["status"]["nodePoolQuotaStatuses"]
    assert pool["nodePoolName"] == "default" and pool["allocated"]["gpu"] == 1
    assert pool["allocated"]["cpu"] >= 0 and pool["allocated"]["memory"] >= 0
    cluster.kubectl("delete", "trainingworkload", "held", "-n", "runai-rest-used", "--wait=false")


def test_delete_and_a_project_with_workloads_is_kept(cluster: Cluster) -> None:
    with rest(cluster) as http:
        http.post(PROJECTS, json=project_body(cluster, "rest-del"))
        http.post(PROJECTS, json=project_body(cluster, "rest-busy"))
        cluster.kubectl("wait", "--for=jsonpath={.status.phase}=Active", "namespace/runai-rest-busy", "--timeout=20s")
        cluster.kubectl("apply", "-f", "-", input=(
            "apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: job, namespace: runai-rest-busy}\n"
            "spec: {image: {value: ubuntu}, command: {value: sleep 60}, gpu: {value: '0'}}\n"))
        gone = http.delete(f"{PROJECTS}/rest-del")
        kept = http.delete(f"{PROJECTS}/rest-busy")
    assert gone.status_code == 204
    assert cluster.kubectl("get", "project", "rest-del", check=False).returncode != 0
    assert kept.status_code == 403
    assert "still has 1 workload" in kept.json()["message"] and "trainingworkload/job" in kept.json()["message"]
    assert kube(cluster, "project", "rest-busy")["metadata"]["name"] == "rest-busy"


def test_departments_are_created_read_updated_and_deleted(cluster: Cluster) -> None:
    body = {"name": "dept-a", "clusterId": cluster_id(cluster),
            "resources": [{"nodePool": {"id": pool_id(cluster, "default")}, "gpu": {"deserved": 8, "limit": -1}}]}
    jsonschema.validate(body, request_schema("post", DEPARTMENTS))
    with rest(cluster) as http:
        created = http.post(DEPARTMENTS, json=body)
        assert created.status_code == 201, created.text
        conforms(created.json(), "post", DEPARTMENTS, 201)
        dept_id = created.json()["id"]
        assert kube(cluster, "department", "dept-a")["spec"]["nodePoolsResources"] == [
            {"nodePool": "default", "gpu": {"deserved": 8, "maxAllowed": -1}}]
        child = http.post(PROJECTS, json=project_body(cluster, "dept-a-p", parentId=dept_id))
        assert child.status_code == 201, child.text
        assert child.json()["parentId"] == dept_id
        assert kube(cluster, "project", "dept-a-p")["spec"]["department"] == "dept-a"
        listed = http.get(DEPARTMENTS)
        conforms(listed.json(), "get", DEPARTMENTS, 200)
        assert dept_id in [d["id"] for d in listed.json()["departments"]]
        one = http.get(f"{DEPARTMENTS}/{dept_id}")
        conforms(one.json(), "get", "/api/v1/org-unit/departments/{departmentId}", 200)
        assert [c["name"] for c in one.json()["children"]] == ["dept-a-p"]
        assert one.json()["projectsAggregatedResources"][0]["gpu"] == {"deserved": 2}
        put = http.put(f"{DEPARTMENTS}/{dept_id}", json={"resources": [{"gpu": {"deserved": 6}}]})
        conforms(put.json(), "put", "/api/v1/org-unit/departments/{departmentId}", 200)
        resources = http.put(f"{DEPARTMENTS}/{dept_id}/resources", json=[{"gpu": {"deserved": 5}}])
        conforms(resources.json(), "put", "/api/v1/org-unit/departments/{departmentId}/resources", 200)
        assert kube(cluster, "department", "dept-a")["spec"]["nodePoolsResources"] == [
            {"nodePool": "default", "gpu": {"deserved": 5}}]
        gone = http.delete(f"{DEPARTMENTS}/{dept_id}")
    assert gone.status_code == 204
    assert cluster.kubectl("get", "department", "dept-a", check=False).returncode != 0


def test_a_researcher_sees_only_their_projects_and_writes_none_a_viewer_sees_all(cluster: Cluster) -> None:
    cluster.project("mine")
    cluster.project("theirs")
    token = add_user(cluster, "rita", "researcher", "mine")
    with rest(cluster, token) as http:
        listed = http.get(PROJECTS)
        own = http.get(f"{PROJECTS}/mine")
        other = http.get(f"{PROJECTS}/theirs")
        created = http.post(PROJECTS, json=project_body(cluster, "rita-p"))
        quota = http.put(f"{PROJECTS}/mine/resources", json=[{"gpu": {"deserved": 100}}])
        departments = http.get(DEPARTMENTS)
    assert listed.status_code == 200
    conforms(listed.json(), "get", PROJECTS, 200)
    assert [p["name"] for p in listed.json()["projects"]] == ["mine"]
    assert own.status_code == 200 and own.json()["parent"] == {"name": "default"}  # may not read departments
    conforms(own.json(), "get", "/api/v1/org-unit/projects/{projectId}", 200)
    assert other.status_code == 404
    for refused in (created, quota, departments):
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == 403 and 'User "rita" cannot' in refused.json()["message"]
    assert cluster.kubectl("get", "project", "rita-p", check=False).returncode != 0
    with rest(cluster, add_user(cluster, "vera", "viewer")) as http:
        seen = {p["name"] for p in http.get(PROJECTS, params={"limit": 500}).json()["projects"]}
        refused = http.delete(f"{PROJECTS}/theirs")
    assert {"mine", "theirs"} <= seen  # a viewer sees every project, and writes none
    assert refused.status_code == 403


@pytest.mark.parametrize(("change", "field"), [
    ({"resources": [{"gpu": {"deserved": -1}}]}, "resources[0].gpu.deserved"),
    ({"resources": [{"gpu": {"deserved": 2, "limit": 1}}]}, "resources[0].gpu.limit"),
    ({"resources": [{"nodePool": {"name": "nowhere"}, "gpu": {"deserved": 1}}]}, "resources[0].nodePool.name"),
    ({"parentId": "no-such-department"}, "parentId"),
    ({"clusterId": "5f3c2a8e-0000-4000-8000-000000000000"}, "clusterId"),
    ({"name": "Not_A_Name"}, "name"),
    ({"schedulingRules": {"trainingJobMaxIdleDurationSeconds": 60}},
     "schedulingRules.trainingJobMaxIdleDurationSeconds"),
])
def test_bad_input_is_a_400_naming_the_field(cluster: Cluster, change: dict[str, Any], field: str) -> None:
    body = {**project_body(cluster, "bad-input"), **change}
    with rest(cluster) as http:
        answer = http.post(PROJECTS, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert field in [issue["field"] for issue in error.get("complianceIssues") or []], error
    assert field in error["message"], error
    with rest(cluster) as http:
        assert http.get(f"{PROJECTS}/bad-input").status_code == 404  # nothing was written


def test_a_quota_that_is_not_a_finite_number_is_a_400(cluster: Cluster) -> None:
    raw = json.dumps(project_body(cluster, "bad-nan")).replace('"deserved": 2,', '"deserved": NaN,')
    with rest(cluster) as http:
        answer = http.post(PROJECTS, content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["complianceIssues"][0]["field"] == "resources[0].gpu.deserved"


def test_a_requested_namespace_is_the_projects_namespace(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "ml-team")
    with rest(cluster) as http:
        created = http.post(PROJECTS, json=project_body(cluster, "rest-ns", requestedNamespace="ml-team"))
        assert created.status_code == 201, created.text
        assert created.json()["requestedNamespace"] == "ml-team"
        assert kube(cluster, "project", "rest-ns")["spec"]["namespace"] == "ml-team"
        ready = eventually(lambda: (r := http.get(f"{PROJECTS}/rest-ns").json())["phase"] == "Ready" and r,
                           timeout=20)
    assert ready["status"]["namespace"] == "ml-team"
    labels = kube(cluster, "namespace", "ml-team")["metadata"]["labels"]
    assert labels["runai/queue"] == "rest-ns"
