"""GPU discovery: nvidia-smi's CSV, NVML through a stand-in pynvml module, and the order between them."""

from __future__ import annotations

import stat
import types
from pathlib import Path

from berth.nodes import gpus
from berth.nodes.node import Gpu

SMI = """\
0, GPU-8c2a6f7e-1d2b-4c3d-9e8f-0123456789ab, NVIDIA H100 80GB HBM3, 81559
1, GPU-11111111-2222-3333-4444-555555555555, NVIDIA H100 80GB HBM3, 81559

"""


def test_parses_nvidia_smi_csv():
    assert gpus.parse_nvidia_smi(SMI) == (
        Gpu(index=0, model="NVIDIA H100 80GB HBM3", memory_mib=81559, uuid="GPU-8c2a6f7e-1d2b-4c3d-9e8f-0123456789ab"),
        Gpu(index=1, model="NVIDIA H100 80GB HBM3", memory_mib=81559, uuid="GPU-11111111-2222-3333-4444-555555555555"),
    )


def test_a_line_nvidia_smi_could_not_fill_is_skipped_not_fatal():
    text = "0, GPU-a, NVIDIA A100-SXM4-40GB, 40960\n1, GPU-b, NVIDIA A100-SXM4-40GB, [N/A]\ngarbage\n"
    assert [g.index for g in gpus.parse_nvidia_smi(text)] == [0]


def test_a_model_name_with_a_comma_stays_whole():
    (gpu,) = gpus.parse_nvidia_smi("3, GPU-c, Some GPU, Rev 2, 1024\n")
    assert (gpu.index, gpu.model, gpu.memory_mib) == (3, "Some GPU, Rev 2", 1024)


class FakeNvml(types.SimpleNamespace):
    """What of pynvml discovery calls: two devices; names as bytes, as older pynvml returns them."""

    def __init__(self, fail_init: bool = False) -> None:
        super().__init__(calls=[])
        self.fail_init = fail_init

    def nvmlInit(self):
        self.calls.append("init")
        if self.fail_init:
            raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    def nvmlShutdown(self):
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):
        return f"handle-{i}"

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA H200" if handle == "handle-0" else "NVIDIA H200"

    def nvmlDeviceGetUUID(self, handle):
        return f"GPU-{handle}"

    def nvmlDeviceGetMemoryInfo(self, handle):
        return types.SimpleNamespace(total=143771 * 2**20, used=0, free=143771 * 2**20)


def test_nvml_lists_devices_and_shuts_down():
    nvml = FakeNvml()
    found = gpus.discover(nvml=nvml, nvidia_smi="/nonexistent/nvidia-smi")
    assert found == (Gpu(0, "NVIDIA H200", 143771, "GPU-handle-0"), Gpu(1, "NVIDIA H200", 143771, "GPU-handle-1"))
    assert nvml.calls == ["init", "shutdown"]


def fake_nvidia_smi(tmp_path: Path, output: str, code: int = 0) -> str:
    tool = tmp_path / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\ncat <<'EOF'\n{output}EOF\nexit {code}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return str(tool)


def test_without_a_driver_nvml_gives_way_to_nvidia_smi(tmp_path):
    tool = fake_nvidia_smi(tmp_path, SMI)
    found = gpus.discover(nvml=FakeNvml(fail_init=True), nvidia_smi=tool)
    assert [g.uuid for g in found] == ["GPU-8c2a6f7e-1d2b-4c3d-9e8f-0123456789ab",
                                       "GPU-11111111-2222-3333-4444-555555555555"]
    assert (tmp_path / "args").read_text().split() == list(gpus.NVIDIA_SMI_QUERY)


def test_a_failing_nvidia_smi_means_no_gpus(tmp_path):
    tool = fake_nvidia_smi(tmp_path, "NVIDIA-SMI has failed because it couldn't communicate with the driver\n", 9)
    assert gpus.discover(nvml=FakeNvml(fail_init=True), nvidia_smi=tool) == ()


def test_simulated_gpus_are_numbered_from_zero():
    assert [g.index for g in gpus.simulated(3)] == [0, 1, 2]
    assert all(g.model == gpus.SIMULATED_MODEL and not g.uuid for g in gpus.simulated(3))



class NVMLError_NotSupported(Exception):  # noqa: N801 - pynvml's name
    pass


class NVMLError_NotFound(Exception):  # noqa: N801
    pass


A100_BYTES = 40960 * 2**20
MIG_MEMORY_MIB = {"mig-0": 19968, "mig-1": 9984, "mig-3": 4864}  # 3g.20gb, 2g.10gb, (no device 2), 1g.5gb


class FakeMigNvml(FakeNvml):
    """An A100-SXM4-40GB in MIG mode (three MIG devices, NVML index 2 free) beside one that is not, the way
    pynvml answers: MIG-mode queries raise NotSupported on a GPU without MIG, a missing MIG device NotFound."""

    NVML_DEVICE_MIG_ENABLE = 1

    def nvmlDeviceGetName(self, handle):
        return "NVIDIA A100-SXM4-40GB"

    def nvmlDeviceGetMemoryInfo(self, handle):
        return types.SimpleNamespace(total=A100_BYTES, used=0, free=A100_BYTES)

    def nvmlDeviceGetMigMode(self, handle):
        if handle != "handle-0":
            raise NVMLError_NotSupported("Not Supported")
        return [1, 1]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle):
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle, index):
        if f"mig-{index}" not in MIG_MEMORY_MIB:
            raise NVMLError_NotFound("Not Found")
        return f"mig-{index}"

    def nvmlDeviceGetAttributes(self, mig):
        memory = MIG_MEMORY_MIB[mig]
        slices = {19968: 3, 9984: 2, 4864: 1}[memory]
        return types.SimpleNamespace(gpuInstanceSliceCount=slices, computeInstanceSliceCount=slices,
                                     memorySizeMB=memory, multiprocessorCount=14 * slices)

    def nvmlDeviceGetUUID(self, handle):
        return f"MIG-{handle}-uuid" if str(handle).startswith("mig-") else f"GPU-{handle}"


def test_nvml_lists_the_mig_devices_of_a_gpu_in_mig_mode():
    found = gpus.discover(nvml=FakeMigNvml(), nvidia_smi="/nonexistent/nvidia-smi")
    assert found[0].mig == ("3g.20gb", "2g.10gb", "", "1g.5gb")  # instance indexes are NVML's; 2 is a gap
    assert found[0].mig_uuids == ("MIG-mig-0-uuid", "MIG-mig-1-uuid", "", "MIG-mig-3-uuid")
    assert found[1].mig is None and found[1].mig_uuids == ()
    entry = found[0].entry()
    assert entry["mig"] == ["3g.20gb", "2g.10gb", "", "1g.5gb"] and entry["migSlices"] == 7


def test_mig_profiles_are_named_as_nvidia_names_them():
    # memory as eighths of the GPU's, rounded up: A100-40GB and H100-80GB slices, a compute-instance profile
    assert gpus.mig_profile_name(7, 7, 40192, A100_BYTES) == "7g.40gb"
    assert gpus.mig_profile_name(1, 1, 9856, 81559 * 2**20) == "1g.10gb"
    assert gpus.mig_profile_name(3, 1, 19968, A100_BYTES) == "1c.3g.20gb"
