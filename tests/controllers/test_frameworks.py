"""What each framework's pods are called, how they find each other, and what their code reads from the
environment, for the DistributedWorkload examples and hand-made jobs."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time

import kubernetes_validate
import pytest

from berth.api.load import load_file
from berth.controllers import frameworks as fw
from tests.conftest import ROOT

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def example(name: str) -> dict:
    """An example workload as the API stores it, with the uid the API server gives it."""
    (item,) = load_file(ROOT / "examples" / "workloads" / f"{name}.yaml")
    workload = item.obj.to_dict()
    workload["metadata"]["uid"] = "6a1f0c9e-0000-4000-8000-000000000001"
    return workload


def job(job_type: str, name: str = "job", workers: int | None = 3, **spec) -> dict:
    body = {"jobType": job_type, "image": {"value": "busybox"}, **spec}
    if workers is not None:
        body["workers"] = {"value": workers}
    return {
        "apiVersion": "run.ai/v2alpha1",
        "kind": "DistributedWorkload",
        "metadata": {"name": name, "namespace": "runai-team-a", "uid": "uid-1"},
        "spec": body,
    }


def env_of(workload: dict, role: str, index: int) -> dict[str, str]:
    entries = fw.environment(workload, role, index)
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), f"duplicate variables in {names}"
    assert all(isinstance(e["value"], str) for e in entries)
    return {e["name"]: e["value"] for e in entries}


def pods(workload: dict) -> list[tuple[str, int]]:
    return [(r.name, i) for r in fw.roles(workload) for i in range(r.replicas)]


def pod_manifest(workload: dict, role: str, index: int) -> dict:
    """A pod as the distributed plan makes it: a plain template with the framework's patch applied."""
    patch = fw.pod_patch(workload, role, index)
    container = {"name": "main", "image": "busybox", "env": patch["env"], "volumeMounts": patch["volumeMounts"]}
    if "command" in patch:
        container["command"] = patch["command"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": fw.pod_name(workload["metadata"]["name"], role, index),
                     "namespace": workload["metadata"]["namespace"], "labels": patch["labels"]},
        "spec": {"hostname": patch["hostname"], "subdomain": patch["subdomain"],
                 "restartPolicy": patch["restartPolicy"], "containers": [container], "volumes": patch["volumes"]},
    }


# --- PyTorch ----------------------------------------------------------------------------------------------


def test_pytorch_job_with_three_workers_has_four_ranked_pods_that_find_the_master():
    workload = job("PyTorchJob", name="bert", workers=3, gpu={"value": "2"})
    names = fw.all_pod_names(workload)
    assert names == ["bert-master-0", "bert-worker-0", "bert-worker-1", "bert-worker-2"]

    master = fw.pod_address(workload, "bert-master-0")
    assert master == "bert-master-0.bert.runai-team-a.svc"
    ranks = []
    for role, index in pods(workload):
        env = env_of(workload, role, index)
        assert env["WORLD_SIZE"] == "4"
        assert env["MASTER_ADDR"] == env["PET_MASTER_ADDR"] == master
        assert env["MASTER_PORT"] == env["PET_MASTER_PORT"] == "23456"
        assert env["PET_NNODES"] == "4"
        assert env["PET_NODE_RANK"] == env["RANK"]
        assert env["PET_NPROC_PER_NODE"] == "2"  # one process per GPU of the pod
        assert "PET_RDZV_BACKEND" not in env  # a fixed-size job uses torchrun's static rendezvous
        ranks.append(int(env["RANK"]))
    assert ranks == [0, 1, 2, 3]


def test_elastic_pytorch_counts_the_master_in_torchruns_node_range_and_the_gang():
    workload = example("distributed-pytorch")  # 4 workers, minReplicas 2, maxReplicas 4, nprocPerNode 8
    assert len(fw.all_pod_names(workload)) == 5
    for role, index in pods(workload):
        env = env_of(workload, role, index)
        assert env["PET_NNODES"] == "3:5"  # master + 2 workers .. master + 4 workers
        assert env["PET_RDZV_BACKEND"] == "c10d"
        assert env["PET_RDZV_ENDPOINT"] == "llm-finetune-master-0.llm-finetune.runai-team-a.svc:23456"
        assert env["PET_MAX_RESTARTS"] == "5"
        assert env["PET_NPROC_PER_NODE"] == "8"
        assert env["WORLD_SIZE"] == "5"
    assert fw.min_member(workload) == 3  # the scheduler may start it with the master and 2 workers


def test_elastic_pytorch_defaults_and_bounds():
    only_min = job("PyTorchJob", workers=4, minReplicas={"value": 1})
    assert env_of(only_min, "worker", 0)["PET_NNODES"] == "2:5"
    assert env_of(only_min, "worker", 0)["PET_MAX_RESTARTS"] == "3"  # documented default for elastic jobs
    assert fw.min_member(only_min) == 2
    # minReplicas above the workers asked for cannot make the gang larger than the job
    assert fw.min_member(job("PyTorchJob", workers=2, minReplicas={"value": 3}, maxReplicas={"value": 5})) == 3
    # a fixed-size job passes maxRestarts on only when it is given
    assert "PET_MAX_RESTARTS" not in env_of(job("PyTorchJob"), "master", 0)
    given = job("PyTorchJob", pyTorchJob={"maxRestarts": {"value": 0}})
    assert env_of(given, "master", 0)["PET_MAX_RESTARTS"] == "0"


def test_processes_per_pod_follow_each_pods_gpus():
    cpu_master = job("PyTorchJob", workers=2, gpuDevices={"value": 8}, masterSpec={"gpu": {"value": "0"}})
    assert env_of(cpu_master, "master", 0)["PET_NPROC_PER_NODE"] == "1"
    assert env_of(cpu_master, "worker", 1)["PET_NPROC_PER_NODE"] == "8"
    shared = job("PyTorchJob", workers=1, gpu={"value": "0.5"})
    assert env_of(shared, "worker", 0)["PET_NPROC_PER_NODE"] == "1"
    cpu_only = job("PyTorchJob", workers=1)
    assert env_of(cpu_only, "worker", 0)["PET_NPROC_PER_NODE"] == "1"


# --- TensorFlow -----------------------------------------------------------------------------------------


def test_tf_config_describes_the_cluster_and_each_pods_own_task():
    workload = example("distributed-tensorflow")  # chief + 2 workers
    assert fw.all_pod_names(workload) == ["tf-resnet-chief-0", "tf-resnet-worker-0", "tf-resnet-worker-1"]
    expected_cluster = {
        "chief": ["tf-resnet-chief-0.tf-resnet.runai-team-a.svc:23456"],
        "worker": ["tf-resnet-worker-0.tf-resnet.runai-team-a.svc:23456",
                   "tf-resnet-worker-1.tf-resnet.runai-team-a.svc:23456"],
    }
    tasks = []
    for role, index in pods(workload):
        config = json.loads(env_of(workload, role, index)["TF_CONFIG"])
        assert config["cluster"] == expected_cluster
        tasks.append(config["task"])
    assert tasks == [{"type": "chief", "index": 0}, {"type": "worker", "index": 0}, {"type": "worker", "index": 1}]


def test_tf_job_without_workers_is_a_chief_alone():
    config = json.loads(env_of(job("TFJob", workers=0), "chief", 0)["TF_CONFIG"])
    assert config["cluster"] == {"chief": ["job-chief-0.job.runai-team-a.svc:23456"]}


# --- XGBoost ---------------------------------------------------------------------------------------------


def test_xgboost_ranks_master_first_and_lists_the_workers():
    workload = example("distributed-xgboost")  # master + 3 workers
    workers = [f"xgb-churn-worker-{i}.xgb-churn.runai-team-a.svc" for i in range(3)]
    for rank, (role, index) in enumerate(pods(workload)):
        env = env_of(workload, role, index)
        assert env["RANK"] == str(rank)
        assert env["WORLD_SIZE"] == "4"
        assert env["MASTER_ADDR"] == "xgb-churn-master-0.xgb-churn.runai-team-a.svc"
        assert env["MASTER_PORT"] == env["WORKER_PORT"] == "23456"
        assert env["WORKER_ADDRS"].split(",") == workers


# --- MPI --------------------------------------------------------------------------------------------------


def test_knavigator_mpi_job_has_a_launcher_and_numbered_workers():
    workload = example("distributed-mpi")  # dwl1: 3 workers, 8 slots each, OpenMPI
    names = fw.all_pod_names(workload)
    assert names == ["dwl1-launcher", "dwl1-worker-0", "dwl1-worker-1", "dwl1-worker-2"]
    assert len(names) == 3 + 1
    assert fw.min_member(workload) == 4
    assert [(r.name, r.replicas, r.uses_master_spec) for r in fw.roles(workload)] == [
        ("launcher", 1, True), ("worker", 3, False)]


def test_mpi_hostfile_lists_every_worker_with_its_slots():
    (config,) = fw.config_maps(example("distributed-mpi"))
    assert config["metadata"]["name"] == "dwl1-hostfile"
    assert config["data"]["hostfile"].splitlines() == [
        f"dwl1-worker-{i}.dwl1.runai-team-a.svc slots=8" for i in range(3)]

    intel = job("MPIJob", name="m", workers=2, slotsPerWorker={"value": 4},
                mpiJob={"mpiImplementation": {"value": "Intel"}})
    assert fw.config_maps(intel)[0]["data"]["hostfile"].splitlines() == [
        "m-worker-0.m.runai-team-a.svc:4", "m-worker-1.m.runai-team-a.svc:4"]
    default_slots = fw.config_maps(job("MPIJob", name="m", workers=1))[0]["data"]["hostfile"]
    assert default_slots == "m-worker-0.m.runai-team-a.svc slots=1\n"
    assert fw.config_maps(job("PyTorchJob")) == []


@pytest.mark.parametrize("implementation, hostfile_var, agent_var", [
    ("OpenMPI", "OMPI_MCA_orte_default_hostfile", "OMPI_MCA_plm_rsh_agent"),
    ("Intel", "I_MPI_HYDRA_HOST_FILE", "I_MPI_HYDRA_BOOTSTRAP_EXEC"),
    ("MPICH", "HYDRA_HOST_FILE", "HYDRA_LAUNCHER_EXEC"),
])
def test_mpi_launcher_mounts_the_hostfile_where_its_variables_point(implementation, hostfile_var, agent_var):
    workload = job("MPIJob", name="m", workers=2, mpiJob={"mpiImplementation": {"value": implementation}})
    (config,) = fw.config_maps(workload)
    patch = fw.pod_patch(workload, "launcher", 0)
    (mount,) = patch["volumeMounts"]
    (volume,) = [v for v in patch["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == config["metadata"]["name"]
    files = {item["path"]: item["key"] for item in volume["configMap"]["items"]}
    env = {e["name"]: e["value"] for e in patch["env"]}

    def served(path: str) -> str:
        directory, _, file = path.rpartition("/")
        assert directory == mount["mountPath"] == "/etc/mpi"
        return config["data"][files[file]]

    assert served(env[hostfile_var]) == config["data"]["hostfile"]
    assert served(env[agent_var]).startswith("#!/bin/sh")
    if implementation == "OpenMPI":
        assert env["OMPI_MCA_orte_keep_fqdn_hostnames"] == "true"  # the hostfile names pods by DNS name

    worker = fw.pod_patch(workload, "worker", 1)
    assert worker["volumes"] == worker["volumeMounts"] == []
    assert {e["name"]: e["value"] for e in worker["env"]} == {"K_MPI_JOB_ROLE": "worker"}


def test_kubexec_runs_the_command_in_the_pod_named_by_the_hostfile(tmp_path):
    (config,) = fw.config_maps(example("distributed-mpi"))
    agent = tmp_path / "kubexec.sh"
    agent.write_text(config["data"]["kubexec.sh"])
    agent.chmod(0o555)
    kubectl = tmp_path / "kubectl"
    kubectl.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IEXEC)
    host = config["data"]["hostfile"].splitlines()[1].split()[0]

    out = subprocess.run([str(agent), host, "orted", "-mca", "ess", "env"], capture_output=True, text=True,
                         env={**os.environ, "KUBECTL": str(kubectl)}, check=True, timeout=10).stdout
    assert out.splitlines() == ["exec", "dwl1-worker-1", "--namespace", "runai-team-a", "--", "/bin/sh", "-c",
                                "orted -mca ess env"]


def test_mpi_workers_wait_for_the_launcher_and_stop_at_once_when_deleted():
    command = fw.pod_patch(example("distributed-mpi"), "worker", 0)["command"]
    assert "command" not in fw.pod_patch(example("distributed-mpi"), "launcher", 0)
    process = subprocess.Popen(command, start_new_session=True)
    try:
        time.sleep(0.3)
        assert process.poll() is None  # still waiting
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- names, gang, manifests ----------------------------------------------------------------------------


def test_sixteen_workers_give_exactly_seventeen_distinct_pods():
    for job_type in ("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob"):
        names = fw.all_pod_names(job(job_type, workers=16))
        assert len(names) == len(set(names)) == 17
        assert fw.min_member(job(job_type, workers=16)) == 17
    (config,) = fw.config_maps(job("MPIJob", workers=16))
    assert len(config["data"]["hostfile"].splitlines()) == 16


def test_workers_default_to_one_and_replicas_is_another_name_for_them():
    assert fw.all_pod_names(job("PyTorchJob", workers=None)) == ["job-master-0", "job-worker-0"]
    older = job("XGBoostJob", workers=None, replicas={"value": 2})
    assert fw.all_pod_names(older) == ["job-master-0", "job-worker-0", "job-worker-1"]


def test_peer_service_is_headless_and_selects_the_pods_of_its_workload():
    workload = example("distributed-pytorch")
    service = fw.peer_service(workload)
    assert service["metadata"]["name"] == "llm-finetune"
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["ports"] == [{"name": "peers", "port": 23456, "targetPort": 23456, "protocol": "TCP"}]
    for role, index in pods(workload):
        patch = fw.pod_patch(workload, role, index)
        assert service["spec"]["selector"].items() <= patch["labels"].items()
        assert patch["subdomain"] == service["metadata"]["name"]
        # the pod's DNS name is <hostname>.<subdomain>.<namespace>.svc
        name = fw.pod_name("llm-finetune", role, index)
        assert fw.pod_address(workload, name) == f"{patch['hostname']}.{patch['subdomain']}.runai-team-a.svc"
        assert DNS_LABEL.match(patch["hostname"])
        assert patch["restartPolicy"] == "Never"


@pytest.mark.parametrize("name", ["distributed-mpi", "distributed-pytorch", "distributed-tensorflow",
                                  "distributed-xgboost"])
def test_every_manifest_is_a_valid_kubernetes_object_owned_by_the_workload(name):
    workload = example(name)
    owned = [fw.peer_service(workload), *fw.config_maps(workload)]
    for manifest in owned:
        assert manifest["metadata"]["namespace"] == "runai-team-a"
        assert manifest["metadata"]["ownerReferences"] == [{
            "apiVersion": "run.ai/v2alpha1", "kind": "DistributedWorkload", "name": workload["metadata"]["name"],
            "uid": workload["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    version = kubernetes_validate.latest_version()
    for manifest in owned + [pod_manifest(workload, role, index) for role, index in pods(workload)]:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_asking_for_a_pod_the_job_does_not_have_names_the_problem():
    with pytest.raises(ValueError, match="no role 'launcher'"):
        fw.environment(job("PyTorchJob"), "launcher", 0)
    with pytest.raises(ValueError, match="worker index 3"):
        fw.pod_patch(job("TFJob", workers=3), "worker", 3)
    with pytest.raises(ValueError, match="spec.jobType: missing"):
        fw.roles({"metadata": {"name": "x", "namespace": "n"}, "spec": {}})


# --- clean-up -------------------------------------------------------------------------------------------


def _pod(name: str, phase: str, deleting: bool = False) -> dict:
    meta = {"name": name, **({"deletionTimestamp": "2024-01-01T00:00:00Z"} if deleting else {})}
    return {"metadata": meta, "status": {"phase": phase}}


POD_STATES = [_pod("job-worker-1", "Running"), _pod("job-master-0", "Succeeded"), _pod("job-worker-0", "Pending"),
              _pod("job-worker-2", "Failed"), _pod("job-worker-3", "Running", deleting=True)]


@pytest.mark.parametrize("policy, deleted", [
    (None, []),  # None is the default, as in Kubeflow: every pod keeps its logs
    ("Running", ["job-worker-0", "job-worker-1"]),
    ("All", ["job-master-0", "job-worker-0", "job-worker-1", "job-worker-2"]),
    ("None", []),
])
def test_clean_pod_policy_decides_which_pods_go_when_the_job_ends(policy, deleted):
    spec = {} if policy is None else {"runPolicy": {"cleanPodPolicy": {"value": policy}}}
    assert fw.clean_pods(job("PyTorchJob", workers=4, **spec), POD_STATES) == deleted
