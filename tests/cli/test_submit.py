"""The submit commands of both CLI generations against a real `berth up` (with simulated GPUs), read back with
the real kubectl: every flag lands in its field, `--dry-run` prints what a real submit stores, a policy's
message reaches the user, and `--wait` returns once the workload runs."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from berth.cli.submit_flags import FLAGS
from tests.cli.in_process import berth_in_process
from tests.cluster import BIN, Cluster, running

PROJECT = "team-a"


@pytest.fixture(scope="module")
def gpu_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`berth up` whose local node advertises 4 simulated GPUs, with projects team-a, team-b and team-c."""
    for c in running(tmp_path_factory.mktemp("submit"), "--gpus", "4"):
        for name in ("team-a", "team-b", "team-c"):
            c.project(name)
        yield c


def berth(c: Cluster, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "berth"), *args], capture_output=True, text=True, timeout=timeout, env=c.env())


def get(c: Cluster, kind: str, name: str, project: str = PROJECT) -> dict[str, Any]:
    return json.loads(c.kubectl("get", kind, name, "-n", f"runai-{project}", "-o", "json").stdout)


def at(obj: dict[str, Any], path: str) -> Any:
    for part in path.split("/"):
        obj = obj[part]
    return obj


# One row per flag: (flag key, command group, arguments, field path in the object ("/"-separated) or None for a
# flag Berth does not honour, expected value or the warning it prints). Flags that exclude each other
# are in groups of their own; each group is one submit.

def ignored(group: str, *keys: str) -> list[tuple[str, str, list[str], None, str]]:
    """Rows of flags Berth takes with a value but does not honour: each prints a warning."""
    return [(key, group, [f"--{key.replace('_', '-')}", "1"], None, f"--{key.replace('_', '-')}: accepted but not "
             "honoured") for key in keys]


V1_GROUPS = {
    "T": ("submit",), "I": ("submit", "--interactive"), "T2": ("submit",), "T3": ("submit",), "T4": ("submit",),
    "T5": ("submit",), "PFX": ("submit",), "PT": ("submit-dist", "pytorch"), "MPI": ("submit-dist", "mpi"),
    "F": ("submit-inference",),
}

V1_CASES = [
    ("image", "T", ["-i", "ubuntu:22.04"], "spec/image/value", "ubuntu:22.04"),
    ("image_pull_policy", "T", ["--image-pull-policy", "IfNotPresent"], "spec/imagePullPolicy/value", "IfNotPresent"),
    ("local_image", "T2", ["--local-image"], "spec/imagePullPolicy/value", "Never"),
    ("always_pull_image", "T3", ["--always-pull-image"], "spec/imagePullPolicy/value", "Always"),
    ("args", "T", ["--args", "--epochs", "--args", "3"], "spec/arguments/value", "train.py --epochs 3"),
    ("working_dir", "T", ["--working-dir", "/work"], "spec/workingDir/value", "/work"),
    ("environment", "T", ["-e", "A=1,B=2", "--environment", "TOKEN=SECRET:hf,token"], "spec/environment/items",
     {"A": {"value": "1"}, "B": {"value": "2"}, "TOKEN": {"value": "SECRET:hf,token"}}),
    ("label", "T", ["-l", "team=vision"], "spec/labels/items/team/value", "vision"),
    ("annotation", "T", ["--annotation", "note=hello"], "spec/annotations/items/note/value", "hello"),
    ("cpu", "T", ["--cpu", "0.5"], "spec/cpu/value", "0.5"),
    ("cpu_limit", "T", ["--cpu-limit", "2"], "spec/cpuLimit/value", "2"),
    ("memory", "T", ["--memory", "1G"], "spec/memory/value", "1G"),
    ("memory_limit", "T", ["--memory-limit", "2G"], "spec/memoryLimit/value", "2G"),
    ("gpu", "T", ["-g", "0.5"], "spec/gpu/value", "0.5"),
    ("gpu_limit", "T", ["--gpu-limit", "1"], "spec/gpuLimit/value", "1"),
    ("gpu_memory", "T2", ["--gpu-memory", "4G"], "spec/gpuMemory/value", "4G"),
    ("mig_profile", "T3", ["--mig-profile", "1g.5gb"], "spec/migProfile/value", "1g.5gb"),
    ("extended_resource", "T", ["--extended-resource", "nvidia.com/rdma=1"],
     "spec/extendedResources/items/nvidia.com-rdma/value", {"resource": "nvidia.com/rdma", "quantity": "1"}),
    ("large_shm", "T", ["--large-shm"], "spec/largeShm/value", True),
    ("mps", "T", ["--mps"], None, "--mps: accepted but not honoured"),
    ("pvc", "T", ["--pvc", "data:/data:ro"], "spec/pvcs/items/pvc--0/value",
     {"claimName": "data", "path": "/data", "existingPvc": True, "readOnly": True}),
    ("existing_pvc", "T", ["--existing-pvc", "claimname=c1,path=/c1"], "spec/pvcs/items/pvc--1/value",
     {"claimName": "c1", "path": "/c1", "existingPvc": True}),
    ("new_pvc", "T", ["--pvc-new", "size=1Gi,path=/n,storageclass=std,accessmode-rwm,ephemeral"],
     "spec/pvcs/items/pvc--2/value", {"size": "1Gi", "path": "/n", "storageClass": "std", "existingPvc": False,
                                      "accessMode": "ReadWriteMany", "ephemeral": True}),
    ("volume", "T", ["-v", "/src:/dst:ro"], "spec/volumes/items/volume-0/value/target", "/dst"),
    ("nfs_server", "T", ["--nfs-server", "nfs.example"], "spec/volumes/items/volume-0/value",
     {"source": "/src", "target": "/dst", "readOnly": True, "nfsServer": "nfs.example"}),
    ("mount_propagation", "T", ["--mount-propagation"], "spec/mountPropagation/value", True),
    ("configmap_volume", "T", ["--configmap-volume", "name=cm,path=/etc/cm"],
     "spec/configMapVolumes/items/configmap-0/value", {"name": "cm", "mountPath": "/etc/cm"}),
    ("git_sync", "T", ["--git-sync", "source=https://git.example/r.git,branch=main,target=/code"],
     "spec/gitSync/items/git-0/value", {"source": "https://git.example/r.git", "branch": "main", "target": "/code"}),
    ("s3", "T", ["--s3", "bucket=b,target=/s3,url=http://s3.local"], "spec/s3/items/s3-0/value",
     {"bucket": "b", "target": "/s3", "url": "http://s3.local"}),
    ("port", "T", ["--port", "8080:80"], "spec/ports/items/port-0/value", {"container": 80, "external": 8080}),
    ("service_type", "T", ["-s", "nodeport"], "spec/serviceType/value", "NodePort"),
    ("host_ipc", "T", ["--host-ipc"], "spec/hostIpc/value", True),
    ("host_network", "T", ["--host-network"], "spec/hostNetwork/value", True),
    ("address", "T", ["--address", "0.0.0.0"], None, "--address: accepted but not honoured"),
    ("run_as_user", "T", ["--run-as-user"], "spec/runAsUser/value", True),
    ("run_as_uid", "T", ["--run-as-uid", "1000"], "spec/runAsUid/value", 1000),
    ("run_as_gid", "T", ["--run-as-gid", "1001"], "spec/runAsGid/value", 1001),
    ("create_home_dir", "T", ["--create-home-dir"], "spec/createHomeDir/value", True),
    ("allow_privilege_escalation", "T", ["--allow-privilege-escalation"], "spec/allowPrivilegeEscalation/value", True),
    ("prevent_privilege_escalation", "T2", ["--prevent-privilege-escalation"],
     "spec/allowPrivilegeEscalation/value", False),
    ("capability", "T", ["--add-capability", "SYS_PTRACE,NET_ADMIN"], "spec/capabilities/items",
     {"sys-ptrace": {"value": "SYS_PTRACE"}, "net-admin": {"value": "NET_ADMIN"}}),
    ("tty", "T", ["-t"], "spec/tty/value", True),
    ("stdin", "T", ["--stdin"], "spec/stdin/value", True),
    ("attach", "T2", ["--attach"], "spec/stdin/value", True),
    ("node_pools", "T", ["--node-pools", "pool-a,pool-b", "--node-pool", "pool-c"], "spec/nodePools/value",
     "pool-a pool-b pool-c"),
    ("node_type", "T", ["--node-type", "dgx"], "spec/nodeType/value", "dgx"),
    ("toleration", "T", ["--toleration", "operator=Exists,key=k,effect=NoSchedule"],
     "spec/tolerations/items/toleration-0/value", {"operator": "Exists", "key": "k", "effect": "NoSchedule"}),
    ("preferred_topology", "T", ["--preferred-pod-topology-key", "zone"], "spec/podAffinitySchedulingRule/value",
     "Preferred"),
    ("required_topology", "T2", ["--required-pod-topology-key", "rack"], "spec/podAffinityTopology/value", "rack"),
    ("preemptible", "I", ["--preemptible"], "spec/preemptible/value", True),
    ("jupyter", "I", ["--jupyter"], "spec/jupyter/value", True),
    ("notebook_token", "I", ["--notebook-token", "secret"], "spec/notebookToken/value", "secret"),
    ("tensorboard", "I", ["--tensorboard"], "spec/tensorboard/value", True),
    ("tensorboard_logdir", "I", ["--tensorboard-logdir", "/logs"], "spec/tensorboardLogdir/value", "/logs"),
    ("completions", "T", ["--completions", "4"], "spec/completions/value", 4),
    ("parallelism", "T", ["--parallelism", "2"], "spec/parallelism/value", 2),
    ("backoff_limit", "T", ["--backoff-limit", "3"], "spec/backoffLimit/value", 3),
    ("ttl_after_finish", "T", ["--ttl-after-finish", "1h"], "spec/ttlAfterFinish/value", "1h"),
    ("auto_deletion", "T2", ["--auto-deletion-time-after-completion", "2m"],
     "spec/autoDeletionTimeAfterCompletionSeconds/value", 120),
    ("elastic", "T", ["--elastic"], None, "--elastic: accepted but not honoured"),
    ("name_prefix", "PFX", ["--job-name-prefix", "sweep"], "spec/name/value", "sweep-1"),
    *ignored("T", "loglevel"),
    ("template", "T4", ["--template", "base"], "spec/baseWorkload", "base"),
    ("workers", "PT", ["--workers", "2"], "spec/workers/value", 2),
    ("clean_pod_policy", "PT", ["--clean-pod-policy", "All"], "spec/runPolicy/cleanPodPolicy/value", "All"),
    ("min_workers", "PT", ["--min-replicas", "1"], "spec/minReplicas/value", 1),
    ("max_workers", "PT", ["--max-replicas", "3"], "spec/maxReplicas/value", 3),
    ("non_preemptible", "PT", ["--non-preemptible"], "spec/nonPreemptible/value", True),
    ("slots_per_worker", "MPI", ["--slots-per-worker", "2"], "spec/slotsPerWorker/value", 2),
    ("serving_port", "F", ["--serving-port", "8000"], "spec/ports/items/serving-port/value", {"container": 8000}),
    ("min_scale", "F", ["--min-replicas", "0"], "spec/minScale/value", 0),
    ("max_scale", "F", ["--max-scale", "3"], "spec/maxScale/value", 3),
    ("metric", "F", ["--metric", "concurrency"], "spec/metric/value", "concurrency"),
    ("metric_threshold", "F", ["--metric-threshold", "10"], "spec/target/value", 10),
    *ignored("F", "activation_replicas", "concurrency_hard_limit", "initial_replicas", "initialization_timeout_seconds",
             "metric_threshold_percentage", "scale_down_delay_seconds", "scale_to_zero_retention_seconds"),
]

V2_GROUPS = {
    "T": ("training", "submit"), "S": ("training", "standard", "submit"), "T2": ("training", "submit"),
    "W": ("workspace", "submit"), "PFX": ("training", "submit"), "PT": ("pytorch", "submit"),
    "MPI": ("training", "mpi", "submit"), "F": ("inference", "submit"),
}

V2_CASES = [
    ("image", "T", ["-i", "ubuntu:22.04"], "spec/image/value", "ubuntu:22.04"),
    ("image_pull_policy", "T", ["--image-pull-policy", "Never"], "spec/imagePullPolicy/value", "Never"),
    ("working_dir", "T", ["--working-dir", "/work"], "spec/workingDir/value", "/work"),
    ("environment", "T", ["-e", "A=1", "-e", "B=2"], "spec/environment/items",
     {"A": {"value": "1"}, "B": {"value": "2"}}),
    ("label", "T", ["--label", "team=vision"], "spec/labels/items/team/value", "vision"),
    ("annotation", "T", ["--annotation", "note=hello"], "spec/annotations/items/note/value", "hello"),
    ("cpu", "T", ["--cpu-core-request", "0.5"], "spec/cpu/value", "0.5"),
    ("cpu_limit", "T", ["--cpu-core-limit", "2"], "spec/cpuLimit/value", "2"),
    ("memory", "T", ["--cpu-memory-request", "1G"], "spec/memory/value", "1G"),
    ("memory_limit", "T", ["--cpu-memory-limit", "2G"], "spec/memoryLimit/value", "2G"),
    ("gpu_devices", "T", ["-g", "2"], "spec/gpuDevices/value", 2),
    ("gpu_portion", "T", ["--gpu-portion-request", "0.5"], "spec/gpu/value", "0.5"),
    ("gpu_portion_limit", "T", ["--gpu-portion-limit", "1"], "spec/gpuLimit/value", "1"),
    ("gpu_memory", "S", ["--gpu-memory-request", "4G"], "spec/gpuMemory/value", "4G"),
    ("gpu_memory_limit", "S", ["--gpu-memory-limit", "8G"], None, "--gpu-memory-limit: accepted but not honoured"),
    ("gpu_request_type", "S", ["--gpu-request-type", "memory"], None, "--gpu-request-type: accepted but not honoured"),
    ("mig_profile", "T2", ["--mig-profile", "1g.5gb"], "spec/migProfile/value", "1g.5gb"),
    ("extended_resource", "T", ["--extended-resource", "nvidia.com/rdma=1"],
     "spec/extendedResources/items/nvidia.com-rdma/value", {"resource": "nvidia.com/rdma", "quantity": "1"}),
    ("large_shm", "T", ["--large-shm"], "spec/largeShm/value", True),
    ("existing_pvc", "T", ["--existing-pvc", "claimname=c1,path=/c1,ro"], "spec/pvcs/items/pvc--0/value",
     {"claimName": "c1", "path": "/c1", "existingPvc": True, "readOnly": True}),
    ("new_pvc", "T", ["--new-pvc", "claimname=scratch,size=1Gi,path=/n,accessmode-rwo"],
     "spec/pvcs/items/pvc--1/value", {"claimName": "scratch", "size": "1Gi", "path": "/n", "existingPvc": False,
                                      "accessMode": "ReadWriteOnce"}),
    ("host_path", "T", ["--host-path", "path=/data,mount=/mnt/data,mount-propagation=HostToContainer"],
     "spec/volumes/items/volume-0/value", {"source": "/data", "target": "/mnt/data", "readOnly": True}),
    ("nfs", "T", ["--nfs", "path=/export,server=nfs.example,mountpath=/nfs,readwrite"],
     "spec/volumes/items/volume-1/value",
     {"source": "/export", "nfsServer": "nfs.example", "target": "/nfs", "readOnly": False}),
    ("configmap_volume", "T", ["--configmap-map-volume", "name=cm,path=/etc/cm"],
     "spec/configMapVolumes/items/configmap-0/value", {"name": "cm", "mountPath": "/etc/cm"}),
    ("secret_volume", "T", ["--secret-volume", "name=creds,path=/etc/creds"],
     "spec/secretVolumes/items/secret-0/value", {"name": "creds", "mountPath": "/etc/creds"}),
    ("git_sync", "T", ["--git-sync", "name=code,repository=https://git.example/r.git,path=/code,rev=abc"],
     "spec/gitSync/items/code/value", {"source": "https://git.example/r.git", "target": "/code", "rev": "abc"}),
    ("s3", "T", ["--s3", "name=data,bucket=b,path=/s3,accesskey=AK,url=http://s3.local"], "spec/s3/items/data/value",
     {"bucket": "b", "target": "/s3", "key": "AK", "url": "http://s3.local"}),
    ("port", "T", ["--port", "service-type=NodePort,container=80,external=30080"], "spec/ports/items/port-0/value",
     {"container": 80, "external": 30080, "serviceType": "NodePort"}),
    ("external_url", "T", ["--external-url", "container=8888,authusers=ann:bob"], "spec/exposedUrls/items/url-0/value",
     {"container": 8888, "authorizedUsers": "ann bob"}),
    ("host_ipc", "T", ["--host-ipc"], "spec/hostIpc/value", True),
    ("host_network", "T", ["--host-network"], "spec/hostNetwork/value", True),
    ("run_as_user", "T", ["--run-as-user"], "spec/runAsUser/value", True),
    ("run_as_uid", "T", ["--run-as-uid", "1000"], "spec/runAsUid/value", 1000),
    ("run_as_gid", "T", ["--run-as-gid", "1001"], "spec/runAsGid/value", 1001),
    ("supplemental_groups", "T", ["--supplemental-groups", "10,20"], "spec/supplementalGroups/value", "10,20"),
    ("create_home_dir", "T", ["--create-home-dir"], "spec/createHomeDir/value", True),
    ("allow_privilege_escalation", "T", ["--allow-privilege-escalation"], "spec/allowPrivilegeEscalation/value", True),
    ("capability", "T", ["--capability", "SYS_PTRACE"], "spec/capabilities/items/sys-ptrace/value", "SYS_PTRACE"),
    ("tty", "T", ["--tty"], "spec/tty/value", True),
    ("stdin", "T", ["--stdin"], "spec/stdin/value", True),
    ("attach", "S", ["--attach"], "spec/tty/value", True),
    ("node_pools", "T", ["--node-pools", "pool-a", "--node-pools", "pool-b"], "spec/nodePools/value", "pool-a pool-b"),
    ("node_type", "T", ["--node-type", "dgx"], "spec/nodeType/value", "dgx"),
    ("toleration", "T", ["--toleration", "operator=Equal,key=k,value=v,seconds=5"],
     "spec/tolerations/items/toleration-0/value", {"operator": "Equal", "key": "k", "value": "v", "seconds": 5}),
    ("preferred_topology", "T", ["--preferred-pod-topology-key", "zone"], "spec/podAffinityTopology/value", "zone"),
    ("required_topology", "S", ["--required-pod-topology-key", "rack"], "spec/podAffinitySchedulingRule/value",
     "Required"),
    ("preemptible", "W", ["--preemptible"], "spec/preemptible/value", True),
    ("completions", "T", ["--runs", "4"], "spec/completions/value", 4),
    ("parallelism", "T", ["--parallelism", "2"], "spec/parallelism/value", 2),
    ("backoff_limit", "PT", ["--backoff-limit", "2"], "spec/runPolicy/backoffLimit/value", 2),
    ("auto_deletion", "T", ["--auto-deletion-time-after-completion", "1h"],
     "spec/autoDeletionTimeAfterCompletionSeconds/value", 3600),
    ("name_prefix", "PFX", ["--name-prefix", "sweep"], "spec/name/value", "sweep-1"),
    ("workers", "PT", ["--workers", "2"], "spec/workers/value", 2),
    ("clean_pod_policy", "PT", ["--clean-pod-policy", "Running"], "spec/runPolicy/cleanPodPolicy/value", "Running"),
    ("min_workers", "PT", ["--min-replicas", "1"], "spec/minReplicas/value", 1),
    ("max_workers", "PT", ["--max-replicas", "3"], "spec/maxReplicas/value", 3),
    ("non_preemptible", "PT", ["--non-preemptible"], "spec/nonPreemptible/value", True),
    ("master_command", "PT", ["--master-command", "python master.py"], "masterSpec/command/value", "python master.py"),
    ("master_args", "PT", ["--master-args", "--rank 0"], "masterSpec/arguments/value", "--rank 0"),
    ("master_environment", "PT", ["--master-environment", "ROLE=master"], "masterSpec/environment/items/ROLE/value",
     "master"),
    ("master_extended_resource", "PT", ["--master-extended-resource", "nvidia.com/rdma=2"],
     "masterSpec/extendedResources/items/nvidia.com-rdma/value/quantity", "2"),
    ("master_gpu_devices", "PT", ["--master-gpu-devices-request", "2"], "masterSpec/gpuDevices/value", 2),
    ("master_gpu_portion", "PT", ["--master-gpu-portion-request", "0.5"], "masterSpec/gpu/value", "0.5"),
    ("master_gpu_portion_limit", "PT", ["--master-gpu-portion-limit", "1"], "masterSpec/gpuLimit/value", "1"),
    ("no_master", "PT", ["--no-master"], None, "--no-master: accepted but not honoured"),
    ("master_no_pvcs", "PT", ["--master-no-pvcs"], None, "--master-no-pvcs: accepted but not honoured"),
    ("slots_per_worker", "MPI", ["--slots-per-worker", "2"], "spec/slotsPerWorker/value", 2),
    ("serving_port", "F", ["--serving-port", "container=8000,protocol=http"], "spec/ports/items/serving-port/value",
     {"container": 8000}),
    ("min_scale", "F", ["--min-replicas", "0"], "spec/minScale/value", 0),
    ("max_scale", "F", ["--max-replicas", "2"], "spec/maxScale/value", 2),
    ("metric", "F", ["--metric", "throughput"], "spec/metric/value", "throughput"),
    ("metric_threshold", "F", ["--metric-threshold", "50"], "spec/target/value", 50),
    *ignored("F", "activation_replicas", "concurrency_hard_limit", "initial_replicas", "initialization_timeout_seconds",
             "metric_threshold_percentage", "scale_down_delay_seconds", "scale_to_zero_retention_seconds"),
    *ignored("T2", "termination_grace_period", "seccomp_profile", "user_group_source", "pod_running_timeout",
             "wait_for_submit"),
]


def _submit_every_flag(c: Cluster, generation: str, groups: dict[str, tuple[str, ...]], cases: list[Any]) -> None:
    covered = {case[0] for case in cases}
    offered = {f.key for f in FLAGS if f.names(generation)}  # type: ignore[arg-type]
    assert covered == offered, f"flags without a case: {offered - covered}; cases of no flag: {covered - offered}"
    by_group: dict[str, list[Any]] = defaultdict(list)
    for case in cases:
        by_group[case[1]].append(case)
    failures = []
    for group, rows in by_group.items():
        name = f"{generation}-{group.lower()}"
        args = [arg for row in rows for arg in row[2]]
        named = [] if group == "PFX" else [name]
        trailing = ["--", "train.py"] if group in ("T",) else []
        result = berth(c, *groups[group], *named, "-p", PROJECT, *(["-i", "ubuntu"] if "-i" not in args else []),
                       *args, *trailing)
        assert result.returncode == 0, f"{groups[group]} {args}:\n{result.stderr}"
        kind = {"submit-dist": "dw", "pytorch": "dw", "submit-inference": "infw", "inference": "infw",
                "workspace": "iw"}.get(groups[group][0], "tw")
        if groups[group][:2] == ("training", "mpi"):
            kind = "dw"
        if "--interactive" in groups[group]:
            kind = "iw"
        obj = get(c, kind, "sweep-1" if group == "PFX" else name)
        for key, _, flag_args, path, expected in rows:
            if path is None:
                if expected not in result.stderr:
                    failures.append(f"{key}: no warning {expected!r} in {result.stderr!r}")
                continue
            try:
                found = at(obj, path)
            except (KeyError, TypeError):
                found = "<missing>"
            if found != expected:
                failures.append(f"{key} {flag_args}: {path} is {found!r}, expected {expected!r}")
    assert not failures, "\n".join(failures)


def test_v1_every_flag_lands_in_its_field(gpu_cluster):
    gpu_cluster.kubectl("apply", "-f", "-", input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: base, namespace: runai-team-a}\n"
        "spec: {usage: Template, image: {value: ubuntu}}\n"))
    _submit_every_flag(gpu_cluster, "v1", V1_GROUPS, V1_CASES)


def test_v2_every_flag_lands_in_its_field(gpu_cluster):
    _submit_every_flag(gpu_cluster, "v2", V2_GROUPS, V2_CASES)


SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation")


@pytest.mark.parametrize("command", [
    ("submit", "same-v1", "-i", "ubuntu", "-g", "1", "--port", "8080:80", "-e", "A=1", "--", "python", "x.py"),
    ("workspace", "submit", "same-v2", "-i", "ubuntu", "--gpu-portion-request", "0.5", "--command", "--",
     "sleep", "infinity"),
])
def test_dry_run_prints_what_the_real_submit_stores(gpu_cluster, command):
    """With a project policy whose defaults the workload takes: the dry run shows them, as the real one."""
    gpu_cluster.kubectl("apply", "-f", "-", input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingPolicy\nmetadata: {name: defaults, namespace: runai-team-c}\n"
        "spec: {memory: {value: 1G}, environment: {items: {FROM_POLICY: {value: 'yes'}}}}\n"
        "---\napiVersion: run.ai/v2alpha1\nkind: InteractivePolicy\n"
        "metadata: {name: defaults, namespace: runai-team-c}\nspec: {memory: {value: 1G}}\n"))
    cut = command.index("--")
    dry = berth(gpu_cluster, *command[:cut], "-p", "team-c", "--dry-run", *command[cut:])
    assert dry.returncode == 0, dry.stderr
    assert "1G" in dry.stdout and "policy.run.ai/applied" in dry.stdout
    real = berth(gpu_cluster, *command[:cut], "-p", "team-c", *command[cut:])
    assert real.returncode == 0, real.stderr
    name = next(a for a in command if a.startswith("same-"))
    kind = "tw" if command[0] == "submit" else "iw"
    shown = yaml.safe_load(gpu_cluster.kubectl("get", kind, name, "-n", "runai-team-c", "-o", "yaml").stdout)
    shown.pop("status", None)
    for key in SERVER_SET:
        shown["metadata"].pop(key, None)
    assert yaml.safe_load(dry.stdout) == shown
    # and as text too: kubectl's YAML, line for line, without the server-set lines and the status
    kubectl_text = gpu_cluster.kubectl("get", kind, name, "-n", "runai-team-c", "-o", "yaml").stdout
    kept = [line for line in kubectl_text.split("status:\n", 1)[0].splitlines(keepends=True)
            if not any(line.startswith(f"  {key}:") for key in SERVER_SET)]
    assert dry.stdout == "".join(kept)


def test_a_policy_violation_prints_the_policy_message(gpu_cluster):
    gpu_cluster.kubectl("apply", "-f", "-", input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingPolicy\nmetadata: {name: limits, namespace: runai-team-b}\n"
        "spec: {gpu: {rules: {max: '2'}}}\n"))
    for command in (("submit", "greedy", "-g", "3"), ("training", "submit", "greedy", "-g", "3")):
        result = berth(gpu_cluster, *command, "-p", "team-b", "-i", "ubuntu")
        assert result.returncode == 1, result
        assert 'spec.gpu: must be no greater than 2 (TrainingPolicy "limits" in project team-b)' in result.stderr
        assert "Traceback" not in result.stderr
    dry = berth(gpu_cluster, "submit", "greedy", "-g", "3", "-p", "team-b", "-i", "ubuntu", "--dry-run")
    assert dry.returncode == 1 and "must be no greater than 2" in dry.stderr and dry.stdout == ""


def test_wait_returns_once_the_workload_runs(gpu_cluster):
    result = berth(gpu_cluster, "submit", "waiter", "-p", PROJECT, "-i", "ubuntu", "-g", "1", "--wait",
                   "--command", "--", "sleep", "120", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Running" in result.stdout and "waiter-0-0" in result.stdout
    assert get(gpu_cluster, "tw", "waiter")["status"]["phase"] == "Running"


def test_wait_on_a_failing_workload_exits_1(gpu_cluster):
    result = berth(gpu_cluster, "training", "submit", "failer", "-p", PROJECT, "-i", "ubuntu", "--backoff-limit",
                   "0", "--wait", "--command", "--", "false", timeout=120)
    assert result.returncode == 1, result
    assert "Failed" in result.stdout


def test_submit_prints_the_name_and_how_to_follow_it(gpu_cluster):
    first = berth(gpu_cluster, "submit", "-p", PROJECT, "-i", "ubuntu", "--command", "--", "true")
    assert first.returncode == 0, first.stderr
    assert 'TrainingWorkload "job-1" submitted to project team-a.' in first.stdout
    assert "berth describe workload job-1 -p team-a" in first.stdout and "berth logs job-1 -p team-a" in first.stdout
    second = berth(gpu_cluster, "workspace", "submit", "-p", PROJECT, "-i", "ubuntu", "--name-prefix", "nb")
    assert 'InteractiveWorkload "nb-1"' in second.stdout and "berth workspace describe nb-1" in second.stdout
    notebook = berth(gpu_cluster, "submit", "nb", "-p", PROJECT, "-i", "jupyter/base-notebook", "--jupyter", "--dry-run")
    assert yaml.safe_load(notebook.stdout)["kind"] == "InteractiveWorkload", notebook.stderr


def test_bad_input_names_the_flag(gpu_cluster):
    bad = berth(gpu_cluster, "submit", "x", "-p", PROJECT, "--git-sync", "sorce=https://x")
    assert bad.returncode == 2
    assert "'--git-sync'" in bad.stderr and 'unknown key "sorce" (did you mean source?)' in bad.stderr
    assert "expected source=URL" in bad.stderr
    typo = berth(gpu_cluster, "training", "submit", "x", "--gpu-devices-requst", "1")
    assert typo.returncode == 2 and "--gpu-devices-request" in typo.stderr
    kind = berth(gpu_cluster, "submit", "x", "-p", PROJECT, "--preemptible")
    assert kind.returncode == 2 and "add --interactive" in kind.stderr
    no_project = berth(gpu_cluster, "submit", "x", "-i", "ubuntu")
    assert no_project.returncode == 1 and "no project: pass -p PROJECT" in no_project.stderr


def _submit_commands() -> list[tuple[str, ...]]:
    """The path of every submit command under `berth`, v1 and v2."""
    import click

    from berth.cli.main import cli

    found = []

    def walk(group: click.Group, path: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, (*path, name))
            elif name.startswith("submit") or path[:1] == ("submit-dist",):
                found.append((*path, name))

    walk(cli, ())
    return found


def test_every_submit_command_has_help_with_examples_that_work(gpu_cluster):
    """Each example of each submit command's --help, run with --dry-run in a fresh project, is accepted."""
    import shlex

    commands = _submit_commands()
    assert {c[0] for c in commands} == {"submit", "submit-dist", "submit-inference", "workspace", "training",
                                        "inference", "pytorch", "tf", "mpi", "xgboost"}
    assert ("training", "standard", "submit") in commands and ("training", "pytorch", "submit") in commands
    gpu_cluster.project("team-d")
    tried = set()  # the framework aliases show the same examples as `training <framework>`
    for path in commands:
        shown = berth_in_process(gpu_cluster.env(), *path, "--help")
        assert shown.returncode == 0 and "Examples:" in shown.stdout, path
        text = shown.stdout.split("Examples:", 1)[1].split("Options:", 1)[0].replace("\\\n", " ")
        examples = [line.split("#", 1)[0].strip() for line in text.splitlines() if line.strip().startswith("berth ")]
        assert examples, path
        for example in (e for e in examples if e not in tried):
            tried.add(example)
            words = shlex.split(example)[1:]
            assert tuple(words[:len(path)]) == path or tuple(words[:len(path) + 1]) == ("training", *path), example
            cut = words.index("--") if "--" in words else len(words)
            extra = ["-p", "team-d"] + ([] if "--dry-run" in words else ["--dry-run"])
            result = berth_in_process(gpu_cluster.env(), *words[:cut], *extra, *words[cut:])
            assert result.returncode == 0, f"{example}:\n{result.stderr}"
