"""`kubectl logs` of a pod that has no output yet answers as kube-apiserver and the kubelet do: nothing for
a pod on no node yet, and 400 saying why for a container that has not started, an unknown container, or a
pod of several containers named none."""

from __future__ import annotations

import pytest

from tests.apiserver.helpers import PODS, client, place, pod

NS = "logs"


@pytest.fixture(scope="module")
def http(cluster):
    cluster.kubectl("create", "namespace", NS)
    with client(cluster, timeout=30) as c:
        yield c


def placed(http, name: str, statuses: list[dict] | None, containers: tuple[str, ...] = ("main",)) -> None:
    body = pod(name)
    body["spec"]["containers"] = [{"name": c, "image": "ubuntu"} for c in containers]
    assert http.post(PODS.format(ns=NS), json=body).status_code == 201
    place(http, NS, name, statuses)


def waiting(reason: str, name: str = "main") -> dict:
    return {"name": name, "ready": False, "restartCount": 0, "image": "ubuntu", "imageID": "",
            "state": {"waiting": {"reason": reason}}}


def test_a_pod_on_no_node_yet_has_an_empty_log(cluster, http):
    assert http.post(PODS.format(ns=NS), json=pod("unplaced")).status_code == 201
    out = cluster.kubectl("logs", "unplaced", "-n", NS)
    assert out.returncode == 0 and out.stdout == ""


@pytest.mark.parametrize(("reason", "said"), [
    ("ContainerCreating", "is waiting to start: ContainerCreating"),
    ("ImagePullBackOff", "is waiting to start: trying and failing to pull image"),
    ("ErrImagePull", "is waiting to start: image can't be pulled"),
    ("CreateContainerConfigError", "is waiting to start: CreateContainerConfigError"),
])
def test_a_container_waiting_to_start_is_400_saying_why(cluster, http, reason, said):
    name = f"w-{reason.lower()}"
    placed(http, name, [waiting(reason)])
    out = cluster.kubectl("logs", name, "-n", NS, check=False)
    assert out.returncode == 1
    assert f'Error from server (BadRequest): container "main" in pod "{name}" {said}' in out.stderr


def test_a_placed_pod_without_container_statuses_is_not_available(cluster, http):
    placed(http, "no-status", None)
    out = cluster.kubectl("logs", "no-status", "-n", NS, check=False)
    assert 'container "main" in pod "no-status" is not available' in out.stderr


def test_several_containers_need_a_name_and_an_unknown_one_is_refused(http):
    placed(http, "pair", [waiting("ContainerCreating", "a"), waiting("ContainerCreating", "b")], ("a", "b"))
    none = http.get(f"{PODS.format(ns=NS)}/pair/log")
    assert none.status_code == 400
    assert none.json()["message"] == "a container name must be specified for pod pair, choose one of: [a b]"
    unknown = http.get(f"{PODS.format(ns=NS)}/pair/log", params={"container": "c"})
    assert unknown.status_code == 400 and unknown.json()["message"] == "container c is not valid for pod pair"
