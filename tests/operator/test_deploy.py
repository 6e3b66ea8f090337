"""deploy/: the installation into a real cluster renders offline, every manifest validates strictly against the
Kubernetes OpenAPI schema, what is generated is what Berth generates, `kubectl apply --dry-run=server -k
deploy/` succeeds against `berth up`, and the certificate Job's command makes a certificate the webhook serves
with and kube-apiserver would trust."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import kubernetes_validate
import pytest
import yaml

from berth.apiserver.tls import issue, new_ca, pem
from berth.webhook.certificate import service_hosts
from tests.cluster import BIN, free_port
from tests.controllers.helpers import eventually
from tests.operator.rbac import allows, operator_rules, refused_requests

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = "1.37.0"  # the newest schema kubernetes-validate carries; kubectl is 1.37 too
OLDEST = "1.27.0"  # the oldest Kubernetes docs/kubernetes.md says Berth installs on
#: Kinds of cert-manager, which the Kubernetes schema does not hold; checked against what deploy/ needs of them.
CERT_MANAGER = {"Issuer", "Certificate"}


def render(path: Path) -> list[dict]:
    result = subprocess.run([str(BIN / "kubectl"), "kustomize", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.mark.parametrize("version", [OLDEST, KUBERNETES])
@pytest.mark.parametrize("overlay", ["", "cert-manager"])
def test_every_manifest_renders_and_validates_strictly_against_the_kubernetes_schema(overlay, version):
    docs = render(DEPLOY / overlay)
    checked = []
    for doc in docs:
        if doc["kind"] in CERT_MANAGER:
            assert doc["apiVersion"] == "cert-manager.io/v1"
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']} ({version}): {exc.message} at {list(exc.path)}")
        checked.append(doc["kind"])
    assert {"CustomResourceDefinition", "Deployment", "Service", "ServiceAccount", "ClusterRole", "Role",
            "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Namespace"} <= set(checked)
    assert ("Job" in checked) == (overlay == "")


def test_strict_validation_would_catch_a_mistyped_field():
    deployment = next(d for d in render(DEPLOY) if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolcy"):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_the_generated_manifests_are_what_berth_generates():
    for path, command in ((DEPLOY / "base" / "crds.yaml", "crds"), (DEPLOY / "base" / "user-roles.yaml", "rbac")):
        made = subprocess.run([str(BIN / "berth"), command], capture_output=True, text=True, check=True).stdout
        assert path.read_text() == made, f"{path} is stale: berth {command} > {path.relative_to(ROOT)}"


def test_the_operator_runs_two_replicas_with_probes_limits_and_a_locked_down_container():
    deployment = next(d for d in render(DEPLOY) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert deployment["spec"]["replicas"] == 2
    assert container["command"] == ["berth", "operator"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["serviceAccountName"] == "berth-operator"
    # the flags it is given are flags berth operator has
    shown = subprocess.run([str(BIN / "berth"), "operator", "--help"], capture_output=True, text=True).stdout
    for arg in container["args"]:
        assert arg.split("=")[0] in shown


def test_the_rbac_reader_allows_what_a_rule_names_and_nothing_more():
    cluster, by_namespace = operator_rules()
    assert any(allows(r, "create", "", "pods", "binding", None) for r in cluster)
    assert not any(allows(r, "delete", "", "nodes", None, None) for r in cluster)
    assert not any(allows(r, "get", "", "secrets", None, None) for r in cluster)  # the operator reads no Secret
    assert not any(allows(r, "update", "coordination.k8s.io", "leases", None, None) for r in cluster)
    assert any(allows(r, "update", "coordination.k8s.io", "leases", None, "berth-operator") for r in by_namespace["runai"])
    assert not any(allows(r, "update", "coordination.k8s.io", "leases", None, "another") for r in by_namespace["runai"])
    assert not any(allows(r, "create", "", "pods", "eviction", None) for r in cluster)  # preempted pods are deleted
    assert allows({"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["get"]},
                  "get", "", "secrets", None, "a")
    assert not allows({"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["get"]},
                      "get", "", "secrets", None, "b")


def test_a_request_the_roles_do_not_allow_is_reported(tmp_path):
    log = tmp_path / "audit.log"
    events = [("berth-operator", "create", "", "pods", "binding", "runai-a"),
              ("berth-operator", "delete", "", "nodes", None, ""),
              ("berth-operator", "update", "coordination.k8s.io", "leases", None, "kube-system"),
              ("someone", "delete", "", "nodes", None, "")]
    log.write_text("".join(json.dumps({"verb": verb, "user": {"username": user}, "objectRef": {
        "resource": resource, "subresource": sub, "apiGroup": group, "namespace": ns, "name": "x"}}) + "\n"
        for user, verb, group, resource, sub, ns in events))
    assert refused_requests(log, "berth-operator") == [
        "delete nodes (group '', namespace '')",
        "update leases (group 'coordination.k8s.io', namespace 'kube-system')"]


def test_kubectl_apply_dry_run_server_of_deploy_succeeds_against_berth_up(bare_module_cluster):
    result = bare_module_cluster.kubectl("apply", "--dry-run=server", "-k", str(DEPLOY), timeout=120)
    assert "deployment.apps/berth-operator created (server dry run)" in result.stdout
    assert "job.batch/berth-webhook-certificate created (server dry run)" in result.stdout
    assert "mutatingwebhookconfiguration.admissionregistration.k8s.io/berth created (server dry run)" in result.stdout
    assert bare_module_cluster.kubectl("get", "deployments", "-n", "runai", "-o", "name").stdout == ""  # dry run


def test_a_mistake_in_a_manifest_is_refused_by_the_server_dry_run_too(bare_module_cluster, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "kustomization.yaml").write_text("resources: [rbac.yaml]\n")
    (bad / "rbac.yaml").write_text((DEPLOY / "base" / "operator-rbac.yaml").read_text().replace(
        "kind: ClusterRoleBinding", "kind: ClusterRoleBindin", 1))
    result = bare_module_cluster.kubectl("apply", "--dry-run=server", "-k", str(bad), check=False)
    assert result.returncode != 0
    assert 'no matches for kind "ClusterRoleBindin" in version "rbac.authorization.k8s.io/v1"' in result.stderr


def test_the_certificate_job_makes_a_certificate_the_webhook_serves_and_its_ca_trusts(bare_module_cluster,
                                                                                     tmp_path):
    c = bare_module_cluster
    c.kubectl("apply", "--server-side", "-f", str(DEPLOY / "base" / "webhooks.yaml"))
    certify = [str(BIN / "berth"), "webhook-certificate", "--kubeconfig", str(c.kubeconfig)]
    first = subprocess.run(certify, capture_output=True, text=True, env=c.env(), timeout=60)
    assert first.returncode == 0, first.stderr
    assert "secret runai/berth-webhook-tls: a new certificate" in first.stdout
    again = subprocess.run(certify, capture_output=True, text=True, env=c.env(), timeout=60)
    assert "kept (still valid)" in again.stdout  # an upgrade's Job keeps the pods' certificate

    secret = json.loads(c.kubectl("get", "secret", "-n", "runai", "berth-webhook-tls", "-o", "json").stdout)
    assert secret["type"] == "kubernetes.io/tls"
    certs = tmp_path / "certs"
    certs.mkdir()
    for key in ("tls.crt", "tls.key"):
        (certs / key).write_bytes(base64.b64decode(secret["data"][key]))
    bundles = set()
    for kind in ("mutatingwebhookconfiguration", "validatingwebhookconfiguration"):
        config = json.loads(c.kubectl("get", kind, "berth", "-o", "json").stdout)
        bundles |= {w["clientConfig"]["caBundle"] for w in config["webhooks"]}
    assert bundles == {secret["data"]["ca.crt"]}

    port, probe = free_port(), free_port()
    operator = subprocess.Popen([str(BIN / "berth"), "operator", "--kubeconfig", str(c.kubeconfig), "--no-controllers",
                                 "--no-scheduler", "--cert-dir", str(certs), "--webhook-port", str(port),
                                 "--probe-port", str(probe), "--identity", "certified",
                                 "--certificate-check-interval", "0.2"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=c.env())
    try:
        eventually(lambda: _ready(probe), timeout=30)
        # As kube-apiserver calls it: by the Service's name, trusting only the configuration's CA bundle.
        context = ssl.create_default_context(cadata=base64.b64decode(bundles.pop()).decode())
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="berth-webhook.runai.svc") as tls:
                assert tls.version() is not None
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with pytest.raises(ssl.SSLCertVerificationError):
                context.wrap_socket(raw, server_hostname="elsewhere.example")
        # Renewed in place (as cert-manager and the kubelet do it): served from the next handshake, no restart.
        ca, ca_key = new_ca("renewed-ca")
        cert, key = issue(ca, ca_key, service_hosts("berth-webhook", "runai"), "berth-webhook.runai.svc")
        (certs / "tls.key.new").write_bytes(key)
        (certs / "tls.crt.new").write_bytes(cert)
        (certs / "tls.key.new").rename(certs / "tls.key")
        (certs / "tls.crt.new").rename(certs / "tls.crt")
        renewed = ssl.create_default_context(cadata=pem(ca).decode())

        def serves_renewed() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                try:
                    with renewed.wrap_socket(raw, server_hostname="berth-webhook.runai.svc"):
                        return True
                except ssl.SSLCertVerificationError:
                    return False

        eventually(serves_renewed, timeout=15)
        assert operator.poll() is None
    finally:
        operator.terminate()
        operator.wait(timeout=20)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
