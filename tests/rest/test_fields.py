"""The REST <-> object field mapping (berth.rest.fields) on dicts, without a cluster: every field of Run:ai's
published request schema has a row, what it makes is a valid object of Berth's models, GET shows it back in
Run:ai's schema, and what cannot be mapped is a 400 naming the REST field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from berth.api.workloads import DistributedWorkload, InferenceWorkload, InteractiveWorkload, TrainingWorkload
from berth.rest import fields as f
from berth.rest.errors import RestError
from tests.rest.runai import _document, request_schema, violations

PATHS = {f.W: "workspaces", f.T: "trainings", f.D: "distributed", f.I: "inferences"}
MODELS = {f.W: InteractiveWorkload, f.T: TrainingWorkload, f.D: DistributedWorkload, f.I: InferenceWorkload}

TRAINING: dict[str, Any] = {
    "image": "python:3.11", "imagePullPolicy": "IfNotPresent", "command": "python", "args": "train.py --epochs 3",
    "workingDir": "/work", "createHomeDir": True, "tty": True, "stdin": True,
    "environmentVariables": [{"name": "LR", "value": "0.1"}, {"name": "FROM_POLICY", "exclude": True}],
    "annotations": [{"name": "team", "value": "vision"}], "labels": [{"name": "tier", "value": "gold"}],
    "nodeType": "a100", "nodePools": ["pool-a", "pool-b"], "podAffinity": {"type": "Required", "key": "zone"},
    "tolerations": [{"name": "gpu", "operator": "Equal", "key": "nvidia.com/gpu", "value": "x",
                     "effect": "NoSchedule"}],
    "priorityClass": "train", "terminateAfterPreemption": True, "autoDeletionTimeAfterCompletionSeconds": 60,
    "backoffLimit": 2, "completions": 4, "parallelism": 2,
    "ports": [{"name": "web", "container": 8080, "serviceType": "NodePort", "external": 30080}],
    "exposedUrls": [{"name": "tb", "container": 6006, "url": "https://tb", "authorizedUsers": ["ann", "bob"],
                     "toolType": "tensorboard"}],
    "compute": {"gpuDevicesRequest": 2, "gpuRequestType": "portion", "gpuPortionRequest": 0.5,
                "gpuPortionLimit": 1, "cpuCoreRequest": 0.5, "cpuCoreLimit": 2, "cpuMemoryRequest": "1G",
                "cpuMemoryLimit": "4G", "largeShmRequest": True,
                "extendedResources": [{"resource": "nvidia.com/rdma", "quantity": "1"}]},
    "storage": {
        "pvc": [{"name": "data", "existingPvc": True, "claimName": "datasets", "path": "/data", "readOnly": True},
                {"name": "scratch", "existingPvc": False, "path": "/scratch",
                 "claimInfo": {"size": "10G", "storageClass": "fast", "accessModes": {"readWriteMany": True}}}],
        "git": [{"name": "code", "repository": "https://git/x.git", "branch": "main", "path": "/code",
                 "passwordSecret": "git-creds", "secretKeyOfUser": "user", "secretKeyOfPassword": "token"}],
        "configMapVolume": [{"name": "cfg", "configMap": "settings", "mountPath": "/etc/cfg"}],
        "secretVolume": [{"name": "sec", "secret": "keys", "mountPath": "/etc/keys"}],
        "hostPath": [{"name": "models", "path": "/models", "mountPath": "/models", "readOnly": True,
                      "mountPropagation": "HostToContainer"}],
        "nfs": [{"name": "share", "path": "/export", "server": "nfs.local", "mountPath": "/share",
                 "readOnly": False}],
        "s3": [{"name": "bucket", "bucket": "ml", "path": "/s3", "url": "https://s3.local",
                "accessKeySecret": "s3-creds", "secretKeyOfAccessKeyId": "id", "secretKeyOfSecretKey": "key"}],
    },
    "security": {"uidGidSource": "custom", "runAsUid": 1000, "runAsGid": 100, "supplementalGroups": "5,6",
                 "capabilities": ["SYS_PTRACE", "NET_ADMIN"], "allowPrivilegeEscalation": False,
                 "hostIpc": False, "hostNetwork": False},
}


def build(kind: str, spec: dict[str, Any], master: dict[str, Any] | None = None) -> Any:
    """The object the mapping makes, validated by Berth's model (raises if Berth would refuse it)."""
    obj: dict[str, Any] = {"apiVersion": "run.ai/v2alpha1", "kind": kind, "metadata": {"name": "x"},
                           "spec": f.to_object_spec(kind, spec)}
    if master is not None:
        obj["masterSpec"] = f.to_object_spec(f.MASTER, master, root="masterSpec")
    return MODELS[kind].model_validate(obj).to_dict()


def refused(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(RestError) as caught:
        f.to_object_spec(kind, spec)
    assert caught.value.code == 400
    return caught.value.body()


def schema_violations(kind: str, spec: dict[str, Any]) -> list[str]:
    body = {"name": "x", "projectId": "1", "clusterId": "71f69d83-ba66-4822-adf5-55ce55efd210", "spec": spec}
    return violations(body, request_schema("post", f"/api/v1/workloads/{PATHS[kind]}"))


# -- the table covers Run:ai's schema ---------------------------------------------------------------------


def _leaves(schema: Any, prefix: str = "") -> set[str]:
    """Dotted paths of the fields of a (resolved) Run:ai schema; a list of objects is one leaf."""
    components = _document()["components"]["schemas"]
    if "$ref" in schema:
        return _leaves(components[schema["$ref"].rsplit("/", 1)[-1]], prefix)
    out: set[str] = set()
    for part in schema.get("allOf", []):
        out |= _leaves(part, prefix)
    for name, sub in (schema.get("properties") or {}).items():
        resolved = sub
        while "$ref" in resolved:
            resolved = components[resolved["$ref"].rsplit("/", 1)[-1]]
        nested = resolved.get("properties") or resolved.get("allOf")
        if nested and resolved.get("type") != "array" and f"{prefix}{name}".removeprefix("spec.") not in f.BY_REST:
            out |= _leaves(resolved, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out


@pytest.mark.parametrize("kind", list(PATHS))
def test_every_field_of_runais_request_spec_has_a_row(kind: str) -> None:
    spec_schema = _document()["paths"][f"/api/v1/workloads/{PATHS[kind]}"]["post"]["request"]
    leaves = {p.removeprefix("spec.") for p in _leaves(spec_schema) if p.startswith("spec.")}
    missing = sorted(p for p in leaves if p not in f.BY_REST and not p.startswith("servingPort"))
    assert not missing, f"Run:ai fields of {kind} with no row in berth.rest.fields: {missing}"
    for path in leaves:
        row = f.BY_REST.get(path)
        if row is not None:
            assert kind in row.kinds, f"{path} is in Run:ai's {kind} spec but its row leaves {kind} out"


def test_every_supported_row_names_a_field_of_some_kind() -> None:
    for row in f.FIELDS:
        if row.shape in ("value", "plain", "items", "strings") and row.obj:
            assert any(row.target(k) for k in row.kinds), row.rest


# -- REST -> object -> REST ------------------------------------------------------------------------------


def test_a_full_training_spec_follows_runais_schema_and_makes_a_valid_object() -> None:
    assert schema_violations(f.T, TRAINING) == []
    spec = build(f.T, TRAINING)["spec"]
    assert spec["image"] == {"value": "python:3.11"}
    assert spec["arguments"] == {"value": "train.py --epochs 3"}
    assert spec["gpu"] == {"value": "0.5"} and spec["gpuDevices"] == {"value": 2}
    assert spec["cpu"] == {"value": "0.5"} and spec["memoryLimit"] == {"value": "4G"}
    assert spec["environment"]["items"] == {"LR": {"value": "0.1"}, "FROM_POLICY": {"deleted": True}}
    assert spec["nodePools"] == {"value": "pool-a pool-b"}
    assert spec["podAffinity"] == {"value": True}
    assert spec["podAffinitySchedulingRule"] == {"value": "Required"}
    assert spec["pvcs"]["items"]["scratch"]["value"] == {
        "existingPvc": False, "path": "/scratch", "size": "10G", "storageClass": "fast",
        "accessMode": "ReadWriteMany"}
    assert spec["gitSync"]["items"]["code"]["value"]["password"] == "SECRET:git-creds,token"
    assert spec["volumes"]["items"]["share"]["value"] == {"source": "/export", "target": "/share",
                                                          "nfsServer": "nfs.local", "readOnly": False}
    assert spec["mountPropagation"] == {"value": True}
    assert spec["runAsUser"] == {"value": True}
    assert spec["exposedUrls"]["items"]["tb"]["value"]["authorizedUsers"] == "ann bob"


def test_get_shows_the_training_spec_as_it_was_sent() -> None:
    back = f.from_object_spec(f.T, build(f.T, TRAINING)["spec"])
    sent = copy.deepcopy(TRAINING)
    sent.pop("priorityClass")  # a training's only priority class; not written back
    assert back == sent
    assert schema_violations(f.T, back) == []


def test_a_workspace_distributed_and_inference_map_and_come_back() -> None:
    workspace = {"image": "jupyter/base", "priorityClass": "interactive-preemptible",
                 "compute": {"gpuDevicesRequest": 1, "gpuRequestType": "memory", "gpuMemoryRequest": "4G"},
                 "ports": [{"name": "nb", "container": 8888}]}
    assert build(f.W, workspace)["spec"]["preemptible"] == {"value": True}
    assert f.from_object_spec(f.W, build(f.W, workspace)["spec"]) == workspace

    dist = {"image": "pytorch", "distributedFramework": "PyTorch", "numWorkers": 3, "minReplicas": 2,
            "maxReplicas": 4, "backoffLimit": 1, "compute": {"gpuDevicesRequest": 1}}
    master = {"image": "pytorch", "command": "python master.py", "compute": {"cpuCoreRequest": 1}}
    obj = build(f.D, dist, master)
    assert obj["spec"]["jobType"] == "PyTorchJob" and obj["spec"]["workers"] == {"value": 3}
    assert obj["spec"]["runPolicy"] == {"backoffLimit": {"value": 1}}
    assert obj["masterSpec"]["command"] == {"value": "python master.py"}
    assert f.from_object_spec(f.D, obj["spec"]) == dist
    assert f.from_object_spec(f.MASTER, obj["masterSpec"]) == master

    inference = {"image": "vllm", "servingPort": {"container": 8000},
                 "autoscaling": {"minReplicas": 1, "maxReplicas": 3, "metric": "concurrency", "metricThreshold": 4},
                 "compute": {"migProfile": "1g.10gb", "gpuDevicesRequest": 1, "gpuRequestType": "migProfile"}}
    spec = build(f.I, inference)["spec"]
    assert spec["ports"]["items"] == {"serving-port": {"value": {"container": 8000}}}
    assert spec["minScale"] == {"value": 1} and spec["target"] == {"value": 4}
    assert f.from_object_spec(f.I, spec) == inference
    for kind, sent in ((f.W, workspace), (f.D, dist), (f.I, inference)):
        assert schema_violations(kind, sent) == []


@pytest.mark.parametrize(("compute", "made"), [
    ({"gpuDevicesRequest": 2}, {"gpu": {"value": "2"}}),
    ({"gpuDevicesRequest": 0}, {"gpu": {"value": "0"}}),
    ({"gpuPortionRequest": 0.25}, {"gpu": {"value": "0.25"}}),
    ({"gpuDevicesRequest": 1, "gpuRequestType": "portion", "gpuPortionRequest": 1.0}, {"gpu": {"value": "1"}}),
    ({"gpuDevicesRequest": 3, "gpuMemoryRequest": "8G"}, {"gpuMemory": {"value": "8G"}, "gpuDevices": {"value": 3}}),
    ({"migProfile": "3g.20gb"}, {"migProfile": {"value": "3g.20gb"}}),
])
def test_gpu_requests(compute: dict[str, Any], made: dict[str, Any]) -> None:
    assert f.to_object_spec(f.T, {"compute": compute}) == made


# -- refusals name the REST field ------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "spec", "field", "words"), [
    (f.T, {"imagee": "x"}, "spec.imagee", "did you mean image?"),
    (f.T, {"compute": {"gpuDevicesReqest": 1}}, "spec.compute.gpuDevicesReqest", "gpuDevicesRequest"),
    (f.T, {"compute": {"gpuMemoryLimit": "1G"}}, "spec.compute.gpuMemoryLimit", "no GPU memory limit"),
    (f.T, {"probes": {"readiness": {}}}, "spec.probes", "readiness probe"),
    (f.T, {"relatedUrls": [{"url": "u", "type": "wandb"}]}, "spec.relatedUrls", "related URLs"),
    (f.T, {"security": {"readOnlyRootFilesystem": True}}, "spec.security.readOnlyRootFilesystem", "writable"),
    (f.T, {"security": {"seccompProfileType": "Unconfined"}}, "spec.security.seccompProfileType", "RuntimeDefault"),
    (f.W, {"backoffLimit": 3}, "spec.backoffLimit", "no backoffLimit"),
    (f.W, {"compute": {"gpuDevicesRequest": 2, "gpuPortionRequest": 0.5}}, "spec.compute.gpuDevicesRequest",
     "one GPU device"),
    (f.T, {"compute": {"gpuPortionRequest": 0.5, "gpuMemoryRequest": "1G"}}, "spec.compute.gpuMemoryRequest",
     "conflicts"),
    (f.T, {"compute": {"gpuRequestType": "memory"}}, "spec.compute.gpuMemoryRequest", "required"),
    (f.T, {"compute": {"gpuPortionRequest": 1.5}}, "spec.compute.gpuPortionRequest", "at most 1"),
    (f.T, {"compute": {"cpuCoreRequest": "lots"}}, "spec.compute.cpuCoreRequest", "a number"),
    (f.T, {"compute": {"cpuCoreRequest": float("inf")}}, "spec.compute.cpuCoreRequest", "cpuCoreRequest"),
    (f.T, {"compute": {"cpuCoreRequest": float("nan")}}, "spec.compute.cpuCoreRequest", "cpuCoreRequest"),
    (f.T, {"compute": {"gpuPortionLimit": float("inf")}}, "spec.compute.gpuPortionLimit", "portion"),
    (f.T, {"nodePools": "a b"}, "spec.nodePools", "list of names"),
    (f.T, {"compute": "lots"}, "spec.compute", "object"),
    (f.T, {"storage": {"pvc": [{"claimNam": "x"}]}}, "spec.storage.pvc[0].claimNam", "claimName"),
    (f.T, {"environmentVariables": [{"name": "A"}]}, "spec.environmentVariables[0]", "value: required"),
    (f.T, {"numWorkers": 2}, "spec.numWorkers", "unknown field for trainings"),
    (f.T, {"priorityClass": "build"}, "spec.priorityClass", "train"),
    (f.T, {"security": {"uidGidSource": "custom"}, "compute": {}, "tty": "yes"}, "spec.tty", None),
    (f.D, {"distributedFramework": "Horovod"}, "spec.distributedFramework", "PyTorch"),
    (f.I, {"servingPort": {"port": 80}}, "spec.servingPort.port", "container"),
    (f.I, {"ports": [{"name": "serving-port", "container": 80}], "servingPort": {"container": 81}}, "spec.ports",
     "serving port"),
    (f.T, {"storage": {"hostPath": [{"name": "v", "path": "/a", "mountPath": "/a"}],
                       "nfs": [{"name": "v", "path": "/b", "server": "s", "mountPath": "/b"}]}},
     "spec.storage.nfs[0].name", "given twice"),
])
def test_what_cannot_be_mapped_is_a_400_naming_the_rest_field(kind: str, spec: dict[str, Any], field: str,
                                                               words: str | None) -> None:
    if field == "spec.tty":  # a wrong type the mapping lets through is Berth's model's to refuse
        with pytest.raises(Exception):
            build(kind, spec)
        return
    body = refused(kind, spec)
    assert body["complianceIssues"][0]["field"] == field
    assert words in body["message"] + " " + body.get("details", "")


def test_a_master_spec_takes_no_distributed_fields() -> None:
    with pytest.raises(RestError) as caught:
        f.to_object_spec(f.MASTER, {"numWorkers": 2}, root="masterSpec")
    assert caught.value.issues[0].field == "masterSpec.numWorkers"


def test_two_rest_fields_that_set_one_object_field_differently_conflict() -> None:
    body = refused(f.T, {"security": {"uidGidSource": "fromTheImage", "runAsNonRoot": True}})
    assert body["complianceIssues"][0]["field"] == "spec.security.runAsNonRoot"
    assert "conflicts with spec.security.uidGidSource" in body["message"]


def test_accepted_and_ignored_fields_are_listed_with_a_reason() -> None:
    spec = f.to_object_spec(f.I, {"servingPort": {"container": 80, "protocol": "grpc"},
                                  "autoscaling": {"scaleToZeroRetentionSeconds": 30}})
    assert spec == {"ports": {"items": {"serving-port": {"value": {"container": 80}}}}}
    table = f.reference_table()
    assert "`servingPort.protocol`" in table and "`autoscaling.scaleToZeroRetentionSeconds`" in table


# -- paths both ways --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "rest", "obj"), [
    (f.T, "compute.gpuDevicesRequest", "gpu"),
    (f.T, "compute.gpuPortionRequest", "gpu"),
    (f.T, "compute.cpuCoreRequest", "cpu"),
    (f.T, "args", "arguments"),
    (f.T, "environmentVariables", "environment"),
    (f.T, "environmentVariables[0].value", "environment"),
    (f.T, "storage.pvc.path", "pvcs.path"),
    (f.T, "storage.pvc.claimInfo.size", "pvcs.size"),
    (f.T, "storage.git.secretKeyOfPassword", "gitSync.password"),
    (f.T, "storage.nfs.server", "volumes.nfsServer"),
    (f.T, "exposedUrls.authorizedUsers", "exposedUrls.authorizedUsers"),
    (f.T, "backoffLimit", "backoffLimit"),
    (f.D, "backoffLimit", "runPolicy.backoffLimit"),
    (f.D, "distributedFramework", "jobType"),
    (f.D, "numWorkers", "workers"),
    (f.I, "autoscaling.maxReplicas", "maxScale"),
    (f.I, "servingPort.container", "ports"),
    (f.W, "backoffLimit", None),
    (f.T, "probes", None),
    (f.T, "nothing.like.this", None),
])
def test_object_path(kind: str, rest: str, obj: str | None) -> None:
    assert f.object_path(kind, rest) == obj


@pytest.mark.parametrize(("kind", "obj", "rest"), [
    (f.T, "gpu", "compute.gpuDevicesRequest"),
    (f.T, "spec.gpu.value", "compute.gpuDevicesRequest"),
    (f.T, "gpuDevices", "compute.gpuDevicesRequest"),
    (f.T, "gpuMemory", "compute.gpuMemoryRequest"),
    (f.T, "environment.items.HOME.value", "environmentVariables"),
    (f.T, "pvcs.items.data.value.claimName", "storage.pvc.claimName"),
    (f.T, "pvcs.items.data.value.accessMode", "storage.pvc.claimInfo.accessModes"),
    (f.T, "gitSync.items.code.value.username", "storage.git.secretKeyOfUser"),
    (f.T, "s3.items.b.value.secret", "storage.s3.secretKeyOfSecretKey"),
    (f.T, "runAsUser", "security.uidGidSource"),
    (f.D, "runPolicy.backoffLimit.value", "backoffLimit"),
    (f.D, "workers", "numWorkers"),
    (f.I, "minScale", "autoscaling.minReplicas"),
    (f.T, "name", None),
    (f.T, "usage", None),
])
def test_rest_path(kind: str, obj: str, rest: str | None) -> None:
    assert f.rest_path(kind, obj) == rest


def test_paths_go_there_and_back_for_every_value_row() -> None:
    for kind in PATHS:
        for row in f.rows(kind):
            if row.shape == "value" and row.emit and row.target(kind):
                assert f.rest_path(kind, f.object_path(kind, row.rest) or "") == row.rest, (kind, row.rest)


def test_the_docs_list_the_mapping_as_the_table_has_it() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "rest.md").read_text()
    listed = text.split("<!-- fields:begin -->\n", 1)[1].split("<!-- fields:end -->", 1)[0]
    assert listed == f.reference_table(), "regenerate: python -m berth.rest.fields"


def test_the_documented_spec_schema_takes_runais_bodies_and_names_berths_refusals() -> None:
    import jsonschema

    from berth.rest.spec_schema import spec_schema

    jsonschema.Draft202012Validator(spec_schema(f.T)).validate(TRAINING)
    training = spec_schema(f.T)["properties"]
    assert training["compute"]["properties"]["cpuCoreRequest"]["type"] == "number"
    assert "Not supported by Berth" in training["probes"]["description"]
    assert "refused" in spec_schema(f.W)["properties"]["backoffLimit"]["description"]
    assert "numWorkers" not in spec_schema(f.MASTER)["properties"]
    assert spec_schema(f.I)["properties"]["servingPort"]["properties"]["container"]["type"] == "integer"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(spec_schema(f.T)).validate({"imagee": "x"})
