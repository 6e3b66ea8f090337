"""`kubectl exec`, `kubectl port-forward`, `kubectl attach` and `kubectl cp` against `berth up`: the real
kubectl over WebSockets, relayed by the API server to the local node, into pods that are processes on
this machine; a pod on a simulated node answers with a clear error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets.client
import websockets.server

from tests.cluster import BIN, Cluster, free_port, running
from tests.terminal import spawn

PY = sys.executable


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`berth up` with its local node and one simulated node (sim-0)."""
    tmp = tmp_path_factory.mktemp("exec")
    nodes = tmp / "nodes.yaml"
    nodes.write_text("pools: [{name: sim, count: 1, gpus: 8}]\n")
    yield from running(tmp, "--nodes", str(nodes))


def pod(c: Cluster, name: str, command: list[str], *, node: str = "local", port: int | None = None,
        env: dict[str, str] | None = None, stdin: bool = False, tty: bool = False) -> None:
    """A pod bound to `node` (no scheduler in between), Running before this returns."""
    container = {"name": "main", "image": "none", "command": command, "stdin": stdin, "tty": tty,
                 "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}
    if port:
        container["ports"] = [{"containerPort": port}]
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [container]}}
    c.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    c.kubectl("wait", f"pod/{name}", "--for=jsonpath={.status.phase}=Running", "--timeout=30s")


@pytest.fixture(scope="module")
def sleeper(mixed: Cluster) -> str:
    pod(mixed, "sleeper", ["sleep", "600"], env={"GREETING": "hello from the pod"})
    return "sleeper"


def test_exec_runs_in_the_containers_environment_and_exits_with_the_commands_code(mixed, sleeper):
    result = mixed.kubectl("exec", sleeper, "--", "sh", "-c", 'echo "$GREETING in $PWD"; echo oops >&2; exit 3',
                           check=False)
    assert result.returncode == 3, result.stderr
    assert result.stdout == f"hello from the pod in {mixed.data_dir}/pods/default/sleeper\n"
    assert "oops" in result.stderr and "command terminated with exit code 3" in result.stderr
    assert mixed.kubectl("exec", sleeper, "--", "true").returncode == 0
    killed = mixed.kubectl("exec", sleeper, "--", "sh", "-c", "kill -9 $$", check=False)
    assert killed.returncode == 137, killed.stderr


def test_exec_relays_stdin_to_its_end(mixed, sleeper):
    text = "".join(f"line {i}\n" for i in range(20000))  # more than one message and pipe buffer
    result = mixed.kubectl("exec", "-i", sleeper, "--", "sh", "-c", "wc -l; echo done", input=text)
    assert result.stdout.split() == ["20000", "done"]


def test_exec_of_a_missing_program_says_so_with_the_shells_code(mixed, sleeper):
    result = mixed.kubectl("exec", sleeper, "--", "no-such-program", check=False)
    assert result.returncode == 127
    assert 'exec: "no-such-program": executable file not found in $PATH' in result.stderr


def test_exec_it_gets_a_terminal_of_the_clients_size_that_follows_resizes(mixed, sleeper):
    term = spawn([str(BIN / "kubectl"), "exec", "-it", sleeper, "--", "sh"], mixed.env(), rows=33, columns=101)
    term.type("tty; stty size; echo mark-$((6*7))\n")
    out = term.read_until(b"mark-42")
    assert b"/dev/pts/" in out and b"33 101" in out, out
    term.resize(40, 120)
    time.sleep(0.5)  # kubectl sends the new size when SIGWINCH comes
    term.type("stty size; echo mark-$((6*8))\n")
    assert b"40 120" in term.read_until(b"mark-48")
    term.type("exit 5\n")
    assert term.wait() == 5, term.output


def test_port_forward_reaches_an_http_server_in_the_pod(mixed, tmp_path):
    port = free_port()
    pod(mixed, "web", [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"], port=port)
    (mixed.data_dir / "pods" / "default" / "web" / "hello.txt").write_text("hello through port-forward\n")
    local = free_port()
    forwarder = subprocess.Popen([str(BIN / "kubectl"), "port-forward", "pod/web", f"{local}:{port}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mixed.env())
    try:
        assert "Forwarding from 127.0.0.1" in forwarder.stdout.readline()
        for _ in range(3):  # one connection after another, each its own pair of streams
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/hello.txt", timeout=10) as response:
                assert response.read() == b"hello through port-forward\n"
        big = "x" * 300_000 + "\n"  # more than SPDY's initial window
        (mixed.data_dir / "pods" / "default" / "web" / "big.txt").write_text(big)
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/big.txt", timeout=10) as response:
            assert response.read().decode() == big
    finally:
        forwarder.terminate()
        forwarder.wait(timeout=10)


def test_port_forward_to_a_port_nobody_listens_on_says_so(mixed, sleeper):
    local, port = free_port(), free_port()
    forwarder = subprocess.Popen([str(BIN / "kubectl"), "port-forward", f"pod/{sleeper}", f"{local}:{port}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mixed.env())
    try:
        assert "Forwarding from" in forwarder.stdout.readline()
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10).read()
    finally:
        forwarder.terminate()
        _, err = forwarder.communicate(timeout=10)
    assert f"error forwarding port {port} to pod {sleeper}" in err and "connection refused" in err.lower(), err


def test_a_pod_on_a_simulated_node_answers_with_a_clear_error(mixed):
    pod(mixed, "ghost", ["sleep", "600"], node="sim-0")
    for args in (["exec", "ghost", "--", "ls"], ["attach", "ghost"], ["port-forward", "pod/ghost", "18080:80"]):
        result = mixed.kubectl(*args, check=False, timeout=30)
        assert result.returncode != 0, args
        assert "pod ghost runs on simulated node sim-0: nothing of it runs anywhere" in result.stderr, result.stderr


def test_a_container_that_does_not_exist_is_named(mixed, sleeper):
    result = mixed.kubectl("exec", sleeper, "-c", "nope", "--", "true", check=False)
    assert result.returncode != 0
    assert "container nope is not valid for pod sleeper" in result.stderr


def test_attach_follows_the_programs_output(mixed):
    pod(mixed, "ticker", ["sh", "-c", 'for i in $(seq 1 60); do echo "tick $i"; sleep 0.2; done; echo err >&2'])
    result = mixed.kubectl("attach", "ticker", timeout=60)
    ticks = [line for line in result.stdout.splitlines() if line.startswith("tick ")]
    assert ticks and ticks[-1] == "tick 60", result.stdout
    assert "err" in result.stderr


def test_attach_writes_to_the_stdin_of_a_container_that_has_one(mixed):
    pod(mixed, "reader", ["sh", "-c", 'read first; echo "got $first"; read second; echo "then $second"'], stdin=True)
    first = subprocess.Popen([str(BIN / "kubectl"), "attach", "-i", "reader"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mixed.env())
    try:
        first.stdin.write("one\n")
        first.stdin.flush()
        assert first.stdout.readline() == "got one\n"
    finally:
        first.terminate()  # the program goes on, waiting for its second line
        first.communicate(timeout=10)
    second = mixed.kubectl("attach", "-i", "reader", input="two\n", timeout=60)  # another writer: the same stdin
    assert "then two" in second.stdout, second.stdout
    assert "not attached" not in second.stderr
    logs = mixed.kubectl("logs", "reader").stdout
    assert logs == "got one\nthen two\n"


def test_attach_it_to_a_container_with_a_terminal_is_its_terminal(mixed):
    pod(mixed, "console", ["sh"], stdin=True, tty=True)
    term = spawn([str(BIN / "kubectl"), "attach", "-it", "console"], mixed.env(), rows=27, columns=99)
    term.read_until(b"try pressing enter")
    time.sleep(1)  # attached: what is typed now reaches the shell
    term.type("tty; stty size; echo mark-$((6*7))\n")
    out = term.read_until(b"mark-42")
    assert b"/dev/pts/" in out and b"27 99" in out, out
    term.type("exit 6\n")
    term.wait()
    logs = mixed.kubectl("logs", "console").stdout
    assert "mark-42" in logs  # a terminal's output is the container's log, as a runtime keeps it


def test_kubectl_run_it_rm_is_a_throwaway_shell(mixed):
    term = spawn([str(BIN / "kubectl"), "run", "-it", "--rm", "scratch", "--image=busybox", "--restart=Never",
                  '--overrides={"spec": {"nodeName": "local"}}', "--command", "--", "sh"], mixed.env())
    term.read_until(b"try pressing enter", timeout=60)
    time.sleep(1)
    term.type("tty; echo made-$((2+3))\n")
    assert b"/dev/pts/" in term.read_until(b"made-5")
    term.type("exit\n")
    assert term.wait(timeout=60) == 0, term.output
    assert b'pod "scratch" deleted' in term.output


def test_attach_to_a_container_without_stdin_says_input_is_not_attached(mixed):
    pod(mixed, "deaf", ["sh", "-c", "sleep 2; echo bye"])
    result = mixed.kubectl("attach", "-i", "deaf", input="ignored\n", timeout=60)
    assert "input is not attached: container main was not started with stdin: true" in result.stderr
    assert "bye" in result.stdout


def test_cp_copies_files_in_and_out_through_exec(mixed, sleeper, tmp_path):
    source = tmp_path / "model.txt"
    source.write_text("weights\n" * 1000)
    scratch = mixed.data_dir / "pods" / "default" / sleeper
    mixed.kubectl("cp", str(source), f"{sleeper}:{scratch}/copied.txt")
    assert (scratch / "copied.txt").read_text() == source.read_text()
    back = tmp_path / "back.txt"
    mixed.kubectl("cp", f"{sleeper}:{scratch}/copied.txt", str(back))
    assert back.read_text() == source.read_text()


def test_spdy_fallback_and_plain_requests_get_the_reason(mixed, sleeper):
    """Without a WebSocket (an old kubectl, or curl), the answer says what Berth speaks."""
    import ssl

    request = urllib.request.Request(f"{mixed.url}/api/v1/namespaces/default/pods/{sleeper}/exec?command=ls",
                                     method="POST", headers={"Authorization": f"Bearer {mixed.token}"})
    context = ssl.create_default_context(cafile=str(mixed.ca))
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, context=context, timeout=10)
    body = json.loads(raised.value.read())
    assert raised.value.code == 400 and "over WebSockets only" in body["message"]


def test_the_websockets_library_still_reads_kubectls_subprotocol_names():
    """`berth.api.streaming.accept_kubernetes_subprotocols` replaces these; a new version of the library that
    moves them must fail here, not in front of a user."""
    from berth.api import streaming

    streaming.accept_kubernetes_subprotocols()
    assert websockets.server.parse_subprotocol("SPDY/3.1+portforward.k8s.io, v5.channel.k8s.io") == [
        "SPDY/3.1+portforward.k8s.io", "v5.channel.k8s.io"]
    assert websockets.client.parse_subprotocol("SPDY/3.1+portforward.k8s.io") == ["SPDY/3.1+portforward.k8s.io"]


def test_berth_exec_into_a_workload_on_a_simulated_node_gets_the_same_clear_error(mixed):
    mixed.kubectl("apply", "-f", "-", input=(
        "apiVersion: run.ai/v1\nkind: Project\nmetadata: {name: sim}\nspec: {deservedGpus: 8}\n"))
    deadline = time.monotonic() + 30
    while mixed.kubectl("get", "ns", "runai-sim", check=False).returncode != 0:
        assert time.monotonic() < deadline, "the project controller made no namespace"
        time.sleep(0.5)
    workload = {"apiVersion": "run.ai/v2alpha1", "kind": "InteractiveWorkload",
                "metadata": {"name": "far", "namespace": "runai-sim"},
                "spec": {"name": {"value": "far"}, "image": {"value": "x"}, "gpu": {"value": "8"},
                         "command": {"value": "sleep 600"}}}
    mixed.kubectl("apply", "-f", "-", input=json.dumps(workload))  # 8 GPUs: only the simulated node has them
    result = subprocess.run([str(BIN / "berth"), "exec", "far", "-p", "sim", "--", "true"], capture_output=True,
                            text=True, env=mixed.env(), timeout=90)
    assert result.returncode == 1
    assert "pod far-0-0 runs on simulated node sim-0: nothing of it runs anywhere" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_an_exec_session_ends_with_its_pod(mixed):
    pod(mixed, "brief", ["sleep", "600"])
    session = subprocess.Popen([str(BIN / "kubectl"), "exec", "brief", "--", "sh", "-c", "echo started; sleep 600"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=mixed.env())
    assert session.stdout.readline() == "started\n"
    mixed.kubectl("delete", "pod", "brief", "--wait=false")
    _, err = session.communicate(timeout=60)
    assert session.returncode != 0
    assert "pod brief has ended (or was deleted): the exec session ends with it" in err, err
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline")  # what the exec started is gone too
                if _read(p) == b"sh\0-c\0echo started; sleep 600\0"]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _execs_of(log: Path, pod: str) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [e for e in lines if e["objectRef"].get("subresource") == "exec" and e["objectRef"].get("name") == pod]


def test_an_exec_is_in_the_audit_log(mixed, sleeper):
    log = mixed.data_dir / "audit" / "audit.log"
    earlier = len(_execs_of(log, sleeper))  # earlier tests exec'd into it too, some refused (400)
    mixed.kubectl("exec", sleeper, "--", "true")
    deadline = time.monotonic() + 10
    while True:  # the audit log's thread writes within milliseconds; a WebSocket's line once it closes
        execs = _execs_of(log, sleeper)[earlier:]
        if execs or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert execs and execs[-1]["verb"] == "create"
    assert execs[-1]["responseStatus"]["code"] == 101 and execs[-1]["userAgent"].startswith("kubectl/")
