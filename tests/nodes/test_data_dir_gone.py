"""Workload processes whose data directory is deleted while `berth up` is stopped are stopped, never left
behind: nothing could adopt, report or stop them any more. Their monitors (`berth.nodes.monitor`), which
watch over them while no `berth up` runs, notice and stop each process group, then end themselves."""

from __future__ import annotations

import json
import shutil
import signal
import time


from berth.nodes import monitor, procs, running
from tests.cluster import make_cluster, reap_pods
from tests.controllers.helpers import client, eventually
from tests.nodes.agents import create, live_group, pod

#: A program that starts a child in its process group, and both wait.
PROGRAM = 'import subprocess, time; subprocess.Popen(["sleep", "300"]); time.sleep(300)'


def test_deleting_the_data_directory_of_a_stopped_berth_up_stops_its_workload_processes(tmp_path):
    c = make_cluster(tmp_path)
    c.args = ("--no-controllers", "--no-scheduler")  # the local node alone runs the pods given to it
    c.start()
    found: list[running.WorkloadProcess] = []
    try:
        c.kubectl("create", "namespace", "nodes-test")
        with client(c, timeout=30) as http:
            for name in ("a", "b"):
                create(http, pod(name, "local", "python3", "-c", PROGRAM))
        found = eventually(lambda: len(r := running.running(c.data_dir)) == 2 and r, timeout=30)
        eventually(lambda: all(len(live_group(p.pid)) == 2 for p in found))  # each program and its child
        state = json.loads((c.data_dir / "nodes" / "local" / "state.json").read_bytes())
        monitors = [procs.Monitor(p["monitor"], p["monitorTicks"]) for r in state["pods"].values()
                    for p in r["processes"].values()]
        c.stop()
        assert all(len(live_group(p.pid)) == 2 for p in found) and all(m.alive() for m in monitors)  # kept running

        shutil.rmtree(c.data_dir)
        # Each monitor looks every GUARD_S seconds; these programs end on SIGTERM, well within their grace.
        deadline = time.monotonic() + monitor.GUARD_S + 10
        while time.monotonic() < deadline and (any(live_group(p.pid) for p in found) or
                                               any(m.alive() for m in monitors)):
            time.sleep(0.1)
        assert {p.pod: live_group(p.pid) for p in found} == {"a": [], "b": []}
        assert [m.pid for m in monitors if m.alive()] == []
    finally:
        c.stop()
        reap_pods(c.data_dir)
        for process in found:  # the data directory, and with it what reap_pods reads, is gone
            procs.signal_group(process.pid, signal.SIGKILL)
