"""The change log behind watches, and compaction of history."""

from __future__ import annotations

import pytest

from berth.store import Change, Expired, ResourceRef, Store
from tests.store.common import NODES, PODS, WORKLOADS, workload


def summary(changes: list[Change]) -> list[tuple]:
    return [(c.type, c.revision, str(c.ref), c.namespace, c.name) for c in changes]


def test_changes_are_every_write_in_revision_order(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1", app="web"))   # 1
    store.create(PODS, "team-a", "pod1", {"kind": "Pod"})                    # 2
    store.update(WORKLOADS, "team-a", "job1", workload("job1", app="db"))    # 3
    store.create(NODES, "", "n1", {"kind": "Node"})                          # 4
    store.delete(WORKLOADS, "team-a", "job1")                                # 5
    changes = store.changes(0)
    assert summary(changes) == [
        ("ADDED", 1, "trainingworkloads.run.ai", "team-a", "job1"),
        ("ADDED", 2, "pods", "team-a", "pod1"),
        ("MODIFIED", 3, "trainingworkloads.run.ai", "team-a", "job1"),
        ("ADDED", 4, "nodes", "", "n1"),
        ("DELETED", 5, "trainingworkloads.run.ai", "team-a", "job1"),
    ]
    for change in changes:
        assert change.object["metadata"]["resourceVersion"] == str(change.revision)
    added, _, modified, _, deleted = changes
    assert added.previous is None
    assert modified.previous["metadata"]["labels"] == {"app": "web"}
    assert modified.previous["metadata"]["resourceVersion"] == "1"
    assert modified.object["metadata"]["labels"] == {"app": "db"}
    assert deleted.object["metadata"]["labels"] == {"app": "db"}   # the last state ...
    assert deleted.previous["metadata"]["resourceVersion"] == "3"  # ... which was written at 3
    assert changes[1].ref == PODS


def test_changes_since_a_revision_by_resource_and_namespace(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "a", workload("a"))
    store.create(WORKLOADS, "team-b", "b", workload("b", "team-b"))
    store.create(PODS, "team-a", "p", {})
    store.update(WORKLOADS, "team-b", "b", workload("b", "team-b"))
    assert [c.revision for c in store.changes(2)] == [3, 4]
    assert [c.revision for c in store.changes(0, WORKLOADS)] == [1, 2, 4]
    assert [c.revision for c in store.changes(1, WORKLOADS, "team-b")] == [2, 4]
    assert [c.revision for c in store.changes(0, namespace="team-a")] == [1, 3]
    assert [c.revision for c in store.changes(0, ResourceRef("run.ai", "other"))] == []
    assert [c.revision for c in store.changes(0, limit=2)] == [1, 2]
    assert [c.revision for c in store.changes(1, WORKLOADS, limit=1)] == [2]
    assert store.changes(4) == []
    assert store.changes(100) == []


def test_a_recreated_key_starts_over_as_added(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    store.delete(WORKLOADS, "team-a", "job1")
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    third = store.changes(2)
    assert summary(third) == [("ADDED", 3, "trainingworkloads.run.ai", "team-a", "job1")]
    assert third[0].previous is None


def test_compaction_keeps_current_objects_and_recent_history(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "stable", workload("stable"))   # 1, never changes again
    store.create(WORKLOADS, "team-a", "busy", workload("busy"))       # 2
    store.create(WORKLOADS, "team-a", "gone", workload("gone"))       # 3
    for i in range(5):
        store.update(WORKLOADS, "team-a", "busy", workload("busy", i=str(i)))  # 4..8
    store.delete(WORKLOADS, "team-a", "gone")                          # 9
    store.update(WORKLOADS, "team-a", "busy", workload("busy", i="last"))  # 10

    assert store.compact(keep=3) == 7
    assert store.compacted_revision() == 7
    assert store.revision() == 10
    with pytest.raises(Expired, match=r"^too old resource version: 6 \(7\)$"):
        store.changes(6)
    recent = store.changes(7)
    assert summary(recent) == [
        ("MODIFIED", 8, "trainingworkloads.run.ai", "team-a", "busy"),
        ("DELETED", 9, "trainingworkloads.run.ai", "team-a", "gone"),
        ("MODIFIED", 10, "trainingworkloads.run.ai", "team-a", "busy"),
    ]
    assert recent[0].previous["metadata"]["resourceVersion"] == "7"  # the row a kept change replaced stays
    assert recent[1].previous["metadata"]["resourceVersion"] == "3"
    at7 = store.list(WORKLOADS, "team-a", resource_version=7).items
    assert [(i["metadata"]["name"], i["metadata"]["resourceVersion"]) for i in at7] == \
        [("busy", "7"), ("gone", "3"), ("stable", "1")]
    assert store.get(WORKLOADS, "team-a", "stable")["metadata"]["resourceVersion"] == "1"

    assert store.compact() == 7  # the default keeps 10,000 revisions: nothing more to forget
    assert store.compact(keep=0) == 10
    assert store.changes(10) == []
    names = [i["metadata"]["name"] for i in store.list(WORKLOADS, None).items]
    assert names == ["busy", "stable"]
    assert store.count(WORKLOADS) == 2


def test_compaction_removes_the_rows_it_no_longer_needs(store: Store) -> None:
    for i in range(50):
        store.create(WORKLOADS, "team-a", f"w{i}", workload(f"w{i}"))
    for round_ in range(4):
        for i in range(50):
            store.update(WORKLOADS, "team-a", f"w{i}", workload(f"w{i}", r=str(round_)))
    for i in range(25):
        store.delete(WORKLOADS, "team-a", f"w{i}")
    rows = store._reader().execute("SELECT count(*) FROM log").fetchone()[0]  # white-box: history is gone
    assert rows == 275
    store.compact(keep=0)
    assert store._reader().execute("SELECT count(*) FROM log").fetchone()[0] == 25
    assert store.count(WORKLOADS) == 25


def test_compaction_is_incremental_and_survives_reopening(db_path) -> None:
    with Store(db_path, keep_revisions=5) as store:
        for i in range(3):
            store.create(WORKLOADS, "team-a", f"w{i}", workload(f"w{i}"))
        for i in range(3, 30):
            store.update(WORKLOADS, "team-a", f"w{i % 3}", workload(f"w{i % 3}", i=str(i)))
        for keep in (25, 20, 12, 5):
            assert store.compact(keep) == 30 - keep
            assert [c.revision for c in store.changes(30 - keep)] == list(range(31 - keep, 31))
            assert all(c.previous is not None for c in store.changes(30 - keep))
        assert store.compact() == 25
    with Store(db_path) as store:
        assert store.compacted_revision() == 25
        with pytest.raises(Expired):
            store.changes(24)
        assert [i["metadata"]["labels"]["i"] for i in store.list(WORKLOADS, "team-a").items] == ["27", "28", "29"]
