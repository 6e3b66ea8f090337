"""The watch hub takes each commit's changes once for all watchers (as the store hands them over while it
writes them, or read from the store when they do not follow on) and hands each watcher what the store
itself would: the same changes of its resource and namespace after its revision, whether it is up to date,
behind the hub's kept history (it then reads the store, and gets Expired when that is compacted), or the
hub has just trimmed what it keeps. On a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from berth.apiserver import watch
from berth.apiserver.watch import WatchHub
from berth.store import Expired, ResourceRef, Store

PODS = ResourceRef("", "pods")
NODES = ResourceRef("", "nodes")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store.db", keep_revisions=40)
    yield s
    s.close()


def _write(store: Store, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        namespace = "a" if i % 2 else "b"
        store.create(PODS, namespace, f"p-{i}", {"apiVersion": "v1", "kind": "Pod",
                                                 "metadata": {"name": f"p-{i}", "namespace": namespace}})
        store.create(NODES, "", f"n-{i}", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n-{i}"}})
        if i % 3 == 0:
            store.delete(PODS, namespace, f"p-{i}")


def _same(hub: WatchHub, store: Store, since: int) -> None:
    for ref, namespace in ((PODS, None), (PODS, "a"), (NODES, None)):
        head, shared = hub.changes(since, ref, namespace)
        direct = store.changes(since, ref, namespace)
        assert [(c.type, c.revision, c.name) for c in shared] == [(c.type, c.revision, c.name) for c in direct]
        assert head >= max([since] + [c.revision for c in direct])


def test_every_watcher_gets_what_the_store_would_give_it(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "KEPT", 12)  # small, so that the hub trims what it keeps during the test
    loop = asyncio.new_event_loop()
    try:
        hub = WatchHub(store, loop)
        _write(store, 5)
        for since in range(0, store.revision() + 1):  # from before the hub began to its head
            _same(hub, store, since)
        _write(store, 10, start=5)  # more than the hub keeps: it trims
        for since in range(0, store.revision() + 1):
            _same(hub, store, since)
        line = hub.line("ADDED", hub.changes(0, PODS, None)[1][-1])
        assert line.startswith(b'{"type":"ADDED","object":{') and line.endswith(b"\n")
    finally:
        loop.close()


def test_a_watcher_behind_a_compaction_is_told_it_expired(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "KEPT", 12)  # the hub keeps less than is written: revision 1 is not in it
    loop = asyncio.new_event_loop()
    try:
        hub = WatchHub(store, loop)
        _write(store, 40)
        store.compact()
        with pytest.raises(Expired):
            hub.changes(1, PODS, None)
        _same(hub, store, store.revision() - 5)
    finally:
        loop.close()


def test_the_hub_reads_nothing_back_of_what_its_store_wrote(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.new_event_loop()
    try:
        hub = WatchHub(store, loop)
        read = store.changes
        reads: list[int] = []
        monkeypatch.setattr(store, "changes", lambda since, *a, **k: reads.append(since) or read(since, *a, **k))
        _write(store, 5)
        store.update(PODS, "a", "p-1", {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "p-1", "namespace": "a", "labels": {"app": "web"}}})
        head, changes = hub.changes(0, PODS, "a")
        assert reads == []
        assert [(c.type, c.name) for c in changes] == [("ADDED", "p-1"), ("ADDED", "p-3"), ("DELETED", "p-3"),
                                                   ("MODIFIED", "p-1")]
        modified = changes[-1]
        assert modified.object["metadata"]["labels"] == {"app": "web"}
        assert modified.previous is not None and "labels" not in modified.previous["metadata"]  # read when asked
        assert hub.line("MODIFIED", modified) == b'{"type":"MODIFIED","object":' + orjson.dumps(modified.object) + b"}\n"
    finally:
        loop.close()


def test_what_another_process_writes_is_read_from_the_store(store: Store, tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    other = Store(tmp_path / "store.db")  # a second writer on the same file, as another process would be
    try:
        hub = WatchHub(store, loop)
        _write(store, 2)
        other.create(NODES, "", "elsewhere", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "elsewhere"}})
        _write(store, 2, start=2)  # the hub is told of these, which do not follow on from what it has
        _same(hub, store, 0)
        assert "elsewhere" in [c.name for c in hub.changes(0, NODES)[1]]
    finally:
        other.close()
        loop.close()
