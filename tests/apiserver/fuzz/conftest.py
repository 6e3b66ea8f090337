"""What the fuzz tests share: how many cases they run, a client that gives up on a hung request, and the
tally each test reports.

The default run is bounded and deterministic (the same inputs every run, a fixed number per test), so that
`make test` stays fast and a failure reproduces. More, and different, cases:

    BERTH_FUZZ_FACTOR=20 make test ARGS=tests/apiserver/fuzz        # 20 times as many cases
    BERTH_FUZZ_SEED=7 BERTH_FUZZ_FACTOR=20 make test ARGS=...       # other inputs: a random run, seeded

Hypothesis prints the failing input (shrunk) and `@reproduce_failure` when a case fails.
"""

from __future__ import annotations

import os
import ssl
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import requests
from hypothesis import HealthCheck, Phase, seed, settings

from tests.apiserver.helpers import namespace
from tests.cluster import Cluster

#: How many times the default number of cases to run (an integer, at least 1).
FACTOR = max(1, int(os.environ.get("BERTH_FUZZ_FACTOR", "1")))
#: Unset: the same inputs every run (derandomized). Set: a seeded random run with other inputs.
SEED = os.environ.get("BERTH_FUZZ_SEED")
#: Seconds a single request may take before the test calls it hung. Watches are not fuzzed (they stream).
REQUEST_TIMEOUT_S = 10.0
NS = "fuzz"


def fuzz_settings(cases: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Hypothesis settings for a fuzz test of `cases` cases (times BERTH_FUZZ_FACTOR)."""
    configured = settings(max_examples=cases * FACTOR, derandomize=SEED is None, deadline=None, database=None,
                          phases=[Phase.explicit, Phase.generate, Phase.shrink],
                          suppress_health_check=list(HealthCheck), print_blob=True)

    def apply(test: Callable[..., Any]) -> Callable[..., Any]:
        test = configured(test)
        return seed(int(SEED))(test) if SEED is not None else test

    return apply


class Tally:
    """Cases run and status codes answered, for the line each fuzz test prints in the test summary."""

    def __init__(self) -> None:
        self.cases = 0
        self.statuses: Counter[int] = Counter()

    def add(self, status: int) -> None:
        self.cases += 1
        self.statuses[status] += 1

    def line(self, what: str) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return f"fuzz: {self.cases} cases ran against berth up ({what}); status codes {codes}"


@pytest.fixture
def tally(record_property: Callable[[str, object], None], request: pytest.FixtureRequest) -> Iterator[Tally]:
    """Counts a test's cases; the count shows in the summary of `make test` (tests/conftest.py), pass or fail."""
    counted = Tally()
    yield counted
    doc = (request.function.__doc__ or request.node.name).strip().splitlines()[0].rstrip(".")
    record_property("summary", counted.line(doc))


def schemathesis_session(cluster: Cluster) -> requests.Session:
    """The admin's session for schemathesis' `case.call`, trusting the cluster's CA."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the cluster's CA
    session.verify = str(cluster.ca)
    session.headers["Authorization"] = f"Bearer {cluster.token}"
    return session


def call(case: Any, cluster: Cluster, session: requests.Session, tally: Tally) -> requests.Response:
    """Send a schemathesis case; a request without an answer in REQUEST_TIMEOUT_S fails the test as hung.
    The answer's status is counted in `tally`."""
    try:
        response = case.call(base_url=cluster.url, session=session, verify=str(cluster.ca),
                             timeout=REQUEST_TIMEOUT_S)
    except requests.Timeout:
        pytest.fail(f"hung request (no answer in {REQUEST_TIMEOUT_S} s): {case.as_curl_command()}")
    tally.add(response.status_code)
    return response


def client(cluster: Cluster) -> httpx.Client:
    """The admin's client; a request that takes longer than REQUEST_TIMEOUT_S raises (a hung request)."""
    return httpx.Client(base_url=cluster.url, verify=ssl.create_default_context(cafile=str(cluster.ca)),
                        headers={"Authorization": f"Bearer {cluster.token}"}, timeout=REQUEST_TIMEOUT_S)


@pytest.fixture(scope="module")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    """The admin's client, with the project namespace `fuzz` that workloads are admitted in."""
    with client(cluster) as c:
        namespace(c, NS)
        yield c


def check_status(code: int, body: bytes, method: str, url: str, sent: str = "") -> None:
    """What every answer must be: no server error; an error is a Kubernetes Status with the same code (what
    kubectl prints); success is 200, or 201 for what creates, or 202 for a delete in progress. `sent`
    describes the request in the failure message."""
    where = f"{method} {url[:300]}" + (f"\n  sent: {sent}\n  answer" if sent else "")
    text = body[:2000].decode(errors="replace")
    assert code < 500, f"{where}: {code} {text}"
    if code >= 400:
        status = orjson.loads(body)
        assert status.get("kind") == "Status" and status.get("code") == code, f"{where}: {code} {text}"
        assert status.get("message"), f"{where}: a Status without a message: {text}"
    else:
        allowed = {200} | ({201} if method in ("POST", "PATCH") else set()) | ({202} if method == "DELETE" else set())
        assert code in allowed, f"{where}: {code} is not an answer Kubernetes gives to {method}"
