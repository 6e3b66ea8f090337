"""What a workload's pods mount, seen through the pod template (`berth.controllers.volumes` builds it)."""

from __future__ import annotations

import re

import pytest

from berth.controllers.podspec import PodSpecError, pod_template
from berth.controllers.volumes import GIT_SYNC_IMAGE, claim_name
from tests.controllers.test_podspec import env, example, main, valid, workload

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def mounts(pod: dict) -> dict[str, dict]:
    """mountPath -> (the mount, the volume it mounts)."""
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    return {m["mountPath"]: {"mount": m, "volume": volumes[m["name"]]} for m in main(pod).get("volumeMounts", [])}


def test_itemized_training_gets_shm_its_claim_and_a_home_at_its_home():
    pod = valid(pod_template(example("training-itemized.yaml")))
    found = mounts(pod)
    assert found["/dev/shm"]["volume"]["emptyDir"] == {"medium": "Memory"}
    assert found["/scratch"]["volume"]["persistentVolumeClaim"] == {"claimName": "scratch"}
    assert "readOnly" not in found["/scratch"]["mount"]
    # runAsUser without createHomeDir: a home directory, where the user's HOME says
    assert found["/home/u"]["volume"]["emptyDir"] == {}
    assert [e["name"] for e in main(pod)["env"]].count("HOME") == 1 and env(pod)["HOME"] == "/home/u"
    assert set(found) == {"/dev/shm", "/scratch", "/home/u"}


def test_nfs_scratch_configmap_and_secret_volumes():
    found = mounts(valid(pod_template(example("distributed-pytorch.yaml"))))
    assert found["/datasets"]["volume"]["nfs"] == {"server": "nfs.example.com", "path": "/exports/datasets",
                                                   "readOnly": True}
    assert found["/datasets"]["mount"]["readOnly"] is True
    assert found["/scratch"]["volume"]["emptyDir"] == {"sizeLimit": "100Gi"}
    assert found["/etc/train"]["volume"]["configMap"] == {"name": "train-config"}
    assert found["/etc/wandb"]["volume"]["secret"] == {"secretName": "wandb-key"}
    assert found["/etc/train"]["mount"]["readOnly"] is True and found["/etc/wandb"]["mount"]["readOnly"] is True


def test_host_path_volume_and_mount_propagation():
    pod = valid(pod_template(workload(
        volumes={"items": {"data": {"value": {"source": "/mnt/data", "target": "/data"}}}},
        emptyDirVolumes={"items": {"fast": {"value": {"path": "/fast", "medium": "Memory"}}}},
        mountPropagation={"value": True})))
    found = mounts(pod)
    assert found["/data"]["volume"]["hostPath"] == {"path": "/mnt/data"}
    assert found["/data"]["mount"]["mountPropagation"] == "HostToContainer"
    assert found["/fast"]["volume"]["emptyDir"] == {"medium": "Memory"}


def test_git_sync_clones_into_target_before_the_main_container_starts():
    pod = valid(pod_template(example("distributed-tensorflow.yaml")))
    (init,) = pod["spec"]["initContainers"]
    assert init["image"] == GIT_SYNC_IMAGE
    settings = {e["name"]: e["value"] for e in init["env"]}
    assert settings["GITSYNC_REPO"] == "https://github.com/example/tf-models.git"
    assert settings["GITSYNC_REF"] == "main" and settings["GITSYNC_ONE_TIME"] == "true"
    code = mounts(pod)["/code"]
    assert code["volume"]["emptyDir"] == {}
    assert init["volumeMounts"][0]["name"] == code["mount"]["name"]
    # git-sync links <root>/<link> to the checkout: the main container sees the repository itself at /code
    assert code["mount"]["subPath"] == settings["GITSYNC_LINK"]


def test_git_sync_with_a_commit_and_a_secret_password():
    pod = valid(pod_template(workload(gitSync={"items": {"priv": {"value": {
        "source": "https://git.example.com/r.git", "branch": "dev", "rev": "3f2a9c1", "username": "bot",
        "password": "SECRET:git-creds,token"}}}})))
    (init,) = pod["spec"]["initContainers"]
    found = {e["name"]: e.get("value", e.get("valueFrom")) for e in init["env"]}
    assert found["GITSYNC_REF"] == "3f2a9c1"  # rev wins over branch
    assert found["GITSYNC_USERNAME"] == "bot"
    assert found["GITSYNC_PASSWORD"] == {"secretKeyRef": {"name": "git-creds", "key": "token"}}
    assert "/code" in mounts(pod)  # the default target


def test_s3_bucket_is_copied_in_before_the_main_container_starts():
    pod = valid(pod_template(example("distributed-xgboost.yaml")))
    (init,) = pod["spec"]["initContainers"]
    assert init["command"] == ["aws"]
    assert init["args"][:3] == ["s3", "sync", "s3://churn-data"]
    assert init["args"][-2:] == ["--endpoint-url", "https://s3.example.com"]
    creds = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in init["env"]}
    assert creds == {"AWS_ACCESS_KEY_ID": {"name": "s3-creds", "key": "access-key"},
                     "AWS_SECRET_ACCESS_KEY": {"name": "s3-creds", "key": "secret-key"}}
    data = mounts(pod)["/data"]
    assert data["mount"]["name"] == init["volumeMounts"][0]["name"]
    public = valid(pod_template(workload(s3={"items": {"p": {"value": {"bucket": "open", "target": "/o"}}}})))
    assert public["spec"]["initContainers"][0]["args"][-1] == "--no-sign-request"


@pytest.mark.parametrize(("fields", "home"), [
    ({"runAsUser": {"value": True}}, "/home/runai"),
    ({"createHomeDir": {"value": True}}, "/home/runai"),
    ({"runAsUser": {"value": True}, "createHomeDir": {"value": False}}, None),
    ({}, None),
])
def test_create_home_dir(fields, home):
    pod = valid(pod_template(workload(**fields)))
    assert env(pod).get("HOME") == home
    assert (home in mounts(pod)) if home else mounts(pod) == {}


def test_a_claim_mounted_at_home_is_the_home():
    w = workload(runAsUser={"value": True}, environment={"items": {"HOME": {"value": "/home/me"}}},
                 pvcs={"items": {"home": {"value": {"claimName": "me-home", "existingPvc": True, "path": "/home/me"}}}})
    found = mounts(valid(pod_template(w)))
    assert found["/home/me"]["volume"]["persistentVolumeClaim"] == {"claimName": "me-home"}


def test_a_new_claim_without_a_name_is_named_after_the_workload_and_item():
    pod = valid(pod_template(workload(pvcs={"items": {"Results": {"value": {"path": "/r", "size": "10Gi",
                                                                            "readOnly": True}}}})))
    r = mounts(pod)["/r"]
    assert r["volume"]["persistentVolumeClaim"] == {"claimName": "t1-results", "readOnly": True}
    assert r["mount"]["readOnly"] is True
    assert claim_name("t1", "Results", {}) == "t1-results"
    assert mounts(pod_template(example("interactive-jupyter.yaml")))["/home/jovyan"]["volume"][
        "persistentVolumeClaim"] == {"claimName": "jupyter-alice-home"}


def test_volume_names_are_unique_dns_labels_whatever_the_item_labels():
    odd = {"Data_1": "/a", "data-1": "/b", "data.1": "/c", "x" * 100: "/d", "y" * 100: "/e"}
    pod = valid(pod_template(workload(emptyDirVolumes={"items": {k: {"value": {"path": p}} for k, p in odd.items()}},
                                      largeShm={"value": True})))
    names = [v["name"] for v in pod["spec"]["volumes"]]
    assert len(set(names)) == len(names) == 6
    assert all(DNS_LABEL.match(n) and len(n) <= 63 for n in names)


def test_two_things_at_one_path_is_an_error_naming_both():
    w = workload(pvcs={"items": {"a": {"value": {"claimName": "a", "path": "/data"}}}},
                 volumes={"items": {"b": {"value": {"source": "/mnt", "target": "/data/"}}}})
    with pytest.raises(PodSpecError, match=r"spec\.volumes\.items\.b: .*spec\.pvcs\.items\.a"):
        pod_template(w)


def test_a_missing_path_is_an_error_naming_the_item():
    with pytest.raises(PodSpecError, match=r"spec\.pvcs\.items\.p: path is required"):
        pod_template(workload(pvcs={"items": {"p": {"value": {"claimName": "c"}}}}))


def test_deleted_items_and_policy_defaults_are_not_mounted():
    pod = pod_template(workload(pvcs={"items": {
        "DEFAULTS": {"value": {"existingPvc": True, "path": "/defaults"}},
        "gone": {"deleted": True},
        "kept": {"value": {"claimName": "k", "path": "/k"}}}}))
    assert set(mounts(pod)) == {"/k"}
