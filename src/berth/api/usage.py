"""What a pod asks for and holds, what a node offers, and which node pool a node is in: the one reading of
these conventions, shared by the scheduler (`berth.scheduler.snapshot_of`, `scheduler.core`) and the
controllers that report usage (`berth.controllers.usage`), so that a project's status counts exactly what
the scheduler charges it.

Conventions read here (KAI-Scheduler's where it has one):
- a pod's whole GPUs from `nvidia.com/gpu` (limits, else requests) of its containers; a share of one GPU
  from the annotation `gpu-fraction` ("0.5") or `gpu-memory` (MiB), on `gpu-fraction-num-devices` devices
  (default 1); MIG slices from `nvidia.com/mig-<profile>` (see `berth.api.mig`); the devices it holds once
  placed from `run.ai/gpu-devices` ("0,1"; a MIG slice as `<device>:<MIG instance>`, "0:2"); the node pools
  it prefers, in order, from `run.ai/node-pools`;
- a node's GPUs from its annotation `run.ai/gpus` (JSON `[{"index": 0, "memoryMiB": 81920}]`; a GPU in MIG
  mode adds `"mig": ["3g.20gb", "1g.5gb"]`, its MIG instances in order, and `"migSlices": 7`), else as
  many 80 GiB devices as `nvidia.com/gpu` allocatable says; its CPU and memory from `allocatable`;
- a node is in the first node pool, by name, whose `labelKey=labelValue` it carries, else in `default`.

Units: GPUs in thousandths of a device ("milli-GPUs", so shares add up exactly), CPU in millicores, memory
in MiB. A `gpu-memory` ask is the share of the device's memory it takes, rounded up to the next thousandth.
Pure functions over plain dicts as the API returns them; nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from berth.api import mig as mig_profiles
from berth.api.projects import DEFAULT_POOL
from berth.api.types import amount

Obj = dict[str, Any]

MILLI = 1000  # milli-GPUs in one device
DEFAULT_GPU_MEMORY_MIB = 81920

GPU_RESOURCE = "nvidia.com/gpu"
GPUS_ANNOTATION = "run.ai/gpus"  # on a Node: its devices and their memory
DEVICES_ANNOTATION = "run.ai/gpu-devices"  # on a placed pod: the devices it holds
POOLS_ANNOTATION = "run.ai/node-pools"  # on a pod or PodGroup: the pools it prefers, in order
GPU_FRACTION_ANNOTATION = "gpu-fraction"
GPU_MEMORY_ANNOTATION = "gpu-memory"
GPU_DEVICES_ANNOTATION = "gpu-fraction-num-devices"  # KAI: how many devices each get the fraction or memory


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def millicores(value: Any) -> int:
    """A CPU quantity ("500m", "2") in millicores; 0 when it is not one."""
    try:
        return int(amount(value) * 1000)
    except (ValueError, ArithmeticError, TypeError):
        return 0


def mib(value: Any) -> int:
    """A memory quantity ("4Gi", "1G") in whole MiB, rounded down; 0 when it is not one."""
    try:
        return int(amount(value) / (1024 * 1024))
    except (ValueError, ArithmeticError, TypeError):
        return 0


def fraction_milli(fraction: float) -> int:
    """A `gpu-fraction` in milli-GPUs: never less than one thousandth of a device when asked at all."""
    return max(1, round(fraction * MILLI)) if fraction else 0


def memory_milli(gpu_memory_mib: int, device_memory_mib: int) -> int:
    """The share of a device with `device_memory_mib` that `gpu_memory_mib` takes, rounded up; more than a
    whole device (1000) when it cannot fit, or when the device's memory is unknown."""
    return -(-gpu_memory_mib * MILLI // device_memory_mib) if device_memory_mib > 0 else MILLI + 1


# -- pods ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PodRequest:
    """What one pod asks for. At most one of `gpus`, `gpu_fraction`, `gpu_memory`, `mig` is set for a valid
    pod (the scheduler refuses the others and says why)."""

    gpus: int = 0  # whole devices
    gpu_fraction: float = 0.0  # a share of each of `gpu_devices` devices
    gpu_memory: int = 0  # MiB of each of `gpu_devices` devices
    cpu: int = 0  # millicores
    memory: int = 0  # MiB
    gpu_devices: int = 1  # how many devices get the share (`gpu-fraction-num-devices`)
    mig: tuple[tuple[str, int], ...] = ()  # (MIG profile, how many slices), by profile

    def gpu_milli(self, device_memory_mib: int = DEFAULT_GPU_MEMORY_MIB, mig_slices: int = mig_profiles.DEFAULT_SLICES) -> int:
        """Milli-GPUs the pod takes where its device has `device_memory_mib` (which only a `gpu-memory` ask
        depends on) and `mig_slices` compute slices (which only a MIG ask depends on)."""
        share = fraction_milli(self.gpu_fraction) if self.gpu_fraction else (
            memory_milli(self.gpu_memory, device_memory_mib) if self.gpu_memory else 0)
        slices = sum(count * mig_profiles.slice_milli(profile, mig_slices) for profile, count in self.mig)
        return self.gpus * MILLI + share * max(self.gpu_devices, 1) + slices


def pod_request(pod: Obj) -> PodRequest:
    """A pod's request: its containers' GPUs, CPU and memory (requests, else limits) and its GPU share."""
    gpus = cpu = memory = 0
    slices: dict[str, int] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        try:
            gpus += int(amount(limits.get(GPU_RESOURCE, requests.get(GPU_RESOURCE, 0)) or 0))
        except (ValueError, ArithmeticError, TypeError):
            pass
        for name in {*limits, *requests}:
            profile = mig_profiles.profile_of_resource(name)
            if profile is not None:
                try:
                    slices[profile] = slices.get(profile, 0) + int(amount(limits.get(name, requests.get(name)) or 0))
                except (ValueError, ArithmeticError, TypeError):
                    pass
        cpu += millicores(requests.get("cpu", limits.get("cpu", 0)) or 0)
        memory += mib(requests.get("memory", limits.get("memory", 0)) or 0)
    annotations = _meta(pod).get("annotations") or {}
    try:
        fraction = float(annotations.get(GPU_FRACTION_ANNOTATION) or 0)
    except ValueError:
        fraction = 0.0
    gpu_memory = str(annotations.get(GPU_MEMORY_ANNOTATION) or "0")
    devices = str(annotations.get(GPU_DEVICES_ANNOTATION) or "1").strip()
    return PodRequest(gpus, fraction, int(gpu_memory) if gpu_memory.isdigit() else 0, cpu, memory,
                      int(devices) if devices.isdigit() else 1,
                      tuple(sorted((p, n) for p, n in slices.items() if n > 0)))


def _device_entries(pod: Obj) -> list[tuple[int, int | None]]:
    raw = (_meta(pod).get("annotations") or {}).get(DEVICES_ANNOTATION) or ""
    out: list[tuple[int, int | None]] = []
    for part in raw.split(","):
        device, _, instance = part.strip().partition(":")
        if device.isdigit() and (not instance or instance.isdigit()):
            out.append((int(device), int(instance) if instance else None))
    return out


def pod_devices(pod: Obj) -> list[int]:
    """The GPU devices a placed pod holds (all or part of) on its node (`run.ai/gpu-devices`)."""
    return [device for device, _ in _device_entries(pod)]


def pod_held(pod: Obj) -> tuple[list[int], list[int]]:
    """The devices a placed pod holds (as `pod_devices`) and the MIG instance it holds on each
    (`<device>:<instance>`; empty when it holds no slices), from one reading of the annotation."""
    entries = _device_entries(pod)
    devices = [device for device, _ in entries]
    if entries and all(instance is not None for _, instance in entries):
        return devices, [instance for _, instance in entries]  # type: ignore[misc]
    return devices, []


def pod_mig_instances(pod: Obj) -> list[int]:
    """The MIG instance it holds on each of `pod_devices`; empty when it holds none."""
    return pod_held(pod)[1]


def devices_value(devices: Iterable[int], mig_instances: Iterable[int] = ()) -> str:
    """The `run.ai/gpu-devices` text for these devices (and the MIG instance on each, when it holds slices)."""
    instances = list(mig_instances)
    if instances:
        return ",".join(f"{d}:{i}" for d, i in zip(devices, instances))
    return ",".join(str(d) for d in devices)


def pools_of(obj: Obj) -> list[str]:
    """The node pools a pod or PodGroup prefers, in order (`run.ai/node-pools`); empty when it names none."""
    text = (_meta(obj).get("annotations") or {}).get(POOLS_ANNOTATION) or ""
    return [p for p in text.replace(",", " ").split() if p]


def finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def counts(pod: Obj) -> bool:
    """Whether a pod holds or asks for resources: not finished, and not being deleted before it was placed
    (a placed pod holds its node's resources until it is gone)."""
    if finished(pod):
        return False
    return not (_meta(pod).get("deletionTimestamp") and not (pod.get("spec") or {}).get("nodeName"))


# -- nodes ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NodeDevice:
    """One GPU of a node. `mig` is None for a GPU not in MIG mode, else the profiles of its MIG instances
    (instance i is `mig[i]`), which are all it offers: no whole-GPU or fractional pod may use it."""

    index: int
    memory_mib: int = DEFAULT_GPU_MEMORY_MIB
    mig: tuple[str, ...] | None = None
    mig_slices: int = mig_profiles.DEFAULT_SLICES


def _device(entry: Obj) -> NodeDevice:
    profiles = entry.get("mig")
    return NodeDevice(int(entry["index"]), int(entry.get("memoryMiB") or DEFAULT_GPU_MEMORY_MIB),
                      None if profiles is None else tuple(str(p) for p in profiles),  # instance i stays i
                      int(entry.get("migSlices") or mig_profiles.DEFAULT_SLICES))


def node_devices(node: Obj) -> list[NodeDevice]:
    """A node's GPU devices, as its `run.ai/gpus` annotation describes them (else `nvidia.com/gpu`)."""
    raw = (_meta(node).get("annotations") or {}).get(GPUS_ANNOTATION)
    if raw:
        try:
            found = [_device(g) for g in json.loads(raw)]
        except (ValueError, KeyError, TypeError, AttributeError):
            found = []
        if found:
            return found
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    try:
        count = int(amount(allocatable.get(GPU_RESOURCE, 0) or 0))
    except (ValueError, ArithmeticError, TypeError):
        count = 0
    return [NodeDevice(i) for i in range(count)]


def node_gpus(node: Obj) -> list[tuple[int, int]]:
    """A node's GPU devices as (index, memory MiB)."""
    return [(d.index, d.memory_mib) for d in node_devices(node)]


def node_ready(node: Obj) -> bool:
    """Whether the node's Ready condition is True."""
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def node_capacity(node: Obj) -> tuple[int, int]:
    """A node's allocatable (millicores, MiB)."""
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    return millicores(allocatable.get("cpu", 0)), mib(allocatable.get("memory", 0))


@dataclass(frozen=True, slots=True)
class PoolSelector:
    """A node pool as far as membership goes: nodes carrying `label_key=label_value` (no label: `default`)."""

    name: str
    label_key: str | None = None
    label_value: str | None = None


def pool_selector(node_pool: Obj) -> PoolSelector:
    """A NodePool object's selector."""
    spec = node_pool.get("spec") or {}
    return PoolSelector(_meta(node_pool)["name"], spec.get("labelKey"), spec.get("labelValue"))


def pool_of_node(labels: Mapping[str, str], pools: Iterable[PoolSelector]) -> str:
    """The node pool of a node with these labels: the first pool, by name, whose label it carries, else
    `default`. (Run:ai keeps a node in one pool; by name settles a node that two pools select.)"""
    for pool in sorted(pools, key=lambda p: p.name):
        if pool.label_key and labels.get(pool.label_key) == pool.label_value:
            return pool.name
    return DEFAULT_POOL
