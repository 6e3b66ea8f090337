"""A state.db that cannot be Berth's store is refused at start: `berth up` exits non-zero with one line that
names the file, says what is wrong with it and what to do, and leaves the file byte for byte as it was."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from berth.apiserver.startup import ConfigError, open_store
from berth.store import ResourceRef, Store
from tests.cluster import BIN, free_port

CONFIGMAPS = ResourceRef("", "configmaps")
PAGE = 4096


def _berth_store(path: Path, objects: int = 400) -> None:
    """A real Berth store of a few hundred pages, closed cleanly (everything checkpointed into the file)."""
    with Store(path) as store:
        for i in range(objects):
            store.create(CONFIGMAPS, "default", f"cm-{i}", {"metadata": {"name": f"cm-{i}"}, "data": {"v": "x" * 300}})
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(64 * 1024))


def foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:  # another program's database, which sets its own user_version too
        db.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
        db.execute("INSERT INTO moz_places (url) VALUES ('https://example.com')")
        db.execute("PRAGMA user_version = 7")
    db.close()


def truncated(path: Path) -> None:
    _berth_store(path)
    os.truncate(path, path.stat().st_size // 2)


def overwritten_page(path: Path) -> None:
    """A page in the middle overwritten (a bad sector, a stray write): header and schema intact."""
    _berth_store(path)
    pages = path.stat().st_size // PAGE
    with path.open("r+b") as f:
        f.seek(pages // 2 * PAGE)
        f.write(b"\xff" * PAGE)


def newer_berth(path: Path) -> None:
    _berth_store(path, objects=1)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()


CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (make the file, what the line must say is wrong, the fix it must give)
    "garbage": (garbage, "is not a Berth store: it is not an SQLite database", "mv {db} {db}.bad"),
    "foreign": (foreign, "is not a Berth store: it is another program's SQLite database (tables moz_places)",
                "mv {db} {db}.bad"),
    "truncated": (truncated, "is a damaged", "mv {db}-wal {db}.bad-wal"),
    "overwritten-page": (overwritten_page, "is a damaged Berth store (SQLite's check says:", "mv {db} {db}.bad"),
    "newer-berth": (newer_berth, "store schema version 99, this Berth reads version 1", "use the Berth that wrote it"),
}


def _bad_file(case: str, tmp_path: Path) -> tuple[Path, str]:
    """The data directory with the case's state.db, and the file's digest."""
    data = tmp_path / "berth"
    data.mkdir()
    CASES[case][0](data / "state.db")
    return data, hashlib.sha256((data / "state.db").read_bytes()).hexdigest()


def _says(line: str, case: str, db: Path) -> None:
    _, wrong, fix = CASES[case]
    assert line.startswith(str(db)) or line.startswith(f"berth up: {db}"), line
    assert wrong in line and fix.format(db=db) in line and "--data-dir" in line, line
    assert "\n" not in line


@pytest.mark.parametrize("case", CASES)
def test_an_unusable_store_file_is_refused_with_what_to_do_and_left_alone(case, tmp_path):
    """Each kind of bad file, as the start-up check words it (in process: `berth up` prints this line)."""
    data, before = _bad_file(case, tmp_path)
    with pytest.raises(ConfigError) as refused:
        open_store(data / "state.db")
    _says(str(refused.value), case, data / "state.db")
    assert hashlib.sha256((data / "state.db").read_bytes()).hexdigest() == before


@pytest.mark.parametrize("case", ["garbage", "overwritten-page"])
def test_berth_up_on_an_unusable_store_file_exits_with_one_line(case, tmp_path):
    data, before = _bad_file(case, tmp_path)
    result = subprocess.run([str(BIN / "berth"), "up", "--data-dir", str(data), "--port", str(free_port()),
                             "--no-controllers", "--no-scheduler", "--no-local-node"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    _says(lines[0], case, data / "state.db")
    assert "Berth API server" not in result.stdout  # refused before the banner
    assert hashlib.sha256((data / "state.db").read_bytes()).hexdigest() == before
    assert not (data / "kubeconfig").exists()
