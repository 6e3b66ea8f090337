"""`Informer`: a local cache of one kind (optionally one namespace and selector) kept current by LIST then
WATCH, telling handlers what changed. Controllers and the scheduler read the cache instead of the API.

The loop, and why:
- LIST (paged), then WATCH from the list's resourceVersion with bookmarks: no change between the two is
  missed or seen twice.
- Every event and bookmark advances the resourceVersion; when a stream ends or the connection fails, the
  watch resumes from there after a backoff (0.2 s doubling to 10 s, jittered), so a server restart costs
  nothing but the wait.
- When the server no longer has that resourceVersion (410 Gone, e.g. after compaction or a long outage),
  it lists again and diffs the list against the cache, handing out the ADDED, MODIFIED and DELETED the
  watch could not deliver. A DELETED found this way carries the last state the cache saw.
- Handlers see events one at a time, in order, after the cache reflects them. A handler that raises is
  logged and skipped: one bad event must not stop the cache. A slow handler holds the stream back; hand
  work to a queue (`queue=`) when handling is slow.

Invariants: `cache` holds exactly the objects of the last list plus the watch events since, keyed by
(namespace, name) with "" as the namespace of cluster-scoped objects; `resource_version` is the newest
revision the cache reflects.
"""

from __future__ import annotations

import asyncio
import logging
import random
import types
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from berth.api.registry import Kind
from berth.client import errors
from berth.client.client import Client, Selector
from berth.client.kinds import resolve

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]


@dataclass(frozen=True)
class Change:
    """What an informer saw: `type` ADDED, MODIFIED or DELETED; `old` the cached object before (None for
    ADDED)."""

    type: str
    object: Obj
    old: Obj | None = None


Handler = Callable[[Change], Awaitable[None]]


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """A cache of `kind` in `namespace` (None: all) matching `labels`/`fields`, and the changes to it.

        async with Informer(client, "TrainingWorkload", handlers=[on_change]) as workloads:
            ...  # workloads.cache is filled; on_change(Change) is called for each change

    `watch_timeout` is the range of each watch stream's server-side timeout (kubectl uses 5 to 10 minutes);
    `backoff` the first and longest pause after a failure.
    """

    def __init__(self, client: Client, kind: str | Kind, namespace: str | None = None, *,
                 labels: Selector = None, fields: Selector = None, handlers: Iterable[Handler] = (),
                 queue: asyncio.Queue[Change] | None = None, page_size: int = 500,
                 watch_timeout: tuple[int, int] = (300, 600), backoff: tuple[float, float] = (0.2, 10.0)) -> None:
        self.kind = resolve(kind)
        self.namespace = namespace
        self._client = client
        self._labels, self._fields = labels, fields
        self._handlers = list(handlers)
        self._queue = queue
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._backoff = backoff
        self._cache: dict[Key, Obj] = {}
        self._rv: str | None = None
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Lists after the first: each follows a 410 (the watch could not resume).
        self.relists = 0

    # -- reading the cache --------------------------------------------------------------------------

    @property
    def cache(self) -> Mapping[Key, Obj]:
        """A read-only view of the cache, keyed by (namespace, name). Do not modify the objects."""
        return types.MappingProxyType(self._cache)

    def get(self, name: str, namespace: str = "") -> Obj | None:
        return self._cache.get((namespace, name))

    def items(self) -> list[Obj]:
        return list(self._cache.values())

    @property
    def resource_version(self) -> str | None:
        return self._rv

    @property
    def synced(self) -> bool:
        """True once the first list is in the cache and its ADDED events were handled."""
        return self._synced.is_set()

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    # -- running ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the list/watch loop in the running event loop (again after `stop` to resume from the
        cache's resourceVersion)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"informer {self._describe()}")

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Until `synced`; TimeoutError after `timeout` seconds; re-raises if the loop died."""
        if self._task is None:
            raise RuntimeError("start the informer first")
        waiter = asyncio.ensure_future(self._synced.wait())
        try:
            done, _ = await asyncio.wait({waiter, self._task}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._synced.is_set():
            return
        if self._task in done:
            self._task.result()
            raise RuntimeError(f"informer {self._describe()} stopped before it synced")
        raise TimeoutError(f"informer {self._describe()} did not sync in {timeout} s")

    async def stop(self) -> None:
        """Stop watching; the cache stays as it was."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> Self:
        self.start()
        await self.wait_synced()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the loop -----------------------------------------------------------------------------------

    def _describe(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.kind.qualified}{where}"

    async def _run(self) -> None:
        first, longest = self._backoff
        delay = first
        while True:
            try:
                if self._rv is None:
                    await self._relist()
                    delay = first
                timeout = random.randint(*self._watch_timeout)
                async for event_type, obj in self._client.watch(
                        self.kind, self.namespace, labels=self._labels, fields=self._fields,
                        resource_version=self._rv, bookmarks=True, server_timeout=timeout):
                    delay = first
                    if event_type == "BOOKMARK":
                        self._rv = _rv(obj) or self._rv
                    else:
                        await self._apply(event_type, obj)
            except errors.Gone as exc:
                log.info("informer %s: resourceVersion %s is gone (%s); listing again", self._describe(),
                         self._rv, exc.message)
                self._rv = None
                continue
            except (errors.Unreachable, errors.ApiError) as exc:
                log.warning("informer %s: %s; retrying in %.1f s", self._describe(), exc, delay)
            except Exception:  # a bug or a garbled answer: the cache may be off, so list again
                log.exception("informer %s: unexpected error; listing again in %.1f s", self._describe(), delay)
                self._rv = None
            else:
                continue
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, longest)

    async def _relist(self) -> None:
        listed = await self._client.list(self.kind, self.namespace, labels=self._labels, fields=self._fields,
                                         page_size=self._page_size)
        fresh = {key_of(obj): obj for obj in listed}
        changes: list[Change] = []
        for key, obj in fresh.items():
            old = self._cache.get(key)
            if old is None:
                changes.append(Change("ADDED", obj))
            elif _rv(old) != _rv(obj):
                changes.append(Change("MODIFIED", obj, old))
        changes += [Change("DELETED", old, old) for key, old in self._cache.items() if key not in fresh]
        if self._synced.is_set():
            self.relists += 1
        self._cache = fresh
        self._rv = listed.resource_version or None
        for change in changes:
            await self._dispatch(change)
        self._synced.set()

    async def _apply(self, event_type: str, obj: Obj) -> None:
        key = key_of(obj)
        old = self._cache.get(key)
        self._rv = _rv(obj) or self._rv
        if event_type == "DELETED":
            if old is None:
                return
            del self._cache[key]
            await self._dispatch(Change("DELETED", obj, old))
            return
        if old is not None and _rv(old) == _rv(obj):
            return  # seen already
        self._cache[key] = obj
        await self._dispatch(Change("ADDED" if old is None else "MODIFIED", obj, old))

    async def _dispatch(self, change: Change) -> None:
        for handler in self._handlers:
            try:
                await handler(change)
            except Exception:
                log.exception("informer %s: handler %r failed on %s %s", self._describe(), handler, change.type,
                              key_of(change.object))
        if self._queue is not None:
            await self._queue.put(change)
