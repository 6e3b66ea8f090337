"""Who may do what against a real `berth up`, through real kubectl with each user's own kubeconfig (written by
`berth user add`): a researcher of team-a reaches nothing of team-b by any route, cannot write policies or
quotas nor escape their namespace; a viewer writes nothing; a revoked token is refused at the very next
request; without a token only the probes and /version answer.

One API server (no controllers, scheduler or nodes: access is decided by the API server alone) serves the
whole module."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.cluster import BIN, Cluster

pytestmark = pytest.mark.usefixtures("bare_module_cluster")


def workload(name: str, namespace: str, labels: str = "{}") -> str:
    return (f"apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {{name: {name}, namespace: {namespace}, "
            f"labels: {labels}}}\nspec:\n  image: {{value: busybox}}\n  gpu: {{value: '0'}}\n")


def berth_user(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "berth"), "user", *args, "--data-dir", str(cluster.data_dir)],
                          capture_output=True, text=True, timeout=60, env=cluster.env())


class As:
    """kubectl as one user, with the kubeconfig `berth user add` wrote for them."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.kubeconfig = cluster.data_dir / "users" / f"{name}.kubeconfig"

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl(*args, input=input, check=False, env={"KUBECONFIG": str(self.kubeconfig)})

    def refused(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input)
        assert result.returncode != 0, f"kubectl {' '.join(args)} was allowed:\n{result.stdout}"
        assert "Forbidden" in result.stderr or "forbidden" in result.stderr, result.stderr
        return result.stderr


@pytest.fixture(scope="module")
def world(bare_module_cluster: Cluster) -> Cluster:
    c = bare_module_cluster
    projects = "".join(f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: runai-{p}, labels: {{runai/queue: {p}}}}}\n"
                       f"---\napiVersion: run.ai/v1\nkind: Project\nmetadata: {{name: {p}}}\n" for p in ("team-a", "team-b"))
    c.kubectl("apply", "-f", "-", input=projects + "---\n" + "---\n".join([  # one kubectl, in this order
        workload("b-job", "runai-team-b", "{team: b}"), workload("a-job", "runai-team-a", "{team: a}"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b-pod, namespace: runai-team-b}\n"
        "spec: {containers: [{name: main, image: busybox}]}\n",
        "apiVersion: v1\nkind: Node\nmetadata: {name: gpu-node-1}\n"]))
    adding = [subprocess.Popen([str(BIN / "berth"), "user", "add", *args, "--data-dir", str(c.data_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=c.env())
              for args in (("alice", "--role", "researcher", "--project", "team-a"), ("vera", "--role", "viewer"),
                           ("mallory", "--role", "researcher", "--project", "team-a"))]
    for process in adding:  # at the same time: the users file takes every one of them
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0 and "token: " in out, err
    return c


def test_researcher_works_in_own_project(world: Cluster) -> None:
    alice = As(world, "alice")
    assert alice("apply", "-f", "-", input=workload("mine", "runai-team-a")).returncode == 0
    assert alice("get", "tw", "mine", "-o", "name").stdout.strip() == "trainingworkload.run.ai/mine"
    assert "mine" in alice("get", "tw", "-n", "runai-team-a", "-o", "name").stdout
    assert alice("label", "tw", "mine", "x=y").returncode == 0
    assert alice("get", "pods", "-n", "runai-team-a").returncode == 0
    assert alice("get", "events", "-n", "runai-team-a").returncode == 0
    # reads policies, projects and nodes anywhere
    for args in (("get", "trainingpolicies", "-A"), ("get", "projects"), ("get", "nodes")):
        assert alice(*args).returncode == 0, alice(*args).stderr
    assert alice("delete", "tw", "mine").returncode == 0


def test_researcher_reaches_nothing_of_another_project(world: Cluster) -> None:
    alice = As(world, "alice")
    err = alice.refused("get", "tw", "b-job", "-n", "runai-team-b")
    assert ('trainingworkloads.run.ai "b-job" is forbidden: User "alice" cannot get resource "trainingworkloads" '
            'in API group "run.ai" in the namespace "runai-team-b"') in err
    alice.refused("get", "tw", "-n", "runai-team-b")
    alice.refused("get", "tw", "-n", "runai-team-b", "-l", "team=b")
    alice.refused("get", "tw", "-n", "runai-team-b", "--field-selector", "metadata.name=b-job")
    alice.refused("get", "tw", "-n", "runai-team-b", "--watch", "--request-timeout", "5s")
    err = alice.refused("get", "tw", "-A")
    assert 'cannot list resource "trainingworkloads" in API group "run.ai" at the cluster scope' in err
    alice.refused("get", "tw", "-A", "-l", "team=a")
    alice.refused("delete", "tw", "b-job", "-n", "runai-team-b")
    alice.refused("label", "tw", "b-job", "-n", "runai-team-b", "team=a")
    alice.refused("patch", "tw", "b-job", "-n", "runai-team-b", "--type", "merge", "-p", '{"spec":{"gpu":{"value":"2"}}}')
    alice.refused("apply", "-f", "-", input=workload("b-job", "runai-team-b"))
    alice.refused("logs", "b-job-0", "-n", "runai-team-b")
    alice.refused("get", "pods", "-n", "runai-team-b")
    alice.refused("get", "secrets", "-n", "runai-team-a")
    alice.refused("exec", "b-pod", "-n", "runai-team-b", "--", "true")
    # the other project's workload is untouched
    obj = json.loads(world.kubectl("get", "tw", "b-job", "-n", "runai-team-b", "-o", "json").stdout)
    assert obj["metadata"]["labels"] == {"team": "b"} and obj["spec"].get("gpu") == {"value": "0"}


def test_researcher_cannot_escape_the_namespace(world: Cluster) -> None:
    alice = As(world, "alice")
    # a body naming another namespace, sent to their own: refused by the API, nothing stored
    result = alice("create", "-n", "runai-team-a", "--raw",
                   "/apis/run.ai/v2alpha1/namespaces/runai-team-a/trainingworkloads", "-f", "-",
                   input=json.dumps({"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
                                     "metadata": {"name": "sneak", "namespace": "runai-team-b"},
                                     "spec": {"image": {"value": "busybox"}}}))
    assert result.returncode != 0 and "does not match the namespace" in result.stderr
    # moving an own workload to team-b by changing metadata.namespace
    own = json.loads(world.kubectl("get", "tw", "a-job", "-n", "runai-team-a", "-o", "json").stdout)
    own["metadata"]["namespace"] = "runai-team-b"
    result = alice("replace", "-f", "-", input=json.dumps(own))
    assert result.returncode != 0
    # ... or by patching metadata.namespace: refused as Kubernetes refuses it, and the object stays where it is
    for patch_type, patch in (("merge", '{"metadata":{"namespace":"runai-team-b"}}'),
                              ("json", '[{"op":"replace","path":"/metadata/namespace","value":"runai-team-b"}]')):
        result = alice("patch", "tw", "a-job", "-n", "runai-team-a", "--type", patch_type, "-p", patch)
        assert result.returncode != 0 and ("the namespace of the object (runai-team-b) does not match the namespace "
                                           "on the request (runai-team-a)") in result.stderr, result.stderr
    renamed = alice("patch", "tw", "a-job", "-n", "runai-team-a", "--type", "merge", "-p", '{"metadata":{"name":"b-job"}}')
    assert "the name of the object (b-job) does not match the name on the URL (a-job)" in renamed.stderr
    assert world.kubectl("get", "tw", "a-job", "-n", "runai-team-a", "-o", "name").returncode == 0
    # relabelling an own workload as team-b's does not give access to team-b
    assert alice("label", "tw", "a-job", "-n", "runai-team-a", "team=b", "--overwrite").returncode == 0
    alice.refused("get", "tw", "-n", "runai-team-b", "-l", "team=b")
    assert world.kubectl("get", "tw", "sneak", "-n", "runai-team-b", check=False).returncode != 0
    assert world.kubectl("get", "tw", "-n", "runai-team-b", "-o", "name").stdout.split() == [
        "trainingworkload.run.ai/b-job"]


def test_researcher_cannot_set_policies_or_quotas(world: Cluster) -> None:
    alice = As(world, "alice")
    policy = ("apiVersion: run.ai/v2alpha1\nkind: TrainingPolicy\nmetadata: {name: training-policy, namespace: "
              "runai-team-a}\nspec: {defaults: {gpu: {value: '1'}}}\n")
    err = alice.refused("apply", "-f", "-", input=policy)
    assert 'cannot create resource "trainingpolicies"' in err or 'cannot patch resource "trainingpolicies"' in err
    err = alice.refused("patch", "project", "team-a", "--type", "merge", "-p", '{"spec":{"deservedGpus":8}}')
    assert 'User "alice" cannot patch resource "projects" in API group "run.ai" at the cluster scope' in err
    alice.refused("delete", "project", "team-b")
    alice.refused("create", "namespace", "runai-escape")
    alice.refused("patch", "node", "gpu-node-1", "-p", '{"metadata":{"labels":{"x":"y"}}}')


def test_viewer_reads_everything_and_writes_nothing(world: Cluster) -> None:
    vera = As(world, "vera")
    assert "b-job" in vera("get", "tw", "-A").stdout
    assert "b-job" in vera("get", "tw", "-n", "runai-team-b", "-w", "--request-timeout", "1s", "-o", "name").stdout
    vera.refused("get", "secrets", "-A")
    vera.refused("apply", "-f", "-", input=workload("v-job", "runai-team-a"))
    vera.refused("delete", "tw", "b-job", "-n", "runai-team-b")
    vera.refused("label", "tw", "b-job", "-n", "runai-team-b", "x=y")
    err = vera.refused("exec", "b-pod", "-n", "runai-team-b", "--", "true")  # the WebSocket itself is refused
    assert 'User "vera" cannot create resource "pods/exec" in API group "" in the namespace "runai-team-b"' in err
    vera.refused("patch", "project", "team-a", "--type", "merge", "-p", '{"spec":{"deservedGpus":8}}')


def _get(cluster: Cluster, path: str, token: str | None = None) -> int:
    request = urllib.request.Request(cluster.url + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(cluster.ca))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_without_a_token_only_probes_and_version_answer(world: Cluster) -> None:
    for path in ("/healthz", "/readyz", "/livez", "/version"):
        assert _get(world, path) == 200, path
    for path in ("/api", "/apis", "/api/v1", "/openapi/v3", "/api/v1/namespaces/runai-team-a/pods",
                 "/apis/run.ai/v2alpha1/trainingworkloads", "/apis/run.ai/v1/projects"):
        assert _get(world, path) == 401, path
        assert _get(world, path, "not-a-token") == 401, path


def test_revoked_token_is_refused_at_once(world: Cluster) -> None:
    mallory = As(world, "mallory")
    token = _token(mallory.kubeconfig)
    assert _get(world, "/apis/run.ai/v2alpha1/namespaces/runai-team-a/trainingworkloads", token) == 200
    watch = subprocess.Popen([str(BIN / "kubectl"), "get", "tw", "-n", "runai-team-a", "-w", "-o", "name",
                              "--kubeconfig", str(mallory.kubeconfig)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=world.env())
    try:
        assert watch.stdout is not None and "a-job" in watch.stdout.readline()  # the watch is open
        result = berth_user(world, "revoke", "mallory")
        assert result.returncode == 0, result.stderr
        world.kubectl("apply", "-f", "-", input=workload("after-revoke", "runai-team-a"))
        out, _ = watch.communicate(timeout=20)  # the open watch ends before that event
    finally:
        watch.kill()
    assert "after-revoke" not in out
    assert _get(world, "/apis/run.ai/v2alpha1/namespaces/runai-team-a/trainingworkloads", token) == 401
    assert _get(world, "/api", token) == 401
    assert not mallory.kubeconfig.exists()


def _token(kubeconfig: Path) -> str:
    import yaml

    return yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]


def test_kubectl_auth_can_i_answers_from_the_same_rules(world: Cluster) -> None:
    alice = As(world, "alice")
    assert alice("auth", "can-i", "create", "tw", "-n", "runai-team-a").stdout.strip() == "yes"
    result = alice("auth", "can-i", "delete", "tw", "-n", "runai-team-b")
    assert result.returncode == 1
    assert result.stdout.strip() == "no - researcher alice may delete trainingworkloads only in runai-team-a"
    assert alice("auth", "can-i", "get", "pods", "--subresource", "log", "-n", "runai-team-a").stdout.strip() == "yes"
    assert alice("auth", "can-i", "create", "trainingpolicies", "-n", "runai-team-a").stdout.startswith("no - ")
    assert As(world, "vera")("auth", "can-i", "list", "tw", "-A").stdout.strip() == "yes"


def test_unknown_project_is_a_warning_and_rbac_reads_the_clusters_projects(world: Cluster) -> None:
    result = berth_user(world, "add", "zoe", "--role", "researcher", "--project", "team-z")
    assert result.returncode == 0, result.stderr
    assert "project team-z does not exist yet" in result.stderr
    result = subprocess.run([str(BIN / "berth"), "rbac", "--from-cluster", "--kubeconfig", str(world.kubeconfig)],
                            capture_output=True, text=True, timeout=60, env=world.env())
    assert result.returncode == 0, result.stderr
    import yaml

    namespaces = {o["metadata"].get("namespace") for o in yaml.safe_load_all(result.stdout) if o["kind"] == "RoleBinding"}
    assert {"runai-team-a", "runai-team-b"} <= namespaces


def test_insecure_http_is_single_user_and_checks_no_token(tmp_path: Path) -> None:
    """`--insecure-http` on loopback: kubectl sends no token over HTTP, so every request is the admin's."""
    from tests.cluster import free_port, reap_pods

    home = tmp_path / "home"
    home.mkdir()
    c = Cluster(url=f"http://127.0.0.1:{free_port()}", data_dir=tmp_path / "berth",
                kubeconfig=tmp_path / "berth" / "kubeconfig", home=home,
                args=("--insecure-http", "--no-controllers", "--no-scheduler", "--no-local-node"))
    c.start()
    try:
        c.project("team-a")
        assert c.kubectl("get", "projects", "-o", "name").stdout.strip() == "project.run.ai/team-a"
        request = urllib.request.Request(c.url + "/apis/run.ai/v1/projects", method="GET")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        c.stop()
        reap_pods(c.data_dir)


def test_kubectl_auth_whoami_names_the_user_and_their_rbac_groups(world: Cluster) -> None:
    out = As(world, "alice")("auth", "whoami", "-o", "json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)["status"]["userInfo"]
    assert info == {"username": "alice",
                    "groups": ["berth:researchers", "berth:project:team-a", "system:authenticated"]}
    assert json.loads(world.kubectl("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]["username"] == "admin"
