"""MIG profile names, their resources, and what a slice counts for (`berth.api.mig`)."""

from __future__ import annotations

import pytest

from berth.api import mig


@pytest.mark.parametrize(("model", "memory_mib", "slices", "first"), [
    ("NVIDIA-A100-SXM4-40GB", 40960, 7, "1g.5gb"),
    ("NVIDIA A100 80GB PCIe", 81920, 7, "1g.10gb"),
    ("NVIDIA H100 NVL", 95830, 7, "1g.12gb"),  # the model says no size: the memory does
    ("NVIDIA H200", 143771, 7, "1g.18gb"),
    ("NVIDIA A30", 24576, 4, "1g.6gb"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", 97887, 4, "1g.24gb"),
])
def test_a_gpu_model_has_its_families_profiles_and_slices(model, memory_mib, slices, first):
    assert mig.slices_of(model, memory_mib) == slices
    assert mig.profiles_of(model, memory_mib)[0] == first


def test_an_unknown_model_has_seven_slices_and_no_profile_list():
    assert (mig.slices_of("Tesla-T4", 15360), mig.profiles_of("Tesla-T4")) == (7, None)


def test_a_slice_counts_its_share_of_compute_slices_rounded_down():
    assert [mig.slice_milli(p) for p in ("1g.5gb", "3g.20gb", "4g.20gb", "7g.40gb")] == [142, 428, 571, 1000]
    assert mig.slice_milli("2g.12gb", 4) == 500
    assert sum(mig.slice_milli(p) for p in ("3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb")) <= 1000


def test_resource_names_go_both_ways_and_only_for_profiles():
    assert mig.resource_name("1g.5gb") == "nvidia.com/mig-1g.5gb"
    assert mig.profile_of_resource("nvidia.com/mig-1g.5gb") == "1g.5gb"
    assert mig.profile_of_resource("nvidia.com/gpu") is None and mig.profile_of_resource("nvidia.com/mig-x") is None
    with pytest.raises(ValueError, match="MIG profiles look like 1g.5gb"):
        mig.compute_slices_of("big")
