"""A container's environment, command line and working directory when the local node runs it as a process.

The environment, in order (a later source overrides an earlier one):
1. `berth up`'s own environment (PATH, LANG, LD_LIBRARY_PATH, a conda or virtualenv...), since the
   process runs on this machine with its software, less what belongs to Berth or to the pod
   (`DROPPED`, `BERTH_*`);
2. `HOME` (the pod's scratch directory `<data-dir>/pods/<namespace>/<pod>/`; also when the container's own
   `HOME` is where an emptyDir is mounted, as Run:ai's createHomeDir does), `HOSTNAME` (the pod's name),
   `PYTHONUNBUFFERED=1` so a Python program's prints reach the log as they happen;
3. ports: `PORT` (the first container port's host port) and `BERTH_PORT_<containerPort>=<hostPort>`;
4. the container's `envFrom` and `env`, as Kubernetes resolves them: Secret and ConfigMap references
   read through the API, `fieldRef` for the pod's name, namespace, uid, labels, annotations, node,
   service account and IPs, and `$(VAR)` references to variables defined before (`$$` escapes);
5. GPU isolation, which the pod cannot override: `CUDA_VISIBLE_DEVICES` and `NVIDIA_VISIBLE_DEVICES`
   set to the devices in the pod annotation `run.ai/gpu-devices` (empty: no GPU at all; every device of a
   share of several, "0,1"; a MIG instance `<device>:<instance>` as the MIG device's UUID, `MIG-...`, which
   is how CUDA and the NVIDIA container toolkit name one, or as `MIG-<device>:<instance>` when the node
   does not know it, as on simulated GPUs), `CUDA_DEVICE_ORDER=PCI_BUS_ID` (CUDA then numbers GPUs as
   NVML and nvidia-smi do), and `GPU_PORTION` from the `gpu-fraction` annotation of a pod that shares a
   device (each device's share, on each of them).

`command` and `args` get the same `$(VAR)` expansion. A reference that cannot be resolved (a missing
Secret or key) raises `ConfigError`, which the runtime reports as CreateContainerConfigError and retries,
as a kubelet does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from berth.nodes.node import DEVICES_ANNOTATION, Gpu

Obj = dict[str, Any]
#: (kind "Secret" or "ConfigMap", namespace, name) -> its data as text, or None when it does not exist.
Reader = Callable[[str, str, str], Awaitable[dict[str, str] | None]]

GPU_FRACTION_ANNOTATION = "gpu-fraction"
POD_IP = "127.0.0.1"
DROPPED = frozenset({"KUBECONFIG", "HOME", "PWD", "OLDPWD", "HOSTNAME", "PORT", "CUDA_VISIBLE_DEVICES",
                     "NVIDIA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "GPU_PORTION"})
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][-._A-Za-z0-9]*)\)")
_INDEXED_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ConfigError(Exception):
    """The container cannot be configured yet; the message says what is missing."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined names are replaced, others left as written; `$$` is `$`."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return env.get(name, match.group(0))
    return _REFERENCE.sub(one, text)


def inherited(parent: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in parent.items() if k not in DROPPED and not k.startswith("BERTH_")}


def _assigned(pod: Obj) -> list[tuple[int, int | None]]:
    """(device, MIG instance or None) for each entry of `run.ai/gpu-devices`; ValueError when one is not
    a number or `<number>:<number>`."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEVICES_ANNOTATION) or ""
    out: list[tuple[int, int | None]] = []
    for part in text.replace(" ", "").split(","):
        if part:
            device, colon, instance = part.partition(":")
            out.append((int(device), int(instance) if colon else None))
    return out


def gpu_devices(pod: Obj) -> list[int]:
    """The device indexes the scheduler assigned (annotation `run.ai/gpu-devices`, e.g. "0,2", or "1:2" for
    MIG instance 2 of GPU 1); ValueError when it is not a list of those."""
    return [device for device, _ in _assigned(pod)]


def gpu_environment(pod: Obj, gpus: Iterable[Gpu] = ()) -> dict[str, str]:
    """The GPU variables of a pod on a node with `gpus` (which name MIG devices by UUID where known)."""
    by_index = {g.index: g for g in gpus}
    names = []
    for device, instance in _assigned(pod):
        if instance is None:
            names.append(str(device))
            continue
        gpu = by_index.get(device)
        known = gpu.mig_uuids if gpu is not None else ()
        names.append(known[instance] if instance < len(known) and known[instance] else f"MIG-{device}:{instance}")
    devices = ",".join(names)
    env = {"CUDA_VISIBLE_DEVICES": devices, "NVIDIA_VISIBLE_DEVICES": devices, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    fraction = ((pod.get("metadata") or {}).get("annotations") or {}).get(GPU_FRACTION_ANNOTATION)
    if fraction:
        env["GPU_PORTION"] = str(fraction)
    return env


def _field(pod: Obj, path: str) -> str:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"), "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"), "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.podIP": POD_IP, "status.podIPs": POD_IP, "status.hostIP": POD_IP, "status.hostIPs": POD_IP,
    }
    if path in simple:
        return str(simple[path] or "")
    indexed = _INDEXED_FIELD.match(path)
    if indexed:
        return str((meta.get(indexed.group(1)) or {}).get(indexed.group(2), ""))
    raise ConfigError(f"fieldRef.fieldPath {path!r} is not supported; use metadata.name, metadata.namespace, "
                      "metadata.uid, metadata.labels['<key>'], metadata.annotations['<key>'], spec.nodeName, "
                      "spec.serviceAccountName, status.podIP or status.hostIP")


async def _referenced(read: Reader, namespace: str, ref: Obj, kind: str, what: str) -> dict[str, str] | None:
    name = ref.get("name") or ""
    data = await read(kind, namespace, name)
    if data is None and not ref.get("optional"):
        raise ConfigError(f'{what}: {kind.lower()} "{name}" not found in namespace {namespace}')
    return data


async def _value_from(pod: Obj, source: Obj, read: Reader, where: str) -> str | None:
    namespace = (pod.get("metadata") or {}).get("namespace") or ""
    for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        if key in source:
            ref = source[key] or {}
            data = await _referenced(read, namespace, ref, kind, f"{where}.valueFrom.{key}")
            if data is None:
                return None
            if ref.get("key") not in data:
                if ref.get("optional"):
                    return None
                raise ConfigError(f"{where}.valueFrom.{key}: couldn't find key {ref.get('key')} in {kind} "
                                  f"{namespace}/{ref.get('name')}")
            return data[ref["key"]]
    if "fieldRef" in source:
        return _field(pod, (source["fieldRef"] or {}).get("fieldPath") or "")
    raise ConfigError(f"{where}.valueFrom: only secretKeyRef, configMapKeyRef and fieldRef are supported by "
                      "Berth's local node")


async def environment(pod: Obj, container: Obj, *, scratch: Path, host_ports: Mapping[int, int], read: Reader,
                      parent: Mapping[str, str], gpus: Iterable[Gpu] = ()) -> dict[str, str]:
    """The whole environment of `container` (see the module's docstring for the order)."""
    name = container.get("name") or ""
    env = inherited(parent)
    env.update(HOME=str(scratch), HOSTNAME=(pod.get("metadata") or {}).get("name") or "", PYTHONUNBUFFERED="1")
    if host_ports:
        env["PORT"] = str(next(iter(host_ports.values())))
        env.update({f"BERTH_PORT_{port}": str(host) for port, host in host_ports.items()})
    namespace = (pod.get("metadata") or {}).get("namespace") or ""
    for i, source in enumerate(container.get("envFrom") or []):
        for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            if key in source:
                data = await _referenced(read, namespace, source[key] or {}, kind,
                                         f"container {name}: envFrom[{i}].{key}")
                prefix = source.get("prefix") or ""
                env.update({prefix + k: v for k, v in (data or {}).items()})
    for i, item in enumerate(container.get("env") or []):
        where = f"container {name}: env[{i}] ({item.get('name')})"
        if "valueFrom" in item:
            value = await _value_from(pod, item["valueFrom"] or {}, read, where)
            if value is None:
                continue
        else:
            value = expand(str(item.get("value") or ""), env)
        env[str(item.get("name"))] = localize(value)
    if env.get("HOME") in _empty_dir_mounts(pod, container):
        env["HOME"] = str(scratch)  # a temporary home (createHomeDir) the local node cannot mount: the scratch
    env.update(gpu_environment(pod, gpus))
    return env


def _empty_dir_mounts(pod: Obj, container: Obj) -> set[str]:
    """Where the container mounts emptyDir volumes: paths the local node does not create, since it mounts
    nothing."""
    empty = {v.get("name") for v in (pod.get("spec") or {}).get("volumes") or [] if "emptyDir" in v}
    return {str(m.get("mountPath")) for m in container.get("volumeMounts") or [] if m.get("name") in empty}


_CLUSTER_DNS = re.compile(r"\b[a-z0-9][-a-z0-9]*(\.[a-z0-9][-a-z0-9]*)+\.svc(\.cluster\.local)?(?=$|[:/\"',\s\]])")


def localize(value: str) -> str:
    """Cluster DNS names (`<pod>.<service>.<namespace>.svc`) as this machine reaches them: 127.0.0.1.

    Every pod of the local node runs here, and there is no cluster DNS; the distributed frameworks' peer
    addresses (MASTER_ADDR, TF_CONFIG, rendezvous endpoints) name pods that way.
    """
    return _CLUSTER_DNS.sub("127.0.0.1", value)


def command_line(container: Obj, env: Mapping[str, str]) -> list[str]:
    """`command` + `args` with `$(VAR)` expanded; [] when the container has no command."""
    command = [str(w) for w in container.get("command") or []]
    if not command:
        return []
    return [expand(word, env) for word in command + [str(w) for w in container.get("args") or []]]


def working_dir(container: Obj, scratch: Path) -> Path:
    """The directory to start in, created if missing: the scratch directory, or `workingDir` under it when
    relative; an absolute `workingDir` as it is on this machine, else (when it cannot be made, e.g.
    /home/runai) the same path under the scratch directory."""
    wanted = container.get("workingDir")
    if not wanted:
        path = scratch
    elif Path(wanted).is_absolute():
        path = Path(wanted)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            path = scratch / Path(wanted).relative_to("/")
    else:
        path = scratch / wanted
    path.mkdir(parents=True, exist_ok=True)
    return path


def decode_secret(secret: Obj) -> dict[str, str]:
    """A Secret's values as text: `data` is base64; `stringData` (not merged by every server) as written."""
    values = {k: str(v) for k, v in (secret.get("stringData") or {}).items()}
    for key, encoded in (secret.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(encoded).decode(errors="replace")
        except (binascii.Error, ValueError):
            values[key] = str(encoded)
    return values
