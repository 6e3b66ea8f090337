"""Single-object operations: create, get, update, delete, revisions, listeners, reopening the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from berth.store import AlreadyExists, Conflict, NotFound, ResourceRef, Store, StoreError
from tests.store.common import NODES, PODS, WORKLOADS, workload


def test_create_stamps_a_new_revision_and_get_returns_it(store: Store) -> None:
    assert store.revision() == 0
    created = store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    assert created["metadata"]["resourceVersion"] == "1"
    assert created["spec"] == {"gpu": {"value": "1"}}
    assert store.get(WORKLOADS, "team-a", "job1") == created
    assert store.revision() == 1
    second = store.create(WORKLOADS, "team-a", "job2", workload("job2"))
    assert second["metadata"]["resourceVersion"] == "2"


def test_create_adds_metadata_and_leaves_the_callers_dict_alone(store: Store) -> None:
    obj = {"kind": "Node", "spec": {"x": [1, 2]}}
    created = store.create(NODES, "", "n1", obj)
    assert created == {"kind": "Node", "spec": {"x": [1, 2]}, "metadata": {"resourceVersion": "1"}}
    assert obj == {"kind": "Node", "spec": {"x": [1, 2]}}
    created["spec"]["x"].append(3)  # returned dicts are the caller's to mutate
    assert store.get(NODES, "", "n1")["spec"]["x"] == [1, 2]


def test_keys_are_per_resource_and_namespace(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "x", workload("x"))
    store.create(WORKLOADS, "team-b", "x", workload("x", "team-b"))
    store.create(PODS, "team-a", "x", {"kind": "Pod"})
    store.create(ResourceRef("other.io", "trainingworkloads"), "team-a", "x", {})
    assert store.get(WORKLOADS, "team-b", "x")["metadata"]["resourceVersion"] == "2"
    assert store.get(PODS, "team-a", "x")["kind"] == "Pod"
    assert store.get(WORKLOADS, "team-c", "x") is None
    assert store.get(NODES, "", "x") is None


def test_create_of_an_existing_key_is_refused_without_a_revision(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    with pytest.raises(AlreadyExists, match='trainingworkloads.run.ai "team-a/job1" already exists'):
        store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    assert store.revision() == 1


def test_update_replaces_the_object_at_a_new_revision(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    changed = workload("job1", phase="x")
    updated = store.update(WORKLOADS, "team-a", "job1", changed, expected_rv=1)
    assert updated["metadata"]["resourceVersion"] == "2"
    assert updated["metadata"]["labels"] == {"phase": "x"}
    assert store.get(WORKLOADS, "team-a", "job1") == updated
    unconditional = store.update(WORKLOADS, "team-a", "job1", workload("job1"))
    assert unconditional["metadata"]["resourceVersion"] == "3"


def test_update_with_a_stale_revision_conflicts(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    store.update(WORKLOADS, "team-a", "job1", workload("job1"))
    with pytest.raises(Conflict) as info:
        store.update(WORKLOADS, "team-a", "job1", workload("job1", a="b"), expected_rv=1)
    assert info.value.current_rv == 2
    assert store.get(WORKLOADS, "team-a", "job1")["metadata"]["labels"] == {}
    assert store.revision() == 2


def test_update_and_delete_of_a_missing_key_are_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match='trainingworkloads.run.ai "team-a/nosuch" not found'):
        store.update(WORKLOADS, "team-a", "nosuch", workload("nosuch"))
    with pytest.raises(NotFound, match='nodes "n1" not found'):
        store.delete(NODES, "", "n1")
    assert store.revision() == 0


def test_delete_returns_the_last_state_at_the_deletion_revision(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1", app="web"))
    with pytest.raises(Conflict) as info:
        store.delete(WORKLOADS, "team-a", "job1", expected_rv=7)
    assert info.value.current_rv == 1
    deleted = store.delete(WORKLOADS, "team-a", "job1", expected_rv=1)
    assert deleted["metadata"]["resourceVersion"] == "2"
    assert deleted["metadata"]["labels"] == {"app": "web"}
    assert store.get(WORKLOADS, "team-a", "job1") is None
    with pytest.raises(NotFound):
        store.update(WORKLOADS, "team-a", "job1", workload("job1"))
    with pytest.raises(NotFound):
        store.delete(WORKLOADS, "team-a", "job1")
    recreated = store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    assert recreated["metadata"]["resourceVersion"] == "3"


def test_count_counts_live_objects(store: Store) -> None:
    for i in range(3):
        store.create(WORKLOADS, "team-a", f"a{i}", workload(f"a{i}"))
    store.create(WORKLOADS, "team-b", "b", workload("b", "team-b"))
    store.update(WORKLOADS, "team-a", "a0", workload("a0"))
    store.delete(WORKLOADS, "team-a", "a1")
    store.create(PODS, "team-a", "p", {})
    assert store.count(WORKLOADS) == 3
    assert store.count(WORKLOADS, "team-a") == 2
    assert store.count(WORKLOADS, "team-c") == 0
    assert store.count(PODS) == 1


def test_non_json_objects_are_refused_without_a_revision(store: Store) -> None:
    with pytest.raises(TypeError):
        store.create(WORKLOADS, "team-a", "bad", {"spec": {1, 2}})
    with pytest.raises(StoreError, match="metadata must be an object"):
        store.create(WORKLOADS, "team-a", "bad", {"metadata": ["x"]})
    assert store.revision() == 0
    assert store.create(WORKLOADS, "team-a", "ok", {})["metadata"]["resourceVersion"] == "1"


def test_revisions_survive_reopening_and_are_never_reused(db_path: Path) -> None:
    with Store(db_path) as store:
        store.create(WORKLOADS, "team-a", "job1", workload("job1"))
        store.create(WORKLOADS, "team-a", "job2", workload("job2"))
        store.delete(WORKLOADS, "team-a", "job2")
        store.compact(keep=0)  # removes the deletion row: the highest revision is no longer in the table
        assert store.revision() == 3
    with Store(db_path) as store:
        assert store.revision() == 3
        assert store.compacted_revision() == 3
        assert store.get(WORKLOADS, "team-a", "job1")["metadata"]["resourceVersion"] == "1"
        assert store.create(WORKLOADS, "team-a", "job2", workload("job2"))["metadata"]["resourceVersion"] == "4"


def test_listeners_hear_every_commit_and_cannot_break_writes(store: Store) -> None:
    heard: list[int] = []

    def failing(revision: int) -> None:
        raise RuntimeError("listener bug")

    store.add_listener(failing)
    store.add_listener(heard.append)
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    store.update(WORKLOADS, "team-a", "job1", workload("job1"))
    with pytest.raises(Conflict):
        store.update(WORKLOADS, "team-a", "job1", workload("job1"), expected_rv=1)
    store.delete(WORKLOADS, "team-a", "job1")
    assert heard == [1, 2, 3]
    assert store.get(WORKLOADS, "team-a", "job1") is None


def test_a_listener_may_read_the_new_revision(store: Store) -> None:
    seen: list[str] = []
    store.add_listener(lambda rev: seen.append(store.get(WORKLOADS, "team-a", "job1")["metadata"]["resourceVersion"]))
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    assert seen == ["1"]


def test_a_closed_store_refuses_calls(db_path: Path) -> None:
    store = Store(db_path)
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.create(WORKLOADS, "team-a", "job2", workload("job2"))
    with pytest.raises(StoreError, match="closed"):
        store.get(WORKLOADS, "team-a", "job1")
    with pytest.raises(StoreError, match="closed"):
        store.list(WORKLOADS, None)


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a Berth store"):
        Store(path)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE log (x)")
    conn.execute("CREATE TABLE meta (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        Store(path)


def test_the_file_is_in_wal_mode(db_path: Path, store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
