"""Distributed frameworks: the roles of a DistributedWorkload's pods and how they find each other.

A DistributedWorkload is one gang of pods: a master (PyTorchJob, XGBoostJob), chief (TFJob) or launcher
(MPIJob), then `spec.workers` workers. This module says, for each pod, what the framework's Kubeflow
operator would have given it, so that images written for those operators run unchanged:

* names: `<name>-master-0`, `<name>-chief-0`, `<name>-launcher` (MPI), `<name>-worker-<i>`;
* peer discovery: one headless Service `<name>` (selector `run.ai/workload-name=<name>`, not-ready
  addresses published, so a pod is resolvable as soon as it has an IP) and, per pod, `hostname` and
  `subdomain`, which give every pod the name `<pod>.<name>.<namespace>.svc`;
* the environment each framework reads: MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK and torchrun's PET_*
  variables (PyTorch), TF_CONFIG (TensorFlow), MASTER_*/WORLD_SIZE/RANK/WORKER_ADDRS (XGBoost), and for MPI a
  hostfile ConfigMap mounted in the launcher with the variables OpenMPI, Intel MPI or MPICH read.

Choices, and why:

* Every framework talks on one port, PEER_PORT (23456, PyTorch's default), named on the Service. A
  headless Service does not proxy, so the port is a convention between the pods; one port keeps the
  Service, the environment and TF_CONFIG in agreement.
* WORLD_SIZE counts pods, and RANK is the pod's rank (master 0, worker i -> i + 1). That is what a
  script started without torchrun (`init_process_group("env://")`) needs; torchrun computes the process
  world from PET_NNODES and PET_NPROC_PER_NODE itself.
* The master takes part in torchrun's rendezvous like any worker, so PET_NNODES counts pods: `1 + workers`,
  and for an elastic job (minReplicas or maxReplicas set) `1 + minReplicas:1 + maxReplicas`, which agrees
  with the gang size `min_member` gives the scheduler. The rendezvous (c10d) is hosted by the master,
  the one pod an elastic job never loses.
* MPI launchers reach workers with `kubectl exec` (the MPI operator v1 "kubexec" agent) instead of ssh:
  worker images need no sshd and no keys, so any image (even `ubuntu`) can be a worker. Workers therefore
  only wait (`command` in their patch) until the launcher runs ranks in them; the launcher needs
  `kubectl` (or `$KUBECTL`) and the right to exec into pods of its namespace, which the reconciler and
  the pod template must provide.
* Pods never restart in place (`restartPolicy: Never`): a failed pod breaks the gang's collective, so the
  workload controller restarts the whole gang, up to runPolicy.backoffLimit.

Pure: data in, manifests out. It reads a workload as the API stores it (`{value: ...}` wrappers, `workers`
or its older name `replicas`) and never calls the API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from berth.controllers.podspec import WORKLOAD_NAME_LABEL

PEER_PORT = 23456
"""The port every framework's peers talk on (PyTorch's default; see the module notes)."""
PEER_PORT_NAME = "peers"
WORKLOAD_LABEL = WORKLOAD_NAME_LABEL
"""Pod label naming the workload; the peer Service selects on it."""
MPI_CONFIG_DIR = "/etc/mpi"
MPI_CONFIG_VOLUME = "berth-mpi-config"
HOSTFILE_KEY = "hostfile"
KUBEXEC_KEY = "kubexec.sh"

_API_VERSION = "run.ai/v2alpha1"
_KIND = "DistributedWorkload"
_LEAD_ROLE = {"PyTorchJob": "master", "XGBoostJob": "master", "TFJob": "chief", "MPIJob": "launcher"}
_FINISHED = frozenset({"Succeeded", "Failed"})
_DEFAULT_MAX_RESTARTS = 3  # pyTorchJob.maxRestarts' documented default for elastic jobs

# mpirun's remote shell for kubexec: the hostfile holds `<pod>.<service>.<ns>.svc`; kubectl needs the pod.
_KUBEXEC = """#!/bin/sh
# Runs a command in an MPI worker pod with kubectl exec; mpirun calls it as its remote shell.
pod="${1%%.*}"
shift
exec "${KUBECTL:-kubectl}" exec "$pod" --namespace "__NAMESPACE__" -- /bin/sh -c "$*"
"""

# MPI workers idle until the launcher execs ranks into them, and stop at once when deleted.
_MPI_WORKER_COMMAND = [
    "/bin/sh", "-c", "trap 'kill $! 2>/dev/null; exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
]


@dataclass(frozen=True)
class Role:
    """One kind of pod in the gang."""

    name: str
    """"master" (PyTorchJob, XGBoostJob), "chief" (TFJob), "launcher" (MPIJob) or "worker"."""
    replicas: int
    uses_master_spec: bool
    """True when the pod takes masterSpec's overrides (the master, chief or launcher)."""


# --- reading the workload -------------------------------------------------------------------------


def _spec(workload: dict) -> dict:
    return workload.get("spec") or {}


def _value(fields: dict | None, name: str, default: Any = None) -> Any:
    """A scalar spec field, unwrapped from `{value: ...}` (a plain value is taken as it is)."""
    raw = (fields or {}).get(name)
    if isinstance(raw, dict):
        raw = raw.get("value")
    return default if raw is None else raw


def master_spec(workload: dict) -> dict:
    """The master's own fields: the top-level `masterSpec` (where Run:ai writes it), else the older
    `spec.masterSpec` (the model refuses both at once), else none."""
    return workload.get("masterSpec") or _spec(workload).get("masterSpec") or {}


def _name(workload: dict) -> str:
    return workload["metadata"]["name"]


def _namespace(workload: dict) -> str:
    return workload["metadata"].get("namespace") or "default"


def _job_type(workload: dict) -> str:
    job = _spec(workload).get("jobType")
    if job not in _LEAD_ROLE:
        got = "missing" if job is None else repr(job)
        raise ValueError(f"spec.jobType: {got}; write one of {', '.join(_LEAD_ROLE)} (e.g. jobType: PyTorchJob)")
    return job


def _workers(workload: dict) -> int:
    spec = _spec(workload)
    return int(_value(spec, "workers", _value(spec, "replicas", 1)))


def _elastic_bounds(workload: dict) -> tuple[int, int] | None:
    """(minReplicas, maxReplicas) in workers for an elastic PyTorchJob, else None."""
    spec = _spec(workload)
    if _job_type(workload) != "PyTorchJob" or (
        _value(spec, "minReplicas") is None and _value(spec, "maxReplicas") is None
    ):
        return None
    workers = _workers(workload)
    low = int(_value(spec, "minReplicas", workers))
    high = int(_value(spec, "maxReplicas", max(workers, low)))
    return low, high


def _lead(workload: dict) -> str:
    return _LEAD_ROLE[_job_type(workload)]


# --- names and addresses ----------------------------------------------------------------------------


def roles(workload: dict) -> list[Role]:
    """The master, chief or launcher (one pod, with masterSpec), then the workers."""
    return [Role(_lead(workload), 1, True), Role("worker", _workers(workload), False)]


def pod_name(workload_name: str, role: str, index: int) -> str:
    """`<name>-<role>-<index>`; the MPI launcher is the single `<name>-launcher`."""
    if role == "launcher":
        return f"{workload_name}-launcher"
    return f"{workload_name}-{role}-{index}"


def all_pod_names(workload: dict) -> list[str]:
    """Every pod of the gang: the lead pod first, then workers by index."""
    name = _name(workload)
    return [pod_name(name, role.name, i) for role in roles(workload) for i in range(role.replicas)]


def service_name(workload: dict) -> str:
    """The peer Service's name, which is also every pod's `subdomain`."""
    return _name(workload)


def pod_address(workload: dict, pod: str) -> str:
    """The DNS name of one pod of the workload, through the headless peer Service."""
    return f"{pod}.{service_name(workload)}.{_namespace(workload)}.svc"


def _address(workload: dict, role: str, index: int) -> str:
    return pod_address(workload, pod_name(_name(workload), role, index))


def _worker_addresses(workload: dict) -> list[str]:
    return [_address(workload, "worker", i) for i in range(_workers(workload))]


# --- manifests ------------------------------------------------------------------------------------------


def _metadata(workload: dict, name: str) -> dict:
    owner = {
        "apiVersion": workload.get("apiVersion", _API_VERSION),
        "kind": workload.get("kind", _KIND),
        "name": _name(workload),
        "uid": workload["metadata"].get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "name": name,
        "namespace": _namespace(workload),
        "labels": {WORKLOAD_LABEL: _name(workload)},
        "ownerReferences": [owner],
    }


def peer_service(workload: dict) -> dict:
    """The headless Service that gives every pod of the gang a DNS name."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(workload, service_name(workload)),
        "spec": {
            "clusterIP": "None",
            "selector": {WORKLOAD_LABEL: _name(workload)},
            "publishNotReadyAddresses": True,
            "ports": [{"name": PEER_PORT_NAME, "port": PEER_PORT, "targetPort": PEER_PORT, "protocol": "TCP"}],
        },
    }


def _mpi_implementation(workload: dict) -> str:
    return _value(_spec(workload).get("mpiJob"), "mpiImplementation", "OpenMPI")


def hostfile(workload: dict) -> str:
    """The MPI hostfile: one line per worker with its slots, in the implementation's syntax."""
    slots = int(_value(_spec(workload), "slotsPerWorker", 1))
    if _mpi_implementation(workload) == "OpenMPI":
        lines = [f"{address} slots={slots}" for address in _worker_addresses(workload)]
    else:  # Intel MPI and MPICH (Hydra)
        lines = [f"{address}:{slots}" for address in _worker_addresses(workload)]
    return "".join(line + "\n" for line in lines)


def config_maps(workload: dict) -> list[dict]:
    """MPIJob: `<name>-hostfile`, with the hostfile and the kubexec remote shell; other jobs: none."""
    if _job_type(workload) != "MPIJob":
        return []
    return [{
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(workload, f"{_name(workload)}-hostfile"),
        "data": {
            HOSTFILE_KEY: hostfile(workload),
            KUBEXEC_KEY: _KUBEXEC.replace("__NAMESPACE__", _namespace(workload)),
        },
    }]


# --- environment ----------------------------------------------------------------------------------------


def _role_fields(workload: dict, role: str) -> dict:
    """The spec fields a pod of this role runs with: masterSpec over spec for the lead pod."""
    spec = _spec(workload)
    if role == "worker":
        return spec
    return {**spec, **master_spec(workload)}


def _whole_gpus(workload: dict, role: str) -> int:
    """Whole GPUs of one pod (0 for none or a share of one). A masterSpec that asks for GPUs in any way
    replaces the spec's request as a whole, so `masterSpec: {gpu: {value: "0"}}` means none."""
    fields = _spec(workload)
    master = master_spec(workload)
    gpu_fields = ("gpu", "gpuDevices", "gpuMemory", "migProfile")
    if role != "worker" and any(master.get(n) is not None for n in gpu_fields):
        fields = master
    if _value(fields, "gpuDevices") is not None:
        return int(_value(fields, "gpuDevices"))
    gpu = _value(fields, "gpu")
    return int(float(gpu)) if gpu is not None else 0


def _rank(role: str, index: int) -> int:
    return index + 1 if role == "worker" else 0


def _env(pairs: list[tuple[str, Any]]) -> list[dict]:
    return [{"name": name, "value": str(value)} for name, value in pairs]


def _pytorch_env(workload: dict, role: str, index: int) -> list[tuple[str, Any]]:
    master = _address(workload, "master", 0)
    pods = 1 + _workers(workload)
    rank = _rank(role, index)
    nproc = _value(_spec(workload).get("pyTorchJob"), "nprocPerNode") or max(1, _whole_gpus(workload, role))
    env: list[tuple[str, Any]] = [
        ("PYTHONUNBUFFERED", "1"),
        ("MASTER_ADDR", master),
        ("MASTER_PORT", PEER_PORT),
        ("WORLD_SIZE", pods),
        ("RANK", rank),
        ("PET_MASTER_ADDR", master),
        ("PET_MASTER_PORT", PEER_PORT),
        ("PET_NODE_RANK", rank),
        ("PET_NPROC_PER_NODE", nproc),
    ]
    restarts = _value(_spec(workload).get("pyTorchJob"), "maxRestarts")
    bounds = _elastic_bounds(workload)
    if bounds is None:
        env.append(("PET_NNODES", pods))
    else:
        low, high = bounds
        env += [
            ("PET_NNODES", f"{1 + low}:{1 + high}"),
            ("PET_RDZV_BACKEND", "c10d"),
            ("PET_RDZV_ENDPOINT", f"{master}:{PEER_PORT}"),
        ]
        restarts = _DEFAULT_MAX_RESTARTS if restarts is None else restarts
    if restarts is not None:
        env.append(("PET_MAX_RESTARTS", restarts))
    return env


def tf_config(workload: dict, role: str, index: int) -> dict:
    """TF_CONFIG of one pod: the whole cluster, and this pod's own task."""
    cluster = {"chief": [f"{_address(workload, 'chief', 0)}:{PEER_PORT}"]}
    workers = [f"{a}:{PEER_PORT}" for a in _worker_addresses(workload)]
    if workers:
        cluster["worker"] = workers
    return {"cluster": cluster, "task": {"type": role, "index": index}, "environment": "cloud"}


def _tf_env(workload: dict, role: str, index: int) -> list[tuple[str, Any]]:
    config = json.dumps(tf_config(workload, role, index), separators=(",", ":"))
    return [("PYTHONUNBUFFERED", "1"), ("TF_CONFIG", config)]


def _xgboost_env(workload: dict, role: str, index: int) -> list[tuple[str, Any]]:
    env: list[tuple[str, Any]] = [
        ("PYTHONUNBUFFERED", "1"),
        ("MASTER_ADDR", _address(workload, "master", 0)),
        ("MASTER_PORT", PEER_PORT),
        ("WORLD_SIZE", 1 + _workers(workload)),
        ("RANK", _rank(role, index)),
    ]
    workers = _worker_addresses(workload)
    if workers:  # LightGBM reads these
        env += [("WORKER_PORT", PEER_PORT), ("WORKER_ADDRS", ",".join(workers))]
    return env


def _mpi_env(workload: dict, role: str) -> list[tuple[str, Any]]:
    env: list[tuple[str, Any]] = [("K_MPI_JOB_ROLE", role)]
    if role != "launcher":
        return env
    hostfile_path = f"{MPI_CONFIG_DIR}/{HOSTFILE_KEY}"
    agent = f"{MPI_CONFIG_DIR}/{KUBEXEC_KEY}"
    implementation = _mpi_implementation(workload)
    if implementation == "Intel":
        env += [
            ("I_MPI_HYDRA_HOST_FILE", hostfile_path),
            ("I_MPI_HYDRA_BOOTSTRAP", "rsh"),
            ("I_MPI_HYDRA_BOOTSTRAP_EXEC", agent),
        ]
    elif implementation == "MPICH":
        env += [("HYDRA_HOST_FILE", hostfile_path), ("HYDRA_LAUNCHER", "rsh"), ("HYDRA_LAUNCHER_EXEC", agent)]
    else:
        env += [
            ("OMPI_MCA_orte_default_hostfile", hostfile_path),
            ("OMPI_MCA_orte_keep_fqdn_hostnames", "true"),
            ("OMPI_MCA_plm_rsh_agent", agent),
            ("OMPI_ALLOW_RUN_AS_ROOT", "1"),
            ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"),
        ]
    return env


def _check_pod(workload: dict, role: str, index: int) -> None:
    for r in roles(workload):
        if r.name == role:
            if not 0 <= index < r.replicas:
                raise ValueError(f"{role} index {index} is outside 0..{r.replicas - 1} of {_name(workload)}")
            return
    raise ValueError(f"{_job_type(workload)} has no role {role!r}; its roles are {_lead(workload)} and worker")


def environment(workload: dict, role: str, index: int) -> list[dict]:
    """The environment variables the framework gives one pod, as Kubernetes env entries."""
    _check_pod(workload, role, index)
    job = _job_type(workload)
    if job == "PyTorchJob":
        pairs = _pytorch_env(workload, role, index)
    elif job == "TFJob":
        pairs = _tf_env(workload, role, index)
    elif job == "XGBoostJob":
        pairs = _xgboost_env(workload, role, index)
    else:
        pairs = _mpi_env(workload, role)
    return _env(pairs)


def pod_patch(workload: dict, role: str, index: int) -> dict:
    """What the framework adds to a pod template made elsewhere.

    Keys: `hostname` and `subdomain` (the pod's DNS name), `labels` (the peer Service's selector),
    `restartPolicy`, `env`, `volumes`, `volumeMounts`; MPI workers also get `command` (they wait for the
    launcher instead of running the job's command).
    """
    env = environment(workload, role, index)
    patch: dict[str, Any] = {
        "hostname": pod_name(_name(workload), role, index),
        "subdomain": service_name(workload),
        "labels": {WORKLOAD_LABEL: _name(workload)},
        "restartPolicy": "Never",
        "env": env,
        "volumes": [],
        "volumeMounts": [],
    }
    if _job_type(workload) == "MPIJob":
        if role == "launcher":
            patch["volumes"] = [{
                "name": MPI_CONFIG_VOLUME,
                "configMap": {
                    "name": f"{_name(workload)}-hostfile",
                    "items": [
                        {"key": HOSTFILE_KEY, "path": HOSTFILE_KEY, "mode": 0o444},
                        {"key": KUBEXEC_KEY, "path": KUBEXEC_KEY, "mode": 0o555},
                    ],
                },
            }]
            patch["volumeMounts"] = [{"name": MPI_CONFIG_VOLUME, "mountPath": MPI_CONFIG_DIR, "readOnly": True}]
        else:
            patch["command"] = list(_MPI_WORKER_COMMAND)
    return patch


# --- gang and clean-up ----------------------------------------------------------------------------------


def min_member(workload: dict) -> int:
    """Pods that must start together: all of them, or for an elastic PyTorchJob 1 + minReplicas (at most
    every pod)."""
    workers = _workers(workload)
    bounds = _elastic_bounds(workload)
    if bounds is not None:
        workers = min(workers, bounds[0])
    return 1 + workers


def clean_pods(workload: dict, pods: list[dict]) -> list[str]:
    """Names of the workload's pods to delete now that the job has ended, per runPolicy.cleanPodPolicy.

    None (the default, as Kubeflow's training operator has it) keeps every pod, so the logs of every worker
    stay readable, even one that was still finishing when the master ended; Running deletes the pods not
    yet finished (any phase but Succeeded and Failed); All deletes every pod. Pods already being deleted
    are left out. `pods` are the workload's pods (the caller selects them).
    """
    policy = _value((_spec(workload).get("runPolicy") or {}), "cleanPodPolicy", "None")
    if policy == "None":
        return []
    names = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        if policy == "Running" and (pod.get("status") or {}).get("phase") in _FINISHED:
            continue
        names.append(meta["name"])
    order = {name: i for i, name in enumerate(all_pod_names(workload))}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))
