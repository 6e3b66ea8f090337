"""Pods that name no scheduler (`default-scheduler`, as `kubectl run` makes them) in `berth up`, where Berth's
scheduler is the only one and so serves them too (issue G, defect 13)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.cluster import BIN, Cluster, running
from tests.controllers.helpers import eventually


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running(tmp_path_factory.mktemp("local"), "--gpus", "2")


def pod(c: Cluster, name: str) -> dict:
    return json.loads(c.kubectl("get", "pod", name, "-o", "json").stdout)


def test_kubectl_run_makes_a_pod_that_runs_to_the_end(local):
    local.kubectl("run", "x", "--image=busybox", "--restart=Never", "--command", "--", "sh", "-c", "echo hi")
    eventually(lambda: pod(local, "x")["status"].get("phase") == "Succeeded", timeout=30)
    assert local.kubectl("logs", "x").stdout.strip() == "hi"


def test_kubectl_run_with_its_default_restart_policy_is_placed_and_runs(local):
    # kubectl run's default is restartPolicy Always: the container is run again after it ends, as a kubelet does.
    local.kubectl("run", "again", "--image=busybox", "--command", "--", "sh", "-c", "echo hi")
    eventually(lambda: pod(local, "again")["spec"].get("nodeName"), timeout=30)
    eventually(lambda: local.kubectl("logs", "again", check=False).stdout.strip() == "hi", timeout=30)


def run_with_gpus(c: Cluster, name: str, gpus: int) -> None:
    overrides = {"spec": {"containers": [{"name": name, "image": "busybox", "command": ["sleep", "600"],
                                          "resources": {"limits": {"nvidia.com/gpu": str(gpus)}}}]}}
    c.kubectl("run", name, "--image=busybox", "--restart=Never", f"--overrides={json.dumps(overrides)}")


def failed_scheduling(c: Cluster, name: str, namespace: str = "default") -> list[dict]:
    events = json.loads(c.kubectl("get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}",
                                  "-o", "json").stdout)["items"]
    return [e for e in events if e["reason"] == "FailedScheduling"]


def scheduled(c: Cluster, name: str) -> dict:
    return next(c for c in pod(c, name)["status"].get("conditions") or [] if c["type"] == "PodScheduled")


def test_a_pod_that_cannot_be_placed_says_why_in_an_event_and_a_condition(local):
    run_with_gpus(local, "big", 100)
    (event,) = eventually(lambda: failed_scheduling(local, "big"), timeout=30)
    assert event["type"] == "Warning"
    assert "no node has 100 GPUs (the largest has 2)" in event["message"]
    condition = scheduled(local, "big")
    assert condition["status"] == "False" and condition["reason"] == "Unschedulable"
    assert "no node has 100 GPUs" in condition["message"]
    assert not pod(local, "big")["spec"].get("nodeName")
    local.kubectl("delete", "pod", "big", "--wait=false")


def test_a_pod_that_waited_is_placed_once_the_gpus_are_free(local):
    run_with_gpus(local, "hog", 2)
    eventually(lambda: pod(local, "hog")["spec"].get("nodeName"), timeout=30)
    run_with_gpus(local, "waiter", 1)
    (event,) = eventually(lambda: failed_scheduling(local, "waiter"), timeout=30)
    assert "1 free GPU" in event["message"]
    local.kubectl("delete", "pod", "hog", "--wait=false")
    eventually(lambda: pod(local, "waiter")["status"].get("phase") == "Running", timeout=30)
    assert scheduled(local, "waiter")["status"] == "True"
    assert len(failed_scheduling(local, "waiter")) == 1  # said once, not every cycle
    local.kubectl("delete", "pod", "waiter", "--wait=false")


def test_a_pod_in_a_projects_namespace_is_charged_to_that_project(local):
    local.kubectl("apply", "-f", "-", input="apiVersion: run.ai/v1\nkind: Project\nmetadata: {name: capped}\n"
                                            "spec: {deservedGpus: 1, maxAllowedGpus: 1}\n")
    eventually(lambda: local.kubectl("get", "namespace", "runai-capped", check=False).returncode == 0, timeout=30)
    overrides = {"spec": {"containers": [{"name": "two", "image": "busybox", "command": ["sleep", "600"],
                                          "resources": {"limits": {"nvidia.com/gpu": "2"}}}]}}
    local.kubectl("run", "two", "-n", "runai-capped", "--image=busybox", "--restart=Never",
                  f"--overrides={json.dumps(overrides)}")
    (event,) = eventually(lambda: failed_scheduling(local, "two", "runai-capped"), timeout=30)
    assert event["message"].startswith("project capped may use at most 1 GPU (maxAllowed)")
    local.kubectl("delete", "pod", "two", "-n", "runai-capped", "--wait=false")


def test_berth_scheduler_for_a_real_cluster_leaves_default_scheduler_pods_alone(tmp_path):
    for c in running(tmp_path, "--no-scheduler"):
        scheduler = subprocess.Popen([str(BIN / "berth"), "scheduler", "--kubeconfig", str(c.kubeconfig)],
                                     stdout=subprocess.DEVNULL, env=c.env())
        try:
            c.kubectl("run", "theirs", "--image=busybox", "--restart=Never", "--command", "--", "sleep", "600")
            overrides = {"spec": {"schedulerName": "runai-scheduler"}}
            c.kubectl("run", "ours", "--image=busybox", "--restart=Never", f"--overrides={json.dumps(overrides)}",
                      "--command", "--", "sleep", "600")
            (told,) = eventually(lambda: failed_scheduling(c, "ours"), timeout=30)  # served: it is told why it waits
            assert told["message"].startswith("project default does not exist")
            time.sleep(2)  # cycles enough for the other to have been served too, were it Berth's
            assert not pod(c, "theirs")["spec"].get("nodeName")
            assert failed_scheduling(c, "theirs") == []
        finally:
            scheduler.terminate()
            scheduler.wait(timeout=15)
