"""Policies through the real kubectl against `berth up` (issue C): the seed's two examples set globally and
per project, itemized ports with canAdd: false, canEdit: false on runAsUser, and section 1.4's ports."""

from __future__ import annotations

import json
import textwrap

import pytest

TEAM_A, TEAM_B = "runai-team-a", "runai-team-b"


@pytest.fixture(scope="module", autouse=True)
def namespaces(cluster):
    for ns in (TEAM_A, TEAM_B):
        cluster.project(ns.removeprefix("runai-"))


def apply(cluster, text: str, check: bool = True):
    return cluster.kubectl("apply", "-f", "-", input=textwrap.dedent(text), check=check)


def training(name: str, ns: str, spec: str = "") -> str:
    return f"""\
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {{name: {name}, namespace: {ns}}}
spec:
  image: {{value: ubuntu}}
{textwrap.indent(textwrap.dedent(spec), '  ')}"""


def get(cluster, kind: str, name: str, ns: str) -> dict:
    return json.loads(cluster.kubectl("get", kind, name, "-n", ns, "-o", "json").stdout)


def test_the_seeds_examples_globally_then_per_project(cluster):
    # "Set a maximum of 5 GPUs per Workload" and "a default value of 1 GPU", globally.
    apply(cluster, """
        apiVersion: run.ai/v2alpha1
        kind: TrainingPolicy
        metadata: {name: global-limits, namespace: runai}
        spec:
          gpu: {rules: {max: "5"}, value: "1"}
        """)
    apply(cluster, training("defaulted", TEAM_A))
    stored = get(cluster, "tw", "defaulted", TEAM_A)
    assert stored["spec"]["gpu"] == {"value": "1"}  # the default is written into the object
    assert stored["metadata"]["annotations"]["policy.run.ai/applied"] == "runai/global-limits"
    refused = apply(cluster, training("greedy", TEAM_A, 'gpu: {value: "6"}'), check=False)
    assert refused.returncode == 1
    assert 'The TrainingWorkload "greedy" is invalid: spec.gpu: must be no greater than 5' in refused.stderr
    assert 'TrainingPolicy "global-limits" in namespace runai (global)' in refused.stderr
    # A project policy wins for its project; the global one still holds for the others.
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: TrainingPolicy
        metadata: {{name: team-a-limits, namespace: {TEAM_A}}}
        spec:
          gpu: {{rules: {{max: "8"}}, value: "2"}}
        """)
    apply(cluster, training("greedy", TEAM_A, 'gpu: {value: "6"}'))
    apply(cluster, training("defaulted-a", TEAM_A))
    assert get(cluster, "tw", "defaulted-a", TEAM_A)["spec"]["gpu"] == {"value": "2"}
    other = apply(cluster, training("greedy", TEAM_B, 'gpu: {value: "6"}'), check=False)
    assert "spec.gpu: must be no greater than 5" in other.stderr
    apply(cluster, training("defaulted-b", TEAM_B))
    assert get(cluster, "tw", "defaulted-b", TEAM_B)["spec"]["gpu"] == {"value": "1"}


def test_a_second_policy_of_a_kind_in_a_namespace_is_refused(cluster):
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: InferencePolicy
        metadata: {{name: first, namespace: {TEAM_B}}}
        spec: {{}}
        """)
    second = apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: InferencePolicy
        metadata: {{name: second, namespace: {TEAM_B}}}
        spec: {{}}
        """, check=False)
    assert second.returncode == 1
    assert (f'namespace {TEAM_B} already has its InferencePolicy, "first"; a namespace holds one policy per workload '
            f"kind, so edit that one: kubectl edit inferencepolicy first -n {TEAM_B}") in second.stderr


def test_a_policy_that_contradicts_itself_is_refused(cluster):
    bad = apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: DistributedPolicy
        metadata: {{name: odd, namespace: {TEAM_B}}}
        spec:
          gpu: {{rules: {{max: "2"}}, value: "4"}}
        """, check=False)
    assert bad.returncode == 1
    assert "spec.gpu.value: the default must be no greater than 2 by the policy's own rules" in bad.stderr


def test_itemized_ports_with_can_add_false(cluster):
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: InteractivePolicy
        metadata: {{name: fixed-ports, namespace: {TEAM_A}}}
        spec:
          ports:
            rules: {{canAdd: false}}
            itemRules:
              container: {{min: 30000, max: 32767}}
            items:
              admin-port-a: {{value: {{container: 30100, external: 8080}}}}
        """)
    extra = apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: InteractiveWorkload
        metadata: {{name: extra-port, namespace: {TEAM_A}}}
        spec:
          image: {{value: ubuntu}}
          ports: {{items: {{mine: {{value: {{container: 30200}}}}}}}}
        """, check=False)
    assert extra.returncode == 1
    assert "spec.ports.items.mine: cannot be added: the policy allows only its own items (admin-port-a)" in extra.stderr
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: InteractiveWorkload
        metadata: {{name: default-port, namespace: {TEAM_A}}}
        spec:
          image: {{value: ubuntu}}
        """)
    ports = get(cluster, "iw", "default-port", TEAM_A)["spec"]["ports"]
    assert ports == {"items": {"admin-port-a": {"value": {"container": 30100, "external": 8080}}}}


def test_can_edit_false_on_run_as_user(cluster):
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: DistributedPolicy
        metadata: {{name: non-root, namespace: {TEAM_A}}}
        spec:
          runAsUser: {{rules: {{required: true, canEdit: false}}, value: true}}
        """)
    root = apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: DistributedWorkload
        metadata: {{name: as-root, namespace: {TEAM_A}}}
        spec:
          jobType: PyTorchJob
          image: {{value: ubuntu}}
          runAsUser: {{value: false}}
        """, check=False)
    assert root.returncode == 1
    assert "spec.runAsUser: cannot be changed from true" in root.stderr
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: DistributedWorkload
        metadata: {{name: as-user, namespace: {TEAM_A}}}
        spec:
          jobType: PyTorchJob
          image: {{value: ubuntu}}
        """)
    assert get(cluster, "dw", "as-user", TEAM_A)["spec"]["runAsUser"] == {"value": True}


def test_the_ports_example_of_section_1_4(cluster):
    ns = "runai-ports-example"
    cluster.project(ns.removeprefix("runai-"))
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: InferencePolicy
        metadata: {{name: ports, namespace: {ns}}}
        spec:
          ports:
            items:
              admin-port-a: {{value: {{container: 30100, external: 8080}}}}
              admin-port-b: {{value: {{container: 30101, external: 8081}}}}
        ---
        apiVersion: run.ai/v2alpha1
        kind: InferenceWorkload
        metadata: {{name: team-template, namespace: {ns}}}
        spec:
          usage: Template
          ports:
            items:
              admin-port-a: {{value: {{container: 30100, external: 8100}}}}
              team-a-port: {{value: {{container: 9000}}}}
        """)
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: InferenceWorkload
        metadata: {{name: served, namespace: {ns}}}
        spec:
          baseWorkload: team-template
          image: {{value: triton}}
          ports:
            items:
              admin-port-b: {{deleted: true}}
              my-port: {{value: {{container: 7000}}}}
        """)
    items = get(cluster, "infw", "served", ns)["spec"]["ports"]["items"]
    assert items == {
        "admin-port-a": {"value": {"container": 30100, "external": 8100}},
        "team-a-port": {"value": {"container": 9000}},
        "my-port": {"value": {"container": 7000}},
    }


def test_changing_a_policy_rewrites_nothing_but_a_stale_template_is_refused_when_used(cluster):
    ns = "runai-stale"
    cluster.project(ns.removeprefix("runai-"))
    apply(cluster, training("tpl", ns, 'usage: Template\ngpu: {value: "4"}'))
    apply(cluster, training("early", ns, "baseWorkload: tpl"))
    apply(cluster, f"""
        apiVersion: run.ai/v2alpha1
        kind: TrainingPolicy
        metadata: {{name: tight, namespace: {ns}}}
        spec:
          gpu: {{rules: {{max: "3"}}}}
        """)
    assert get(cluster, "tw", "early", ns)["spec"]["gpu"] == {"value": "4"}  # existing workloads untouched
    cluster.kubectl("label", "tw", "early", "-n", ns, "still=editable")  # and their metadata stays writable
    late = apply(cluster, training("late", ns, "baseWorkload: tpl"), check=False)
    assert late.returncode == 1
    assert ('spec.gpu: must be no greater than 3 (TrainingPolicy "tight" in project stale; '
            'the value comes from base workload "tpl")') in late.stderr
