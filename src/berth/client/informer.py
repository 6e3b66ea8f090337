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

Shared informers (`Shared`, as client-go's shared informer factory): components in one process each make
their own Informers (the controllers, the scheduler, the simulated nodes each follow pods), and each would
hold a watch of its own on the server, which then sends every pod change four times over, and this process
decodes it four times. When their clients hold one `Shared` (`client.shared_informers`), there is one
LIST+WATCH per kind and namespace, without selectors (the source), and each Informer is a view of it: the
selectors are applied here, with the API server's own grammar (`berth.api.selectors`), and an object
entering or leaving a view is ADDED to or DELETED from it, as a watch with that selector would say. Views
see the source's changes in order, one view after another, after the source's cache reflects them.
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
from berth.api.selectors import FieldSelector, LabelSelector, matcher
from berth.client import errors
from berth.client.client import Client, Selector, selector_text
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
                 watch_timeout: tuple[int, int] = (300, 600), backoff: tuple[float, float] = (0.2, 10.0),
                 share: bool = True) -> None:
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
        self._relists = 0
        shared = client.shared_informers if share else None
        self._source = None if shared is None else shared.source(client, self.kind, namespace)
        self._wants = None if self._source is None else _parsed(labels, fields)  # what a view keeps

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
        return self._rv if self._source is None else self._source.informer.resource_version

    @property
    def relists(self) -> int:
        """Lists after the first: each follows a 410 (the watch could not resume)."""
        return self._relists if self._source is None else self._source.informer.relists

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
            run = self._run() if self._source is None else self._follow(self._source)
            self._task = asyncio.get_running_loop().create_task(run, name=f"informer {self._describe()}")

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
        if self._synced.is_set():
            self._relists += 1
        self._rv = listed.resource_version or None
        await self._replace({key_of(obj): obj for obj in listed})

    async def _replace(self, fresh: dict[Key, Obj]) -> None:
        """Make `fresh` the cache, handing out what changed from the cache before as events; synced."""
        changes: list[Change] = []
        for key, obj in fresh.items():
            old = self._cache.get(key)
            if old is None:
                changes.append(Change("ADDED", obj))
            elif _rv(old) != _rv(obj):
                changes.append(Change("MODIFIED", obj, old))
        changes += [Change("DELETED", old, old) for key, old in self._cache.items() if key not in fresh]
        self._cache = fresh
        for change in changes:
            await self._dispatch(change)
        self._synced.set()

    # -- a view of a shared source ------------------------------------------------------------------

    async def _follow(self, source: _Source) -> None:
        """Be a view of `source` until stopped: take what it holds now that this view selects (as a list
        would), then each change it sees (`_seen`)."""
        source.join(self)
        try:
            await source.informer.wait_synced()
            async with source.turn:  # no change of the source is handed out meanwhile
                wants = self._wants
                await self._replace({key: obj for key, obj in source.informer.cache.items()
                                     if wants is None or wants(obj)})
                source.following.append(self)
            await asyncio.Event().wait()  # until stopped
        finally:
            await source.leave(self)

    async def _seen(self, change: Change) -> None:
        """A change of the source, as this view's selectors see it."""
        obj = change.object
        key = key_of(obj)
        old = self._cache.get(key)
        if change.type != "DELETED" and (self._wants is None or self._wants(obj)):
            if old is not None and _rv(old) == _rv(obj):
                return  # taken already with the source's cache when this view began
            self._cache[key] = obj
            await self._dispatch(Change("ADDED" if old is None else "MODIFIED", obj, old))
        elif old is not None:  # deleted, or no longer selected: gone from this view
            del self._cache[key]
            await self._dispatch(Change("DELETED", obj, old))

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


class _Source:
    """One kind (in one namespace, or all) listed and watched once for every view of it."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        informer.add_handler(self._hand_out)
        self.views: set[Informer] = set()
        self.following: list[Informer] = []  # views that hold the source's objects, in the order they joined
        self.turn = asyncio.Lock()  # a view's first fill and the source's changes, one at a time

    def join(self, view: Informer) -> None:
        self.views.add(view)
        self.informer.start()

    async def leave(self, view: Informer) -> None:
        self.views.discard(view)
        if view in self.following:
            self.following.remove(view)
        if not self.views:  # no one follows: stop watching (a later view resumes from the source's cache)
            await self.informer.stop()

    async def _hand_out(self, change: Change) -> None:
        async with self.turn:
            for view in list(self.following):
                if view in self.following:  # not stopped by a handler of a view before it
                    await view._seen(change)


class Shared:
    """The sources of every Informer whose client holds this as `client.shared_informers` (set it on each
    client of a process before making Informers): one LIST+WATCH per kind and namespace, made with the
    first client that asks. Every client sharing it must act as one identity, as reads go through whichever
    made the source."""

    def __init__(self) -> None:
        self._sources: dict[tuple[str, str | None], _Source] = {}

    def source(self, client: Client, kind: Kind, namespace: str | None) -> _Source:
        key = (kind.qualified, namespace)
        found = self._sources.get(key)
        if found is None:
            found = self._sources[key] = _Source(Informer(client, kind, namespace, share=False))
        return found


def _parsed(labels: Selector, fields: Selector) -> Callable[[Obj], bool] | None:
    """What a watch with these selectors would send, decided here, as the API server decides it."""
    label_text, field_text = selector_text(labels), selector_text(fields)
    return matcher(LabelSelector.parse(label_text) if label_text else None,
                   FieldSelector.parse(field_text) if field_text else None)
