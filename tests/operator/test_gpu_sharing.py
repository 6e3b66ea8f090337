"""GPU sharing as on a real cluster (`--gpu-reservations`): `berth operator` against `berth up` with its local
node (two simulated GPUs, pods run as processes). A pod that shares a GPU is bound only once a reservation pod
holds its device and has said which GPU the device plugin gave it; the pod's ConfigMap names that GPU; the
reservation pod goes when no pod shares its GPU any more."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.cluster import BIN, Cluster, running
from tests.controllers.helpers import eventually

RESERVATIONS = "runai-reservation"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{BIN}{os.pathsep}{path}"  # the local node runs `berth gpu-reservation` from PATH
    try:
        for c in running(tmp_path_factory.mktemp("shared"), "--no-controllers", "--no-scheduler", "--gpus", "2"):
            c.start_operator(("--reservation-image", "berth:test", "--reservation-idle", "3"))
            c.project("team")
            yield c
    finally:
        os.environ["PATH"] = path


def train(c: Cluster, name: str, gpu: str, command: str = "sleep 600") -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": {"name": name, "namespace": "runai-team"},
        "spec": {"image": {"value": "x"}, "gpu": {"value": gpu}, "command": {"value": command}}}))


def get(c: Cluster, *args: str) -> dict:
    result = c.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {}


def reservations(c: Cluster) -> list[dict]:
    return get(c, "pods", "-n", RESERVATIONS).get("items", [])


def test_two_halves_share_one_reserved_gpu_named_in_their_configmaps(shared):
    c = shared
    train(c, "half-a", "0.5", "sh -c 'echo $GPU_PORTION; sleep 600'")
    train(c, "half-b", "0.5")

    def both_running() -> list[dict] | None:
        pods = [get(c, "pod", name, "-n", "runai-team") for name in ("half-a-0-0", "half-b-0-0")]
        return pods if all(p.get("status", {}).get("phase") == "Running" for p in pods) else None

    pods = eventually(both_running, timeout=90)
    held = reservations(c)
    assert len(held) == 1  # both halves on one device: one reservation pod
    reservation = held[0]
    assert reservation["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert reservation["spec"]["nodeName"] == "local"
    reserved = reservation["metadata"]["annotations"]["run.ai/reserved-gpu"]
    devices = {p["metadata"]["annotations"]["run.ai/gpu-devices"] for p in pods}
    assert devices == {reservation["metadata"]["labels"]["run.ai/gpu-reservation-device"]}
    # what the reservation pod printed: the GPU the node gave it (here: the local node's device index)
    assert c.kubectl("logs", reservation["metadata"]["name"], "-n", RESERVATIONS).stdout.split() == [reserved]
    for p in pods:
        name = p["metadata"]["name"]
        configmap = get(c, "configmap", f"{name}-shared-gpu", "-n", "runai-team")
        device_mib = json.loads(get(c, "node", "local")["metadata"]["annotations"]["run.ai/gpus"])[0]["memoryMiB"]
        assert configmap["data"] == {"NVIDIA_VISIBLE_DEVICES": reserved, "GPU_PORTION": "0.5",
                                     "GPU_MEMORY_LIMIT_MIB": str(device_mib // 2)}  # the half, in MiB
        assert configmap["metadata"]["ownerReferences"][0]["uid"] == p["metadata"]["uid"]
        assert {"configMapRef": {"name": f"{name}-shared-gpu", "optional": True}} in \
            p["spec"]["containers"][0]["envFrom"]
    eventually(lambda: c.kubectl("logs", "half-a-0-0", "-n", "runai-team").stdout.strip() == "0.5", timeout=30)


def test_a_whole_gpu_pod_needs_no_reservation_and_an_unused_reservation_goes(shared):
    c = shared
    train(c, "whole", "1")
    eventually(lambda: get(c, "pod", "whole-0-0", "-n", "runai-team").get("status", {}).get("phase") == "Running",
               timeout=60)
    assert "envFrom" not in get(c, "pod", "whole-0-0", "-n", "runai-team")["spec"]["containers"][0]
    assert len(reservations(c)) == 1
    c.kubectl("delete", "tw", "half-a", "half-b", "-n", "runai-team")
    eventually(lambda: not reservations(c), timeout=30)  # after the idle time (3 s here, 30 s by default)


def test_a_reservation_that_cannot_be_made_leaves_the_pod_waiting_and_says_why(shared):
    c = shared
    c.kubectl("delete", "namespace", RESERVATIONS, "--wait=true", timeout=60)
    train(c, "stuck", "0.5")

    def told() -> str:
        events = get(c, "events", "-n", "runai-team", "--field-selector", "involvedObject.name=stuck-0-0")
        return " ".join(e["message"] for e in events.get("items", []) if e["reason"] == "FailedScheduling")

    said = eventually(told, timeout=30)
    assert "runai-reservation" in said, said
    assert not get(c, "pod", "stuck-0-0", "-n", "runai-team")["spec"].get("nodeName")  # not bound without its GPU
    events = get(c, "events", "-n", "runai-team", "--field-selector", "involvedObject.name=stuck-0-0")["items"]
    assert sum(e.get("count", 1) for e in events if e["reason"] == "FailedScheduling") <= 2  # said once, not per cycle


def test_the_reservation_command_prints_the_gpu_it_was_given_and_holds_it():
    env = {**os.environ, "NVIDIA_VISIBLE_DEVICES": "GPU-8f6b1c2e-1d2a-4c3b-9a7e-0f1e2d3c4b5a"}
    holding = subprocess.Popen([str(BIN / "berth"), "gpu-reservation"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holding.stdout.readline() == "GPU-8f6b1c2e-1d2a-4c3b-9a7e-0f1e2d3c4b5a\n"
        assert holding.poll() is None  # it holds the GPU until stopped
    finally:
        holding.terminate()
    assert holding.wait(timeout=10) == 0


def test_the_reservation_command_without_a_gpu_says_so_and_fails():
    env = {k: v for k, v in os.environ.items() if k != "NVIDIA_VISIBLE_DEVICES"}
    env["PATH"] = str(BIN)  # no nvidia-smi here
    result = subprocess.run([str(BIN / "berth"), "gpu-reservation"], capture_output=True, text=True, env=env,
                            timeout=30)
    assert result.returncode == 1
    assert "no GPU is visible to this container" in result.stderr
