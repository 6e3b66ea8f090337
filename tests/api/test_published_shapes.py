"""The shapes of Run:ai's published objects, offline: masterSpec beside spec, the spellings of Run:ai's docs
and CLI and the one form they are stored in, and the preemption fields on every kind that is preempted."""

from __future__ import annotations

import textwrap

import pytest

from berth.api.crd import crd
from berth.api.load import LoadError, load
from berth.api.registry import by_kind
from berth.api.spellings import canonical

HEAD = "apiVersion: run.ai/v2alpha1\nkind: DistributedWorkload\nmetadata: {name: dwl1, namespace: runai-team-a}\n"
SPEC = "spec:\n  jobType: MPIJob\n  image: {value: ubuntu}\n  gpuDevices: {value: 8}\n  workers: {value: 3}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(LoadError) as caught:
        load(text)
    return [str(p) for p in caught.value.problems]


def test_master_spec_beside_spec_is_the_masters_own():
    [item] = load(HEAD + "masterSpec:\n  cpu: {value: '2'}\n  gpuDevices: {value: 0}\n  workers: {value: 3}\n" + SPEC)
    assert item.obj.masterSpec.cpu.value == "2" and item.obj.masterSpec.gpuDevices.value == 0
    assert item.obj.spec.masterSpec is None


def test_master_spec_in_one_place_only():
    text = HEAD + "masterSpec: {cpu: {value: '2'}}\n" + SPEC + "  masterSpec: {cpu: {value: '1'}}\n"
    assert problems(text) == ["spec.masterSpec: masterSpec is given twice, at the top level and in spec; keep only "
                              "the top-level masterSpec (beside spec, as Run:ai writes it)"]


@pytest.mark.parametrize("field, value", [("workers", "{value: 2}"), ("jobType", "PyTorchJob"),
                                          ("nodePools", "{value: a100}"), ("usage", "Template")])
def test_a_job_wide_field_of_master_spec_may_only_repeat_spec(field, value):
    [message] = problems(HEAD + f"masterSpec:\n  {field}: {value}\n" + SPEC)
    assert message.startswith(f"masterSpec.{field}: ") and "describes the whole job, not the master pod" in message


def test_the_crd_and_explain_carry_master_spec_at_the_top_level():
    schema = crd(by_kind("DistributedWorkload"))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    master = schema["properties"]["masterSpec"]
    assert "Beside spec, not inside it" in master["description"]
    assert {"image", "cpu", "memory", "gpuDevices", "nodePools", "name", "usage"} <= set(master["properties"])


def test_other_spellings_are_valid_and_stored_as_the_value_they_stand_for():
    text = textwrap.dedent("""\
        apiVersion: run.ai/v2alpha1
        kind: TrainingWorkload
        metadata: {name: t, namespace: runai-team-a}
        spec:
          imagePullPolicy: {value: ifNotPresent}
          serviceType: {value: portforward}
          podAffinity: {value: true}
          podAffinitySchedulingRule: {value: hard}
          ports: {items: {a: {value: {container: 80, serviceType: nodeport}}}}
        """)
    [item] = load(text)
    stored = canonical(item.document, item.kind)
    assert stored["spec"]["imagePullPolicy"] == {"value": "IfNotPresent"}
    assert stored["spec"]["serviceType"] == {"value": "ClusterIP"}
    assert stored["spec"]["podAffinitySchedulingRule"] == {"value": "Required"}
    assert stored["spec"]["ports"]["items"]["a"]["value"]["serviceType"] == "NodePort"
    assert item.document["spec"]["serviceType"] == {"value": "portforward"}  # the input is not changed
    assert canonical(stored, item.kind) is stored  # nothing left to change: the same object


def test_a_policys_options_and_defaults_are_stored_in_one_spelling_too():
    policy = {"apiVersion": "run.ai/v2alpha1", "kind": "InteractivePolicy", "metadata": {"name": "p"},
              "spec": {"serviceType": {"value": "loadbalancer", "rules": {"options": ["nodeport", "Ingress"]}},
                       "ports": {"itemRules": {"serviceType": {"options": ["clusterip"]}}}}}
    stored = canonical(policy, by_kind("InteractivePolicy"))["spec"]
    assert stored["serviceType"] == {"value": "LoadBalancer", "rules": {"options": ["NodePort", "Ingress"]}}
    assert stored["ports"]["itemRules"]["serviceType"]["options"] == ["ClusterIP"]


def test_the_crd_enum_lists_both_spellings_so_a_real_cluster_takes_them():
    schema = crd(by_kind("TrainingWorkload"))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    enum = schema["properties"]["spec"]["properties"]["imagePullPolicy"]["properties"]["value"]["enum"]
    assert enum == ["Always", "IfNotPresent", "Never", "always", "ifNotPresent", "never"]


def test_a_case_that_no_tool_writes_is_refused_with_a_suggestion():
    text = HEAD.replace("DistributedWorkload", "TrainingWorkload") + "spec:\n  podAffinitySchedulingRule: {value: HARD}\n"
    [message] = problems(text)
    assert message.startswith('spec.podAffinitySchedulingRule.value: expected one of "Required", "Preferred" '
                              '(or hard, soft), got "HARD"')


@pytest.mark.parametrize("kind", ["InteractiveWorkload", "TrainingWorkload", "DistributedWorkload"])
def test_preemption_settings_on_every_kind_that_is_preempted(kind):
    spec = "  preemptionLimit: {value: 3}\n  terminateAfterPreemption: {value: false}\n"
    if kind == "DistributedWorkload":
        spec += "  jobType: PyTorchJob\n"
    [item] = load(HEAD.replace("DistributedWorkload", kind) + "spec:\n" + spec)
    assert item.obj.spec.preemptionLimit.value == 3


def test_a_preemption_limit_of_zero_is_refused():
    text = HEAD.replace("DistributedWorkload", "TrainingWorkload") + "spec:\n  preemptionLimit: {value: 0}\n"
    assert problems(text) == ["spec.preemptionLimit.value: must be no less than 1, got 0"]


def test_a_master_spec_may_repeat_what_spec_leaves_to_its_default():
    [item] = load(HEAD + "masterSpec: {usage: Submit, active: {value: true}}\nspec:\n  jobType: MPIJob\n")
    assert item.obj.masterSpec.usage == "Submit"
