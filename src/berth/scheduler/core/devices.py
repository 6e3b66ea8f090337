"""A node's free resources and the packing of GPU shares onto its devices.

Each device is 1000 milli-GPUs. A whole-GPU pod takes devices that are entirely free; a fractional pod (a
`gpu-fraction`, or `gpu-memory` turned into the share of that device's memory, rounded up) takes part of one
device, and the shares on a device never add up to more than 1000. That is the whole of the GPU-sharing rule:
0.5 + 0.5 fit on one device, 0.5 + 0.7 do not.

Which device a share goes to follows the pool's strategy: `binpack` takes the fullest device that still fits
(leaving whole devices free for whole-GPU pods), `spread` the emptiest.

`NodeState` is mutated only by `state.ClusterState`, which keeps the pool indexes in step with it.
"""

from __future__ import annotations

from typing import NamedTuple

from berth.api.usage import memory_milli
from berth.scheduler.core.resources import MILLI

BINPACK, SPREAD = "binpack", "spread"


class Shape(NamedTuple):
    """A pod's request in the core's units. Exactly one of gpus / milli / gmem is non-zero for a GPU pod."""

    gpus: int = 0  # whole devices
    milli: int = 0  # share of one device
    gmem: int = 0  # MiB of one device
    cpu: int = 0
    mem: int = 0

    @property
    def shared(self) -> bool:
        return bool(self.milli or self.gmem)

    @property
    def any_gpu(self) -> bool:
        return bool(self.gpus or self.milli or self.gmem)


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

    def free_gpu(self) -> int:
        return sum(f for f in self.dev_free if f > 0)


def need_milli(shape: Shape, dev_mem: int) -> int:
    """Milli-GPUs a shared pod takes on a device with `dev_mem` MiB (more than 1000 means it cannot fit)."""
    if shape.milli:
        return shape.milli
    return memory_milli(shape.gmem, dev_mem)


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


def fit_on(node: NodeState, shape: Shape, strategy: str) -> tuple[tuple[int, ...], int] | None:
    """Where on this node the pod would go: (devices, milli per device), or None if it does not fit."""
    if not node.schedulable or not fits_host(node, shape):
        return None
    if shape.gpus:
        devices = whole_devices(node, shape.gpus)
        return (devices, MILLI) if devices is not None else None
    if shape.shared:
        found = shared_device(node, shape, strategy)
        return ((found[0],), found[1]) if found is not None else None
    return ((), 0)
