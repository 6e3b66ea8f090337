"""Amounts of the three scheduled resources, as plain integer tuples, and how to say them to people.

Inside the core an amount is `(gpu_milli, cpu_millicores, memory_mib)`: integers, so that usage added and taken
away many times over a cycle comes back to exactly where it started (no float drift), and a device's shares
sum to at most 1000. Tuples rather than objects because these are added up in the hot loops.
"""

from __future__ import annotations

from berth.api.usage import MILLI

GPU, CPU, MEM = 0, 1, 2
NAMES = ("gpu", "cpu", "memory")
ZERO: tuple[int, int, int] = (0, 0, 0)

Amount = tuple[int, int, int]


def add(a: Amount, b: Amount) -> Amount:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def sub(a: Amount, b: Amount) -> Amount:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def gpus(milli: float) -> str:
    """`3 GPUs`, `1 GPU`, `0.5 GPU`: milli-GPUs in words."""
    value = milli / MILLI
    text = f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return f"{text} GPU" + ("" if value == 1 or 0 < value < 1 else "s")


def say(dim: int, value: float) -> str:
    """One amount in words, in the unit people use for it."""
    if dim == GPU:
        return gpus(value)
    if dim == CPU:
        cores = value / 1000
        text = f"{cores:.2f}".rstrip("0").rstrip(".") if cores != int(cores) else str(int(cores))
        return f"{text} CPU core" + ("" if cores == 1 else "s")
    gib = value / 1024
    text = f"{gib:.1f}".rstrip("0").rstrip(".") if gib != int(gib) else str(int(gib))
    return f"{text} GiB of memory"


def quota_milli(dim: int, value: float) -> float:
    """A quota from the snapshot (GPUs, millicores, MiB) in the core's units (milli-GPUs, millicores, MiB)."""
    return value * MILLI if dim == GPU else value
