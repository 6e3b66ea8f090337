"""The election loop (`berth.operator.election`) against an in-memory Lease store: a leader whose API hangs stops
acting within its renew deadline, before any other replica may take the Lease."""

from __future__ import annotations

import asyncio
import time

from berth.client import Conflict, NotFound
from berth.operator.election import Elector
from berth.operator.lease import Timing


class Leases:
    """One Lease, written at resourceVersions as an API server keeps it; `hang` makes every call hang."""

    def __init__(self) -> None:
        self.lease: dict | None = None
        self.version = 0
        self.hang = False

    async def _maybe_hang(self) -> None:
        if self.hang:
            await asyncio.sleep(3600)

    async def get(self, kind: str, name: str, namespace: str) -> dict:
        await self._maybe_hang()
        if self.lease is None:
            raise NotFound({"code": 404, "reason": "NotFound"})
        return self.lease

    def _store(self, obj: dict) -> dict:
        self.version += 1
        self.lease = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.version)}}
        return self.lease

    async def create(self, obj: dict) -> dict:
        await self._maybe_hang()
        return self._store(obj)

    async def replace(self, obj: dict) -> dict:
        await self._maybe_hang()
        if obj["metadata"].get("resourceVersion") != str(self.version):
            raise Conflict({"code": 409, "reason": "Conflict"})
        return self._store(obj)


TIMING = Timing(duration_s=1.0, renew_deadline_s=0.7, retry_s=0.2)


def test_a_leader_whose_api_hangs_stops_within_its_renew_deadline():
    async def scenario() -> float:
        store = Leases()
        leader = Elector(store, "runai", "berth-operator", "a", TIMING)  # type: ignore[arg-type]
        await leader.campaign()
        keeping = asyncio.create_task(leader.keep())
        await asyncio.sleep(0.5)  # a couple of renewals
        store.hang = True
        await keeping
        return time.monotonic() - leader.last_renewed

    stopped_after = asyncio.run(scenario())
    assert stopped_after <= TIMING.renew_deadline_s + 0.1, stopped_after
    assert stopped_after < TIMING.duration_s  # before a follower could take the Lease


def test_a_follower_takes_the_lease_only_after_the_record_stood_still_for_its_duration():
    async def scenario() -> tuple[bool, bool]:
        store = Leases()
        first = Elector(store, "runai", "berth-operator", "a", TIMING)  # type: ignore[arg-type]
        second = Elector(store, "runai", "berth-operator", "b", TIMING)  # type: ignore[arg-type]
        await first.campaign()
        early = await second._try()  # sees the record for the first time
        await asyncio.sleep(TIMING.duration_s + 0.1)  # the first never renews
        late = await second._try()
        return early, late

    early, late = asyncio.run(scenario())
    assert (early, late) == (False, True)


def test_of_two_replicas_writing_at_once_one_leads():
    async def scenario() -> list[bool]:
        store = Leases()
        replicas = [Elector(store, "runai", "berth-operator", who, TIMING) for who in "ab"]  # type: ignore[arg-type]
        await replicas[0]._try()
        store.lease = {**store.lease, "spec": {**store.lease["spec"], "holderIdentity": ""}}  # released
        return list(await asyncio.gather(*(r._try() for r in replicas)))

    assert sorted(asyncio.run(scenario())) == [False, True]
