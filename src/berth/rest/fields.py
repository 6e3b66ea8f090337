"""The one mapping between Run:ai's REST workload `spec` and the `spec` of Berth's `run.ai/v2alpha1` objects.

`FIELDS` is a table: each row names a field of Run:ai's REST spec by its dotted path under `spec`
(`compute.gpuDevicesRequest`), the field of the object's spec it is (`gpu`), how the value sits there
(`{value: ...}`, a plain value such as `jobType`, an itemized field `{items: {label: {value: ...}}}` made
from a REST list, a group of REST fields that together make object fields, as the GPU request does), and
a converter each way. Which kinds take a row is Run:ai's schema's (`kinds`: the REST spec of that type has
the field) and Berth's model's (the first of `obj` that the kind's spec model has): a field Run:ai has for a
type and Berth's object does not is refused with a 400 naming the REST field, as is every field in
`unsupported()` (Run:ai fields Berth has nothing for). A few are accepted and not honoured (`ignored`, each
with its reason, listed in docs/rest.md by `python -m berth.rest.fields`); nothing is dropped silently.

Public interface, used by the REST endpoints (`berth.rest.kinds`) and the policies (`berth.rest.policies`):
`to_object_spec(kind, rest_spec)`, `from_object_spec(kind, spec)`, and `object_path` / `rest_path`, which
translate dotted field paths both ways (a Kubernetes error's `spec.gpu` back to
`spec.compute.gpuDevicesRequest`). Kinds are the Cluster API's (`TrainingWorkload`); a distributed
workload's `masterSpec` is the kind `MASTER` (Run:ai's masterSpec has the spec's schema without the
distributed fields). Pure: dicts in, dicts out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from berth.api.base import strip_optional
from berth.api.closest import suggest
from berth.api.workloads import WORKLOAD_SPECS, MasterSpec
from berth.rest import convert as c
from berth.rest.errors import bad_request
from berth.rest.workload_view import FRAMEWORKS

Obj = dict[str, Any]
Conv = Callable[[Any], Any]
Hook = Callable[[Obj, Obj], None]
Shape = Literal["value", "plain", "items", "strings", "gpu", "priority", "none"]

SERVING_PORT = "serving-port"
W, T, D, I = "InteractiveWorkload", "TrainingWorkload", "DistributedWorkload", "InferenceWorkload"
MASTER = "DistributedMaster"
"""The pseudo-kind of a distributed workload's masterSpec (the spec's REST schema without the distributed
fields; Berth's `MasterSpec` model)."""
KINDS = (W, T, D, I)
SPECS: dict[str, type[BaseModel]] = {**WORKLOAD_SPECS, MASTER: MasterSpec}
NOUNS = {W: "workspaces", T: "trainings", D: "distributed workloads", I: "inferences", MASTER: "masterSpec"}

_ALL = frozenset({W, T, D, I, MASTER})
_NI = frozenset({W, T, D, MASTER})  # Run:ai's NonInference* schemas
_WT = frozenset({W, T})
_T = frozenset({T})
_D = frozenset({D})
_I = frozenset({I})


@dataclass(frozen=True)
class Member:
    """One member of a REST list item and the member of Berth's item it is (None: the row's hook takes it)."""

    rest: str
    obj: str | None
    to_obj: Conv = c.same
    to_rest: Conv = c.same


@dataclass(frozen=True)
class Field:
    """One row: a REST spec field and the object field it is."""

    rest: str
    obj: tuple[str, ...]
    shape: Shape
    kinds: frozenset[str] = _ALL
    to_obj: Conv = c.same
    to_rest: Conv = c.same
    members: tuple[Member, ...] = ()
    label: str = ""  # items: the member whose value is the item label ("name")
    prefix: str = ""  # items: label prefix of an item without one (`port-0`)
    exclude: bool = False  # items: `exclude: true` drops an inherited item ({deleted: true})
    hook_in: Hook | None = None
    hook_out: Hook | None = None
    owns: Callable[[str, Any], bool] | None = None  # items: (label, value) of an object item this list shows
    why: str = ""  # not supported by Berth: refused (400) with this reason, unless the value is in `accepts`
    accepts: tuple[Any, ...] = ()
    ignored: str = ""  # accepted, not honoured: why
    also: tuple[str, ...] = ()  # other object fields this REST field stands for (error paths)
    hooked: tuple[tuple[str, str], ...] = ()  # items: (REST member path, Berth member) the hooks map (paths)
    emit: bool = True  # written back by from_object_spec (False: another row shows the same object field)

    def target(self, kind: str) -> str | None:
        """The object field this row sets in `kind` (the first of `obj` its model has), else None."""
        return next((o for o in self.obj if has_field(kind, o)), None)


def _value(rest: str, obj: str, kinds: frozenset[str] = _ALL, **kw: Any) -> Field:
    return Field(rest, (obj,), "value", kinds, **kw)


def _unsupported(rest: str, why: str, kinds: frozenset[str] = _ALL, accepts: tuple[Any, ...] = ()) -> Field:
    return Field(rest, (), "none", kinds, why=why, accepts=accepts, emit=False)


def _ignored(rest: str, why: str, kinds: frozenset[str] = _ALL) -> Field:
    return Field(rest, (), "none", kinds, ignored=why, emit=False)


_KEYED = (Member("value", "value"),)  # name -> label, value -> the item's value (a string)
_PORT = (Member("container", "container"), Member("external", "external"), Member("serviceType", "serviceType"))
_FRAMEWORK_IN, _FRAMEWORK_OUT = c.table({v: k for k, v in FRAMEWORKS.items()}, "distributedFramework")


FIELDS: tuple[Field, ...] = (
    # what runs
    _value("image", "image"),
    _value("imagePullPolicy", "imagePullPolicy"),
    _value("command", "command"),
    _value("args", "arguments"),
    _value("workingDir", "workingDir"),
    _value("createHomeDir", "createHomeDir"),
    _unsupported("probes", "Berth's workloads have no readiness probe field; a pod is ready when it runs"),
    _value("tty", "tty", _NI),
    _value("stdin", "stdin", _NI),
    Field("environmentVariables", ("environment",), "items", members=_KEYED, label="name", exclude=True),
    Field("annotations", ("annotations",), "items", members=_KEYED, label="name", exclude=True),
    Field("labels", ("labels",), "items", members=_KEYED, label="name", exclude=True),
    # placement
    _value("nodeType", "nodeType"),
    _value("nodePools", "nodePools", to_obj=c.words, to_rest=c.word_list),
    _value("podAffinity.type", "podAffinitySchedulingRule"),
    _value("podAffinity.key", "podAffinityTopology"),
    Field("tolerations", ("tolerations",), "items", label="name", prefix="toleration-", members=(
        Member("operator", "operator"), Member("key", "key"), Member("value", "value"), Member("effect", "effect"),
        Member("seconds", "seconds"))),
    Field("priorityClass", ("preemptible",), "priority", _WT),
    # life
    _value("terminateAfterPreemption", "terminateAfterPreemption", _NI),
    _value("autoDeletionTimeAfterCompletionSeconds", "autoDeletionTimeAfterCompletionSeconds", _NI),
    Field("backoffLimit", ("backoffLimit", "runPolicy.backoffLimit"), "value", _NI),
    _value("completions", "completions", _T),
    _value("parallelism", "parallelism", _T),
    # connectivity
    Field("ports", ("ports",), "items", label="name", prefix="port-", members=_PORT,
          owns=lambda label, _: label != SERVING_PORT),
    _ignored("ports.toolType", "Berth's ports carry no tool; it named the tool for Run:ai's UI"),
    _ignored("ports.toolName", "Berth's ports carry no tool; it named the tool for Run:ai's UI"),
    Field("exposedUrls", ("exposedUrls",), "items", label="name", prefix="url-", members=(
        Member("container", "container"), Member("url", "url"), Member("toolType", "toolType"),
        Member("authorizedUsers", None), Member("authorizedGroups", None)),
        hook_in=c.users_in, hook_out=c.users_out, hooked=(("authorizedUsers", "authorizedUsers"),)),
    _ignored("exposedUrls.toolName", "Berth's exposed URLs name their tool by toolType only"),
    _unsupported("relatedUrls", "Berth's workloads have no related URLs (links to outside services)"),
    # compute
    Field("compute.gpuDevicesRequest", ("gpu",), "gpu", also=("gpuDevices",)),
    Field("compute.gpuRequestType", (), "gpu", emit=False),
    Field("compute.gpuPortionRequest", ("gpu",), "gpu", emit=False),
    Field("compute.gpuPortionLimit", ("gpuLimit",), "gpu", emit=False),
    Field("compute.gpuMemoryRequest", ("gpuMemory",), "gpu", emit=False),
    _unsupported("compute.gpuMemoryLimit", "Berth's workloads have no GPU memory limit; the pod gets what "
                 "gpuMemoryRequest asks"),
    Field("compute.migProfile", ("migProfile",), "gpu", emit=False),
    _value("compute.cpuCoreRequest", "cpu", to_obj=c.number_text, to_rest=c.quantity_number),
    _value("compute.cpuCoreLimit", "cpuLimit", to_obj=c.number_text, to_rest=c.quantity_number),
    _value("compute.cpuMemoryRequest", "memory", to_obj=c.quantity_text),
    _value("compute.cpuMemoryLimit", "memoryLimit", to_obj=c.quantity_text),
    _value("compute.largeShmRequest", "largeShm"),
    Field("compute.extendedResources", ("extendedResources",), "items", label="resource", exclude=True,
          members=(Member("resource", "resource"), Member("quantity", "quantity", c.quantity_text))),
    # storage
    Field("storage.pvc", ("pvcs",), "items", label="name", prefix="pvc--", members=(
        Member("existingPvc", "existingPvc"), Member("claimName", "claimName"), Member("path", "path"),
        Member("readOnly", "readOnly"), Member("ephemeral", "ephemeral"), Member("claimInfo", None)),
        hook_in=c.pvc_in, hook_out=c.pvc_out, hooked=(("claimInfo.size", "size"), (
            "claimInfo.storageClass", "storageClass"), ("claimInfo.accessModes", "accessMode"))),
    Field("storage.git", ("gitSync",), "items", label="name", prefix="git-", members=(
        Member("repository", "source"), Member("branch", "branch"), Member("revision", "rev"),
        Member("path", "target"), Member("passwordSecret", None), Member("secretKeyOfUser", None),
        Member("secretKeyOfPassword", None)), hook_in=c.git_in, hook_out=c.git_out, hooked=(
            ("secretKeyOfUser", "username"), ("secretKeyOfPassword", "password"), ("passwordSecret", "password"))),
    Field("storage.configMapVolume", ("configMapVolumes",), "items", label="name", prefix="configmap-",
          members=(Member("configMap", "name"), Member("mountPath", "mountPath"))),
    Field("storage.secretVolume", ("secretVolumes",), "items", label="name", prefix="secret-",
          members=(Member("secret", "name"), Member("mountPath", "mountPath"))),
    Field("storage.hostPath", ("volumes",), "items", _NI, label="name", prefix="volume-", members=(
        Member("path", "source"), Member("mountPath", "target"), Member("readOnly", None),
        Member("mountPropagation", None)),
        hook_in=c.read_only_default, hook_out=c.read_only_out, owns=lambda _, item: not item.get("nfsServer"),
        hooked=(("readOnly", "readOnly"),)),
    Field("storage.nfs", ("volumes",), "items", _NI, label="name", prefix="nfs-", members=(
        Member("path", "source"), Member("mountPath", "target"), Member("server", "nfsServer"),
        Member("readOnly", None)),
        hook_in=c.read_only_default, hook_out=c.read_only_out, owns=lambda _, item: bool(item.get("nfsServer")),
        hooked=(("readOnly", "readOnly"),)),
    Field("storage.s3", ("s3",), "items", _NI, label="name", prefix="s3-", members=(
        Member("bucket", "bucket"), Member("path", "target"), Member("url", "url"),
        Member("accessKeySecret", None), Member("secretKeyOfAccessKeyId", None),
        Member("secretKeyOfSecretKey", None)), hook_in=c.s3_in, hook_out=c.s3_out, hooked=(
            ("secretKeyOfAccessKeyId", "key"), ("secretKeyOfSecretKey", "secret"), ("accessKeySecret", "key"))),
    _unsupported("storage.dataVolume", "Berth has no data volume assets; mount the claim with storage.pvc"),
    # security
    _value("security.uidGidSource", "runAsUser", to_obj=c.uid_gid_source),
    _value("security.runAsNonRoot", "runAsUser", emit=False),
    _value("security.runAsUid", "runAsUid"),
    _value("security.runAsGid", "runAsGid"),
    _value("security.supplementalGroups", "supplementalGroups"),
    Field("security.capabilities", ("capabilities",), "strings"),
    _unsupported("security.seccompProfileType", "Berth's pods run with the container runtime's default seccomp "
                 "profile (RuntimeDefault), the only value taken", accepts=("RuntimeDefault",)),
    _unsupported("security.readOnlyRootFilesystem", "Berth's containers have a writable root file system; only "
                 "false is taken", accepts=(False,)),
    _value("security.allowPrivilegeEscalation", "allowPrivilegeEscalation", _NI),
    _value("security.hostIpc", "hostIpc", _NI),
    _value("security.hostNetwork", "hostNetwork", _NI),
    # distributed
    Field("distributedFramework", ("jobType",), "plain", _D, to_obj=_FRAMEWORK_IN, to_rest=_FRAMEWORK_OUT),
    _value("numWorkers", "workers", _D),
    _value("slotsPerWorker", "slotsPerWorker", _D),
    _value("minReplicas", "minReplicas", _D),
    _value("maxReplicas", "maxReplicas", _D),
    # inference
    Field("servingPort.container", ("ports",), "items", _I, emit=False),  # placed by _serving_port
    _ignored("servingPort.protocol", "the inference Service forwards any TCP protocol, HTTP or gRPC alike", _I),
    _value("autoscaling.minReplicas", "minScale", _I),
    _value("autoscaling.maxReplicas", "maxScale", _I),
    _value("autoscaling.metric", "metric", _I),
    _value("autoscaling.metricThreshold", "target", _I),
    _ignored("autoscaling.scaleToZeroRetentionSeconds", "Berth's autoscaler scales to zero after its own delay", _I),
)

BY_REST: dict[str, Field] = {f.rest: f for f in FIELDS}


# ---------------------------------------------------------------------------------------------------------
# Berth's models: which object fields a kind has
# ---------------------------------------------------------------------------------------------------------


def has_field(kind: str, path: str) -> bool:
    """Whether the spec model of `kind` has the field at dotted `path` (relative to spec)."""
    model: Any = SPECS[kind]
    for part in path.split("."):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return False
        info = model.model_fields.get(part)
        if info is None:
            return False
        model = strip_optional(info.annotation)
    return True


def rows(kind: str) -> list[Field]:
    """The rows Run:ai's REST schema has for `kind`."""
    return [f for f in FIELDS if kind in f.kinds]


def unsupported(kind: str | None = None) -> list[tuple[str, str]]:
    """(REST field, why) for each Run:ai field Berth refuses: those it has nothing for, and those whose object
    field the kind's model lacks."""
    out = [(f.rest, f.why) for f in FIELDS if f.why and (kind is None or kind in f.kinds)]
    for kind_ in [kind] if kind else list(KINDS):
        for f in rows(kind_):
            if f.obj and f.shape not in ("gpu", "priority") and f.target(kind_) is None:
                out.append((f.rest, f"Berth's {kind_} has no {' or '.join(f.obj)} field"))
    return out


# ---------------------------------------------------------------------------------------------------------
# REST -> object
# ---------------------------------------------------------------------------------------------------------


class _Out:
    """The object spec being built, remembering which REST field wrote each object field (conflicts)."""

    def __init__(self, kind: str, root: str) -> None:
        self.kind, self.root = kind, root
        self.spec: Obj = {}
        self.by: dict[str, str] = {}

    def where(self, rest: str) -> str:
        return f"{self.root}.{rest}"

    def put(self, path: str, value: Any, rest: str) -> None:
        *parents, last = path.split(".")
        node = self.spec
        for part in parents:
            node = node.setdefault(part, {})
        if path in self.by and node.get(last) != value:
            raise bad_request(self.where(rest), f"conflicts with {self.where(self.by[path])}",
                              f"both set {path}; give one of them")
        node[last] = value
        self.by.setdefault(path, rest)


def to_object_spec(kind: str, rest_spec: dict[str, Any], *, root: str = "spec") -> dict[str, Any]:
    """The object's spec for a REST `spec` of `kind` (a Cluster API kind, or `MASTER` for a masterSpec).
    Raises `RestError` (400) naming the REST field (`spec.compute.gpuDevicesRequest`) it cannot map."""
    if kind not in SPECS:
        raise ValueError(f"unknown workload kind {kind!r}")
    if not isinstance(rest_spec, dict):
        raise bad_request(root, "expected an object", "send the workload's fields as a JSON object")
    out = _Out(kind, root)
    gpu: dict[str, Any] = {}
    _walk(rest_spec, "", out, gpu)
    _gpu_in(gpu, out)
    spec = out.spec
    if "podAffinitySchedulingRule" in spec or "podAffinityTopology" in spec:
        spec["podAffinity"] = {"value": True}
    return spec


def _walk(node: Obj, prefix: str, out: _Out, gpu: dict[str, Any]) -> None:
    known = rows(out.kind)
    for key, value in node.items():
        path = f"{prefix}{key}"
        if value is None:
            continue
        row = BY_REST.get(path)
        row = row if row is not None and out.kind in row.kinds else None
        if row is None and path == "servingPort" and out.kind == I:
            _serving_port(value, out)
            continue
        if row is None:
            below = [f for f in known if f.rest.startswith(path + ".")]
            if below and isinstance(value, dict):
                _walk(value, path + ".", out, gpu)
                continue
            if below:
                raise bad_request(out.where(path), "expected an object", f"give {path} as an object")
            names = sorted({f.rest[len(prefix):].split(".")[0] for f in known if f.rest.startswith(prefix)})
            close = suggest(key, names)
            raise bad_request(out.where(path), f"unknown field for {NOUNS[out.kind]}",
                              f"did you mean {prefix}{close}?" if close else
                              f"the fields here are: {', '.join(names)}")
        _field_in(row, value, out, gpu)


def _field_in(row: Field, value: Any, out: _Out, gpu: dict[str, Any]) -> None:
    where = out.where(row.rest)
    if row.ignored:
        return
    if row.why:
        if value in row.accepts and type(value) is type(row.accepts[0]):
            return
        raise bad_request(where, f"not supported by Berth: {row.why}", f"leave {row.rest} out")
    if row.shape == "gpu":
        gpu[row.rest.split(".")[-1]] = value
        return
    if row.shape == "priority":
        _priority_in(value, out, where)
        return
    target = row.target(out.kind)
    if target is None:
        raise bad_request(where, f"not supported by Berth for {NOUNS[out.kind]}: the {out.kind} object has no "
                          f"{' or '.join(row.obj)} field", f"leave {row.rest} out")
    try:
        if row.shape == "value":
            out.put(target, {"value": row.to_obj(value)}, row.rest)
        elif row.shape == "plain":
            out.put(target, row.to_obj(value), row.rest)
        elif row.shape == "strings":
            out.put(target, {"items": _strings_in(value)}, row.rest)
        elif row.shape == "items":
            _items_in(row, value, target, out)
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise bad_request(where, str(exc), f"fix {row.rest} as the message says") from None


def _strings_in(value: Any) -> Obj:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('expected a list of strings, like ["SYS_PTRACE"]')
    return {c.label_of(v): {"value": v} for v in value}


def _items_in(row: Field, value: Any, target: str, out: _Out) -> None:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of objects, each with {', '.join(m.rest for m in row.members)}")
    node = out.spec
    for part in target.split("."):
        node = node.setdefault(part, {})
    items: Obj = node.setdefault("items", {})
    known = {m.rest for m in row.members} | ({row.label} if row.label else set()) | (
        {"exclude"} if row.exclude else set()) | {f.rest[len(row.rest) + 1:] for f in FIELDS
                                                  if f.rest.startswith(row.rest + ".")}
    for n, item in enumerate(value):
        at = f"{row.rest}[{n}]"
        if not isinstance(item, dict):
            raise bad_request(out.where(at), "expected an object", f"give each item of {row.rest} as an object")
        unknown = sorted(k for k in item if k not in known)
        if unknown:
            close = suggest(unknown[0], sorted(known))
            raise bad_request(out.where(f"{at}.{unknown[0]}"), "unknown field",
                              f"did you mean {close}?" if close else f"an item takes {', '.join(sorted(known))}")
        label = item.get(row.label) if row.label else None
        if row.label == "resource" and label:
            label = c.label_of(str(label))
        if row.label and row.label != "resource" and not label:
            if not row.prefix:
                raise bad_request(out.where(f"{at}.{row.label}"), "required", f"give each item a {row.label}")
        label = str(label) if label else f"{row.prefix}{len(items)}"
        if label in items:
            raise bad_request(out.where(f"{at}.{row.label or 'name'}"), f"{label!r} is given twice",
                              "give each item its own name")
        if row.exclude and item.get("exclude"):
            items[label] = {"deleted": True}
            continue
        try:
            member = _member_in(row, item)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise bad_request(out.where(at), str(exc), f"fix this item of {row.rest}") from None
        items[label] = {"value": member}
        if row.rest == "storage.hostPath" and item.get("mountPropagation") == "HostToContainer":
            out.put("mountPropagation", {"value": True}, f"{at}.mountPropagation")


def _member_in(row: Field, item: Obj) -> Any:
    if row.members == _KEYED:
        value = item.get("value")
        if value is None:
            raise ValueError("value: required (or exclude: true to drop an item the policy's defaults add)")
        if not isinstance(value, str):
            raise ValueError("value: expected a string")
        return value
    member: Obj = {}
    for m in row.members:
        if m.obj is not None and item.get(m.rest) is not None:
            member[m.obj] = m.to_obj(item[m.rest])
    if row.hook_in is not None:
        row.hook_in(item, member)
    return member


def _serving_port(value: Any, out: _Out) -> None:
    where = out.where("servingPort")
    if not isinstance(value, dict):
        raise bad_request(where, "expected an object {container, protocol}", "give servingPort as an object")
    unknown = sorted(set(value) - {"container", "protocol"})
    if unknown:
        raise bad_request(f"{where}.{unknown[0]}", "unknown field", "servingPort takes container and protocol")
    if value.get("container") is None:
        raise bad_request(f"{where}.container", "required", "give the port the server listens on")
    items = out.spec.setdefault("ports", {}).setdefault("items", {})
    if SERVING_PORT in items:
        raise bad_request(out.where("ports"), f"a port named {SERVING_PORT} is the serving port's name",
                          "name the port otherwise, or leave servingPort out")
    items[SERVING_PORT] = {"value": {"container": value["container"]}}


_PRIORITY = {"build": False, "interactive-preemptible": True}


def _priority_in(value: Any, out: _Out, where: str) -> None:
    """Run:ai's priority class as Berth has it: a workspace's is preemptible or not; a training is always
    preemptible (Run:ai's train)."""
    if not isinstance(value, str):
        raise bad_request(where, "expected a string", "give build, train or interactive-preemptible")
    if out.kind == W and value in _PRIORITY:
        out.put("preemptible", {"value": _PRIORITY[value]}, "priorityClass")
    elif out.kind != W and value != "train":
        raise bad_request(where, f"{value!r} is not taken for {NOUNS[out.kind]}: Berth runs every training at "
                          "priority train (preemptible)", "leave priorityClass out, or give train")
    elif out.kind == W and value not in _PRIORITY:
        raise bad_request(where, f"{value!r} is not a workspace's priority class",
                          "give build (not preemptible) or interactive-preemptible")


def _gpu_in(given: dict[str, Any], out: _Out) -> None:
    """compute's GPU fields -> gpu, gpuDevices, gpuMemory, migProfile and gpuLimit.

    Run:ai asks for `gpuDevicesRequest` devices, each whole, or each giving a portion, an amount of memory or
    a MIG slice (`gpuRequestType`). Berth's objects write a whole request as `gpu: N`, a share as `gpu: P` or
    `gpuMemory: M` with `gpuDevices: N` when more than one device gives it."""
    if not given:
        return
    field = out.where
    devices = given.get("gpuDevicesRequest")
    shares = {"portion": "gpuPortionRequest", "memory": "gpuMemoryRequest", "migProfile": "migProfile"}
    present = [t for t, name in shares.items() if given.get(name) is not None]
    kind = given.get("gpuRequestType")
    if kind is not None and (not isinstance(kind, str) or kind not in shares):
        raise bad_request(field("compute.gpuRequestType"), f"{kind!r} is not a GPU request type",
                          "give portion, memory or migProfile")
    if len(present) > 1:
        raise bad_request(field(f"compute.{shares[present[1]]}"), f"conflicts with compute.{shares[present[0]]}",
                          "ask for GPUs one way: a portion, an amount of memory or a MIG profile")
    if kind is not None and present and present[0] != kind:
        raise bad_request(field(f"compute.{shares[present[0]]}"), f"gpuRequestType is {kind}",
                          f"give compute.{shares[kind]}, or set gpuRequestType to {present[0]}")
    if kind is not None and not present:
        raise bad_request(field(f"compute.{shares[kind]}"), f"required when gpuRequestType is {kind}",
                          f"give compute.{shares[kind]}")
    if devices is not None and (isinstance(devices, bool) or not isinstance(devices, int) or devices < 0):
        raise bad_request(field("compute.gpuDevicesRequest"), "expected a whole number of GPU devices (0 or more)",
                          "give a number like 1 or 2")
    limit = given.get("gpuPortionLimit")
    try:
        if not present:
            if devices is not None:
                out.put("gpu", {"value": str(devices)}, "compute.gpuDevicesRequest")
        elif present[0] == "migProfile":
            if devices not in (None, 1):
                raise bad_request(field("compute.gpuDevicesRequest"), "a MIG request is one slice per pod in Berth",
                                  "give gpuDevicesRequest 1 with migProfile")
            out.put("migProfile", {"value": given["migProfile"]}, "compute.migProfile")
        else:
            if present[0] == "portion":
                portion = given["gpuPortionRequest"]
                if isinstance(portion, bool) or not isinstance(portion, (int, float)) or not 0 < portion <= 1:
                    raise bad_request(field("compute.gpuPortionRequest"), "expected a portion of one GPU, more "
                                      "than 0 and at most 1", "give a number like 0.5")
                out.put("gpu", {"value": c.number_text(portion)}, "compute.gpuPortionRequest")
            else:
                out.put("gpuMemory", {"value": c.quantity_text(given["gpuMemoryRequest"])}, "compute.gpuMemoryRequest")
            if devices is not None and devices > 1:
                if not has_field(out.kind, "gpuDevices"):
                    raise bad_request(field("compute.gpuDevicesRequest"), f"Berth's {out.kind} shares one GPU "
                                      "device per pod", "give gpuDevicesRequest 1 with a portion or memory request")
                out.put("gpuDevices", {"value": devices}, "compute.gpuDevicesRequest")
    except (ValueError, ArithmeticError) as exc:
        raise bad_request(field("compute"), str(exc) or "not a number", "fix the GPU request as the message says") from None
    if limit is not None:
        try:
            out.put("gpuLimit", {"value": c.number_text(limit)}, "compute.gpuPortionLimit")
        except (ValueError, ArithmeticError):
            raise bad_request(field("compute.gpuPortionLimit"), "expected a portion of one GPU, or a number of GPUs",
                              "give a number like 0.5 or 1") from None


# ---------------------------------------------------------------------------------------------------------
# object -> REST
# ---------------------------------------------------------------------------------------------------------


def _get(spec: Obj, path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _set(rest: Obj, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        rest = rest.setdefault(part, {})
    rest[last] = value


def _unwrap(node: Any) -> Any:
    return node.get("value") if isinstance(node, dict) else None


def from_object_spec(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The REST `spec` that shows an object's spec (for GET answers). Object fields Run:ai's REST spec has no
    field for (name, usage, baseWorkload, jupyter...) are not shown."""
    if kind not in SPECS:
        raise ValueError(f"unknown workload kind {kind!r}")
    rest: Obj = {}
    for row in rows(kind):
        if not row.emit or row.shape in ("none", "gpu"):
            continue
        if row.shape == "priority":
            if kind == W and _unwrap(spec.get("preemptible")) is not None:
                rest["priorityClass"] = "interactive-preemptible" if _unwrap(spec["preemptible"]) else "build"
            continue
        target = row.target(kind)
        node = _get(spec, target) if target else None
        if node is None:
            continue
        if row.shape == "value":
            value = _unwrap(node)
            if value is not None:
                _set(rest, row.rest, row.to_rest(value))
        elif row.shape == "plain":
            _set(rest, row.rest, row.to_rest(node))
        elif row.shape == "strings":
            listed = [i["value"] for i in (node.get("items") or {}).values() if i.get("value") is not None]
            if listed:
                _set(rest, row.rest, listed)
        elif row.shape == "items":
            listed = _items_out(row, node)
            if listed:
                _set(rest, row.rest, listed)
    _gpu_out(spec, rest)
    _after_out(kind, spec, rest)
    return rest


def _items_out(row: Field, node: Any) -> list[Obj]:
    out = []
    for label, entry in ((node or {}).get("items") or {}).items():
        if not isinstance(entry, dict):
            continue
        if entry.get("deleted"):
            if row.exclude:
                out.append({row.label or "name": label, "exclude": True})
            continue
        value = entry.get("value")
        if row.owns is not None and not row.owns(label, value if isinstance(value, dict) else {}):
            continue
        item: Obj = {row.label or "name": label} if row.label != "resource" else {}
        if row.members == _KEYED:
            item["value"] = str(value)
        else:
            for m in row.members:
                if m.obj is not None and isinstance(value, dict) and value.get(m.obj) is not None:
                    item[m.rest] = m.to_rest(value[m.obj])
            if row.hook_out is not None and isinstance(value, dict):
                row.hook_out(value, item)
        out.append(item)
    return out


def _gpu_out(spec: Obj, rest: Obj) -> None:
    gpu, memory, mig = (_unwrap(spec.get(n)) for n in ("gpu", "gpuMemory", "migProfile"))
    devices, limit = _unwrap(spec.get("gpuDevices")), _unwrap(spec.get("gpuLimit"))
    compute: Obj = {}
    if mig is not None:
        compute = {"gpuDevicesRequest": 1, "gpuRequestType": "migProfile", "migProfile": mig}
    elif memory is not None:
        compute = {"gpuDevicesRequest": devices or 1, "gpuRequestType": "memory", "gpuMemoryRequest": str(memory)}
    elif gpu is not None:
        amount = Decimal(str(gpu))
        if amount == amount.to_integral_value() and not devices:
            compute = {"gpuDevicesRequest": int(amount)}
        else:
            compute = {"gpuDevicesRequest": devices or 1, "gpuRequestType": "portion",
                       "gpuPortionRequest": c.gpu_number(gpu)}
    if limit is not None:
        compute["gpuPortionLimit"] = c.gpu_number(limit)
    if compute:
        rest.setdefault("compute", {}).update(compute)


def _after_out(kind: str, spec: Obj, rest: Obj) -> None:
    """Fields that several object fields make together: pod affinity, the user id source, the serving port."""
    if _unwrap(spec.get("podAffinity")) is not True:
        rest.pop("podAffinity", None)
    security = rest.get("security") or {}
    if "uidGidSource" in security:
        run_as = security.pop("uidGidSource")
        security["uidGidSource"] = ("custom" if security.get("runAsUid") is not None else "fromIdpToken") \
            if run_as else "fromTheImage"
    if _unwrap(spec.get("mountPropagation")) is True:
        for item in (rest.get("storage") or {}).get("hostPath") or []:
            item["mountPropagation"] = "HostToContainer"
    if kind == I:
        serving = ((spec.get("ports") or {}).get("items") or {}).get(SERVING_PORT)
        if isinstance(serving, dict) and isinstance(serving.get("value"), dict):
            rest["servingPort"] = {"container": serving["value"].get("container")}


# ---------------------------------------------------------------------------------------------------------
# Field paths both ways
# ---------------------------------------------------------------------------------------------------------


def _plain_path(path: str) -> str:
    """`environmentVariables[0].name` and `environmentVariables.0.name` -> `environmentVariables.name`."""
    parts = [p.split("[", 1)[0] for p in path.removeprefix("spec.").split(".")]
    return ".".join(p for p in parts if p and not p.isdigit())


def object_path(kind: str, rest_path: str) -> str | None:
    """The object field (dotted, relative to spec) that a REST field (relative to spec) sets in `kind`, or
    None when it sets none. An item member maps to `<itemized field>.<member>` (`storage.pvc.path` ->
    `pvcs.path`)."""
    path = _plain_path(rest_path)
    if path == "servingPort" or path.startswith("servingPort."):
        return "ports" if kind == I else None
    row = BY_REST.get(path)
    if row is not None and kind in row.kinds:
        return row.target(kind)
    for row in rows(kind):
        if row.shape == "items" and path.startswith(row.rest + "."):
            target = row.target(kind)
            member = path[len(row.rest) + 1:]
            found = next((m.obj for m in row.members if m.rest == member.split(".")[0] and m.obj), None)
            found = found or dict(row.hooked).get(member)
            if target is None:
                return None
            if member in ("name", "exclude") or row.members == _KEYED:
                return target
            return f"{target}.{found}" if found else target
    return None


def rest_path(kind: str, object_path: str) -> str | None:
    """The REST field (dotted, relative to spec) that shows an object field of `kind` (relative to spec;
    `.value`, `items.<label>` and `spec.` are taken off), or None when Run:ai's REST spec has none."""
    parts = [p for p in object_path.removeprefix("spec.").split(".") if p]
    member = None
    if "items" in parts:
        at = parts.index("items")
        rest_parts = parts[at + 2:]
        member = ".".join(p for p in rest_parts if p != "value") or None
        parts = parts[:at]
    if parts and parts[-1] == "value":
        parts = parts[:-1]
    path = ".".join(parts)
    if not path:
        return None
    candidates = [r for r in rows(kind) if r.target(kind) == path or path in r.also]
    primary = next((r for r in candidates if r.emit), candidates[0] if candidates else None)
    if primary is None:
        return "servingPort" if kind == I and path == "ports" else None
    if member and primary.shape == "items" and primary.members != _KEYED:
        found = next((m.rest for m in primary.members if m.obj == member), None)
        found = found or next((rest for rest, obj in primary.hooked if obj == member), None)
        if found:
            return f"{primary.rest}.{found}"
    return primary.rest


# ---------------------------------------------------------------------------------------------------------
# The table as documentation (docs/rest.md holds its output)
# ---------------------------------------------------------------------------------------------------------


_SHORT = {W: "workspace", T: "training", D: "distributed", I: "inference"}


def reference_table() -> str:
    """The mapping as Markdown: each REST field, the object field it is, for which types; then what is not
    supported and what is accepted without effect."""
    lines = ["| REST `spec` field | object `spec` field | types |", "|---|---|---|"]
    for row in FIELDS:
        if row.why or row.ignored or row.rest.startswith("servingPort."):
            continue
        kinds = [_SHORT[k] for k in KINDS if k in row.kinds and (row.shape in ("gpu", "priority")
                                                                   or row.target(k))]
        if not kinds:
            continue
        target = " or ".join(f"`{o}`" for o in (*row.obj, *row.also)) or "(checked against the request fields)"
        if row.shape == "items":
            target += " (items)"
        elif row.shape == "plain":
            target += " (plain value)"
        lines.append(f"| `{row.rest}` | {target} | {', '.join(kinds) if len(kinds) < 4 else 'all'} |")
    lines.append("| `servingPort` | `ports` item `serving-port` | inference |")
    lines += ["", "Refused with 400 naming the field:", ""]
    lines += [f"- `{rest}`: {why}" for rest, why in unsupported(None)]
    lines += ["", "Accepted and not honoured:", ""]
    lines += [f"- `{f.rest}`: {f.ignored}" for f in FIELDS if f.ignored]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_table(), end="")
