"""Workloads created, read, suspended, resumed and deleted through Run:ai's REST API
(`/api/v1/workloads/{workspaces,trainings,distributed,inferences}`) are the objects kubectl sees, with the
same values; answers follow Run:ai's published schemas; a policy refuses through REST with kubectl's words."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.cluster import Cluster
from tests.rest.conftest import add_user, rest
from tests.rest.runai import conforms, request_schema, violations

pytestmark = pytest.mark.usefixtures("bare_module_cluster")

TRAINING_SPEC: dict[str, Any] = {
    "image": "python:3.11", "command": "python", "args": "train.py --epochs 3", "workingDir": "/work",
    "environmentVariables": [{"name": "LR", "value": "0.1"}, {"name": "MODE", "value": "fast"}],
    "nodePools": ["default"], "completions": 2, "parallelism": 1, "backoffLimit": 3,
    "labels": [{"name": "team", "value": "vision"}],
    "compute": {"gpuDevicesRequest": 1, "cpuCoreRequest": 0.5, "cpuMemoryRequest": "1G", "cpuMemoryLimit": "2G"},
    "storage": {"pvc": [{"name": "data", "existingPvc": True, "claimName": "datasets", "path": "/data"}]},
    "security": {"capabilities": ["SYS_PTRACE"]},
}


@pytest.fixture(scope="module")
def env(bare_module_cluster: Cluster) -> dict[str, Any]:
    """The module's cluster with project `a`: its id, the cluster's id, and an admin's REST client."""
    bare_module_cluster.project("a")
    http = rest(bare_module_cluster)
    projects = json.loads(bare_module_cluster.kubectl("get", "projects", "-o", "json").stdout)["items"]
    project_id = next(p["metadata"]["uid"] for p in projects if p["metadata"]["name"] == "a")
    runai = json.loads(bare_module_cluster.kubectl("get", "namespace", "runai", "-o", "json").stdout)
    return {"http": http, "project": project_id, "cluster": runai["metadata"]["uid"], "c": bare_module_cluster}


def body(env: dict[str, Any], name: str, spec: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"name": name, "projectId": env["project"], "clusterId": env["cluster"], "spec": spec, **more}


def create(env: dict[str, Any], path: str, payload: dict[str, Any]) -> httpx.Response:
    assert violations(payload, request_schema("post", f"/api/v1/workloads/{path}")) == []
    return env["http"].post(f"/api/v1/workloads/{path}", json=payload)


def kubectl_json(c: Cluster, *args: str) -> Any:
    return json.loads(c.kubectl("get", *args, "-o", "json").stdout)


def test_a_training_created_through_rest_is_the_object_kubectl_sees(env: dict[str, Any]) -> None:
    answer = create(env, "trainings", body(env, "train-rest", TRAINING_SPEC))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    conforms(got, "post", "/api/v1/workloads/trainings", 200)
    assert got["name"] == got["requestedName"] == "train-rest"
    assert got["projectId"] == env["project"] and got["clusterId"] == env["cluster"]
    assert got["desiredPhase"] == "Running" and got["createdBy"] == "admin"

    obj = kubectl_json(env["c"], "tw", "train-rest", "-n", "runai-a")
    assert obj["metadata"]["uid"] == got["workloadId"]
    spec = obj["spec"]
    assert spec["image"] == {"value": "python:3.11"}
    assert spec["command"] == {"value": "python"}
    assert spec["arguments"] == {"value": "train.py --epochs 3"}
    assert spec["workingDir"] == {"value": "/work"}
    assert spec["gpu"] == {"value": "1"}
    assert spec["cpu"] == {"value": "0.5"} and spec["memory"] == {"value": "1G"}
    assert spec["memoryLimit"] == {"value": "2G"}
    assert spec["environment"]["items"] == {"LR": {"value": "0.1"}, "MODE": {"value": "fast"}}
    assert spec["completions"] == {"value": 2} and spec["backoffLimit"] == {"value": 3}
    assert spec["pvcs"]["items"]["data"]["value"]["claimName"] == "datasets"
    assert spec["capabilities"]["items"] == {"sys-ptrace": {"value": "SYS_PTRACE"}}

    again = env["http"].get(f"/api/v1/workloads/trainings/{got['workloadId']}")
    assert again.status_code == 200
    conforms(again.json(), "get", "/api/v1/workloads/trainings/{workloadId}", 200)
    assert again.json()["spec"] == TRAINING_SPEC


def test_a_name_prefix_is_completed_by_the_api_server(env: dict[str, Any]) -> None:
    answer = create(env, "trainings", body(env, "sweep", {"image": "busybox"}, useGivenNameAsPrefix=True))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["requestedName"] == "sweep" and got["name"].startswith("sweep-") and got["name"] != "sweep-"
    kubectl_json(env["c"], "tw", got["name"], "-n", "runai-a")


def test_a_training_policy_refuses_through_rest_with_kubectls_words(env: dict[str, Any]) -> None:
    c = env["c"]
    c.project("capped")
    c.kubectl("apply", "-f", "-", input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingPolicy\nmetadata: {name: limits, namespace: runai-capped}\n"
        "spec:\n  gpu:\n    rules: {max: \"2\"}\n"))
    too_big = {"image": "busybox", "compute": {"gpuDevicesRequest": 4}}
    refused = c.kubectl("apply", "-f", "-", check=False, input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: big, namespace: runai-capped}\n"
        "spec:\n  image: {value: busybox}\n  gpu: {value: \"4\"}\n"))
    assert refused.returncode != 0
    answer = create(env, "trainings", {**body(env, "big", too_big), "projectId": "capped"})
    assert answer.status_code == 400, answer.text
    got = answer.json()
    conforms(got, "post", "/api/v1/workloads/trainings", 400)
    issues = {i["field"]: i["details"] for i in got["complianceIssues"]}
    assert "spec.compute.gpuDevicesRequest" in issues, got
    assert issues["spec.compute.gpuDevicesRequest"] in refused.stderr
    assert "must be no greater than" in issues["spec.compute.gpuDevicesRequest"]


def test_suspend_and_resume_flip_spec_active(env: dict[str, Any]) -> None:
    made = create(env, "trainings", body(env, "pausable", {"image": "busybox"})).json()
    url = f"/api/v1/workloads/trainings/{made['workloadId']}"
    for verb, active, desired in (("suspend", False, "Stopped"), ("resume", True, "Running")):
        answer = env["http"].post(f"{url}/{verb}")
        assert answer.status_code == 202, answer.text
        conforms(answer.json(), "post", f"/api/v1/workloads/trainings/{{workloadId}}/{verb}", 202)
        obj = kubectl_json(env["c"], "tw", "pausable", "-n", "runai-a")
        assert obj["spec"]["active"] == {"value": active}
        assert env["http"].get(url).json()["desiredPhase"] == desired


def test_delete_then_get_is_404(env: dict[str, Any]) -> None:
    made = create(env, "trainings", body(env, "short-lived", {"image": "busybox"})).json()
    url = f"/api/v1/workloads/trainings/{made['workloadId']}"
    gone = env["http"].delete(url)
    assert gone.status_code == 204 and gone.content == b""
    missing = env["http"].get(url)
    assert missing.status_code == 404
    conforms(missing.json(), "get", "/api/v1/workloads/trainings/{workloadId}", 404)
    assert env["c"].kubectl("get", "tw", "short-lived", "-n", "runai-a", check=False).returncode != 0


def test_a_workspace_suspends_and_shows_its_priority(env: dict[str, Any]) -> None:
    spec = {"image": "jupyter/base-notebook", "priorityClass": "interactive-preemptible",
            "ports": [{"name": "nb", "container": 8888, "serviceType": "ClusterIP"}],
            "compute": {"gpuDevicesRequest": 1, "gpuRequestType": "portion", "gpuPortionRequest": 0.5}}
    answer = create(env, "workspaces", body(env, "notebook", spec))
    assert answer.status_code == 200, answer.text
    conforms(answer.json(), "post", "/api/v1/workloads/workspaces", 200)
    obj = kubectl_json(env["c"], "iw", "notebook", "-n", "runai-a")
    assert obj["spec"]["preemptible"] == {"value": True} and obj["spec"]["gpu"] == {"value": "0.5"}
    url = f"/api/v1/workloads/workspaces/{answer.json()['workloadId']}"
    suspended = env["http"].post(f"{url}/suspend")
    assert suspended.status_code == 202
    conforms(suspended.json(), "post", "/api/v1/workloads/workspaces/{workloadId}/suspend", 202)
    got = env["http"].get(url).json()
    conforms(got, "get", "/api/v1/workloads/workspaces/{workloadId}", 200)
    assert got["spec"] == spec and got["desiredPhase"] == "Stopped"
    assert env["http"].delete(url).status_code == 204


def test_a_distributed_training_with_a_master_spec(env: dict[str, Any]) -> None:
    spec = {"image": "pytorch/pytorch", "command": "torchrun train.py", "distributedFramework": "PyTorch",
            "numWorkers": 2, "compute": {"gpuDevicesRequest": 1}}
    master = {"image": "pytorch/pytorch", "command": "python master.py", "compute": {"cpuCoreRequest": 1}}
    answer = create(env, "distributed", body(env, "ddp", spec, masterSpecSameAsWorker=False, masterSpec=master))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    conforms(got, "post", "/api/v1/workloads/distributed", 200)
    obj = kubectl_json(env["c"], "dw", "ddp", "-n", "runai-a")
    assert obj["spec"]["jobType"] == "PyTorchJob" and obj["spec"]["workers"] == {"value": 2}
    assert obj["masterSpec"]["command"] == {"value": "python master.py"}
    assert obj["masterSpec"]["cpu"] == {"value": "1"}
    again = env["http"].get(f"/api/v1/workloads/distributed/{got['workloadId']}").json()
    conforms(again, "get", "/api/v1/workloads/distributed/{workloadId}", 200)
    assert again["spec"] == spec and again["masterSpec"] == master and again["masterSpecSameAsWorker"] is False
    assert env["http"].post(f"/api/v1/workloads/distributed/{got['workloadId']}/suspend").status_code == 404


def test_an_inference_with_a_serving_port_and_autoscaling(env: dict[str, Any]) -> None:
    spec = {"image": "vllm/vllm-openai", "servingPort": {"container": 8000},
            "autoscaling": {"minReplicas": 1, "maxReplicas": 3, "metric": "concurrency", "metricThreshold": 8},
            "compute": {"gpuDevicesRequest": 1}}
    answer = create(env, "inferences", body(env, "serve", spec))
    assert answer.status_code == 200, answer.text
    conforms(answer.json(), "post", "/api/v1/workloads/inferences", 200)
    obj = kubectl_json(env["c"], "inferenceworkloads", "serve", "-n", "runai-a")
    assert obj["spec"]["ports"]["items"]["serving-port"]["value"] == {"container": 8000}
    assert obj["spec"]["maxScale"] == {"value": 3} and obj["spec"]["metric"] == {"value": "concurrency"}
    url = f"/api/v1/workloads/inferences/{answer.json()['workloadId']}"
    got = env["http"].get(url).json()
    conforms(got, "get", "/api/v1/workloads/inferences/{workloadId}", 200)
    assert got["spec"] == spec
    assert env["http"].delete(url).status_code == 204


def test_a_training_applied_as_yaml_reads_back_in_runais_names(env: dict[str, Any]) -> None:
    c = env["c"]
    c.kubectl("apply", "-f", "-", input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: from-yaml, namespace: runai-a}\n"
        "spec:\n  image: {value: busybox}\n  gpu: {value: \"0.5\"}\n  cpu: {value: 500m}\n"
        "  environment: {items: {HOME: {value: /home/u}}}\n  nodePools: {value: a b}\n"))
    uid = kubectl_json(c, "tw", "from-yaml", "-n", "runai-a")["metadata"]["uid"]
    got = env["http"].get(f"/api/v1/workloads/trainings/{uid}")
    assert got.status_code == 200, got.text
    conforms(got.json(), "get", "/api/v1/workloads/trainings/{workloadId}", 200)
    assert got.json()["spec"] == {
        "image": "busybox", "nodePools": ["a", "b"], "environmentVariables": [{"name": "HOME", "value": "/home/u"}],
        "compute": {"cpuCoreRequest": 0.5, "gpuDevicesRequest": 1, "gpuRequestType": "portion",
                    "gpuPortionRequest": 0.5}}
    assert got.json()["createdBy"] == ""  # applied without spec.username
    assert env["http"].get(f"/api/v1/workloads/workspaces/{uid}").status_code == 404  # not a workspace


def test_a_master_spec_must_agree_with_master_spec_same_as_worker(env: dict[str, Any]) -> None:
    spec = {"image": "busybox", "distributedFramework": "PyTorch", "numWorkers": 1}
    for extra in ({"masterSpecSameAsWorker": True, "masterSpec": {"image": "x"}}, {"masterSpecSameAsWorker": False}):
        answer = env["http"].post("/api/v1/workloads/distributed", json=body(env, "ddp-bad", spec, **extra))
        assert answer.status_code == 400, answer.text
        conforms(answer.json(), "post", "/api/v1/workloads/distributed", 400)
        assert answer.json()["complianceIssues"][0]["field"] == "masterSpec"


@pytest.mark.parametrize(("change", "field"), [
    ({"projectId": "no-such-project"}, "projectId"),
    ({"clusterId": "71f69d83-ba66-4822-adf5-55ce55efd210"}, "clusterId"),
    ({"spec": {"image": "busybox", "compute": {"gpuDeviceRequest": 1}}}, "spec.compute.gpuDeviceRequest"),
    ({"spec": {"image": "busybox", "relatedUrls": [{"url": "https://x", "type": "wandb"}]}}, "spec.relatedUrls"),
    ({"name": "Not_A_DNS_Name"}, "name"),
    ({"useGivenNameAsPrefx": True}, "useGivenNameAsPrefx"),
])
def test_bad_bodies_are_400_naming_the_field(env: dict[str, Any], change: dict[str, Any], field: str) -> None:
    payload = {**body(env, "bad", {"image": "busybox"}), **change}
    answer = env["http"].post("/api/v1/workloads/trainings", json=payload)
    assert answer.status_code == 400, answer.text
    got = answer.json()
    conforms(got, "post", "/api/v1/workloads/trainings", 400)
    assert got["complianceIssues"][0]["field"] == field, got
    assert env["c"].kubectl("get", "tw", "bad", "-n", "runai-a", check=False).returncode != 0


def test_a_researcher_creates_in_its_project_only(env: dict[str, Any]) -> None:
    c = env["c"]
    c.project("b")
    token = add_user(c, "rita", "researcher", "a")
    with rest(c, token) as http:
        mine = http.post("/api/v1/workloads/trainings", json=body(env, "rita-job", {"image": "busybox"}))
        assert mine.status_code == 200, mine.text
        assert mine.json()["createdBy"] == "rita"
        theirs = http.post("/api/v1/workloads/trainings",
                           json={**body(env, "rita-job", {"image": "busybox"}), "projectId": "b"})
        assert theirs.status_code in (400, 403), theirs.text
    assert c.kubectl("get", "tw", "rita-job", "-n", "runai-b", check=False).returncode != 0


def test_the_openapi_document_describes_the_answers_served(env: dict[str, Any]) -> None:
    doc = env["http"].get("/api/v1/openapi.json").json()
    request = doc["components"]["schemas"]["TrainingCreationRequest"]
    gpu = request["properties"]["spec"]["properties"]["compute"]["properties"]["gpuDevicesRequest"]
    assert gpu["type"] == "integer" and "GPUs for each pod" in gpu["description"]  # the Berth field's words
    made = create(env, "trainings", body(env, "documented", TRAINING_SPEC)).json()
    answer = env["http"].get(f"/api/v1/workloads/trainings/{made['workloadId']}").json()
    schema = {"$ref": "#/components/schemas/Training", "components": doc["components"]}
    assert violations(answer, schema) == []
    assert violations(body(env, "x", TRAINING_SPEC), {**schema, "$ref": "#/components/schemas/TrainingCreationRequest"}) == []
