"""kill -9 of `berth up` under a mixed load, then a restart on the same data directory.

Writers (creates, updates with a resourceVersion precondition, deletes) and watchers run in threads over
HTTPS with the admin token, as any client does. When the server dies each writer has at most one write in
flight; each watcher's stream breaks. `berth up` is started again on what the kill left (SQLite recovers
its log itself): the list must hold every acknowledged write, and the watchers resume from the last
revision they saw. Then, with the server stopped, the store's history is read as the ground truth and
compacted past one watcher that stopped reading early; after one more start that watcher's resume gets
410 and it relists, as a client of a server whose history moved on must. The checker
(tests/faults/checker.py) compares what every client was told with what the store kept and what every
watcher saw; the numbers checked are reported at the end of the run (section "what the tests checked")."""

from __future__ import annotations

import random
import signal
import threading
import time

import httpx
import orjson

from berth.store import ResourceRef, Store
from tests.apiserver.helpers import client
from tests.faults.checker import Event, Watcher, Write, check_watcher, check_writes

NS = "faults"
CM = f"/api/v1/namespaces/{NS}/configmaps"
WRITERS = 4
WATCHERS = 3  # the last one stops reading early, so that its resume point is compacted away
LOAD_S = 3.0  # the server is killed after this much load, or as soon as TARGET writes were acknowledged
TARGET = 600


def _configmap(name: str, value: str, rv: int | None = None) -> dict:
    meta: dict = {"name": name}
    if rv is not None:
        meta["resourceVersion"] = str(rv)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


def _event(kind: str, obj: dict) -> Event:
    meta = obj["metadata"]
    return Event(kind, meta["name"], int(meta["resourceVersion"]), (obj.get("data") or {}).get("v"))


class Writer(threading.Thread):
    """Creates, updates and deletes its own keys until the server stops answering; records every write."""

    def __init__(self, cluster, number: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.cluster, self.number, self.stop = cluster, number, stop
        self.writes: list[Write] = []
        self.refused: list[str] = []  # answers that are neither a 2xx nor a broken connection: a failure

    def run(self) -> None:
        rng = random.Random(self.number)
        live: dict[str, int] = {}  # name -> acknowledged rv
        created = 0
        with client(self.cluster, timeout=10) as http:
            while not self.stop.is_set():
                choice = rng.random()
                if len(live) < 3 or choice < 0.4:
                    name = f"w{self.number}-{created}"
                    created += 1
                    write, request = Write("ADDED", name, "0", acked=False), ("POST", CM, _configmap(name, "0"))
                elif choice < 0.8:
                    name = rng.choice(sorted(live))
                    value = str(rng.randrange(10**6))
                    write = Write("MODIFIED", name, value, acked=False)
                    request = ("PUT", f"{CM}/{name}", _configmap(name, value, live[name]))
                else:
                    name = rng.choice(sorted(live))
                    write = Write("DELETED", name, self._last_value(name), acked=False)
                    request = ("DELETE", f"{CM}/{name}", None)
                self.writes.append(write)
                try:
                    r = http.request(request[0], request[1], json=request[2])
                except httpx.HTTPError:
                    return  # the server is gone: this write stays in flight
                if r.status_code >= 300:
                    self.refused.append(f"{request[0]} {request[1]}: {r.status_code} {r.text}")
                    return
                rv = int(r.json()["metadata"]["resourceVersion"])
                self.writes[-1] = Write(write.op, name, write.value, rv)
                if write.op == "DELETED":
                    del live[name]
                else:
                    live[name] = rv

    def _last_value(self, name: str) -> str | None:
        return next(w.value for w in reversed(self.writes) if w.name == name)


class WatchThread(threading.Thread):
    """A watch from `start`; reads events into `events` until the stream breaks or `enough` is set."""

    def __init__(self, cluster, start: int, enough: threading.Event | None = None) -> None:
        super().__init__(daemon=True)
        self.cluster, self.enough = cluster, enough
        self.seen = Watcher(start)

    def run(self) -> None:
        try:
            with client(self.cluster, timeout=httpx.Timeout(10, read=None)) as http, \
                    http.stream("GET", f"{CM}?watch=true&resourceVersion={self.seen.start}") as s:
                for line in s.iter_lines():
                    if line:
                        event = orjson.loads(line)
                        self.seen.before.append(_event(event["type"], event["object"]))
                    if self.enough is not None and self.enough.is_set():
                        return
        except httpx.HTTPError:
            pass


def _resume(http: httpx.Client, seen: Watcher, marker: str) -> None:
    """Resume a broken watch from the last revision it saw and read until `marker` is created; on 410,
    relist and watch from the list's revision instead."""
    since = seen.before[-1].rv if seen.before else seen.start
    while True:
        with http.stream("GET", f"{CM}?watch=true&resourceVersion={since}&timeoutSeconds=20") as s:
            for line in s.iter_lines():
                if not line:
                    continue
                event = orjson.loads(line)
                if event["type"] == "ERROR":
                    assert event["object"]["code"] == 410, event
                    assert seen.relist is None, "a second 410 after a relist"
                    listed = http.get(CM).json()
                    seen.relist_rv = since = int(listed["metadata"]["resourceVersion"])
                    seen.relist = {i["metadata"]["name"]: (int(i["metadata"]["resourceVersion"]), i["data"]["v"])
                                   for i in listed["items"]}
                    if marker in seen.relist:
                        return
                    break
                seen.after.append(_event(event["type"], event["object"]))
                if event["object"]["metadata"]["name"] == marker:
                    return
            else:
                raise AssertionError(f"the resumed watch ended before {marker} came")


def _history(store: Store, since: int) -> list[Event]:
    return [_event(c.type, c.object) for c in store.changes(since, ResourceRef("", "configmaps"), NS)]


def test_kill_9_under_mixed_load_loses_no_acknowledged_write_and_no_event(bare_cluster, record_property):
    c = bare_cluster
    with client(c, timeout=10) as http:
        assert http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).status_code == 201
        start = int(http.get(CM).json()["metadata"]["resourceVersion"])
    stop, slow_enough = threading.Event(), threading.Event()
    writers = [Writer(c, i, stop) for i in range(WRITERS)]
    watchers = [WatchThread(c, start) for _ in range(WATCHERS - 1)] + [WatchThread(c, start, slow_enough)]
    for thread in watchers + writers:
        thread.start()
    begun = time.monotonic()
    while time.monotonic() < begun + LOAD_S:
        acked = sum(1 for w in writers for x in w.writes if x.acked)
        if acked >= TARGET // 3 or time.monotonic() > begun + LOAD_S / 3:
            slow_enough.set()
        if acked >= TARGET:
            break
        time.sleep(0.02)
    c.process.send_signal(signal.SIGKILL)
    c.process.wait()
    c.process = None
    stop.set()
    for thread in writers + watchers:
        thread.join(timeout=15)
        assert not thread.is_alive()
    assert not [r for w in writers for r in w.refused], [r for w in writers for r in w.refused]

    # The restart on what the kill left: every acknowledged write must be there, and the watchers that
    # kept reading resume from where they were.
    c.start()
    with client(c, timeout=30) as http:
        final = {i["metadata"]["name"]: (int(i["metadata"]["resourceVersion"]), i["data"]["v"])
                 for i in http.get(CM).json()["items"]}
        first = int(http.post(CM, json=_configmap("after-restart", "0")).json()["metadata"]["resourceVersion"])
        for w in watchers[:-1]:
            _resume(http, w.seen, "after-restart")
    c.stop()

    # The history is the ground truth. Then compact it past the slow watcher's resume point, as a server
    # that ran on for a while would have, and restart once more: that watcher must get 410 and relist.
    with Store(c.data_dir / "state.db") as store:
        history = _history(store, start)
        slow = watchers[-1].seen
        slow_last = slow.before[-1].rv if slow.before else start
        assert slow_last < min(w.seen.before[-1].rv for w in watchers[:-1]), "the slow watcher stopped first"
        store.compact(keep=store.revision() - (slow_last + 1))
    c.start()
    with client(c, timeout=30) as http:
        assert http.post(CM, json=_configmap("after-compaction", "0")).status_code == 201
        _resume(http, slow, "after-compaction")
    c.stop()
    with Store(c.data_dir / "state.db") as store:
        history += _history(store, history[-1].rv)

    writes = [x for w in writers for x in w.writes]
    checked_writes = check_writes(writes, history, final)
    in_flight = sum(1 for x in writes if not x.acked)
    assert first > max(x.rv for x in writes if x.acked), "revisions went back after the restart"
    checked_events = check_watcher(slow, history, "the slow watcher") + sum(
        check_watcher(w.seen, [e for e in history if e.rv <= first], f"watcher {i}")
        for i, w in enumerate(watchers[:-1]))
    assert slow.relist is not None, "the slow watcher's resume point was compacted: it must have got 410"
    assert checked_writes >= 50, f"only {checked_writes} writes were acknowledged before the kill"
    ops = {op: sum(1 for x in writes if x.acked and x.op == op) for op in ("ADDED", "MODIFIED", "DELETED")}
    record_property("summary", f"kill -9 under load: {checked_writes} acknowledged writes checked "
                               f"({ops['ADDED']} creates, {ops['MODIFIED']} updates, {ops['DELETED']} deletes) "
                               f"and {in_flight} in flight at the kill; {checked_events} watch events and "
                               f"relisted objects checked over {WATCHERS} watchers (1 relisted after 410)")
