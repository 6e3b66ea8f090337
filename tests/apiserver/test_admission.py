"""What admission refuses of a workload whatever the policies say, through the real kubectl against
`berth up`: a name another kind holds, a namespace of no project, a name its children cannot take, an edit
that cannot take effect."""

from __future__ import annotations

import json
import textwrap
import time

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


def causes(refused) -> str:
    assert refused.returncode == 1, refused.stdout
    return refused.stderr


@pytest.mark.parametrize(("kind", "name", "expected"), [
    ("TrainingWorkload", "d.job", 'a workload name must consist of lower case letters, digits or \'-\''),
    ("TrainingWorkload", "d.job", 'use a name like "d-job"'),
    ("DistributedWorkload", "1st", "start with a letter"),
    ("TrainingWorkload", "t" * 48, "must be no more than 47 characters: its Services are named "
                                   "tw-<name>-loadbalancer, which may have at most 63"),
    ("InferenceWorkload", "m" * 46, "must be no more than 45 characters: its Services are named infw-<name>"),
])
def test_a_name_its_pods_and_services_cannot_take_is_refused_saying_why(cluster, ns, kind, name, expected):
    extra = "jobType: PyTorchJob\n" if kind == "DistributedWorkload" else ""
    stderr = causes(apply(cluster, workload(kind, name, ns, extra), check=False))
    assert f'The {kind} "{name}" is invalid: metadata.name: Invalid value: "{name}"' in stderr
    assert expected in stderr


def test_the_longest_name_allowed_makes_children_a_cluster_accepts(cluster, ns):
    name = "t" * 47
    apply(cluster, workload("TrainingWorkload", name, ns, """\
        ports: {items: {web: {value: {container: 8000, serviceType: LoadBalancer}}}}
        """))
    wanted, deadline = f"tw-{name}-loadbalancer", time.monotonic() + 30
    while True:  # the controller makes the Service shortly after the workload is admitted
        services = json.loads(cluster.kubectl("get", "svc", "-n", ns, "-o", "json").stdout)["items"]
        if wanted in [s["metadata"]["name"] for s in services] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert wanted in [s["metadata"]["name"] for s in services]


def test_two_ports_on_one_service_port_are_refused_naming_both_items(cluster, ns):
    stderr = causes(apply(cluster, workload("InteractiveWorkload", "two-ports", ns, """\
        ports: {items: {a: {value: {container: 8888}}, b: {value: {container: 9000, external: 8888}}}}
        """), check=False))
    assert ('spec.ports.items[b].value: Duplicate value: 8888: items "a" and "b" both expose port 8888 on the '
            "workload's ClusterIP Service") in stderr
    named = causes(apply(cluster, workload("InteractiveWorkload", "two-names", ns, """\
        ports: {items: {a: {value: {container: 80, name: web}}, b: {value: {container: 81, name: web}}}}
        """), check=False))
    assert 'spec.ports.items[b].value.name: Duplicate value: "web"' in named


def test_jupyter_beside_its_own_port_item_makes_one_service_port(cluster, ns):
    # examples/workloads/interactive-jupyter.yaml: jupyter: true, and a port item of its own on 8888
    apply(cluster, workload("InteractiveWorkload", "notebook", ns, """\
        jupyter: {value: true}
        ports: {items: {notebook: {value: {container: 8888}}}}
        """))
    get = ["get", "svc", "iw-notebook-clusterip", "-n", ns, "-o", "jsonpath={.spec.ports[*].port}"]
    deadline = time.monotonic() + 15
    while cluster.kubectl(*get, check=False).returncode and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.kubectl(*get).stdout.split() == ["8888"]


def test_labels_the_pods_could_not_carry_are_refused(cluster, ns):
    stderr = causes(apply(cluster, workload("TrainingWorkload", "labelled", ns, f"""\
        labels: {{items: {{team: {{value: {"x" * 70}}}, "bad key": {{value: ok}}}}}}
        """), check=False))
    assert f'spec.labels.items[team].value: Invalid value: "{"x" * 70}": must be no more than 63 characters' in stderr
    assert 'spec.labels.items[bad key]: Invalid value: "bad key": name part must consist' in stderr


def test_whole_numbers_of_gpus_and_quantities_are_stored_as_strings(cluster, ns):
    apply(cluster, workload("TrainingWorkload", "bare-two", ns, "gpu: {value: 2}\ncpu: {value: 4}\nmemory: {value: 1000}\n"))
    spec = json.loads(cluster.kubectl("get", "tw", "bare-two", "-n", ns, "-o", "json").stdout)["spec"]
    assert spec["gpu"] == {"value": "2"} and spec["cpu"] == {"value": "4"} and spec["memory"] == {"value": "1000"}
    apply(cluster, workload("TrainingWorkload", "bare-two", ns, "gpu: {value: 2}\ncpu: {value: 4}\nmemory: {value: 1000}\n"))
    again = json.loads(cluster.kubectl("get", "tw", "bare-two", "-n", ns, "-o", "json").stdout)
    assert again["spec"]["gpu"] == {"value": "2"} and again["metadata"]["generation"] == 1  # no change to the spec
    apply(cluster, textwrap.dedent(f"""\
        apiVersion: run.ai/v2alpha1
        kind: TrainingPolicy
        metadata: {{name: whole, namespace: {ns}}}
        spec:
          gpu: {{rules: {{max: 4, options: [1, 2, 4]}}, value: 1}}
        """))
    policy = json.loads(cluster.kubectl("get", "tpol", "whole", "-n", ns, "-o", "json").stdout)["spec"]
    assert policy["gpu"] == {"rules": {"max": "4", "options": ["1", "2", "4"]}, "value": "1"}
    cluster.kubectl("delete", "tpol", "whole", "-n", ns)


def patch(cluster, kind: str, name: str, ns: str, spec: dict, check: bool = True):
    return cluster.kubectl("patch", kind, name, "-n", ns, "--type", "merge", "-p", json.dumps({"spec": spec}),
                           check=check)


def test_an_edit_baked_into_running_pods_is_refused_and_one_read_live_is_applied(cluster, ns):
    apply(cluster, workload("TrainingWorkload", "editable", ns, 'command: {value: "sleep 60"}\n'))
    refused = patch(cluster, "tw", "editable", ns, {"command": {"value": "sleep 5"}}, check=False)
    stderr = causes(refused)
    assert 'The TrainingWorkload "editable" is invalid: spec.command: Forbidden: cannot change on a submitted workload' \
        in stderr
    assert "suspend the workload (active: false; its pods are removed), change it, and resume it" in stderr
    stored = json.loads(cluster.kubectl("get", "tw", "editable", "-n", ns, "-o", "json").stdout)
    assert stored["spec"]["command"] == {"value": "sleep 60"} and stored["metadata"]["generation"] == 1
    patch(cluster, "tw", "editable", ns, {"completions": {"value": 2}, "parallelism": {"value": 2}})
    # suspended, or suspending in the same edit: the pods made on resume carry the new value
    patch(cluster, "tw", "editable", ns, {"active": {"value": False}, "command": {"value": "sleep 5"}})
    patch(cluster, "tw", "editable", ns, {"active": {"value": True}, "image": {"value": "busybox"}})
    # the Services of its ports are made once: never, not even while suspended
    patch(cluster, "tw", "editable", ns, {"active": {"value": False}})
    never = causes(patch(cluster, "tw", "editable", ns, {"ports": {"items": {"a": {"value": {"container": 80}}}}},
                         check=False))
    assert "spec.ports: Forbidden: cannot change on a submitted workload (its Services are made once" in never
    assert "delete the workload and submit it again" in never
    cluster.kubectl("label", "tw", "editable", "-n", ns, "team=a")  # metadata always


def test_inference_scale_bounds_change_live_but_its_image_needs_a_resubmit(cluster, ns):
    apply(cluster, workload("InferenceWorkload", "scaled", ns, "minScale: {value: 1}\nmaxScale: {value: 2}\n"))
    patch(cluster, "infw", "scaled", ns, {"minScale": {"value": 2}, "maxScale": {"value": 4}, "target": {"value": 3}})
    stored = json.loads(cluster.kubectl("get", "infw", "scaled", "-n", ns, "-o", "json").stdout)["spec"]
    assert stored["maxScale"] == {"value": 4} and stored["minScale"] == {"value": 2}
    refused = causes(patch(cluster, "infw", "scaled", ns, {"image": {"value": "busybox"}}, check=False))
    assert "a InferenceWorkload cannot be suspended" not in refused
    assert "an InferenceWorkload cannot be suspended: delete it and submit it again with the new value" in refused


def test_a_template_may_change_anything_but_what_it_is(cluster, ns):
    apply(cluster, workload("TrainingWorkload", "base-tpl", ns, "usage: Template\n"))
    patch(cluster, "tw", "base-tpl", ns, {"image": {"value": "busybox"}, "ports": {"items": {"a": {"value": {
        "container": 80}}}}})
    refused = causes(patch(cluster, "tw", "base-tpl", ns, {"usage": "Submit"}, check=False))
    assert "spec.usage: Forbidden: cannot change on a submitted workload (a template stays a template" in refused
