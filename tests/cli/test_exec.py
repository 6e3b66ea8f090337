"""`berth exec`, `berth bash`, `berth attach` and `berth port-forward` (and the same verbs on the CLI v2
nouns) into a running workload of `berth up`, as a user runs them: the installed `berth` command, under a
terminal where one is needed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.cluster import BIN, Cluster, free_port
from tests.terminal import spawn

PY = sys.executable


@pytest.fixture(scope="module")
def notebook(cluster: Cluster) -> tuple[Cluster, int]:
    """Project `team` with a running InteractiveWorkload `nb` that serves HTTP on a port; (cluster, port)."""
    cluster.project("team")
    port = free_port()
    workload = {
        "apiVersion": "run.ai/v2alpha1", "kind": "InteractiveWorkload",
        "metadata": {"name": "nb", "namespace": "runai-team"},
        "spec": {"name": {"value": "nb"}, "image": {"value": "python"},
                 "command": {"value": f"{PY} -u -m http.server {port} --bind 127.0.0.1"},
                 "environment": {"items": {"GREETING": {"value": "hello from nb"}}},
                 "ports": {"items": {"web": {"value": {"container": port}}}}},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(workload))
    deadline = time.monotonic() + 60
    while cluster.kubectl("get", "pod", "nb-0-0", "-n", "runai-team", "-o", "jsonpath={.status.phase}",
                          check=False).stdout != "Running":
        assert time.monotonic() < deadline, cluster.kubectl("get", "iw,pods", "-n", "runai-team").stdout
        time.sleep(0.5)
    return cluster, port


def berth(c: Cluster, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(sys.executable.rsplit("/", 1)[0] + "/berth"), *args], capture_output=True, text=True,
                          input=stdin, timeout=timeout, env=c.env())


def test_exec_runs_the_command_in_the_workloads_pod_with_its_exit_code(notebook):
    c, _ = notebook
    result = berth(c, "exec", "nb", "-p", "team", "--", "sh", "-c", 'echo "$GREETING on $HOSTNAME"; echo e >&2; exit 7')
    assert result.returncode == 7, result.stderr
    assert result.stdout == "hello from nb on nb-0-0\n"
    assert result.stderr == "e\n"
    piped = berth(c, "exec", "-i", "nb", "-p", "team", "--", "sh", "-c", "tr a-z A-Z", stdin="quiet words\n")
    assert (piped.returncode, piped.stdout) == (0, "QUIET WORDS\n")
    missing = berth(c, "exec", "nb", "-p", "team", "--", "no-such-program")
    assert missing.returncode == 127 and "executable file not found" in missing.stderr


def test_bash_gets_a_terminal(notebook):
    c, _ = notebook
    term = spawn([sys.executable.rsplit("/", 1)[0] + "/berth", "bash", "nb", "-p", "team"], c.env(), rows=30,
                 columns=90)
    term.type("tty; stty size; echo mark-$((6*7))\n")
    out = term.read_until(b"mark-42")
    assert b"/dev/pts/" in out and b"30 90" in out, out
    term.type("exit 4\n")
    assert term.wait() == 4, term.output


def test_kubectl_exec_it_and_port_forward_reach_the_workloads_pod(notebook):
    c, port = notebook
    term = spawn([str(BIN / "kubectl"), "exec", "-it", "nb-0-0", "-n", "runai-team", "--", "sh"], c.env())
    term.type("tty; echo mark-$((6*7))\n")
    assert b"/dev/pts/" in term.read_until(b"mark-42")
    term.type("exit\n")
    assert term.wait() == 0, term.output
    (c.data_dir / "pods" / "runai-team" / "nb-0-0" / "kubectl.txt").write_text("kubectl reached nb\n")
    local = free_port()
    forwarder = subprocess.Popen([str(BIN / "kubectl"), "port-forward", "-n", "runai-team", "pod/nb-0-0",
                                  f"{local}:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=c.env())
    try:
        assert forwarder.stdout.readline().startswith(f"Forwarding from 127.0.0.1:{local} -> {port}")
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/kubectl.txt", timeout=10) as response:
            assert response.read() == b"kubectl reached nb\n"
    finally:
        forwarder.terminate()
        forwarder.wait(timeout=10)


def test_the_nouns_have_the_verbs_of_their_kind(notebook):
    c, _ = notebook
    result = berth(c, "workspace", "exec", "nb", "-p", "team", "--", "echo", "via the noun")
    assert (result.returncode, result.stdout) == (0, "via the noun\n")
    wrong = berth(c, "training", "exec", "nb", "-p", "team", "--", "true")
    assert wrong.returncode == 1 and 'no TrainingWorkload "nb" in project team' in wrong.stderr
    for noun in ("workspace", "training", "pytorch", "inference"):
        listed = berth(c, noun, "--help").stdout
        assert all(verb in listed for verb in ("exec", "bash", "attach", "port-forward")), (noun, listed)


def test_a_pod_or_container_that_is_not_there_is_named(notebook):
    c, _ = notebook
    result = berth(c, "exec", "nb", "-p", "team", "--pod", "nb-9-9", "--", "true")
    assert result.returncode == 1 and 'workload nb has no pod "nb-9-9" (--pod); its pods: nb-0-0' in result.stderr
    result = berth(c, "exec", "nb", "-p", "team", "-c", "sidecar", "--", "true")
    assert 'pod nb-0-0 has no container "sidecar" (--container); it has: main' in result.stderr
    result = berth(c, "exec", "nope", "-p", "team", "--", "true")
    assert 'no workload "nope" in project team' in result.stderr
    assert "Traceback" not in result.stderr


def test_port_forward_reaches_the_workloads_server(notebook):
    c, port = notebook
    (c.data_dir / "pods" / "runai-team" / "nb-0-0" / "index.txt").write_text("served by nb\n")
    local = free_port()
    forwarder = subprocess.Popen([sys.executable.rsplit("/", 1)[0] + "/berth", "workspace", "port-forward", "nb",
                                  "-p", "team", "--port", f"{local}:{port}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=c.env())
    try:
        assert forwarder.stdout.readline() == f"Forwarding from 127.0.0.1:{local} -> {port} (pod nb-0-0)\n"
        for _ in range(2):
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/index.txt", timeout=10) as response:
                assert response.read() == b"served by nb\n"
    finally:
        forwarder.terminate()
        forwarder.wait(timeout=10)
    bad = berth(c, "port-forward", "nb", "-p", "team", "--port", "eighty")
    assert bad.returncode == 2 and '"eighty" is not LOCAL:REMOTE or PORT' in bad.stderr


def test_attach_shows_the_programs_output_from_now_on(notebook, tmp_path):
    c, port = notebook
    err = tmp_path / "attach.err"
    with err.open("w") as sink:
        attached = subprocess.Popen([sys.executable.rsplit("/", 1)[0] + "/berth", "attach", "nb", "-p", "team"],
                                    stdout=subprocess.DEVNULL, stderr=sink, text=True, env=c.env())
        try:
            deadline, seen = time.monotonic() + 30, ""
            for i in range(1000):  # requests until one is logged while attached: the server logs each to stderr
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/attach-marker-{i}", timeout=10).read()
                except urllib.error.HTTPError:
                    pass  # 404, logged all the same
                time.sleep(0.5)
                seen = err.read_text()
                if "/attach-marker-" in seen or time.monotonic() > deadline:
                    break
        finally:
            attached.terminate()
            attached.wait(timeout=10)
    assert '"GET /attach-marker-' in seen and 'HTTP/1.1" 404' in seen, seen
