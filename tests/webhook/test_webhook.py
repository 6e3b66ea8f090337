"""`berth webhook` answers AdmissionReview v1 bodies as kube-apiserver sends them: the defaults as a
JSONPatch, a refusal naming the rule, reading policies from a cluster's API (here a `berth up`)."""

from __future__ import annotations

import base64
import ssl
import subprocess
import time
import uuid

import httpx
import orjson
import pytest

from berth.apiserver.patch import json_patch
from tests.cluster import BIN, free_port

NS = "runai-team-a"


@pytest.fixture(scope="module")
def webhook(cluster, tmp_path_factory):
    cluster.project("team-a")
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v2alpha1
kind: TrainingPolicy
metadata: {name: global-limits, namespace: runai}
spec:
  gpu: {rules: {max: "5"}, value: "1"}
""")
    data = tmp_path_factory.mktemp("webhook")
    port = free_port()
    process = subprocess.Popen([str(BIN / "berth"), "webhook", "--kubeconfig", str(cluster.kubeconfig), "--host",
                                "127.0.0.1", "--port", str(port), "--data-dir", str(data)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cluster.env())
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    context = None
    while time.monotonic() < deadline:
        if (data / "pki" / "ca.crt").exists():
            context = ssl.create_default_context(cafile=str(data / "pki" / "ca.crt"))
            try:
                if httpx.get(f"{url}/healthz", verify=context).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.1)
    with httpx.Client(base_url=url, verify=context, timeout=30) as client:
        yield client
    process.terminate()
    process.wait(timeout=10)


def review(obj: dict, operation: str = "CREATE", old: dict | None = None) -> dict:
    """An AdmissionReview v1 request in the shape kube-apiserver sends."""
    gvk = {"group": "run.ai", "version": "v2alpha1", "kind": obj["kind"]}
    gvr = {"group": "run.ai", "version": "v2alpha1", "resource": obj["kind"].lower() + "s"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": obj["metadata"]["name"], "namespace": NS, "operation": operation,
            "userInfo": {"username": "alice", "uid": "1001", "groups": ["system:authenticated"]},
            "object": obj, "oldObject": old, "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl-create"},
        },
    }


def training(name: str, **spec) -> dict:
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
            "metadata": {"name": name, "namespace": NS, "uid": str(uuid.uuid4()), "creationTimestamp": None},
            "spec": {"image": {"value": "ubuntu"}, **spec}}


def test_defaults_come_back_as_a_json_patch(webhook):
    body = review(training("job-1"))
    answer = webhook.post("/mutate", json=body).json()
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == body["request"]["uid"]
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    patched = json_patch(body["request"]["object"], orjson.loads(base64.b64decode(response["patch"])))
    assert patched["spec"]["gpu"] == {"value": "1"}
    assert patched["spec"]["image"] == {"value": "ubuntu"}
    assert patched["metadata"]["annotations"]["policy.run.ai/applied"] == "runai/global-limits"


def test_a_violation_is_refused_with_the_rule(webhook):
    body = review(training("greedy", gpu={"value": "6"}))
    response = webhook.post("/mutate", json=body).json()["response"]
    assert response["allowed"] is False
    status = response["status"]
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.gpu",
        "message": 'must be no greater than 5 (TrainingPolicy "global-limits" in namespace runai (global))'}]
    assert status["message"].startswith('TrainingWorkload.run.ai "greedy" is invalid: spec.gpu: must be no greater')


def test_an_update_that_leaves_the_spec_alone_is_allowed_without_a_patch(webhook):
    old = training("steady", gpu={"value": "9"})
    new = {**old, "metadata": {**old["metadata"], "labels": {"x": "y"}}}
    response = webhook.post("/mutate", json=review(new, "UPDATE", old)).json()["response"]
    assert response == {"uid": response["uid"], "allowed": True}


def test_other_kinds_pass_through(webhook):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": NS}, "spec": {}}
    body = review(pod)
    body["request"]["kind"] = {"group": "", "version": "v1", "kind": "Pod"}
    response = webhook.post("/mutate", json=body).json()["response"]
    assert response["allowed"] is True and "patch" not in response


def interactive(name: str) -> dict:
    return {**training(name), "kind": "InteractiveWorkload"}


def test_a_name_another_kind_holds_is_refused_with_409(webhook, cluster):
    cluster.kubectl("apply", "-f", "-", input=orjson.dumps(training("taken")).decode())
    body = review(interactive("taken"))
    response = webhook.post("/mutate", json=body).json()["response"]
    assert response["allowed"] is False
    status = response["status"]
    assert status["code"] == 409 and status["reason"] == "AlreadyExists"
    assert status["message"].startswith('interactiveworkloads.run.ai "taken" already exists: a TrainingWorkload')
    assert status["details"] == {"name": "taken", "group": "run.ai", "kind": "interactiveworkloads"}


def test_a_name_its_services_cannot_take_is_refused_as_on_berth_up(webhook):
    response = webhook.post("/mutate", json=review(training("d.job"))).json()["response"]
    assert response["allowed"] is False
    [cause] = response["status"]["details"]["causes"]
    assert cause["field"] == "metadata.name"
    assert cause["message"].startswith('Invalid value: "d.job": a workload name must consist of lower case letters')


def test_a_whole_number_of_gpus_is_patched_to_a_string_as_berth_up_stores_it(webhook):
    body = review(training("whole", gpu={"value": 2}))
    response = webhook.post("/mutate", json=body).json()["response"]
    assert response["allowed"] is True
    patched = json_patch(body["request"]["object"], orjson.loads(base64.b64decode(response["patch"])))
    assert patched["spec"]["gpu"] == {"value": "2"}


def test_an_edit_baked_into_the_pods_is_refused_as_on_berth_up(webhook):
    old = training("running", gpu={"value": "1"})
    new = {**old, "spec": {**old["spec"], "image": {"value": "busybox"}}}
    response = webhook.post("/mutate", json=review(new, "UPDATE", old)).json()["response"]
    assert response["allowed"] is False
    [cause] = response["status"]["details"]["causes"]
    assert cause["field"] == "spec.image" and cause["message"].startswith("Forbidden: cannot change on a submitted")
    suspended = {**new, "spec": {**new["spec"], "active": {"value": False}}}
    assert webhook.post("/mutate", json=review(suspended, "UPDATE", old)).json()["response"]["allowed"] is True
