"""The pure parts of the metrics and the link to the components' process, without `berth up`: the labels a
request gets (bounded whatever the path), waiting workloads per project and pool from a real scheduling cycle,
and the loopback endpoint that serves the components' registry (real sockets, the real secret check)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from berth import components_metrics
from berth.apiserver.metrics import ApiServerMetrics, request_labels
from berth.authz.rbac import cluster_roles
from berth.rest.telemetry import InferenceMetricType, aggregate
from berth.authz.roles import ROLES, User, may_get_path
from berth.scheduler.core import Cluster, run_cycle
from berth.scheduler.metrics import pending_by_queue
from berth.store import Store


def scope(path: str, method: str = "GET", query: bytes = b"", kind: str = "http",
          content_type: bytes = b"application/json") -> dict:
    return {"type": kind, "method": method, "path": path, "query_string": query,
            "headers": [(b"content-type", content_type)]}


def test_a_request_is_labelled_by_its_route_as_kube_apiserver_labels_it() -> None:
    assert request_labels(scope("/api/v1/namespaces/a/pods")) == ("LIST", "", "v1", "pods", "", "namespace")
    assert request_labels(scope("/api/v1/pods", query=b"watch=true")) == ("WATCH", "", "v1", "pods", "", "cluster")
    assert request_labels(scope("/apis/run.ai/v2alpha1/namespaces/a/trainingworkloads/t/status", "PUT")) == (
        "PUT", "run.ai", "v2alpha1", "trainingworkloads", "status", "resource")
    assert request_labels(scope("/apis/run.ai/v1/projects/p", "PATCH",
                                content_type=b"application/apply-patch+yaml"))[0] == "APPLY"
    assert request_labels(scope("/api/v1/namespaces/a/pods/p/exec", kind="websocket"))[0] == "CONNECT"
    assert request_labels(scope("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "POST")) == (
        "POST", "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "", "cluster")


def test_unknown_paths_and_methods_collapse_into_a_few_label_values() -> None:
    seen = {request_labels(scope(path, method)) for path, method in [
        (f"/apis/g{i}.example/v{i}/things{i}", "GET") for i in range(50)] + [
        (f"/api/v1/namespaces/n{i}/widgets{i}", "GET") for i in range(50)] + [
        (f"/random/{i}\n", f"BREW{i}") for i in range(50)] + [("/metrics", "GET"), ("/apis", "GET")]}
    assert seen == {("GET", "", "", "unknown", "", ""), ("other", "", "", "", "", ""), ("GET", "", "", "", "", "")}


def test_waiting_workloads_count_per_project_in_the_first_pool_they_prefer() -> None:
    c = Cluster()
    c.nodes(1, 4)
    c.project("a", 2)
    c.project("b", 2, default_pools=["gold"])
    c.job("a0", "a", 4, running_on="node-0", devices=[[0, 1, 2, 3]])
    c.job("a1", "a", 2)
    c.job("a2", "a", 1, node_pools=["silver", "default"])
    c.job("b0", "b", 1)
    snapshot = c.build()
    decisions = run_cycle(snapshot)
    assert pending_by_queue(snapshot, decisions) == {("a", "default"): 1, ("a", "silver"): 1, ("b", "gold"): 1}


def test_the_components_endpoint_serves_its_registry_to_the_secret_only(tmp_path: Path) -> None:
    registry = CollectorRegistry(auto_describe=False)
    Counter("berth_test_things", "Things.", registry=registry).inc(3)

    async def scenario() -> tuple[bytes | None, bytes | None, bytes | None]:
        fetch = components_metrics.fetcher(tmp_path, "right", timeout=2.0)
        before = await fetch()  # no port file yet: the child has not started
        server = asyncio.create_task(components_metrics.serve(registry, tmp_path, "right"))
        while not components_metrics.port_file(tmp_path).exists():
            await asyncio.sleep(0.01)
        try:
            return before, await fetch(), await components_metrics.fetcher(tmp_path, "wrong")()
        finally:
            server.cancel()

    before, served, refused = asyncio.run(scenario())
    assert before is None and refused is None
    assert served is not None and b"berth_test_things_total 3.0" in served


def test_a_scrape_says_when_the_components_did_not_answer(tmp_path: Path) -> None:
    with Store(tmp_path / "state.db") as store:
        metrics = ApiServerMetrics(store, components_metrics.fetcher(tmp_path, "secret", timeout=0.5))
        text = asyncio.run(metrics.exposition()).decode()
    assert "berth_components_up 0.0" in text
    assert 'apiserver_storage_size_bytes{storage_cluster_id="sqlite-0"}' in text


def test_printed_rbac_grants_metrics_to_the_roles_the_api_server_does() -> None:
    """On a real cluster, `berth rbac` gives /metrics to exactly the roles `berth up` gives it to."""
    by_role: dict[str, bool] = {}
    for role in cluster_roles():
        rules = role["rules"]
        granted = any("/metrics" in r.get("nonResourceURLs", []) and "get" in r["verbs"] for r in rules)
        name = role["metadata"]["annotations"]["berth.run.ai/role"]
        by_role[name] = by_role.get(name, False) or granted
    assert by_role == {role: may_get_path(User("someone", role), "/metrics") for role in ROLES}
    assert by_role == {"admin": True, "viewer": True, "researcher": False}


def test_a_workloads_throughput_adds_up_and_its_latency_is_weighted_by_each_pods_throughput() -> None:
    def pod(**readings: float) -> dict:
        return {"metadata": {"annotations": {"run.ai/metrics": json.dumps(readings)}}}

    pods = [pod(throughput=30, latency=100), pod(throughput=10, latency=200), pod(concurrency=0), {"metadata": {}}]
    assert aggregate(pods, InferenceMetricType.THROUGHPUT) == 40
    assert aggregate(pods, InferenceMetricType.LATENCY) == 125  # (30 x 100 + 10 x 200) / 40
    assert aggregate(pods[2:], InferenceMetricType.THROUGHPUT) is None  # nothing measured yet
