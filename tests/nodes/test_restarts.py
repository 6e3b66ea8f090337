"""A restart of `berth up` (SIGTERM, or kill -9) while workloads run: each workload ends as its program did,
never runs twice, and only a process whose exit status nobody could keep is reported unknown."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from berth.nodes import procs
from tests.cluster import Cluster, make_cluster, reap_pods
from tests.nodes.agents import apply_training
from tests.controllers.helpers import client, eventually, pods_of, workload_status

NS = "runai-again"
PY = sys.executable


PROGRAM = """import os, sys, time
while not os.path.exists("go"):
    time.sleep(0.1)
with open(sys.argv[1], "a") as runs:
    runs.write("ran\\n")
sys.exit(int(sys.argv[2]))
"""


def _training(c: Cluster, name: str, code: int, runs: Path) -> None:
    """A training that waits for a file `go` in its directory, then appends a line to `runs` and exits `code`:
    the test says when it ends, and counts how often it ran."""
    script = runs.with_suffix(".py")
    script.write_text(PROGRAM)
    apply_training(c, NS, name, f"{PY} {script} {runs} {code}", backoff_limit=0)


def _record(c: Cluster, pod: str) -> dict:
    """The local node's record of a pod's main container (<data-dir>/nodes/local/state.json)."""
    try:
        pods = json.loads((c.data_dir / "nodes" / "local" / "state.json").read_text())["pods"]
    except (OSError, ValueError, KeyError):
        return {}
    return next((r["processes"].get("main") or {} for r in pods.values() if r["name"] == pod), {})


def _go(c: Cluster, pod: str) -> None:
    (c.data_dir / "pods" / NS / pod / "go").touch()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_workloads_end_as_their_programs_did_across_a_restart_of_berth_up(tmp_path, stop):
    c = make_cluster(tmp_path)
    c.start()
    try:
        c.project("again")
        with client(c, timeout=30) as http:
            plan = {"adopted": 0, "three": 3, "meanwhile": 0, "orphan": 0}  # name -> exit code
            for name, code in plan.items():
                _training(c, name, code, tmp_path / f"{name}.runs")
            for name in plan:
                eventually(lambda n=name: workload_status(http, "trainingworkloads", NS, n).get("phase") == "Running",
                           timeout=30)
            records = {name: eventually(lambda n=name: (r := _record(c, f"{n}-0-0")).get("pid") and r)
                       for name in plan}
        c.stop(stop)
        _go(c, "meanwhile-0-0")  # this one ends while berth up is down: its monitor writes how
        eventually(lambda: not procs.is_alive(records["meanwhile"]["pid"], records["meanwhile"]["ticks"]))
        orphan = records["orphan"]
        os.kill(orphan["monitor"], signal.SIGKILL)  # nobody is left to see how this one ends
        c.start()
        with client(c, timeout=30) as http:
            def pod(name: str) -> dict:
                return http.get(f"/api/v1/namespaces/{NS}/pods/{name}-0-0").json()

            # Adopted, still running: the node learns how each ends, from the status its monitor writes.
            eventually(lambda: pod("adopted")["status"].get("containerStatuses", [{}])[0].get("state", {})
                       .get("running"), timeout=30)
            for name in ("adopted", "three", "orphan"):
                _go(c, f"{name}-0-0")
            done = eventually(lambda: (p := pod("adopted"))["status"]["phase"] == "Succeeded" and p, timeout=30)
            assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
            failed = eventually(lambda: (p := pod("three"))["status"]["phase"] == "Failed" and p, timeout=30)
            terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
            assert (terminated["exitCode"], terminated["reason"]) == (3, "Error"), failed["status"]
            assert failed["status"].get("reason") != "NodeRestarted"
            meanwhile = eventually(lambda: (p := pod("meanwhile"))["status"]["phase"] == "Succeeded" and p, timeout=30)
            assert meanwhile["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
            lost = eventually(lambda: (p := pod("orphan"))["status"]["phase"] == "Failed" and p, timeout=30)
            assert lost["status"]["reason"] == "NodeRestarted"
            unknown = lost["status"]["containerStatuses"][0]["state"]["terminated"]
            assert (unknown["exitCode"], unknown["reason"]) == (137, "ContainerStatusUnknown"), unknown
            for name in ("adopted", "meanwhile"):
                eventually(lambda n=name: workload_status(http, "trainingworkloads", NS, n).get("phase") == "Completed",
                           timeout=30)
                assert [p["metadata"]["name"] for p in pods_of(http, NS, name)] == [f"{name}-0-0"]
                assert (tmp_path / f"{name}.runs").read_text() == "ran\n"  # it ran once
            eventually(lambda: workload_status(http, "trainingworkloads", NS, "three").get("phase") == "Failed",
                       timeout=30)
            assert (tmp_path / "three.runs").read_text() == "ran\n"
    finally:
        c.stop()
        reap_pods(c.data_dir)
