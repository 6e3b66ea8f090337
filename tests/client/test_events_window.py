"""The event recorder's ten-minute window, on a virtual clock (a pure unit: `create` and `patch` are
recorded calls, not an API server)."""

from __future__ import annotations

import asyncio

from berth.client.events import COMBINED, SIMILAR_LIMIT, WINDOW_S, EventRecorder


class Recorded:
    def __init__(self) -> None:
        self.now = 1000.0
        self.created: list[dict] = []
        self.patched: list[tuple[str, dict]] = []
        self.recorder = EventRecorder(self.create, self.patch, clock=lambda: self.now, wall=lambda: "2026-12-04T00:00:00Z")

    async def create(self, event: dict) -> dict:
        event = {**event, "metadata": {**event["metadata"], "name": f"e{len(self.created)}"}}
        self.created.append(event)
        return event

    async def patch(self, name: str, body: dict, namespace: str) -> dict:
        self.patched.append((name, body))
        return {"metadata": {"name": name}}

    def record(self, message: str, name: str = "w") -> None:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns", "uid": name}}
        asyncio.run(self.recorder.record(pod, "BackOff", message, type="Warning", component="c"))


def test_distinct_messages_are_combined_only_within_the_window():
    r = Recorded()
    for i in range(SIMILAR_LIMIT):
        r.record(f"attempt {i}")
    assert [e["message"] for e in r.created] == [f"attempt {i}" for i in range(SIMILAR_LIMIT)]
    r.record("one more")
    assert r.created[-1]["message"] == COMBINED + "one more"
    r.now += WINDOW_S - 10
    r.record("elsewhere", name="other")  # whatever is swept meanwhile, the messages above are still recent
    r.now += 11  # now they are out of the window: a new one stands alone again
    r.record("later")
    assert r.created[-1]["message"] == "later"


def test_many_objects_each_with_its_own_event_are_each_written_once():
    r = Recorded()
    for i in range(2000):
        r.record("Creating", name=f"w-{i}")
        r.now += 0.01
    assert len(r.created) == 2000 and not r.patched
    r.record("Creating", name="w-5")
    assert r.patched == [("e5", {"count": 2, "lastTimestamp": "2026-12-04T00:00:00Z", "message": "Creating"})]


class Slow(Recorded):
    """Writes that wait until the test lets them finish, to see which are in flight together."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def create(self, event: dict) -> dict:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1
        return await super().create(event)


def _pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns", "uid": name}}


def test_events_of_different_objects_are_written_at_once():
    """A component reporting on many objects must not wait for each Event's write in turn: the controllers
    share one recorder, and one write at a time held every workload's status behind it (found in a fill of
    8,000 workloads: about 220 events a second, each reconcile waiting 250 ms)."""
    r = Slow()

    async def main() -> None:
        writes = [asyncio.create_task(r.recorder.record(_pod(f"w-{i}"), "Running", "Running", type="Normal",
                                                        component="c")) for i in range(5)]
        await asyncio.sleep(0.01)
        assert r.most_in_flight == 5
        r.release.set()
        await asyncio.gather(*writes)

    asyncio.run(main())
    assert sorted(e["involvedObject"]["name"] for e in r.created) == [f"w-{i}" for i in range(5)]


def test_the_same_event_twice_at_once_is_one_event_counted_twice():
    r = Slow()

    async def main() -> None:
        twice = [asyncio.create_task(r.recorder.record(_pod("w"), "BackOff", "again", type="Warning",
                                                       component="c")) for _ in range(2)]
        await asyncio.sleep(0.01)
        assert r.most_in_flight == 1  # the second waits for the first's Event, then counts on it
        r.release.set()
        await asyncio.gather(*twice)

    asyncio.run(main())
    assert len(r.created) == 1
    assert r.patched == [("e0", {"count": 2, "lastTimestamp": "2026-12-04T00:00:00Z", "message": "again"})]
