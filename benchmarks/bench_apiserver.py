"""API server figures (issue B), measured against a real `berth up` process over HTTPS:

- apiserver.creates_per_s: TrainingWorkload creates over HTTPS with 8 concurrent keep-alive connections,
  the median of 3 rounds of 1,500, sent by a minimal HTTP/1.1 client (asyncio streams over TLS) so that
  the server sets the pace; the same through httpx, whose own cost saturates a core first, is reported
  in the context, and so is GET /version per second through the same client and server (a request that
  does nothing: the ceiling of this HTTPS stack) and the creates' rate as a share of it;
- apiserver.list_10k_s: one list of 10,000 workloads (JSON), median of 5;
- apiserver.watch_fanout_100_s: from one patch to the moment the last of 100 open watches has its event;

`apiserver.sqlite_ratio` (creates over bare SQLite inserts) is retired (issue L): it compared a full HTTPS
write with a bare insert; the empty-request rate beside the creates says what the stack itself costs.

The client runs on the same 2-core machine as the server, so the figures include the client's own cost.
`berth up` runs the API server alone here (`--no-controllers --no-scheduler --no-local-node`).
"""

from __future__ import annotations

import asyncio
import copy
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from bench_api import DOCUMENT
from common import BerthUp, Figure, Skip, api_server_alone, lean_posts

NS = "bench"
TW = f"/apis/run.ai/v2alpha1/namespaces/{NS}/trainingworkloads"


class _Server(BerthUp):
    """The API server alone, in a temporary directory of its own: no controller, scheduler or node reacts
    to the objects created here."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="berth-bench-")
        super().__init__(Path(self.tmp.name), *api_server_alone())

    def close(self) -> None:
        super().close()
        self.tmp.cleanup()


def _doc(name: str) -> dict:
    doc = copy.deepcopy(DOCUMENT)
    doc["metadata"] = {"name": name, "namespace": NS, "labels": {"project": "team-a"}}
    return doc


async def _lean_creates(server: _Server, prefix: str, count: int, concurrency: int = 8) -> float:
    """Creates per second through `common.lean_posts`."""
    bodies = [orjson.dumps(_doc(f"{prefix}-{i}")) for i in range(count)]
    start = time.perf_counter()
    await lean_posts(server.url, server.ca, server.token, TW, bodies, concurrency)
    return count / (time.perf_counter() - start)


async def _empty_gets(server: _Server, count: int = 6000, concurrency: int = 8) -> float:
    """GET /version per second through the same client: what this HTTPS stack serves when a request does
    nothing, the ceiling any create rate stays under."""
    start = time.perf_counter()
    await lean_posts(server.url, server.ca, server.token, "/version", [b""] * count, concurrency, method="GET",
                     expect=200)
    return count / (time.perf_counter() - start)


async def _creates(server: _Server, prefix: str, count: int, concurrency: int = 8) -> float:
    async with server.client(limits=httpx.Limits(max_connections=concurrency)) as client:
        queue = list(range(count))
        bodies = {i: orjson.dumps(_doc(f"{prefix}-{i}")) for i in queue}

        async def worker() -> None:
            while queue:
                i = queue.pop()
                r = await client.post(TW, content=bodies[i], headers={"Content-Type": "application/json"})
                assert r.status_code == 201, r.text

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)


async def _list_seconds(server: _Server) -> float:
    async with server.client(timeout=60) as client:
        start = time.perf_counter()
        r = await client.get(TW)
        elapsed = time.perf_counter() - start
        assert r.status_code == 200
        assert len(r.json()["items"]) >= 10_000
        return elapsed


async def _fanout(server: _Server, watchers: int = 100) -> float:
    async with server.client(timeout=60, limits=httpx.Limits(max_connections=watchers + 4)) as client:
        r = await client.get(TW + "?limit=1")
        target = r.json()["items"][0]["metadata"]["name"]
        rv = r.json()["metadata"]["resourceVersion"]
        seen: list[float] = []
        ready = 0

        async def watch() -> None:
            nonlocal ready
            url = f"{TW}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3D{target}"
            async with client.stream("GET", url) as stream:
                ready += 1
                async for line in stream.aiter_lines():
                    if '"MODIFIED"' in line:
                        seen.append(time.perf_counter())
                        return

        tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
        while ready < watchers:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        patch = await client.patch(f"{TW}/{target}", content=b'{"spec":{"completions":{"value":2}}}',  # any time
                                   headers={"Content-Type": "application/merge-patch+json"})
        assert patch.status_code == 200
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        return max(seen) - start


def apiserver() -> list[Figure]:
    try:
        import berth.apiserver.server  # noqa: F401
    except ImportError as exc:
        raise Skip(f"berth.apiserver is not importable: {exc}") from None
    server = _Server()
    try:
        loop = asyncio.new_event_loop()
        with httpx.Client(base_url=server.url, verify=server.ca,
                          headers={"Authorization": f"Bearer {server.token}"}) as c:
            c.post("/api/v1/namespaces", json={"metadata": {"name": NS, "labels": {"runai/queue": NS}}})
            c.post("/apis/run.ai/v1/projects", json={"apiVersion": "run.ai/v1", "kind": "Project",  # workloads
                                                     "metadata": {"name": NS}, "spec": {"namespace": NS}})  # need one
        rounds = [loop.run_until_complete(_lean_creates(server, f"c{r}", 1500)) for r in range(3)]
        creates = statistics.median(rounds)
        httpx_rate = loop.run_until_complete(_creates(server, "h", 1000))
        ceiling = statistics.median(loop.run_until_complete(_empty_gets(server)) for _ in range(3))
        remaining = 10_000 - 5500
        loop.run_until_complete(_creates(server, "fill", remaining))
        lists = [loop.run_until_complete(_list_seconds(server)) for _ in range(5)]
        fanout = loop.run_until_complete(_fanout(server))
        loop.run_until_complete(loop.shutdown_asyncgens())  # the watch streams' readers, left open
        loop.close()
    finally:
        server.close()
    ctx = {"client": "minimal HTTP/1.1 keep-alive over TLS, 8 connections", "rounds": [round(r) for r in rounds],
           "httpx_client_creates_per_s": round(httpx_rate),
           "empty_get_version_per_s": round(ceiling),
           "creates_per_empty_get": round(creates / ceiling, 3)}
    return [
        Figure("apiserver.creates_per_s", creates, "creates/s", ">= 1000", ctx),
        Figure("apiserver.list_10k_s", statistics.median(lists), "s", "< 0.5",
               {"rounds": [round(x, 3) for x in lists]}),
        Figure("apiserver.watch_fanout_100_s", fanout, "s", "(reported)", {"watchers": 100}),
    ]


BENCHMARKS = [apiserver]
