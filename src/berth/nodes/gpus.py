"""GPU discovery for the local node: which NVIDIA GPUs this machine has, through NVML or nvidia-smi.

Order: NVML through `pynvml` (the package nvidia-ml-py) when it imports and initialises, else
`nvidia-smi --query-gpu=...` when it is on PATH, else none. Both report devices by their NVML index, which
is the PCI bus order; the process runtime pairs `CUDA_VISIBLE_DEVICES` with `CUDA_DEVICE_ORDER=PCI_BUS_ID`
so that CUDA counts them the same way.

A GPU in MIG mode (NVML's current MIG mode enabled) is reported with its MIG devices, by their NVML index
(`nvmlDeviceGetMigDeviceHandleByIndex`): each one's profile is named from its attributes as NVIDIA's
go-nvlib names it (`<g>g.<m>gb`: its GPU-instance slices, and its memory as a share of the GPU's, rounded up
to eighths, times the GPU's whole GB; `<c>c.<g>g.<m>gb` when its compute instance is smaller), and its UUID
(`MIG-...`) is what the pod's `CUDA_VISIBLE_DEVICES` names. A MIG device NVML cannot read is left as a
gap (an empty profile nothing asks for), so the others keep their indexes. nvidia-smi's query does not
list MIG devices: a machine whose GPUs are in MIG mode needs NVML.

Discovery never raises: a machine without a driver, or with a broken one, has no GPUs, and the reason is
logged. `simulated(n)` makes the stand-ins `berth up --gpus N` advertises on a machine without GPUs.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import shutil
import subprocess
from types import ModuleType

from berth.nodes.node import Gpu

log = logging.getLogger(__name__)

NVIDIA_SMI_QUERY = ("--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits")
SIMULATED_MODEL = "NVIDIA-Simulated"
SIMULATED_MEMORY_MIB = 81920


def discover(*, nvml: ModuleType | None = None, nvidia_smi: str | None = None) -> tuple[Gpu, ...]:
    """This machine's GPUs, by index. `nvml` (a pynvml-like module) and `nvidia_smi` (the tool's path) are
    for tests; by default they are looked up."""
    module = nvml if nvml is not None else _import_pynvml()
    if module is not None:
        found = from_nvml(module)
        if found is not None:
            return found
    tool = nvidia_smi or shutil.which("nvidia-smi")
    if tool is None:
        return ()
    text = query_nvidia_smi(tool)
    return parse_nvidia_smi(text) if text is not None else ()


def _import_pynvml() -> ModuleType | None:
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return None


def _text(value: bytes | str) -> str:
    """Older pynvml versions return bytes for names and UUIDs, newer ones str."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def from_nvml(nvml: ModuleType) -> tuple[Gpu, ...] | None:
    """The GPUs NVML reports; None when NVML cannot be used (no driver), so the caller tries nvidia-smi."""
    try:
        nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError subclasses, or OSError without libnvidia-ml
        log.info("NVML is not usable (%s); trying nvidia-smi", exc)
        return None
    try:
        gpus = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            total = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
            profiles, uuids = _mig_devices(nvml, handle, total) if _mig_enabled(nvml, handle) else (None, ())
            gpus.append(Gpu(index=index, model=_text(nvml.nvmlDeviceGetName(handle)), memory_mib=total // 2**20,
                            uuid=_text(nvml.nvmlDeviceGetUUID(handle)), mig=profiles, mig_uuids=uuids))
        return tuple(gpus)
    except Exception as exc:  # noqa: BLE001 - a broken driver must not stop the node
        log.warning("NVML failed while listing GPUs (%s); trying nvidia-smi", exc)
        return None
    finally:
        with contextlib.suppress(Exception):  # nothing to do about a failing shutdown
            nvml.nvmlShutdown()


def _mig_enabled(nvml: ModuleType, handle: object) -> bool:
    """Whether the GPU is in MIG mode now; a GPU without MIG support (NVML says NotSupported) is not."""
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except Exception:  # noqa: BLE001 - NVMLError_NotSupported on GPUs without MIG, or an old pynvml
        return False
    return int(current) == int(getattr(nvml, "NVML_DEVICE_MIG_ENABLE", 1))


def mig_profile_name(gi_slices: int, ci_slices: int, memory_mib: int, gpu_memory_bytes: int) -> str:
    """The profile of a MIG device, as go-nvlib names it from NVML's attributes: memory as a share of the
    GPU's, rounded up to eighths, times the GPU's memory in whole GB (rounded up), rounded."""
    share = math.ceil(memory_mib * 2**20 / gpu_memory_bytes * 8) / 8
    gb = round(share * -(-gpu_memory_bytes // 2**30))
    return f"{gi_slices}g.{gb}gb" if ci_slices == gi_slices else f"{ci_slices}c.{gi_slices}g.{gb}gb"


def _mig_devices(nvml: ModuleType, handle: object, gpu_memory_bytes: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The profiles and UUIDs of a MIG-mode GPU's MIG devices, by MIG device index."""
    profiles: list[str] = []
    uuids: list[str] = []
    for i in range(int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle))):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, i)
            attributes = nvml.nvmlDeviceGetAttributes(mig)
            profile = mig_profile_name(int(attributes.gpuInstanceSliceCount), int(attributes.computeInstanceSliceCount),
                                       int(attributes.memorySizeMB), gpu_memory_bytes)
            uuid = _text(nvml.nvmlDeviceGetUUID(mig))
        except Exception:  # noqa: BLE001 - no MIG device at this index (NVMLError_NotFound), or unreadable
            profile, uuid = "", ""
        profiles.append(profile)
        uuids.append(uuid)
    while profiles and not profiles[-1]:  # gaps at the end are no devices at all
        profiles.pop()
        uuids.pop()
    return tuple(profiles), tuple(uuids)


def query_nvidia_smi(tool: str = "nvidia-smi", timeout: float = 15.0) -> str | None:
    """The CSV that `nvidia-smi --query-gpu` prints, or None when it fails (no driver, no device)."""
    try:
        result = subprocess.run([tool, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=timeout,
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("nvidia-smi could not run: %s", exc)
        return None
    if result.returncode != 0:
        log.info("nvidia-smi found no GPUs (exit %d): %s", result.returncode, result.stderr.strip()[:200])
        return None
    return result.stdout


def parse_nvidia_smi(text: str) -> tuple[Gpu, ...]:
    """Parse `index, uuid, name, memory.total` lines (`--format=csv,noheader,nounits`); memory in MiB.

    A line that does not parse is skipped with a warning rather than failing the node: a GPU that
    cannot be read is a GPU that cannot be offered."""
    gpus = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 4:
            log.warning("nvidia-smi: skipping a line without index, uuid, name and memory: %r", line)
            continue
        index, uuid, memory = fields[0], fields[1], fields[-1]
        name = ", ".join(fields[2:-1])  # a model name with a comma in it stays whole
        try:
            gpus.append(Gpu(index=int(index), model=name, memory_mib=int(float(memory)), uuid=uuid))
        except ValueError:
            log.warning("nvidia-smi: skipping a line with an unreadable index or memory: %r", line)
    return tuple(sorted(gpus, key=lambda g: g.index))


def simulated(count: int, *, model: str = SIMULATED_MODEL, memory_mib: int = SIMULATED_MEMORY_MIB) -> tuple[Gpu, ...]:
    """`count` stand-in GPUs, indexes 0..count-1, for a machine without real ones."""
    return tuple(Gpu(index=i, model=model, memory_mib=memory_mib) for i in range(count))
