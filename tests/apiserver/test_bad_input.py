"""Bad requests get the status code and message the real API server gives, and leave nothing behind."""

from __future__ import annotations

import ssl

import httpx
import pytest

from tests.apiserver.helpers import namespace

NS = "bad-input"
TW = "/apis/run.ai/v2alpha1/namespaces/{ns}/trainingworkloads"


@pytest.fixture(scope="module")
def http(cluster):
    with httpx.Client(base_url=cluster.url, verify=ssl.create_default_context(cafile=str(cluster.ca)),
                      headers={"Authorization": f"Bearer {cluster.token}"}) as client:
        namespace(client, NS)
        yield client


def workload(name: str = "ok", **spec) -> dict:
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": {"name": name},
            "spec": spec or {"gpu": {"value": "1"}, "image": {"value": "ubuntu"}}}


def names(http) -> list[str]:
    items = http.get(TW.format(ns=NS)).json()["items"]
    return sorted(i["metadata"]["name"] for i in items)


def test_malformed_json_is_400(http):
    r = http.post(TW.format(ns=NS), content=b'{"apiVersion": "run.ai/v2alpha1", "kind": ',
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["reason"] == "BadRequest"
    assert names(http) == []


def test_malformed_yaml_is_400(http):
    r = http.post(TW.format(ns=NS), content=b"kind: TrainingWorkload\n  spec: {", headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400 and r.json()["kind"] == "Status"


def test_a_body_over_3_mib_is_413(http):
    big = workload("big")
    big["metadata"]["annotations"] = {"pad": "x" * (3 * 1024 * 1024)}
    r = http.post(TW.format(ns=NS), json=big)
    assert r.status_code == 413
    message = r.json()["message"]  # kube-apiserver's words, then the limit in MiB and what to do
    assert message.startswith("Request entity too large: limit is 3145728 bytes (3 MiB) for a request body; ")
    assert "send fewer objects per request" in message
    assert names(http) == []


def test_an_invalid_name_is_422_naming_metadata_name(http):
    r = http.post(TW.format(ns=NS), json=workload("Bad_Name"))
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "a lowercase RFC 1123 subdomain" in body["message"]


def test_a_wrong_type_is_422_with_the_field_path(http):
    r = http.post(TW.format(ns=NS), json=workload("wrong", gpu={"value": [1]}))
    assert r.status_code == 422
    body = r.json()
    assert body["message"].startswith('TrainingWorkload.run.ai "wrong" is invalid: spec.gpu.value: Invalid value: "array"')
    assert body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.gpu.value",
        "message": 'Invalid value: "array": expected a string like "1" or "0.5", got a list'}]
    assert names(http) == []


def test_an_unknown_field_is_400_under_strict_and_pruned_under_warn(http):
    strict = http.post(TW.format(ns=NS) + "?fieldValidation=Strict", json=workload("typo", nodetype={"value": "x"}))
    assert strict.status_code == 400
    assert strict.json()["message"] == (
        'TrainingWorkload in version "v2alpha1" cannot be handled as a TrainingWorkload: strict decoding error: '
        'unknown field "spec.nodetype" (did you mean spec.nodeType?)')
    warn = http.post(TW.format(ns=NS) + "?fieldValidation=Warn", json=workload("typo", nodetype={"value": "x"}))
    assert warn.status_code == 201
    assert warn.headers["warning"] == '299 - "unknown field \\"spec.nodetype\\""'
    assert "nodetype" not in warn.json()["spec"]
    http.delete(TW.format(ns=NS) + "/typo")


def test_a_missing_namespace_is_404(http):
    r = http.post(TW.format(ns="no-such-ns"), json=workload("lost"))
    assert r.status_code == 404
    assert r.json()["message"] == 'namespaces "no-such-ns" not found'


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_a_missing_or_wrong_token_is_401(cluster, headers):
    with httpx.Client(base_url=cluster.url, verify=ssl.create_default_context(cafile=str(cluster.ca)), headers=headers) as anonymous:
        r = anonymous.get(TW.format(ns=NS))
        assert r.status_code == 401
        assert r.json()["reason"] == "Unauthorized"
        assert anonymous.get("/readyz").status_code == 200  # health stays public


def test_dry_run_stores_nothing(http):
    r = http.post(TW.format(ns=NS) + "?dryRun=All", json=workload("dry"))
    assert r.status_code == 201 and r.json()["metadata"]["name"] == "dry"
    assert names(http) == []


def causes(response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return [(c["field"], c["message"]) for c in response.json()["details"]["causes"]]


def with_meta(name: str, **meta) -> dict:
    body = workload(name)
    body["metadata"].update(meta)
    return body


def test_labels_and_annotations_are_checked_as_kube_apiserver_checks_them(http):
    long_value = "v" * 100
    r = http.post(TW.format(ns=NS), json=with_meta("labelled", labels={"team": long_value}))
    assert causes(r) == [("metadata.labels", f'Invalid value: "{long_value}": must be no more than 63 characters')]
    r = http.post(TW.format(ns=NS), json=with_meta("labelled", labels={"bad key": "x", "example.com/ok": "fine_1.2"}))
    [(field, message)] = causes(r)
    assert field == "metadata.labels"
    assert message.startswith('Invalid value: "bad key": name part must consist of alphanumeric characters')
    r = http.post(TW.format(ns=NS), json=with_meta("annotated", annotations={"Bad Key": "x"}))
    assert causes(r)[0][1].startswith('Invalid value: "Bad Key": name part must consist')
    big = {f"note-{i}": "x" * 100_000 for i in range(3)}  # 300 kB: under the body limit, over the annotations'
    r = http.post(TW.format(ns=NS), json=with_meta("annotated", annotations=big))
    assert causes(r) == [("metadata.annotations", "Too long: must have at most 262144 bytes")]
    assert names(http) == []
    ok = http.post(TW.format(ns=NS), json=with_meta("labelled", labels={"team": "a"}))
    assert ok.status_code == 201
    r = http.patch(TW.format(ns=NS) + "/labelled", json={"metadata": {"labels": {"team": long_value}}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert causes(r) == [("metadata.labels", f'Invalid value: "{long_value}": must be no more than 63 characters')]
    http.delete(TW.format(ns=NS) + "/labelled")


@pytest.mark.parametrize(("path", "name", "message"), [
    ("/api/v1/namespaces/{ns}/services", "d.job", "a DNS-1035 label must consist of lower case alphanumeric"),
    ("/api/v1/namespaces/{ns}/services", "1svc", "a DNS-1035 label must consist of lower case alphanumeric"),
    ("/api/v1/namespaces", "a.b", "a lowercase RFC 1123 label must consist of lower case alphanumeric"),
    ("/api/v1/namespaces/{ns}/configmaps", "Cm", "a lowercase RFC 1123 subdomain must consist of"),
])
def test_names_are_checked_per_kind(http, path, name, message):
    kind = {"services": "Service", "namespaces": "Namespace", "configmaps": "ConfigMap"}[path.rsplit("/", 1)[1]]
    body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    if kind == "Service":
        body["spec"] = {"ports": [{"port": 80}]}
    r = http.post(path.format(ns=NS), json=body)
    [(field, text)] = causes(r)
    assert field == "metadata.name" and text.startswith(f'Invalid value: "{name}": {message}')
    assert r.json()["message"].startswith(f'{kind} "{name}" is invalid: metadata.name')


def test_an_object_over_etcds_limit_is_413_naming_both_sizes(http):
    env = {"items": {f"V{i}": {"value": "x" * 400_000} for i in range(5)}}  # 2 MB: under 3 MiB, over 1.5 MiB
    r = http.post(TW.format(ns=NS), json=workload("huge", image={"value": "ubuntu"}, environment=env))
    assert r.status_code == 413
    body = r.json()
    assert body["reason"] == "RequestEntityTooLarge"
    assert body["message"].startswith("Request entity too large: limit is 1572864")
    assert "the TrainingWorkload would be 2000" in body["message"]
    assert names(http) == []


def test_a_service_with_a_port_twice_is_refused_as_kube_apiserver_refuses_it(http):
    def service(*ports: dict) -> dict:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}, "spec": {"ports": list(ports)}}

    r = http.post(f"/api/v1/namespaces/{NS}/services", json=service({"name": "a", "port": 8888},
                                                                      {"name": "b", "port": 8888}))
    assert ("spec.ports[1]", 'Duplicate value: {"port":8888,"protocol":"TCP"}') in causes(r)
    r = http.post(f"/api/v1/namespaces/{NS}/services", json=service({"name": "a", "port": 80}, {"port": 81},
                                                                      {"name": "a", "port": 82}))
    assert causes(r) == [("spec.ports[1].name", "Required value"), ("spec.ports[2].name", 'Duplicate value: "a"')]
    r = http.post(f"/api/v1/namespaces/{NS}/services", json=service())
    assert causes(r) == [("spec.ports", "Required value")]
    ok = http.post(f"/api/v1/namespaces/{NS}/services", json=service({"name": "a", "port": 80},
                                                                       {"name": "b", "port": 80, "protocol": "UDP"}))
    assert ok.status_code == 201, ok.text


def test_a_wrong_value_says_what_is_wrong_with_it_at_the_field_that_holds_it(http):
    r = http.post(TW.format(ns=NS), json=workload("worded", gpu={"value": "abc"}, image={"value": "ubuntu"}))
    assert causes(r) == [("spec.gpu.value", 'Invalid value: "abc" is not a number of GPUs; use a string like "1" or '
                                            '"0.5"')]
    r = http.post(TW.format(ns=NS), json=workload("worded", gpu={"value": "2"}, gpuLimit={"value": "1"}))
    assert causes(r) == [("spec.gpuLimit.value", 'Invalid value: "1": must be no less than gpu (2)')]
    r = http.post(TW.format(ns=NS), json=workload("worded", gpu={"value": "1"}, gpuMemory={"value": "1G"}))
    [(field, message)] = causes(r)
    assert field == "spec.gpuMemory" and message.startswith("gpu and gpuMemory ask for GPUs in different ways")
    assert '"object"' not in r.text


def test_a_configmap_or_secret_over_1_mib_of_data_is_refused_as_kube_apiserver_refuses_it(http):
    big = {"a": "x" * 600_000, "b": "y" * 600_000}
    r = http.post(f"/api/v1/namespaces/{NS}/configmaps", json={"apiVersion": "v1", "kind": "ConfigMap",
                                                               "metadata": {"name": "big"}, "data": big})
    assert causes(r) == [("", "Too long: must have at most 1048576 bytes")]
    r = http.post(f"/api/v1/namespaces/{NS}/secrets", json={"apiVersion": "v1", "kind": "Secret",
                                                            "metadata": {"name": "big"}, "stringData": big})
    assert causes(r) == [("data", "Too long: must have at most 1048576 bytes")]


def test_a_misspelled_kind_gets_kubectls_no_matches_for_kind(cluster):
    # kubectl looks for a kind its OpenAPI v3 documents lack in the v2 document; without one it said "failed
    # to download openapi" instead of naming the kind (found when applying deploy/ with a typo).
    result = cluster.kubectl("apply", "-f", "-", check=False, input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingWorklod\nmetadata: {name: x, namespace: default}\n"))
    assert result.returncode == 1
    assert 'no matches for kind "TrainingWorklod" in version "run.ai/v2alpha1"' in result.stderr, result.stderr


@pytest.mark.parametrize("data, said", [
    ({"replicas": 3}, "cannot unmarshal number into Go struct field ConfigMap.data of type string"),
    ({"debug": True}, "cannot unmarshal bool into Go struct field ConfigMap.data of type string"),
    ("not a map", "cannot unmarshal string into Go struct field ConfigMap.data of type map[string]string"),
])
def test_a_configmap_value_that_is_not_a_string_is_400_as_kubernetes_says(http, data, said):
    # A ConfigMap's values are strings: kube-apiserver cannot decode another type (YAML `replicas: 3` is a number;
    # quote it). Berth stored it, and a pod reading it then saw "3" or "True" (a known leftover of issue G).
    r = http.post(f"/api/v1/namespaces/{NS}/configmaps", json={
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typed"}, "data": data})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == f'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: {said}'
    assert http.get(f"/api/v1/namespaces/{NS}/configmaps/typed").status_code == 404
