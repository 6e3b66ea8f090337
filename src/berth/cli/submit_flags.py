"""The one mapping from submit flags to `run.ai/v2alpha1` fields, for both of Run:ai's CLI generations.

`FLAGS` is a table: each row names a flag as CLI v1 spells it (`runai submit --gpu`) and as CLI v2 spells it
(`runai training submit --gpu-devices-request`), the parser of its text (`berth.cli.submit_parse`), the
field it sets (a path from the object's root, `spec.gpu`), and how the value sits there: `{value: ...}`, a
plain value (`baseWorkload`), an item of an itemized field, or a placement of its own (`--required-pod-
topology-key` sets three fields). A flag's help is its field's description in `berth.api` unless the row
says otherwise, so the CLI never describes a field twice. Which workload kinds take a flag follows from the
models too: a row applies to a kind whose model has its field.

A row with `ignored` is a flag Run:ai has that Berth takes but cannot honour (`--mps`); `build` returns a
warning for it instead of dropping it silently. The click commands (`berth.cli.submit`) are generated from
this table; `build` is pure, so the whole mapping is tested without a cluster. Where each value goes in
the object (and the placements of flags that set several fields) is `berth.cli.submit_place`'s.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from berth.api.base import strip_optional
from berth.api.workloads import DistributedWorkload, InferenceWorkload, InteractiveWorkload, TrainingWorkload
from berth.cli import submit_parse as p
from berth.cli import submit_place as pl

Generation = Literal["v1", "v2"]
Shape = Literal["value", "plain", "item", "place", "none"]

MODELS: dict[str, type[BaseModel]] = {
    "InteractiveWorkload": InteractiveWorkload, "TrainingWorkload": TrainingWorkload,
    "DistributedWorkload": DistributedWorkload, "InferenceWorkload": InferenceWorkload,
}
JOB_TYPES = {"PyTorch": "PyTorchJob", "TF": "TFJob", "MPI": "MPIJob", "XGBoost": "XGBoostJob"}


class FlagUsageError(ValueError):
    """A flag's value or use is wrong; `flag` is the option as the user's CLI generation spells it."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag
        self.message = message


@dataclass(frozen=True)
class Flag:
    """One row of the mapping. `key` names the click parameter; `targets` are field paths from the object's
    root, the first one the kind's model has being set (`--backoff-limit` is spec.backoffLimit for a
    training and spec.runPolicy.backoffLimit for a distributed workload)."""

    key: str
    targets: tuple[str, ...]
    v1: tuple[str, ...] = ()
    v2: tuple[str, ...] = ()
    parse: p.Parser | None = None  # None: a switch, which takes no value
    shape: Shape = "value"
    constant: Any = True  # what a switch sets
    multiple: bool = False  # repeatable (Run:ai's stringArray)
    split: Callable[[tuple[str, ...]], list[str]] | None = None  # comma-separated forms of a stringArray
    label: Callable[[Any, int], tuple[str, Any]] | None = None  # item: (label, member value) from parsed, n
    place: pl.Place | None = None  # shape "place"
    metavar: str = ""
    help: str = ""  # instead of the field's description
    kinds: frozenset[str] | None = None  # instead of the kinds whose models have the field
    frameworks: frozenset[str] | None = None  # distributed: only these jobType frameworks
    ignored: str = ""  # accepted but not honoured: why

    def names(self, generation: Generation) -> tuple[str, ...]:
        return self.v1 if generation == "v1" else self.v2

    def shown(self, generation: Generation) -> str:
        """The flag as the user's generation spells it (its long name)."""
        names = self.names(generation) or self.v1 or self.v2
        return next((n for n in names if n.startswith("--")), names[0])

    def target(self, kind: str) -> str | None:
        """The field this row sets in `kind`, or None when the kind has none of its targets."""
        return next((t for t in self.targets if field_info(kind, t) is not None), None)

    def applies(self, kind: str, framework: str | None = None) -> bool:
        if self.frameworks is not None and framework not in self.frameworks:
            return False
        if self.kinds is not None:
            return kind in self.kinds
        return not self.targets or self.target(kind) is not None


# ---------------------------------------------------------------------------------------------------------
# The field a path names, and its description: berth.api is the one source of both
# ---------------------------------------------------------------------------------------------------------


def field_info(kind: str, path: str) -> FieldInfo | None:
    """The model field at `path` (dotted, from the object's root) of a workload kind, or None."""
    model: Any = MODELS[kind]
    info: FieldInfo | None = None
    for part in path.split("."):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        fields = model.model_fields
        info = fields.get(part) or next((f for f in fields.values() if f.serialization_alias == part), None)
        if info is None:
            return None
        model = strip_optional(info.annotation)
    return info


def description(kind: str, path: str) -> str:
    """A field's description for a flag's help, from `berth.api`: its first sentence and its default (the
    rest is for `berth explain`; the note naming the `runai submit` flag is left out, the help being that
    flag's)."""
    info = field_info(kind, path)
    sentences = re.split(r"(?<=\.) (?=[A-Z])", (info.description or "") if info else "")
    kept = sentences[:1] + [s for s in sentences[1:] if s.startswith("Default:")]
    return " ".join(kept).strip()


def help_text(flag: Flag, kinds: tuple[str, ...]) -> str:
    text = flag.help
    if not text:
        text = next((description(k, t) for k in kinds for t in flag.targets if field_info(k, t)), "")
    if flag.ignored:
        text = f"Accepted, not honoured by Berth: {flag.ignored}"
    if flag.multiple:
        text += " Repeatable."
    return text


# ---------------------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------------------

_D = frozenset({"DistributedWorkload"})
_F = frozenset({"InferenceWorkload"})
_ALL = frozenset(MODELS)


def _value(key: str, target: str, v1: tuple[str, ...], v2: tuple[str, ...], parse: p.Parser = p.text,
           **kw: Any) -> Flag:
    return Flag(key, (target,), v1, v2, parse, "value", **kw)


def _switch(key: str, target: str, v1: tuple[str, ...], v2: tuple[str, ...], **kw: Any) -> Flag:
    return Flag(key, (target,), v1, v2, None, "value", **kw)


def _item(key: str, target: str, v1: tuple[str, ...], v2: tuple[str, ...], parse: p.Parser,
          label: Callable[[Any, int], tuple[str, Any]], **kw: Any) -> Flag:
    return Flag(key, (target,), v1, v2, parse, "item", multiple=True, label=label, **kw)


def _placed(key: str, targets: tuple[str, ...], v1: tuple[str, ...], v2: tuple[str, ...], parse: p.Parser | None,
            place: pl.Place, **kw: Any) -> Flag:
    return Flag(key, targets, v1, v2, parse, "place", place=place, **kw)


def _ignored(key: str, v1: tuple[str, ...], v2: tuple[str, ...], why: str, takes_value: bool = True,
             kinds: frozenset[str] = _ALL, **kw: Any) -> Flag:
    return Flag(key, (), v1, v2, p.text if takes_value else None, "none", ignored=why, kinds=kinds, **kw)


def _master(flag: Flag, key: str, name: str) -> Flag:
    """The `--master-*` twin of a CLI v2 flag: the same mapping into masterSpec."""
    return Flag(key, tuple(t.replace("spec.", "masterSpec.", 1) for t in flag.targets), (), (name,), flag.parse,
                flag.shape, flag.constant, flag.multiple, flag.split, flag.label, flag.place, flag.metavar,
                flag.help, _D, None, "")


_ENV = _item("environment", "spec.environment", ("-e", "--environment"), ("-e", "--environment"),
             p.pair("NAME"), pl.keyed, split=p.split_pairs, metavar="NAME=VALUE")
_EXTENDED = _item("extended_resource", "spec.extendedResources", ("--extended-resource",), ("--extended-resource",),
                  p.extended_resource, pl.by_resource, metavar="RESOURCE=QUANTITY")
_DEVICES = _placed("gpu_devices", ("spec.gpu", "spec.gpuDevices"), (), ("-g", "--gpu-devices-request"), p.integer(0), pl.devices,
                   metavar="N", help="Whole GPUs for each pod (with a portion or memory request: the number of "
                   "GPUs that each give that share).")
_PORTION = _placed("gpu_portion", ("spec.gpu", "spec.gpuDevices"), (), ("--gpu-portion-request",), p.portion, pl.share,
                   metavar="FRACTION", help="A share of one GPU for each pod, between 0 and 1 (e.g. 0.5).")
_PORTION_LIMIT = _value("gpu_portion_limit", "spec.gpuLimit", (), ("--gpu-portion-limit",), p.portion,
                        metavar="FRACTION")

FLAGS: tuple[Flag, ...] = (
    # identity
    _value("name_prefix", "spec.namePrefix", ("--job-name-prefix",), ("--name-prefix",), metavar="PREFIX"),
    Flag("template", ("spec.baseWorkload",), ("--template", "--workload"), (), p.text, "plain", metavar="NAME"),
    # what runs
    _value("image", "spec.image", ("-i", "--image"), ("-i", "--image"), metavar="IMAGE"),
    _value("image_pull_policy", "spec.imagePullPolicy", ("--image-pull-policy",), ("--image-pull-policy",),
           p.choice("Always", "IfNotPresent", "Never"), metavar="Always|IfNotPresent|Never"),
    _switch("local_image", "spec.imagePullPolicy", ("--local-image",), (), constant="Never",
            help="Older spelling of --image-pull-policy Never (the image is on the node)."),
    _switch("always_pull_image", "spec.imagePullPolicy", ("--always-pull-image",), (), constant="Always",
            help="Older spelling of --image-pull-policy Always."),
    _placed("args", ("spec.arguments",), ("--args",), (), p.text, pl.arguments, multiple=True, metavar="ARG",
            help="Older form of the arguments after `--`: appended to them."),
    _value("working_dir", "spec.workingDir", ("--working-dir",), ("--working-dir",), metavar="DIR"),
    _ENV,
    _item("label", "spec.labels", ("-l", "--label"), ("--label",), p.pair("KEY"), pl.keyed, split=p.split_pairs,
          metavar="KEY=VALUE"),
    _item("annotation", "spec.annotations", ("-a", "--annotation"), ("--annotation",), p.pair("KEY"), pl.keyed,
          split=p.split_pairs, metavar="KEY=VALUE"),
    # resources
    _value("cpu", "spec.cpu", ("--cpu",), ("--cpu-core-request",), p.quantity, metavar="CORES"),
    _value("cpu_limit", "spec.cpuLimit", ("--cpu-limit",), ("--cpu-core-limit",), p.quantity, metavar="CORES"),
    _value("memory", "spec.memory", ("--memory",), ("--cpu-memory-request",), p.quantity, metavar="BYTES"),
    _value("memory_limit", "spec.memoryLimit", ("--memory-limit",), ("--cpu-memory-limit",), p.quantity,
           metavar="BYTES"),
    _value("gpu", "spec.gpu", ("-g", "--gpu"), (), p.gpu, metavar="GPUS"),
    _DEVICES,
    _PORTION,
    _value("gpu_limit", "spec.gpuLimit", ("--gpu-limit",), (), p.gpu, metavar="GPUS"),
    _PORTION_LIMIT,
    _placed("gpu_memory", ("spec.gpuMemory", "spec.gpuDevices"), ("--gpu-memory",), ("--gpu-memory-request",), p.quantity, pl.share,
            metavar="BYTES"),
    _ignored("gpu_memory_limit", (), ("--gpu-memory-limit",), "Run:ai's v2alpha1 objects have no GPU memory "
             "limit field; the request is what the pod gets"),
    _ignored("gpu_request_type", (), ("--gpu-request-type",), "the request type follows from "
             "--gpu-portion-request, --gpu-memory-request or --mig-profile"),
    _value("mig_profile", "spec.migProfile", ("--mig-profile",), ("--mig-profile",), metavar="PROFILE"),
    _EXTENDED,
    _switch("large_shm", "spec.largeShm", ("--large-shm",), ("--large-shm",)),
    _ignored("mps", ("--mps",), (), "Berth shares GPUs by fraction or memory, without NVIDIA MPS",
             takes_value=False),
    # storage
    _item("pvc", "spec.pvcs", ("--pvc",), (), p.legacy_pvc, pl.numbered("pvc--"), metavar="CLAIM:PATH[:ro]",
          help="Older form of --existing-pvc and --pvc-new: CLAIM:PATH[:ro] or [STORAGE_CLASS]:SIZE:PATH[:ro]."),
    _item("existing_pvc", "spec.pvcs", ("--existing-pvc", "--pvc-exists"), ("--existing-pvc",), p.EXISTING_PVC,
          pl.numbered("pvc--"), metavar="claimname=CLAIM,path=PATH[,ro]"),
    _item("new_pvc", "spec.pvcs", ("--pvc-new", "--new-pvc"), ("--new-pvc",), p.NEW_PVC, pl.numbered("pvc--"),
          metavar="size=SIZE,path=PATH[,...]"),
    _item("volume", "spec.volumes", ("-v", "--volume"), (), p.volume, pl.numbered("volume-"),
          metavar="SOURCE:TARGET[:ro][:NFS_HOST]"),
    Flag("host_path", ("spec.volumes",), (), ("--host-path",), p.HOST_PATH, "place", multiple=True, place=pl.host_path,
         metavar="path=PATH,mount=MOUNT[,...]", help="A host directory mounted into the container (read-only "
         "unless readwrite); mount-propagation=HostToContainer sets mountPropagation."),
    _item("nfs", "spec.volumes", (), ("--nfs",), p.NFS, pl.numbered("volume-"),
          metavar="path=EXPORT,server=HOST,mountpath=PATH[,readwrite]",
          help="An NFS export mounted into the container (read-only unless readwrite)."),
    _placed("nfs_server", ("spec.volumes",), ("--nfs-server",), (), p.text, pl.nfs_server, metavar="HOST",
            help="The NFS server of every --volume that names none."),
    _switch("mount_propagation", "spec.mountPropagation", ("--mount-propagation",), ()),
    _item("configmap_volume", "spec.configMapVolumes", ("--configmap-volume",),
          ("--configmap-map-volume", "--configmap-volume"), p.CONFIGMAP_VOLUME, pl.numbered("configmap-"),
          metavar="name=CONFIGMAP,path=PATH"),
    _item("secret_volume", "spec.secretVolumes", (), ("--secret-volume",), p.SECRET_VOLUME, pl.numbered("secret-"),
          metavar="name=SECRET,path=PATH"),
    _item("git_sync", "spec.gitSync", ("--git-sync",), ("--git-sync",), p.GIT_SYNC,
          pl.named_or("git-", secret_member="password"), metavar="source=URL[,branch=...,rev=...,target=...]"),
    _item("s3", "spec.s3", ("--s3",), ("--s3",), p.S3, pl.named_or("s3-"), metavar="bucket=BUCKET,target=DIR[,...]"),
    # network
    _item("port", "spec.ports", ("--port",), ("--port",), p.port, pl.numbered("port-"), metavar="[EXTERNAL:]CONTAINER"),
    _value("service_type", "spec.serviceType", ("-s", "--service-type"), (),
           p.choice("ClusterIP", "NodePort", "LoadBalancer", "Ingress", spellings={"portforward": "ClusterIP"}),
           metavar="TYPE"),
    Flag("external_url", ("spec.exposedUrls",), (), ("--external-url",), p.EXTERNAL_URL, "place", multiple=True,
         place=pl.external_url, metavar="container=PORT[,url=URL][,authusers=U1:U2]"),
    _switch("host_ipc", "spec.hostIpc", ("--host-ipc",), ("--host-ipc",)),
    _switch("host_network", "spec.hostNetwork", ("--host-network",), ("--host-network",)),
    _ignored("address", ("--address",), (), "it chose the addresses of a port-forward, which Berth does not start "
             "at submit; run `berth port-forward NAME --port LOCAL:REMOTE --address ...`"),
    # user and privileges
    _switch("run_as_user", "spec.runAsUser", ("--run-as-user",), ("--run-as-user",)),
    _value("run_as_uid", "spec.runAsUid", ("--run-as-uid",), ("--run-as-uid",), p.integer(0), metavar="UID"),
    _value("run_as_gid", "spec.runAsGid", ("--run-as-gid",), ("--run-as-gid",), p.integer(0), metavar="GID"),
    _value("supplemental_groups", "spec.supplementalGroups", (), ("--supplemental-groups",), p.supplemental_groups,
           metavar="GID,GID"),
    _switch("create_home_dir", "spec.createHomeDir", ("--create-home-dir",), ("--create-home-dir",)),
    _switch("allow_privilege_escalation", "spec.allowPrivilegeEscalation", ("--allow-privilege-escalation",),
            ("--allow-privilege-escalation",)),
    _switch("prevent_privilege_escalation", "spec.allowPrivilegeEscalation", ("--prevent-privilege-escalation",),
            (), constant=False, help="Older form: sets allowPrivilegeEscalation to false."),
    _item("capability", "spec.capabilities", ("--add-capability",), ("--capability",), p.text, pl.by_value,
          split=p.split_words, metavar="CAPABILITY"),
    _switch("tty", "spec.tty", ("-t", "--tty"), ("-t", "--tty")),
    _switch("stdin", "spec.stdin", ("--stdin",), ("--stdin",)),
    _placed("attach", ("spec.tty", "spec.stdin"), ("--attach",), ("--attach",), None,
            pl.attach, help="Sets tty and stdin, as Run:ai's --attach does; "
            "Berth does not attach at submit: run `berth attach NAME` once it runs."),
    # placement
    _placed("node_pools", ("spec.nodePools",), ("--node-pools", "--node-pool"), ("--node-pools",), p.text, pl.node_pools,
            multiple=True, split=p.split_words, metavar="POOL"),
    _value("node_type", "spec.nodeType", ("--node-type",), ("--node-type",), metavar="TYPE"),
    _item("toleration", "spec.tolerations", ("--toleration",), ("--toleration",), p.TOLERATION,
          pl.numbered("toleration-"), metavar="operator=...,key=...[,...]"),
    _placed("preferred_topology", ("spec.podAffinityTopology",), ("--preferred-pod-topology-key",),
            ("--preferred-pod-topology-key",), p.text, pl.topology("Preferred"), metavar="KEY",
            help="Pods of the workload go, if possible, to nodes that share this label's value (podAffinity "
            "Preferred)."),
    _placed("required_topology", ("spec.podAffinityTopology",), ("--required-pod-topology-key",),
            ("--required-pod-topology-key",), p.text, pl.topology("Required"), metavar="KEY",
            help="Pods of the workload go only to nodes that share this label's value (podAffinity Required)."),
    # interactive
    _switch("preemptible", "spec.preemptible", ("--preemptible",), ("--preemptible",)),
    _switch("jupyter", "spec.jupyter", ("--jupyter",), ()),
    _value("notebook_token", "spec.notebookToken", ("--notebook-token",), (), metavar="TOKEN"),
    _switch("tensorboard", "spec.tensorboard", ("--tensorboard",), ()),
    _value("tensorboard_logdir", "spec.tensorboardLogdir", ("--tensorboard-logdir",), (), metavar="DIR"),
    # training
    _value("completions", "spec.completions", ("--completions",), ("--runs",), p.integer(1), metavar="N"),
    _value("parallelism", "spec.parallelism", ("--parallelism",), ("--parallelism",), p.integer(1), metavar="N"),
    Flag("backoff_limit", ("spec.backoffLimit", "spec.runPolicy.backoffLimit"), ("--backoff-limit", "--backoffLimit"),
         ("--backoff-limit",), p.integer(0), metavar="N"),
    _value("ttl_after_finish", "spec.ttlAfterFinish", ("--ttl-after-finish",), (), p.duration, metavar="DURATION"),
    _value("auto_deletion", "spec.autoDeletionTimeAfterCompletionSeconds", ("--auto-deletion-time-after-completion",),
           ("--auto-deletion-time-after-completion",), p.seconds, metavar="DURATION"),
    _ignored("elastic", ("--elastic",), (), "elastic jobs are distributed PyTorch jobs in Run:ai 2.x: use "
             "`berth submit-dist pytorch --min-replicas N --max-replicas M`", takes_value=False),
    # distributed
    _value("workers", "spec.workers", ("--workers",), ("--workers",), p.integer(0), metavar="N"),
    _value("clean_pod_policy", "spec.runPolicy.cleanPodPolicy", ("--clean-pod-policy",), ("--clean-pod-policy",),
           p.choice("Running", "All", "None"), metavar="Running|All|None"),
    _value("slots_per_worker", "spec.slotsPerWorker", ("--slots-per-worker",), ("--slots-per-worker",),
           p.integer(1), kinds=_D, frameworks=frozenset({"MPI"}), metavar="N"),
    _value("min_workers", "spec.minReplicas", ("--min-replicas",), ("--min-replicas",), p.integer(1), kinds=_D,
           frameworks=frozenset({"PyTorch"}), metavar="N"),
    _value("max_workers", "spec.maxReplicas", ("--max-replicas",), ("--max-replicas",), p.integer(1), kinds=_D,
           frameworks=frozenset({"PyTorch"}), metavar="N"),
    _switch("non_preemptible", "spec.nonPreemptible", ("--non-preemptible",), ("--non-preemptible",)),
    _value("master_command", "masterSpec.command", (), ("--master-command",), metavar="COMMAND", kinds=_D,
           help="The master's command instead of the workers' (a whole command line)."),
    _value("master_args", "masterSpec.arguments", (), ("--master-args",), metavar="ARGS", kinds=_D,
           help="The master's arguments instead of the workers'."),
    _master(_ENV, "master_environment", "--master-environment"),
    _master(_EXTENDED, "master_extended_resource", "--master-extended-resource"),
    _master(_DEVICES, "master_gpu_devices", "--master-gpu-devices-request"),
    _master(_PORTION, "master_gpu_portion", "--master-gpu-portion-request"),
    _master(_PORTION_LIMIT, "master_gpu_portion_limit", "--master-gpu-portion-limit"),
    _ignored("no_master", (), ("--no-master",), "Berth always runs the master (or launcher) as a pod of its own",
             takes_value=False, kinds=_D),
    _ignored("master_no_pvcs", (), ("--master-no-pvcs",), "the master mounts the workers' claims", takes_value=False,
             kinds=_D),
    # inference
    Flag("serving_port", ("spec.ports",), ("--serving-port",), ("--serving-port",), p.serving_port, "place",
         place=pl.serving_port, metavar="PORT|container=PORT[,...]", kinds=_F,
         help="The port the server listens on, exposed by the inference Service."),
    _value("min_scale", "spec.minScale", ("--min-replicas", "--min-scale"), ("--min-replicas", "--min-scale"),
           p.integer(0), kinds=_F, metavar="N"),
    _value("max_scale", "spec.maxScale", ("--max-replicas", "--max-scale"), ("--max-replicas", "--max-scale"),
           p.integer(1), kinds=_F, metavar="N"),
    _value("metric", "spec.metric", ("--metric",), ("--metric",),
           p.choice("cpu-utilization", "latency", "throughput", "concurrency", "gpu-utilization", "custom"),
           metavar="METRIC"),
    _value("metric_threshold", "spec.target", ("--metric-threshold",), ("--metric-threshold",), p.integer(0),
           metavar="N"),
    *(_ignored(name.strip("-").replace("-", "_"), (name,), (name,), why, kinds=_F) for name, why in (
        ("--activation-replicas", "Berth scales from zero to minScale, or 1"),
        ("--concurrency-hard-limit", "Berth's inference Service does not cap requests per replica"),
        ("--initial-replicas", "Berth starts minScale replicas, or 1"),
        ("--initialization-timeout-seconds", "Berth waits for a replica as long as it takes"),
        ("--metric-threshold-percentage", "the autoscaler scales on the threshold itself"),
        ("--scale-down-delay-seconds", "the autoscaler's delays are the cluster's"),
        ("--scale-to-zero-retention-seconds", "the autoscaler's delays are the cluster's"),
    )),
    _ignored("loglevel", ("--loglevel",), (), "Berth's commands say more with --verbose before the command "
             "(berth --verbose submit ...)"),
    # client side and pod settings Berth does not model
    *(_ignored(name.strip("-").replace("-", "_"), (), (name,), why) for name, why in (
        ("--termination-grace-period", "Berth's pods get the Kubernetes default of 30 seconds"),
        ("--seccomp-profile", "Berth's pods run with the runtime's default profile"),
        ("--user-group-source", "use --run-as-user, --run-as-uid and --run-as-gid"),
        ("--pod-running-timeout", "use --wait, which waits until the workload runs or ends"),
        ("--wait-for-submit", "the submit returns as soon as the API server stored the workload"),
    )),
)


def flags_for(generation: Generation, kinds: tuple[str, ...], framework: str | None = None) -> list[Flag]:
    """The rows a command of `generation` for `kinds` offers (v1 `submit` takes training and interactive)."""
    return [f for f in FLAGS if f.names(generation) and any(f.applies(k, framework) for k in kinds)]


# ---------------------------------------------------------------------------------------------------------
# Building the object
# ---------------------------------------------------------------------------------------------------------

DEFAULT_PREFIX = "job"


@dataclass
class Request:
    """What one submit command was given, before it becomes an object."""

    generation: Generation
    kind: str
    namespace: str
    name: str | None = None
    framework: str | None = None
    given: dict[str, Any] = field(default_factory=dict)  # flag key -> str, tuple of str, or True
    trailing: tuple[str, ...] = ()  # after `--`
    as_command: bool = False  # the trailing words are the command, not arguments
    username: str | None = None


def build(request: Request) -> tuple[dict[str, Any], list[str]]:
    """The workload `request` stands for, and the warnings the user must see. metadata.name is the NAME,
    or left empty when only a prefix is known (the command picks it). Raises `FlagUsageError`."""
    kind, generation = request.kind, request.generation
    obj: dict[str, Any] = {"apiVersion": "run.ai/v2alpha1", "kind": kind,
                           "metadata": {"name": request.name, "namespace": request.namespace}, "spec": {}}
    placing = pl.Placing(obj)
    if request.name:
        pl.set_value(placing, "spec.name", request.name)
    if request.framework:
        placing.spec["jobType"] = JOB_TYPES[request.framework]
    if request.username:
        pl.set_value(placing, "spec.username", request.username)
    if request.trailing:
        pl.set_value(placing, "spec.command" if request.as_command else "spec.arguments", shlex.join(request.trailing))
    elif request.as_command:
        raise FlagUsageError("--command", "give the command after `--`, e.g. --command -- python train.py")
    for flag in FLAGS:
        raw = request.given.get(flag.key)
        if raw is None or raw is False or raw == ():
            continue
        _apply(flag, raw, placing, request)
    if request.name and placing.spec.get("namePrefix"):
        raise FlagUsageError(FLAGS[0].shown(generation), "give NAME or a name prefix, not both")
    if not request.name and not placing.spec.get("namePrefix"):
        pl.set_value(placing, "spec.namePrefix", DEFAULT_PREFIX)
    return obj, placing.warnings


def _apply(flag: Flag, raw: Any, placing: pl.Placing, request: Request) -> None:
    shown = flag.shown(request.generation)
    if not flag.applies(request.kind, request.framework):
        raise FlagUsageError(shown, f"does not apply to {_what(request)}" + _where(flag, request))
    if flag.ignored:
        placing.warnings.append(f"{shown}: accepted but not honoured by Berth: {flag.ignored}")
        return
    texts: list[Any] = list(raw) if isinstance(raw, tuple) else [raw]
    if flag.split is not None:
        texts = flag.split(tuple(texts))
    target = flag.target(request.kind) or (flag.targets[0] if flag.targets else "")
    for text in texts:
        try:
            value = flag.constant if flag.parse is None else flag.parse(text)
        except p.FlagValueError as exc:
            raise FlagUsageError(shown, f'"{text}": {exc}') from None
        if flag.shape == "value":
            pl.set_value(placing, target, value)
        elif flag.shape == "plain":
            parent, last = pl.at(placing.obj, target)
            parent[last] = value
        elif flag.shape == "item":
            assert flag.label is not None
            label, member = flag.label(value, pl.item_count(placing, target))
            pl.add_item(placing, target, label, member)
        elif flag.shape == "place":
            assert flag.place is not None
            flag.place(placing, target, value)


def _what(request: Request) -> str:
    if request.framework:
        return f"{request.framework} distributed workloads"
    return {"InteractiveWorkload": "interactive workloads", "TrainingWorkload": "training workloads",
            "DistributedWorkload": "distributed workloads", "InferenceWorkload": "inference workloads"}[request.kind]


def _where(flag: Flag, request: Request) -> str:
    """Where the flag does apply, as a hint."""
    if request.generation == "v1" and request.kind == "TrainingWorkload" and flag.applies("InteractiveWorkload"):
        return "; add --interactive for an interactive workload"
    if request.generation == "v1" and request.kind == "InteractiveWorkload" and flag.applies("TrainingWorkload"):
        return "; it is for training workloads (drop --interactive)"
    if flag.frameworks:
        return f"; only to {', '.join(sorted(flag.frameworks))} distributed workloads"
    kinds = [k for k in MODELS if flag.applies(k)]
    return f"; it is for {', '.join(k.removesuffix('Workload').lower() for k in kinds)} workloads" if kinds else ""


# ---------------------------------------------------------------------------------------------------------
# The table as documentation (docs/cli-submit.md holds its output; a test keeps the two equal)
# ---------------------------------------------------------------------------------------------------------

_SHORT = {"InteractiveWorkload": "workspace", "TrainingWorkload": "training", "DistributedWorkload": "distributed",
          "InferenceWorkload": "inference"}


def reference_table() -> str:
    """The mapping as a Markdown table: each flag in both generations, the field it sets and for which kinds."""
    lines = ["| CLI v1 | CLI v2 | field | workloads |", "|---|---|---|---|"]
    for flag in FLAGS:
        v1 = ", ".join(f"`{n}`" for n in flag.v1) or "–"
        v2 = ", ".join(f"`{n}`" for n in flag.v2) or "–"
        if flag.ignored:
            where = f"not honoured: {flag.ignored}"
        else:
            where = " or ".join(f"`{t}`" for t in flag.targets)
        kinds = [_SHORT[k] for k in MODELS if flag.applies(k) or (flag.frameworks and k == "DistributedWorkload")]
        shown = ", ".join(kinds) if len(kinds) < len(MODELS) else "all"
        if flag.frameworks:
            shown += f" ({', '.join(sorted(flag.frameworks))})"
        lines.append(f"| {v1} | {v2} | {where} | {shown} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_table(), end="")
