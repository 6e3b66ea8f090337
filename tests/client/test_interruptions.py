"""`record_interruption` against a real API server: the Event and the count on the pod's workload."""

from __future__ import annotations

import asyncio

import pytest

from berth.client import Client
from berth.client.interruptions import record_interruption

NS = "runai-interrupted"


def training(name: str) -> dict:
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": {"name": name, "namespace": NS},
            "spec": {"image": {"value": "ubuntu"}, "gpu": {"value": "1"}}}


def pod_of(workload: dict, name: str, *, disrupted: bool = False) -> dict:
    meta = workload["metadata"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": NS, "uid": f"uid-{name}",
        "ownerReferences": [{"apiVersion": "run.ai/v2alpha1", "kind": workload["kind"], "name": meta["name"],
                             "uid": meta["uid"], "controller": True}]}}
    if disrupted:
        pod["status"] = {"conditions": [{"type": "DisruptionTarget", "status": "True"}]}
    return pod


async def events_of(c: Client, name: str) -> list[dict]:
    return [e for e in await c.list("Event", NS) if e["involvedObject"]["name"] == name]


@pytest.fixture(scope="module", autouse=True)
def namespace(cluster):
    cluster.project(NS.removeprefix("runai-"))


async def test_an_interruption_is_an_event_and_a_count_on_the_pods_workload(connect):
    async with connect() as c:
        tw = await c.create(training("counted"))
        await record_interruption(c, pod_of(tw, "counted-0-0"), reason="Preempted",
                                  message="pod counted-0-0 was preempted on node n to make room for X (why)")
        await record_interruption(c, pod_of(tw, "counted-1-0"), reason="NodeLost",
                                  message="pod counted-1-0 was lost with node n: gone")
        status = (await c.get("TrainingWorkload", "counted", NS))["status"]
        assert status["interruptions"] == 2
        assert status["lastInterruption"] == "pod counted-1-0 was lost with node n: gone"
        events = await events_of(c, "counted")
        assert sorted((e["reason"], e["type"], e["involvedObject"]["kind"]) for e in events) == [
            ("NodeLost", "Warning", "TrainingWorkload"), ("Preempted", "Warning", "TrainingWorkload")]


async def test_a_pod_already_marked_as_disrupted_is_not_counted_again(connect):
    async with connect() as c:
        tw = await c.create(training("once"))
        await record_interruption(c, pod_of(tw, "once-0-0", disrupted=True), reason="Preempted", message="again")
        assert "interruptions" not in ((await c.get("TrainingWorkload", "once", NS)).get("status") or {})
        assert await events_of(c, "once") == []


async def test_interruptions_recorded_at_once_are_all_counted(connect):
    async with connect() as c:
        tw = await c.create(training("crowd"))
        await asyncio.gather(*(record_interruption(c, pod_of(tw, f"crowd-{i}-0"), reason="Reclaimed",
                                                   message=f"pod crowd-{i}-0 was reclaimed") for i in range(6)))
        assert (await c.get("TrainingWorkload", "crowd", NS))["status"]["interruptions"] == 6


async def test_a_pod_without_a_workload_or_whose_workload_is_gone_is_no_error(connect):
    async with connect() as c:
        await record_interruption(c, {"metadata": {"name": "bare", "namespace": NS}}, reason="Preempted",
                                  message="nothing to record")
        tw = await c.create(training("gone"))
        await c.delete("TrainingWorkload", "gone", NS)
        await record_interruption(c, pod_of(tw, "gone-0-0"), reason="Preempted", message="too late")
        with pytest.raises(ValueError, match="reason must be one of Preempted, Reclaimed, NodeLost"):
            await record_interruption(c, pod_of(tw, "gone-0-0"), reason="Evicted", message="?")
