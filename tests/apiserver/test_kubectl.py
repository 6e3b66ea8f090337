"""The real kubectl against `berth up`: every command of issue B's list, as a user types it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from tests.conftest import ROOT
from tests.controllers.helpers import eventually

SEED = (ROOT / "examples" / "workloads" / "training-seed.yaml").read_text()
NS = "runai-team-a"


@pytest.fixture(scope="module", autouse=True)
def project_namespace(cluster):
    cluster.project(NS.removeprefix("runai-"))


def tw(name: str, gpu: str = "1", image: str = "gcr.io/run-ai-demo/quickstart", suspended: bool = False) -> str:
    """A training workload; `suspended` ones (active: false) have no pods, so their pods' fields may be edited."""
    return textwrap.dedent(f"""\
        apiVersion: run.ai/v2alpha1
        kind: TrainingWorkload
        metadata: {{name: {name}, namespace: {NS}}}
        spec:
          gpu: {{value: "{gpu}"}}
          image: {{value: {image}}}
          name: {{value: {name}}}
        """) + ("  active: {value: false}\n" if suspended else "")


def test_apply_the_seed_workload_then_get_it(cluster):
    out = cluster.kubectl("apply", "-f", "-", input=SEED).stdout
    assert "trainingworkload.run.ai/job-1 created" in out
    again = cluster.kubectl("apply", "-f", "-", input=SEED).stdout
    assert "trainingworkload.run.ai/job-1 unchanged" in again
    def table() -> list[list[str]]:
        return [line.split() for line in cluster.kubectl("get", "tw", "-n", NS).stdout.splitlines()]

    assert table()[0] == ["NAME", "STATUS", "GPU", "RUNNING", "PENDING", "AGE"]
    row = eventually(lambda: (rows := [r for r in table() if r[0] == "job-1"]) and len(rows[0]) == 6 and rows[0])
    assert row[2] == "1"  # the GPU column: the workload's GPUs, once its controller has looked at it
    wide = cluster.kubectl("get", "tw", "job-1", "-n", NS, "-o", "wide").stdout
    assert "IMAGE" in wide and "gcr.io/run-ai-demo/quickstart" in wide


def test_get_yaml_has_the_server_fields(cluster):
    cluster.kubectl("apply", "-f", "-", input=tw("yaml-1"))
    obj = yaml.safe_load(cluster.kubectl("get", "tw", "yaml-1", "-n", NS, "-o", "yaml").stdout)
    meta = obj["metadata"]
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1
    assert obj["spec"]["gpu"] == {"value": "1"}


def test_get_watch_sees_a_later_change(cluster):
    cluster.kubectl("apply", "-f", "-", input=tw("watched", suspended=True))
    watcher = subprocess.Popen([str(sys.executable.rsplit("/", 1)[0] + "/kubectl"), "get", "tw", "watched", "-n", NS,
                                "-w", "-o", "jsonpath={.spec.gpu.value}{\"\\n\"}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cluster.env())
    try:
        time.sleep(1.5)
        cluster.kubectl("patch", "tw", "watched", "-n", NS, "--type", "merge", "-p", '{"spec":{"gpu":{"value":"3"}}}')
        deadline = time.monotonic() + 15
        seen = []
        while time.monotonic() < deadline:
            line = watcher.stdout.readline().strip()
            seen.append(line)
            if line == "3":
                break
        assert "3" in seen, seen
    finally:
        watcher.kill()


def test_describe_shows_spec_and_metadata(cluster):
    cluster.kubectl("apply", "-f", "-", input=tw("described"))
    out = cluster.kubectl("describe", "tw", "described", "-n", NS).stdout
    assert "Name:" in out and "described" in out
    assert "Kind:         TrainingWorkload" in out
    assert "Gpu:" in out


def test_edit_through_an_editor(cluster, tmp_path):
    cluster.kubectl("apply", "-f", "-", input=tw("edited", suspended=True))
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/value: \"1\"/value: \"2\"/' \"$1\"\n")
    editor.chmod(0o755)
    out = cluster.kubectl("edit", "tw", "edited", "-n", NS, env={"KUBE_EDITOR": str(editor)}).stdout
    assert "edited" in out
    obj = json.loads(cluster.kubectl("get", "tw", "edited", "-n", NS, "-o", "json").stdout)
    assert obj["spec"]["gpu"]["value"] == "2"
    assert obj["metadata"]["generation"] == 2


def test_patch_label_annotate(cluster):
    cluster.kubectl("apply", "-f", "-", input=tw("patched", suspended=True))
    cluster.kubectl("patch", "tw", "patched", "-n", NS, "--type", "merge", "-p", '{"spec":{"nodeType":{"value":"dgx"}}}')
    cluster.kubectl("label", "tw", "patched", "-n", NS, "team=vision")
    cluster.kubectl("annotate", "tw", "patched", "-n", NS, "note=hello")
    obj = json.loads(cluster.kubectl("get", "tw", "patched", "-n", NS, "-o", "json").stdout)
    assert obj["spec"]["nodeType"] == {"value": "dgx"}
    assert obj["metadata"]["labels"]["team"] == "vision"
    assert obj["metadata"]["annotations"]["note"] == "hello"
    listed = cluster.kubectl("get", "tw", "-n", NS, "-l", "team=vision", "-o", "name").stdout.split()
    assert listed == ["trainingworkload.run.ai/patched"]
    strategic = cluster.kubectl("patch", "tw", "patched", "-n", NS, "-p", '{"spec":{}}', check=False)
    assert strategic.returncode != 0
    assert "application/strategic-merge-patch+json is not supported" in strategic.stderr


def test_delete_and_wait_for_delete(cluster):
    cluster.kubectl("apply", "-f", "-", input=tw("doomed"))
    out = cluster.kubectl("delete", "tw", "doomed", "-n", NS).stdout
    assert 'trainingworkload.run.ai "doomed" deleted' in out
    cluster.kubectl("wait", "--for=delete", "tw/doomed", "-n", NS, "--timeout=20s")
    missing = cluster.kubectl("get", "tw", "doomed", "-n", NS, check=False)
    assert missing.returncode == 1
    assert 'trainingworkloads.run.ai "doomed" not found' in missing.stderr


def test_explain_in_the_seed_layout(cluster):
    out = cluster.kubectl("explain", "trainingworkload.spec.nodeType").stdout
    assert "KIND:       TrainingWorkload" in out or "KIND:     TrainingWorkload" in out
    assert "nodeType <Object>" in out
    assert "run.ai/type" in out
    assert "value\t<string>" in out


def test_api_resources_lists_every_runai_kind_with_short_names(cluster):
    out = cluster.kubectl("api-resources", "--api-group=run.ai").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    for plural, short in [("trainingworkloads", "tw"), ("interactiveworkloads", "iw"), ("distributedworkloads", "dw"),
                          ("inferenceworkloads", "infw"), ("trainingpolicies", "tpol"), ("projects", "rp")]:
        assert plural in rows, out
        assert short in rows[plural][1], rows[plural]


def test_server_side_apply_create_then_replace(cluster, tmp_path):
    out = cluster.kubectl("apply", "--server-side", "-f", "-", input=tw("ssa-1", suspended=True)).stdout
    assert "serverside-applied" in out
    cluster.kubectl("apply", "--server-side", "-f", "-", input=tw("ssa-1", gpu="2", suspended=True))
    obj = json.loads(cluster.kubectl("get", "tw", "ssa-1", "-n", NS, "-o", "json").stdout)
    assert obj["spec"]["gpu"]["value"] == "2"


def test_create_and_replace(cluster, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(tw("created", suspended=True))
    assert "created" in cluster.kubectl("create", "-f", str(path)).stdout
    exists = cluster.kubectl("create", "-f", str(path), check=False)
    assert exists.returncode == 1 and "AlreadyExists" in exists.stderr
    path.write_text(tw("created", gpu="4", suspended=True))
    assert "replaced" in cluster.kubectl("replace", "-f", str(path)).stdout
    obj = json.loads(cluster.kubectl("get", "tw", "created", "-n", NS, "-o", "json").stdout)
    assert obj["spec"]["gpu"]["value"] == "4"


def test_get_all_namespaces_and_the_runai_category(cluster):
    cluster.kubectl("apply", "-f", "-", input=tw("listed"))
    everywhere = cluster.kubectl("get", "tw", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [NS, "listed"] for line in everywhere[1:])
    category = cluster.kubectl("get", "runai", "-n", NS).stdout
    assert "trainingworkload.run.ai/listed" in category


def test_imperative_create_commands_work(cluster):
    assert "namespace/imperative created" in cluster.kubectl("create", "namespace", "imperative").stdout
    cluster.kubectl("create", "configmap", "cm1", "-n", "imperative", "--from-literal=a=b")
    cluster.kubectl("create", "secret", "generic", "s1", "-n", "imperative", "--from-literal=k=v")
    cm = json.loads(cluster.kubectl("get", "cm", "cm1", "-n", "imperative", "-o", "json").stdout)
    assert cm["data"] == {"a": "b"}
    secret = json.loads(cluster.kubectl("get", "secret", "s1", "-n", "imperative", "-o", "json").stdout)
    assert secret["type"] == "Opaque" and secret["data"] == {"k": "dg=="}


def test_kubectl_create_service_run_and_expose_work(cluster):
    cluster.kubectl("create", "namespace", "svc-imperative")
    out = cluster.kubectl("create", "service", "clusterip", "svc1", "--tcp=80", "-n", "svc-imperative").stdout
    assert "service/svc1 created" in out
    svc = json.loads(cluster.kubectl("get", "svc", "svc1", "-n", "svc-imperative", "-o", "json").stdout)
    assert svc["spec"]["ports"] == [{"name": "80", "protocol": "TCP", "port": 80, "targetPort": 80}]
    assert svc["spec"]["selector"] == {"app": "svc1"}
    cluster.kubectl("create", "service", "nodeport", "np1", "--tcp=5678:8080", "-n", "svc-imperative")
    assert "pod/web created" in cluster.kubectl("run", "web", "--image=nginx", "--port=80", "-n", "svc-imperative").stdout
    assert "service/web exposed" in cluster.kubectl("expose", "pod", "web", "-n", "svc-imperative").stdout
