"""A researcher's reach into running pods, against a `berth up` with its local node: logs and exec into a pod of
their own project work (the WebSocket is authorized, then relayed to the node); the same into another
project's pod is refused before anything reaches the node."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.cluster import BIN, Cluster


def berth_user(c: Cluster, *args: str) -> None:
    result = subprocess.run([str(BIN / "berth"), "user", *args, "--data-dir", str(c.data_dir)],
                            capture_output=True, text=True, timeout=60, env=c.env())
    assert result.returncode == 0, result.stderr


def kubectl_as(c: Cluster, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return c.kubectl(*args, check=False, env={"KUBECONFIG": str(c.data_dir / "users" / f"{name}.kubeconfig")})


@pytest.fixture(scope="module")
def pods(cluster: Cluster) -> Cluster:
    for project in ("team-a", "team-b"):
        namespace = cluster.project(project)
        manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "worker", "namespace": namespace},
                    "spec": {"nodeName": "local", "restartPolicy": "Never", "containers": [
                        {"name": "main", "image": "none", "command": ["sh", "-c", f"echo hello {project}; sleep 600"]}]}}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    for project in ("team-a", "team-b"):
        cluster.kubectl("wait", "pod/worker", "-n", f"runai-{project}", "--for=jsonpath={.status.phase}=Running",
                        "--timeout=30s")
    berth_user(cluster, "add", "alice", "--role", "researcher", "--project", "team-a")
    return cluster


def test_researcher_reads_logs_and_execs_in_own_project_only(pods: Cluster) -> None:
    logs = kubectl_as(pods, "alice", "logs", "worker", "-n", "runai-team-a")
    assert logs.returncode == 0 and logs.stdout == "hello team-a\n", logs.stderr
    ran = kubectl_as(pods, "alice", "exec", "worker", "-n", "runai-team-a", "--", "sh", "-c", "echo inside")
    assert ran.returncode == 0 and ran.stdout == "inside\n", ran.stderr
    refused = kubectl_as(pods, "alice", "logs", "worker", "-n", "runai-team-b")  # kubectl gets the pod first
    assert refused.returncode != 0 and 'cannot get resource "pods" in API group ""' in refused.stderr
    refused = kubectl_as(pods, "alice", "get", "--raw", "/api/v1/namespaces/runai-team-b/pods/worker/log")
    assert refused.returncode != 0 and 'cannot get resource "pods/log"' in refused.stderr
    assert "hello team-b" not in refused.stdout
    refused = kubectl_as(pods, "alice", "exec", "worker", "-n", "runai-team-b", "--", "true")
    assert refused.returncode != 0 and "forbidden" in refused.stderr
