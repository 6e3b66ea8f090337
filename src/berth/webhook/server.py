"""The webhook's HTTPS server: reads what admission needs from the cluster, then answers the review.

Reads go through `berth.client` for each review (a handful of GETs and LISTs, fetched concurrently and
only for workloads and policies), so the answer reflects the policies as they are at that moment.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from berth.client import Client, NotFound
from berth.policy.admission import needs
from berth.webhook.review import respond


class Prefetched:
    """`berth.policy.admission.Objects` answered from reads made beforehand."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self.lists: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))

    def list(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        return self.lists.get((kind, namespace), [])


async def prefetch(client: Client, obj: dict[str, Any]) -> Prefetched:
    found = Prefetched()

    async def read(kind: str, namespace: str, name: str | None) -> None:
        if name is None:
            found.lists[(kind, namespace)] = list(await client.list(kind, namespace))
            return
        try:
            found.objects[(kind, namespace, name)] = await client.get(kind, name, namespace)
        except NotFound:
            found.objects[(kind, namespace, name)] = None

    await asyncio.gather(*(read(*wanted) for wanted in needs(obj)))
    return found


def app(client: Client) -> Starlette:
    """/mutate (defaults as a patch, or a refusal), /validate (the refusal alone) and /healthz."""

    async def mutate(request: Request) -> Response:
        return await review(request, mutating=True)

    async def validate(request: Request) -> Response:
        return await review(request, mutating=False)

    async def review(request: Request, mutating: bool) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return JSONResponse({"message": "the body must be an AdmissionReview in JSON"}, status_code=400)
        req = body.get("request") or {}
        obj = dict(req.get("object") or {})
        obj.setdefault("kind", (req.get("kind") or {}).get("kind", ""))
        obj.setdefault("metadata", {}).setdefault("namespace", req.get("namespace", ""))
        objects = await prefetch(client, obj)
        return Response(orjson.dumps(respond(body, objects, mutating=mutating)), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/mutate", mutate, methods=["POST"]), Route("/validate", validate, methods=["POST"]),
                             Route("/healthz", healthz)])


async def serve(client: Client, host: str, port: int, cert: str, key: str) -> None:
    config = uvicorn.Config(app(client), host=host, port=port, ssl_certfile=cert, ssl_keyfile=key,
                            log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    try:
        await uvicorn.Server(config).serve()
    finally:
        await client.close()
