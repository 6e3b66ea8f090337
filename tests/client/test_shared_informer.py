"""Shared informers (`berth.client.informer.Shared`) against a real `berth up`: the components of one process
follow a kind through one watch, and each Informer still sees what a watch with its selectors would send."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from berth.client import Client, Informer
from berth.client.informer import Shared
from tests.client.test_informer import FAST, NS, Recorder, names_in, setup_namespace, tw
from tests.cluster import Cluster
from tests.controllers.helpers import client as http_client


def watches_of_trainings(cluster: Cluster) -> float:
    """The server's open WATCH requests on TrainingWorkloads in one namespace (only these tests make them)."""
    with http_client(cluster) as http:
        text = http.get("/metrics").text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "apiserver_longrunning_requests" and sample.labels.get("verb") == "WATCH"
               and sample.labels.get("resource") == "trainingworkloads" and sample.labels.get("scope") == "namespace")


async def settles_at(cluster: Cluster, watches: int) -> bool:
    """Whether the open watches come to `watches` (a watch opens just after its informer's list, and closes
    when the server sees its client go)."""
    for _ in range(50):
        if await asyncio.to_thread(watches_of_trainings, cluster) == watches:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_two_informers_of_one_kind_are_one_watch_and_each_sees_its_selection(cluster, connect):
    shared = Shared()
    async with connect() as first, connect() as second:
        first.shared_informers = second.shared_informers = shared
        await setup_namespace(first, "before")
        everything, selected = Recorder(), Recorder()
        async with Informer(first, "tw", NS, handlers=[everything], **FAST) as all_of_them, \
                Informer(second, "tw", NS, labels="informed=yes", handlers=[selected], **FAST) as some:
            assert await settles_at(cluster, 1)
            assert everything.seen == [("ADDED", "before", "1")] and selected.seen == []
            await first.create(tw("outsider"))
            await first.patch("tw", "outsider", {"metadata": {"labels": {"informed": "yes"}}}, NS)
            await first.patch("tw", "outsider", {"spec": {"gpu": {"value": "2"}}}, NS)
            await first.patch("tw", "outsider", {"metadata": {"labels": {"informed": "no"}}}, NS)
            await everything.until(lambda seen: len(seen) == 5)
            await selected.until(lambda seen: len(seen) == 3)
            # As a watch with the selector would send it: entering is ADDED, leaving is DELETED.
            assert selected.seen == [("ADDED", "outsider", "1"), ("MODIFIED", "outsider", "2"),
                                     ("DELETED", "outsider", "2")]
            assert [s[0] for s in everything.seen[1:]] == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED"]
            assert names_in(all_of_them) == {"before": "1", "outsider": "2"} and names_in(some) == {}
            assert some.resource_version == all_of_them.resource_version
        # No Informer follows the kind any more: its watch ends.
        assert await settles_at(cluster, 0)


async def test_an_informer_that_joins_late_starts_from_what_is_there(cluster, connect):
    shared = Shared()
    async with connect() as c:
        c.shared_informers = shared
        early, late = Recorder(), Recorder()
        async with Informer(c, "tw", NS, handlers=[early], **FAST):
            await c.create(tw("joined-late", labels={"informed": "late"}))
            await early.until(lambda seen: ("ADDED", "joined-late", "1") in seen)
            async with Informer(c, "tw", NS, labels="informed=late", handlers=[late], **FAST) as joined:
                assert late.seen == [("ADDED", "joined-late", "1")]  # as its first list would have said
                await c.delete("tw", "joined-late", NS)
                await late.until(lambda seen: len(seen) == 2)
                assert late.seen[1] == ("DELETED", "joined-late", "1") and joined.items() == []


async def test_a_client_without_the_shared_informers_watches_on_its_own(cluster, connect):
    async with connect() as c, connect() as other:
        c.shared_informers = Shared()
        async with Informer(c, "tw", NS, **FAST), Informer(other, "tw", NS, **FAST):
            assert await settles_at(cluster, 2)
