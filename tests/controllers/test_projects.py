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


def test_creating_projects_logs_no_warning(fresh_cluster):
    c = fresh_cluster
    for name in ("quiet-a", "quiet-b", "quiet-c"):
        c.kubectl("apply", "-f", "-", input=f"apiVersion: run.ai/v1\nkind: Project\nmetadata: {{name: {name}}}\n"
                                            "spec: {deservedGpus: 1}\n")
    for name in ("quiet-a", "quiet-b", "quiet-c"):
        eventually(lambda: json.loads(c.kubectl("get", "project", name, "-o", "json").stdout)
                   .get("status", {}).get("phase") == "Ready")
    c.stop()
    log = c.output()
    assert [line for line in log.splitlines() if "WARNING" in line or "Traceback" in line] == []


def test_the_namespace_of_a_project_with_workloads_cannot_be_deleted(cluster):
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v1
kind: Project
metadata: {name: keep}
---
apiVersion: v1
kind: Namespace
metadata: {name: not-a-project}
""")
    eventually(lambda: cluster.kubectl("get", "ns", "runai-keep", check=False).returncode == 0)
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {name: precious, namespace: runai-keep}
spec: {image: {value: ubuntu}}
""")
    refused = cluster.kubectl("delete", "ns", "runai-keep", check=False)
    assert refused.returncode == 1
    assert ('namespace "runai-keep" holds the workloads of project "keep": 1 workload (trainingworkload/precious); '
            "delete them first: kubectl delete runai --all -n runai-keep; while project \"keep\" exists its "
            "namespace is made again, so to be rid of both: kubectl delete project keep") in refused.stderr
    assert cluster.kubectl("get", "tw", "precious", "-n", "runai-keep", check=False).returncode == 0
    assert "Terminating" not in cluster.kubectl("get", "ns", "runai-keep").stdout
    cluster.kubectl("delete", "ns", "not-a-project")  # any other namespace goes as before
    cluster.kubectl("delete", "tw", "precious", "-n", "runai-keep")
    cluster.kubectl("delete", "project", "keep")
    with client(cluster) as http:
        eventually(lambda: http.get("/api/v1/namespaces/runai-keep").status_code == 404, timeout=20)
