"""The submit mapping (berth.cli.submit_flags) and its value parsers, without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.cli import submit_parse as p
from berth.cli.submit_flags import (
    FLAGS,
    MODELS,
    FlagUsageError,
    Request,
    build,
    description,
    field_info,
    flags_for,
    help_text,
    reference_table,
)
from berth.cli.nouns import FRAMEWORKS

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli-submit.md"


def spec_of(**given):
    obj, warnings = build(Request("v1", "TrainingWorkload", "runai-a", "job", given=given))
    return obj["spec"], warnings


# -- the table --------------------------------------------------------------------------------------------


def test_every_row_names_fields_the_models_have():
    for flag in FLAGS:
        for target in flag.targets:
            assert any(field_info(kind, target) for kind in MODELS), f"{flag.key}: no kind has {target}"


@pytest.mark.parametrize("generation", ["v1", "v2"])
def test_no_command_offers_one_option_twice(generation):
    commands = [("TrainingWorkload", "InteractiveWorkload"), ("InferenceWorkload",)]
    for kinds, framework in [(k, None) for k in commands] + [(("DistributedWorkload",), n.framework) for n in FRAMEWORKS]:
        names = [n for f in flags_for(generation, kinds, framework) for n in f.names(generation)]
        assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_help_is_the_field_description_of_berth_api():
    [gpu] = [f for f in FLAGS if f.key == "gpu"]
    info = field_info("TrainingWorkload", "spec.gpu")
    assert help_text(gpu, ("TrainingWorkload",)) == description("TrainingWorkload", "spec.gpu")
    assert info.description.startswith(description("TrainingWorkload", "spec.gpu").split(" Default:")[0])
    assert "Set with" not in help_text(gpu, ("TrainingWorkload",))
    [mps] = [f for f in FLAGS if f.key == "mps"]
    assert help_text(mps, ("TrainingWorkload",)).startswith("Accepted, not honoured by Berth")


def test_the_docs_list_every_flag_as_the_table_maps_it():
    text = DOC.read_text()
    listed = text.split("<!-- flags:begin -->\n", 1)[1].split("<!-- flags:end -->", 1)[0]
    assert listed == reference_table(), "regenerate: python -m berth.cli.submit_flags"


def test_kinds_follow_from_the_models():
    names = {f.key for f in flags_for("v1", ("InteractiveWorkload",))}
    assert "preemptible" in names and "completions" not in names
    names = {f.key for f in flags_for("v2", ("DistributedWorkload",), "MPI")}
    assert "slots_per_worker" in names and "min_workers" not in names
    [backoff] = [f for f in FLAGS if f.key == "backoff_limit"]
    assert backoff.target("TrainingWorkload") == "spec.backoffLimit"
    assert backoff.target("DistributedWorkload") == "spec.runPolicy.backoffLimit"


# -- building ---------------------------------------------------------------------------------------------


def test_trailing_words_are_arguments_or_the_command():
    request = Request("v2", "TrainingWorkload", "runai-a", "j", trailing=("python", "-c", "print(1)"))
    assert build(request)[0]["spec"]["arguments"] == {"value": "python -c 'print(1)'"}
    request.as_command = True
    assert build(request)[0]["spec"]["command"] == {"value": "python -c 'print(1)'"}
    request.trailing = ()
    with pytest.raises(FlagUsageError, match="give the command after `--`"):
        build(request)


def test_environment_repeated_and_comma_separated_keeps_a_secret_reference_whole():
    spec, _ = spec_of(environment=("A=1,B=2", "TOKEN=SECRET:hf,token", "EMPTY="))
    assert spec["environment"]["items"] == {"A": {"value": "1"}, "B": {"value": "2"},
                                            "TOKEN": {"value": "SECRET:hf,token"}, "EMPTY": {"value": ""}}


def test_gpu_devices_with_a_portion_become_devices_that_each_give_the_portion():
    obj, _ = build(Request("v2", "TrainingWorkload", "runai-a", "j", given={"gpu_devices": "2", "gpu_portion": "0.5"}))
    assert obj["spec"]["gpu"] == {"value": "0.5"} and obj["spec"]["gpuDevices"] == {"value": 2}
    obj, _ = build(Request("v2", "TrainingWorkload", "runai-a", "j", given={"gpu_devices": "3"}))
    assert obj["spec"]["gpu"] == {"value": "3"} and "gpuDevices" not in obj["spec"]
    obj, _ = build(Request("v2", "TrainingWorkload", "runai-a", "j", given={"gpu_devices": "1", "gpu_memory": "4G"}))
    assert obj["spec"]["gpuMemory"] == {"value": "4G"} and "gpu" not in obj["spec"]


def test_master_flags_set_the_top_level_master_spec():
    obj, _ = build(Request("v2", "DistributedWorkload", "runai-a", "d", "PyTorch",
                           given={"master_gpu_devices": "0", "master_environment": ("ROLE=master",)}))
    assert obj["masterSpec"] == {"gpu": {"value": "0"}, "environment": {"items": {"ROLE": {"value": "master"}}}}
    assert obj["spec"]["jobType"] == "PyTorchJob"


def test_a_topology_key_sets_the_three_affinity_fields():
    spec, _ = spec_of(required_topology="zone")
    assert (spec["podAffinity"], spec["podAffinitySchedulingRule"], spec["podAffinityTopology"]) == (
        {"value": True}, {"value": "Required"}, {"value": "zone"})


def test_a_flag_of_another_kind_is_refused_with_where_it_applies():
    with pytest.raises(FlagUsageError, match="--preemptible: does not apply to training workloads; add --interactive"):
        spec_of(preemptible=True)
    with pytest.raises(FlagUsageError, match="only to MPI distributed workloads"):
        build(Request("v1", "DistributedWorkload", "runai-a", "d", "PyTorch", given={"slots_per_worker": "2"}))


def test_flags_berth_cannot_honour_warn():
    _, warnings = spec_of(mps=True, elastic=True, address="0.0.0.0")
    assert [w.split(":")[0] for w in warnings] == ["--mps", "--address", "--elastic"]
    assert all("not honoured" in w for w in warnings)


def test_name_or_prefix():
    obj, _ = build(Request("v1", "TrainingWorkload", "runai-a", None, given={"name_prefix": "sweep"}))
    assert obj["spec"]["namePrefix"] == {"value": "sweep"} and "name" not in obj["spec"]
    with pytest.raises(FlagUsageError, match="NAME or a name prefix, not both"):
        spec_of(name_prefix="sweep")
    obj, _ = build(Request("v1", "TrainingWorkload", "runai-a", None))
    assert obj["spec"]["namePrefix"] == {"value": "job"} and not obj["metadata"]["name"]


def test_a_bad_value_names_the_flag_and_the_shape():
    with pytest.raises(FlagUsageError) as info:
        spec_of(git_sync=("sorce=https://x",))
    assert info.value.flag == "--git-sync"
    assert 'unknown key "sorce" (did you mean source?)' in info.value.message
    assert "expected source=URL" in info.value.message


# -- parsers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, parsed", [
    ("8080:80", {"container": 80, "external": 8080}),
    ("80", {"container": 80}),
    ("container=80,external=8080,service-type=nodeport", {"container": 80, "external": 8080, "serviceType": "NodePort"}),
])
def test_port_forms(text, parsed):
    assert p.port(text) == parsed


@pytest.mark.parametrize("text", ["80:80:80", "http", "0", "container=x"])
def test_bad_ports(text):
    with pytest.raises(p.FlagValueError, match="expected"):
        p.port(text)


def test_volumes():
    assert p.volume("/a:/b") == {"source": "/a", "target": "/b"}
    assert p.volume("/a:/b:ro:nfs.host") == {"source": "/a", "target": "/b", "readOnly": True, "nfsServer": "nfs.host"}
    with pytest.raises(p.FlagValueError, match="SOURCE:TARGET"):
        p.volume("/a")
    assert p.HOST_PATH("path=/a,mount=/b,readwrite") == {"source": "/a", "target": "/b", "readOnly": False}
    assert p.NFS("path=/e,server=h,mountpath=/m") == {"source": "/e", "nfsServer": "h", "target": "/m", "readOnly": True}


def test_pvcs():
    assert p.legacy_pvc("data:/data:ro") == {"claimName": "data", "path": "/data", "existingPvc": True, "readOnly": True}
    assert p.legacy_pvc(":10Gi:/n") == {"size": "10Gi", "path": "/n", "existingPvc": False, "readOnly": False}
    assert p.NEW_PVC("size=1Gi,path=/p,accessmode-rwm,ro") == {
        "existingPvc": False, "size": "1Gi", "path": "/p", "accessMode": "ReadWriteMany", "readOnly": True}
    with pytest.raises(p.FlagValueError, match="claimname, path is missing"):
        p.EXISTING_PVC("ro")


def test_toleration_and_numbers():
    assert p.TOLERATION("operator=exists,key=k,effect=noschedule,seconds=5") == {
        "operator": "Exists", "key": "k", "effect": "NoSchedule", "seconds": 5}
    with pytest.raises(p.FlagValueError, match='operator: "Maybe" is not one of them; expected one of Equal, Exists'):
        p.TOLERATION("operator=Maybe")
    assert p.seconds("1h30m") == 5400 and p.seconds("45") == 45
    assert p.gpu("0.50") == "0.5" and p.gpu("2.0") == "2"
    with pytest.raises(p.FlagValueError, match="neither a whole number"):
        p.gpu("1.5")
    with pytest.raises(p.FlagValueError, match="not a quantity"):
        p.quantity("lots")
