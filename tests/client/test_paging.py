"""Lists of more objects than one page: every object once, all pages from one snapshot."""

from __future__ import annotations

import asyncio

import pytest

from berth.client import Client

NS = "paging"
COUNT = 1200


def configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS,
                                                                  "labels": {"batch": "paging"}},
            "data": {"n": name}}


async def create_all(c: Client, names: list[str], parallel: int = 16,
                     done: list[str] | None = None) -> list[dict]:
    gate = asyncio.Semaphore(parallel)

    async def one(name: str) -> dict:
        async with gate:
            created = await c.create(configmap(name))
            if done is not None:
                done.append(name)
            return created

    return await asyncio.gather(*(one(n) for n in names))


@pytest.fixture(scope="module", autouse=True)
def many(cluster):
    async def make() -> None:
        async with Client.from_kubeconfig(cluster.kubeconfig) as c:
            await c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
            await create_all(c, [f"cm-{i:04d}" for i in range(COUNT)])
    asyncio.run(make())


async def test_list_pages_through_every_object_once(connect):
    async with connect() as c:
        for page_size in (500, 100, 0):  # 0: one unpaged request
            listed = await c.list("configmaps", NS, labels="batch=paging", page_size=page_size)
            names = [o["metadata"]["name"] for o in listed]
            assert len(names) == COUNT and len(set(names)) == COUNT, page_size
            assert sorted(names) == [f"cm-{i:04d}" for i in range(COUNT)]


async def test_pages_are_one_snapshot_while_others_write(connect):
    async with connect() as c:
        written: list[str] = []
        writer = asyncio.create_task(create_all(c, [f"late-{i:03d}" for i in range(150)], parallel=4, done=written))
        while len(written) < 10:
            await asyncio.sleep(0.005)
        listed = await c.list("configmaps", NS, page_size=50)
        await writer
        snapshot = int(listed.resource_version)
        everything = await c.list("configmaps", NS)
        expected = sorted(o["metadata"]["name"] for o in everything
                          if int(o["metadata"]["resourceVersion"]) <= snapshot)
        assert sorted(o["metadata"]["name"] for o in listed) == expected
        late = [n for n in expected if n.startswith("late-")]
        assert 0 < len(late) < 150, "the list should have overlapped the writes"
