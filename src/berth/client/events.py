"""Events as `kubectl describe` shows them: repeats counted on one Event, not one Event per repeat.

A component that reports the same thing again (a container that keeps failing, a pod that keeps waiting)
must not bury the object's other events, nor write a new object per repeat. As client-go's recorder does
(its EventCorrelator), each `Client` remembers the events it recorded for ten minutes:
- the same event again (same object, type, reason, message and component) bumps the `count` and
  `lastTimestamp` of the Event already written;
- more than `SIMILAR_LIMIT` events of one object, type, reason and component with different messages within
  the window are folded into one Event whose message starts "(combined from similar events): " and whose
  count goes up from then on.
What is remembered is per client and in memory: a restarted component starts a new Event, as a restarted
kubelet does. An Event deleted meanwhile (by its TTL or a user) is written again.

Writes of different Events go out together; only the writes of one Event (one key of `_seen`) wait for each
other, so that a repeat counts on the Event its first write made. (One write at a time for the whole
recorder held every controller that reports behind each Event's round trip: in a fill of 8,000 workloads
the workload controller's reconciles waited 250 ms each for it, at about 220 Events a second.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from berth.client.errors import NotFound

Obj = dict[str, Any]

WINDOW_S = 600.0  # how long a recorded event is remembered for counting its repeats
SIMILAR_LIMIT = 10  # distinct messages of one reason before they are combined
MAX_REMEMBERED = 4096
COMBINED = "(combined from similar events): "
SWEEP_S = 60.0  # how often the messages of objects no longer reported are forgotten


@dataclass
class _Seen:
    namespace: str
    name: str  # the Event's metadata.name
    count: int
    last: float  # when it was last recorded (monotonic)


class EventRecorder:
    """Writes Events through `create` and `patch` (a `Client`'s), counting repeats as described above."""

    def __init__(self, create: Callable[[Obj], Awaitable[Obj]],
                 patch: Callable[[str, Obj, str], Awaitable[Obj]], *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], str]) -> None:
        self._create = create
        self._patch = patch
        self._clock = clock
        self._wall = wall
        self._seen: OrderedDict[tuple[Any, ...], _Seen] = OrderedDict()
        self._messages: dict[tuple[Any, ...], dict[str, float]] = {}  # similar key -> message -> last seen
        self._swept = float("-inf")  # when `_messages` was last swept whole
        self._writing: dict[tuple[Any, ...], tuple[asyncio.Lock, int]] = {}  # key -> its lock, how many hold or wait

    async def record(self, involved: Obj, reason: str, message: str, *, type: str, component: str,
                     action: str | None = None) -> Obj:
        meta = involved.get("metadata") or {}
        if not meta.get("name") or not involved.get("kind") or not involved.get("apiVersion"):
            raise ValueError("the involved object needs apiVersion, kind and metadata.name")
        subject = (involved["kind"], meta.get("namespace") or "", meta["name"], meta.get("uid") or "")
        similar = (*subject, type, reason, component)
        now = self._clock()
        self._forget(now)
        messages = {m: t for m, t in self._messages.get(similar, {}).items() if now - t <= WINDOW_S}
        self._messages[similar] = messages
        messages[message] = now
        if len(messages) > SIMILAR_LIMIT:
            key, message = (*similar, COMBINED), COMBINED + message
        else:
            key = (*similar, message)
        async with self._one_at_a_time(key):
            seen = self._seen.get(key)
            if seen is not None:
                seen.count += 1
                seen.last = now
                self._seen.move_to_end(key)
                try:
                    return await self._patch(seen.name, {"count": seen.count, "lastTimestamp": self._wall(),
                                                         "message": message}, seen.namespace)
                except NotFound:
                    del self._seen[key]
            event = self._event(involved, reason, message, type=type, component=component, action=action)
            created = await self._create(event)
            self._seen[key] = _Seen(event["metadata"]["namespace"], created["metadata"]["name"], 1, now)
            while len(self._seen) > MAX_REMEMBERED:
                self._seen.popitem(last=False)
            return created

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, key: tuple[Any, ...]) -> AsyncIterator[None]:
        """Hold the lock of one Event's writes (made for its first writer, gone with its last)."""
        lock, users = self._writing.get(key) or (asyncio.Lock(), 0)
        self._writing[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._writing[key]
            if users == 1:
                del self._writing[key]
            else:
                self._writing[key] = (lock, users - 1)

    def _forget(self, now: float) -> None:
        """Drop what is older than the window: the oldest events at each call (they are kept in the order of
        their last use), the messages of every object at most once per `SWEEP_S` (a sweep reads them all: at
        each call it would make recording N events cost N squared; the object at hand is pruned as it is
        used)."""
        while self._seen:
            key, oldest = next(iter(self._seen.items()))
            if now - oldest.last <= WINDOW_S:
                break
            del self._seen[key]
        if now - self._swept < SWEEP_S:
            return
        self._swept = now
        for similar in list(self._messages):
            recent = {m: t for m, t in self._messages[similar].items() if now - t <= WINDOW_S}
            if recent:
                self._messages[similar] = recent
            else:
                del self._messages[similar]

    def _event(self, involved: Obj, reason: str, message: str, *, type: str, component: str,
               action: str | None) -> Obj:
        meta = involved["metadata"]
        now = self._wall()
        reference = {"apiVersion": involved["apiVersion"], "kind": involved["kind"], "name": meta["name"],
                     "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                     "resourceVersion": meta.get("resourceVersion")}
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            # Cluster-scoped objects' events go to "default", as client-go's recorder does.
            "metadata": {"name": f"{meta['name']}.{time.time_ns():x}", "namespace": meta.get("namespace") or "default"},
            "involvedObject": {k: v for k, v in reference.items() if v},
            "reason": reason,
            "message": message,
            "type": type,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": socket.gethostname(),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        if action:
            event["action"] = action
        return event
