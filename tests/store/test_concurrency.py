"""Several threads at once: optimistic concurrency, unique gap-free revisions, consistent reads during
writes and compaction, and watchers that never miss a revision."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from berth.store import Conflict, Expired, Store
from tests.store.common import WORKLOADS, workload


def run_threads(targets: list[Callable[[], None]]) -> None:
    """Run the targets in threads and re-raise the first failure in the test's thread."""
    errors: list[BaseException] = []

    def guard(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guard(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def test_two_updates_from_the_same_revision_one_wins(store: Store) -> None:
    for round_ in range(30):
        name = f"job{round_}"
        base = int(store.create(WORKLOADS, "team-a", name, workload(name))["metadata"]["resourceVersion"])
        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def writer(who: str) -> Callable[[], None]:
            def run() -> None:
                barrier.wait()
                try:
                    outcomes[who] = store.update(WORKLOADS, "team-a", name, workload(name, by=who), expected_rv=base)
                except Conflict as exc:
                    outcomes[who] = exc
            return run

        run_threads([writer("a"), writer("b")])
        winners = [who for who, result in outcomes.items() if isinstance(result, dict)]
        losers = [result for result in outcomes.values() if isinstance(result, Conflict)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        winner = outcomes[winners[0]]
        assert losers[0].current_rv == int(winner["metadata"]["resourceVersion"]) == base + 1
        assert store.get(WORKLOADS, "team-a", name)["metadata"]["labels"] == {"by": winners[0]}


def test_concurrent_creates_get_unique_gap_free_revisions(store: Store) -> None:
    results: dict[int, list[int]] = defaultdict(list)

    def creator(t: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(60):
                created = store.create(WORKLOADS, f"ns{t}", f"w{i}", workload(f"w{i}", f"ns{t}"))
                results[t].append(int(created["metadata"]["resourceVersion"]))
        return run

    run_threads([creator(t) for t in range(4)])
    everything = sorted(rev for revs in results.values() for rev in revs)
    assert everything == list(range(1, 241))
    for revs in results.values():
        assert revs == sorted(revs)  # each thread sees its own writes in increasing order
    assert store.count(WORKLOADS) == 240


def test_reads_stay_consistent_while_writers_and_compaction_run(store: Store) -> None:
    """Writers update a fixed set of keys; paged readers must see, at their revision R, each key exactly
    at its last write <= R (or get Expired); a watcher must see every revision once, in order."""
    keys = [f"k{i:02d}" for i in range(20)]
    writes: list[tuple[str, int]] = []
    writes_lock = threading.Lock()
    for key in keys:
        writes.append((key, int(store.create(WORKLOADS, "team-a", key, workload(key))["metadata"]["resourceVersion"])))
    stop = threading.Event()
    writers_left = [2]
    snapshots: list[tuple[int, dict[str, int]]] = []
    watched: list[int] = []
    expired = {"list": 0, "watch": 0}

    def writer(offset: int) -> Callable[[], None]:
        def run() -> None:
            for i in range(150):
                key = keys[(i * 7 + offset) % len(keys)]
                rev = int(store.update(WORKLOADS, "team-a", key, workload(key, i=str(i)))["metadata"]["resourceVersion"])
                with writes_lock:
                    writes.append((key, rev))
            with writes_lock:
                writers_left[0] -= 1
                if not writers_left[0]:
                    stop.set()
        return run

    def reader() -> None:
        # Until the writers stop, and then until a paged list has completed (on a loaded machine the
        # compactor may expire every list while the writers run; it stops with them).
        while not stop.is_set() or not snapshots:
            try:
                page = store.list(WORKLOADS, "team-a", limit=6)
                seen = {i["metadata"]["name"]: int(i["metadata"]["resourceVersion"]) for i in page.items}
                while page.continue_token:
                    time.sleep(0.001)  # let writers and the compactor in between pages
                    page = store.list(WORKLOADS, "team-a", limit=6, continue_token=page.continue_token)
                    seen.update({i["metadata"]["name"]: int(i["metadata"]["resourceVersion"]) for i in page.items})
                snapshots.append((page.revision, seen))
            except Expired:
                expired["list"] += 1

    reached = [0]  # where the watcher ended: after its last change, or where a restart put it

    def watcher() -> None:
        cursor = 0
        while not stop.is_set() or cursor < store.revision():
            try:
                changes = store.changes(cursor, WORKLOADS)
            except Expired:
                expired["watch"] += 1
                watched.append(-1)  # a restart: the next revision seen need not follow the last
                cursor = store.revision()
                continue
            for change in changes:
                assert change.type in ("ADDED", "MODIFIED")
                watched.append(change.revision)
            if changes:
                cursor = changes[-1].revision
        reached[0] = cursor

    def compactor() -> None:
        # Mostly keeps enough history for readers to finish; now and then forgets all of it (Expired).
        for i in itertools.count():
            if stop.wait(0.002):
                return
            store.compact(keep=0 if i % 4 == 3 else 40)

    run_threads([writer(0), writer(3), reader, reader, watcher, compactor])

    assert snapshots, "no paged list completed"
    assert store.compacted_revision() > 0  # compaction ran alongside
    history: dict[str, list[int]] = defaultdict(list)
    for key, rev in writes:
        history[key].append(rev)
    for revision, seen in snapshots:
        assert sorted(seen) == keys
        for key, rev in seen.items():
            assert rev == max(r for r in history[key] if r <= revision), (key, revision)
    runs: list[list[int]] = [[]]
    for rev in watched:
        if rev == -1:
            runs.append([])
        else:
            runs[-1].append(rev)
    runs = [run for run in runs if run]
    for run in runs:
        assert run == list(range(run[0], run[0] + len(run))), "a watcher skipped or repeated a revision"
    assert reached[0] == store.revision() == len(keys) + 300  # its last step may be a restart (compacted)


def test_each_thread_reads_through_its_own_connection(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))
    connections = []

    def read() -> None:
        assert store.get(WORKLOADS, "team-a", "job1") is not None
        connections.append(store._reader())  # white-box: the per-thread connection

    run_threads([read, read, read])
    assert len({id(c) for c in connections}) == 3


def test_threads_that_end_do_not_leak_connections(store: Store) -> None:
    store.create(WORKLOADS, "team-a", "job1", workload("job1"))

    def read() -> None:
        assert store.get(WORKLOADS, "team-a", "job1") is not None

    for _ in range(5):
        run_threads([read] * 8)
    store.get(WORKLOADS, "team-a", "job1")
    assert len(store._readers) <= 8 + 1  # white-box: finished threads' connections were closed


def test_two_handles_on_one_file_share_revisions(db_path) -> None:
    """A second Store on the same file (another process, or `berth` reading next to the server) takes its
    revisions from the same sequence and sees the other's writes."""
    first, second = Store(db_path), Store(db_path)
    try:
        revisions: list[int] = []

        def writer(store: Store, prefix: str) -> Callable[[], None]:
            def run() -> None:
                for i in range(40):
                    created = store.create(WORKLOADS, "team-a", f"{prefix}{i}", workload(f"{prefix}{i}"))
                    revisions.append(int(created["metadata"]["resourceVersion"]))
            return run

        run_threads([writer(first, "a"), writer(second, "b")])
        assert sorted(revisions) == list(range(1, 81))
        assert first.revision() == second.revision() == 80
        assert len(first.list(WORKLOADS, "team-a").items) == len(second.list(WORKLOADS, "team-a").items) == 80
        before = second.get(WORKLOADS, "team-a", "a0")
        first.update(WORKLOADS, "team-a", "a0", workload("a0", by="first"))
        with pytest.raises(Conflict):
            second.update(WORKLOADS, "team-a", "a0", workload("a0", by="second"),
                          expected_rv=int(before["metadata"]["resourceVersion"]))
    finally:
        first.close()
        second.close()
