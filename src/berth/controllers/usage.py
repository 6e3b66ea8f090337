"""The usage controller: keeps the status of every Project, Department and NodePool current, which is
what `kubectl get projects`, `departments` and `nodepools` show (allocated and requested GPUs, CPU and
memory, per node pool; a pool's nodes and GPUs; phases and conditions). What is counted is `tally`'s.

It watches pods, nodes, namespaces, projects, departments and node pools, and on any change that could
move a number recomputes everything from its caches (one pass over the pods), then writes only the
statuses that differ. Why this shape:
- No write storm: passes are at most one per `period` (a burst of pod changes is one pass, and a
  status changes at most once a second); a status equal to what the cache shows is not written, nor one
  just written that the cache has not caught up with yet. Pod and node changes that move no number
  (heartbeats, conditions) start no pass.
- No conflicts: each write is a merge patch of the status subresource naming only the fields this
  controller owns, so it never needs the object's resourceVersion and never overwrites another writer's
  fields. It is the only writer of these statuses (the project controller makes namespaces only).
- Level-based: a missed or failed write is redone by the next pass; a restart recomputes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from berth.api import usage
from berth.api.usage import PodRequest
from berth.client import ApiError, Client, NotFound
from berth.client.informer import Change, Informer
from berth.controllers.phase import merge_conditions
from berth.controllers.tally import Objects, statuses

log = logging.getLogger(__name__)

PERIOD_S = 1.0
CONCURRENCY = 16
Obj = dict[str, Any]

_POD_ANNOTATIONS = (usage.GPU_FRACTION_ANNOTATION, usage.GPU_MEMORY_ANNOTATION, usage.GPU_DEVICES_ANNOTATION,
                    usage.DEVICES_ANNOTATION, usage.POOLS_ANNOTATION)


def _pod_counts(pod: Obj) -> tuple[Any, ...]:
    """What the tally reads of a pod (as written, not parsed: this runs on every pod event): a status change
    that moves none of it is no reason to recount."""
    spec, annotations = pod.get("spec") or {}, (pod.get("metadata") or {}).get("annotations") or {}
    return (usage.counts(pod), spec.get("nodeName"), [c.get("resources") for c in spec.get("containers") or []],
            [annotations.get(a) for a in _POD_ANNOTATIONS])


def _node_offers(node: Obj) -> tuple[Any, ...]:
    return ((node.get("metadata") or {}).get("labels"), usage.node_devices(node), usage.node_capacity(node),
            usage.node_ready(node))


class UsageController:
    def __init__(self, client: Client, *, period: float = PERIOD_S) -> None:
        self.client = client
        self.period = period
        self._dirty = asyncio.Event()
        self.pods = Informer(client, "Pod", handlers=[self._changed(_pod_counts)])
        self.nodes = Informer(client, "Node", handlers=[self._changed(_node_offers)])
        self.namespaces = Informer(client, "Namespace", handlers=[self._changed()])
        self.projects = Informer(client, "Project", handlers=[self._changed()])
        self.departments = Informer(client, "Department", handlers=[self._changed()])
        self.pools = Informer(client, "NodePool", handlers=[self._changed()])
        # (kind, name) -> (resourceVersion the object had when its status was last written, that status)
        self._written: dict[tuple[str, str], tuple[str, Obj]] = {}
        self._requests: dict[tuple[Any, ...], PodRequest] = {}  # a pod's request, read once (see `_request_of`)
        self.passes = 0

    def _informers(self) -> list[Informer]:
        return [self.pods, self.nodes, self.namespaces, self.projects, self.departments, self.pools]

    def _changed(self, reads: Callable[[Obj], Any] | None = None) -> Callable[[Change], Awaitable[None]]:
        """A handler that starts a pass, unless the change leaves what `reads` reads as it was."""

        async def handle(change: Change) -> None:
            if reads is not None and change.type == "MODIFIED" and change.old is not None \
                    and reads(change.old) == reads(change.object):
                return
            self._dirty.set()

        return handle

    async def run(self) -> None:
        async with contextlib.AsyncExitStack() as caches:
            for informer in self._informers():
                await caches.enter_async_context(informer)  # filled before the first pass; stopped at the end
            self._dirty.set()
            while True:
                await self._dirty.wait()
                self._dirty.clear()
                try:
                    await self.sync()
                except Exception:  # noqa: BLE001 - the controller must keep running; the next pass retries
                    log.exception("usage pass failed")
                    self._dirty.set()
                await asyncio.sleep(self.period)

    def objects(self) -> Objects:
        return Objects(projects=self.projects.items(), departments=self.departments.items(),
                       node_pools=self.pools.items(), nodes=self.nodes.items(), pods=self.pods.items(),
                       namespaces=self.namespaces.items(), request_of=self._request_of())

    def _request_of(self) -> Callable[[Obj], PodRequest]:
        """`usage.pod_request`, remembered per pod for the next pass: what a pod asks for does not change
        (containers' resources are immutable; the share annotations are part of the key), and parsing
        quantities is most of a pass's work at thousands of pods. Pods not seen in a pass are forgotten."""
        before, now = self._requests, {}
        self._requests = now

        def request_of(pod: Obj) -> PodRequest:
            meta = pod.get("metadata") or {}
            annotations = meta.get("annotations") or {}
            key = (meta.get("uid"), annotations.get(usage.GPU_FRACTION_ANNOTATION),
                   annotations.get(usage.GPU_MEMORY_ANNOTATION))
            found = now[key] = before.get(key) or usage.pod_request(pod)
            return found

        return request_of

    async def sync(self) -> None:
        """One pass: recount, then write the statuses that changed."""
        self.passes += 1
        now = time.time()
        caches = {"Project": self.projects, "Department": self.departments, "NodePool": self.pools}
        writes = []
        counted = await asyncio.to_thread(statuses, self.objects())  # the event loop keeps serving the watches
        for (kind, name), wanted in counted.items():
            obj = caches[kind].get(name)
            if obj is None:
                continue
            current = obj.get("status") or {}
            if "conditions" in wanted:
                wanted = {**wanted, "conditions": merge_conditions(current.get("conditions") or [],
                                                                   wanted["conditions"], now)}
            version = obj["metadata"].get("resourceVersion", "")
            shown = all(current.get(k) == v for k, v in wanted.items())
            if shown or self._written.get((kind, name)) == (version, wanted):  # written, or on its way
                continue
            writes.append((kind, name, version, wanted))
        limit = asyncio.Semaphore(CONCURRENCY)

        async def write(kind: str, name: str, version: str, status: Obj) -> None:
            async with limit:
                try:
                    await self.client.patch(kind, name, {"status": status}, subresource="status")
                    self._written[(kind, name)] = (version, status)
                except NotFound:
                    pass  # deleted meanwhile: its DELETED event is on the way
                except ApiError as exc:
                    log.warning("%s %s: status not written (%s); trying again", kind, name, exc)
                    self._dirty.set()

        await asyncio.gather(*(write(*w) for w in writes))
        live = {("Project", n) for n in (p["metadata"]["name"] for p in self.projects.items())}
        live |= {("Department", d["metadata"]["name"]) for d in self.departments.items()}
        live |= {("NodePool", p["metadata"]["name"]) for p in self.pools.items()}
        for key in [k for k in self._written if k not in live]:
            del self._written[key]
