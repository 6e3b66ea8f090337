"""A container's monitor, as the local node uses it: it starts the program, keeps its output, and writes how
it ended, so that whoever asks later (a restarted `berth up`) learns it; when the monitor itself is killed,
nobody can know, and that is what is said."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from berth.api import podlog
from berth.nodes import monitor, procs
from berth.nodes.monitor import exit_path, read_exit
from tests.nodes.agents import live_group

PY = sys.executable


def started(tmp_path: Path, program: str) -> tuple[procs.Started, Path]:
    log = tmp_path / "logs" / "main.log"
    run = asyncio.run(procs.start([PY, "-c", program], env=dict(os.environ), cwd=tmp_path, log_file=log))
    return run, log


def outcome(run: procs.Started, log: Path, *, adopted: bool = False):
    """How the program ended, as a restarted `berth up` would ask (`adopted`: not the monitor's starter)."""
    monitor = procs.Monitor(run.monitor.pid, run.monitor.ticks) if adopted else run.monitor
    return asyncio.run(asyncio.wait_for(procs.wait_exit(run.pid, run.ticks, exit_path(log), monitor), 15))


def test_the_exit_status_and_output_are_kept_beside_the_log(tmp_path):
    run, log = started(tmp_path, "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
    ended = outcome(run, log)
    assert ended is not None and ended.returncode == 3 and ended.finished_at.endswith("Z")
    asyncio.run(procs.wait_monitor(run.monitor))
    lines = podlog.parse(log.read_bytes())
    assert sorted(line.content for line in lines) == [b"err", b"out"]
    assert json.loads(exit_path(log).read_text())["pid"] == run.pid


def test_one_who_did_not_start_it_learns_how_it_ended(tmp_path):
    run, log = started(tmp_path, "import time; time.sleep(0.5)")
    ended = outcome(run, log, adopted=True)
    assert ended is not None and ended.returncode == 0


def test_a_program_killed_by_a_signal_says_so(tmp_path):
    run, log = started(tmp_path, "import time; time.sleep(60)")
    procs.signal_group(run.pid, signal.SIGKILL)
    ended = outcome(run, log)
    assert ended is not None and ended.returncode == -signal.SIGKILL


def test_a_program_that_cannot_start_is_an_os_error(tmp_path):
    with pytest.raises(OSError) as failed:
        asyncio.run(procs.start(["/no/such/program"], env=dict(os.environ), cwd=tmp_path,
                                log_file=tmp_path / "main.log"))
    assert failed.value.errno == errno.ENOENT


def test_when_its_monitor_is_killed_first_how_it_ended_is_unknown(tmp_path):
    run, log = started(tmp_path, "import time; time.sleep(60)")
    os.kill(run.monitor.pid, signal.SIGKILL)
    procs.signal_group(run.pid, signal.SIGTERM)
    assert outcome(run, log) is None
    assert not exit_path(log).exists()


def test_a_status_left_by_another_process_is_not_taken_for_this_one(tmp_path):
    run, log = started(tmp_path, "pass")
    assert outcome(run, log) is not None
    assert read_exit(exit_path(log), run.pid, run.ticks) is not None
    assert read_exit(exit_path(log), run.pid + 1, run.ticks) is None
    assert read_exit(exit_path(log), run.pid, (run.ticks or 0) + 1) is None


STUBBORN = """import signal, subprocess, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child: only SIGKILL ends them
subprocess.Popen(["sleep", "300"])
time.sleep(300)
"""


@pytest.mark.parametrize("removal", ["deleted", "moved"])
def test_a_program_whose_data_directory_is_deleted_is_stopped_and_a_moved_one_runs_on(tmp_path, removal):
    data = tmp_path / "data"
    log = data / "logs" / "main.log"
    run = asyncio.run(procs.start([PY, "-c", STUBBORN], env=dict(os.environ), cwd=tmp_path, log_file=log,
                                  guard=data, grace=0.5))
    try:
        deadline = time.monotonic() + 10
        while len(live_group(run.pid)) < 2 and time.monotonic() < deadline:  # the program and its child
            time.sleep(0.05)
        assert len(live_group(run.pid)) == 2
        if removal == "moved":
            data.rename(tmp_path / "elsewhere")  # still there: the next berth up on it adopts the program
            time.sleep(monitor.GUARD_S * 2)
            assert len(live_group(run.pid)) == 2 and run.monitor.alive()
            return
        shutil.rmtree(data)
        # Looked at every GUARD_S seconds; SIGTERM is ignored, so SIGKILL after the grace period of 0.5 s.
        deadline = time.monotonic() + monitor.GUARD_S + 0.5 + 5
        while (live_group(run.pid) or run.monitor.alive()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live_group(run.pid) == [] and not run.monitor.alive()
    finally:
        procs.signal_group(run.pid, signal.SIGKILL)
