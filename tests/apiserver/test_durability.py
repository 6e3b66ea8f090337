"""Crashes and history: a killed server loses no acknowledged write, revisions never go back, a watcher
resumes without missing an event, and a watch from a compacted revision gets 410 and kubectl recovers."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import httpx
import orjson

from berth.store import Store
from tests.apiserver.helpers import TW, client, namespace, workload
from tests.cluster import BIN

NS = "crash"


def test_kill_9_during_creates_loses_nothing_acknowledged(bare_cluster):
    c = bare_cluster
    with client(c, timeout=10) as http:
        namespace(http, NS)
        start_rv = http.get(TW.format(ns=NS)).json()["metadata"]["resourceVersion"]
    acknowledged: list[tuple[str, int]] = []
    watched: list[tuple[str, str, int]] = []
    stop = threading.Event()

    def create() -> None:
        with client(c, timeout=5) as http:
            for i in range(100_000):
                if stop.is_set():
                    return
                try:
                    r = http.post(TW.format(ns=NS), json=workload(f"w{i}"))
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    acknowledged.append((f"w{i}", int(r.json()["metadata"]["resourceVersion"])))

    def watch(rv: str) -> None:
        try:
            with client(c, timeout=None) as http, http.stream("GET", f"{TW.format(ns=NS)}?watch=true&resourceVersion={rv}") as s:
                for line in s.iter_lines():
                    if line:
                        event = orjson.loads(line)
                        meta = event["object"]["metadata"]
                        watched.append((event["type"], meta["name"], int(meta["resourceVersion"])))
        except httpx.HTTPError:
            pass

    watcher = threading.Thread(target=watch, args=(start_rv,))
    watcher.start()
    writer = threading.Thread(target=create)
    writer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    c.process.send_signal(signal.SIGKILL)
    c.process.wait()
    c.process = None
    stop.set()
    writer.join()
    watcher.join()
    assert len(acknowledged) >= 150

    c.start()
    with client(c, timeout=10) as http:
        stored = {i["metadata"]["name"] for i in http.get(TW.format(ns=NS)).json()["items"]}
        assert {name for name, _ in acknowledged} <= stored
        highest = max(rv for _, rv in acknowledged)
        after = http.post(TW.format(ns=NS), json=workload("after-restart")).json()
        assert int(after["metadata"]["resourceVersion"]) > highest
        # The watcher resumes from the last event it saw and misses nothing.
        last = watched[-1][2] if watched else int(start_rv)
        resumed: list[str] = []
        with http.stream("GET", f"{TW.format(ns=NS)}?watch=true&resourceVersion={last}&timeoutSeconds=2") as s:
            for line in s.iter_lines():
                if line:
                    resumed.append(orjson.loads(line)["object"]["metadata"]["name"])
    seen = [name for _, name, _ in watched] + resumed
    assert sorted(seen) == sorted(stored | {"after-restart"})
    assert len(seen) == len(set(seen))  # and nothing twice


def test_a_watch_from_a_compacted_revision_gets_410_and_kubectl_recovers(bare_cluster):
    c = bare_cluster
    with client(c, timeout=10) as http:
        namespace(http, NS)
        http.post(TW.format(ns=NS), json=workload("target", suspended=True))
        old_rv = http.get(TW.format(ns=NS)).json()["metadata"]["resourceVersion"]
    waiter = subprocess.Popen(
        [str(BIN / "kubectl"), "wait", "-n", NS, "tw/target", "--for=jsonpath={.spec.gpu.value}=7", "--timeout=60s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=c.env())
    time.sleep(2)
    with client(c, timeout=10) as http:
        for i in range(20):
            http.post(TW.format(ns=NS), json=workload(f"filler-{i}"))
    # Restart with the history compacted: kubectl's watch breaks, and its resume point is gone.
    c.stop()
    store = Store(c.data_dir / "state.db")
    compacted = store.compact(keep=0)
    store.close()
    assert compacted > int(old_rv)
    c.start()
    with client(c, timeout=10) as http:
        lines = []
        with http.stream("GET", f"{TW.format(ns=NS)}?watch=true&resourceVersion={old_rv}") as s:
            for line in s.iter_lines():
                if line:
                    lines.append(orjson.loads(line))
        assert [e["type"] for e in lines] == ["ERROR"]
        assert lines[0]["object"]["code"] == 410
        assert lines[0]["object"]["reason"] == "Expired"
        assert lines[0]["object"]["message"] == f"too old resource version: {old_rv} ({compacted})"
        time.sleep(1)
        http.patch(f"{TW.format(ns=NS)}/target", content=b'{"spec":{"gpu":{"value":"7"}}}',
                   headers={"Content-Type": "application/merge-patch+json"})
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert "condition met" in out
