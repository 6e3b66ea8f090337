"""The four Run:ai workload kinds of `run.ai/v2alpha1` and their spec fields.

Field sets follow the table in section 1.3 of the Run:ai notes: `ContainerFields` are what one pod's
container needs (a DistributedWorkload's `masterSpec` reuses them), `WorkloadFields` adds what every
workload has, and each kind adds its own. A field is described once, here; its policy twin in
`berth.api.policies` is generated from it.

Three fields are plain values, not `{value: ...}` wrappers, exactly as in Run:ai: `usage`, `baseWorkload`
and `jobType`. Itemized fields are `Items[...]`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from berth.api import items as it
from berth.api.base import Items, Model, Value, field
from berth.api.meta import Condition, ObjectMeta
from berth.api.types import (
    Boolean,
    Count,
    Duration,
    GpuAmount,
    Integer,
    MigProfile,
    Number,
    PositiveCount,
    Quantity,
    String,
    Timestamp,
    UnixId,
    enum,
    field_error,
    gpu_amount,
    parse_quantity,
)

Usage = enum("Submit", "Template")
ImagePullPolicy = enum("Always", "IfNotPresent", "Never",
                       spellings={"always": "Always", "ifNotPresent": "IfNotPresent", "never": "Never"})
"""The docs' `kubectl explain` writes "always, ifNotPresent, or never"; both spellings are taken."""
JobType = enum("PyTorchJob", "TFJob", "MPIJob", "XGBoostJob")
AffinityRule = enum("Required", "Preferred", spellings={"hard": "Required", "soft": "Preferred"})
"""Run:ai's explain text says "hard" (required) or "soft" (preferred); both spellings are taken."""
Metric = enum("cpu-utilization", "latency", "throughput", "concurrency", "gpu-utilization", "custom")
CleanPodPolicy = enum("Running", "All", "None")
Phase = enum(
    "Creating", "Pending", "Initializing", "Running", "Degraded", "Deleting", "Stopped", "Failed", "Completed",
    "Resuming", "Updating", "Stopping", "Terminating", "TimedOut", "Unknown", "Template",
)
"""Workload phases of Run:ai 2.x (section 6.2 of the notes); the happy path is
Creating -> Pending -> Initializing -> Running -> Completed. TimedOut is the legacy end state of an
interactive workload that hit its project's time limit. Template is Berth's phase for a workload of usage
Template, which is never run (Run:ai's record names no phase for it)."""


class ContainerFields(Model):
    """What one pod of the workload runs and needs."""

    image: Value[String] | None = field(
        "Container image to run, as a registry reference (e.g. nvcr.io/nvidia/pytorch:24.01-py3).",
        flag="--image, -i",
    )
    imagePullPolicy: Value[ImagePullPolicy] | None = field(
        "When the node pulls the image: Always, IfNotPresent or Never (always, ifNotPresent and never, as "
        "Run:ai's docs write them, are taken and stored as Always, IfNotPresent and Never).", default="Always",
        flag="--image-pull-policy",
    )
    imagePullSecrets: Value[String] | None = field(
        "Name of a Secret in the workload's namespace holding registry credentials for a private image.",
    )
    command: Value[String] | None = field(
        "Command to run instead of the image's entrypoint, as one string split into words the way a POSIX "
        "shell splits them (e.g. \"python train.py\").",
        default="the image's entrypoint",
        flag="--command -- COMMAND",
    )
    arguments: Value[String] | None = field(
        "Arguments appended to the command, as one string split into words the way a POSIX shell does.",
        default="the image's arguments",
        flag="-- ARGS",
    )
    workingDir: Value[String] | None = field(
        "Directory the command starts in.", default="the image's working directory", flag="--working-dir"
    )
    environment: Items[String] | None = field(
        "Environment variables, one item per variable; the label is the variable's name. A value "
        "SECRET:<secret>,<key> takes the value from that key of a Secret in the workload's namespace.",
        flag="--environment NAME=VALUE, -e",
    )
    cpu: Value[Quantity] | None = field(
        "CPU guaranteed to each pod, in cores (\"2\", \"500m\").", unit="CPU cores (a quantity)",
        default="the policy's default, else none", flag="--cpu",
    )
    cpuLimit: Value[Quantity] | None = field(
        "Most CPU each pod may use; above it the container is throttled.", unit="CPU cores (a quantity)",
        default="no limit", flag="--cpu-limit",
    )
    memory: Value[Quantity] | None = field(
        "CPU memory guaranteed to each pod (\"64G\", \"512Mi\").", unit="bytes (a quantity)",
        default="the policy's default, else none", flag="--memory",
    )
    memoryLimit: Value[Quantity] | None = field(
        "Most CPU memory each pod may use; above it the container is killed (OOM).", unit="bytes (a quantity)",
        default="no limit", flag="--memory-limit",
    )
    gpu: Value[GpuAmount] | None = field(
        "GPUs for each pod: a whole number of GPUs (\"2\"), or a fraction of one GPU between 0 and 1 "
        "(\"0.5\"), which gives the pod that share of the GPU's memory on a GPU it shares with others.",
        unit="GPUs", default="none (a CPU-only workload)", flag="--gpu, -g",
    )
    gpuLimit: Value[GpuAmount] | None = field(
        "Most GPU each pod may use when more is idle (an opportunistic workload); at least gpu.",
        unit="GPUs", default="equal to gpu", flag="--gpu-limit",
    )
    gpuMemory: Value[Quantity] | None = field(
        "GPU memory for each pod instead of a fraction: the pod gets a share of one GPU with this much "
        "memory (\"4G\"). Give gpu or gpuMemory, not both.",
        unit="bytes (a quantity)", default="none", flag="--gpu-memory",
    )
    migProfile: Value[MigProfile] | None = field(
        "A MIG slice of an NVIDIA A100/H100 instead of gpu, e.g. 1g.5gb or 3g.20gb.", default="none",
        flag="--mig-profile",
    )
    extendedResources: Items[it.ExtendedResourceItem] | None = field(
        "Other devices to request, such as RDMA network adapters.", flag="--extended-resource NAME=QUANTITY",
    )
    largeShm: Value[Boolean] | None = field(
        "true mounts a large /dev/shm (RAM-backed), which PyTorch data loaders and NCCL need.",
        default="false", flag="--large-shm",
    )
    ports: Items[it.PortItem] | None = field(
        "Container ports to expose, each as a Service of its serviceType.", flag="--port [EXTERNAL:]CONTAINER",
    )
    pvcs: Items[it.PvcItem] | None = field(
        "Persistent volume claims to mount, existing or created for the workload.",
        flag="--existing-pvc / --pvc-new",
    )
    volumes: Items[it.VolumeItem] | None = field(
        "Host directories or NFS exports to mount.", flag="--volume SOURCE:TARGET[:ro][:NFS_HOST], -v",
    )
    emptyDirVolumes: Items[it.EmptyDirItem] | None = field("Scratch directories that live as long as the pod.")
    configMapVolumes: Items[it.ConfigMapVolumeItem] | None = field(
        "ConfigMaps mounted as files.", flag="--configmap-volume name=NAME,path=PATH",
    )
    secretVolumes: Items[it.SecretVolumeItem] | None = field("Secrets mounted as files.")
    gitSync: Items[it.GitSyncItem] | None = field(
        "Git repositories cloned into the container before it starts.", flag="--git-sync source=...,target=...",
    )
    s3: Items[it.S3Item] | None = field("S3 buckets mounted into the container.", flag="--s3 bucket=...,target=...")
    labels: Items[String] | None = field(
        "Labels set on the workload's pods; the item label is the label key.", flag="--label KEY=VALUE, -l",
    )
    annotations: Items[String] | None = field(
        "Annotations set on the workload's pods; the item label is the annotation key.",
        flag="--annotation KEY=VALUE, -a",
    )
    tolerations: Items[it.TolerationItem] | None = field(
        "Taints of nodes the pods may run on.", flag="--toleration operator=...,key=...",
    )
    nodeType: Value[String] | None = field(
        "Runs the workload only on one group of nodes: those the administrator labelled run.ai/type=<value> "
        "(for example a GPU model, dgx-a100). Projects may also restrict their workloads to a list of node "
        "types (project-based affinity, nodeAffinityTrain and nodeAffinityInteractive); then the value must "
        "be one of the project's types and narrows that list to one.",
        default="any node the project allows", flag="--node-type",
    )
    runAsUser: Value[Boolean] | None = field(
        "true runs the container as a non-root user: runAsUid and runAsGid when given, else the submitting "
        "user's ids.", default="false (the image's user)", flag="--run-as-user",
    )
    runAsUid: Value[UnixId] | None = field(
        "User id the container runs as; used only when runAsUser is true.", flag="--run-as-uid",
    )
    runAsGid: Value[UnixId] | None = field(
        "Group id the container runs as; used only when runAsUser is true.", flag="--run-as-gid",
    )
    supplementalGroups: Value[String] | None = field(
        "Extra group ids for the container, separated by ';' or ',' (\"1000;2000\").",
    )
    createHomeDir: Value[Boolean] | None = field(
        "true creates a temporary home directory for the user, since the image may not have one.",
        default="true when runAsUser is true, else false", flag="--create-home-dir",
    )
    capabilities: Items[String] | None = field(
        "Linux capabilities added to the container, one per item (e.g. SYS_PTRACE).",
        flag="--add-capability",
    )
    allowPrivilegeEscalation: Value[Boolean] | None = field(
        "true lets processes gain more privileges than their parent (setuid binaries, sudo).",
        default="true", flag="--allow-privilege-escalation",
    )
    hostIpc: Value[Boolean] | None = field(
        "true shares the node's IPC namespace with the pod.", default="false", flag="--host-ipc",
    )
    hostNetwork: Value[Boolean] | None = field(
        "true puts the pod on the node's network, so its ports are the node's ports.", default="false",
        flag="--host-network",
    )
    stdin: Value[Boolean] | None = field(
        "true keeps the container's standard input open (for runai attach).", default="false",
        flag="--stdin",
    )
    tty: Value[Boolean] | None = field(
        "true gives the container a terminal (for runai attach).", default="false", flag="--tty, -t",
    )
    mountPropagation: Value[Boolean] | None = field(
        "true propagates mounts made on the host after the pod started into its volumes (HostToContainer).",
        default="false", flag="--mount-propagation",
    )

    @model_validator(mode="after")
    def _one_gpu_request(self) -> "ContainerFields":
        given = [n for n in ("gpu", "gpuMemory", "migProfile") if getattr(self, n) is not None]
        if len(given) > 1:
            raise field_error(
                given[1], "{given} ask for GPUs in different ways; give only one of gpu, gpuMemory and migProfile",
                given=" and ".join(given),
            )
        if self.gpu is not None and self.gpuLimit is not None:
            if gpu_amount(self.gpuLimit.value) < gpu_amount(self.gpu.value):
                raise field_error("gpuLimit.value", "must be no less than gpu ({gpu})", self.gpuLimit.value,
                                  gpu=self.gpu.value)
        for request, limit in (("cpu", "cpuLimit"), ("memory", "memoryLimit")):
            req, lim = getattr(self, request), getattr(self, limit)
            if req is not None and lim is not None and parse_quantity(lim.value) < parse_quantity(req.value):
                raise field_error(f"{limit}.value", "must be no less than {request} ({rv})", lim.value,
                                  request=request, rv=req.value)
        return self


class WorkloadFields(ContainerFields):
    """What every workload kind has besides its pods' container: identity, ownership and placement."""

    name: Value[String] | None = field(
        "Name of the job as Run:ai shows it (runai list). Give name or namePrefix, not both.",
        default="metadata.name", flag="--name, or the first argument",
    )
    namePrefix: Value[String] | None = field(
        "Prefix from which a unique job name is generated: when the workload is submitted, namePrefix is "
        "replaced by name <prefix>-<n>, n the smallest number no workload of its kind in the namespace is named "
        "(prefix-1, prefix-2, ...). Useful in a Template, so that each workload made from it is named anew.",
        flag="--job-name-prefix",
    )
    usage: Usage | None = field(
        "Submit runs the workload; Template stores it only as a base for other workloads (see baseWorkload): "
        "a Template never runs, and its status says so (phase Template). A plain value, not {value: ...}.",
        default="Submit",
    )
    baseWorkload: String | None = field(
        "Name of a workload of the same kind, usually a Template, whose values this one inherits: from the "
        "same namespace, else from the namespace runai (a global template). The workload's own values win; "
        "itemized fields merge by item label. A plain value, not {value: ...}.",
        flag="--template, --workload",
    )
    username: Value[String] | None = field(
        "Name of the user who owns the workload, for display only: it is kept and shown, never used to decide "
        "who may do what.", default="set by the CLI",
    )
    userId: Value[String] | None = field(
        "Identity (the token subject) of the user who owns the workload, kept as given. Berth decides access "
        "by the user who sends each request, not by this field.",
        default="set by the CLI",
    )
    nodePool: Value[String] | None = field(
        "Deprecated: one node pool to run in; use nodePools. Used only when nodePools is not given.",
        default="none",
    )
    nodePools: Value[String] | None = field(
        "Node pools the workload may run in, in order of preference, separated by spaces (\"a100 v100\"). "
        "The scheduler tries each in turn.",
        default="the project's defaultNodePools, else the pool default", flag="--node-pools",
    )
    podAffinity: Value[Boolean] | None = field(
        "true places the workload's pods near each other, on nodes sharing the podAffinityTopology label.",
        default="false", flag="--preferred-pod-topology-key / --required-pod-topology-key",
    )
    podAffinitySchedulingRule: Value[AffinityRule] | None = field(
        "Required (or hard) makes co-location a hard rule; Preferred (or soft) a wish; stored as Required or "
        "Preferred. Used only with podAffinity.",
        default="Preferred", flag="--required-pod-topology-key (Required) / --preferred-pod-topology-key",
    )
    podAffinityTopology: Value[String] | None = field(
        "Node label key whose value defines 'near' (e.g. topology.kubernetes.io/zone). Used only with "
        "podAffinity.", flag="--preferred-pod-topology-key KEY / --required-pod-topology-key KEY",
    )
    serviceType: Value[it.ServiceType] | None = field(
        "How ports are exposed unless an item says otherwise: ClusterIP, NodePort, LoadBalancer or Ingress. The "
        "CLI's spellings clusterip, nodeport, loadbalancer, ingress and portforward (a ClusterIP Service, "
        "reached with kubectl port-forward) are taken and stored as the value they stand for.",
        default="ClusterIP", flag="--service-type, -s",
    )
    exposedUrls: Items[it.ExposedUrlItem] | None = field("URLs through which container ports are reached.")
    ingressUrl: Value[String] | None = field("Set by the system; internal use.", default="none")

    @model_validator(mode="after")
    def _identity(self) -> "WorkloadFields":
        if self.name is not None and self.namePrefix is not None:
            raise field_error("namePrefix", "give name or namePrefix, not both")
        if self.usage == "Template" and self.baseWorkload is not None:
            raise field_error("baseWorkload", "a Template cannot set baseWorkload; only usage: Submit workloads inherit",
                              self.baseWorkload)
        return self


class LegacyMpiFields(Model):
    """The pre-distributed MPI path of Interactive and Training workloads (runai submit-mpi)."""

    mpi: Value[Boolean] | None = field(
        "true runs the workload as an MPI job (launcher plus workers); prefer DistributedWorkload.",
        default="false", flag="submit-mpi",
    )
    processes: Value[PositiveCount] | None = field(
        "Number of MPI worker processes when mpi is true.", default="1", flag="submit-mpi --processes",
    )
    slotsPerWorker: Value[PositiveCount] | None = field(
        "MPI slots per worker when mpi is true.", default="1", flag="submit-mpi --slots-per-worker",
    )


def _gpu_devices() -> Any:
    return field(
        "Whole GPUs per pod, as a device count; an alternative to gpu for clusters of Run:ai 2.18. With "
        "gpuMemory, or with a fraction in gpu, the number of GPUs that each give the pod that share "
        "(gpuDevices 2 with gpu 0.5: half of each of two GPUs of one node).",
        unit="GPUs", default="none",
    )


def _check_gpu_devices(spec: Any) -> None:
    fraction = spec.gpu is not None and 0 < gpu_amount(spec.gpu.value) < 1
    if spec.gpuDevices is not None and ((spec.gpu is not None and not fraction) or spec.migProfile is not None):
        raise field_error("gpuDevices", "gpuDevices and {other} both ask for whole GPUs; give only one of them "
                          "(with gpuDevices, gpu may be a fraction: that share of each device)",
                          other="gpu" if spec.gpu is not None else "migProfile")


_ACTIVE = ("false suspends the workload (phase Stopped) and frees its resources; true resumes it.", "true")


class PreemptionFields(Model):
    """What happens to a workload the scheduler preempts (its pods taken for another workload)."""

    preemptionLimit: Value[PositiveCount] | None = field(
        "How many times the workload may be preempted: once it has been preempted this many times "
        "(status.preemptions), it ends as Failed (reason PreemptionLimitReached) instead of going back to the "
        "queue.", default="no limit",
    )
    terminateAfterPreemption: Value[Boolean] | None = field(
        "true ends a preempted workload (Failed, reason Preempted) instead of putting it back in the queue "
        "(Pending).", default="false",
    )


_AUTO_DELETE = (
    "Deletes the workload this many seconds after it completes or fails; 0 deletes it at once.",
    "seconds",
    "never",
)


class InteractiveSpec(WorkloadFields, LegacyMpiFields, PreemptionFields):
    """An interactive workload (a notebook, a shell): one pod that runs until stopped."""

    active: Value[Boolean] | None = field(_ACTIVE[0], default=_ACTIVE[1])
    jupyter: Value[Boolean] | None = field(
        "true runs a Jupyter notebook server (default image, command and port) and exposes it.",
        default="false", flag="--jupyter",
    )
    notebookToken: Value[String] | None = field(
        "Token that opens the Jupyter notebook.", default="generated", flag="--notebook-token",
    )
    tensorboard: Value[Boolean] | None = field(
        "true also runs TensorBoard beside the workload.", default="false", flag="--tensorboard",
    )
    tensorboardLogdir: Value[String] | None = field(
        "Directory TensorBoard reads its logs from.", default="/tmp/tensorboard", flag="--tensorboard-logdir",
    )
    preemptible: Value[Boolean] | None = field(
        "true makes the workload preemptible: it may use GPUs beyond the project's quota, and the scheduler "
        "may stop it to give them back. A non-preemptible interactive workload stays within quota and is "
        "never preempted.",
        default="false", flag="--preemptible",
    )


class TrainingSpec(WorkloadFields, LegacyMpiFields, PreemptionFields):
    """A training workload: pods that run to completion, preemptible by design."""

    active: Value[Boolean] | None = field(_ACTIVE[0], default=_ACTIVE[1])
    gpuDevices: Value[Count] | None = _gpu_devices()
    backoffLimit: Value[Count] | None = field(
        "How many times a failed pod is retried before the workload is Failed.", default="6",
        flag="--backoff-limit",
    )
    completions: Value[PositiveCount] | None = field(
        "Successful pods needed for the workload to complete (hyper-parameter search runs many).",
        default="1", flag="--completions",
    )
    parallelism: Value[PositiveCount] | None = field(
        "Most pods running at once; no greater than completions.", default="1", flag="--parallelism",
    )
    ttlAfterFinish: Value[Duration] | None = field(
        "Older form of autoDeletionTimeAfterCompletionSeconds: delete the workload this long after it ends "
        "(\"1h\").", default="never", flag="--ttl-after-finish",
    )
    autoDeletionTimeAfterCompletionSeconds: Value[Count] | None = field(
        _AUTO_DELETE[0], unit=_AUTO_DELETE[1], default=_AUTO_DELETE[2],
        flag="--auto-deletion-time-after-completion",
    )

    @model_validator(mode="after")
    def _parallelism(self) -> "TrainingSpec":
        _check_gpu_devices(self)
        if self.parallelism is not None and self.completions is not None:
            if self.parallelism.value > self.completions.value:
                raise field_error("parallelism.value", "must be no greater than completions ({c})",
                                  self.parallelism.value, c=self.completions.value)
        return self


class RunPolicy(Model):
    """Settings shared by distributed jobs, as in Kubeflow's RunPolicy."""

    cleanPodPolicy: Value[CleanPodPolicy] | None = field(
        "Which pods are deleted when the job ends: Running (those still running), All, or None (every pod "
        "is kept with its logs; pods still running end by themselves).",
        default="None, as in Kubeflow", flag="submit-dist --clean-pod-policy",
    )
    backoffLimit: Value[Count] | None = field(
        "How many times the whole job is restarted after a pod fails before it is Failed.", default="6",
    )


class MpiJobFields(Model):
    """MPI-specific settings of a DistributedWorkload with jobType MPIJob."""

    mpiImplementation: Value[enum("OpenMPI", "Intel", "MPICH")] | None = field(
        "The MPI implementation of the image, which decides how the launcher starts workers.", default="OpenMPI",
    )


class PyTorchJobFields(Model):
    """PyTorch-specific settings of a DistributedWorkload with jobType PyTorchJob."""

    nprocPerNode: Value[PositiveCount] | None = field(
        "Processes torchrun starts in each pod (PET_NPROC_PER_NODE).", default="the pod's number of GPUs, or 1",
    )
    maxRestarts: Value[Count] | None = field(
        "How many times torchrun restarts the worker group of an elastic job (PET_MAX_RESTARTS).", default="3",
    )


class _DistributedFields(WorkloadFields, PreemptionFields):
    """The fields of a distributed workload's spec, which its master's spec shares."""

    active: Value[Boolean] | None = field(_ACTIVE[0], default=_ACTIVE[1])
    jobType: JobType | None = field(
        "The framework: PyTorchJob, TFJob, MPIJob or XGBoostJob. A plain value, not {value: ...}.",
        flag="submit-dist pytorch|tf|mpi|xgboost", required=False,
    )
    workers: Value[Count] | None = field(
        "Number of worker pods, not counting the master or launcher (pods = workers + 1). Older clusters "
        "call it replicas; both names are accepted.",
        default="1", flag="submit-dist --workers", aliases=("workers", "replicas"),
    )
    slotsPerWorker: Value[PositiveCount] | None = field(
        "MPI slots (processes) per worker; MPIJob only.", default="1", flag="submit-dist mpi --slots-per-worker",
    )
    minReplicas: Value[PositiveCount] | None = field(
        "Fewest workers an elastic PyTorchJob runs with.", default="workers",
        flag="submit-dist pytorch --min-replicas",
    )
    maxReplicas: Value[PositiveCount] | None = field(
        "Most workers an elastic PyTorchJob grows to.", default="workers", flag="submit-dist pytorch --max-replicas",
    )
    nonPreemptible: Value[Boolean] | None = field(
        "true makes the job non-preemptible: it runs only within the project's quota and is never preempted.",
        default="false", flag="submit-dist --non-preemptible",
    )
    gpuDevices: Value[Count] | None = _gpu_devices()
    runPolicy: RunPolicy | None = Field(None, description="Settings shared by distributed jobs (clean-up, restarts).")
    mpiJob: MpiJobFields | None = Field(None, description="MPI-specific settings; jobType MPIJob only.")
    pyTorchJob: PyTorchJobFields | None = Field(None, description="PyTorch-specific settings; jobType PyTorchJob only.")
    ttlAfterFinish: Value[Duration] | None = field(
        "Older form of autoDeletionTimeAfterCompletionSeconds (\"1h\").", default="never",
        flag="submit-dist mpi --ttl-after-finish",
    )
    autoDeletionTimeAfterCompletionSeconds: Value[Count] | None = field(
        _AUTO_DELETE[0], unit=_AUTO_DELETE[1], default=_AUTO_DELETE[2],
    )

    @model_validator(mode="after")
    def _framework(self) -> "_DistributedFields":
        _check_gpu_devices(self)
        job = self.jobType
        wrong = []
        if job != "MPIJob":
            wrong += [n for n in ("slotsPerWorker", "mpiJob") if getattr(self, n) is not None]
        if job != "PyTorchJob":
            wrong += [n for n in ("minReplicas", "maxReplicas", "pyTorchJob") if getattr(self, n) is not None]
        if wrong and job is not None:
            raise field_error(wrong[0], "{fields} do not apply to jobType {job}", fields=", ".join(wrong), job=job)
        if self.minReplicas is not None and self.maxReplicas is not None:
            if self.minReplicas.value > self.maxReplicas.value:
                raise field_error("minReplicas.value", "must be no greater than maxReplicas ({hi})",
                                  self.minReplicas.value, hi=self.maxReplicas.value)
        return self


class MasterSpec(_DistributedFields):
    """The master (PyTorch, XGBoost), chief (TF) or launcher (MPI) pod, when it differs from the workers.

    Run:ai writes it at the top level of the object, beside spec, with the schema of a workload spec (as
    NVIDIA's knavigator submits it to Run:ai 2.18, and as the REST API's masterSpec). What one pod runs
    and needs (image, command, cpu, memory, gpu or gpuDevices, environment, volumes...) applies to the
    master; a field left out is taken from spec. Fields that describe the whole job (its name, usage,
    jobType, workers, node pools...) are spec's: here they may be left out or repeat spec's value.
    """


#: Fields of a masterSpec that describe the whole job, not the master pod: spec's value holds, and a
#: masterSpec that gives another is refused (the pods of one gang share a name, a pool, a life).
MASTER_JOB_FIELDS = (
    "name", "namePrefix", "usage", "baseWorkload", "username", "userId", "active", "jobType", "workers",
    "slotsPerWorker", "minReplicas", "maxReplicas", "nonPreemptible", "runPolicy", "mpiJob", "pyTorchJob",
    "ttlAfterFinish", "autoDeletionTimeAfterCompletionSeconds", "nodePool", "nodePools", "podAffinity",
    "podAffinitySchedulingRule", "podAffinityTopology", "preemptionLimit", "terminateAfterPreemption",
)


#: What spec's job-wide fields are when left out, so that a masterSpec may repeat the default.
_JOB_DEFAULTS: dict[str, Any] = {"usage": "Submit", "active": {"value": True}, "workers": {"value": 1}}


class DistributedSpec(_DistributedFields):
    """A distributed training workload: a master (or launcher) and workers that start together (a gang)."""

    masterSpec: MasterSpec | None = Field(
        None,
        description=(
            "Deprecated placement of the top-level masterSpec (Run:ai writes masterSpec beside spec, not "
            "inside it); still read, but give masterSpec in one place only."
        ),
    )


class InferenceSpec(WorkloadFields):
    """An inference workload: replicas of a server behind a Service, scaled on a metric."""

    minScale: Value[Count] | None = field(
        "Fewest replicas; 0 lets the server scale to zero when idle (throughput and concurrency metrics).",
        default="1",
    )
    maxScale: Value[PositiveCount] | None = field("Most replicas.", default="minScale")
    metric: Value[Metric] | None = field(
        "What scaling follows: cpu-utilization, latency, throughput, concurrency, gpu-utilization or custom.",
        default="none (a fixed minScale replicas)",
    )
    metricName: Value[String] | None = field(
        "Exact name of the metric to scale on; overrides metric (use with metric custom).",
    )
    target: Value[Number] | None = field(
        "Value of the metric each replica should carry; more load adds replicas.",
        unit="the metric's unit (percent, milliseconds, requests per second, or requests)",
    )
    class_: Value[String] | None = field(
        "Autoscaler class (as in Knative), e.g. kpa.autoscaling.knative.dev.", default="the cluster's default",
        aliases=("class",),
    )
    isPrivateServiceUrl: Value[Boolean] | None = field(
        "true keeps the service URL inside the cluster.", default="false",
    )

    @model_validator(mode="after")
    def _scale(self) -> "InferenceSpec":
        if self.minScale is not None and self.maxScale is not None:
            if self.minScale.value > self.maxScale.value:
                raise field_error("minScale.value", "must be no greater than maxScale ({hi})", self.minScale.value,
                                  hi=self.maxScale.value)
        return self


class WorkloadStatus(Model):
    """What the system observed about a workload; written by Berth's controllers, never by users."""

    phase: Phase | None = field(
        "Where the workload is in its life: Creating, Pending, Initializing, Running, Degraded, Stopped, "
        "Completed, Failed, Deleting; Template for a workload of usage Template, which never runs (see "
        "docs/api.md for every phase).", yaml_only=False,
    )
    message: String | None = field(
        "Plain words on the phase; for a Pending workload, why it waits.", yaml_only=False,
    )
    reason: String | None = field("A CamelCase word for the phase's cause, e.g. NotEnoughGPUs.", yaml_only=False)
    conditions: list[Condition] | None = field("Observations: Scheduled, Running, Completed, ...", yaml_only=False)
    observedGeneration: Integer | None = field(
        "The metadata.generation this status was computed from.", yaml_only=False
    )
    runningPods: Count | None = field("Pods running now.", unit="pods", yaml_only=False)
    pendingPods: Count | None = field("Pods waiting to be scheduled or started.", unit="pods", yaml_only=False)
    succeededPods: Count | None = field("Pods that ended successfully.", unit="pods", yaml_only=False)
    failedPods: Count | None = field("Pods that failed.", unit="pods", yaml_only=False)
    gpuRequest: String | None = field(
        "What the whole workload asks of GPUs, as the GPU column shows it: all the pods it runs at once "
        "(every worker and the master; an inference workload's replicas now), GPUs and fractions added up "
        '("4", "1.5"), GPU memory and MIG slices named ("2 x 4G").', yaml_only=False)
    requestedGpus: Number | None = field("GPUs asked for by all pods together.", unit="GPUs", yaml_only=False)
    allocatedGpus: Number | None = field("GPUs held by the running pods now.", unit="GPUs", yaml_only=False)
    nodes: list[String] | None = field("Nodes the pods run on.", yaml_only=False)
    serviceUrls: list[String] | None = field("URLs of the workload's exposed ports.", yaml_only=False)
    replicas: Count | None = field("Replicas an inference workload runs now, as its autoscaler decided.",
                                   unit="pods", yaml_only=False)
    readyReplicas: Count | None = field("Replicas of an inference workload that are running.", unit="pods",
                                        yaml_only=False)
    lastActiveTime: Timestamp | None = field(
        "When an inference workload last had requests in flight (for scale to zero).", yaml_only=False)
    completedIndexes: String | None = field(
        'Indexes of a training workload whose pods succeeded, as Kubernetes Jobs write them ("0,2-4"): kept '
        "when those pods are deleted, so that none runs again.", yaml_only=False)
    failedAttempts: Count | None = field("Pods of a training workload that failed (retries count against "
                                         "backoffLimit).", unit="pods", yaml_only=False)
    interruptions: Count | None = field(
        "How many times the workload's pods were taken away from it: preempted, reclaimed by another project, "
        "or lost with their node (each pod counted once).", yaml_only=False)
    preemptions: Count | None = field(
        "How many of those interruptions were preemptions: the scheduler took the pods' resources for another "
        "workload (preempted or reclaimed). terminateAfterPreemption and preemptionLimit count these.",
        yaml_only=False)
    lastInterruption: String | None = field(
        "The latest interruption in plain words: which pod, on which node, who took its GPUs and why.",
        yaml_only=False)
    startTime: Timestamp | None = field("When the first pod started running.", yaml_only=False)
    completionTime: Timestamp | None = field("When the workload completed or failed.", yaml_only=False)


class _Workload(Model):
    apiVersion: String = Field(..., description="run.ai/v2alpha1")
    kind: String = Field(..., description="The workload's kind.")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    status: WorkloadStatus | None = Field(None, description="What the system observed; read-only.")


class InteractiveWorkload(_Workload):
    """An interactive workload: a notebook or shell that runs until stopped, never ended by the system except
    by the project's time limit. It is not preempted unless submitted as preemptible."""

    spec: InteractiveSpec = Field(..., description="What to run and how. Each scalar field is {value: ...}.")


class TrainingWorkload(_Workload):
    """A training workload: pods that run to completion. Training is preemptible: it may use idle GPUs beyond
    its project's quota and give them back when another project claims its quota."""

    spec: TrainingSpec = Field(..., description="What to run and how. Each scalar field is {value: ...}.")


class DistributedWorkload(_Workload):
    """A distributed training workload (PyTorch, TensorFlow, MPI or XGBoost): a master or launcher and
    workers, scheduled as a gang (all pods start together or none does)."""

    spec: DistributedSpec = Field(..., description="What to run and how. Each scalar field is {value: ...}.")
    masterSpec: MasterSpec | None = Field(
        None,
        description=(
            "The master (or MPI launcher) pod when it differs from the workers, e.g. its own image, cpu, memory "
            "or no GPUs. Beside spec, not inside it, as Run:ai writes it; same schema as spec. Fields left out "
            "are taken from spec; fields of the whole job (name, usage, jobType, workers, nodePools...) may "
            "only repeat spec's value."
        ),
    )

    @model_validator(mode="after")
    def _master(self) -> "DistributedWorkload":
        if self.masterSpec is None:
            return self
        if self.spec.masterSpec is not None:
            raise field_error("spec.masterSpec", "masterSpec is given twice, at the top level and in spec; keep "
                              "only the top-level masterSpec (beside spec, as Run:ai writes it)")
        master, spec = self.masterSpec.to_dict(), {**_JOB_DEFAULTS, **self.spec.to_dict()}
        for key in MASTER_JOB_FIELDS:
            if key in master and master[key] != spec.get(key):
                raise field_error(f"masterSpec.{key}", "describes the whole job, not the master pod: leave it out "
                                  "of masterSpec or give the same value as spec.{key}", master[key], key=key)
        return self


class InferenceWorkload(_Workload):
    """An inference workload: server replicas behind a Service, scaled between minScale and maxScale on a
    metric. Inference runs within its project's quota and is not preempted."""

    spec: InferenceSpec = Field(..., description="What to run and how. Each scalar field is {value: ...}.")


WORKLOAD_SPECS: dict[str, type[WorkloadFields]] = {
    "InteractiveWorkload": InteractiveSpec,
    "TrainingWorkload": TrainingSpec,
    "DistributedWorkload": DistributedSpec,
    "InferenceWorkload": InferenceSpec,
}
