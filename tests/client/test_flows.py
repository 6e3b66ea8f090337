"""The flows of tests/apiserver/test_kubectl.py, through berth.client against a real `berth up`."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
import yaml

from berth.client import (
    AlreadyExists,
    Client,
    Conflict,
    Gone,
    Invalid,
    NotFound,
    UnsupportedMediaType,
)
from berth.store import Store
from tests.conftest import ROOT

SEED = yaml.safe_load((ROOT / "examples" / "workloads" / "training-seed.yaml").read_text())
NS = "runai-team-a"
OTHER_NS = "runai-team-b"


def tw(name: str, gpu: str = "1", namespace: str = NS, labels: dict[str, str] | None = None) -> dict:
    """A suspended training workload (active: false): it has no pods, so the tests may edit its gpu, which a
    running workload's pods would keep (admission refuses that edit)."""
    meta: dict = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": meta,
            "spec": {"gpu": {"value": gpu}, "image": {"value": "gcr.io/run-ai-demo/quickstart"},
                     "name": {"value": name}, "active": {"value": False}}}


@pytest.fixture(scope="module", autouse=True)
def namespaces(cluster):
    async def make() -> None:
        async with Client.from_kubeconfig(cluster.kubeconfig) as c:
            for ns in (NS, OTHER_NS):
                await c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                await c.create({"apiVersion": "run.ai/v1", "kind": "Project",
                                "metadata": {"name": ns.removeprefix("runai-")}})  # workloads need a project
    asyncio.run(make())


async def test_create_the_seed_workload_then_get_it(connect):
    async with connect() as c:
        created = await c.create(SEED)
        meta = created["metadata"]
        assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"].endswith("Z")
        assert meta["generation"] == 1
        got = await c.get("TrainingWorkload", "job-1", NS)
        assert got == created
        assert got["spec"]["gpu"] == {"value": "1"}
        with pytest.raises(AlreadyExists, match='trainingworkloads.run.ai "job-1" already exists') as exists:
            await c.create(SEED)
        assert exists.value.code == 409 and exists.value.status["details"]["name"] == "job-1"
        with pytest.raises(NotFound, match='trainingworkloads.run.ai "nope" not found'):
            await c.get("tw", "nope", NS)


async def test_dry_run_create_stores_nothing(connect):
    async with connect() as c:
        answer = await c.create(tw("dry"), dry_run=True)
        assert answer["metadata"]["name"] == "dry" and answer["metadata"]["uid"]
        with pytest.raises(NotFound):
            await c.get("tw", "dry", NS)


async def test_list_with_a_label_selector(connect):
    async with connect() as c:
        await c.create(tw("vision-1", labels={"team": "vision", "tier": "gold"}))
        await c.create(tw("vision-2", labels={"team": "vision"}))
        await c.create(tw("nlp-1", labels={"team": "nlp"}))
        names = lambda objs: sorted(o["metadata"]["name"] for o in objs)
        assert names(await c.list("tw", NS, labels="team=vision")) == ["vision-1", "vision-2"]
        assert names(await c.list("tw", NS, labels={"team": "vision", "tier": "gold"})) == ["vision-1"]
        assert names(await c.list("tw", NS, labels="team in (nlp),!tier")) == ["nlp-1"]
        listed = await c.list("tw", NS, labels="team")
        assert int(listed.resource_version) >= max(int(o["metadata"]["resourceVersion"]) for o in listed)
        assert all(o["kind"] == "TrainingWorkload" for o in listed)


async def test_watch_sees_a_later_change(connect):
    async with connect() as c:
        start = await c.create(tw("watched"))
        seen: list[tuple[str, str]] = []

        async def follow() -> None:
            async for event_type, obj in c.watch("tw", NS, fields="metadata.name=watched",
                                                 resource_version=start["metadata"]["resourceVersion"]):
                seen.append((event_type, obj["spec"]["gpu"]["value"]))
                if obj["spec"]["gpu"]["value"] == "3":
                    return

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.3)
        await c.patch("tw", "watched", {"spec": {"gpu": {"value": "3"}}}, NS)
        await asyncio.wait_for(follower, 10)
        assert seen == [("MODIFIED", "3")]


async def test_watch_without_a_resource_version_starts_with_what_exists(connect):
    async with connect() as c:
        await c.create(tw("existing"))
        async with contextlib.aclosing(c.watch("tw", NS, fields="metadata.name=existing")) as events:
            event_type, obj = await anext(events)
        assert (event_type, obj["metadata"]["name"]) == ("ADDED", "existing")


async def test_merge_patch_changes_the_spec_and_the_generation(connect):
    async with connect() as c:
        await c.create(tw("merged"))
        patched = await c.patch("tw", "merged", {"spec": {"nodeType": {"value": "dgx"}}}, NS, type="merge")
        assert patched["spec"]["nodeType"] == {"value": "dgx"}
        assert patched["spec"]["gpu"] == {"value": "1"}
        assert patched["metadata"]["generation"] == 2


async def test_json_patch_whose_test_fails_is_invalid_and_changes_nothing(connect):
    async with connect() as c:
        before = await c.create(tw("json-patched"))
        failing = [{"op": "test", "path": "/spec/gpu/value", "value": "7"},
                   {"op": "replace", "path": "/spec/gpu/value", "value": "2"}]
        with pytest.raises(Invalid) as invalid:
            await c.patch("tw", "json-patched", failing, NS, type="json")
        assert invalid.value.code == 422
        assert await c.get("tw", "json-patched", NS) == before
        passing = [{"op": "test", "path": "/spec/gpu/value", "value": "1"},
                   {"op": "replace", "path": "/spec/gpu/value", "value": "2"}]
        after = await c.patch("tw", "json-patched", passing, NS, type="json")
        assert after["spec"]["gpu"]["value"] == "2"


async def test_label_and_annotate_through_patch(connect):
    async with connect() as c:
        await c.create(tw("labelled", labels={"old": "x"}))
        await c.patch("tw", "labelled", {"metadata": {"labels": {"team": "vision", "old": None}}}, NS)
        obj = await c.patch("tw", "labelled", {"metadata": {"annotations": {"note": "hello"}}}, NS)
        assert obj["metadata"]["labels"] == {"team": "vision"}
        assert obj["metadata"]["annotations"] == {"note": "hello"}
        assert obj["metadata"]["generation"] == 1  # metadata is not spec
        listed = await c.list("tw", NS, labels="team=vision")
        assert "labelled" in [o["metadata"]["name"] for o in listed]


async def test_strategic_merge_patch_is_for_built_in_kinds_only(connect):
    async with connect() as c:
        await c.create(tw("strategic"))
        with pytest.raises(UnsupportedMediaType) as refused:
            await c.patch("tw", "strategic", {"spec": {}}, NS, type="strategic")
        assert refused.value.code == 415
        await c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": NS},
                        "data": {"a": "1"}})
        cm = await c.patch("configmaps", "cm", {"data": {"b": "2"}}, NS, type="strategic")
        assert cm["data"] == {"a": "1", "b": "2"}


async def test_server_side_apply_create_update_conflict_then_force(connect):
    async with connect() as c:
        created = await c.apply(tw("applied"), field_manager="alice")
        assert created["metadata"]["generation"] == 1
        updated = await c.apply(tw("applied", gpu="2"), field_manager="alice")
        assert updated["spec"]["gpu"]["value"] == "2"
        with pytest.raises(Conflict) as conflict:
            await c.apply(tw("applied", gpu="4"), field_manager="bob")
        assert conflict.value.code == 409
        assert any("alice" in cause["message"] for cause in conflict.value.causes), conflict.value.causes
        assert (await c.get("tw", "applied", NS))["spec"]["gpu"]["value"] == "2"
        forced = await c.apply(tw("applied", gpu="4"), field_manager="bob", force=True)
        assert forced["spec"]["gpu"]["value"] == "4"
        owners = {entry["manager"] for entry in forced["metadata"]["managedFields"]}
        assert "bob" in owners


async def test_replace_with_a_stale_resource_version_is_a_conflict(connect):
    async with connect() as c:
        first = await c.create(tw("replaced"))
        fresh = await c.patch("tw", "replaced", {"spec": {"gpu": {"value": "2"}}}, NS)
        stale = json.loads(json.dumps(first))
        stale["spec"]["gpu"]["value"] = "8"
        with pytest.raises(Conflict, match="the object has been modified"):
            await c.replace(stale)
        fresh["spec"]["gpu"]["value"] = "8"
        replaced = await c.replace(fresh)
        assert replaced["spec"]["gpu"]["value"] == "8"
        assert int(replaced["metadata"]["resourceVersion"]) > int(fresh["metadata"]["resourceVersion"])


async def test_status_subresource_changes_only_the_status(connect):
    async with connect() as c:
        obj = await c.create(tw("with-status"))
        obj["status"] = {"phase": "Running", "runningPods": 1}
        obj["spec"]["gpu"]["value"] = "6"  # ignored by the status subresource
        written = await c.update_status(obj)
        assert written["status"]["phase"] == "Running"
        assert written["spec"]["gpu"]["value"] == "1"
        assert written["metadata"]["generation"] == 1
        patched = await c.patch("tw", "with-status", {"status": {"phase": "Completed"}}, NS, subresource="status")
        assert patched["status"] == {"phase": "Completed", "runningPods": 1}
        with pytest.raises(Conflict):
            await c.update_status(written)  # stale now
        spec_write = await c.patch("tw", "with-status", {"status": {"phase": "Failed"}}, NS)
        assert spec_write["status"]["phase"] == "Completed"  # the main resource ignores status


async def test_delete_and_wait_until_gone(connect):
    async with connect() as c:
        await c.create(tw("doomed"))
        await c.delete("tw", "doomed", NS)
        assert await c.wait("tw", "doomed", NS, until=lambda o: o is None, timeout=10) is None
        with pytest.raises(NotFound, match='trainingworkloads.run.ai "doomed" not found'):
            await c.get("tw", "doomed", NS)
        with pytest.raises(NotFound):
            await c.delete("tw", "doomed", NS)


async def test_a_finalizer_holds_the_delete_until_it_is_removed(connect):
    async with connect() as c:
        held = tw("held")
        held["metadata"]["finalizers"] = ["berth.dev/test"]
        await c.create(held)
        await c.delete("tw", "held", NS)
        marked = await c.get("tw", "held", NS)
        assert marked["metadata"]["deletionTimestamp"]
        waiter = asyncio.create_task(c.wait("tw", "held", NS, until=lambda o: o is None, timeout=10))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        await c.patch("tw", "held", {"metadata": {"finalizers": None}}, NS)
        assert await waiter is None


async def test_list_across_namespaces(connect):
    async with connect() as c:
        await c.create(tw("spread", namespace=NS, labels={"spread": "yes"}))
        await c.create(tw("spread", namespace=OTHER_NS, labels={"spread": "yes"}))
        everywhere = await c.list("tw", labels="spread=yes")
        assert sorted(o["metadata"]["namespace"] for o in everywhere) == [NS, OTHER_NS]
        assert [o["metadata"]["namespace"] for o in await c.list("tw", OTHER_NS, labels="spread")] == [OTHER_NS]
        namespaces = {o["metadata"]["name"] for o in await c.list("Namespace")}
        assert {"default", "runai", NS, OTHER_NS} <= namespaces


async def test_bind_assigns_a_pod_to_a_node_once(connect):
    async with connect() as c:
        await c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": NS},
                        "spec": {"schedulerName": "runai-scheduler", "containers": [{"name": "main", "image": "x"}]}})
        unbound = await c.list("pods", NS, fields="spec.nodeName=")
        assert [p["metadata"]["name"] for p in unbound] == ["p1"]
        await c.bind(NS, "p1", "node-a")
        assert (await c.get("Pod", "p1", NS))["spec"]["nodeName"] == "node-a"
        with pytest.raises(Conflict, match="already assigned"):
            await c.bind(NS, "p1", "node-b")


async def test_an_event_shows_in_kubectl_describe(connect, cluster):
    async with connect(field_manager="berth-scheduler") as c:
        obj = await c.create(tw("eventful"))
        event = await c.create_event(obj, "FailedScheduling", "0/3 nodes have a free GPU", type="Warning")
        assert event["involvedObject"]["uid"] == obj["metadata"]["uid"]
        assert event["source"] == {"component": "berth-scheduler"}
        about = await c.list("events", NS, fields={"involvedObject.name": "eventful"})
        assert [e["reason"] for e in about] == ["FailedScheduling"]
    described = cluster.kubectl("describe", "tw", "eventful", "-n", NS).stdout
    events = described.split("Events:", 1)[1]
    assert "Warning" in events and "FailedScheduling" in events and "0/3 nodes have a free GPU" in events
    assert "berth-scheduler" in events


async def test_a_repeated_event_is_counted_on_one_event_not_written_again(connect, cluster):
    async with connect(field_manager="berth-node") as c:
        obj = await c.create(tw("repeats"))
        for _ in range(7):
            await c.create_event(obj, "BackOff", "back-off restarting failed container", type="Warning")
        for attempt in range(15):  # fifteen different messages of one reason: the later ones are combined
            await c.create_event(obj, "Failed", f"attempt {attempt} exited with code 3", type="Warning")
        about = await c.list("events", NS, fields={"involvedObject.name": "repeats"})
    by_reason = sorted((e["reason"], e["count"], e["message"]) for e in about)
    assert by_reason[0] == ("BackOff", 7, "back-off restarting failed container")
    failed = [e for e in by_reason if e[0] == "Failed"]
    assert len(failed) == 11  # ten written as they came, then one that counts the rest
    assert ("Failed", 5, "(combined from similar events): attempt 14 exited with code 3") in failed
    described = cluster.kubectl("describe", "tw", "repeats", "-n", NS).stdout
    assert "(x7 over" in described


async def test_a_namespace_is_required_for_one_namespaced_object(connect):
    async with connect() as c:
        with pytest.raises(ValueError, match="TrainingWorkload is namespaced"):
            await c.get("tw", "job-1")
        with pytest.raises(ValueError, match="Project is cluster-scoped"):
            await c.get("Project", "team-a", NS)
        with pytest.raises(ValueError, match="json patch is a list"):
            await c.patch("tw", "job-1", {"spec": {}}, NS, type="json")
        assert c.namespace == "default"


async def test_watch_from_a_compacted_resource_version_is_gone(connect, cluster):
    async with connect() as c:
        first = await c.create(tw("compacted"))
        await c.patch("tw", "compacted", {"spec": {"gpu": {"value": "2"}}}, NS)
        with Store(cluster.data_dir / "state.db") as store:
            store.compact(keep=0)
        with pytest.raises(Gone) as gone:
            async for _ in c.watch("tw", NS, resource_version=first["metadata"]["resourceVersion"]):
                pass
        assert gone.value.code == 410


async def test_server_side_apply_of_the_status_subresource(connect):
    async with connect() as c:
        await c.create(tw("applied-status"))
        status = {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
                  "metadata": {"name": "applied-status", "namespace": NS}, "status": {"phase": "Running"}}
        applied = await c.apply(status, field_manager="berth-controller", subresource="status")
        assert applied["status"] == {"phase": "Running"}
