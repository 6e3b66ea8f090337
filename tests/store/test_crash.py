"""A writer killed with SIGKILL loses nothing it acknowledged, and revisions keep increasing after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from berth.store import Store
from tests.store.common import WORKLOADS

WRITER = Path(__file__).with_name("crash_writer.py")


def test_every_acknowledged_create_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    proc = subprocess.Popen([sys.executable, str(WRITER), str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    acknowledged: list[tuple[str, int]] = []
    deadline = time.monotonic() + 30
    try:
        assert proc.stdout is not None
        while len(acknowledged) < 200:
            line = proc.stdout.readline()
            assert line, f"the writer stopped on its own: {proc.stderr.read() if proc.stderr else ''}"
            name, revision = line.split()
            acknowledged.append((name, int(revision)))
            assert time.monotonic() < deadline, "the writer is too slow"
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: it is creating the next objects right now
        # Whatever it printed after the 200th line was also acknowledged before it died.
        rest, _ = proc.communicate(timeout=10)
        acknowledged += [(name, int(rev)) for name, rev in (line.split() for line in rest.splitlines()
                                                               if len(line.split()) == 2)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    revisions = [rev for _, rev in acknowledged]
    assert revisions == sorted(set(revisions)), "revisions were not strictly increasing"
    with Store(path) as store:
        for name, revision in acknowledged:
            obj = store.get(WORKLOADS, "team-a", name)
            assert obj is not None, f"{name} (revision {revision}) was acknowledged but lost"
            assert obj["metadata"]["resourceVersion"] == str(revision)
        assert store.revision() >= revisions[-1]
        assert store.count(WORKLOADS) >= len(acknowledged)
        after = int(store.create(WORKLOADS, "team-a", "after-crash", {})["metadata"]["resourceVersion"])
        assert after == store.revision()
        assert after > revisions[-1]
