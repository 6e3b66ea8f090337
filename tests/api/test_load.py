"""Bad YAML gets a message that names the field and, where there is one, the fix."""

from __future__ import annotations

import textwrap

import pytest

from berth.api.load import LoadError, load


def problems(text: str) -> list[str]:
    with pytest.raises(LoadError) as caught:
        load(textwrap.dedent(text))
    return [str(p) for p in caught.value.problems]


def training(spec: str) -> str:
    head = "apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: job-1, namespace: runai-team-a}\nspec:\n"
    return head + textwrap.indent(textwrap.dedent(spec).strip() + "\n", "  ")


def test_the_seed_training_workload_loads():
    [item] = load(training('gpu: {value: "1"}\nimage: {value: gcr.io/run-ai-demo/quickstart}\nname: {value: job-1}\n'))
    assert item.kind.kind == "TrainingWorkload"
    assert item.obj.spec.gpu.value == "1"
    assert item.obj.spec.image.value == "gcr.io/run-ai-demo/quickstart"


def test_a_list_where_a_gpu_string_belongs():
    assert problems(training("gpu: {value: [1]}")) == [
        'spec.gpu.value: expected a string like "1" or "0.5", got a list'
    ]


def test_a_mistyped_field_gets_the_closest_name():
    assert problems(training("nodetype: {value: dgx}")) == ["spec.nodetype: unknown field; did you mean spec.nodeType?"]


def test_an_unquoted_fraction_is_told_to_quote_it():
    assert problems(training("gpu: {value: 0.5}")) == [
        'spec.gpu.value: expected a string like "1" or "0.5", got a number (0.5); quote it: "0.5"'
    ]


def test_a_scalar_written_without_its_value_wrapper():
    assert problems(training('gpu: "1"')) == [
        'spec.gpu: expected an object like {value: ...}, got a string ("1"); write gpu: {value: "1"}'
    ]


def test_an_itemized_field_written_as_a_plain_map():
    assert problems(training("environment: {HOME: /home/u}")) == [
        "spec.environment.HOME: unknown field; itemized fields list their entries under items: "
        "write environment: {items: {HOME: {value: ...}}}"
    ]


def test_a_spec_field_at_the_top_level():
    text = training('gpu: {value: "1"}') + "nodeType: {value: dgx}\n"
    assert problems(text) == ["nodeType: unknown field; did you mean spec.nodeType? (it belongs under spec:)"]


def test_every_problem_is_reported_at_once():
    found = problems(training("""
        gpu: {value: "1.5"}
        largeShm: {value: "true"}
        imagePullPolicy: {value: NEVER}
        ports: {items: {http: {value: {container: "8080"}}}}
    """))
    assert sorted(found) == sorted([
        "spec.gpu.value: a GPU request above 1 must be a whole number of GPUs, got 1.5; "
        "ask for a fraction between 0 and 1, or a whole number",
        'spec.largeShm.value: expected true or false, got a string ("true"); write true without quotes',
        'spec.imagePullPolicy.value: expected one of "Always", "IfNotPresent", "Never" (or always, ifNotPresent, '
        'never), got "NEVER"; did you mean "Never"?',
        'spec.ports.items.http.value.container: expected a whole number, got a string ("8080"); '
        "write 8080 without quotes",
    ])


def test_rules_across_fields():
    assert problems(training("completions: {value: 2}\nparallelism: {value: 3}")) == [
        "spec.parallelism.value: must be no greater than completions (2)"
    ]
    assert problems(training('gpu: {value: "1"}\ngpuMemory: {value: 4G}')) == [
        "spec.gpuMemory: gpu and gpuMemory ask for GPUs in different ways; give only one of gpu, gpuMemory and migProfile"
    ]


def test_an_item_needs_a_value_or_deleted():
    assert problems(training("environment: {items: {A: {value: x, deleted: true}, B: {}}}")) == [
        "spec.environment.items.A.deleted: give either value or deleted: true, not both",
        "spec.environment.items.B.value: an item needs a value (or deleted: true to remove an inherited item)",
    ]


def test_metadata_typos_are_caught_too():
    text = training('gpu: {value: "1"}').replace("namespace: runai-team-a}", "namespace: runai-team-a, lables: {}}")
    assert problems(text) == ["metadata.lables: unknown field; did you mean metadata.labels?"]


def test_unknown_kind_and_wrong_version():
    assert problems("apiVersion: run.ai/v2alpha1\nkind: TrainingWorklaod\n") == [
        'kind: unknown kind "TrainingWorklaod"; did you mean TrainingWorkload?'
    ]
    assert problems("apiVersion: run.ai/v1alpha1\nkind: TrainingWorkload\nspec: {}\n") == [
        'apiVersion: TrainingWorkload is served as run.ai/v2alpha1, not "run.ai/v1alpha1"'
    ]
    assert problems("metadata: {name: x}\n") == [
        "kind: required field is missing; e.g. kind: TrainingWorkload",
        "apiVersion: required field is missing; e.g. apiVersion: run.ai/v2alpha1",
    ]


def test_malformed_yaml_names_the_line():
    [found] = problems("apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\n  spec: {}\n")
    # libyaml ends it "in this context", the pure-Python parser "here".
    assert found.startswith("line 3, column 7: invalid YAML: mapping values are not allowed")


def test_a_duplicated_field_is_an_error_not_a_silent_overwrite():
    assert problems(training('gpu: {value: "1"}\ngpu: {value: "2"}')) == [
        'line 6, column 3: invalid YAML: duplicate field "gpu": give each field once'
    ]


def test_a_file_with_one_bad_document_yields_nothing():
    good = training('gpu: {value: "1"}')
    bad = good.replace("job-1", "job-2").replace('"1"', "[1]")
    with pytest.raises(LoadError) as caught:
        load(good + "---\n" + bad)
    assert [str(p) for p in caught.value.problems] == [
        'document 2 (job-2): spec.gpu.value: expected a string like "1" or "0.5", got a list'
    ]


def test_json_is_accepted():
    [item] = load('{"apiVersion": "run.ai/v1", "kind": "NodePool", "metadata": {"name": "a100"},'
                  ' "spec": {"labelKey": "gpu-type", "labelValue": "A100"}}')
    assert item.obj.spec.labelValue == "A100"


def test_timestamps_stay_strings():
    [item] = load(training('gpu: {value: "1"}').replace("{name: job-1,", "{creationTimestamp: 2026-11-28T21:17:22Z, name: job-1,"))
    assert item.obj.metadata.creationTimestamp == "2026-11-28T21:17:22Z"


def test_distributed_accepts_replicas_for_workers_and_writes_workers():
    [item] = load("""
apiVersion: run.ai/v2alpha1
kind: DistributedWorkload
metadata: {name: d}
spec: {jobType: PyTorchJob, replicas: {value: 3}, image: {value: ubuntu}}
""")
    assert item.obj.spec.workers.value == 3
    assert item.obj.to_dict()["spec"]["workers"] == {"value": 3}


def test_distributed_framework_fields_must_fit_the_job_type():
    text = """
apiVersion: run.ai/v2alpha1
kind: DistributedWorkload
metadata: {name: d}
spec: {jobType: TFJob, slotsPerWorker: {value: 2}, minReplicas: {value: 1}}
"""
    assert problems(text) == ["spec.slotsPerWorker: slotsPerWorker, minReplicas do not apply to jobType TFJob"]


def test_policy_rules_contradicting_themselves():
    text = """
apiVersion: run.ai/v2alpha1
kind: TrainingPolicy
metadata: {name: p, namespace: runai}
spec: {gpu: {rules: {min: "4", max: "2"}}}
"""
    assert problems(text) == ["spec.gpu.rules.min: must be no greater than rules.max (2)"]


def test_workers_and_replicas_together_are_one_field_given_twice():
    text = """
apiVersion: run.ai/v2alpha1
kind: DistributedWorkload
metadata: {name: d}
spec: {jobType: PyTorchJob, workers: {value: 2}, replicas: {value: 3}}
"""
    assert problems(text) == ["spec.replicas: replicas and workers are the same field; give only one of them"]


def test_gpu_devices_and_gpu_together():
    assert problems(training('gpu: {value: "1"}\ngpuDevices: {value: 2}')) == [
        "spec.gpuDevices: gpuDevices and gpu both ask for whole GPUs; give only one of them (with gpuDevices, gpu "
        "may be a fraction: that share of each device)"
    ]


def test_gpu_devices_with_a_fraction_is_that_share_of_each_device():
    [item] = load(training('gpu: {value: "0.5"}\ngpuDevices: {value: 2}'))
    assert (item.obj.spec.gpu.value, item.obj.spec.gpuDevices.value) == ("0.5", 2)
