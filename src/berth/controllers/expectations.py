"""What the workload controller has asked the API for and not yet seen in its caches (client-go's
ControllerExpectations, as the Job and ReplicaSet controllers keep them).

A controller that plans from its cache must not plan again before the cache shows what it did last time:
a pod it created but has not seen would look missing, and one it deleted would look present. So each
workload's creates and deletes are expected until the watch delivers them; until then the workload is not
reconciled (its next event, or the expiry, brings it back). An expectation that is never met (an event
lost, a create that failed silently) expires after `TTL_S`, so a workload is never stuck for good.

Pure: names and times only, no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

TTL_S = 30.0


@dataclass
class _Pending:
    creates: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    since: float = 0.0


class Expectations:
    """Per key (a workload), the pod names created or deleted and not yet observed."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, ttl: float = TTL_S) -> None:
        self._clock = clock
        self._ttl = ttl
        self._pending: dict[Hashable, _Pending] = {}

    def expect(self, key: Hashable, *, creates: Iterable[str] = (), deletes: Iterable[str] = ()) -> None:
        """Record what is about to be asked for (before asking: the answer may come first)."""
        pending = self._pending.setdefault(key, _Pending())
        pending.creates.update(creates)
        pending.deletes.update(deletes)
        pending.since = self._clock()
        self._drop_if_met(key)

    def observed(self, key: Hashable, name: str, *, exists: bool) -> None:
        """The cache shows pod `name` of `key` present (`exists`) or gone."""
        pending = self._pending.get(key)
        if pending is None:
            return
        if exists:
            pending.creates.discard(name)
        else:
            pending.deletes.discard(name)
            pending.creates.discard(name)  # created and deleted before we looked: nothing left to see
        self._drop_if_met(key)

    def failed(self, key: Hashable, name: str) -> None:
        """A create or delete of `name` was refused (or had nothing to do): expect no event for it."""
        pending = self._pending.get(key)
        if pending is not None:
            pending.creates.discard(name)
            pending.deletes.discard(name)
            self._drop_if_met(key)

    def wait_left(self, key: Hashable) -> float:
        """Seconds until `key` may be reconciled again: 0 when nothing is awaited or the wait expired."""
        pending = self._pending.get(key)
        if pending is None:
            return 0.0
        left = pending.since + self._ttl - self._clock()
        if left <= 0:
            del self._pending[key]
            return 0.0
        return left

    def forget(self, key: Hashable) -> None:
        self._pending.pop(key, None)

    def _drop_if_met(self, key: Hashable) -> None:
        pending = self._pending.get(key)
        if pending is not None and not pending.creates and not pending.deletes:
            del self._pending[key]
