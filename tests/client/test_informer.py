"""The Informer against a real `berth up`: live changes, a server restart, and a relist after 410."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

import pytest

from berth.client import Change, Client, Informer
from berth.store import Store
from tests.cluster import Cluster, free_port

NS = "runai-informed"
FAST = {"backoff": (0.05, 0.5)}


def tw(name: str, gpu: str = "1", labels: dict[str, str] | None = None) -> dict:
    """A suspended training workload: no pods, so its gpu may change (the changes the informers watch)."""
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
            "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
            "spec": {"gpu": {"value": gpu}, "image": {"value": "quickstart"}, "name": {"value": name},
                     "active": {"value": False}}}


class Recorder:
    """A handler that keeps (type, name, gpu) of every change and lets a test wait for one."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []
        self._changed = asyncio.Event()

    async def __call__(self, change: Change) -> None:
        self.seen.append((change.type, change.object["metadata"]["name"], change.object["spec"]["gpu"]["value"]))
        self._changed.set()

    async def until(self, done: Callable[[list[tuple[str, str, str]]], bool], timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while not done(self.seen):
                self._changed.clear()
                await self._changed.wait()


async def setup_namespace(c: Client, *names: str) -> None:
    await c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    await c.create({"apiVersion": "run.ai/v1", "kind": "Project", "metadata": {"name": NS.removeprefix("runai-")}})
    for name in names:
        await c.create(tw(name))


def names_in(informer: Informer) -> dict[str, str]:
    return {o["metadata"]["name"]: o["spec"]["gpu"]["value"] for o in informer.items()}


async def test_sees_added_modified_deleted_in_order(connect):
    async with connect() as c:
        await setup_namespace(c, "before")
        recorder, queue = Recorder(), asyncio.Queue()
        async with Informer(c, "TrainingWorkload", NS, handlers=[recorder], queue=queue, **FAST) as informer:
            assert recorder.seen == [("ADDED", "before", "1")]
            assert informer.synced and informer.get("before", NS)["spec"]["gpu"] == {"value": "1"}
            await c.create(tw("live"))
            await c.patch("tw", "live", {"spec": {"gpu": {"value": "2"}}}, NS)
            await c.delete("tw", "live", NS)
            await recorder.until(lambda seen: len(seen) == 4)
            assert recorder.seen[1:] == [("ADDED", "live", "1"), ("MODIFIED", "live", "2"), ("DELETED", "live", "2")]
            queued = [queue.get_nowait() for _ in range(queue.qsize())]
            assert [(q.type, q.object["metadata"]["name"]) for q in queued] == [
                ("ADDED", "before"), ("ADDED", "live"), ("MODIFIED", "live"), ("DELETED", "live")]
            assert queued[2].old["spec"]["gpu"]["value"] == "1"
            assert names_in(informer) == {"before": "1"}
            assert informer.relists == 0


async def test_a_selector_informer_sees_objects_enter_and_leave(connect):
    async with connect() as c:
        recorder = Recorder()
        async with Informer(c, "tw", NS, labels="informed=yes", handlers=[recorder], **FAST) as informer:
            await c.create(tw("outsider"))
            await c.patch("tw", "outsider", {"metadata": {"labels": {"informed": "yes"}}}, NS)
            await c.patch("tw", "outsider", {"metadata": {"labels": {"informed": "no"}}}, NS)
            await recorder.until(lambda seen: len(seen) == 2)
            assert [s[:2] for s in recorder.seen] == [("ADDED", "outsider"), ("DELETED", "outsider")]
            assert informer.get("outsider", NS) is None


async def test_a_failing_handler_does_not_stop_the_informer(connect, caplog):
    async def broken(change: Change) -> None:
        raise RuntimeError("handler bug")

    async with connect() as c:
        recorder = Recorder()
        with caplog.at_level(logging.ERROR, logger="berth.client.informer"):
            async with Informer(c, "tw", NS, handlers=[broken, recorder], **FAST):
                await c.create(tw("after-bug"))
                await recorder.until(lambda seen: ("ADDED", "after-bug", "1") in seen)
        assert "handler bug" in caplog.text


async def test_resumes_after_the_server_restarts(fresh_cluster: Cluster, caplog):
    async with Client.from_kubeconfig(fresh_cluster.kubeconfig) as c:
        await setup_namespace(c, "a", "b")
        recorder = Recorder()
        async with Informer(c, "tw", NS, handlers=[recorder], **FAST) as informer:
            with caplog.at_level(logging.WARNING, logger="berth.client.informer"):
                await asyncio.to_thread(fresh_cluster.stop)
                await asyncio.sleep(0.3)
                await asyncio.to_thread(fresh_cluster.start)
            assert "retrying" in caplog.text  # it was cut off, and kept trying
            await c.patch("tw", "a", {"spec": {"gpu": {"value": "5"}}}, NS)
            await c.create(tw("c"))
            await recorder.until(lambda seen: len(seen) == 4)
            assert recorder.seen == [("ADDED", "a", "1"), ("ADDED", "b", "1"), ("MODIFIED", "a", "5"),
                                     ("ADDED", "c", "1")]
            assert informer.relists == 0  # resumed from its resourceVersion; no list needed
            assert names_in(informer) == {"a": "5", "b": "1", "c": "1"}


async def test_relists_and_diffs_after_a_410(fresh_cluster: Cluster):
    """While the informer is cut off, another server on the same data changes three objects and compacts the
    history, so the informer's resourceVersion is gone when it reconnects."""
    async with Client.from_kubeconfig(fresh_cluster.kubeconfig) as c:
        await setup_namespace(c, "kept", "changed", "removed")
        recorder = Recorder()
        async with Informer(c, "tw", NS, handlers=[recorder], **FAST) as informer:
            old_rv = informer.resource_version
            await asyncio.to_thread(fresh_cluster.stop)
            other = dataclasses.replace(fresh_cluster, url=f"https://127.0.0.1:{free_port()}", process=None)
            await asyncio.to_thread(other.start)
            try:
                async with Client.from_kubeconfig(other.kubeconfig) as elsewhere:
                    await elsewhere.patch("tw", "changed", {"spec": {"gpu": {"value": "3"}}}, NS)
                    await elsewhere.delete("tw", "removed", NS)
                    await elsewhere.create(tw("new"))
                with Store(fresh_cluster.data_dir / "state.db") as store:
                    assert store.compact(keep=0) > int(old_rv)
            finally:
                await asyncio.to_thread(other.stop)
            await asyncio.to_thread(fresh_cluster.start)
            await recorder.until(lambda seen: len(seen) == 6)
            assert sorted(recorder.seen[3:]) == [("ADDED", "new", "1"), ("DELETED", "removed", "1"),
                                                 ("MODIFIED", "changed", "3")]
            assert informer.relists == 1
            assert names_in(informer) == {"kept": "1", "changed": "3", "new": "1"}
            await c.patch("tw", "kept", {"spec": {"gpu": {"value": "2"}}}, NS)  # and it watches on
            await recorder.until(lambda seen: len(seen) == 7)
            assert recorder.seen[6] == ("MODIFIED", "kept", "2")


async def test_stop_then_start_resumes_from_the_cache(connect):
    async with connect() as c:
        recorder = Recorder()
        informer = Informer(c, "tw", NS, labels="phase=two", handlers=[recorder], **FAST)
        informer.start()
        await informer.wait_synced(10)
        await informer.stop()
        await c.create(tw("while-stopped", labels={"phase": "two"}))
        informer.start()
        try:
            await recorder.until(lambda seen: len(seen) == 1)
            assert recorder.seen == [("ADDED", "while-stopped", "1")]
            assert informer.relists == 0
        finally:
            await informer.stop()


async def test_wait_synced_needs_a_started_informer(connect):
    async with connect() as c:
        with pytest.raises(RuntimeError, match="start the informer first"):
            await Informer(c, "tw").wait_synced(1)
