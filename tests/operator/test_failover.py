"""Two `berth operator` replicas against one API server (`berth up --no-controllers --no-scheduler`, simulated
nodes): one leads, the other waits; the leader killed, the other takes over within 15 s, and no pod is created
twice (checked over the watch history of every pod)."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster import BIN, Cluster, free_port, running
from tests.controllers.helpers import eventually

NODES = "pools:\n- {name: default, count: 8, gpus: 8}\n"


@pytest.fixture
def api_alone(tmp_path: Path) -> Iterator[Cluster]:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(NODES)
    yield from running(tmp_path, "--no-controllers", "--no-scheduler", "--no-local-node", "--nodes", str(nodes))


class Replica:
    """One `berth operator` process with its own probe port and log."""

    def __init__(self, cluster: Cluster, identity: str, *args: str) -> None:
        self.identity = identity
        self.probe = free_port()
        self.log = cluster.home.parent / f"operator-{identity}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [str(BIN / "berth"), "operator", "--kubeconfig", str(cluster.kubeconfig), "--identity", identity,
                 "--probe-port", str(self.probe), "--default-scheduler", "--no-gpu-reservations", *args],
                stdout=log, stderr=subprocess.STDOUT, text=True, env=cluster.env())

    def ready(self) -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{self.probe}/readyz", timeout=2).text
        except httpx.HTTPError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def replicas(api_alone: Cluster) -> Iterator[list[Replica]]:
    made: list[Replica] = []
    yield made
    for replica in made:
        replica.stop()


def holder(c: Cluster) -> str:
    result = c.kubectl("get", "lease", "-n", "runai", "berth-operator", "-o", "jsonpath={.spec.holderIdentity}",
                       check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


class PodHistory:
    """Every watch event of every pod from the first, as (type, namespace/name, uid)."""

    def __init__(self, c: Cluster) -> None:
        self.events: list[tuple[str, str, str]] = []
        self._http = httpx.Client(base_url=c.url, verify=ssl.create_default_context(cafile=str(c.ca)),
                                  headers={"Authorization": f"Bearer {c.token}"}, timeout=None)
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            self._follow()
        except httpx.HTTPError:
            if not self._stop:
                raise

    def _follow(self) -> None:
        with self._http.stream("GET", "/api/v1/pods", params={"watch": "1", "resourceVersion": "0",
                                                              "timeoutSeconds": "900"}) as response:
            for line in response.iter_lines():
                if self._stop:
                    return
                if line:
                    event = json.loads(line)
                    meta = event["object"]["metadata"]
                    self.events.append((event["type"], f"{meta['namespace']}/{meta['name']}", meta["uid"]))

    def created(self) -> dict[str, set[str]]:
        made: dict[str, set[str]] = defaultdict(set)
        for kind, name, uid in self.events:
            if kind == "ADDED":
                made[name].add(uid)
        return made

    def stop(self) -> None:
        self._stop = True
        self._http.close()


def trainings(namespace: str, names: list[str]) -> str:
    return "".join(f"---\napiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {{name: {n}, namespace: "
                   f"{namespace}}}\nspec: {{gpu: {{value: '1'}}, image: {{value: x}}}}\n" for n in names)


def running_workloads(c: Cluster, namespace: str) -> set[str]:
    listed = json.loads(c.kubectl("get", "tw", "-n", namespace, "-o", "json").stdout)["items"]
    return {w["metadata"]["name"] for w in listed if (w.get("status") or {}).get("phase") == "Running"}


def test_the_follower_takes_over_within_15_s_of_the_leader_being_killed_and_no_pod_is_made_twice(
        api_alone, replicas, record_property):
    c = api_alone
    ns = c.project("team")
    history = PodHistory(c)
    replicas.append(Replica(c, "first", "--webhook-port", "0"))
    eventually(lambda: holder(c) == "first", timeout=30)
    replicas.append(Replica(c, "second", "--webhook-port", "0"))
    eventually(lambda: replicas[1].ready().startswith("ok (follower"), timeout=30)
    assert replicas[0].ready().startswith("ok (leader")

    before = [f"before-{i}" for i in range(24)]
    c.kubectl("apply", "-f", "-", input=trainings(ns, before))
    eventually(lambda: len(running_workloads(c, ns)) >= 8, timeout=60)  # the leader is mid-way through them

    replicas[0].process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    eventually(lambda: holder(c) == "second", timeout=30, every=0.2)
    took = time.monotonic() - killed
    assert took < 15, f"the follower took {took:.1f} s to lead"

    after = [f"after-{i}" for i in range(8)]
    c.kubectl("apply", "-f", "-", input=trainings(ns, after))
    eventually(lambda: running_workloads(c, ns) == set(before + after), timeout=90)
    assert replicas[1].ready().startswith("ok (leader")
    lease = json.loads(c.kubectl("get", "lease", "-n", "runai", "berth-operator", "-o", "json").stdout)
    assert lease["spec"]["leaseTransitions"] == 1

    time.sleep(1)  # the last events reach the watch
    history.stop()
    made = history.created()
    assert set(made) == {f"{ns}/{name}-0-0" for name in before + after}
    twice = {name: uids for name, uids in made.items() if len(uids) != 1}
    assert not twice, f"pods created more than once: {twice}"
    record_property("summary", f"operator failover: the follower led {took:.1f} s after the leader was killed; "
                               f"{len(made)} pods, each created once over {len(history.events)} watch events")


def test_a_leader_stopped_cleanly_hands_the_lease_over_at_once(api_alone, replicas):
    c = api_alone
    replicas.append(Replica(c, "first", "--webhook-port", "0", "--lease-duration", "60",
                            "--lease-renew-deadline", "30"))
    eventually(lambda: holder(c) == "first", timeout=30)
    replicas.append(Replica(c, "second", "--webhook-port", "0"))
    eventually(lambda: replicas[1].ready().startswith("ok (follower"), timeout=30)
    replicas[0].process.send_signal(signal.SIGTERM)
    assert replicas[0].process.wait(timeout=20) == 0
    stopped = time.monotonic()
    eventually(lambda: holder(c) == "second", timeout=30, every=0.2)
    assert time.monotonic() - stopped < 10  # not the 60 s the first one's Lease said


def test_every_replica_serves_the_webhook(api_alone, replicas, tmp_path):
    c = api_alone
    ns = c.project("hooked")
    c.kubectl("apply", "-f", "-", input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingPolicy\nmetadata: {name: training-policy, namespace: "
        f"{ns}}}\nspec:\n  gpu: {{rules: {{max: '2'}}}}\n"))
    ports = [free_port(), free_port()]
    for name, port in zip(("first", "second"), ports):
        replicas.append(Replica(c, name, "--webhook-port", str(port)))
    eventually(lambda: all(r.ready().startswith("ok") for r in replicas), timeout=30)
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "run.ai", "version": "v2alpha1", "kind": "TrainingWorkload"},
        "namespace": ns, "operation": "CREATE",
        "object": {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
                   "metadata": {"name": "big", "namespace": ns}, "spec": {"gpu": {"value": "4"}}}}}
    for port in ports:
        for path in ("/mutate", "/validate"):
            answer = httpx.post(f"https://127.0.0.1:{port}{path}", json=review, verify=False, timeout=10).json()
            response = answer["response"]
            assert response["uid"] == "u-1" and response["allowed"] is False
            assert response["status"]["details"]["causes"][0]["field"] == "spec.gpu", response
