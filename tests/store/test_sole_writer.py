"""A store opened as its file's sole writer (the API server's) answers `get` of what it has just written
from memory, and answers exactly what a store reading SQLite would: after creates, updates, deletes, a
refused update, and once a key has left what it keeps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from berth.store import AlreadyExists, Conflict, Store, sqlite
from tests.store.common import WORKLOADS, workload


@pytest.fixture
def sole(db_path: Path) -> Iterator[Store]:
    s = Store(db_path, sole_writer=True)
    yield s
    s.close()


def _same_as_sqlite(sole: Store, db_path: Path, names: list[str]) -> None:
    reader = Store(db_path)  # reads SQLite only
    try:
        for name in names:
            assert sole.get(WORKLOADS, "team-a", name) == reader.get(WORKLOADS, "team-a", name), name
    finally:
        reader.close()


def test_what_it_wrote_is_read_back_as_sqlite_has_it(sole: Store, db_path: Path) -> None:
    for name in ("a", "b", "c"):
        sole.create(WORKLOADS, "team-a", name, workload(name))
    sole.update(WORKLOADS, "team-a", "a", workload("a", tier="gold"))
    sole.delete(WORKLOADS, "team-a", "b")
    with pytest.raises(Conflict):
        sole.update(WORKLOADS, "team-a", "c", workload("c", tier="lost"), expected_rv=1)
    assert sole.get(WORKLOADS, "team-a", "a")["metadata"]["labels"] == {"tier": "gold"}
    assert sole.get(WORKLOADS, "team-a", "b") is None
    assert sole.get(WORKLOADS, "team-a", "c")["metadata"]["labels"] == {}
    _same_as_sqlite(sole, db_path, ["a", "b", "c", "never"])


def test_it_reads_its_latest_writes_without_sqlite(sole: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    sole.create(WORKLOADS, "team-a", "a", workload("a"))
    sole.update(WORKLOADS, "team-a", "a", workload("a", tier="gold"))
    monkeypatch.setattr(sole, "_reader", lambda: pytest.fail("read SQLite for what it had just written"))
    got = sole.get(WORKLOADS, "team-a", "a")
    assert got["metadata"] == {"name": "a", "namespace": "team-a", "labels": {"tier": "gold"}, "resourceVersion": "2"}
    got["metadata"]["labels"]["tier"] = "mutated"  # a caller's own copy
    assert sole.get(WORKLOADS, "team-a", "a")["metadata"]["labels"] == {"tier": "gold"}


def test_keys_beyond_what_it_keeps_are_read_from_sqlite(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite, "LATEST_KEPT", 3)
    sole = Store(db_path, sole_writer=True)
    try:
        names = [f"w{i}" for i in range(8)]
        for name in names:
            sole.create(WORKLOADS, "team-a", name, workload(name))
        sole.update(WORKLOADS, "team-a", "w0", workload("w0", tier="gold"))  # written again: kept again
        assert len(sole._latest) == 3  # white-box: bounded
        _same_as_sqlite(sole, db_path, names)
        assert sole.get(WORKLOADS, "team-a", "w1")["metadata"]["name"] == "w1"  # from SQLite
    finally:
        sole.close()


def test_its_changes_carry_the_state_they_replaced(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite, "LATEST_KEPT", 2)
    sole = Store(db_path, sole_writer=True)
    changes: list = []
    sole.on_write(changes.append)
    try:
        sole.create(WORKLOADS, "team-a", "a", workload("a"))
        sole.update(WORKLOADS, "team-a", "a", workload("a", tier="gold"))  # replaces what it keeps: in memory
        sole.create(WORKLOADS, "team-a", "b", workload("b"))
        sole.create(WORKLOADS, "team-a", "c", workload("c"))  # "a" leaves what it keeps
        sole.delete(WORKLOADS, "team-a", "a")  # replaces a state it no longer keeps: read when asked
        assert [(c.type, c.name) for c in changes] == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"),
                                                      ("ADDED", "c"), ("DELETED", "a")]
        assert changes[0].previous is None
        assert changes[1].stored_previous == orjson.dumps(changes[0].object)
        assert changes[1].previous["metadata"]["labels"] == {}
        assert callable(changes[4].stored_previous)
        assert changes[4].previous["metadata"]["labels"] == {"tier": "gold"}
        assert [c.previous for c in changes] == [c.previous for c in sole.changes(0)]
    finally:
        sole.close()


def test_a_write_of_a_key_it_remembers_reads_nothing_first(sole: Store) -> None:
    sole.create(WORKLOADS, "team-a", "a", workload("a"))
    statements: list[str] = []
    sole._writer.set_trace_callback(statements.append)  # white-box: the SQL the writer runs
    sole.update(WORKLOADS, "team-a", "a", workload("a", tier="gold"), expected_rv=1)
    sole._writer.set_trace_callback(None)
    assert [s.split()[0] for s in statements] == ["BEGIN", "UPDATE", "INSERT", "COMMIT"]
    with pytest.raises(Conflict) as refused:  # the remembered revision is checked as the stored one would be
        sole.update(WORKLOADS, "team-a", "a", workload("a", tier="lost"), expected_rv=1)
    assert refused.value.current_rv == 2
    assert sole.delete(WORKLOADS, "team-a", "a")["metadata"]["labels"] == {"tier": "gold"}


def test_its_revisions_go_on_from_the_file_and_are_never_reused(db_path: Path) -> None:
    first = Store(db_path, sole_writer=True)
    try:
        first.create(WORKLOADS, "team-a", "a", workload("a"))
        with pytest.raises(AlreadyExists):  # a refused write takes no revision
            first.create(WORKLOADS, "team-a", "a", workload("a"))
        assert first.create(WORKLOADS, "team-a", "b", workload("b"))["metadata"]["resourceVersion"] == "2"
        first.delete(WORKLOADS, "team-a", "b")
        first.compact(keep=0)  # the newest rows go with the history
    finally:
        first.close()
    again = Store(db_path, sole_writer=True)
    try:
        assert again.revision() == 3
        assert again.create(WORKLOADS, "team-a", "c", workload("c"))["metadata"]["resourceVersion"] == "4"
        assert [c.revision for c in again.changes(3)] == [4]
    finally:
        again.close()


def test_a_write_listener_may_read_the_object_as_written(sole: Store) -> None:
    """A listener that needs a few fields of every change (the garbage collector) reads them from the object
    as the store writes it, instead of decoding every change."""
    seen: list[tuple[str, int, str, str]] = []
    sole.on_write(lambda change, obj: seen.append((change.type, change.revision, obj["metadata"]["name"],
                                                   obj["metadata"]["resourceVersion"])), with_object=True)
    sole.create(WORKLOADS, "team-a", "a", workload("a"))
    sole.update(WORKLOADS, "team-a", "a", workload("a", tier="gold"))
    sole.delete(WORKLOADS, "team-a", "a")
    assert seen == [("ADDED", 1, "a", "1"), ("MODIFIED", 2, "a", "2"), ("DELETED", 3, "a", "3")]
