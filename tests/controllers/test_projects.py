"""A Project gets its namespace; a Project with workloads cannot be deleted."""

from __future__ import annotations

import json

from tests.controllers.helpers import client, eventually


def test_a_project_creates_its_labelled_namespace_and_guards_its_workloads(cluster):
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v1
kind: Project
metadata: {name: vision}
spec: {deservedGpus: 4}
""")
    ns = eventually(lambda: (r := cluster.kubectl("get", "ns", "runai-vision", "-o", "json", check=False)).returncode == 0
                    and json.loads(r.stdout))
    assert ns["metadata"]["labels"]["runai/queue"] == "vision"
    project = eventually(lambda: (p := json.loads(cluster.kubectl("get", "project", "vision", "-o", "json").stdout))
                         .get("status", {}).get("phase") == "Ready" and p)
    assert project["status"]["namespace"] == "runai-vision"
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {name: busy, namespace: runai-vision}
spec: {image: {value: ubuntu}}
""")
    refused = cluster.kubectl("delete", "project", "vision", check=False)
    assert refused.returncode == 1
    assert ('project "vision" still has 1 workload in namespace runai-vision (trainingworkload/busy); '
            "delete them first: kubectl delete runai --all -n runai-vision") in refused.stderr
    cluster.kubectl("delete", "tw", "busy", "-n", "runai-vision")
    cluster.kubectl("delete", "project", "vision")
    with client(cluster) as http:
        eventually(lambda: http.get("/api/v1/namespaces/runai-vision").status_code == 404, timeout=20)


def test_an_existing_namespace_is_adopted(cluster):
    cluster.kubectl("create", "namespace", "legacy-team")
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v1
kind: Project
metadata: {name: legacy}
spec: {namespace: legacy-team}
""")
    labels = eventually(lambda: json.loads(cluster.kubectl("get", "ns", "legacy-team", "-o", "json").stdout)["metadata"]
                        .get("labels", {}).get("runai/queue"))
    assert labels == "legacy"
