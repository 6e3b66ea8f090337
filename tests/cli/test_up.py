"""How `berth up` starts, run as a user runs it: what it refuses (each in one line, before its banner, without
a traceback), and what it suggests doing first."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.cluster import Cluster, free_port, running


def up(berth_bin: str, data_dir: Path, *args: str, port: int | None = None) -> subprocess.CompletedProcess[str]:
    """`berth up` that is expected to refuse to start (a timeout if it starts instead)."""
    return subprocess.run([berth_bin, "up", "--data-dir", str(data_dir), "--port", str(port or free_port()), *args],
                          capture_output=True, text=True, timeout=30)


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one line `berth up` said when it refused to start."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and result.stdout == "", (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("berth up: "), lines[0]
    return lines[0]


def test_a_second_berth_up_on_one_data_directory_is_refused_and_names_the_first(berth_bin, fresh_cluster: Cluster):
    c = fresh_cluster
    assert c.data_dir.stat().st_mode & 0o777 == 0o700  # made for this user only: docs/security.md
    kubeconfig = c.kubeconfig.read_text()
    line = refused(up(berth_bin, c.data_dir))
    assert f"pid {c.process.pid}" in line and c.url in line and str(c.data_dir) in line, line
    assert "--data-dir" in line
    assert c.kubeconfig.read_text() == kubeconfig  # the first one's clients still reach it
    c.kubectl("get", "namespaces")
    # The lock goes with its process, however it ends: after kill -9 the next one starts.
    c.process.kill()
    c.process.wait()
    c.process = None
    c.start()
    c.kubectl("get", "namespaces")


def test_a_port_in_use_is_one_line_that_says_how_to_choose_another(berth_bin, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = refused(up(berth_bin, tmp_path / "berth", port=port))
    assert line == (f"berth up: port {port} on 127.0.0.1 is in use (by another program); choose another with "
                    "--port N")
    assert not (tmp_path / "berth" / "kubeconfig").exists()


def test_a_data_directory_that_cannot_be_written_is_one_line(berth_bin, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    line = refused(up(berth_bin, afile / "berth"))
    assert f"the data directory {afile / 'berth'} cannot be used" in line and "--data-dir DIR" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any directory")
def test_a_read_only_data_directory_is_one_line(berth_bin, tmp_path):
    data = tmp_path / "berth"
    data.mkdir(mode=0o500)
    line = refused(up(berth_bin, data))
    assert "Permission denied" in line and "--data-dir DIR" in line


def test_a_store_that_is_not_sqlite_is_one_line(berth_bin, tmp_path):
    data = tmp_path / "berth"
    data.mkdir()
    (data / "state.db").write_bytes(b"this is not a database, it is a text file\n" * 100)
    line = refused(up(berth_bin, data))
    assert f"{data / 'state.db'} is not a Berth store" in line and "--data-dir" in line


def test_a_store_of_a_newer_berth_is_one_line(berth_bin, tmp_path):
    data = tmp_path / "berth"
    data.mkdir()
    with sqlite3.connect(data / "state.db") as db:
        db.execute("PRAGMA user_version = 99")
    line = refused(up(berth_bin, data))
    assert "store schema version 99" in line and "use the Berth that wrote it" in line


def _banner(tmp_path: Path, *args: str) -> str:
    """What `berth up` says when it starts with `args`."""
    started = running(tmp_path, *args)
    c = next(started)
    started.close()  # stops it
    return c.output()


def test_without_a_local_node_nothing_is_promised_to_run_here(tmp_path):
    everything = _banner(tmp_path / "all")
    assert "a training that prints a line on this machine" in everything and "kubectl logs hello-0-0" in everything
    alone = _banner(tmp_path / "alone", "--no-local-node")
    assert "on this machine" not in alone and "kubectl logs" not in alone
    assert "stays Pending (no node here)" in alone

