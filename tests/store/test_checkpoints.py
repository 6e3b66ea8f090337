"""The store's own checkpoints (`berth.store.sqlite.Store._checkpoints`): commits no longer copy the
write-ahead log into the database, a thread does, and the log must still stay bounded while writes never
pause, and the thread must end with the store."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from berth.store import Store, sqlite
from berth.store.model import ResourceRef

PODS = ResourceRef("", "pods")


def _busy_log(path: Path, writes: int) -> int:
    """The largest the write-ahead log grows while `writes` creates follow each other without a pause."""
    store = Store(path)
    largest = 0
    try:
        for i in range(writes):
            store.create(PODS, "ns", f"p{i}", {"metadata": {"name": f"p{i}"}, "spec": {"x": "y" * 500}})
            if i % 100 == 0:
                largest = max(largest, os.path.getsize(f"{path}-wal"))
        assert store.count(PODS, "ns") == writes
    finally:
        store.close()
    with Store(path) as again:
        assert again.count(PODS, "ns") == writes
    return largest


def test_the_write_ahead_log_stays_bounded_while_writes_never_pause(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite, "CHECKPOINT_EVERY_S", 3600.0)  # as if nothing copied the log: it only grows
    unbounded = _busy_log(tmp_path / "never.db", 6000)
    monkeypatch.setattr(sqlite, "WAL_RESTART_BYTES", 1 << 20)
    monkeypatch.setattr(sqlite, "CHECKPOINT_EVERY_S", 0.01)
    bounded = _busy_log(tmp_path / "busy.db", 6000)
    assert unbounded > 64 << 20
    assert bounded < unbounded // 2, (bounded, unbounded)  # without starting again: all of it


def test_the_checkpoint_thread_ends_with_its_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "short.db")
    store.create(PODS, "ns", "p", {"metadata": {"name": "p"}})
    thread = store._checkpointer
    assert thread.is_alive()
    store.close()
    assert not thread.is_alive()
    assert "store-checkpoint" not in [t.name for t in threading.enumerate() if t is thread]
