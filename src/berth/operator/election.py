"""Campaigning for and keeping the operator's Lease through the Kubernetes API (the decisions are
`berth.operator.lease`'s).

`campaign` returns once this replica holds the Lease; `keep` renews it every retry period and returns when a
renewal has not succeeded for the renew deadline (the replica must then stop acting: the operator exits, and
its Deployment starts it again as a follower). `release` hands the Lease back on a clean stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from berth.client import AlreadyExists, ApiError, Client, Conflict, NotFound, Unreachable
from berth.operator import lease
from berth.operator.lease import Timing

log = logging.getLogger(__name__)


class Elector:
    """One replica's part in the election for the Lease `namespace/name`."""

    def __init__(self, client: Client, namespace: str, name: str, identity: str, timing: Timing = Timing(), *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing
        self._clock = clock
        self._seen: tuple[tuple[Any, ...], float] | None = None  # the Lease's record and when it was first seen
        self.leading = False
        self.last_renewed = 0.0  # on this replica's clock

    async def _attempt(self) -> bool:
        """One try at taking or renewing the Lease; whether this replica holds it now."""
        try:
            current: dict[str, Any] | None = await self.client.get("Lease", self.name, self.namespace)
        except NotFound:
            current = None
        now = self._clock()
        observed = lease.record(current)
        if self._seen is None or self._seen[0] != observed:
            self._seen = (observed, now)
        if not lease.free(current, self.identity, now - self._seen[1]):
            return False
        wanted = lease.claimed(current, self.identity, datetime.now(timezone.utc), self.timing, self.namespace,
                               self.name)
        try:
            if current is None:
                written = await self.client.create(wanted)
            else:
                written = await self.client.replace(wanted)  # at the resourceVersion read: 409 if it moved
        except (Conflict, AlreadyExists):
            return False
        self._seen = (lease.record(written), now)
        self.last_renewed = now
        return True

    async def _try(self, within: float | None = None) -> bool:
        """One attempt, given up after `within` seconds (default: two retry periods)."""
        try:
            return await asyncio.wait_for(self._attempt(), self.timing.retry_s * 2 if within is None else within)
        except (ApiError, Unreachable, asyncio.TimeoutError, OSError) as exc:
            log.warning("lease %s/%s: %s", self.namespace, self.name, exc or type(exc).__name__)
            return False

    async def campaign(self) -> None:
        """Try every retry period until this replica holds the Lease."""
        while not await self._try():
            await asyncio.sleep(self.timing.retry_s)
        self.leading = True
        log.info("%s leads (lease %s/%s)", self.identity, self.namespace, self.name)

    async def keep(self) -> None:
        """Renew the Lease every retry period; return when it could not be renewed within the renew deadline
        (another replica took it, or the API could not be reached). Every wait is bounded by what is left of
        the deadline, as client-go bounds it, so the replica stops acting within `renew_deadline_s` of its last
        renewal, before any other may take the Lease (`lease_duration_s` after it)."""
        while (left := self._left()) > 0:
            await asyncio.sleep(min(self.timing.retry_s, left))
            if (left := self._left()) <= 0:
                break
            if await self._try(min(self.timing.retry_s * 2, left)):
                continue
            if self._holder_seen() not in ("", self.identity):
                break  # taken (as the try read it): no point trying until the deadline
        self.leading = False
        log.error("%s lost the lease %s/%s: it stops acting", self.identity, self.namespace, self.name)

    def _left(self) -> float:
        """Seconds until the renew deadline, counted from the last renewal."""
        return self.last_renewed + self.timing.renew_deadline_s - self._clock()

    def _holder_seen(self) -> str:
        """The holder in the Lease as last read (the first of its record)."""
        return str(self._seen[0][0]) if self._seen is not None else ""

    async def release(self) -> None:
        """Hand the Lease back (if this replica still holds it) so another replica leads at once."""
        if not self.leading:
            return
        self.leading = False
        try:
            current = await asyncio.wait_for(self.client.get("Lease", self.name, self.namespace), 2)
            if lease.holder(current) == self.identity:
                await asyncio.wait_for(self.client.replace(lease.released(current, datetime.now(timezone.utc))), 2)
        except (ApiError, Unreachable, asyncio.TimeoutError, OSError) as exc:
            log.warning("could not release the lease %s/%s: %s", self.namespace, self.name, exc)
