"""`evaluate`, the one entry point: what is stored, what is refused, templates, and missing base workloads."""

from __future__ import annotations

import copy

from berth.policy import POLICY_ANNOTATION, evaluate
from tests.policy.helpers import example, policy, run, said, template, workload

LIMITS = '(TrainingPolicy "limits" in project team-a)'


def test_an_allowed_workload_gets_its_defaults_and_names_the_policy():
    pol = example("global-training-policy.yaml")
    result = run({"image": {"value": "ubuntu"}}, pol)
    assert result.allowed and result.violations == []
    assert result.spec == {"image": {"value": "ubuntu"}, "gpu": {"value": "1"}}
    assert result.policy == "runai/training-policy"
    assert POLICY_ANNOTATION == "policy.run.ai/applied"


def test_without_a_policy_the_base_workload_still_composes():
    result = run({"image": {"value": "ubuntu"}}, None, base=template({"gpu": {"value": "2"}}))
    assert result.allowed and result.policy is None
    assert result.spec["gpu"] == {"value": "2"}


def test_a_template_gets_no_defaults_and_is_stored_as_written():
    pol = example("training-policy-ports.yaml")
    spec = {"usage": "Template", "ports": {"items": {"admin-port-b": {"deleted": True}}}}
    result = evaluate(workload(copy.deepcopy(spec), name="tpl"), policy=pol)
    assert result.allowed
    assert result.spec == spec  # no default ports, and the deletion kept for the workloads that use it


def test_a_template_skips_required_but_not_the_other_rules():
    pol = policy({"gpu": {"rules": {"required": True, "max": "4"}},
                  "pvcs": {"rules": {"required": True}, "itemRules": {"claimName": {"required": True}}}})
    assert evaluate(template({"pvcs": {"items": {"p": {"value": {"path": "/p"}}}}}), policy=pol).allowed
    assert said(evaluate(template({"gpu": {"value": "5"}}), policy=pol)) == [
        f"spec.gpu: must be no greater than 4 {LIMITS}"]


def test_a_template_is_checked_for_can_add_and_can_edit():
    pol = policy({"ports": {"rules": {"canAdd": False},
                            "items": {"a": {"rules": {"canEdit": False}, "value": {"container": 30100}}}},
                  "runAsUser": {"rules": {"canEdit": False}, "value": True}})
    result = evaluate(template({"runAsUser": {"value": False}, "ports": {"items": {
        "a": {"value": {"container": 1}}, "b": {"value": {"container": 2}}}}}), policy=pol)
    assert said(result) == [
        f"spec.ports.items.b: cannot be added: the policy allows only its own items (a) {LIMITS}",
        f"spec.ports.items.a: cannot be changed {LIMITS}",
        f"spec.runAsUser: cannot be changed from true {LIMITS}",
    ]


def test_a_template_inherits_nothing_even_when_it_names_a_base():
    other = template({"gpu": {"value": "8"}}, name="other")
    spec = {"usage": "Template", "baseWorkload": "other", "image": {"value": "u"}}
    result = evaluate(workload(spec, name="tpl"), policy=policy({"gpu": {"rules": {"max": "4"}}}), base=other)
    assert result.allowed and result.spec == spec


def test_a_missing_base_workload_is_reported_with_the_other_violations():
    result = evaluate(workload({"baseWorkload": "gone", "gpu": {"value": "9"}}),
                      policy=policy({"gpu": {"rules": {"max": "4"}}}), base_missing=True)
    assert said(result) == [
        'spec.baseWorkload: no TrainingWorkload "gone" in this namespace or in the namespace runai to inherit from',
        f"spec.gpu: must be no greater than 4 {LIMITS}",
    ]


def test_a_base_valid_when_written_is_refused_after_the_policy_tightens():
    base = template({"gpu": {"value": "5"}})
    assert evaluate(base, policy=policy({"gpu": {"rules": {"max": "8"}}})).allowed
    assert run({}, policy({"gpu": {"rules": {"max": "8"}}}), base=base).allowed
    tight = run({}, policy({"gpu": {"rules": {"max": "3"}}}), base=base)
    assert said(tight) == [('spec.gpu: must be no greater than 3 (TrainingPolicy "limits" in project team-a; '
                           'the value comes from base workload "tpl")')]


def test_a_null_itemized_field_is_treated_as_left_out():
    pol = policy({"ports": {"items": {"a": {"value": {"container": 30100}}}}})
    result = run({"image": {"value": "u"}, "ports": None}, pol)
    assert result.allowed
    assert result.spec["ports"] == {"items": {"a": {"value": {"container": 30100}}}}
