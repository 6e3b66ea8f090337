"""Schemathesis against the OpenAPI v3 documents `berth up` serves: every operation of every group-version,
with generated path and query parameters and bodies, positive (what the schema allows) and negative (what
it does not). No answer may be a server error or hang, and every answer is one Kubernetes gives.

Most cases address the namespace `fuzz`, many also a few names, so that they reach objects that exist rather
than only 404s. `watch=true` is sent as false: a watch streams until its timeout, which is not a hang.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.apiserver.fuzz.conftest import NS, Tally, call, check_status, fuzz_settings, schemathesis_session
from tests.cluster import Cluster

#: Cases per run (times BERTH_FUZZ_FACTOR), over the ~220 operations: positive ones reach the handlers,
#: negative ones (wrong types, missing parts) cost more to generate.
POSITIVE, NEGATIVE = 250, 80
NAMES = ("a", "b", "fuzz")


def _served_schemas(http: httpx.Client) -> list[Any]:
    """The OpenAPI v3 documents, as served (the index, then each group-version by its hashed URL)."""
    index = http.get("/openapi/v3")
    assert index.status_code == 200, index.text
    schemas = []
    for entry in index.json()["paths"].values():
        served = http.get(entry["serverRelativeURL"])
        assert served.status_code == 200, served.text
        schemas.append(schemathesis.openapi.from_dict(served.json()))
    return schemas


def _cases(schemas: list[Any], mode: GenerationMode) -> st.SearchStrategy[Any]:
    anywhere = [schema.as_strategy(generation_mode=mode) for schema in schemas]
    here = [schema.as_strategy(generation_mode=mode, path_parameters={"namespace": NS}) for schema in schemas]
    named = [schema.as_strategy(generation_mode=mode, path_parameters={"namespace": NS, "name": name})
             for schema in schemas for name in NAMES]
    return st.one_of(*anywhere, *here, *named)


def _fuzz(cluster: Cluster, http: httpx.Client, tally: Tally, mode: GenerationMode, cases: int) -> None:
    session = schemathesis_session(cluster)

    @fuzz_settings(cases)
    @given(case=_cases(_served_schemas(http), mode))
    def one(case: Any) -> None:
        if case.query and "watch" in case.query:
            case.query["watch"] = "false"
        response = call(case, cluster, session, tally)
        case.validate_response(response, checks=[not_a_server_error])
        check_status(response.status_code, response.content, case.method.upper(), response.request.url)

    one()
    assert http.get("/readyz").status_code == 200


def test_schemathesis_positive(cluster, http, tally):
    """schemathesis, bodies and parameters the served OpenAPI v3 allows."""
    _fuzz(cluster, http, tally, GenerationMode.POSITIVE, POSITIVE)


def test_schemathesis_negative(cluster, http, tally):
    """schemathesis, bodies and parameters the served OpenAPI v3 forbids."""
    _fuzz(cluster, http, tally, GenerationMode.NEGATIVE, NEGATIVE)
