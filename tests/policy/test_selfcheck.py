"""A policy that contradicts itself is refused when the admin writes it, with the field and the reason."""

from __future__ import annotations

import pytest

from berth.policy import check_policy
from berth.policy.shapes import spec_shapes
from tests.policy.helpers import EXAMPLES, example


def problems(spec: dict, kind: str = "TrainingWorkload") -> list[str]:
    return [str(v) for v in check_policy(spec, spec_shapes(kind))]


@pytest.mark.parametrize("file", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_the_example_policies_are_consistent(file):
    pol = example(file)
    assert problems(pol["spec"], pol["kind"].replace("Policy", "Workload")) == []


def test_a_default_above_the_maximum():
    assert problems({"gpu": {"rules": {"max": "2"}, "value": "4"}}) == [
        "spec.gpu.value: the default must be no greater than 2 by the policy's own rules"]


def test_a_default_below_the_minimum_by_amount():
    assert problems({"memory": {"rules": {"min": "1Gi"}, "value": "1G"}}) == [
        "spec.memory.value: the default must be no less than 1Gi by the policy's own rules"]
    assert problems({"memory": {"rules": {"min": "1Gi"}, "value": "1073741824"}}) == []


def test_a_default_outside_the_options():
    assert problems({"jobType": {"rules": {"options": ["PyTorchJob", "MPIJob"]}, "value": "TFJob"}},
                    "DistributedWorkload") == [
        "spec.jobType.value: the default must be one of PyTorchJob, MPIJob by the policy's own rules"]


def test_a_locked_default_is_consistent_with_itself():
    assert problems({"runAsUser": {"rules": {"required": True, "canEdit": False}, "value": True}}) == []
    assert problems({"gpu": {"rules": {"canEdit": False}, "value": "1"}}) == []


def test_required_and_locked_without_a_value_is_impossible():
    assert problems({"runAsUser": {"rules": {"required": True, "canEdit": False}}}) == [
        ("spec.runAsUser.rules: required with canEdit: false needs a value: no workload could set the field, "
        "and none may leave it blank")]


def test_a_default_in_a_group():
    assert problems({"masterSpec": {"gpu": {"rules": {"max": "1"}, "value": "2"}}}, "DistributedWorkload") == [
        "spec.masterSpec.gpu.value: the default must be no greater than 1 by the policy's own rules"]


def test_a_default_item_that_breaks_the_item_rules():
    spec = {"ports": {"itemRules": {"container": {"min": 30000}},
                      "items": {"admin": {"value": {"container": 8080}}, "ok": {"value": {"container": 30000}}}}}
    assert problems(spec) == [
        ("spec.ports.items.admin.value.container: the default item breaks the policy's own itemRules: "
        "must be no less than 30000")]


def test_a_default_item_is_checked_with_its_defaults_item_filled_in():
    spec = {"pvcs": {"itemRules": {"existingPvc": {"canEdit": False}, "claimName": {"required": True}},
                     "items": {"DEFAULTS": {"value": {"existingPvc": True}},
                               "home": {"value": {"path": "/home", "existingPvc": False}}}}}
    assert problems(spec) == [
        ("spec.pvcs.items.home.value.existingPvc: the default item breaks the policy's own itemRules: "
        "cannot be changed from true"),
        "spec.pvcs.items.home.value.claimName: the default item breaks the policy's own itemRules: cannot be blank",
    ]


def test_a_defaults_item_that_is_not_an_object():
    assert problems({"pvcs": {"items": {"DEFAULTS": {"value": "yes"}}}}) == [
        "spec.pvcs.items.DEFAULTS.value: must be an object of member defaults, like the other items' values"]


def test_a_defaults_item_that_breaks_the_item_rules():
    spec = {"ports": {"itemRules": {"container": {"min": 30000}}, "items": {"DEFAULTS": {"value": {"container": 80}}}}}
    assert problems(spec) == [
        ("spec.ports.items.DEFAULTS.value.container: the default item breaks the policy's own itemRules: "
        "must be no less than 30000")]
