"""Schemathesis against Run:ai's REST API as Berth serves it: every operation of `/api/v1/openapi.json`,
with generated path and query parameters and bodies, positive (what the document allows) and negative (what
it does not). No answer may be a server error or hang; every error is in the one REST error shape
(`{code, message}` with `code` the HTTP status); every answer's status code and body are those the document
declares for the operation, so the document describes what is really served.

Cases address real objects as well as made-up ones: a project, a training in it, and the cluster's id are
offered as path parameters, so that most requests get past "not found".
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from tests.apiserver.fuzz.conftest import (Tally, call, fuzz_settings, schemathesis_session,  # noqa: F401
                                           tally)  # a fixture
from tests.cluster import Cluster
from tests.rest.conftest import rest

pytestmark = pytest.mark.usefixtures("bare_module_cluster")

#: Cases per run (times BERTH_FUZZ_FACTOR).
POSITIVE, NEGATIVE = 200, 80
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def known(bare_module_cluster: Cluster) -> dict[str, str]:
    """Ids of real objects: the cluster, a project, a training in it."""
    c = bare_module_cluster
    namespace = c.project("fuzz")
    c.kubectl("apply", "-n", namespace, "-f", "-", input=(
        "apiVersion: run.ai/v2alpha1\nkind: TrainingWorkload\nmetadata: {name: t}\n"
        "spec: {image: {value: busybox}, gpu: {value: '0'}}\n"))
    project = json.loads(c.kubectl("get", "project", "fuzz", "-o", "json").stdout)
    training = json.loads(c.kubectl("get", "tw", "t", "-n", namespace, "-o", "json").stdout)
    cluster = json.loads(c.kubectl("get", "namespace", "runai", "-o", "json").stdout)
    return {"projectId": project["metadata"]["uid"], "workloadId": training["metadata"]["uid"],
            "clusterId": cluster["metadata"]["uid"], "clusterUuid": cluster["metadata"]["uid"]}


def _schema(http: httpx.Client) -> Any:
    served = http.get("/api/v1/openapi.json")
    assert served.status_code == 200, served.text
    return schemathesis.openapi.from_dict(served.json())


def _cases(schema: Any, mode: GenerationMode, known: dict[str, str]) -> st.SearchStrategy[Any]:
    return st.one_of(schema.as_strategy(generation_mode=mode),
                     schema.as_strategy(generation_mode=mode, path_parameters=known))


def _fuzz(cluster: Cluster, tally: Tally, mode: GenerationMode, cases: int, known: dict[str, str]) -> None:
    session = schemathesis_session(cluster)
    with rest(cluster) as http:
        schema = _schema(http)

    @fuzz_settings(cases)
    @given(case=_cases(schema, mode, known))
    def one(case: Any) -> None:
        response = call(case, cluster, session, tally)
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            body = response.json()
            assert body.get("code") == response.status_code and body.get("message"), \
                f"{case.method} {response.request.url}: not the REST error shape: {response.text[:500]}"

    one()
    with rest(cluster) as http:
        assert http.get("/api/v1/openapi.json").status_code == 200


def test_schemathesis_positive(bare_module_cluster, tally, known):
    """schemathesis on the REST API, what /api/v1/openapi.json allows."""
    _fuzz(bare_module_cluster, tally, GenerationMode.POSITIVE, POSITIVE, known)


def test_schemathesis_negative(bare_module_cluster, tally, known):
    """schemathesis on the REST API, what /api/v1/openapi.json forbids."""
    _fuzz(bare_module_cluster, tally, GenerationMode.NEGATIVE, NEGATIVE, known)
