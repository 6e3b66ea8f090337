"""Rules on the effective values, with the messages exactly as kubectl shows them (Run:ai notes, sections 3.2
and 3.3): min/max by amount, required, options, canEdit, and on itemized fields canAdd, canRemove, item
canEdit and itemRules; and the note that names the base workload a value came from."""

from __future__ import annotations

import pytest

from tests.policy.helpers import example, policy, run, said, template

LIMITS = '(TrainingPolicy "limits" in project team-a)'


def gpu_policy(**rules) -> dict:
    return policy({"gpu": {"rules": rules}})


# --- numbers, quantities and GPU fractions -------------------------------------------------------------------

def test_the_style_guides_message_for_too_many_gpus():
    result = run({"gpu": {"value": "5"}}, gpu_policy(max="4"))
    assert said(result) == [f"spec.gpu: must be no greater than 4 {LIMITS}"]
    assert not result.allowed


def test_the_documented_interactive_policy():
    pol = example("project-interactive-policy.yaml")  # required, min "1", max "4", default "1"
    where = '(InteractivePolicy "interactive-policy1" in project team-a)'
    assert said(run({"gpu": {"value": "5"}}, pol, kind="InteractiveWorkload")) == [
        f"spec.gpu: must be no greater than 4 {where}"]
    assert said(run({"gpu": {"value": "0.5"}}, pol, kind="InteractiveWorkload")) == [
        f"spec.gpu: must be no less than 1 {where}"]
    for fine in ("1", "4", "2"):
        assert run({"gpu": {"value": fine}}, pol, kind="InteractiveWorkload").allowed
    defaulted = run({}, pol, kind="InteractiveWorkload")
    assert defaulted.allowed and defaulted.spec["gpu"] == {"value": "1"}


@pytest.mark.parametrize("value, rules, expected", [
    ("0.5", {"max": "1"}, None),
    ("1", {"max": "1"}, None),
    ("2", {"max": "1"}, "must be no greater than 1"),
    ("0.25", {"min": "0.5"}, "must be no less than 0.5"),
    ("0.5", {"min": "0.5"}, None),
    (".5", {"min": "0.5", "max": "0.5"}, None),
    ("0.75", {"max": "0.5"}, "must be no greater than 0.5"),
    (1, {"max": "1"}, None),
])
def test_gpu_fractions_compare_by_amount(value, rules, expected):
    result = run({"gpu": {"value": value}}, gpu_policy(**rules))
    assert said(result) == ([f"spec.gpu: {expected} {LIMITS}"] if expected else [])


@pytest.mark.parametrize("value, rules, expected", [
    ("1500M", {"max": "2G"}, None),
    ("2G", {"max": "2G"}, None),
    ("2000M", {"max": "2G"}, None),
    ("2000000001", {"max": "2G"}, "must be no greater than 2G"),
    ("2001M", {"max": "2G"}, "must be no greater than 2G"),
    ("1.9Gi", {"max": "2G"}, "must be no greater than 2G"),  # 2,040,109,465.6 bytes
    ("1Gi", {"max": "1073741824"}, None),
    ("1Gi", {"min": "1073741825"}, "must be no less than 1073741825"),
    ("99M", {"min": "100M"}, "must be no less than 100M"),
    ("0.1G", {"min": "100M"}, None),
])
def test_memory_quantities_compare_by_amount(value, rules, expected):
    result = run({"memory": {"value": value}}, policy({"memory": {"rules": rules}}))
    assert said(result) == ([f"spec.memory: {expected} {LIMITS}"] if expected else [])


def test_cpu_millicores_against_cores():
    pol = policy({"cpu": {"rules": {"min": "0.5", "max": 4}}})
    assert run({"cpu": {"value": "500m"}}, pol).allowed
    assert run({"cpu": {"value": "4000m"}}, pol).allowed
    assert said(run({"cpu": {"value": "499m"}}, pol)) == [f"spec.cpu: must be no less than 0.5 {LIMITS}"]
    assert said(run({"cpu": {"value": "4001m"}}, pol)) == [f"spec.cpu: must be no greater than 4 {LIMITS}"]


def test_whole_numbers():
    pol = example("distributed-policy.yaml")  # workers: min 1, max 8
    where = '(DistributedPolicy "distributed-policy" in project team-a)'
    assert said(run({"workers": {"value": 9}}, pol, kind="DistributedWorkload")) == [
        f"spec.workers: must be no greater than 8 {where}"]
    assert said(run({"workers": {"value": 0}}, pol, kind="DistributedWorkload")) == [
        f"spec.workers: must be no less than 1 {where}"]
    assert run({"workers": {"value": 8}}, pol, kind="DistributedWorkload").allowed


# --- required, options, canEdit --------------------------------------------------------------------------------

def test_required_without_a_default_must_be_given():
    pol = gpu_policy(required=True)
    assert said(run({}, pol)) == [f"spec.gpu: cannot be blank {LIMITS}"]
    assert run({"gpu": {"value": "1"}}, pol).allowed


def test_required_is_met_by_the_policys_default_or_the_base_workload():
    assert run({}, policy({"gpu": {"rules": {"required": True}, "value": "1"}})).allowed
    assert run({}, gpu_policy(required=True), base=template({"gpu": {"value": "2"}})).allowed


def test_options_on_a_plain_field_and_in_a_group():
    pol = example("distributed-policy.yaml")
    where = '(DistributedPolicy "distributed-policy" in project team-a)'
    result = run({"jobType": "TFJob", "runPolicy": {"cleanPodPolicy": {"value": "None"}}}, pol,
                 kind="DistributedWorkload")
    assert said(result) == [
        f"spec.jobType: must be one of PyTorchJob, MPIJob {where}",
        f"spec.runPolicy.cleanPodPolicy: must be one of All, Running {where}",
    ]


def test_a_limit_inside_masterSpec():
    pol = example("distributed-policy.yaml")  # masterSpec.gpu max "1", gpu max "8"
    where = '(DistributedPolicy "distributed-policy" in project team-a)'
    result = run({"gpu": {"value": "8"}, "masterSpec": {"gpu": {"value": "2"}}}, pol, kind="DistributedWorkload")
    assert said(result) == [f"spec.masterSpec.gpu: must be no greater than 1 {where}"]


def test_numeric_options_compare_by_amount():
    pol = policy({"memory": {"rules": {"options": ["1Gi", "2Gi"]}}})
    assert run({"memory": {"value": "1073741824"}}, pol).allowed
    assert said(run({"memory": {"value": "1G"}}, pol)) == [f"spec.memory: must be one of 1Gi, 2Gi {LIMITS}"]


def test_can_edit_false_keeps_the_policys_value():
    pol = example("run-as-user-policy.yaml")  # global: runAsUser required, canEdit false, value true
    where = '(InteractivePolicy "interactive-policy" in namespace runai (global))'
    assert said(run({"runAsUser": {"value": False}}, pol, kind="InteractiveWorkload")) == [
        f"spec.runAsUser: cannot be changed from true {where}"]
    assert run({"runAsUser": {"value": True}}, pol, kind="InteractiveWorkload").allowed
    left_out = run({}, pol, kind="InteractiveWorkload")
    assert left_out.allowed and left_out.spec["runAsUser"] == {"value": True}


def test_can_edit_false_compares_numbers_by_amount():
    pol = policy({"memory": {"rules": {"canEdit": False}, "value": "1G"}})
    assert run({"memory": {"value": "1000M"}}, pol).allowed
    assert said(run({"memory": {"value": "1Gi"}}, pol)) == [f"spec.memory: cannot be changed from 1G {LIMITS}"]


def test_can_edit_false_without_a_value_forbids_setting_the_field():
    pol = policy({"nodeType": {"rules": {"canEdit": False}}})
    assert run({}, pol).allowed
    assert said(run({"nodeType": {"value": "a100"}}, pol)) == [
        f"spec.nodeType: cannot be set: the policy does not allow changing it {LIMITS}"]


def test_every_broken_rule_is_reported_at_once():
    pol = policy({"gpu": {"rules": {"max": "4"}}, "memory": {"rules": {"min": "1G"}},
                  "nodeType": {"rules": {"required": True}}})
    result = run({"gpu": {"value": "8"}, "memory": {"value": "1M"}}, pol)
    assert said(result) == [
        f"spec.gpu: must be no greater than 4 {LIMITS}",
        f"spec.memory: must be no less than 1G {LIMITS}",
        f"spec.nodeType: cannot be blank {LIMITS}",
    ]


# --- itemized fields -------------------------------------------------------------------------------------------

PORTS = example("training-policy-ports.yaml")  # admin-port-a: canRemove false, canEdit false; container 30000..32767
PORTS_WHERE = '(TrainingPolicy "training-policy" in project team-a)'


def test_item_rules_min_and_max_on_members():
    result = run({"ports": {"items": {"mine": {"value": {"container": 29999, "external": 32768}}}}}, PORTS)
    assert said(result) == [
        f"spec.ports.items.mine.value.container: must be no less than 30000 {PORTS_WHERE}",
        f"spec.ports.items.mine.value.external: must be no greater than 32767 {PORTS_WHERE}",
    ]
    assert run({"ports": {"items": {"mine": {"value": {"container": 32767, "external": 32767}}}}}, PORTS).allowed


def test_a_locked_item_cannot_be_removed_but_another_can():
    assert said(run({"ports": {"items": {"admin-port-a": {"deleted": True}}}}, PORTS)) == [
        f"spec.ports.items.admin-port-a: cannot be removed {PORTS_WHERE}"]
    allowed = run({"ports": {"items": {"admin-port-b": {"deleted": True}}}}, PORTS)
    assert allowed.allowed and list(allowed.spec["ports"]["items"]) == ["admin-port-a"]


def test_a_locked_item_cannot_be_changed_but_may_be_restated():
    changed = run({"ports": {"items": {"admin-port-a": {"value": {"container": 30100, "external": 8081}}}}}, PORTS)
    assert said(changed) == [f"spec.ports.items.admin-port-a: cannot be changed {PORTS_WHERE}"]
    restated = run({"ports": {"items": {"admin-port-a": {"value": {"container": 30100, "external": 8080}}}}}, PORTS)
    assert restated.allowed
    assert run({"ports": {"items": {"admin-port-b": {"value": {"container": 30200}}}}}, PORTS).allowed


def test_a_locked_item_restated_without_the_members_its_defaults_item_gives():
    pol = policy({"pvcs": {"items": {
        "DEFAULTS": {"value": {"existingPvc": True}},
        "home": {"rules": {"canEdit": False}, "value": {"claimName": "home", "path": "/home"}},
    }}})
    assert run({"pvcs": {"items": {"home": {"value": {"claimName": "home", "path": "/home"}}}}}, pol).allowed
    assert said(run({"pvcs": {"items": {"home": {"value": {"claimName": "home", "path": "/h"}}}}}, pol)) == [
        f"spec.pvcs.items.home: cannot be changed {LIMITS}"]


def test_can_add_false_refuses_new_items_and_names_the_allowed_ones():
    pol = policy({"ports": {"rules": {"canAdd": False}, "items": {
        "b": {"value": {"container": 30101}}, "a": {"value": {"container": 30100}}}}})
    result = run({"ports": {"items": {"mine": {"value": {"container": 30200}}, "a": {"value": {"container": 30300}}}}},
                 pol)
    assert said(result) == [f"spec.ports.items.mine: cannot be added: the policy allows only its own items (a, b) {LIMITS}"]
    empty = policy({"environment": {"rules": {"canAdd": False}}})
    assert said(run({"environment": {"items": {"HOME": {"value": "/home"}}}}, empty)) == [
        f"spec.environment.items.HOME: cannot be added: the policy allows only its own items (none) {LIMITS}"]


def test_required_itemized_field_needs_an_item():
    pol = policy({"pvcs": {"rules": {"required": True}}})
    assert said(run({}, pol)) == [f"spec.pvcs: needs at least one item {LIMITS}"]
    with_default = policy({"pvcs": {"rules": {"required": True},
                                    "items": {"home": {"value": {"claimName": "home", "path": "/home"}}}}})
    assert run({}, with_default).allowed
    assert said(run({"pvcs": {"items": {"home": {"deleted": True}}}}, with_default)) == [
        f"spec.pvcs: needs at least one item {LIMITS}"]


def test_item_rules_required_forbids_host_path_volumes():
    pol = example("distributed-policy.yaml")  # volumes.itemRules.nfsServer.required
    where = '(DistributedPolicy "distributed-policy" in project team-a)'
    host = run({"volumes": {"items": {"v": {"value": {"source": "/mnt", "target": "/data"}}}}}, pol,
               kind="DistributedWorkload")
    assert said(host) == [f"spec.volumes.items.v.value.nfsServer: cannot be blank {where}"]
    nfs = run({"volumes": {"items": {"v": {"value": {"source": "/x", "target": "/data", "nfsServer": "nfs1"}}}}}, pol,
              kind="DistributedWorkload")
    assert nfs.allowed


def test_item_rules_with_the_defaults_item():
    pol = example("pvc-defaults-policy.yaml")  # existingPvc canEdit false (DEFAULTS true), claimName required
    where = '(TrainingPolicy "training-policy" in project team-b)'
    result = run({"pvcs": {"items": {
        "new": {"value": {"claimName": "n", "path": "/n", "existingPvc": False}},
        "anon": {"value": {"path": "/a"}},
    }}}, pol)
    assert sorted(said(result)) == sorted([
        f"spec.pvcs.items.new.value.existingPvc: cannot be changed from true {where}",
        f"spec.pvcs.items.anon.value.claimName: cannot be blank {where}",
    ])


def test_item_rules_options_on_members():
    pol = policy({"ports": {"itemRules": {"serviceType": {"options": ["ClusterIP", "NodePort"]}}}})
    assert said(run({"ports": {"items": {"p": {"value": {"container": 80, "serviceType": "LoadBalancer"}}}}}, pol)) == [
        f"spec.ports.items.p.value.serviceType: must be one of ClusterIP, NodePort {LIMITS}"]


# --- values inherited from a base workload ----------------------------------------------------------------------

def test_a_value_from_the_base_workload_says_so():
    base = template({"gpu": {"value": "4"}})
    result = run({}, gpu_policy(max="3"), base=base)
    assert said(result) == [('spec.gpu: must be no greater than 3 (TrainingPolicy "limits" in project team-a; '
                            'the value comes from base workload "tpl")')]


def test_a_value_the_workload_gives_itself_does_not_blame_the_base():
    base = template({"gpu": {"value": "4"}})
    assert said(run({"gpu": {"value": "5"}}, gpu_policy(max="3"), base=base)) == [
        f"spec.gpu: must be no greater than 3 {LIMITS}"]


def test_items_from_the_base_workload_say_so():
    pol = policy({"ports": {"rules": {"canAdd": False}, "itemRules": {"container": {"max": 32767}},
                            "items": {"a": {"rules": {"canEdit": False}, "value": {"container": 30100}}}}})
    base = template({"ports": {"items": {"extra": {"value": {"container": 40000}}, "a": {"value": {"container": 1}}}}})
    note = '(TrainingPolicy "limits" in project team-a; the value comes from base workload "tpl")'
    assert sorted(said(run({}, pol, base=base))) == sorted([
        f"spec.ports.items.extra: cannot be added: the policy allows only its own items (a) {note}",
        f"spec.ports.items.a: cannot be changed {note}",
        f"spec.ports.items.extra.value.container: must be no greater than 32767 {note}",
    ])


def test_an_item_removed_by_the_base_workload_says_so():
    base = template({"ports": {"items": {"admin-port-a": {"deleted": True}}}})
    [message] = said(run({}, PORTS, base=base))
    assert message.startswith("spec.ports.items.admin-port-a: cannot be removed")
    assert 'base workload "tpl"' in message


def test_a_locked_item_with_a_null_member_is_not_changed_by_leaving_it_alone():
    pol = policy({"pvcs": {"items": {
        "DEFAULTS": {"value": {"path": "/data"}},
        "home": {"rules": {"canEdit": False}, "value": {"claimName": "home", "path": None}},
    }}})
    assert said(run({}, pol)) == []
