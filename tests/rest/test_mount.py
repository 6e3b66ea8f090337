"""Run:ai's REST API is served by `berth up` on the Kubernetes API's address: its OpenAPI document, one
error shape, and the Kubernetes API untouched beside it."""

from __future__ import annotations

import pytest

from tests.cluster import Cluster
from tests.rest.conftest import rest

pytestmark = pytest.mark.usefixtures("bare_module_cluster")


def test_the_openapi_document_is_served(bare_module_cluster: Cluster) -> None:
    with rest(bare_module_cluster) as http:
        doc = http.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["version"] == "2.18"


def test_an_unknown_rest_path_answers_in_runai_error_shape(bare_module_cluster: Cluster) -> None:
    with rest(bare_module_cluster) as http:
        answer = http.get("/api/v1/workloads/trainings/not-a-thing/nor-this")
    assert answer.status_code == 404
    assert answer.json() == {"code": 404, "message": "Not Found"}


def test_the_kubernetes_api_is_still_served_beside_it(bare_module_cluster: Cluster) -> None:
    out = bare_module_cluster.kubectl("get", "namespaces", "-o", "name").stdout
    assert "namespace/runai" in out


def test_stopping_after_rest_requests_does_not_wait_on_the_rest_apps_connections(bare_cluster: Cluster) -> None:
    """The REST app's own connections back to the API server are closed when berth up is told to stop, so
    the graceful shutdown does not sit out its timeout waiting on them (it did: 2 s more for every stop)."""
    with rest(bare_cluster) as http:
        assert http.get("/api/v1/workloads").status_code == 200
    bare_cluster.stop()
    assert "timeout graceful shutdown exceeded" not in bare_cluster.output()
    assert "berth up stopped" in bare_cluster.output()
