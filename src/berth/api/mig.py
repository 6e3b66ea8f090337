"""MIG profiles: their names, the resources that carry them, and what a slice counts for.

A MIG (Multi-Instance GPU) slice is a hardware partition of one NVIDIA GPU, named by its profile:
`<g>g.<m>gb`, `g` of the GPU's compute slices and about `m` GB of its memory (NVIDIA's MIG User Guide,
"Supported MIG Profiles"; go-nvlib builds the same name from NVML's attributes). NVIDIA's device plugin, in
its `mixed` strategy, offers each profile as the extended resource `nvidia.com/mig-<profile>` and a pod asks
for slices there, `nvidia.com/mig-1g.5gb: 1`; KAI-Scheduler reads MIG requests the same way.

What a slice counts for in quotas and usage (Berth's choice, written in docs/scheduler.md): its share of its
GPU's compute slices, `g / slices` of one GPU, in milli-GPUs rounded down (so the slices of one GPU never add
up to more than it): a 3g.20gb of an A100 (7 slices) is 0.428 GPU, a 2g.12gb of an A30 (4 slices) 0.5. KAI-Scheduler charges `g` whole GPUs instead, which makes a fully
partitioned A100 cost seven GPUs of quota; a share keeps quotas in physical GPUs, as fractions are.

Pure and free of the rest of Berth, so that the scheduler, the controllers and the node agents read MIG
the same way.
"""

from __future__ import annotations

import re

MILLI = 1000
RESOURCE_PREFIX = "nvidia.com/mig-"
DEFAULT_SLICES = 7  # A100, H100, H200, B200: seven compute slices

_PROFILE = re.compile(r"^([1-8])g\.([0-9]+)gb$")

# The profiles of the GPUs that support MIG, by model (NVIDIA MIG User Guide, "Supported MIG Profiles" and
# "Supported GPUs"), and how many compute slices each has. Used to check a cluster file and to know a GPU's
# slices; a model not listed has 7 slices and any well-formed profile.
FAMILIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "A30": (4, ("1g.6gb", "2g.12gb", "4g.24gb")),
    "A100-40GB": (7, ("1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb")),
    "A100-80GB": (7, ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")),
    "H100-80GB": (7, ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")),
    "H100-94GB": (7, ("1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb")),
    "H100-96GB": (7, ("1g.12gb", "1g.24gb", "2g.24gb", "3g.48gb", "4g.48gb", "7g.96gb")),
    "H200": (7, ("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb")),
    "B200": (7, ("1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb")),
    "RTX-PRO-6000": (4, ("1g.24gb", "2g.48gb", "4g.96gb")),
}


def is_profile(text: str) -> bool:
    """Whether `text` has the form of a MIG profile name (`1g.5gb`)."""
    return bool(_PROFILE.match(text))


def compute_slices_of(profile: str) -> int:
    """The `g` of a profile: how many of its GPU's compute slices it takes. ValueError when not a profile."""
    found = _PROFILE.match(profile)
    if not found:
        raise ValueError(f"{profile!r} is not a MIG profile; MIG profiles look like 1g.5gb or 3g.20gb")
    return int(found.group(1))


def memory_gb_of(profile: str) -> int:
    found = _PROFILE.match(profile)
    if not found:
        raise ValueError(f"{profile!r} is not a MIG profile; MIG profiles look like 1g.5gb or 3g.20gb")
    return int(found.group(2))


def resource_name(profile: str) -> str:
    """`1g.5gb` -> `nvidia.com/mig-1g.5gb`."""
    return RESOURCE_PREFIX + profile


def profile_of_resource(resource: str) -> str | None:
    """`nvidia.com/mig-1g.5gb` -> `1g.5gb`; None for any other resource."""
    if not resource.startswith(RESOURCE_PREFIX):
        return None
    profile = resource[len(RESOURCE_PREFIX):]
    return profile if is_profile(profile) else None


def family_of(model: str, memory_mib: int = 0) -> str | None:
    """The MIG family of a GPU model name ("NVIDIA-A100-SXM4-40GB", "NVIDIA H100 80GB HBM3"), or None."""
    name = model.upper().replace(" ", "-").replace("_", "-")
    gb = round(memory_mib / 1024) if memory_mib else 0
    if "A30" in name:
        return "A30"
    if "RTX-PRO-6000" in name:
        return "RTX-PRO-6000"
    for family in ("B200", "H200"):
        if family in name:
            return family
    for family, sizes in (("A100", (40, 80)), ("H100", (80, 94, 96))):
        if family in name:
            for size in sizes:
                if f"{size}GB" in name or (gb and abs(gb - size) <= 2):
                    return f"{family}-{size}GB"
            return f"{family}-{sizes[0]}GB"
    return None


def slices_of(model: str, memory_mib: int = 0) -> int:
    """Compute slices of a GPU of this model (7 where the model is not known)."""
    family = family_of(model, memory_mib)
    return FAMILIES[family][0] if family else DEFAULT_SLICES


def profiles_of(model: str, memory_mib: int = 0) -> tuple[str, ...] | None:
    """The MIG profiles a GPU of this model offers, or None when the model is not known."""
    family = family_of(model, memory_mib)
    return FAMILIES[family][1] if family else None


def slice_milli(profile: str, slices: int = DEFAULT_SLICES) -> int:
    """What one slice of `profile` counts for, in milli-GPUs, on a GPU with `slices` compute slices."""
    return min(MILLI, compute_slices_of(profile) * MILLI // max(slices, 1))
