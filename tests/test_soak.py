"""Soak: 200 workloads of every kind on a real `berth up` (local node, 4 simulated GPUs, two projects that
compete for them), with failing programs, preemptions and reclaims, suspends and resumes, a deletion wave,
and two restarts of `berth up` (SIGTERM, then kill -9). About three minutes; marked slow.

Afterwards:
- no workload ran twice: once a training's pod or a distributed job's master ended well, nothing of that
  workload started again (each program appends `start` and `end` lines to one file);
- every phase sequence moved forward (`kubectl get -w` of each kind, across the restarts, checked against
  `berth.controllers.phase.allowed`);
- pod counts are bounded: no workload made more pods than its retries, interruptions and resumes allow;
- the server's log has no traceback.
"""

from __future__ import annotations

import random
import re
import signal
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from berth.controllers.phase import TERMINAL, allowed
from tests.cluster import Cluster, make_cluster, reap_pods
from tests.controllers.helpers import PhaseWatch, client

pytestmark = pytest.mark.slow

KINDS = {"tw": "trainingworkloads", "iw": "interactiveworkloads", "dw": "distributedworkloads",
         "infw": "inferenceworkloads"}
SERVE = Path(__file__).resolve().parent.parent / "examples" / "scripts" / "serve.py"


def program(runs: Path, name: str, seconds: float, code: int) -> str:
    """A shell command that records its start and end in `runs`, sleeps, and exits with `code`."""
    return (f"sh -c 'echo start {name} $HOSTNAME >> {runs}; sleep {seconds}; "
            f"echo end {name} $HOSTNAME {code} >> {runs}; exit {code}'")


def workloads(rng: random.Random, runs: Path) -> list[tuple[str, str, str, str]]:
    """(short kind, namespace, name, YAML) of the 200 workloads."""
    out = []
    for i in range(200):
        namespace = rng.choice(["runai-pa", "runai-pa", "runai-pb"])
        roll = rng.random()
        if roll < 0.55:
            kind, name = "tw", f"t{i}"
            code = 3 if rng.random() < 0.2 else 0
            spec = (f"  command: {{value: \"{program(runs, name, rng.randint(1, 6), code)}\"}}\n"
                    f"  gpu: {{value: \"{rng.choice(['0', '1', '1', '0.5'])}\"}}\n"
                    f"  backoffLimit: {{value: {rng.randint(0, 1)}}}\n")
        elif roll < 0.75:
            kind, name = "iw", f"i{i}"
            gpu = rng.choice(["0", "0", "0", "1"])
            spec = (f"  command: {{value: \"{program(runs, name, 3600, 0)}\"}}\n  gpu: {{value: \"{gpu}\"}}\n"
                    f"  preemptible: {{value: {str(rng.random() < 0.5).lower()}}}\n")
        elif roll < 0.9:
            kind, name = "dw", f"d{i}"
            code = 3 if rng.random() < 0.15 else 0
            spec = (f"  jobType: PyTorchJob\n  workers: {{value: {rng.randint(1, 2)}}}\n"
                    f"  command: {{value: \"{program(runs, name, rng.randint(1, 5), code)}\"}}\n"
                    f"  gpu: {{value: \"{rng.choice(['0', '0', '1'])}\"}}\n")
        else:
            kind, name = "infw", f"s{i}"
            spec = (f"  command: {{value: \"python3 {SERVE} --seconds 0\"}}\n"
                    "  ports: {items: {http: {value: {container: 8000}}}}\n"
                    "  minScale: {value: 1}\n  maxScale: {value: 1}\n")
        kind_name = {"tw": "TrainingWorkload", "iw": "InteractiveWorkload", "dw": "DistributedWorkload",
                     "infw": "InferenceWorkload"}[kind]
        out.append((kind, namespace, name, f"apiVersion: run.ai/v2alpha1\nkind: {kind_name}\nmetadata: "
                    f"{{name: {name}, namespace: {namespace}}}\nspec:\n  image: {{value: busybox}}\n{spec}"))
    return out


class Watches:
    """`kubectl get -w` of every kind in both namespaces, restarted after each restart of `berth up`; the
    phases each workload showed, in order, across the restarts."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.done: list[PhaseWatch] = []
        self.live: list[PhaseWatch] = []

    def start(self) -> None:
        self.live = [PhaseWatch(self.cluster, kind, ns) for kind in KINDS for ns in ("runai-pa", "runai-pb")]

    def stop(self) -> None:
        for watch in self.live:
            watch.stop()
        self.done += self.live
        self.live = []

    def phases(self) -> dict[str, list[str]]:
        seen: dict[str, list[str]] = defaultdict(list)
        for watch in [*self.done, *self.live]:
            for name, phase in list(watch._seen):
                if not seen[name] or seen[name][-1] != phase:
                    seen[name].append(phase)
        return seen


class PodCensus(threading.Thread):
    """Every pod uid each workload ever had, from a list once a second (a pod that lives less than a second
    may be missed: counts are lower bounds)."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.uids: dict[str, set[str]] = defaultdict(set)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                with client(self.cluster, timeout=10) as http:
                    while not self.halt.wait(1.0):
                        for pod in http.get("/api/v1/pods").json().get("items") or []:
                            owner = (pod["metadata"].get("labels") or {}).get("run.ai/workload-name")
                            if owner:
                                self.uids[owner].add(pod["metadata"]["uid"])
            except Exception:  # noqa: BLE001 - the server is restarting: look again
                self.halt.wait(1.0)


def test_two_hundred_workloads_survive_failures_preemptions_suspends_and_two_restarts(tmp_path):
    rng = random.Random(20261203)
    runs = tmp_path / "runs.log"
    runs.touch()
    c = make_cluster(tmp_path)
    c.args = ("--gpus", "4")
    c.start()
    watches = Watches(c)
    census = PodCensus(c)
    try:
        c.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v1
kind: Project
metadata: {name: pa}
spec: {deservedGpus: 2}
---
apiVersion: run.ai/v1
kind: Project
metadata: {name: pb}
spec: {deservedGpus: 2}
""")
        deadline = time.monotonic() + 30
        while c.kubectl("get", "ns", "runai-pa", "runai-pb", check=False).returncode != 0:
            assert time.monotonic() < deadline, "the projects' namespaces were not made"
            time.sleep(0.2)
        watches.start()
        census.start()
        made = workloads(rng, runs)
        for start in range(0, len(made), 25):  # submitted in waves, as a busy lab would
            c.kubectl("apply", "-f", "-", input="\n---\n".join(doc for *_, doc in made[start:start + 25]))
            time.sleep(2)
        trainings = [(ns, name) for kind, ns, name, _ in made if kind == "tw"]
        suspended = rng.sample(trainings, 12)
        resumes: dict[str, int] = defaultdict(int)
        for ns, name in suspended:
            c.kubectl("patch", "tw", name, "-n", ns, "--type", "merge", "-p", '{"spec":{"active":{"value":false}}}')
        time.sleep(10)

        watches.stop()  # restart 1: SIGTERM
        c.stop(signal.SIGTERM)
        c.start()
        watches.start()
        for ns, name in suspended:
            c.kubectl("patch", "tw", name, "-n", ns, "--type", "merge", "-p", '{"spec":{"active":{"value":true}}}')
            resumes[name] += 1
        time.sleep(25)
        gpu_interactive = [(ns, name) for kind, ns, name, doc in made if kind == "iw" and 'gpu: {value: "1"}' in doc]
        for ns, name in gpu_interactive:  # the notebooks go home: their GPUs go back to the queue
            c.kubectl("delete", "iw", name, "-n", ns, "--wait=false")
        time.sleep(15)

        watches.stop()  # restart 2: kill -9
        assert c.process is not None
        c.process.kill()
        c.process.wait()
        c.process = None
        c.start()
        watches.start()

        # Every training and distributed job ends (Completed or Failed), whatever happened to it.
        ending = [(KINDS[kind], ns, name) for kind, ns, name, _ in made if kind in ("tw", "dw")]
        deadline = time.monotonic() + 150
        with client(c, timeout=30) as http:
            while True:
                left = [(p, ns, n) for p, ns, n in ending
                        if (http.get(f"/apis/run.ai/v2alpha1/namespaces/{ns}/{p}/{n}").json().get("status") or {})
                        .get("phase") not in TERMINAL]
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(2)
            assert not left, f"{len(left)} jobs never ended, e.g. {left[:5]}"
            statuses = {}
            for kind, ns, name, _ in made:
                found = http.get(f"/apis/run.ai/v2alpha1/namespaces/{ns}/{KINDS[kind]}/{name}")
                statuses[name] = (found.json().get("status") or {}) if found.status_code == 200 else {}
        time.sleep(2)  # the last phases reach the watches
    finally:
        census.halt.set()
        watches.stop()
        c.stop()
        reap_pods(c.data_dir)

    # No workload ran twice: nothing of a workload starts after one of its pods ended well (a training's
    # only pod to succeed, a distributed job's master).
    events = [line.split() for line in runs.read_text().splitlines() if line.strip()]
    finished: set[str] = set()
    twice = []
    for event in events:
        if event[0] == "end" and event[3] == "0" and (event[1].startswith("t") or event[2].endswith("-master-0")):
            finished.add(event[1])
        elif event[0] == "start" and event[1] in finished:
            twice.append(" ".join(event))
    assert twice == [], f"ran again after it had ended well: {twice[:5]}"
    started = {e[1] for e in events if e[0] == "start"}
    assert len(started) >= 150, f"only {len(started)} workloads ever started"

    # Every phase sequence moved forward.
    phases = watches.phases()
    backwards = {name: seq for name, seq in phases.items() if not all(allowed(a, b) for a, b in zip(seq, seq[1:]))}
    assert backwards == {}, f"phases went back: {dict(list(backwards.items())[:5])}"
    assert len(phases) >= 190

    # Pod counts are bounded by retries, interruptions and resumes.
    too_many = {}
    for kind, ns, name, doc in made:
        retries = int(re.search(r"backoffLimit: \{value: (\d)\}", doc)[1]) + 1 if kind == "tw" else 1
        pods_at_once = 3 if kind == "dw" else 1
        bound = pods_at_once * (retries + int(statuses[name].get("interruptions") or 0) + resumes[name] + 2)
        if len(census.uids[name]) > bound:
            too_many[name] = (len(census.uids[name]), bound)
    assert too_many == {}, f"more pods than retries, interruptions and resumes allow: {too_many}"

    # And the server said nothing it should not have.
    log = c.output()
    assert "Traceback" not in log, log[log.index("Traceback") - 2000:][:6000]
