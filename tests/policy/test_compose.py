"""Composition of a workload's effective values (Run:ai notes, section 1.4): policy defaults < base workload <
the submitted workload, items merged by label, `deleted: true`, the DEFAULTS item, and groups."""

from __future__ import annotations

import copy

from berth.policy.compose import compose
from berth.policy.shapes import spec_shapes
from tests.policy.helpers import example, policy, run, template

SECTION_1_4_POLICY = policy({"ports": {"items": {
    "admin-port-a": {"value": {"container": 30100, "external": 8080}},
    "admin-port-b": {"value": {"container": 30101, "external": 8081}},
}}}, kind="InferencePolicy")
SECTION_1_4_TEMPLATE = template({"ports": {"items": {
    "admin-port-a": {"value": {"container": 30100, "external": 8100}},
    "team-a-port": {"value": {"container": 9000}},
}}}, kind="InferenceWorkload", name="team-template")
SECTION_1_4_WORKLOAD = {"image": {"value": "triton"}, "ports": {"items": {
    "admin-port-b": {"deleted": True},
    "my-port": {"value": {"container": 7000}},
}}}


def test_the_ports_example_of_section_1_4():
    result = run(SECTION_1_4_WORKLOAD, SECTION_1_4_POLICY, base=SECTION_1_4_TEMPLATE, kind="InferenceWorkload")
    assert result.allowed
    assert result.spec["ports"] == {"items": {
        "admin-port-a": {"value": {"container": 30100, "external": 8100}},
        "team-a-port": {"value": {"container": 9000}},
        "my-port": {"value": {"container": 7000}},
    }}
    prov = result.provenance
    assert prov.sources["ports.items.admin-port-a"] == "base"
    assert prov.sources["ports.items.team-a-port"] == "base"
    assert prov.sources["ports.items.my-port"] == "workload"
    assert prov.removed == {"ports.items.admin-port-b": "workload"}


def test_workload_beats_base_beats_policy_default_field_by_field():
    pol = policy({"gpu": {"value": "1"}, "cpu": {"value": "500m"}, "memory": {"value": "1G"}})
    base = template({"gpu": {"value": "2"}, "memory": {"value": "4G"}, "image": {"value": "pytorch"}})
    result = run({"gpu": {"value": "3"}}, pol, base=base)
    assert result.allowed
    spec = result.spec
    assert (spec["gpu"], spec["memory"], spec["cpu"], spec["image"]) == (
        {"value": "3"}, {"value": "4G"}, {"value": "500m"}, {"value": "pytorch"})
    assert {k: result.provenance.sources[k] for k in ("gpu", "memory", "cpu", "image")} == {
        "gpu": "workload", "memory": "base", "cpu": "policy", "image": "base"}


def test_an_item_given_again_replaces_the_earlier_item_whole():
    pol = policy({"ports": {"items": {"web": {"value": {"container": 30100, "external": 8080}}}}})
    result = run({"ports": {"items": {"web": {"value": {"container": 30200}}}}}, pol)
    assert result.spec["ports"] == {"items": {"web": {"value": {"container": 30200}}}}  # no external inherited


def test_the_defaults_item_fills_only_the_members_an_item_leaves_out():
    pol = example("pvc-defaults-policy.yaml")  # DEFAULTS: existingPvc true, readOnly false
    result = run({"pvcs": {"items": {
        "data": {"value": {"claimName": "data", "path": "/data"}},
        "ro": {"value": {"claimName": "ro", "path": "/ro", "readOnly": True}},
    }}}, pol)
    assert result.allowed, result.violations
    assert result.spec["pvcs"] == {"items": {
        "data": {"value": {"claimName": "data", "path": "/data", "existingPvc": True, "readOnly": False}},
        "ro": {"value": {"claimName": "ro", "path": "/ro", "readOnly": True, "existingPvc": True}},
    }}  # and DEFAULTS itself is not an item of the workload
    assert result.spec["terminateAfterPreemption"] == {"value": True}


def test_the_defaults_item_fills_items_inherited_from_the_base_workload():
    pol = example("pvc-defaults-policy.yaml")
    base = template({"pvcs": {"items": {"shared": {"value": {"claimName": "shared", "path": "/shared"}}}}})
    result = run({}, pol, base=base)
    assert result.spec["pvcs"]["items"]["shared"]["value"] == {
        "claimName": "shared", "path": "/shared", "existingPvc": True, "readOnly": False}


def test_a_null_member_in_defaults_fills_nothing():
    # The notes' own example: DEFAULTS: {value: {existingPvc: true, path: nil}}
    pol = policy({"pvcs": {"items": {"DEFAULTS": {"value": {"existingPvc": True, "path": None}}}}})
    result = run({"pvcs": {"items": {"p": {"value": {"claimName": "c"}}}}}, pol)
    assert result.spec["pvcs"]["items"]["p"]["value"] == {"claimName": "c", "existingPvc": True}


def test_a_policy_with_only_defaults_adds_no_items():
    pol = example("pvc-defaults-policy.yaml")
    assert "pvcs" not in run({}, pol).spec


def test_deleting_every_item_removes_the_field():
    result = run({"ports": {"items": {"admin-port-a": {"deleted": True}, "admin-port-b": {"deleted": True}}}},
                 SECTION_1_4_POLICY, kind="InferenceWorkload")
    assert result.allowed
    assert "ports" not in result.spec


def test_deleting_an_item_nobody_gave_changes_nothing():
    result = run({"ports": {"items": {"ghost": {"deleted": True}}}}, SECTION_1_4_POLICY, kind="InferenceWorkload")
    assert sorted(result.spec["ports"]["items"]) == ["admin-port-a", "admin-port-b"]
    assert result.provenance.removed == {}


def test_a_deleted_item_given_again_by_a_later_layer_is_back():
    base = template({"ports": {"items": {"admin-port-a": {"deleted": True}}}}, kind="InferenceWorkload")
    result = run({"ports": {"items": {"admin-port-a": {"value": {"container": 30500}}}}}, SECTION_1_4_POLICY,
                 base=base, kind="InferenceWorkload")
    assert result.spec["ports"]["items"]["admin-port-a"] == {"value": {"container": 30500}}
    assert "ports.items.admin-port-a" not in result.provenance.removed


def test_groups_merge_field_by_field_like_the_spec():
    pol = example("distributed-policy.yaml")  # runPolicy.cleanPodPolicy defaults to All
    base = template({"runPolicy": {"backoffLimit": {"value": 3}}, "masterSpec": {"gpu": {"value": "1"}}},
                    kind="DistributedWorkload")
    result = run({"jobType": "MPIJob", "masterSpec": {"image": {"value": "launcher"}}}, pol, base=base,
                 kind="DistributedWorkload")
    assert result.allowed, result.violations
    assert result.spec["runPolicy"] == {"cleanPodPolicy": {"value": "All"}, "backoffLimit": {"value": 3}}
    assert result.spec["masterSpec"] == {"gpu": {"value": "1"}, "image": {"value": "launcher"}}
    assert result.spec["jobType"] == "MPIJob"  # a plain (unwrapped) field
    sources = result.provenance.sources
    assert (sources["runPolicy.cleanPodPolicy"], sources["runPolicy.backoffLimit"], sources["masterSpec.image"]) == (
        "policy", "base", "workload")


def test_plain_fields_get_their_default_unwrapped():
    result = run({}, example("distributed-policy.yaml"), kind="DistributedWorkload")
    assert result.spec["jobType"] == "PyTorchJob"
    assert result.spec["workers"] == {"value": 2}
    assert result.spec["largeShm"] == {"value": True}


def test_items_within_a_group_get_the_groups_defaults_item():
    pol = policy({"masterSpec": {"pvcs": {"items": {"DEFAULTS": {"value": {"existingPvc": True}}}}}},
                 kind="DistributedPolicy")
    result = run({"jobType": "PyTorchJob", "masterSpec": {"pvcs": {"items": {"p": {"value": {"claimName": "c"}}}}}},
                 pol, kind="DistributedWorkload")
    assert result.spec["masterSpec"]["pvcs"]["items"]["p"]["value"] == {"claimName": "c", "existingPvc": True}


def test_usage_and_base_workload_are_not_inherited_from_the_base():
    base = template({"gpu": {"value": "1"}})
    result = run({}, None, base=base)
    assert "usage" not in result.spec
    assert result.spec["baseWorkload"] == "tpl"
    assert result.spec["gpu"] == {"value": "1"}


def test_composition_leaves_its_inputs_alone():
    pol = example("training-policy-ports.yaml")
    base = template({"ports": {"items": {"admin-port-b": {"deleted": True}, "t": {"value": {"container": 30200}}}}})
    spec = {"ports": {"items": {"w": {"value": {"container": 30300}}}}}
    before = copy.deepcopy((pol, base, spec))
    result = run(spec, pol, base=base)
    result.spec["ports"]["items"]["admin-port-a"]["value"]["container"] = 1
    assert (pol, base, spec) == before


def test_fields_unknown_to_the_model_are_kept_as_given():
    spec, _ = compose(spec_shapes("TrainingWorkload"), {"futureField": {"value": 1}}, policy_spec={"gpu": {"value": "1"}})
    assert spec == {"gpu": {"value": "1"}, "futureField": {"value": 1}}


def test_deleting_every_item_of_a_field_in_a_group_removes_that_field():
    pol = policy({"masterSpec": {"ports": {"items": {"a": {"value": {"container": 30100}}}}}}, kind="DistributedPolicy")
    result = run({"jobType": "PyTorchJob", "masterSpec": {"ports": {"items": {"a": {"deleted": True}}}}}, pol,
                 kind="DistributedWorkload")
    assert result.spec.get("masterSpec", {}) == {}
