"""The pod a workload's controller stamps out: what users see with `kubectl get pod -o yaml`.

Workloads come from examples/ as stored (the stored JSON is the document as written), with a uid, the way
the controller reads them from the API.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import kubernetes_validate
import pytest

from berth.api.load import parse_documents
from berth.controllers.podspec import (
    POD_LABELS,
    SCHEDULER_NAME,
    GpuRequest,
    PodSpecError,
    gpu_request,
    node_pools,
    pod_template,
    project_of,
)
from tests.conftest import ROOT

WORKLOADS = sorted((ROOT / "examples" / "workloads").glob("*.yaml"))


def example(name: str, index: int = 0) -> dict:
    document = parse_documents((ROOT / "examples" / "workloads" / name).read_text())[index]
    document["metadata"]["uid"] = "0b6a3c2e-1111-4222-8333-944445555666"
    return document


def workload(**fields) -> dict:
    """A TrainingWorkload in runai-team-a with the given spec fields (already in stored shape)."""
    spec = {"image": {"value": "ubuntu"}, **fields}
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
            "metadata": {"name": "t1", "namespace": "runai-team-a", "uid": "uid-1"}, "spec": spec}


def valid(pod: dict, name: str = "job-0-0") -> dict:
    """The pod, named as the controller names it, checked against the Kubernetes Pod schema (strict)."""
    named = copy.deepcopy(pod)
    named["metadata"] = {"name": name, **named["metadata"]}
    kubernetes_validate.validate(named, kubernetes_validate.latest_version(), strict=True)
    return pod


def main(pod: dict) -> dict:
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == "main"]
    return container


def env(pod: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in main(pod)["env"]}


# ---------------------------------------------------------------------------------------------------------
# Every example
# ---------------------------------------------------------------------------------------------------------

def _stored_examples():
    for path in WORKLOADS:
        for index, document in enumerate(parse_documents(path.read_text())):
            if document["spec"].get("baseWorkload"):
                continue  # stored composed with its template; the file holds only its own values
            yield pytest.param(path.name, index, id=f"{path.stem}[{index}]")


@pytest.mark.parametrize(("name", "index"), list(_stored_examples()))
def test_every_example_gives_a_valid_kubernetes_pod(name, index):
    w = example(name, index)
    pod = valid(pod_template(w))
    assert "name" not in pod["metadata"]
    assert pod["spec"]["schedulerName"] == SCHEDULER_NAME
    assert set(POD_LABELS) <= set(pod["metadata"]["labels"])
    if w["spec"].get("masterSpec"):
        valid(pod_template(w, role="master", overrides=w["spec"]["masterSpec"]))


def test_the_pod_is_plain_json_and_the_same_every_time():
    w = example("distributed-pytorch.yaml")
    pod = pod_template(w)
    assert json.loads(json.dumps(pod)) == pod
    assert json.dumps(pod_template(copy.deepcopy(w))) == json.dumps(pod)  # same keys in the same order


# ---------------------------------------------------------------------------------------------------------
# Identity: labels, owner, project
# ---------------------------------------------------------------------------------------------------------

def test_seed_training_workload_gets_one_whole_gpu_and_the_runai_environment():
    pod = valid(pod_template(example("training-seed.yaml")))
    assert pod["metadata"]["namespace"] == "runai-team-a"
    assert pod["metadata"]["labels"] == {
        "run.ai/workload-name": "job-1", "run.ai/workload-kind": "TrainingWorkload",
        "project": "team-a", "runai/queue": "team-a",
    }
    assert pod["spec"]["restartPolicy"] == "Never"
    c = main(pod)
    assert c["image"] == "gcr.io/run-ai-demo/quickstart"
    assert c["imagePullPolicy"] == "Always"  # the field's documented default
    assert c["resources"] == {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}
    assert env(pod) == {"RUNAI_PROJECT": "team-a", "RUNAI_JOB_NAME": "job-1", "RUNAI_NUM_OF_GPUS": "1"}
    assert pod["metadata"]["annotations"] == {}


def test_the_pod_is_owned_by_its_workload_so_deleting_the_workload_deletes_it():
    (owner,) = pod_template(example("training-seed.yaml"))["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "name": "job-1",
                     "uid": "0b6a3c2e-1111-4222-8333-944445555666", "controller": True, "blockOwnerDeletion": True}


def test_a_workload_without_uid_is_refused():
    w = workload()
    del w["metadata"]["uid"]
    with pytest.raises(PodSpecError, match="metadata.uid"):
        pod_template(w)


def test_job_name_is_spec_name_else_the_object_name():
    assert env(pod_template(example("interactive-dry-run.yaml")))["RUNAI_JOB_NAME"] == "job-0"
    assert env(pod_template(workload()))["RUNAI_JOB_NAME"] == "t1"


def test_label_and_annotation_items_go_on_the_pod_but_cannot_move_it_to_another_project():
    w = workload(labels={"items": {"owner": {"value": "alice"}, "project": {"value": "team-b"},
                                   "gone": {"deleted": True}}},
                 annotations={"items": {"example.com/note": {"value": "hi"}, "gpu-fraction": {"value": "0.9"}}})
    pod = valid(pod_template(w, role="master"))
    labels = pod["metadata"]["labels"]
    assert labels["owner"] == "alice" and labels["project"] == "team-a" and "gone" not in labels
    assert labels["run.ai/role"] == "master"
    assert pod["metadata"]["annotations"] == {"example.com/note": "hi", "gpu-fraction": "0.9"}
    # the GPU request is Berth's to encode: a user annotation does not stand in for the spec's gpu
    shared = pod_template(workload(gpu={"value": "0.5"}, annotations=w["spec"]["annotations"]))
    assert shared["metadata"]["annotations"]["gpu-fraction"] == "0.5"


@pytest.mark.parametrize("labels", [{"bad key": {"value": "x"}}, {"ok": {"value": "not a value"}}])
def test_a_label_kubernetes_would_refuse_is_an_error_naming_it(labels):
    with pytest.raises(PodSpecError, match=r"spec\.labels\.items\."):
        pod_template(workload(labels={"items": labels}))


def test_a_long_workload_name_still_gives_a_valid_label():
    w = workload()
    w["metadata"]["name"] = "a" * 100
    pod = valid(pod_template(w))
    assert len(pod["metadata"]["labels"]["run.ai/workload-name"]) <= 63
    assert pod["metadata"]["ownerReferences"][0]["name"] == "a" * 100


@pytest.mark.parametrize(("namespace", "project"), [("runai-team-a", "team-a"), ("ml", "ml"), ("runai-", "runai-")])
def test_project_of(namespace, project):
    assert project_of(namespace) == project


def test_the_caller_may_name_the_project_of_a_custom_namespace():
    w = workload()
    w["metadata"]["namespace"] = "ml-research"
    pod = pod_template(w, project="research")
    assert pod["metadata"]["labels"]["runai/queue"] == "research"
    assert env(pod)["RUNAI_PROJECT"] == "research"


# ---------------------------------------------------------------------------------------------------------
# GPUs
# ---------------------------------------------------------------------------------------------------------

def test_half_a_gpu_is_a_gpu_fraction_annotation_and_no_device():
    pod = valid(pod_template(example("inference.yaml")))
    assert pod["metadata"]["annotations"] == {"gpu-fraction": "0.5"}
    assert "nvidia.com/gpu" not in json.dumps(pod)
    assert env(pod)["RUNAI_NUM_OF_GPUS"] == "0.5"


@pytest.mark.parametrize(("memory", "mib"), [("4G", "3814"), ("4Gi", "4096"), ("20G", "19073"), ("1500M", "1430")])
def test_gpu_memory_is_annotated_in_whole_mib_rounded_down(memory, mib):
    # 4G is 4000000000 bytes = 3814.7 MiB: the pod asks for 3814, never more than the user wrote
    pod = valid(pod_template(workload(gpuMemory={"value": memory})))
    assert pod["metadata"]["annotations"] == {"gpu-memory": mib}
    assert "nvidia.com/gpu" not in json.dumps(pod)


def test_gpu_memory_on_several_devices_says_how_many():
    w = workload(gpuMemory={"value": "10Gi"}, gpuDevices={"value": 2})
    assert pod_template(w)["metadata"]["annotations"] == {"gpu-memory": "10240", "gpu-fraction-num-devices": "2"}
    assert gpu_request(w["spec"]).total == 2


def test_less_than_a_mib_of_gpu_memory_is_an_error():
    with pytest.raises(PodSpecError, match="spec.gpuMemory"):
        pod_template(workload(gpuMemory={"value": "100k"}))


def test_a_mig_profile_asks_for_the_device_plugins_mig_resource():
    pod = valid(pod_template(workload(migProfile={"value": "1g.5gb"})))
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/mig-1g.5gb"] == resources["requests"]["nvidia.com/mig-1g.5gb"] == "1"
    assert "nvidia.com/gpu" not in json.dumps(pod) and "gpu-fraction" not in json.dumps(pod)
    assert env(pod)["RUNAI_NUM_OF_GPUS"] == "1"


def test_a_fraction_of_several_devices_says_how_many():
    w = workload(gpu={"value": "0.5"}, gpuDevices={"value": 2})
    pod = valid(pod_template(w))
    assert pod["metadata"]["annotations"] == {"gpu-fraction": "0.5", "gpu-fraction-num-devices": "2"}
    assert "nvidia.com/gpu" not in json.dumps(pod)
    assert env(pod)["RUNAI_NUM_OF_GPUS"] == "1"


@pytest.mark.parametrize(("fields", "request_", "total"), [
    ({"gpu": {"value": "2"}}, GpuRequest(devices=2), "2"),
    ({"gpu": {"value": 3}}, GpuRequest(devices=3), "3"),
    ({"gpu": {"value": "0.25"}}, GpuRequest(fraction=Decimal("0.25")), "0.25"),
    ({"gpu": {"value": "0"}}, GpuRequest(), "0"),
    ({"gpu": {}}, GpuRequest(), "0"),
    ({"gpuDevices": {"value": 8}}, GpuRequest(devices=8), "8"),
    ({"gpuMemory": {"value": "4G"}}, GpuRequest(memory_mib=3814, shared_devices=1), "1"),
    ({"migProfile": {"value": "3g.20gb"}}, GpuRequest(mig_profile="3g.20gb"), "1"),
    ({}, GpuRequest(), "0"),
])
def test_gpu_request(fields, request_, total):
    assert gpu_request(fields) == request_
    assert gpu_request(fields).total == Decimal(total)
    assert env(pod_template(workload(**fields)))["RUNAI_NUM_OF_GPUS"] == total


# ---------------------------------------------------------------------------------------------------------
# The container
# ---------------------------------------------------------------------------------------------------------

def test_command_and_arguments_are_split_as_a_shell_would():
    pod = valid(pod_template(workload(command={"value": "python train.py --lr 0.1"},
                                      arguments={"value": "--epochs '3 4'"})))
    assert main(pod)["command"] == ["python", "train.py", "--lr", "0.1"]
    assert main(pod)["args"] == ["--epochs", "3 4"]


def test_arguments_alone_are_args_to_the_images_entrypoint():
    c = main(pod_template(example("distributed-xgboost.yaml")))
    assert "command" not in c
    assert c["args"] == ["--job_type=Train", "--xgboost_parameter=objective:multi:softprob,num_class:3",
                         "--n_estimators=10"]


def test_a_command_alone_replaces_the_entrypoint():
    c = main(pod_template(example("interactive-dry-run.yaml")))
    assert c["command"] == ["sleep", "infinity"] and "args" not in c


def test_an_unbalanced_quote_is_an_error_naming_the_field():
    with pytest.raises(PodSpecError, match=r"spec\.arguments\.value: No closing quotation"):
        pod_template(workload(arguments={"value": "--name 'abc"}))


def test_a_missing_image_is_an_error_naming_the_field():
    w = workload()
    del w["spec"]["image"]
    with pytest.raises(PodSpecError, match=r"spec\.image"):
        pod_template(w)


def test_secret_environment_values_come_from_the_secret():
    pod = valid(pod_template(example("training-itemized.yaml")))
    assert env(pod)["HF_TOKEN"] == {"secretKeyRef": {"name": "hf-secret", "key": "secret"}}
    token = pod_template(workload(environment={"items": {"HF_TOKEN": {"value": "SECRET:hf-secret,token"}}}))
    assert env(token)["HF_TOKEN"] == {"secretKeyRef": {"name": "hf-secret", "key": "token"}}


def test_a_secret_reference_without_a_key_is_an_error():
    with pytest.raises(PodSpecError, match=r"spec\.environment\.items\.T: .*SECRET:<secret>,<key>"):
        pod_template(workload(environment={"items": {"T": {"value": "SECRET:hf-secret"}}}))


def test_user_variables_follow_the_runai_ones_and_cannot_replace_them():
    pod = pod_template(workload(gpu={"value": "2"}, environment={"items": {
        "OUT": {"value": "/results/$(RUNAI_JOB_NAME)"}, "RUNAI_NUM_OF_GPUS": {"value": "7"}}}))
    names = [e["name"] for e in main(pod)["env"]]
    assert names == ["RUNAI_PROJECT", "RUNAI_JOB_NAME", "RUNAI_NUM_OF_GPUS", "OUT"]  # $(VAR) needs VAR first
    assert env(pod)["RUNAI_NUM_OF_GPUS"] == "2"


def test_resources_requests_limits_and_extended_resources():
    pod = valid(pod_template(workload(
        cpu={"value": "500m"}, cpuLimit={"value": 2}, memory={"value": "1Gi"}, memoryLimit={"value": "2Gi"},
        gpu={"value": "1"},
        extendedResources={"items": {"rdma": {"value": {"resource": "nvidia.com/mlnx_rdma", "quantity": 2}},
                                     "ib": {"value": {"resource": "example.com/ib"}}}})))
    assert main(pod)["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1", "nvidia.com/mlnx_rdma": "2",
                     "example.com/ib": "1"},
        "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1", "nvidia.com/mlnx_rdma": "2",
                   "example.com/ib": "1"},
    }


def test_ports_terminal_capabilities_and_host_namespaces():
    pod = valid(pod_template(workload(
        ports={"items": {"http": {"value": {"container": 8080}},
                         "Metrics_Port": {"value": {"container": 9090, "serviceType": "NodePort"}},
                         "again": {"value": {"container": 8080}}}},
        stdin={"value": True}, tty={"value": True}, allowPrivilegeEscalation={"value": False},
        capabilities={"items": {"a": {"value": "SYS_PTRACE"}, "b": {"value": "IPC_LOCK"}}},
        hostIpc={"value": True}, hostNetwork={"value": False},
        imagePullPolicy={"value": "IfNotPresent"}, imagePullSecrets={"value": "regcred"},
        workingDir={"value": "/work"})))
    c = main(pod)
    assert c["ports"] == [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090}]
    assert c["stdin"] is True and c["tty"] is True
    assert c["securityContext"] == {"allowPrivilegeEscalation": False,
                                    "capabilities": {"add": ["SYS_PTRACE", "IPC_LOCK"]}}
    assert c["imagePullPolicy"] == "IfNotPresent" and c["workingDir"] == "/work"
    assert pod["spec"]["hostIPC"] is True and pod["spec"]["hostNetwork"] is False
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]


# ---------------------------------------------------------------------------------------------------------
# Placement and identity on the node
# ---------------------------------------------------------------------------------------------------------

def test_node_type_becomes_a_node_selector():
    pod = valid(pod_template(workload(nodeType={"value": "dgx-a100"})))
    assert pod["spec"]["nodeSelector"] == {"run.ai/type": "dgx-a100"}
    assert "nodeSelector" not in pod_template(workload())["spec"]


def test_tolerations():
    pod = valid(pod_template(example("interactive-jupyter.yaml")))
    assert pod["spec"]["tolerations"] == [{"operator": "Exists", "key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    evict = pod_template(workload(tolerations={"items": {"maint": {"value": {
        "key": "maintenance", "operator": "Equal", "value": "soon", "effect": "NoExecute", "seconds": 300}}}}))
    assert valid(evict)["spec"]["tolerations"] == [
        {"operator": "Equal", "key": "maintenance", "value": "soon", "effect": "NoExecute", "tolerationSeconds": 300}]


@pytest.mark.parametrize("groups", ["1000;2000", "1000, 2000", "1000;2000;"])
def test_run_as_user_with_ids_and_supplemental_groups(groups):
    pod = valid(pod_template(workload(runAsUser={"value": True}, runAsUid={"value": 1234},
                                      runAsGid={"value": 5678}, supplementalGroups={"value": groups})))
    assert pod["spec"]["securityContext"] == {"runAsUser": 1234, "runAsGroup": 5678, "runAsNonRoot": True,
                                              "supplementalGroups": [1000, 2000]}


def test_ids_without_run_as_user_are_ignored():
    pod = pod_template(workload(runAsUid={"value": 1234}, runAsGid={"value": 5678}))
    assert "securityContext" not in pod["spec"]


def test_a_supplemental_group_that_is_not_a_number_is_an_error():
    with pytest.raises(PodSpecError, match=r"spec\.supplementalGroups\.value: 'staff'"):
        pod_template(workload(supplementalGroups={"value": "1000;staff"}))


@pytest.mark.parametrize(("rule", "key"), [("Required", "requiredDuringSchedulingIgnoredDuringExecution"),
                                           (None, "preferredDuringSchedulingIgnoredDuringExecution")])
def test_pod_affinity_keeps_the_workloads_pods_together(rule, key):
    fields = {"podAffinity": {"value": True}, "podAffinityTopology": {"value": "topology.kubernetes.io/zone"}}
    if rule:
        fields["podAffinitySchedulingRule"] = {"value": rule}
    affinity = valid(pod_template(workload(**fields)))["spec"]["affinity"]["podAffinity"]
    assert list(affinity) == [key]
    assert "run.ai/workload-name" in json.dumps(affinity)
    with pytest.raises(PodSpecError, match="podAffinityTopology"):
        pod_template(workload(podAffinity={"value": True}))


# ---------------------------------------------------------------------------------------------------------
# A master that differs from the workers
# ---------------------------------------------------------------------------------------------------------

def test_mpi_launcher_takes_its_fields_from_master_spec_and_the_rest_from_spec():
    w = example("distributed-mpi.yaml")
    w["spec"]["masterSpec"]["image"] = {"value": "mpioperator/openmpi:launcher"}
    w["spec"]["masterSpec"]["memory"] = {"value": "1Gi"}
    launcher = valid(pod_template(w, role="launcher", overrides=w["spec"]["masterSpec"]))
    worker = valid(pod_template(w, role="worker"))
    assert main(launcher)["image"] == "mpioperator/openmpi:launcher" and main(worker)["image"] == "ubuntu"
    assert main(launcher)["resources"]["requests"]["memory"] == "1Gi"
    assert main(worker)["resources"]["requests"]["memory"] == "512M"
    assert launcher["spec"]["securityContext"] == {"runAsNonRoot": True}  # runAsUser from spec
    assert launcher["metadata"]["labels"]["run.ai/role"] == "launcher"
    assert worker["metadata"]["labels"]["run.ai/role"] == "worker"


def test_a_master_spec_gpu_replaces_the_whole_gpu_request():
    tf = example("distributed-tensorflow.yaml")
    master = valid(pod_template(tf, role="master", overrides=tf["spec"]["masterSpec"]))
    assert "nvidia.com/gpu" not in json.dumps(master) and env(master)["RUNAI_NUM_OF_GPUS"] == "0"
    assert main(master)["resources"]["requests"] == {"cpu": "4", "memory": "16Gi"}
    assert main(pod_template(tf, role="worker"))["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    # workers on 8 whole devices, a master on half a GPU: the master asks only for the half
    mpi = example("distributed-mpi.yaml")
    half = pod_template(mpi, overrides={"gpu": {"value": "0.5"}})
    assert half["metadata"]["annotations"] == {"gpu-fraction": "0.5"} and "nvidia.com/gpu" not in json.dumps(half)


def test_an_empty_override_keeps_the_spec_value():
    w = example("distributed-mpi.yaml")
    assert main(pod_template(w, overrides={"image": {}}))["image"] == "ubuntu"


# ---------------------------------------------------------------------------------------------------------
# Node pools
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "project", "pools"), [
    ({"nodePools": {"value": "h100 a100"}}, None, ["h100", "a100"]),
    ({"nodePools": {"value": "h100, a100,v100"}}, None, ["h100", "a100", "v100"]),
    ({"nodePools": {"value": "a b a"}}, None, ["a", "b"]),
    ({"nodePool": {"value": "legacy"}}, None, ["legacy"]),
    ({}, {"spec": {"defaultNodePools": ["fast", "slow"]}}, ["fast", "slow"]),
    ({"nodePools": {"value": "h100"}}, {"spec": {"defaultNodePools": ["fast"]}}, ["h100"]),
    ({}, {"spec": {}}, ["default"]),
    ({}, None, ["default"]),
])
def test_node_pools(spec, project, pools):
    assert node_pools(spec, project) == pools
