"""What controllers rely on: optimistic concurrency, status subresources, generation, finalizers,
garbage collection, namespace deletion, selectors on watches."""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from berth.api import podlog
from tests.apiserver.helpers import PODS, TW, client, namespace, place, pod, report, running, workload

NS = "semantics"


@pytest.fixture(scope="module")
def http(cluster):
    with client(cluster, timeout=30) as c:
        namespace(c, NS)
        yield c


def until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_two_updates_from_one_resource_version_one_wins(http):
    created = http.post(TW.format(ns=NS), json=workload("race", suspended=True)).json()
    results = []
    barrier = threading.Barrier(2)

    def update(gpu: str) -> None:
        body = {**created, "spec": {**created["spec"], "gpu": {"value": gpu}}}
        barrier.wait()
        results.append(http.put(f"{TW.format(ns=NS)}/race", json=body))

    threads = [threading.Thread(target=update, args=(g,)) for g in ("2", "3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409]
    loser = next(r for r in results if r.status_code == 409).json()
    assert loser["reason"] == "Conflict"
    assert "the object has been modified; please apply your changes to the latest version" in loser["message"]


def test_status_and_spec_are_written_separately(http):
    obj = http.post(TW.format(ns=NS), json={**workload("split", suspended=True), "status": {"phase": "Running"}}).json()
    assert "status" not in obj  # a user cannot write status through the main resource
    status = {**obj, "spec": {"gpu": {"value": "8"}}, "status": {"phase": "Pending", "runningPods": 0}}
    after = http.put(f"{TW.format(ns=NS)}/split/status", json=status).json()
    assert after["status"]["phase"] == "Pending"
    assert after["spec"]["gpu"] == {"value": "1"}  # spec ignored on /status
    assert after["metadata"]["generation"] == 1  # status changes do not bump generation
    main = {**after, "spec": {**after["spec"], "gpu": {"value": "2"}}, "status": {"phase": "Failed"}}
    updated = http.put(f"{TW.format(ns=NS)}/split", json=main).json()
    assert updated["status"]["phase"] == "Pending"  # status ignored on the main resource
    assert updated["metadata"]["generation"] == 2
    patched = http.patch(f"{TW.format(ns=NS)}/split/status", content=b'{"status":{"runningPods":3}}',
                         headers={"Content-Type": "application/merge-patch+json"}).json()
    assert patched["status"] == {"phase": "Pending", "runningPods": 3}


def test_finalizers_hold_deletion_until_removed(http):
    http.post(TW.format(ns=NS), json=workload("held", finalizers=["example.com/cleanup"]))
    deleting = http.delete(f"{TW.format(ns=NS)}/held")
    assert deleting.status_code == 200
    assert deleting.json()["metadata"]["deletionTimestamp"]
    assert http.get(f"{TW.format(ns=NS)}/held").status_code == 200
    more = http.patch(f"{TW.format(ns=NS)}/held", content=b'{"metadata":{"finalizers":["example.com/cleanup","x/y"]}}',
                      headers={"Content-Type": "application/merge-patch+json"})
    assert more.status_code == 422  # no new finalizers on an object being deleted
    http.patch(f"{TW.format(ns=NS)}/held", content=b'{"metadata":{"finalizers":null}}',
               headers={"Content-Type": "application/merge-patch+json"})
    assert http.get(f"{TW.format(ns=NS)}/held").status_code == 404


def test_deleting_an_owner_deletes_its_pods(http):
    owner = http.post(TW.format(ns=NS), json=workload("owner")).json()
    for i in range(3):
        assert http.post(PODS.format(ns=NS), json=pod(f"owner-{i}", owner)).status_code == 201
    assert http.delete(f"{TW.format(ns=NS)}/owner").status_code == 200
    assert until(lambda: not [p for p in http.get(PODS.format(ns=NS)).json()["items"]
                              if p["metadata"]["name"].startswith("owner-")])


def test_a_pod_modified_to_name_an_owner_that_is_gone_is_collected_and_one_modified_otherwise_stays(http):
    owner = http.post(TW.format(ns=NS), json=workload("stays")).json()
    for name in ("moved", "kept"):
        assert http.post(PODS.format(ns=NS), json=pod(name, owner)).status_code == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    gone = {**owner, "metadata": {**owner["metadata"], "name": "gone", "uid": "00000000-0000-4000-8000-00000000dead"}}
    moved = pod("moved", gone)["metadata"]["ownerReferences"]
    assert http.patch(f"{PODS.format(ns=NS)}/moved", content=orjson.dumps({"metadata": {"ownerReferences": moved}}),
                      headers=merge).status_code == 200
    assert http.patch(f"{PODS.format(ns=NS)}/kept", content=b'{"metadata":{"labels":{"touched":"yes"}}}',
                      headers=merge).status_code == 200
    assert until(lambda: http.get(f"{PODS.format(ns=NS)}/moved").status_code == 404)
    assert http.get(f"{PODS.format(ns=NS)}/kept").status_code == 200
    assert http.delete(f"{TW.format(ns=NS)}/stays").status_code == 200  # the index still holds "kept" under it
    assert until(lambda: http.get(f"{PODS.format(ns=NS)}/kept").status_code == 404)


def test_a_pod_created_naming_only_owners_that_are_gone_is_collected_and_one_with_a_live_owner_stays(http):
    owner = http.post(TW.format(ns=NS), json=workload("alive")).json()
    gone = {**owner, "metadata": {**owner["metadata"], "name": "never", "uid": "00000000-0000-4000-8000-0000000000aa"}}
    assert http.post(PODS.format(ns=NS), json=pod("orphaned", gone)).status_code == 201
    both = pod("half", owner)
    both["metadata"]["ownerReferences"] += [{**pod("half", gone)["metadata"]["ownerReferences"][0], "controller": False}]
    assert http.post(PODS.format(ns=NS), json=both).status_code == 201
    assert until(lambda: http.get(f"{PODS.format(ns=NS)}/orphaned").status_code == 404)
    assert http.get(f"{PODS.format(ns=NS)}/half").status_code == 200
    assert http.delete(f"{TW.format(ns=NS)}/alive").status_code == 200  # its last live owner: now it goes
    assert until(lambda: http.get(f"{PODS.format(ns=NS)}/half").status_code == 404)


def test_foreground_deletion_waits_for_dependents(http):
    owner = http.post(TW.format(ns=NS), json=workload("fg")).json()
    http.post(PODS.format(ns=NS), json=pod("fg-0", owner, block=True))
    r = http.request("DELETE", f"{TW.format(ns=NS)}/fg", content=orjson.dumps({"propagationPolicy": "Foreground"}),
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert until(lambda: http.get(f"{TW.format(ns=NS)}/fg").status_code == 404)
    assert http.get(f"{PODS.format(ns=NS)}/fg-0").status_code == 404


def test_orphan_deletion_keeps_dependents_without_the_reference(http):
    owner = http.post(TW.format(ns=NS), json=workload("orph")).json()
    http.post(PODS.format(ns=NS), json=pod("orph-0", owner))
    http.request("DELETE", f"{TW.format(ns=NS)}/orph", content=orjson.dumps({"propagationPolicy": "Orphan"}),
                 headers={"Content-Type": "application/json"})
    assert until(lambda: http.get(f"{TW.format(ns=NS)}/orph").status_code == 404)
    kept = http.get(f"{PODS.format(ns=NS)}/orph-0").json()
    assert not kept["metadata"].get("ownerReferences")


def test_deleting_a_namespace_deletes_what_it_holds(http):
    """(A project's namespace that still holds workloads is refused: tests/controllers/test_projects.py.)"""
    assert http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": "doomed-ns"}}).status_code == 201
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inside"}, "data": {"a": "b"}}
    assert http.post("/api/v1/namespaces/doomed-ns/configmaps", json=config).status_code == 201
    assert http.post(PODS.format(ns="doomed-ns"), json=pod("inside-pod")).status_code == 201
    r = http.delete("/api/v1/namespaces/doomed-ns")
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Terminating"
    late = {**config, "metadata": {"name": "late"}}
    assert http.post("/api/v1/namespaces/doomed-ns/configmaps", json=late).status_code in (403, 404)
    assert until(lambda: http.get("/api/v1/namespaces/doomed-ns").status_code == 404)
    assert http.get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Ddoomed-ns").json()["items"] == []
    assert http.get("/api/v1/pods?fieldSelector=metadata.namespace%3Ddoomed-ns").json()["items"] == []
    assert http.post("/api/v1/namespaces/doomed-ns/configmaps", json=late).status_code == 404
    assert http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": "doomed-ns"}}).status_code == 201
    assert http.post("/api/v1/namespaces/doomed-ns/configmaps", json=late).status_code == 201  # made again


def test_a_selector_watch_sees_objects_enter_and_leave(cluster, http):
    http.post(TW.format(ns=NS), json=workload("sel", labels={"team": "a"}))
    rv = http.get(TW.format(ns=NS)).json()["metadata"]["resourceVersion"]
    events = []
    with client(cluster, timeout=30) as watcher:
        def watch() -> None:
            url = f"{TW.format(ns=NS)}?watch=true&resourceVersion={rv}&labelSelector=team%3Db&timeoutSeconds=5"
            with watcher.stream("GET", url) as stream:
                for line in stream.iter_lines():
                    if line:
                        event = orjson.loads(line)
                        events.append((event["type"], event["object"]["metadata"]["name"]))

        thread = threading.Thread(target=watch)
        thread.start()
        time.sleep(0.5)
        for labels in ({"team": "b"}, {"team": "a"}):
            body = orjson.dumps({"metadata": {"labels": labels}})
            http.patch(f"{TW.format(ns=NS)}/sel", content=body, headers={"Content-Type": "application/merge-patch+json"})
        thread.join()
    # Entering the selection is ADDED and leaving it DELETED; the workload controller may write the workload's
    # status while it is selected, which that watch sees as MODIFIED.
    assert events[0] == ("ADDED", "sel") and events[-1] == ("DELETED", "sel")
    assert set(events[1:-1]) <= {("MODIFIED", "sel")}


def test_list_pages_are_one_snapshot(http):
    namespace(http, "paging")
    for i in range(7):
        http.post(TW.format(ns="paging"), json=workload(f"p{i}"))
    first = http.get(TW.format(ns="paging") + "?limit=3").json()
    http.post(TW.format(ns="paging"), json=workload("p-late"))
    http.delete(f"{TW.format(ns='paging')}/p5")
    names = [i["metadata"]["name"] for i in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = http.get(TW.format(ns="paging") + f"?limit=3&continue={token}").json()
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
    assert names == [f"p{i}" for i in range(7)]


def test_field_selectors_the_server_does_not_support_are_400(http):
    r = http.get(TW.format(ns=NS) + "?fieldSelector=spec.gpu.value%3D1")
    assert r.status_code == 400
    assert r.json()["message"] == "field label not supported: spec.gpu.value"
    pods = http.get(PODS.format(ns=NS) + "?fieldSelector=spec.nodeName%3D")
    assert pods.status_code == 200


def test_pod_binding_eviction_and_logs(cluster, http):
    http.post(PODS.format(ns=NS), json=pod("bound"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    assert http.post(f"{PODS.format(ns=NS)}/bound/binding", json=binding).status_code == 201
    assert http.get(f"{PODS.format(ns=NS)}/bound").json()["spec"]["nodeName"] == "node-1"
    again = http.post(f"{PODS.format(ns=NS)}/bound/binding", json=binding)
    assert again.status_code == 409 and 'already assigned to node "node-1"' in again.json()["message"]
    log = cluster.data_dir / "logs" / NS / "bound" / "main.log"
    log.parent.mkdir(parents=True)
    log.write_text("epoch 1\nepoch 2\nepoch 3\n")
    report(http, NS, "bound", [running()])  # its node agent says the container started
    assert cluster.kubectl("logs", "bound", "-n", NS).stdout == "epoch 1\nepoch 2\nepoch 3\n"
    assert cluster.kubectl("logs", "bound", "-n", NS, "--tail=1").stdout == "epoch 3\n"
    evicted = http.post(f"{PODS.format(ns=NS)}/bound/eviction",
                        json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "bound"}})
    assert evicted.status_code == 201
    assert http.get(f"{PODS.format(ns=NS)}/bound").status_code == 404


def test_logs_tail_reads_the_end_of_a_long_log_and_since_filters_by_time(cluster, http):
    http.post(PODS.format(ns=NS), json=pod("chatty"))
    place(http, NS, "chatty", [running()])
    log = cluster.data_dir / "logs" / NS / "chatty" / "main.log"
    log.parent.mkdir(parents=True)
    old, recent = time.time_ns() - 3600 * 10**9, time.time_ns()
    lines = b"".join(podlog.records(b"stdout", b"step %d %s\n" % (i, b"x" * 60), ns=old) for i in range(50_000))
    log.write_bytes(lines + podlog.records(b"stderr", b"warn\nlast\n", ns=recent))
    assert cluster.kubectl("logs", "chatty", "-n", NS, "--tail=3").stdout == f"step 49999 {'x' * 60}\nwarn\nlast\n"
    many = cluster.kubectl("logs", "chatty", "-n", NS, "--tail=3000").stdout.splitlines()
    assert len(many) == 3000 and many[0] == f"step 47002 {'x' * 60}"
    assert cluster.kubectl("logs", "chatty", "-n", NS, "--since=10m").stdout == "warn\nlast\n"
    assert len(cluster.kubectl("logs", "chatty", "-n", NS).stdout.splitlines()) == 50_002


def test_delete_collection_by_label(http):
    for i, team in enumerate(["x", "x", "y"]):
        http.post(TW.format(ns=NS), json=workload(f"dc{i}", labels={"dc": team}))
    r = http.delete(TW.format(ns=NS) + "?labelSelector=dc%3Dx")
    assert r.status_code == 200
    left = {i["metadata"]["name"] for i in http.get(TW.format(ns=NS) + "?labelSelector=dc").json()["items"]}
    assert left == {"dc2"}


def test_a_watch_ends_with_a_bookmark_when_asked(http):
    rv = http.get(TW.format(ns=NS)).json()["metadata"]["resourceVersion"]
    with http.stream("GET", f"{TW.format(ns=NS)}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true"
                            "&timeoutSeconds=1") as s:
        events = [orjson.loads(line) for line in s.iter_lines() if line]
    assert events[-1]["type"] == "BOOKMARK"
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_a_bindings_annotations_are_set_on_its_pod_in_the_same_write(cluster):
    """As kube-apiserver does: the scheduler sends its device choice with the binding, and the pod has both
    its node and the annotations at one revision (no pod bound without its devices, one write fewer)."""
    with client(cluster) as http:
        namespace(http, "bind-annotations")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {"keep": "me"}},
               "spec": {"schedulerName": "none", "containers": [{"name": "main", "image": "x"}]}}
        assert http.post("/api/v1/namespaces/bind-annotations/pods", json=pod).status_code == 201
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "annotations": {
            "run.ai/gpu-devices": "0,1"}}, "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}}
        answer = http.post("/api/v1/namespaces/bind-annotations/pods/p/binding", json=binding)
        assert answer.status_code == 201, answer.text
        bound = http.get("/api/v1/namespaces/bind-annotations/pods/p").json()
        assert bound["spec"]["nodeName"] == "node-a"
        assert bound["metadata"]["annotations"] == {"keep": "me", "run.ai/gpu-devices": "0,1"}
        bad = {**binding, "metadata": {"name": "p", "annotations": {"n": 1}}}
        refused = http.post("/api/v1/namespaces/bind-annotations/pods/p/binding", json=bad)
        assert refused.status_code == 400 and "annotations" in refused.json()["message"]
