"""The scheduler inside `berth up`: pending workloads are bound to nodes with their GPU devices, the pending
reason reaches the workload's status, and preemption reaches a pod through the API."""

from __future__ import annotations
import asyncio

import orjson
import pytest

from berth.client import Client
from berth.client.errors import Unreachable
from berth.nodes.node import Gpu, NodeSpec, node_manifest
from berth.scheduler.core import Snapshot
from berth.scheduler.core.decisions import Bind, Decisions, Eviction, Pending
from berth.scheduler.runner import Scheduler
from tests.controllers.helpers import apply, client, eventually, pods_of, run_pod, set_pod_phase, workload_status


def add_node(http, name: str, gpus: int, labels: dict | None = None) -> None:
    manifest = node_manifest(NodeSpec(name, gpus=tuple(Gpu(i) for i in range(gpus)), labels=labels or {},
                                      simulated=True))
    status = manifest.pop("status")
    assert http.post("/api/v1/nodes", json=manifest).status_code == 201
    r = http.patch(f"/api/v1/nodes/{name}/status", content=orjson.dumps({"status": status}),
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200


def project(cluster, name: str, gpus: float) -> None:
    apply(cluster, f"""
apiVersion: run.ai/v1
kind: Project
metadata: {{name: {name}}}
spec: {{deservedGpus: {gpus}}}
""")


def workload(cluster, kind: str, name: str, ns: str, gpu: str, extra: str = "") -> None:
    apply(cluster, f"""
apiVersion: run.ai/v2alpha1
kind: {kind}
metadata: {{name: {name}, namespace: {ns}}}
spec:
  image: {{value: ubuntu}}
  command: {{value: sleep infinity}}
  gpu: {{value: "{gpu}"}}
{extra}""")


class Held:
    """An informer's cache held by the test: exactly the objects in `objects` (a list the test may change)."""

    def __init__(self, objects: list[dict] | None = None) -> None:
        self.objects = objects if objects is not None else []

    def items(self) -> list[dict]:
        return self.objects

    def get(self, name: str, namespace: str) -> dict | None:
        return next((o for o in self.objects if o["metadata"]["name"] == name
                     and o["metadata"].get("namespace") == namespace), None)


def offline(scheduler: Scheduler, pods: list[dict] | None = None, groups: list[dict] | None = None) -> Scheduler:
    """The scheduler with caches the test holds instead of informers (scheduler name "none" is its own)."""
    scheduler.names = {"none"}
    scheduler.pods, scheduler.groups = Held(pods), Held(groups)
    scheduler.nodes = scheduler.projects = scheduler.departments = scheduler.pools = Held()
    return scheduler


@pytest.fixture(scope="module")
def http(cluster):
    with client(cluster, timeout=30) as c:
        add_node(c, "gpu-node-1", 2)
        project(cluster, "team-a", 2)
        project(cluster, "team-b", 0)
        eventually(lambda: c.get("/api/v1/namespaces/runai-team-b").status_code == 200)
        eventually(lambda: c.get("/api/v1/namespaces/runai-team-a").status_code == 200)
        yield c


def test_a_training_workload_is_bound_with_its_devices(cluster, http):
    workload(cluster, "TrainingWorkload", "fits", "runai-team-a", "1")
    pod = eventually(lambda: (p := pods_of(http, "runai-team-a", "fits")) and p[0]["spec"].get("nodeName") and p[0])
    assert pod["spec"]["nodeName"] == "gpu-node-1"
    assert pod["metadata"]["annotations"]["run.ai/gpu-devices"] in ("0", "1")


def test_two_halves_share_one_device(cluster, http):
    workload(cluster, "TrainingWorkload", "half-a", "runai-team-a", "0.5")
    workload(cluster, "TrainingWorkload", "half-b", "runai-team-a", "0.5")
    a = eventually(lambda: (p := pods_of(http, "runai-team-a", "half-a")) and p[0]["spec"].get("nodeName") and p[0])
    b = eventually(lambda: (p := pods_of(http, "runai-team-a", "half-b")) and p[0]["spec"].get("nodeName") and p[0])
    assert a["metadata"]["annotations"]["run.ai/gpu-devices"] == b["metadata"]["annotations"]["run.ai/gpu-devices"]


def test_an_interactive_workload_over_quota_waits_and_says_why(cluster, http):
    workload(cluster, "InteractiveWorkload", "greedy", "runai-team-b", "1")
    status = eventually(lambda: (s := workload_status(http, "interactiveworkloads", "runai-team-b", "greedy"))
                        .get("phase") == "Pending" and s.get("reason") not in (None, "Pending") and s)
    assert "team-b" in status["message"]
    described = cluster.kubectl("describe", "iw", "greedy", "-n", "runai-team-b").stdout
    assert status["message"] in " ".join(described.split()) or status["reason"] in described


def test_reclaim_preempts_an_over_quota_training_job(cluster, http):
    """Run:ai's walkthrough through the API: team-b's idle quota lent to team-c is taken back."""
    add_node(http, "gpu-node-2", 2, {"run.ai/type": "walkthrough"})
    project(cluster, "team-c", 0)
    project(cluster, "team-d", 2)
    eventually(lambda: http.get("/api/v1/namespaces/runai-team-d").status_code == 200)
    selector = '  nodeType: {value: walkthrough}'
    workload(cluster, "TrainingWorkload", "borrower", "runai-team-c", "2", selector)
    eventually(lambda: (p := pods_of(http, "runai-team-c", "borrower")) and p[0]["spec"].get("nodeName"))
    workload(cluster, "TrainingWorkload", "owner", "runai-team-d", "2", selector)
    owner = eventually(lambda: (p := pods_of(http, "runai-team-d", "owner")) and p[0]["spec"].get("nodeName") and p[0],
                       timeout=30)
    assert owner["spec"]["nodeName"] == "gpu-node-2"
    events = http.get("/api/v1/namespaces/runai-team-c/events").json()["items"]
    assert any(e["reason"] == "Preempted" for e in events)


def test_a_pod_that_ended_after_the_decision_is_never_taken(cluster, http):
    """The soak found a training run twice: its pod succeeded while a cycle decided to reclaim it, the
    scheduler deleted the finished pod, and its workload, seeing no pod, ran it again. The eviction now
    takes a pod only as the decision saw it (its resourceVersion): one that ended is left alone."""
    namespace = "runai-team-a"
    assert http.post(f"/api/v1/namespaces/{namespace}/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ended", "namespace": namespace},
        "spec": {"schedulerName": "none", "containers": [{"name": "main", "image": "x"}]}}).status_code == 201
    run_pod(http, namespace, "ended", "gpu-node-1")
    seen_running = http.get(f"/api/v1/namespaces/{namespace}/pods/ended").json()  # what the cycle saw
    set_pod_phase(http, namespace, "ended", "Succeeded")

    async def evict() -> None:
        async with Client.from_kubeconfig(cluster.kubeconfig, field_manager="runai-scheduler") as c:
            scheduler = Scheduler(c)
            scheduler.pods = Held([seen_running])  # the scheduler's cache, one write behind the API
            await scheduler._evict(Eviction(pod=f"{namespace}/ended", group=f"{namespace}/g", node="gpu-node-1",
                                            action="reclaim", by=f"{namespace}/other", why="test"))

    asyncio.run(evict())
    pod = http.get(f"/api/v1/namespaces/{namespace}/pods/ended").json()
    assert pod["status"]["phase"] == "Succeeded"
    assert not any(c["type"] == "DisruptionTarget" for c in pod["status"].get("conditions") or [])


def test_a_bind_cut_off_by_a_broken_connection_is_tried_again(cluster, http):
    """The 8,000-workload benchmark left one pod Pending for good: the connection broke as the scheduler
    wrote its devices, and the scheduler went on taking the pod as bound (its PodGroup said Running). A bind
    (now the one write that sets node and devices) that fails in any way leaves the pod unplaced, so the
    next cycle places it again."""
    namespace = "runai-team-a"
    assert http.post(f"/api/v1/namespaces/{namespace}/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cut-off", "namespace": namespace},
        "spec": {"schedulerName": "none", "containers": [{"name": "main", "image": "x"}]}}).status_code == 201
    pod = http.get(f"/api/v1/namespaces/{namespace}/pods/cut-off").json()

    async def bind_once() -> list:
        async with Client.from_kubeconfig(cluster.kubeconfig, field_manager="runai-scheduler") as c:
            scheduler = offline(Scheduler(c), [pod])

            async def broken(*args, **kwargs):
                raise Unreachable("POST pods/cut-off/binding: Server disconnected without sending a response")

            c.bind = broken
            with pytest.raises(Unreachable):
                await scheduler._bind(Bind(pod=f"{namespace}/cut-off", group=f"{namespace}/cut-off",
                                           node="gpu-node-1", devices=(0,)))
            return [p.node for p in scheduler.snapshot().pods]

    assert asyncio.run(bind_once()) == [None]
    assert not http.get(f"/api/v1/namespaces/{namespace}/pods/cut-off").json()["spec"].get("nodeName")


def test_a_pod_naming_a_pod_group_that_does_not_exist_waits_and_says_why(cluster, http):
    """A gang's pods can reach the scheduler before their PodGroup; one that names a PodGroup that never comes
    (a typo in a hand-written pod) is never placed as a group of one, and is told why once the grace is over."""
    namespace = "runai-team-a"
    assert http.post(f"/api/v1/namespaces/{namespace}/pods", json={
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "orphan", "namespace": namespace, "annotations": {"pod-group-name": "no-such-group"}},
        "spec": {"schedulerName": "runai-scheduler", "containers": [{"name": "main", "image": "x"}]}}).status_code == 201
    event = eventually(lambda: [e for e in http.get(f"/api/v1/namespaces/{namespace}/events").json()["items"]
                                if e["involvedObject"]["name"] == "orphan" and e["reason"] == "FailedScheduling"],
                       timeout=20)
    assert event[0]["message"] == ("waiting for its PodGroup no-such-group (named by the pods' annotation "
                                   "pod-group-name), which does not exist in namespace runai-team-a yet")
    assert not http.get(f"/api/v1/namespaces/{namespace}/pods/orphan").json()["spec"].get("nodeName")


def test_a_pod_created_again_under_its_name_is_not_taken_for_the_one_bound(cluster, http):
    """CI saw a workload counted as reclaimed twice for one reclaim: the scheduler bound pod a0-0-0, the cache
    never showed it bound before it was reclaimed and deleted, and its workload made a new a0-0-0. The
    scheduler took the new, pending pod for the one it had bound (its assumption was by name), counted it as
    running over quota, and reclaimed it too. An assumption now holds for the pod's uid only, and a Binding
    names the uid it was decided for (as kube-scheduler's does), so the API refuses it for another pod."""
    namespace = "runai-team-a"

    def create() -> dict:
        assert http.post(f"/api/v1/namespaces/{namespace}/pods", json={
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reborn", "namespace": namespace},
            "spec": {"schedulerName": "none", "containers": [{"name": "main", "image": "x"}]}}).status_code == 201
        return http.get(f"/api/v1/namespaces/{namespace}/pods/reborn").json()

    cached = [create()]  # the first pod, as the scheduler's cache has it (never seen bound)

    async def bind_then_replace() -> list:
        async with Client.from_kubeconfig(cluster.kubeconfig, field_manager="runai-scheduler") as c:
            scheduler = offline(Scheduler(c), cached)
            scheduler.snapshot()  # the cycle's view: the first pod, pending
            await scheduler._bind(Bind(pod=f"{namespace}/reborn", group=f"{namespace}/reborn",
                                       node="gpu-node-1", devices=(0,)))
            assert http.delete(f"/api/v1/namespaces/{namespace}/pods/reborn",
                               params={"gracePeriodSeconds": 0}).status_code == 200
            cached[0] = create()  # its workload's new pod, same name
            return [p.node for p in scheduler.snapshot().pods]

    assert asyncio.run(bind_then_replace()) == [None]
    first_uid = "00000000-0000-0000-0000-000000000000"
    r = http.post(f"/api/v1/namespaces/{namespace}/pods/reborn/binding", json={
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "reborn", "uid": first_uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "gpu-node-1"}})
    assert r.status_code == 409, r.text
    assert f"UID in precondition: {first_uid}" in r.json()["message"]
    assert not http.get(f"/api/v1/namespaces/{namespace}/pods/reborn").json()["spec"].get("nodeName")


def test_a_pod_group_seen_after_the_cycle_is_not_told_it_does_not_exist(cluster, http):
    """The cycle saw a gang's pods before their PodGroup and let them wait for it; by the time it reports, the
    PodGroup has arrived. CI showed that group's workload saying "waiting for its PodGroup ..., which does not
    exist": the PodGroup's status is not written with a reason that its being there disproves."""
    namespace = "runai-team-a"
    group = {"apiVersion": "scheduling.run.ai/v2alpha2", "kind": "PodGroup",
             "metadata": {"name": "late", "namespace": namespace}, "spec": {"minMember": 2, "queue": "team-a"}}
    assert http.post(f"/apis/scheduling.run.ai/v2alpha2/namespaces/{namespace}/podgroups",
                     json=group).status_code == 201
    arrived = http.get(f"/apis/scheduling.run.ai/v2alpha2/namespaces/{namespace}/podgroups/late").json()

    async def report() -> None:
        async with Client.from_kubeconfig(cluster.kubeconfig, field_manager="runai-scheduler") as c:
            scheduler = offline(Scheduler(c), groups=[arrived])  # the PodGroup informer has it now
            why = Pending(f"{namespace}/late", "PodGroupNotFound", "waiting for its PodGroup late ...")
            await scheduler._report(Decisions(pending={why.group: why}), Snapshot())

    asyncio.run(report())
    status = http.get(f"/apis/scheduling.run.ai/v2alpha2/namespaces/{namespace}/podgroups/late").json().get("status")
    assert not (status or {}).get("schedulingConditions"), status


def test_an_eviction_takes_only_the_pod_it_was_decided_for(cluster, http):
    """CI saw a training counted as preempted twice for one preemption: the cycle decided to evict pod
    train-0-0-0; by the time the eviction ran (again, as a later cycle still saw the pod), the workload had made
    a new, pending train-0-0-0, and the eviction took that one. An eviction takes the pod the cycle saw (its
    uid) or nothing."""
    namespace = "runai-team-a"
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "twice", "namespace": namespace},
            "spec": {"schedulerName": "none", "containers": [{"name": "main", "image": "x"}]}}
    assert http.post(f"/api/v1/namespaces/{namespace}/pods", json=body).status_code == 201
    run_pod(http, namespace, "twice", "gpu-node-1")
    cached = [http.get(f"/api/v1/namespaces/{namespace}/pods/twice").json()]  # running, as the cycle saw it

    async def decide_then_evict() -> None:
        async with Client.from_kubeconfig(cluster.kubeconfig, field_manager="runai-scheduler") as c:
            scheduler = offline(Scheduler(c), cached)
            scheduler.snapshot()  # the cycle's view: the running pod
            assert http.delete(f"/api/v1/namespaces/{namespace}/pods/twice",
                               params={"gracePeriodSeconds": 0}).status_code == 200
            assert http.post(f"/api/v1/namespaces/{namespace}/pods", json=body).status_code == 201
            cached[0] = http.get(f"/api/v1/namespaces/{namespace}/pods/twice").json()  # the cache has the new one
            await scheduler._evict(Eviction(pod=f"{namespace}/twice", group=f"{namespace}/twice", node="gpu-node-1",
                                            action="preempt", by=f"{namespace}/other", why="test"))

    asyncio.run(decide_then_evict())
    pod = http.get(f"/api/v1/namespaces/{namespace}/pods/twice")
    assert pod.status_code == 200 and pod.json()["metadata"]["uid"] == cached[0]["metadata"]["uid"]
    assert not any(c["type"] == "DisruptionTarget" for c in (pod.json().get("status") or {}).get("conditions") or [])


def test_the_pod_groups_placed_in_a_cycle_are_written_at_once(cluster, http):
    """A cycle that places many gangs writes their PodGroups' Running status together, not one round trip
    after another: in a fill of 8,000 workloads one cycle placed 5,233 pods and then spent 11.5 s writing
    their PodGroups in turn, while the pods that came meanwhile waited for the next cycle."""
    namespace = "runai-team-a"
    groups = [{"apiVersion": "scheduling.run.ai/v2alpha2", "kind": "PodGroup",
               "metadata": {"name": f"g{i}", "namespace": namespace}, "spec": {"minMember": 1, "queue": "team-a"}}
              for i in range(40)]
    written: list[str] = []
    in_flight = [0, 0]  # now, most

    async def report() -> None:
        async with Client.from_kubeconfig(cluster.kubeconfig, field_manager="runai-scheduler") as c:
            async def patch(kind: str, name: str, body: dict, namespace: str | None = None, **_: object) -> dict:
                in_flight[0] += 1
                in_flight[1] = max(in_flight)
                await asyncio.sleep(0.01)
                in_flight[0] -= 1
                written.append(name)
                return {}

            c.patch = patch
            scheduler = offline(Scheduler(c), groups=groups)
            binds = [Bind(f"{namespace}/p{i}", f"{namespace}/g{i}", "gpu-node-1") for i in range(40)]
            await scheduler._report(Decisions(binds=binds), Snapshot())

    asyncio.run(report())
    assert sorted(written) == sorted(f"g{i}" for i in range(40))
    assert in_flight[1] > 1
