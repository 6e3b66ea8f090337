"""A full disk under the data directory: writes are refused with a clear Status that kubectl prints, nothing
acknowledged is lost, the database stays sound and readable, and once space is back writes succeed again
without a restart.

The disk is a real small filesystem: a 32 MiB tmpfs mounted on the data directory (the test runs as root),
filled by a filler file until the kernel says ENOSPC, and freed by deleting it. Where mounting is refused
(an unprivileged CI container), the same test runs with the server's file size limit (RLIMIT_FSIZE, set on
the running process with prlimit, SIGXFSZ being ignored by Python) lowered to the size its files have:
then every write that would grow a file fails with EFBIG, which SQLite reports as an I/O error, not as a
full disk, so the answer is 500 InternalError instead of 507 InsufficientStorage; the rest is the same.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.store import ResourceRef, Store
from tests.apiserver.helpers import client
from tests.cluster import BIN, Cluster, free_port

CM = "/api/v1/namespaces/default/configmaps"
APPLY = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: applied, namespace: default}}\ndata: {{v: '{v}'}}\n"
PAYLOAD = "x" * 200_000  # each write needs ~50 new pages, so a full disk shows within a few writes
# A write the disk refused leaves the pages it managed to write at the end of SQLite's log, and the next
# write reuses them: a write smaller than the refused one may then fit, and succeed. So every write this
# test expects the full disk to refuse is at least as large as the one refused first.


@dataclass
class Disk:
    """The filesystem under a data directory, which the test can fill and free."""

    root: Path
    mounted: bool
    pid: int = 0  # the server, whose file size limit stands in for the disk when nothing could be mounted

    @property
    def status(self) -> tuple[int, str, str]:
        """The code, reason and words of the answer to a write the disk refuses."""
        if self.mounted:
            return 507, "InsufficientStorage", "is full, so nothing was written"
        return 500, "InternalError", "failed to write, so nothing was written"

    def fill(self) -> None:
        if not self.mounted:
            biggest = max(f.stat().st_size for f in self.root.rglob("*") if f.is_file())
            resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (biggest, resource.RLIM_INFINITY))
            return
        fd = os.open(self.root / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 1 << 12, 1):
                try:
                    while os.write(fd, b"\0" * size) == size:
                        pass
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
        finally:
            os.close(fd)
        assert os.statvfs(self.root).f_bavail == 0

    def free(self) -> None:
        if self.mounted:
            (self.root / "filler").unlink()
        else:
            resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    root = tmp_path / "disk"
    root.mkdir()
    mounted = shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(root)], capture_output=True).returncode == 0
    try:
        yield Disk(root, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], check=True)


def _names(http) -> set[str]:
    return {i["metadata"]["name"] for i in http.get(CM).json()["items"]}


def _create(http, name: str):
    return http.post(CM, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                               "data": {"v": PAYLOAD}})


def _integrity(db: Path) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_a_full_disk_refuses_writes_clearly_loses_nothing_and_recovers_without_restart(disk, tmp_path,
                                                                                        record_property):
    home = tmp_path / "home"
    home.mkdir()
    data = disk.root / "berth"
    c = Cluster(url=f"https://127.0.0.1:{free_port()}", data_dir=data, kubeconfig=data / "kubeconfig", home=home,
                args=("--no-controllers", "--no-scheduler", "--no-local-node"))
    c.start()
    try:
        disk.pid = c.process.pid
        code, reason, words = disk.status
        with client(c, timeout=30) as http:
            acked = {name for name in ("before-1", "before-2") if _create(http, name).status_code == 201}
            assert len(acked) == 2
            kept = http.get(f"{CM}/before-1").json()
            c.project("team")
            disk.fill()
            refused = None
            for i in range(300):  # SQLite reuses the space its log already has before it needs more
                r = _create(http, f"during-{i}")
                if r.status_code == 201:
                    acked.add(f"during-{i}")
                    continue
                refused = r
                break
            assert refused is not None, "300 writes of 200 kB on a full disk all succeeded"
            status = refused.json()
            assert (refused.status_code, status["kind"], status["reason"], status["code"]) == \
                (code, "Status", reason, code), refused.text
            assert f"the disk holding {data / 'state.db'} {words}" in status["message"], status["message"]
            # An update and a delete need space too: refused alike, and the object stays as it was.
            changed = {**kept, "data": {"v": "changed"}}
            assert http.put(f"{CM}/before-1", json=changed).status_code == code
            assert http.delete(f"{CM}/before-1").status_code == code
            assert http.get(f"{CM}/before-1").json() == kept
            # kubectl prints the Status, and reads keep working.
            big = tmp_path / "v"
            big.write_text(PAYLOAD)
            out = c.kubectl("create", "configmap", "by-kubectl", f"--from-file=v={big}", check=False)
            assert out.returncode != 0
            assert f"error: failed to create configmap: the disk holding {data / 'state.db'} {words}" in out.stderr, \
                out.stderr
            applied = c.kubectl("apply", "-f", "-", input=APPLY.format(v=PAYLOAD), check=False)
            assert applied.returncode != 0
            assert f"Error from server ({reason}): " in applied.stderr and words in applied.stderr, applied.stderr
            words_of = ["x" * 100_000] * 2  # an argument is at most 128 KiB (Linux)
            submitted = subprocess.run([str(BIN / "berth"), "submit", "job", "-p", "team", "-i", "ubuntu", "-g", "1",
                                        "--", "echo", *words_of],
                                       capture_output=True, text=True, timeout=60, env=c.env())
            assert submitted.returncode != 0 and words in submitted.stderr, submitted.stderr
            assert "Traceback" not in submitted.stderr
            assert _names(http) == acked
            assert http.get("/readyz").status_code == 200
            assert c.output().count("writes are refused meanwhile; said at most once a minute") == 1
            assert _integrity(data / "state.db") == "ok"

            disk.free()
            assert _create(http, "after").status_code == 201
            acked.add("after")
            c.kubectl("create", "configmap", "by-kubectl", "--from-literal=v=1")
            c.kubectl("apply", "-f", "-", input=APPLY.format(v="1"))
            acked |= {"by-kubectl", "applied"}
            assert _names(http) == acked
    finally:
        c.stop()
    assert _integrity(data / "state.db") == "ok"
    with Store(data / "state.db") as store:
        names = {o["metadata"]["name"] for o in store.list(ResourceRef("", "configmaps"), "default").items}
    assert names == acked
    record_property("summary", f"full disk ({'tmpfs' if disk.mounted else 'RLIMIT_FSIZE'}): {len(acked)} "
                               f"acknowledged writes kept, 6 refused writes (API, kubectl, berth submit) left nothing "
                               "behind, integrity ok")


@pytest.mark.parametrize("existing", [True, False], ids=["existing-store", "new-data-dir"])
def test_berth_up_on_a_full_disk_is_refused_in_one_line(disk, existing):
    """Starting on a full disk cannot work (the store needs its -shm file, a new directory its credentials):
    `berth up` says so in one line, with the free space, instead of a traceback or a "damaged" verdict."""
    if not disk.mounted:
        pytest.skip("needs a filesystem that can be filled (mounting a tmpfs was refused here); a file size "
                    "limit does not stop the small files a start writes")
    data = disk.root / "berth"
    up = [str(BIN / "berth"), "up", "--data-dir", str(data), "--no-controllers", "--no-scheduler", "--no-local-node"]
    if existing:
        data.mkdir()
        with Store(data / "state.db") as store:
            store.create(ResourceRef("", "configmaps"), "default", "kept", {"metadata": {"name": "kept"}})
    disk.fill()
    result = subprocess.run([*up, "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("berth up: "), result.stderr
    assert "0 KiB free" in lines[0] and "free space on" in lines[0] and "damaged" not in lines[0], lines[0]
    disk.free()
    if existing:
        with Store(data / "state.db") as store:
            assert store.get(ResourceRef("", "configmaps"), "default", "kept") is not None
