"""The API server's ASGI entry (`berth.apiserver.app._Asgi`), which replaced Starlette's application and router:
what they did for every request is still done. Methods against `berth up`; an exception that
escapes a handler, in-process (nothing outside can make one happen on purpose)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import httpx
import pytest

from berth.apiserver.app import _Asgi


@pytest.fixture(scope="module")
def http(cluster):
    with httpx.Client(base_url=cluster.url, verify=ssl.create_default_context(cafile=str(cluster.ca)),
                      headers={"Authorization": f"Bearer {cluster.token}"}) as client:
        yield client


def test_a_method_the_api_does_not_serve_is_405_naming_those_it_does(http):
    answer = http.request("OPTIONS", "/api/v1/namespaces")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "DELETE, GET, HEAD, PATCH, POST, PUT"


class _Failing:
    hub = None

    async def dispatch(self, request: Any) -> Any:
        raise RuntimeError("a bug")


def test_an_exception_from_a_handler_is_a_500_and_is_raised_on_to_the_server_which_logs_it():
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/pods", "headers": [], "query_string": b""}
    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(_Asgi(_Failing())(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 500
    assert sent[1]["body"] == b"Internal Server Error"
