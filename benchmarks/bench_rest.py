"""Run:ai's REST API figures (issue K), against a real `berth up` (the API server alone) over HTTPS:

- rest.creates_per_s: trainings created with POST /api/v1/workloads/trainings, 8 keep-alive connections
  (the minimal client of `common.lean_posts`), median of 3 rounds of 300. Each REST create is a project
  lookup, the cluster check and a create through the Kubernetes API as the caller (a second HTTPS request
  on the same machine); the context has the Kubernetes API's own creates/s measured in the same run and the
  ratio, the price of the translation and the hop.
- rest.list_1k_s: GET /api/v1/workloads?limit=500 with 1,000 trainings stored (one page of 500 of them:
  every kind is listed and filtered, sorted and paged in the REST app), median of 5; the context has the
  Kubernetes API's list of the same 1,000.
- rest.get_by_id_s: GET /api/v1/workloads/{id} with 1,000 trainings stored, median of 20.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import orjson
from common import BerthUp, Figure, api_server_alone, lean_posts

PROJECT = "bench"
NS = f"runai-{PROJECT}"
TW = f"/apis/run.ai/v2alpha1/namespaces/{NS}/trainingworkloads"


def _rest_body(name: str, project_id: str, cluster_id: str) -> bytes:
    return orjson.dumps({"name": name, "projectId": project_id, "clusterId": cluster_id, "spec": {
        "image": "python:3.11", "command": "python3", "args": "-c print(1)",
        "compute": {"gpuDevicesRequest": 1}, "environmentVariables": [{"name": "EPOCHS", "value": "3"}]}})


def _k8s_body(name: str) -> bytes:
    return orjson.dumps({"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
                         "metadata": {"name": name, "namespace": NS}, "spec": {
                             "image": {"value": "python:3.11"}, "command": {"value": "python3"},
                             "arguments": {"value": "-c print(1)"}, "gpu": {"value": "1"},
                             "environment": {"items": {"EPOCHS": {"value": "3"}}}}})


async def _timed(action) -> float:  # noqa: ANN001
    start = time.perf_counter()
    await action
    return time.perf_counter() - start


async def _measure(server: BerthUp) -> list[Figure]:
    async with server.client(timeout=120) as http:
        for doc in ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {"runai/queue": PROJECT}}},
                    {"apiVersion": "run.ai/v1", "kind": "Project", "metadata": {"name": PROJECT}}):
            path = "/api/v1/namespaces" if doc["kind"] == "Namespace" else "/apis/run.ai/v1/projects"
            assert (await http.post(path, json=doc)).status_code == 201
        project_id = (await http.get(f"/apis/run.ai/v1/projects/{PROJECT}")).json()["metadata"]["uid"]
        cluster_id = (await http.get("/api/v1/namespaces/runai")).json()["metadata"]["uid"]

        rest_rates, k8s_rates = [], []
        for r in range(3):
            bodies = [_rest_body(f"rest-{r}-{i}", project_id, cluster_id) for i in range(300)]
            took = await _timed(lean_posts(server.url, server.ca, server.token, "/api/v1/workloads/trainings",
                                           bodies, 8, expect=200))
            rest_rates.append(300 / took)
            bodies = [_k8s_body(f"k8s-{r}-{i}") for i in range(300)]
            took = await _timed(lean_posts(server.url, server.ca, server.token, TW, bodies, 8))
            k8s_rates.append(300 / took)
        rest_rate, k8s_rate = statistics.median(rest_rates), statistics.median(k8s_rates)

        stored = len((await http.get(TW)).json()["items"])
        more = [_k8s_body(f"fill-{i}") for i in range(max(0, 1000 - stored))]
        await lean_posts(server.url, server.ca, server.token, TW, more, 8)
        rest_lists = [await _timed(http.get("/api/v1/workloads", params={"limit": 500})) for _ in range(5)]
        k8s_lists = [await _timed(http.get(TW)) for _ in range(5)]
        page = (await http.get("/api/v1/workloads", params={"limit": 1})).json()["workloads"]
        one = page[0]["id"]
        gets = [await _timed(http.get(f"/api/v1/workloads/{one}")) for _ in range(20)]
        assert (await http.get(f"/api/v1/workloads/{one}")).status_code == 200
    return [
        Figure("rest.creates_per_s", rest_rate, "creates/s", "no target; compare with the Kubernetes API's",
               {"kubernetes_api_creates_per_s": round(k8s_rate, 1), "ratio": round(rest_rate / k8s_rate, 3),
                "rounds": [round(x, 1) for x in rest_rates]}),
        Figure("rest.list_1k_s", statistics.median(rest_lists), "s", "no target",
               {"workloads_stored": 1000, "page": 500,
                "kubernetes_api_list_1k_s": round(statistics.median(k8s_lists), 4)}),
        Figure("rest.get_by_id_s", statistics.median(gets), "s", "no target", {"workloads_stored": 1000}),
    ]


def rest() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        server = BerthUp(Path(tmp), *api_server_alone())
        try:
            return asyncio.run(_measure(server))
        finally:
            server.close()


BENCHMARKS = [rest]
