"""Who is asking: the caller's client of the Kubernetes API, for every REST request.

The REST API never decides who may do what. Each request's `Authorization: Bearer <token>` is forwarded to
the Kubernetes API (`Client.as_bearer`), which authenticates and authorizes it as it does kubectl; a
request without one reaches it anonymously and is refused there (401). Clients are kept per token (a small
LRU) so a script's requests reuse one connection pool. `Rest` is the app's state: the base client (the
cluster's address and CA; its own credentials serve only to read the cluster's id) and the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request

from berth.client import Client

#: How many callers' clients are kept open at once.
CACHED_CALLERS = 32
#: How long a caller's view of slowly changing objects (projects, departments, who they are) is reused.
MEMO_TTL_S = 2.0
T = TypeVar("T")
_memos: weakref.WeakKeyDictionary[Client, dict[str, tuple[float, Any]]] = weakref.WeakKeyDictionary()


async def remembered(client: Client, key: str, load: Callable[[], Awaitable[T]], *, fresh: bool = False,
                     ttl: float = MEMO_TTL_S) -> T:
    """`load()`'s answer for this caller, reused for `ttl` seconds: a script's burst of creates reads the
    projects once, not once a request. Only lookups use it; every write goes to the API server, which
    decides with what it has now. `fresh` reloads (a lookup that missed in the remembered answer tries
    again, so an object made a moment ago is found)."""
    memo = _memos.setdefault(client, {})
    now = time.monotonic()
    hit = memo.get(key)
    if hit is not None and not fresh and now - hit[0] < ttl:
        return hit[1]  # type: ignore[no-any-return]
    value = await load()
    memo[key] = (now, value)
    return value


@dataclass
class Rest:
    """What the REST app shares between requests."""

    base: Client
    #: Callers' clients, most recently used last, by bearer token ("" for none).
    callers: OrderedDict[str, Client] = field(default_factory=OrderedDict)
    cluster_id: str | None = None
    _closing: set[asyncio.Task[None]] = field(default_factory=set)

    def caller(self, token: str) -> Client:
        """The client that acts as whoever holds `token`."""
        client = self.callers.pop(token, None)
        if client is None:
            client = self.base.as_bearer(token or None, field_manager="berth-rest")
        self.callers[token] = client
        while len(self.callers) > CACHED_CALLERS:
            _, old = self.callers.popitem(last=False)
            task = asyncio.get_running_loop().create_task(old.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        return client

    async def close(self) -> None:
        for client in self.callers.values():
            with contextlib.suppress(Exception):
                await client.close()
        self.callers.clear()
        await self.base.close()


def bearer(request: Request) -> str:
    """The request's bearer token, "" when it has none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def rest_of(request: Request) -> Rest:
    state: Rest = request.app.state.rest
    return state


def caller(request: Request) -> Client:
    """FastAPI dependency: the Kubernetes client acting as this request's caller."""
    return rest_of(request).caller(bearer(request))
