"""The local node against a real `berth up` (API server only): pods bound to it run as processes, and what
users see of them (phase, exit codes, logs through kubectl, environment, GPUs, ports, deletion, restarts)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from berth.nodes import procs
from tests.apiserver.helpers import client, namespace
from tests.cluster import BIN, Cluster
from tests.controllers.helpers import eventually
from tests.nodes.agents import (
    NS,
    Agents,
    create,
    event_reasons,
    get_pod,
    iterate,
    main_status,
    phase,
    pod,
    wait_phase,
)

PY = sys.executable


@pytest.fixture(scope="module")
def cluster(bare_module_cluster: Cluster) -> Cluster:
    return bare_module_cluster


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    with client(cluster) as c:
        namespace(c, NS)
        yield c


@pytest.fixture
def agents(cluster: Cluster, http: httpx.Client) -> Iterator[Agents]:
    yield from iterate(cluster, http)


def scratch(cluster: Cluster, name: str) -> Path:
    return cluster.data_dir / "pods" / NS / name


def pids_written(cluster: Cluster, name: str, file: str = "pid") -> list[int]:
    path = scratch(cluster, name) / file
    text = eventually(lambda: path.exists() and path.read_text().strip(), timeout=15)
    return [int(p) for p in text.split()]


SLEEPER = "import os, time; open('pid', 'w').write(str(os.getpid())); time.sleep(600)"


def test_a_pod_runs_its_command_and_kubectl_logs_shows_its_output(cluster, http, agents):
    agents.start("n-hello")
    node = http.get("/api/v1/nodes/n-hello").json()
    assert int(node["status"]["capacity"]["cpu"]) >= 1 and node["status"]["capacity"]["memory"].endswith("Ki")
    create(http, pod("hello", "n-hello", PY, "-c", "print('hello')"))
    done = wait_phase(http, "hello", "Succeeded", "Failed")
    assert phase(done) == "Succeeded"
    terminated = main_status(done)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    assert done["status"]["podIP"] == done["status"]["hostIP"] == "127.0.0.1" and done["status"]["startTime"]
    assert cluster.kubectl("logs", "hello", "-n", NS).stdout == "hello\n"
    assert "ImageNotPulled" in event_reasons(http, "hello")
    never = cluster.kubectl("logs", "hello", "-n", NS, "--previous", check=False)
    assert never.returncode != 0 and 'previous terminated container "main"' in never.stderr


def test_kubectl_logs_follow_sees_lines_as_they_are_printed(cluster, http, agents):
    agents.start("n-follow")
    create(http, pod("ticker", "n-follow", PY, "-c", "import time\nfor i in range(3):\n print(i); time.sleep(1)"))
    wait_phase(http, "ticker", "Running")
    with subprocess.Popen([str(BIN / "kubectl"), "logs", "-f", "ticker", "-n", NS], stdout=subprocess.PIPE,
                          text=True, env=cluster.env()) as follow:
        assert follow.stdout.readline() == "0\n"
        assert phase(get_pod(http, "ticker")) == "Running", "the first line came only when the program ended"
        assert follow.stdout.read() == "1\n2\n"


def test_kubectl_logs_since_and_timestamps_use_when_each_line_was_written(cluster, http, agents):
    agents.start("n-since")
    program = ("import sys, time\nprint('early', flush=True)\nprint('err', file=sys.stderr, flush=True)\n"
               "time.sleep(3)\nprint('la', end='', flush=True); time.sleep(0.3); print('te', flush=True)\n"
               "time.sleep(600)")
    create(http, pod("since", "n-since", PY, "-c", program))
    eventually(lambda: "late" in cluster.kubectl("logs", "since", "-n", NS, check=False).stdout, timeout=20)
    assert cluster.kubectl("logs", "since", "-n", NS).stdout == "early\nerr\nlate\n"
    assert cluster.kubectl("logs", "since", "-n", NS, "--since=2s").stdout == "late\n"
    stamped = cluster.kubectl("logs", "since", "-n", NS, "--timestamps").stdout.splitlines()
    times = [datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00")) for line in stamped]
    assert [line.split(" ", 1)[1] for line in stamped] == ["early", "err", "late"]
    assert 2.5 < (times[2] - times[0]).total_seconds() < 10, "the time is when the line came, not when it was read"
    at = stamped[2].split(" ", 1)[0]
    assert cluster.kubectl("logs", "since", "-n", NS, f"--since-time={at}").stdout == "late\n"
    assert cluster.kubectl("logs", "since", "-n", NS, "--tail=1", "--timestamps").stdout == stamped[2] + "\n"
    assert cluster.kubectl("logs", "since", "-n", NS, "--limit-bytes=3").stdout == "ear"
    wrong = http.get(f"/api/v1/namespaces/{NS}/pods/since/log?sinceSeconds=0")
    assert wrong.status_code == 422 and "sinceSeconds: Invalid value: 0: must be greater than 0" in wrong.text
    both = http.get(f"/api/v1/namespaces/{NS}/pods/since/log?sinceSeconds=5&sinceTime=2026-01-02T15:04:05Z")
    assert both.status_code == 422 and "at most one of `sinceTime` or `sinceSeconds`" in both.text
    http.delete(f"/api/v1/namespaces/{NS}/pods/since?gracePeriodSeconds=0")


def test_a_failing_command_fails_the_pod_with_its_exit_code(cluster, http, agents):
    agents.start("n-fail")
    create(http, pod("fails", "n-fail", PY, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"))
    create(http, pod("imageonly", "n-fail"))
    done = wait_phase(http, "fails", "Succeeded", "Failed")
    assert phase(done) == "Failed"
    terminated = main_status(done)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (3, "Error") and "boom" in terminated["message"]
    assert cluster.kubectl("logs", "fails", "-n", NS).stdout == "boom\n"
    waiting = eventually(lambda: main_status(get_pod(http, "imageonly")).get("state", {}).get("waiting", {})
                         .get("reason") == "CreateContainerConfigError" and main_status(get_pod(http, "imageonly")))
    assert "runs commands, not images; give spec.command" in waiting["state"]["waiting"]["message"]
    assert phase(get_pod(http, "imageonly")) == "Pending"


def test_on_failure_restarts_until_it_succeeds_and_keeps_the_previous_log(cluster, http, agents):
    agents.start("n-retry")
    attempt = ("import os, sys; n = len(os.listdir('.')) + 1; open(f'attempt{n}', 'w').close(); "
               "print(f'attempt {n}'); sys.exit(0 if n > 1 else 1)")
    create(http, pod("retry", "n-retry", PY, "-c", attempt, restart="OnFailure"))
    done = wait_phase(http, "retry", "Succeeded", "Failed")
    assert phase(done) == "Succeeded" and main_status(done)["restartCount"] == 1
    assert main_status(done)["lastState"]["terminated"]["exitCode"] == 1
    assert cluster.kubectl("logs", "retry", "-n", NS).stdout == "attempt 2\n"
    assert cluster.kubectl("logs", "retry", "-n", NS, "--previous").stdout == "attempt 1\n"


def test_restart_always_backs_off_in_crash_loop(http, agents):
    agents.start("n-crash")
    create(http, pod("crash", "n-crash", PY, "-c", "raise SystemExit(2)", restart="Always"))

    def crash_looping() -> dict | None:
        crash = get_pod(http, "crash")
        status = main_status(crash)
        return crash if status.get("restartCount", 0) >= 2 and "waiting" in status.get("state", {}) else None

    crashing = eventually(crash_looping, timeout=15)
    assert main_status(crashing)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert phase(crashing) == "Running"


def test_environment_secrets_fields_and_working_directory(cluster, http, agents):
    agents.start("n-env")
    create(http, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": NS},
                  "data": {"token": base64.b64encode(b"s3cr3t").decode()}})
    show = ("import json, os, sys; print(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd(), "
            "'argv': sys.argv[1:]}))")
    create(http, pod("env", "n-env", PY, "-c", show, args=["$(POD_NAME)", "$$(POD_NAME)"], workingDir="work/dir",
                     env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                          {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                          {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                          {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                          {"name": "GREETING", "value": "hello from $(POD_NAME)"}]))
    assert phase(wait_phase(http, "env", "Succeeded", "Failed")) == "Succeeded"
    seen = json.loads(cluster.kubectl("logs", "env", "-n", NS).stdout)
    env = seen["env"]
    assert (env["TOKEN"], env["POD_NAME"], env["POD_NS"], env["POD_IP"]) == ("s3cr3t", "env", NS, "127.0.0.1")
    assert env["GREETING"] == "hello from env" and seen["argv"] == ["env", "$(POD_NAME)"]
    assert env["HOME"] == str(scratch(cluster, "env")) and env["HOSTNAME"] == "env"
    assert seen["cwd"] == str(scratch(cluster, "env") / "work" / "dir")
    assert "KUBECONFIG" not in env


def test_a_missing_secret_holds_the_container_until_it_exists(http, agents):
    agents.start("n-late")
    create(http, pod("late", "n-late", PY, "-c", "import os; print(os.environ['KEY'])",
                     env=[{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "later", "key": "k"}}}]))
    def held() -> dict | None:
        waiting = main_status(get_pod(http, "late")).get("state", {}).get("waiting") or {}
        return waiting if waiting.get("reason") == "CreateContainerConfigError" else None

    waiting = eventually(held)
    assert 'secret "later" not found' in waiting["message"]
    create(http, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "later", "namespace": NS},
                  "data": {"k": base64.b64encode(b"v").decode()}})
    assert phase(wait_phase(http, "late", "Succeeded", "Failed", timeout=30)) == "Succeeded"


def test_init_containers_run_first_in_order(cluster, http, agents):
    agents.start("n-init")
    spec = pod("init", "n-init", PY, "-c", "print(open('order').read())")
    spec["spec"]["initContainers"] = [
        {"name": f"init{i}", "image": "busybox", "command": [PY, "-c", f"open('order', 'a').write('init{i} ')"]}
        for i in (1, 2)]
    create(http, spec)
    done = wait_phase(http, "init", "Succeeded", "Failed")
    assert phase(done) == "Succeeded"
    assert cluster.kubectl("logs", "init", "-n", NS).stdout == "init1 init2 \n"
    assert [s["state"]["terminated"]["reason"] for s in done["status"]["initContainerStatuses"]] == ["Completed"] * 2


def test_gpu_devices_follow_the_annotation(cluster, http, agents):
    agents.start("n-gpu", gpus=4, devices=(), parent_env={**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2,3"})
    node = http.get("/api/v1/nodes/n-gpu").json()
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "4"
    assert node["metadata"]["labels"]["berth.dev/simulated-gpus"] == "true"
    show = "import os; print(repr(os.environ['CUDA_VISIBLE_DEVICES']), repr(os.environ['NVIDIA_VISIBLE_DEVICES']), " \
           "repr(os.environ.get('GPU_PORTION')))"
    create(http, pod("gpus", "n-gpu", PY, "-c", show, annotations={"run.ai/gpu-devices": "1,3"}))
    create(http, pod("shared", "n-gpu", PY, "-c", show,
                     annotations={"run.ai/gpu-devices": "2", "gpu-fraction": "0.5"}))
    create(http, pod("cpu", "n-gpu", PY, "-c", show))
    create(http, pod("nosuch", "n-gpu", PY, "-c", show, annotations={"run.ai/gpu-devices": "7"}))
    for name in ("gpus", "shared", "cpu"):
        assert phase(wait_phase(http, name, "Succeeded", "Failed")) == "Succeeded"
    assert cluster.kubectl("logs", "gpus", "-n", NS).stdout == "'1,3' '1,3' None\n"
    assert cluster.kubectl("logs", "shared", "-n", NS).stdout == "'2' '2' '0.5'\n"
    assert cluster.kubectl("logs", "cpu", "-n", NS).stdout == "'' '' None\n"
    refused = wait_phase(http, "nosuch", "Failed")
    assert refused["status"]["reason"] == "UnexpectedAdmissionError" and "GPU 7" in refused["status"]["message"]


def test_a_pod_serving_http_is_reachable_on_its_reported_host_port(http, agents):
    agents.start("n-http")
    with socket.socket() as busy:  # the container port is taken here, so the pod gets another
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        create(http, pod("web", "n-http", PY, "-m", "http.server", "$(PORT)", "--bind", "127.0.0.1",
                         restart="Always", ports=[{"containerPort": taken}]))
        running = wait_phase(http, "web", "Running")
        host_ports = json.loads(running["metadata"]["annotations"]["run.ai/host-ports"])
        assert list(host_ports) == [str(taken)] and host_ports[str(taken)] != taken

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{host_ports[str(taken)]}/", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        assert eventually(answers)


def test_a_serving_pod_is_ready_once_it_listens_and_is_reached_through_its_meter(http, agents):
    agents.start("n-serve")
    late = ("import http.server, os, time; time.sleep(2); "
            "http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), "
            "http.server.SimpleHTTPRequestHandler).serve_forever()")
    body = pod("replica", "n-serve", PY, "-c", late, restart="Always", ports=[{"containerPort": 8080}])
    body["metadata"]["labels"] = {"run.ai/workload-kind": "InferenceWorkload"}
    create(http, body)
    running = wait_phase(http, "replica", "Running")
    assert main_status(running)["ready"] is False  # started, but not listening yet: no requests for it
    ready = eventually(lambda: (p := get_pod(http, "replica")) and main_status(p)["ready"] and p, timeout=15)
    public = json.loads(ready["metadata"]["annotations"]["run.ai/host-ports"])["8080"]
    for _ in range(3):
        with urllib.request.urlopen(f"http://127.0.0.1:{public}/", timeout=5) as r:
            assert r.status == 200
    load = eventually(lambda: json.loads((get_pod(http, "replica")["metadata"].get("annotations") or {})
                                         .get("run.ai/metrics", "{}")).get("throughput"), timeout=15)
    assert load > 0  # three requests over the window, counted by the meter the client went through


@pytest.mark.slow  # 23 s: a minute of steady load; run with -m slow
def test_a_serving_pod_under_steady_load_is_not_rewritten_every_few_seconds(http, agents):
    """The report: a MODIFIED pod every 2 s per replica. Its load is written when it changes materially."""
    agents.start("n-steady")
    serve = Path(__file__).resolve().parents[2] / "examples" / "scripts" / "serve.py"
    body = pod("steady", "n-steady", PY, str(serve), "--seconds", "0.05", restart="Always",
               ports=[{"containerPort": 8080}])
    body["metadata"]["labels"] = {"run.ai/workload-kind": "InferenceWorkload"}
    create(http, body)
    ready = eventually(lambda: (p := get_pod(http, "steady")) and main_status(p).get("ready") and p, timeout=20)
    url = f"http://127.0.0.1:{json.loads(ready['metadata']['annotations']['run.ai/host-ports'])['8080']}/predict"
    stop = threading.Event()

    def user() -> None:  # a steady 4 requests a second
        while not stop.is_set():
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5):
                pass
            time.sleep(0.2)

    thread = threading.Thread(target=user)
    thread.start()
    try:
        time.sleep(12)  # the 10 s window is full of the steady load
        seen = []
        for _ in range(20):  # 10 s
            metrics = (get_pod(http, "steady")["metadata"].get("annotations") or {}).get("run.ai/metrics")
            if metrics and (not seen or seen[-1] != metrics):
                seen.append(metrics)
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    assert json.loads(seen[-1])["throughput"] > 1, seen
    assert len(seen) <= 2, seen  # every 2 s would be 5 or 6


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a process as another user")
def test_a_pod_runs_as_the_user_its_security_context_asks_for(cluster, http, agents):
    agents.start("n-user")
    body = pod("user", "n-user", "/bin/sh", "-c", "touch mine && echo $(id -u) $(id -G) $(stat -c %u mine)")
    body["spec"]["securityContext"] = {"runAsUser": 1234, "runAsGroup": 5678, "supplementalGroups": [42]}
    create(http, body)
    done = wait_phase(http, "user", "Succeeded", "Failed")
    assert phase(done) == "Succeeded", cluster.kubectl("logs", "user", "-n", NS).stdout
    assert cluster.kubectl("logs", "user", "-n", NS).stdout == "1234 5678 42 1234\n"  # and it can write home


@pytest.mark.skipif(os.geteuid() != 0, reason="runAsNonRoot refuses only when berth up is root")
def test_a_container_that_would_run_as_root_waits_with_one_warning(http, agents):
    agents.start("n-nonroot")
    body = pod("rooted", "n-nonroot", PY, "-c", "print('ran')")
    body["spec"]["securityContext"] = {"runAsNonRoot": True}
    create(http, body)
    waiting = eventually(lambda: main_status(get_pod(http, "rooted")).get("state", {}).get("waiting", {})
                         .get("reason") == "CreateContainerConfigError" and main_status(get_pod(http, "rooted")))
    assert "runAsNonRoot" in waiting["state"]["waiting"]["message"]
    assert phase(get_pod(http, "rooted")) == "Pending" and event_reasons(http, "rooted").count("Failed") == 1


def test_deleting_a_running_pod_ends_its_processes(cluster, http, agents):
    agents.start("n-delete")
    family = ("import os, subprocess, sys, time; child = subprocess.Popen(['sleep', '600']); "
              "open('pid', 'w').write(f'{os.getpid()} {child.pid}'); time.sleep(600)")
    stubborn = ("import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "open('pid', 'w').write(str(os.getpid())); time.sleep(600)")
    create(http, pod("family", "n-delete", PY, "-c", family))
    spec = pod("stubborn", "n-delete", PY, "-c", stubborn)
    spec["spec"]["terminationGracePeriodSeconds"] = 1
    create(http, spec)
    family_pids, (stubborn_pid,) = pids_written(cluster, "family"), pids_written(cluster, "stubborn")
    assert all(procs.start_ticks(p) for p in [*family_pids, stubborn_pid])
    for name in ("family", "stubborn"):
        wait_phase(http, name, "Running")
        assert http.delete(f"/api/v1/namespaces/{NS}/pods/{name}").status_code == 200
    eventually(lambda: not any(procs.start_ticks(p) for p in [*family_pids, stubborn_pid]), timeout=10)
    eventually(lambda: not scratch(cluster, "family").exists())


def _monitor_of(cluster: Cluster, node: str, name: str) -> int:
    """The pid of the monitor of a pod's main container, as the node recorded it."""
    pods = json.loads((cluster.data_dir / "nodes" / node / "state.json").read_text())["pods"]
    return next(r["processes"]["main"]["monitor"] for r in pods.values() if r["name"] == name)


def test_after_a_restart_each_pod_is_told_how_it_ended_or_that_nobody_knows(cluster, http, agents):
    first = agents.start("n-restart")
    for name in ("victim", "orphan", "survivor"):
        create(http, pod(name, "n-restart", PY, "-c", SLEEPER))
    (victim,), (orphan,), (survivor,) = (pids_written(cluster, n) for n in ("victim", "orphan", "survivor"))
    for name in ("victim", "orphan", "survivor"):
        wait_phase(http, name, "Running")
    agents.stop(first)
    assert all(procs.start_ticks(p) for p in (victim, orphan, survivor)), "stopping the agent left its pods running"
    os.kill(victim, signal.SIGKILL)  # its monitor sees how it ended
    os.kill(_monitor_of(cluster, "n-restart", "orphan"), signal.SIGKILL)  # nobody is left to see it end
    os.kill(orphan, signal.SIGKILL)
    create(http, pod("newcomer", "n-restart", PY, "-c", "print('ran')"))

    agents.start("n-restart")
    killed = main_status(wait_phase(http, "victim", "Failed"))["state"]["terminated"]
    assert (killed["exitCode"], killed["reason"], killed.get("signal")) == (137, "Error", 9)
    failed = wait_phase(http, "orphan", "Failed")
    assert failed["status"]["reason"] == "NodeRestarted" and "this pod is not run again" in failed["status"]["message"]
    assert main_status(failed)["state"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert phase(wait_phase(http, "newcomer", "Succeeded", "Failed")) == "Succeeded"
    assert phase(get_pod(http, "survivor")) == "Running" and procs.start_ticks(survivor)
    assert http.delete(f"/api/v1/namespaces/{NS}/pods/survivor").status_code == 200
    eventually(lambda: not procs.start_ticks(survivor), timeout=10)


def test_an_adopted_container_restarts_by_its_policy_and_hears_sigterm_when_deleted(cluster, http, agents):
    """After a restart of the agent, a container it adopted is still restarted as its restartPolicy says when
    it exits, and deleting the pod still sends SIGTERM to the program."""
    terms = cluster.data_dir.parent / "again-terms"
    program = ("import os, signal, sys, time\n"
               f"signal.signal(signal.SIGTERM, lambda *_: (open({str(terms)!r}, 'a').write('term'), sys.exit(0)))\n"
               "open('pids', 'a').write(f'{os.getpid()}\\n')\n"
               "while not os.path.exists('go'): time.sleep(0.1)\n"
               "os.remove('go'); sys.exit(1)")
    first = agents.start("n-adopt")
    create(http, pod("again", "n-adopt", PY, "-c", program, restart="Always"))
    (adopted,) = pids_written(cluster, "again", "pids")
    wait_phase(http, "again", "Running")
    agents.stop(first)
    agents.start("n-adopt")
    eventually(lambda: main_status(get_pod(http, "again")).get("containerID") == f"process://{adopted}")
    (scratch(cluster, "again") / "go").touch()
    restarted = eventually(lambda: (s := main_status(get_pod(http, "again"))).get("restartCount") == 1
                           and "running" in s["state"] and s, timeout=20)
    assert restarted["lastState"]["terminated"]["exitCode"] == 1
    eventually(lambda: len(pids_written(cluster, "again", "pids")) == 2)  # the policy's restart...
    time.sleep(1)
    assert len(pids_written(cluster, "again", "pids")) == 2  # ... and only that
    assert http.delete(f"/api/v1/namespaces/{NS}/pods/again").status_code == 200
    eventually(lambda: terms.exists() and terms.read_text() == "term", timeout=15)


def test_a_pod_that_ended_as_it_was_deleted_still_says_how_it_ended(cluster, http, agents):
    """The soak saw a training run twice: its pod succeeded just as it was preempted, and was gone before its
    node could say so. The local node now holds its pods with a finalizer while their processes run: a
    DELETE marks the pod, and it goes only once the node has written how it ended."""
    program = "import os, time\nwhile not os.path.exists('go'): time.sleep(0.05)\nprint('done')"
    first = agents.start("n-ended")
    create(http, pod("ending", "n-ended", PY, "-c", program))
    running = wait_phase(http, "ending", "Running")
    assert running["metadata"]["finalizers"] == ["berth.dev/local-node"]
    pods = json.loads((cluster.data_dir / "nodes" / "n-ended" / "state.json").read_text())["pods"]
    pid = next(r["processes"]["main"]["pid"] for r in pods.values() if r["name"] == "ending")
    agents.stop(first)  # the node looks away...
    (scratch(cluster, "ending") / "go").touch()  # ... the program ends well ...
    eventually(lambda: not procs.start_ticks(pid))
    deleted = http.delete(f"/api/v1/namespaces/{NS}/pods/ending")  # ... and the pod is deleted (preempted)
    assert deleted.status_code == 200
    held = get_pod(http, "ending")
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["deletionGracePeriodSeconds"] == 30
    seen: list[tuple[str, str]] = []

    def watch() -> None:  # every version of the pod from here until it is gone
        url = (f"/api/v1/namespaces/{NS}/pods?watch=true&fieldSelector=metadata.name%3Dending"
               f"&resourceVersion={held['metadata']['resourceVersion']}&timeoutSeconds=20")
        with http.stream("GET", url) as stream:
            for line in stream.iter_lines():
                if line:
                    event = json.loads(line)
                    seen.append((event["type"], phase(event["object"])))
                    if event["type"] == "DELETED":
                        return

    watcher = threading.Thread(target=watch)
    watcher.start()
    agents.start("n-ended")
    watcher.join(30)
    assert seen and seen[-1][0] == "DELETED", seen
    assert ("MODIFIED", "Succeeded") in seen, seen  # it said how it ended before it went
