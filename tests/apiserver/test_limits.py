"""Per-client limits of `berth up` (docs/limits-and-audit.md): a client that floods the server is answered
429 with Retry-After while the others are served; watches per client; the list page size.

One `berth up` with small limits, several clients with tokens of their own (`tests.apiserver.identities`);
the admin token's exemption is tested on a second one where the limits are tiny.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from berth.apiserver.limits import token_id
from tests.apiserver.identities import client, kubeconfig, named, start, token
from tests.cluster import Cluster, running

RATE, BURST, WATCHES, PAGE = 5, 20, 2, 3
NAMESPACES = "/api/v1/namespaces"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start(tmp_path_factory.mktemp("limited"), f"--rate-limit={RATE}", f"--rate-burst={BURST}",
              f"--max-watches={WATCHES}", f"--max-page-size={PAGE}")
    try:
        for name in ("flooder", "calm", "watcher", "other", "pager", "big", "patient"):
            token(c, name)
        yield c
    finally:
        c.stop()


def test_a_flooding_client_gets_429_with_retry_after_while_another_is_served(limited):
    flood = 5 * BURST
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool, client(limited, "calm") as calm, \
            client(limited, "flooder", limits=httpx.Limits(max_connections=8)) as flooder:
        def hammer(_: int) -> httpx.Response:
            return flooder.get(NAMESPACES)

        flooding = pool.map(hammer, range(flood))
        calm_codes = [calm.get(NAMESPACES).status_code for _ in range(BURST // 2)]  # while the flood runs
        answers = list(flooding)
    elapsed = time.monotonic() - started
    codes = [r.status_code for r in answers]
    assert calm_codes == [200] * (BURST // 2)
    assert set(codes) == {200, 429}
    assert codes.count(200) <= BURST + RATE * elapsed + 1  # the bucket: its burst, then its rate
    refused = next(r for r in answers if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1
    status = refused.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "TooManyRequests", 429)
    assert status["details"]["retryAfterSeconds"] == int(refused.headers["Retry-After"])
    assert f"the limit is {RATE} requests a second with bursts of {BURST}" in status["message"]
    assert "--rate-limit" in status["message"] and f"from {named(limited, 'flooder')}:" in status["message"]
    assert token(limited, "flooder") not in status["message"]  # the raw token is never shown


def test_a_client_over_its_watches_gets_429_others_can_still_watch(limited):
    with client(limited, "watcher", timeout=30) as http, client(limited, "other", timeout=30) as other:
        with http.stream("GET", NAMESPACES, params={"watch": "1"}) as first, \
                http.stream("GET", NAMESPACES, params={"watch": "1"}) as second:
            assert first.status_code == second.status_code == 200
            refused = http.get(NAMESPACES, params={"watch": "1"})
            assert refused.status_code == 429
            assert refused.json()["reason"] == "TooManyRequests"
            assert f"the limit is {WATCHES} open at once" in refused.json()["message"]
            assert "--max-watches" in refused.json()["message"]
            with other.stream("GET", NAMESPACES, params={"watch": "1"}) as theirs:
                assert theirs.status_code == 200
        # Both closed: the server gives the slots back when it sees the connections end.
        deadline = time.monotonic() + 10
        while True:
            with http.stream("GET", NAMESPACES, params={"watch": "1", "timeoutSeconds": "1"}) as again:
                if again.status_code == 200 or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        assert again.status_code == 200


def test_a_page_larger_than_the_maximum_is_capped_and_continued(limited):
    with client(limited, "pager") as http:
        for i in range(PAGE + 2):
            assert http.post(NAMESPACES, json={"metadata": {"name": f"page-{i}"}}).status_code == 201
        page = http.get(NAMESPACES, params={"limit": "100"}).json()
        assert len(page["items"]) == PAGE and page["metadata"]["continue"]
        whole = http.get(NAMESPACES).json()  # no limit: served whole, as Kubernetes serves it
        assert "continue" not in whole["metadata"]
        assert {f"page-{i}" for i in range(PAGE + 2)} <= {n["metadata"]["name"] for n in whole["items"]}
        small = http.get(NAMESPACES, params={"limit": "2"}).json()
        assert len(small["items"]) == 2
        bad = http.get(NAMESPACES, params={"limit": "many"})
        assert bad.status_code == 400 and bad.json()["message"] == 'limit must be a whole number of items, not "many"'
    listed = limited.kubectl("get", "namespaces", "--chunk-size=100", "-o", "name").stdout.split()
    assert {f"namespace/page-{i}" for i in range(PAGE + 2)} <= set(listed)  # kubectl follows the continue tokens


@pytest.fixture(scope="module")
def admin_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """HTTPS with tiny limits: only the admin token exists, and it is exempt."""
    yield from running(tmp_path_factory.mktemp("admin"), "--no-controllers", "--no-scheduler", "--no-local-node",
                       "--rate-limit=1", "--rate-burst=2", "--max-watches=1")


def test_the_admin_token_of_berths_own_components_is_never_throttled(admin_only: Cluster):
    context = ssl.create_default_context(cafile=str(admin_only.ca))
    with httpx.Client(base_url=admin_only.url, verify=context,
                      headers={"Authorization": f"Bearer {admin_only.token}"}, timeout=30) as http:
        assert [http.get(NAMESPACES).status_code for _ in range(20)] == [200] * 20
        with http.stream("GET", NAMESPACES, params={"watch": "1"}) as one, \
                http.stream("GET", NAMESPACES, params={"watch": "1"}) as two:
            assert one.status_code == two.status_code == 200
    admin_only.kubectl("create", "namespace", "busy")
    assert admin_only.kubectl("get", "namespace", "busy", "-o", "name").stdout.strip() == "namespace/busy"


def test_an_unauthenticated_flood_is_refused_before_it_is_counted(admin_only: Cluster):
    context = ssl.create_default_context(cafile=str(admin_only.ca))
    with httpx.Client(base_url=admin_only.url, verify=context, timeout=30) as http:
        assert {http.get(NAMESPACES).status_code for _ in range(10)} == {401}
        assert http.get("/healthz").status_code == 200


def test_a_body_over_the_limit_names_it_and_what_to_do(limited: Cluster, tmp_path: Path):
    big = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "big", "annotations": {"pad": "x" * (3 * 2**20)}}}
    with client(limited, "big") as http:
        r = http.post(NAMESPACES, json=big)
    assert r.status_code == 413 and r.json()["reason"] == "RequestEntityTooLarge"
    assert "limit is 3145728 bytes (3 MiB) for a request body" in r.json()["message"]
    manifest = tmp_path / "big.json"
    manifest.write_text(httpx.Request("POST", "/", json=big).content.decode())
    result = limited.kubectl("create", "-f", str(manifest), check=False)
    assert result.returncode != 0 and "3 MiB" in result.stderr and "Traceback" not in result.stderr


def test_berths_client_waits_for_retry_after_instead_of_failing(limited: Cluster, tmp_path: Path):
    from berth.client import Client

    config = kubeconfig(limited, "patient", tmp_path / "kubeconfig")

    async def burst() -> list[str]:
        async with Client.from_kubeconfig(config) as client:
            got = await asyncio.gather(*(client.get("Namespace", name="default") for _ in range(BURST + 5)))
            return [n["metadata"]["name"] for n in got]

    assert asyncio.run(burst()) == ["default"] * (BURST + 5)  # 5 over the burst: answered 429, retried


# -- the limiter alone (a pure unit: a fake clock and hand-made request scopes) ---------------------------------


def conn(token: str | None = None, user: str | None = None, host: str = "10.0.0.7"):
    from starlette.requests import HTTPConnection

    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (host, 1234)}
    if user is not None:
        scope["state"] = {"user": user}
    return HTTPConnection(scope)


def test_a_client_is_its_user_else_its_tokens_hash_else_its_address():
    from berth.apiserver.limits import identity

    assert identity(conn(token="secret", user="alice")) == "alice"
    assert identity(conn(token="secret")) == token_id("secret") != token_id("other")
    assert "secret" not in token_id("secret")
    assert identity(conn()) == "address:10.0.0.7"


def test_the_bucket_gives_its_burst_then_its_rate_and_says_how_long_to_wait():
    from berth.apiserver.errors import ApiError
    from berth.apiserver.limits import Limiter
    from berth.apiserver.settings import Limits

    now = [100.0]
    limiter = Limiter(Limits(rate=2, burst=3), admin_token="admin", admin_user="root", clock=lambda: now[0])
    for _ in range(3):
        limiter.admit(conn(token="a"))
    with pytest.raises(ApiError) as refused:
        limiter.admit(conn(token="a"))
    assert refused.value.code == 429 and refused.value.details == {"retryAfterSeconds": 1}
    limiter.admit(conn(token="b"))  # another client: its own bucket
    for _ in range(5):
        limiter.admit(conn(token="admin"))  # the admin token: exempt
        limiter.admit(conn(user="root"))  # and the admin's name (every request of single-user mode)
    now[0] += 0.5  # one token back at 2 a second
    limiter.admit(conn(token="a"))
    with pytest.raises(ApiError):
        limiter.admit(conn(token="a"))
    slow = Limiter(Limits(rate=0.1, burst=1), clock=lambda: now[0])
    slow.admit(conn(token="a"))
    with pytest.raises(ApiError) as wait:
        slow.admit(conn(token="a"))
    assert wait.value.details == {"retryAfterSeconds": 10}


def test_idle_clients_are_forgotten_and_watch_slots_come_back_once():
    from berth.apiserver.errors import ApiError
    from berth.apiserver.limits import Limiter
    from berth.apiserver.settings import Limits

    now = [0.0]
    limiter = Limiter(Limits(rate=1, burst=1, max_watches=1), clock=lambda: now[0])
    for i in range(Limiter.SWEEP_EVERY - 1):
        limiter.admit(conn(token=f"t{i}"))
    now[0] += 5  # every bucket full again
    limiter.admit(conn(token="last"))  # the sweep's turn
    assert limiter.tracked() == (1, 0)
    close = limiter.open_watch(conn(token="w"))
    with pytest.raises(ApiError):
        limiter.open_watch(conn(token="w"))
    close()
    close()  # twice: still one slot given back
    again = limiter.open_watch(conn(token="w"))
    with pytest.raises(ApiError):
        limiter.open_watch(conn(token="w"))
    again()
    assert limiter.tracked() == (1, 0)
