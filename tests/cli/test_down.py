"""`berth down`, and what Ctrl-C of `berth up` says: the real `berth up`, real workload processes, real signals.

Workload processes outlive `berth up`; these tests check that each way of stopping says how many keep
running and how to stop them, and that `berth down --workloads` leaves no process of their groups behind
(one of them ignores SIGTERM, so it is killed after the grace period)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from click.testing import CliRunner

from berth.api import podlog
from berth.cli.main import cli
from berth.nodes.monitor import exit_path, read_exit
from berth.nodes import running
from tests.cluster import BIN, Cluster, make_cluster, reap_pods
from tests.controllers.helpers import eventually
from tests.nodes.agents import apply_training, live_group

NS = "runai-down"

#: A program that starts a child in its process group and waits; with "stubborn", both ignore SIGTERM.
PROGRAM = """import signal, subprocess, sys, time
if sys.argv[1:] == ["stubborn"]:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child: only SIGKILL ends them
subprocess.Popen(["sleep", "300"])
time.sleep(300)
"""


def down(c: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "berth"), "down", "--data-dir", str(c.data_dir), *args], capture_output=True,
                          text=True, timeout=60, env=c.env())


def test_ctrl_c_and_berth_down_say_what_keeps_running_and_down_workloads_stops_it(tmp_path):
    c = make_cluster(tmp_path)
    c.start()
    try:
        c.project("down")
        script = tmp_path / "program.py"
        script.write_text(PROGRAM)
        apply_training(c, NS, "polite", f"{sys.executable} {script}")
        apply_training(c, NS, "stubborn", f"{sys.executable} {script} stubborn")
        found = eventually(lambda: len(r := running.running(c.data_dir)) == 2 and r, timeout=60)
        pods = {p.pod: p.pid for p in found}
        found_ticks = {p.pod: p.ticks for p in found}
        assert sorted(pods) == ["polite-0-0", "stubborn-0-0"]
        eventually(lambda: all(len(live_group(pid)) == 2 for pid in pods.values()))  # each program and its child
        shown = running.shown(c.data_dir)

        # Ctrl-C: berth up ends, says what keeps running and how to stop it; the workloads run on.
        assert c.process is not None
        c.process.send_signal(signal.SIGINT)
        assert c.process.wait(timeout=30) == 0
        c.process = None
        said = c.output()
        assert (f"2 workload processes (pods {NS}/polite-0-0, {NS}/stubborn-0-0) keep running: `berth up` adopts "
                f"them when it starts again on this data directory; `berth down --data-dir {shown} --workloads` "
                "stops them.") in said, said[-2000:]
        assert all(len(live_group(pid)) == 2 for pid in pods.values())

        # berth down with nothing serving: it says so, and what keeps running (status 0).
        result = down(c)
        assert result.returncode == 0, result.stderr
        assert f"berth up is not running on {c.data_dir}." in result.stdout
        assert "2 workload processes" in result.stdout and "keep running" in result.stdout
        assert all(len(live_group(pid)) == 2 for pid in pods.values())

        # berth down --workloads on a running berth up: the server first, then every process of each group.
        c.start()
        pid = c.process.pid
        result = down(c, "--workloads", "--grace", "1")
        assert result.returncode == 0, result.stderr
        assert f"Stopped berth up (pid {pid}, serving {c.url})." in result.stdout, result.stdout
        assert (f"Stopped 2 workload processes (pods {NS}/polite-0-0, {NS}/stubborn-0-0); 1 of them had to be "
                "killed (SIGKILL).") in result.stdout, result.stdout
        assert c.process.wait(timeout=5) == 0
        c.process = None
        assert {pgid: live_group(pgid) for pgid in pods.values()} == {pgid: [] for pgid in pods.values()}
        # What the next berth up reads of how each ended (exit codes 143 and 137), from what the monitors wrote.
        ended = {name: eventually(lambda n=name: read_exit(exit_path(podlog.log_path(c.data_dir, NS, n, "main")),
                                                            pods[n], found_ticks[n]))
                 for name in pods}
        assert {name: e.returncode for name, e in ended.items()} == {"polite-0-0": -signal.SIGTERM,
                                                                     "stubborn-0-0": -signal.SIGKILL}

        result = down(c)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"berth up is not running on {c.data_dir}.",
                                              "No workload process is running."]
    finally:
        c.stop()
        reap_pods(c.data_dir)


def test_berth_down_names_the_flag_and_the_fix(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["down", "--data-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1
    assert "--data-dir" in missing.output and "no such directory" in missing.output
    foreign = runner.invoke(cli, ["down", "--data-dir", str(tmp_path)])
    assert foreign.exit_code == 1
    assert "not a Berth data directory" in foreign.output
    assert not os.listdir(tmp_path)  # nothing was written there
    lonely = runner.invoke(cli, ["down", "--grace", "3"])
    assert lonely.exit_code == 2
    assert "--grace" in lonely.output and "add --workloads" in lonely.output


def test_a_berth_up_that_does_not_stop_in_time_is_killed(bare_cluster):
    c = bare_cluster
    assert c.process is not None
    pid = c.process.pid
    os.kill(pid, signal.SIGSTOP)  # it cannot act on SIGTERM now; SIGKILL still ends it
    try:
        result = down(c, "--timeout", "1")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert result.returncode == 0, result.stderr
    assert (f"berth up (pid {pid}, serving {c.url}) did not stop within 1 s (raise --timeout to wait longer); it was "
            "killed (SIGKILL).") in result.stdout, result.stdout
    assert c.process.wait(timeout=5) == -signal.SIGKILL
    c.process = None
