"""What admission refuses of a workload whatever the policies say, through the real kubectl against
`berth up`: a name another kind holds, a namespace of no project, a name its children cannot take, an edit
that cannot take effect."""

from __future__ import annotations

import json
import textwrap

import pytest


@pytest.fixture(scope="module")
def ns(cluster) -> str:
    return cluster.project("admit")


def workload(kind: str, name: str, ns: str, spec: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: run.ai/v2alpha1
        kind: {kind}
        metadata: {{name: {name}, namespace: {ns}}}
        spec:
          image: {{value: ubuntu}}
        """) + textwrap.indent(textwrap.dedent(spec), "  ")


def apply(cluster, text: str, check: bool = True):
    return cluster.kubectl("apply", "-f", "-", input=text, check=check)


def test_a_second_kind_with_the_same_name_is_refused_naming_the_first(cluster, ns):
    apply(cluster, workload("TrainingWorkload", "same", ns))
    refused = apply(cluster, workload("InteractiveWorkload", "same", ns), check=False)
    assert refused.returncode == 1
    assert "Error from server (AlreadyExists)" in refused.stderr
    assert 'interactiveworkloads.run.ai "same" already exists' in refused.stderr
    assert "a TrainingWorkload of that name" in refused.stderr
    assert "kubectl delete trainingworkload same -n runai-admit" in refused.stderr
    listed = json.loads(cluster.kubectl("get", "runai", "-n", ns, "-o", "json").stdout)["items"]
    assert [(w["kind"], w["metadata"]["name"]) for w in listed if w["metadata"]["name"] == "same"] == [
        ("TrainingWorkload", "same")]
    # the same kind again is the ordinary update, and a template of another kind makes no pods: both are fine
    apply(cluster, workload("TrainingWorkload", "same", ns, "completions: {value: 1}\n"))
    apply(cluster, workload("DistributedWorkload", "same", ns, "usage: Template\njobType: PyTorchJob\n"))


def test_a_dry_run_is_refused_the_same_way(cluster, ns):
    apply(cluster, workload("InferenceWorkload", "served", ns))
    refused = cluster.kubectl("apply", "--dry-run=server", "-f", "-",
                              input=workload("TrainingWorkload", "served", ns), check=False)
    assert refused.returncode == 1 and "an InferenceWorkload of that name" in refused.stderr


def test_a_workload_in_a_namespace_of_no_project_is_refused_saying_how_to_make_one(cluster):
    cluster.kubectl("create", "namespace", "runai-nobody")
    refused = apply(cluster, workload("TrainingWorkload", "lost", "runai-nobody"), check=False)
    assert refused.returncode == 1
    assert "Error from server (Forbidden)" in refused.stderr
    assert 'trainingworkloads.run.ai "lost" is forbidden: namespace runai-nobody belongs to no project' in refused.stderr
    assert """echo '{"apiVersion": "run.ai/v1", "kind": "Project", "metadata": {"name": "nobody"}}' | kubectl apply -f -""" \
        in refused.stderr
    elsewhere = apply(cluster, workload("TrainingWorkload", "lost", "default"), check=False)
    assert "namespace default belongs to no project" in elsewhere.stderr
    assert '"spec": {"namespace": "default"}' in elsewhere.stderr  # a project may adopt an existing namespace
    cluster.kubectl("apply", "-f", "-", input='{"apiVersion": "run.ai/v1", "kind": "Project", "metadata": {"name": "nobody"}}')
    assert "created" in apply(cluster, workload("TrainingWorkload", "lost", "runai-nobody")).stdout


def test_the_runai_namespace_takes_templates_but_no_workload_that_runs(cluster):
    assert "created" in apply(cluster, workload("TrainingWorkload", "global-defaults", "runai", "usage: Template\n")).stdout
    refused = apply(cluster, workload("TrainingWorkload", "global-job", "runai"), check=False)
    assert "Error from server (Forbidden)" in refused.stderr
    assert "namespace runai holds global policies and templates" in refused.stderr
