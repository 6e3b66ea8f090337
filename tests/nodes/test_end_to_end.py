"""Issue F end to end: `berth up` with its controllers, scheduler and local node runs workloads for real,
and kubectl sees them do it."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.cluster import Cluster, make_cluster, reap_pods, running
from tests.conftest import ROOT
from berth.api.types import epoch_seconds
from berth.controllers.phase import allowed
from tests.controllers.helpers import PhaseWatch, client, eventually, pods_of, workload_status

NS = "runai-e2e"
PY = sys.executable


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Everything `berth up` runs, on this machine."""
    yield from running(tmp_path_factory.mktemp("full"))


@pytest.fixture(scope="module")
def http(full):
    full.project("e2e")
    with client(full, timeout=30) as c:
        yield c


def apply(cluster: Cluster, kind: str, name: str, spec: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: {kind}
metadata: {{name: {name}, namespace: {NS}}}
spec:
  image: {{value: python:3.11}}
{spec}""")


def phase(http, plural: str, name: str) -> str | None:
    return workload_status(http, plural, NS, name).get("phase")


def test_hello_runs_to_completion_and_logs_show_it(full, http):
    watch = PhaseWatch(full, "tw", NS)
    try:
        apply(full, "TrainingWorkload", "hello", f"""  command: {{value: "{PY} -c 'print(\\"hello\\")'"}}""")
        eventually(lambda: phase(http, "trainingworkloads", "hello") == "Completed", timeout=30)
        eventually(lambda: watch.phases("hello")[-1:] == ["Completed"])
        seen = watch.phases("hello")
    finally:
        watch.stop()
    assert full.kubectl("logs", "hello-0-0", "-n", NS).stdout == "hello\n"
    assert all(allowed(a, b) for a, b in zip(seen, seen[1:])), seen  # phases only move forward
    assert seen[-2:] == ["Running", "Completed"] or seen[-2:] == ["Initializing", "Completed"], seen


def test_a_failing_training_is_retried_after_a_back_off_and_fails_saying_how_it_ended(full, http):
    apply(full, "TrainingWorkload", "doomed", f"""  command: {{value: "{PY} -c 'raise SystemExit(3)'"}}
  backoffLimit: {{value: 1}}""")
    waiting = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "doomed")).get("reason")
                         == "BackOff" and s, timeout=20)
    assert "doomed-0-0 failed (container main exited with code 3 (Error)); the next attempt starts in" \
        in waiting["message"]
    status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "doomed")).get("phase") == "Failed"
                        and s, timeout=45)
    assert status["failedPods"] == 2
    assert "the last, doomed-0-1: container main exited with code 3 (Error)" in status["message"]
    pods = pods_of(http, NS, "doomed")
    assert [p["metadata"]["name"] for p in pods] == ["doomed-0-0", "doomed-0-1"]
    assert all(p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3 for p in pods)
    first_ended = epoch_seconds(pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"])
    retried = epoch_seconds(pods[1]["metadata"]["creationTimestamp"])
    assert retried - first_ended >= 9  # 10 s of back-off, at one-second resolution


def test_an_interactive_web_server_is_reachable_at_its_service_url(full, http):
    apply(full, "InteractiveWorkload", "web", f"""  command: {{value: "{PY} -m http.server $(PORT) --bind 127.0.0.1"}}
  ports: {{items: {{http: {{value: {{container: 8000}}}}}}}}""")
    urls = eventually(lambda: phase(http, "interactiveworkloads", "web") == "Running"
                      and (u := workload_status(http, "interactiveworkloads", NS, "web").get("serviceUrls"))
                      and u[0].startswith("http://127.0.0.1:") and u, timeout=30)

    def answers() -> bool:
        try:
            with urllib.request.urlopen(urls[0], timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    assert eventually(answers, timeout=15)


def test_an_inference_workload_scales_on_the_requests_it_serves(full, http):
    serve = ROOT / "examples" / "scripts" / "serve.py"
    apply(full, "InferenceWorkload", "model", f"""  command: {{value: "{PY} {serve} --seconds 1"}}
  ports: {{items: {{http: {{value: {{container: 8000}}}}}}}}
  minScale: {{value: 1}}
  maxScale: {{value: 3}}
  metric: {{value: concurrency}}
  target: {{value: 1}}""")
    url = eventually(lambda: phase(http, "inferenceworkloads", "model") == "Running"
                     and (u := workload_status(http, "inferenceworkloads", NS, "model").get("serviceUrls")) and u[0],
                     timeout=30)
    stops = [threading.Event() for _ in range(3)]
    answered: list[str] = []
    failed: list[str] = []

    def user(stop: threading.Event) -> None:  # one user at a time: a request, its answer, the next request
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url + "/predict", timeout=10) as response:
                    answered.append(json.load(response)["replica"])
            except OSError as exc:
                failed.append(repr(exc))
                time.sleep(0.2)

    users = [threading.Thread(target=user, args=(stop,)) for stop in stops]
    for thread in users:
        thread.start()
    try:
        # Three users keep three requests in flight: with a target of 1 per replica, three replicas.
        eventually(lambda: workload_status(http, "inferenceworkloads", NS, "model").get("replicas") == 3, timeout=60)
        def loads() -> list[dict]:
            return [json.loads(p["metadata"]["annotations"]["run.ai/metrics"]) for p in pods_of(http, NS, "model")
                    if "run.ai/metrics" in (p["metadata"].get("annotations") or {})]

        # What three users keep in flight, each answer taking a second.
        measured = eventually(lambda: (m := loads()) and 1.5 <= sum(x["concurrency"] for x in m) <= 3.5 and m,
                              timeout=30)
        assert measured[0]["latency"] >= 1000, measured
        # The service URL is the Service's port, which spreads connections over the ready replicas.
        eventually(lambda: {"model-1", "model-2"} <= set(answered[-9:]), timeout=30)
        # Two users leave: one replica is enough again, and the one who stays loses no request while the
        # others are taken away (a replica leaving answers what it has taken first).
        stops[1].set()
        stops[2].set()
        eventually(lambda: workload_status(http, "inferenceworkloads", NS, "model").get("replicas") == 1, timeout=60)
        eventually(lambda: len(pods_of(http, NS, "model")) == 1, timeout=30)
    finally:
        for stop in stops:
            stop.set()
        for thread in users:
            thread.join()
    assert not failed, failed
    service = http.get(f"/api/v1/namespaces/{NS}/services/infw-model-clusterip").json()
    assert url == f"http://127.0.0.1:{json.loads(service['metadata']['annotations']['run.ai/host-ports'])['8000']}"
    full.kubectl("delete", "inferenceworkload", "model", "-n", NS)


def test_an_inference_workload_scaled_to_zero_wakes_for_a_request(full, http):
    serve = ROOT / "examples" / "scripts" / "serve.py"
    full.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: InferenceWorkload
metadata:
  name: sleepy
  namespace: {NS}
  annotations: {{autoscaling.knative.dev/scale-to-zero-pod-retention-period: 2s}}
spec:
  image: {{value: python:3.11}}
  command: {{value: "{PY} {serve} --seconds 0"}}
  ports: {{items: {{http: {{value: {{container: 8000}}}}}}}}
  minScale: {{value: 0}}
  maxScale: {{value: 1}}
  metric: {{value: concurrency}}
  target: {{value: 5}}""")
    url = eventually(lambda: phase(http, "inferenceworkloads", "sleepy") == "Running"
                     and (u := workload_status(http, "inferenceworkloads", NS, "sleepy").get("serviceUrls")) and u[0],
                     timeout=30)
    # Nobody asks: after the retention period the last replica goes.
    eventually(lambda: workload_status(http, "inferenceworkloads", NS, "sleepy").get("reason") == "ScaledToZero"
               and not pods_of(http, NS, "sleepy"), timeout=40)
    assert workload_status(http, "inferenceworkloads", NS, "sleepy")["serviceUrls"] == [url]  # the same URL
    # A request comes: the service holds it, the workload wakes, and the answer comes from the new replica.
    began = time.monotonic()
    with urllib.request.urlopen(url + "/predict", timeout=60) as response:
        assert json.load(response)["replica"] == "sleepy-0"
    assert time.monotonic() - began < 60
    assert workload_status(http, "inferenceworkloads", NS, "sleepy").get("replicas") == 1
    service = f"/api/v1/namespaces/{NS}/services/infw-sleepy-clusterip"
    eventually(lambda: "run.ai/waiting-requests" not in (http.get(service).json()["metadata"].get("annotations") or {}))
    full.kubectl("delete", "inferenceworkload", "sleepy", "-n", NS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_suspend_resume_and_delete_end_the_processes(full, http):
    apply(full, "TrainingWorkload", "sleeper", f"""  command: {{value: "{PY} -c 'import time; time.sleep(600)'"}}""")
    eventually(lambda: phase(http, "trainingworkloads", "sleeper") == "Running", timeout=30)
    state = full.data_dir / "nodes" / "local" / "state.json"
    pid = eventually(lambda: _pid_from_state(state, "sleeper-0-0"))
    full.kubectl("patch", "tw", "sleeper", "-n", NS, "--type", "merge", "-p", '{"spec":{"active":{"value":false}}}')
    eventually(lambda: phase(http, "trainingworkloads", "sleeper") == "Stopped", timeout=30)
    eventually(lambda: not _alive(pid), timeout=40)
    full.kubectl("patch", "tw", "sleeper", "-n", NS, "--type", "merge", "-p", '{"spec":{"active":{"value":true}}}')
    eventually(lambda: phase(http, "trainingworkloads", "sleeper") == "Running", timeout=30)
    pid = eventually(lambda: _pid_from_state(state, "sleeper-0-0") or _pid_from_state(state, "sleeper-0-1"))
    full.kubectl("delete", "tw", "sleeper", "-n", NS)
    eventually(lambda: not _alive(pid), timeout=40)


def _answer(url: str) -> str | None:
    """Which replica answered a request to a model server's URL; None when none did."""
    try:
        with urllib.request.urlopen(url + "/predict", timeout=5) as response:
            return json.load(response)["replica"]
    except OSError:
        return None


def _pid_from_state(path, pod: str) -> int | None:
    """The pid the local node recorded for a pod's main container (<data-dir>/nodes/local/state.json)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    for record in data.get("pods", {}).values():
        if record.get("name") == pod:
            pid = (record.get("processes", {}).get("main") or {}).get("pid")
            return int(pid) if pid else None
    return None


def _monitor_from_state(path, pod: str) -> int:
    """The pid of the monitor of a pod's main container (`berth.nodes.monitor`), as the node recorded it."""
    data = json.loads(path.read_text())
    return next(int(r["processes"]["main"]["monitor"]) for r in data["pods"].values() if r["name"] == pod)


def test_a_pytorch_job_runs_a_real_all_reduce(full, http):
    pytest.importorskip("torch", reason="torch is an optional extra: pip install torch==2.13.0 (CPU build)")
    script = ROOT / "examples" / "scripts" / "allreduce.py"
    full.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: DistributedWorkload
metadata: {{name: allreduce, namespace: {NS}}}
spec:
  jobType: PyTorchJob
  image: {{value: pytorch/pytorch}}
  command: {{value: "{PY} {script}"}}
  workers: {{value: 2}}
  runPolicy: {{cleanPodPolicy: {{value: None}}}}
""")
    eventually(lambda: phase(http, "distributedworkloads", "allreduce") in ("Completed", "Failed"), timeout=120)
    logs = {pod: full.kubectl("logs", pod, "-n", NS).stdout
            for pod in ("allreduce-master-0", "allreduce-worker-0", "allreduce-worker-1")}
    assert phase(http, "distributedworkloads", "allreduce") == "Completed", logs
    for rank, pod in enumerate(logs):
        assert f"rank {rank} of 3: all-reduce gave 6 (expected 6)" in logs[pod]


def test_after_kill_9_and_a_restart_every_workload_tells_the_truth(tmp_path):
    c = make_cluster(tmp_path)
    c.start()
    try:
        c.project("e2e")
        with client(c, timeout=30) as http:
            apply(c, "TrainingWorkload", "done", f"""  command: {{value: "{PY} -c 'print(1)'"}}""")
            for name in ("survivor", "lost"):
                apply(c, "TrainingWorkload", name, f"""  command: {{value: "{PY} -c 'import time; time.sleep(600)'"}}""")
            for name in ("done",):
                eventually(lambda n=name: phase(http, "trainingworkloads", n) == "Completed", timeout=30)
            for name in ("survivor", "lost"):
                eventually(lambda n=name: phase(http, "trainingworkloads", n) == "Running", timeout=30)
            serve = ROOT / "examples" / "scripts" / "serve.py"
            apply(c, "InferenceWorkload", "served", f"""  command: {{value: "{PY} {serve} --seconds 0"}}
  ports: {{items: {{http: {{value: {{container: 8000}}}}}}}}
  minScale: {{value: 1}}
  maxScale: {{value: 1}}
  metric: {{value: concurrency}}
  target: {{value: 1}}""")
            url = eventually(lambda: (u := workload_status(http, "inferenceworkloads", NS, "served")
                                      .get("serviceUrls")) and u[0].startswith("http://127.0.0.1:") and u[0], timeout=30)
            assert eventually(lambda: _answer(url), timeout=30) == "served-0"
        state = c.data_dir / "nodes" / "local" / "state.json"
        served = eventually(lambda: _pid_from_state(state, "served-0"))
        survivor = eventually(lambda: _pid_from_state(state, "survivor-0-0"))
        lost = eventually(lambda: _pid_from_state(state, "lost-0-0"))
        c.process.kill()  # kill -9 of berth up
        c.process.wait()
        c.process = None
        os.kill(_monitor_from_state(state, "lost-0-0"), 9)  # one workload's process dies while Berth is down,
        os.kill(lost, 9)                                     # its monitor first: nobody sees how it ended
        eventually(lambda: not _alive(lost))
        c.start()
        with client(c, timeout=30) as http:
            # The pod whose process died unseen (its monitor gone too) is failed for that reason, never run
            # again; training retries it as its next attempt, as after any failure.
            pod = eventually(lambda: (p := http.get(f"/api/v1/namespaces/{NS}/pods/lost-0-0").json())
                             .get("status", {}).get("phase") == "Failed" and p, timeout=40)
            assert pod["status"]["reason"] == "NodeRestarted"
            assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "ContainerStatusUnknown"
            status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "lost"))
                                .get("failedPods") == 1 and s, timeout=30)
            assert status["phase"] == "Degraded" and status["reason"] == "BackOff"  # it ran: not Pending again
            # ... and its workload counts it as an interruption, with an event (berth.client.interruptions).
            status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "lost"))
                                .get("interruptions") and s, timeout=30)
            assert status["interruptions"] == 1
            assert status["lastInterruption"].startswith("pod lost-0-0 was lost with node local: berth up restarted")
            assert "NodeLost" in c.kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.name=lost").stdout
            eventually(lambda: "lost-0-1" in [p["metadata"]["name"] for p in pods_of(http, NS, "lost")], timeout=30)
            assert phase(http, "trainingworkloads", "survivor") == "Running"  # adopted, not run twice
            assert _alive(survivor) and _pid_from_state(state, "survivor-0-0") == survivor
            assert phase(http, "trainingworkloads", "done") == "Completed"
            # The model server was adopted, not started again, and answers at the same URL: the service
            # proxy and the meter listen again on the ports they had.
            assert eventually(lambda: _answer(url), timeout=30) == "served-0"
            assert _pid_from_state(state, "served-0") == served and _alive(served)
            assert "GET /predict -> 200" in c.kubectl("logs", "served-0", "-n", NS, "--since=1m").stdout
            c.kubectl("delete", "tw", "survivor", "-n", NS)
            eventually(lambda: not _alive(survivor), timeout=40)
    finally:
        c.stop()
        reap_pods(c.data_dir)


def test_the_quickstart_berth_up_suggests(full):
    full.kubectl("apply", "-f", str(ROOT / "examples" / "quickstart" / "demo-project.yaml"))
    with client(full, timeout=30) as http:
        eventually(lambda: http.get("/api/v1/namespaces/runai-demo").status_code == 200)
        full.kubectl("apply", "-f", str(ROOT / "examples" / "quickstart" / "hello.yaml"))
        eventually(lambda: workload_status(http, "trainingworkloads", "runai-demo", "hello").get("phase") == "Completed",
                   timeout=40)
    assert full.kubectl("logs", "hello-0-0", "-n", "runai-demo").stdout == "hello from Berth\n"


def test_a_workload_with_no_command_waits_as_one_pod_with_a_reason(full, http):
    """The report's storm: an image with no command is one pod waiting in CreateContainerConfigError that
    says what to do, with one Warning event, not a new failed pod every few milliseconds."""
    full.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: InteractiveWorkload
metadata: {{name: nocmd, namespace: {NS}}}
spec: {{image: {{value: x}}}}
""")
    pod = eventually(lambda: (p := pods_of(http, NS, "nocmd")) and p[0], timeout=30)
    time.sleep(10)
    pods = json.loads(full.kubectl("get", "pods", "-n", NS, "-l", "run.ai/workload-name=nocmd", "-o",
                                   "json").stdout)["items"]
    assert [p["metadata"]["name"] for p in pods] == [pod["metadata"]["name"]]
    assert pods[0]["status"]["phase"] == "Pending"
    waiting = pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError"
    assert "runs commands, not images" in waiting["message"] and "spec.command" in waiting["message"]
    events = json.loads(full.kubectl("get", "events", "-n", NS, "--field-selector",
                                     f"involvedObject.name={pod['metadata']['name']}", "-o", "json").stdout)["items"]
    warnings = [e for e in events if e["type"] == "Warning"]
    assert len(warnings) == 1 and warnings[0].get("count", 1) == 1, warnings
    full.kubectl("delete", "interactiveworkload", "nocmd", "-n", NS)


def test_a_workload_whose_pod_cannot_start_says_why_in_its_status(full, http):
    """The storm's other half: the workload showed "Initializing: waiting for the scheduler". An interactive
    and an inference workload without a command now say which pod and container wait, and why."""
    apply(full, "InteractiveWorkload", "nocmd-iw", "")
    apply(full, "InferenceWorkload", "nocmd-serve", "")
    for plural, name in (("interactiveworkloads", "nocmd-iw"), ("inferenceworkloads", "nocmd-serve")):
        status = eventually(lambda: "no command" in (s := workload_status(http, plural, NS, name)).get("message", "")
                            and s, timeout=20)
        assert status["phase"] == "Initializing"
        assert status["message"].startswith(f"pod {name}-0") and "container main CreateContainerConfigError" \
            in status["message"]
    time.sleep(12)  # longer than the first back-off: nothing is made again, since nothing failed
    assert [p["metadata"]["name"] for p in pods_of(http, NS, "nocmd-iw")] == ["nocmd-iw-0-0"]
    assert [p["metadata"]["name"] for p in pods_of(http, NS, "nocmd-serve")] == ["nocmd-serve-0"]
    full.kubectl("delete", "iw", "nocmd-iw", "-n", NS)
    full.kubectl("delete", "infw", "nocmd-serve", "-n", NS)
