"""Run:ai's policy API on `berth up`: policies written through REST are the Policy objects kubectl shows
(in the Cluster API's field names), policies applied with kubectl read back in REST names, and writes are
admitted, authorized and refused as for kubectl."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.rest.conftest import add_user, rest
from tests.rest.runai import conforms

pytestmark = pytest.mark.usefixtures("bare_module_cluster")

TRAININGS = "/api/v2/policy/trainings"


def _policy(cluster: Cluster, kind: str, namespace: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", kind, "-n", namespace, "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def _put(cluster: Cluster, project: str, policy: dict[str, Any], name: str = "limits",
         token: str | None = None) -> Any:
    body = {"meta": {"scope": "project", "projectId": project, "name": name}, "policy": policy}
    with rest(cluster, token) as http:
        return http.put(TRAININGS, json=body)


def test_a_policy_put_through_rest_is_the_object_kubectl_shows(bare_module_cluster: Cluster) -> None:
    namespace = bare_module_cluster.project("pa")
    answer = _put(bare_module_cluster, "pa", {
        "defaults": {"compute": {"gpuDevicesRequest": 1}, "environmentVariables": {"instances": [
            {"name": "HOME", "value": "/home/me"}]}},
        "rules": {"compute": {"gpuDevicesRequest": {"min": 1, "max": 4}},
                  "imagePullPolicy": {"options": [{"value": "Always"}, {"value": "IfNotPresent"}]},
                  "environmentVariables": {"instances": {"locked": ["HOME"]}}}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    conforms(body, "put", TRAININGS, 200)
    assert body["meta"]["scope"] == "project" and body["meta"]["name"] == "limits"
    assert body["policy"]["rules"]["compute"]["gpuDevicesRequest"] == {"min": 1, "max": 4}
    assert body["effective"]["rules"]["compute"]["gpuDevicesRequest"]["sourceOfRule"]["scope"] == "project"

    [obj] = _policy(bare_module_cluster, "trainingpolicy", namespace)
    assert obj["metadata"]["name"] == "limits" and obj["metadata"]["uid"] == body["meta"]["id"]
    spec = obj["spec"]
    assert spec["gpu"] == {"value": "1", "rules": {"min": "1", "max": "4"}}
    assert spec["imagePullPolicy"] == {"rules": {"options": ["Always", "IfNotPresent"]}}
    assert spec["environment"]["items"]["HOME"] == {"value": "/home/me", "rules": {"canRemove": False}}


def test_a_policy_applied_with_kubectl_reads_back_in_rest_names(bare_module_cluster: Cluster) -> None:
    namespace = bare_module_cluster.project("pb")
    bare_module_cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: TrainingPolicy
metadata: {{name: from-yaml, namespace: {namespace}}}
spec:
  gpu: {{rules: {{max: "2"}}, value: "1"}}
  memory: {{rules: {{max: 8G}}}}
  ports:
    itemRules:
      container: {{min: 30000, max: 32767}}
""")
    with rest(bare_module_cluster) as http:
        answer = http.get(TRAININGS, params={"scope": "project", "projectId": "pb"})
        listed = http.get("/api/v2/policy", params={"workloadType": "Training", "projectId": "pb"})
    assert answer.status_code == 200, answer.text
    conforms(answer.json(), "get", TRAININGS, 200)
    policy = answer.json()["policy"]
    assert policy["defaults"] == {"compute": {"gpuDevicesRequest": 1}}
    assert policy["rules"] == {"compute": {"gpuDevicesRequest": {"max": 2}, "cpuMemoryRequest": {"max": "8G"}},
                               "ports": {"attributes": {"container": {"min": 30000, "max": 32767}}}}
    assert listed.status_code == 200, listed.text
    conforms(listed.json(), "get", "/api/v2/policy", 200)
    assert [(p["type"], p["meta"]["name"]) for p in listed.json()["policies"]] == [("training", "from-yaml")]

    renamed = _put(bare_module_cluster, "pb", {}, name="another")  # one policy per type and scope
    assert renamed.status_code == 400
    assert renamed.json()["complianceIssues"][0]["field"] == "meta.name" and "from-yaml" in renamed.json()["details"]


def test_patch_changes_one_rule_and_reset_clears_a_field(bare_module_cluster: Cluster) -> None:
    namespace = bare_module_cluster.project("pc")
    assert _put(bare_module_cluster, "pc", {
        "defaults": {"compute": {"cpuCoreRequest": 0.5}},
        "rules": {"compute": {"gpuDevicesRequest": {"min": 1, "max": 4}, "cpuCoreRequest": {"max": 2}}}}
                ).status_code == 200
    change = {"meta": {"scope": "project", "projectId": "pc"},
              "policy": {"rules": {"compute": {"gpuDevicesRequest": {"max": 2}}}},
              "reset": ["compute.cpuCoreRequest"]}
    with rest(bare_module_cluster) as http:
        answer = http.patch(TRAININGS, json=change)
    assert answer.status_code == 200, answer.text
    conforms(answer.json(), "patch", TRAININGS, 200)
    [obj] = _policy(bare_module_cluster, "trainingpolicy", namespace)
    assert obj["spec"] == {"gpu": {"rules": {"min": "1", "max": "2"}}}


def test_delete_removes_the_object(bare_module_cluster: Cluster) -> None:
    namespace = bare_module_cluster.project("pd")
    assert _put(bare_module_cluster, "pd", {"rules": {"compute": {"gpuDevicesRequest": {"max": 1}}}}).status_code == 200
    project = json.loads(bare_module_cluster.kubectl("get", "project", "pd", "-o", "json").stdout)
    query = {"scope": "project", "projectId": project["metadata"]["uid"]}  # the id, as scripts give it
    with rest(bare_module_cluster) as http:
        deleted = http.delete(TRAININGS, params=query)
        again = http.get(TRAININGS, params=query)
    assert deleted.status_code == 204, deleted.text
    assert _policy(bare_module_cluster, "trainingpolicy", namespace) == []
    assert again.status_code == 404
    conforms(again.json(), "get", TRAININGS, 404)


def test_a_researcher_may_read_policies_but_not_write_them(bare_module_cluster: Cluster) -> None:
    bare_module_cluster.project("pe")
    token = add_user(bare_module_cluster, "rita", "researcher", "pe")
    answer = _put(bare_module_cluster, "pe", {"rules": {"compute": {"gpuDevicesRequest": {"max": 1}}}}, token=token)
    assert answer.status_code == 403, answer.text
    conforms(answer.json(), "put", TRAININGS, 403)
    assert _policy(bare_module_cluster, "trainingpolicy", "runai-pe") == []
    with rest(bare_module_cluster, token) as http:
        listed = http.get("/api/v2/policy")
    assert listed.status_code == 200, listed.text


def test_a_contradictory_policy_is_refused_naming_the_rest_field(bare_module_cluster: Cluster) -> None:
    bare_module_cluster.project("pf")
    body = {"meta": {"scope": "project", "projectId": "pf", "name": "checked"},
            "policy": {"rules": {"compute": {"gpuDevicesRequest": {"max": 2}}}}}
    with rest(bare_module_cluster) as http:
        checked = http.put(TRAININGS, json=body, params={"validateOnly": "true"})
    assert checked.status_code == 200, checked.text
    conforms(checked.json(), "put", TRAININGS, 200)
    assert _policy(bare_module_cluster, "trainingpolicy", "runai-pf") == []  # validated, not stored
    answer = _put(bare_module_cluster, "pf", {"rules": {"compute": {"gpuDevicesRequest": {"min": 4, "max": 2}}}})
    assert answer.status_code == 400, answer.text
    body = answer.json()
    conforms(body, "put", TRAININGS, 400)
    assert [i["field"] for i in body["complianceIssues"]] == ["policy.rules.compute.gpuDevicesRequest.min"]
    assert "no greater than" in body["complianceIssues"][0]["details"]
    assert _policy(bare_module_cluster, "trainingpolicy", "runai-pf") == []


def test_department_scope_is_refused_with_the_fix(bare_module_cluster: Cluster) -> None:
    with rest(bare_module_cluster) as http:
        answer = http.put(TRAININGS, json={"meta": {"scope": "department", "departmentId": "d", "name": "x"},
                                           "policy": {}})
    assert answer.status_code == 400
    body = answer.json()
    assert body["complianceIssues"][0]["field"] == "meta.scope"
    assert "scope project" in body["details"]


def test_a_policy_violation_reads_the_same_through_kubectl_and_rest(bare_module_cluster: Cluster) -> None:
    """The policy written through REST refuses a workload with the same words through kubectl and REST."""
    namespace = bare_module_cluster.project("pg")
    assert _put(bare_module_cluster, "pg", {"rules": {"compute": {"gpuDevicesRequest": {"max": 2}}}}).status_code == 200
    refused = bare_module_cluster.kubectl("apply", "-f", "-", check=False, input=f"""
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {{name: greedy, namespace: {namespace}}}
spec: {{image: {{value: busybox}}, gpu: {{value: "3"}}}}
""")
    assert refused.returncode != 0
    message = 'must be no greater than 2 (TrainingPolicy "limits" in project pg)'
    assert f"spec.gpu: {message}" in refused.stderr
    runai = json.loads(bare_module_cluster.kubectl("get", "namespace", "runai", "-o", "json").stdout)
    workload = {"name": "greedy", "projectId": "pg", "clusterId": runai["metadata"]["uid"],
                "spec": {"image": "busybox", "compute": {"gpuDevicesRequest": 3}}}
    with rest(bare_module_cluster) as http:
        answer = http.post("/api/v1/workloads/trainings", json=workload)
    assert answer.status_code == 400, answer.text
    issues = {i["field"]: i["details"] for i in answer.json()["complianceIssues"]}
    assert issues["spec.compute.gpuDevicesRequest"] == message


def test_the_cluster_scope_is_the_namespace_runai(bare_module_cluster: Cluster) -> None:
    body = {"meta": {"scope": "tenant", "name": "everyone"},
            "policy": {"defaults": {"compute": {"gpuDevicesRequest": 1}}}}
    with rest(bare_module_cluster) as http:
        answer = http.put("/api/v2/policy/workspaces", json=body)
        read = http.get("/api/v2/policy/workspaces", params={"scope": "cluster"})
        http.delete("/api/v2/policy/workspaces", params={"scope": "cluster"})
    assert answer.status_code == 200, answer.text
    conforms(read.json(), "get", "/api/v2/policy/workspaces", 200)
    assert read.json()["meta"]["scope"] == "cluster"
    assert read.json()["effective"]["defaults"] == {"compute": {"gpuDevicesRequest": 1}}


@pytest.mark.parametrize(("segment", "kind", "policy", "field"), [
    ("workspaces", "interactivepolicy", {"rules": {"compute": {"gpuDevicesRequest": {"max": 1}}}}, "gpu"),
    ("distributed", "distributedpolicy", {"defaults": {"worker": {"numWorkers": 2}},
                                          "rules": {"master": {"compute": {"gpuDevicesRequest": {"max": 1}}}}},
     "masterSpec"),
    ("inferences", "inferencepolicy", {"rules": {"autoscaling": {"maxReplicas": {"max": 4}}}}, "maxScale"),
])
def test_each_policy_type_round_trips(bare_module_cluster: Cluster, segment: str, kind: str,
                                      policy: dict[str, Any], field: str) -> None:
    project = f"ph-{segment}"
    namespace = bare_module_cluster.project(project)
    query = {"scope": "project", "projectId": project}
    with rest(bare_module_cluster) as http:
        put = http.put(f"/api/v2/policy/{segment}", json={"meta": {**query, "name": "p"}, "policy": policy})
        got = http.get(f"/api/v2/policy/{segment}", params=query)
    assert put.status_code == 200, put.text
    conforms(got.json(), "get", f"/api/v2/policy/{segment}", 200)
    assert got.json()["policy"] == policy
    [obj] = _policy(bare_module_cluster, kind, namespace)
    assert field in obj["spec"]
