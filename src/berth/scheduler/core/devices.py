"""A node's free resources and the packing of GPU shares onto its devices.

Each device is 1000 milli-GPUs. A whole-GPU pod takes devices that are entirely free; a fractional pod (a
`gpu-fraction`, or `gpu-memory` turned into the share of that device's memory, rounded up) takes part of one
device, and the shares on a device never add up to more than 1000. That is the whole of the GPU-sharing rule:
0.5 + 0.5 fit on one device, 0.5 + 0.7 do not.

Which device a share goes to follows the pool's strategy: `binpack` takes the fullest device that still fits
(leaving whole devices free for whole-GPU pods), `spread` the emptiest. A share asked of several devices
(KAI's `gpu-fraction-num-devices`) takes that many distinct devices of one node, each with room for it.

A GPU in MIG mode is not a device here at all: its `dev_free` is 0, so no whole-GPU or fractional pod ever
lands on it, and what it offers are its MIG instances, the node's MIG *slots* (device, instance, profile,
what it counts for). A MIG pod takes free slots of its profile; its placement's `devices` are slot numbers,
not device indexes (`slot_devices` turns them back). So whole GPUs, fractions and MIG slices never share a
device, whatever the node mixes.

`NodeState` is mutated only by `state.ClusterState`, which keeps the pool indexes in step with it.
"""

from __future__ import annotations

from typing import NamedTuple

from berth.api.mig import is_profile, slice_milli
from berth.api.usage import memory_milli
from berth.scheduler.core.resources import MILLI
from berth.scheduler.core.snapshot import Node, Pod

BINPACK, SPREAD = "binpack", "spread"


class Shape(NamedTuple):
    """A pod's request in the core's units. Exactly one of gpus / milli / gmem / mig is set for a GPU pod."""

    gpus: int = 0  # whole devices
    milli: int = 0  # share of each of `count` devices
    gmem: int = 0  # MiB of each of `count` devices
    cpu: int = 0
    mem: int = 0
    count: int = 1  # devices a share goes on, or MIG slices asked
    mig: str = ""  # the MIG profile of the slices asked

    @property
    def shared(self) -> bool:
        return bool(self.milli or self.gmem)

    @property
    def any_gpu(self) -> bool:
        return bool(self.gpus or self.milli or self.gmem or self.mig)


class NodeState:
    """What is free on one node right now."""

    __slots__ = (
        "cap_cpu",
        "cap_mem",
        "dev_free",
        "dev_mem",
        "free_cpu",
        "free_mem",
        "idx",
        "max_pods",
        "mig_dev",
        "mig_free",
        "mig_milli",
        "mig_slots",
        "mig_used",
        "name",
        "pods",
        "pool",
        "schedulable",
        "surplus",
        "whole",
    )

    def __init__(self, idx: int, name: str, pool: str, cpu: int, mem: int, max_pods: int,
                 dev_free: list[int], dev_mem: list[int], schedulable: bool) -> None:
        self.idx = idx
        self.name = name
        self.pool = pool
        self.free_cpu = self.cap_cpu = cpu
        self.free_mem = self.cap_mem = mem
        self.pods = 0
        self.max_pods = max_pods
        self.dev_free = dev_free
        self.dev_mem = dev_mem
        self.whole = sum(1 for f in dev_free if f == MILLI)
        self.schedulable = schedulable
        self.surplus = 0.0  # the CPU-surplus key it is indexed under (see `placement`)
        self.mig_dev: frozenset[int] = frozenset()  # devices in MIG mode
        self.mig_slots: tuple[tuple[int, int, str, int], ...] = ()  # (device, instance, profile, milli)
        self.mig_used: list[bool] = []  # per slot
        self.mig_free: dict[str, int] = {}  # free slots per profile
        self.mig_milli = 0  # what the free slots count for

    def set_mig(self, devices: frozenset[int], slots: tuple[tuple[int, int, str, int], ...]) -> None:
        self.mig_dev, self.mig_slots = devices, slots
        self.mig_used = [False] * len(slots)
        for _, _, profile, milli in slots:
            self.mig_free[profile] = self.mig_free.get(profile, 0) + 1
            self.mig_milli += milli

    def take_slots(self, slots: tuple[int, ...], sign: int = 1) -> int:
        """Mark MIG slots taken (sign 1) or free again (-1); what they count for."""
        total = 0
        for s in slots:
            _, _, profile, milli = self.mig_slots[s]
            self.mig_used[s] = sign > 0
            self.mig_free[profile] -= sign
            self.mig_milli -= sign * milli
            total += milli
        return total

    def free_gpu(self) -> int:
        return sum(f for f in self.dev_free if f > 0) + self.mig_milli

    def slot_devices(self, slots: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """MIG slots as (devices, the MIG instance on each)."""
        return tuple(self.mig_slots[s][0] for s in slots), tuple(self.mig_slots[s][1] for s in slots)


def node_state(idx: int, node: Node, pool: str) -> NodeState:
    """A snapshot node as the cycle starts with it: a GPU in MIG mode offers its instances as slots."""
    dev_free: list[int] = []
    mig_dev: set[int] = set()
    slots: list[tuple[int, int, str, int]] = []
    for d, gpu in enumerate(node.gpus):
        if gpu.mig is None:
            dev_free.append(MILLI - round(gpu.used * MILLI))
            continue
        dev_free.append(0)
        mig_dev.add(d)
        slots.extend((d, i, profile, slice_milli(profile, gpu.mig_slices))
                     for i, profile in enumerate(gpu.mig) if is_profile(profile))
    state = NodeState(idx, node.name, pool, node.cpu, node.memory, node.max_pods, dev_free,
                      [d.memory_mib for d in node.gpus], not node.unschedulable)
    if mig_dev:
        state.set_mig(frozenset(mig_dev), tuple(slots))
    return state


def need_milli(shape: Shape, dev_mem: int) -> int:
    """Milli-GPUs a shared pod takes on a device with `dev_mem` MiB (more than 1000 means it cannot fit)."""
    if shape.milli:
        return shape.milli
    return memory_milli(shape.gmem, dev_mem)


def gpu_shape(pod: Pod, gpus: int, milli: int, gmem: int) -> Shape | str:
    """The pod's shape from its GPU ask (at most one kind of it, checked by the caller), or what is wrong."""
    if pod.mig:
        if len(pod.mig) > 1:
            return (f"asks for MIG slices of {len(pod.mig)} profiles ({', '.join(sorted(pod.mig))}); a pod may ask "
                    "for slices of one profile")
        ((profile, count),) = pod.mig.items()
        if not is_profile(profile) or count < 1:
            return f"asks for {count} MIG slices of {profile!r}; ask for at least one of a profile like 1g.5gb"
        return Shape(0, 0, 0, pod.cpu, pod.memory, count, profile)
    count = pod.gpu_devices
    if count != 1 and not (milli or gmem):
        return f"sets gpu-fraction-num-devices ({count}) without gpu-fraction or gpu-memory; give one of them"
    if count < 1:
        return f"gpu-fraction-num-devices {count} must be at least 1"
    return Shape(gpus, milli, gmem, pod.cpu, pod.memory, count)


def request_milli(shape: Shape, pool) -> int:
    """Milli-GPUs a pod asks of a pool (`pool`: its `placement.PoolIndex`, or None): a `gpu-memory` ask as a
    share of the pool's largest device, a MIG slice at what a slice of its profile counts for there (on a
    7-slice GPU where the pool has none)."""
    if shape.gpus:
        return shape.gpus * MILLI
    if shape.mig:
        per = pool.mig_milli.get(shape.mig) if pool is not None else None
        return shape.count * (per if per is not None else slice_milli(shape.mig))
    if shape.milli:
        return shape.milli * shape.count
    if shape.gmem:
        return need_milli(shape, pool.max_dev_mem if pool is not None else 0) * shape.count
    return 0


def fits_host(node: NodeState, shape: Shape) -> bool:
    """CPU, memory and pod count: what every pod needs besides GPUs."""
    return node.free_cpu >= shape.cpu and node.free_mem >= shape.mem and node.pods < node.max_pods


def whole_devices(node: NodeState, count: int) -> tuple[int, ...] | None:
    """The first `count` entirely free devices, or None."""
    chosen = tuple(d for d, free in enumerate(node.dev_free) if free == MILLI)[:count]
    return chosen if len(chosen) == count else None


def shared_device(node: NodeState, shape: Shape, strategy: str) -> tuple[int, int] | None:
    """(device, milli) for a shared pod on this node: the fullest device that fits (binpack) or the emptiest."""
    best: tuple[int, int] | None = None
    best_free = 0
    for d, free in enumerate(node.dev_free):
        need = need_milli(shape, node.dev_mem[d])
        if free < need:
            continue
        if best is None or (free < best_free if strategy == BINPACK else free > best_free):
            best, best_free = (d, need), free
    return best


def shared_devices(node: NodeState, shape: Shape, strategy: str) -> tuple[tuple[int, ...], int] | None:
    """(devices, milli on each) for a share asked of `shape.count` devices: the fullest that fit (binpack) or
    the emptiest, each distinct and each with room for the share."""
    if shape.count <= 1:
        found = shared_device(node, shape, strategy)
        return ((found[0],), found[1]) if found is not None else None
    fitting = [(free, d, need) for d, free in enumerate(node.dev_free)
               if free >= (need := need_milli(shape, node.dev_mem[d]))]
    if len(fitting) < shape.count:
        return None
    fitting.sort(key=(lambda t: (t[0], t[1])) if strategy == BINPACK else (lambda t: (-t[0], t[1])))
    chosen = fitting[:shape.count]
    milli = max(need for _, _, need in chosen)  # one share for all (a node's GPUs are alike)
    if any(free < milli for free, _, _ in chosen):
        return None
    return tuple(sorted(d for _, d, _ in chosen)), milli


def mig_fit(node: NodeState, shape: Shape) -> tuple[tuple[int, ...], int] | None:
    """(slots, milli of each) for `shape.count` free MIG slots of the pod's profile on this node, or None."""
    if node.mig_free.get(shape.mig, 0) < shape.count:
        return None
    used, slots = node.mig_used, node.mig_slots
    chosen = tuple(s for s in range(len(slots)) if slots[s][2] == shape.mig and not used[s])[:shape.count]
    return chosen, slots[chosen[0]][3]


def room_for(node: NodeState, shape: Shape, devices: tuple[int, ...], milli: int) -> bool:
    """Whether these devices (MIG slots for a MIG pod) still have room for the pod as it was placed."""
    if shape.mig:
        return all(not node.mig_used[s] for s in devices)
    return all(node.dev_free[d] >= milli for d in devices)


def running_placement(node: NodeState, shape: Shape, devices: list[int], instances: list[int]) -> tuple[tuple[int, ...], int]:
    """(devices, milli) a running pod holds, from what its annotation says; where that says nothing usable
    (an older pod, a node that changed), the devices it most likely holds, so that it is still counted."""
    held = tuple(d for d in devices if 0 <= d < len(node.dev_free))
    if shape.mig:
        wanted = set(zip(devices, instances))
        slots = node.mig_slots
        mine = [s for s in range(len(slots)) if (slots[s][0], slots[s][1]) in wanted and slots[s][2] == shape.mig
                and not node.mig_used[s]]
        spare = [s for s in range(len(slots)) if slots[s][2] == shape.mig and not node.mig_used[s] and s not in mine]
        chosen = tuple((mine + spare)[:shape.count])
        return (chosen, slots[chosen[0]][3]) if chosen else ((), 0)
    if shape.gpus:
        if len(held) != shape.gpus:
            usable = [d for d in range(len(node.dev_free)) if d not in node.mig_dev]
            free = [d for d in usable if node.dev_free[d] == MILLI]
            held = tuple((free + [d for d in usable if d not in free])[: shape.gpus])
        return held, MILLI
    if shape.shared:
        if not held:
            usable = [d for d in range(len(node.dev_free)) if d not in node.mig_dev]
            held = tuple(sorted(usable, key=lambda d: (-node.dev_free[d], d))[: shape.count])
        if held:
            held = held[: shape.count]
            return held, need_milli(shape, node.dev_mem[held[0]])
    return (), 0


def fit_on(node: NodeState, shape: Shape, strategy: str) -> tuple[tuple[int, ...], int] | None:
    """Where on this node the pod would go: (devices, milli per device), or None if it does not fit."""
    if not node.schedulable or not fits_host(node, shape):
        return None
    if shape.gpus:
        devices = whole_devices(node, shape.gpus)
        return (devices, MILLI) if devices is not None else None
    if shape.shared:
        return shared_devices(node, shape, strategy)
    if shape.mig:
        return mig_fit(node, shape)
    return ((), 0)
