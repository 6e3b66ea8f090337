"""The model is one source of truth: every field documented, and each policy kind mirrors its workload."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from berth.api.base import DOC_KEY, Items, Value, annotation_of, generic_arg, strip_optional
from berth.api.policies import POLICY_FOR_WORKLOAD
from berth.api.registry import KINDS
from berth.api.workloads import WORKLOAD_SPECS


def _walk(model: type[BaseModel], path: str = ""):
    for name, info in model.model_fields.items():
        yield f"{path}{name}", info
        inner = strip_optional(annotation_of(info))
        if generic_arg(inner, Value) is None and generic_arg(inner, Items) is None:
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from _walk(inner, f"{path}{name}.")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_field_has_a_description(kind):
    missing = [path for path, info in _walk(kind.model) if not (info.description or "").strip()]
    assert missing == []


@pytest.mark.parametrize("kind", list(WORKLOAD_SPECS), ids=str)
def test_every_workload_field_says_how_it_is_set(kind):
    """Each spec field names its runai submit flag, or says that only YAML sets it."""
    unsaid = []
    for path, info in _walk(WORKLOAD_SPECS[kind]):
        extra = (info.json_schema_extra or {}).get(DOC_KEY)
        if extra is None:  # a group such as runPolicy; its members carry the documentation
            continue
        text = info.description
        if not ("runai submit" in text or "set it in YAML" in text):
            unsaid.append(path)
    assert unsaid == []


def test_gpu_description_gives_unit_default_and_flag():
    info = WORKLOAD_SPECS["TrainingWorkload"].model_fields["gpu"]
    assert "Unit: GPUs." in info.description
    assert "Default: none" in info.description
    assert "`runai submit --gpu, -g`" in info.description
    assert info.json_schema_extra[DOC_KEY]["flag"] == "--gpu, -g"


def _shape(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


@pytest.mark.parametrize("workload", list(POLICY_FOR_WORKLOAD), ids=str)
def test_each_policy_kind_has_exactly_its_workload_fields(workload):
    spec = WORKLOAD_SPECS[workload]
    policy_spec = POLICY_FOR_WORKLOAD[workload].model_fields["spec"].annotation
    assert _shape(policy_spec) == _shape(spec)


def test_policy_shapes_follow_the_field_kinds():
    policy = POLICY_FOR_WORKLOAD["TrainingWorkload"].model_fields["spec"].annotation
    gpu = strip_optional(policy.model_fields["gpu"].annotation)
    assert set(gpu.model_fields) == {"rules", "value"}
    gpu_rules = strip_optional(gpu.model_fields["rules"].annotation)
    assert set(gpu_rules.model_fields) == {"required", "canEdit", "min", "max", "options"}
    shm_rules = strip_optional(strip_optional(policy.model_fields["largeShm"].annotation).model_fields["rules"].annotation)
    assert set(shm_rules.model_fields) == {"required", "canEdit"}
    ports = strip_optional(policy.model_fields["ports"].annotation)
    assert set(ports.model_fields) == {"rules", "itemRules", "items"}
    environment = strip_optional(policy.model_fields["environment"].annotation)
    assert set(environment.model_fields) == {"rules", "items"}


def test_policy_groups_mirror_workload_groups():
    policy = POLICY_FOR_WORKLOAD["DistributedWorkload"].model_fields["spec"].annotation
    master = strip_optional(policy.model_fields["masterSpec"].annotation)
    assert set(master.model_fields) == set(WORKLOAD_SPECS["DistributedWorkload"].model_fields["masterSpec"].annotation.__args__[0].model_fields)
