"""Per-client limits of the API server, so that a client that floods `berth up` slows itself, not the others.

Three limits, each keyed by the client's identity (`identity`):

* a **rate limit**: a token bucket per identity (`rate` requests a second, bursts of `burst`); a request
  over it is answered at once with 429 TooManyRequests, a `Retry-After` header and a Status that says how
  long to wait and which flag raises the limit. Refusing is cheap, so a flooder costs the server little and
  the other clients' buckets are untouched;
* **watches per client**: at most `max_watches` watch streams open at once per identity; the next is 429;
* **list page size**: a `limit` above `max_page_size` is lowered to it (the reply carries a `continue`
  token, which the API contract allows and kubectl and client libraries follow); a list without `limit` is
  served whole, as Kubernetes serves it, since a client that sent none will not follow a continue token.

The identity is the authenticated user (`request.state.user`, set by authentication) when there is one,
else the sha256 of the bearer token (the raw token is never stored or logged), else the client's address.
Requests authenticated with the control plane's own admin token (`<data-dir>/token`: Berth's controllers,
scheduler and node agents, and the admin's kubeconfig) are exempt from the rate and watch limits unless
`limit_admin` is set: the control plane must never throttle itself.

The request body limit lives with decoding (`berth.apiserver.validation.MAX_BODY`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from berth.apiserver import errors
from berth.apiserver.settings import Limits

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

def token_of(conn: HTTPConnection) -> str | None:
    """The bearer token a request presents, if any."""
    scheme, _, presented = conn.headers.get("authorization", "").partition(" ")
    token = presented.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_id(token: str) -> str:
    """How a token is named where it must be told apart but never revealed: its sha256, shortened."""
    return "token-sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def named(conn: HTTPConnection) -> str | None:
    """Who a request says it is: the authenticated user (`request.state.user`), else the sha256 of its
    bearer token; None for a request without either."""
    user = conn.scope.get("state", {}).get("user")
    if isinstance(user, str) and user:
        return user
    token = token_of(conn)
    return token_id(token) if token is not None else None


def identity(conn: HTTPConnection) -> str:
    """Who a request comes from, for the limits: `named`, else the client's address."""
    who = named(conn)
    if who is not None:
        return who
    client = conn.client
    return f"address:{client.host}" if client is not None else "address:unknown"


class TokenBucket:
    """`rate` tokens a second up to `burst`; each request takes one."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.tokens = self.burst
        self.stamp = now

    def take(self, now: float) -> float:
        """Take a token: 0.0 when one was there, else the seconds until one will be."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


def too_many(message: str, retry_after: int) -> errors.ApiError:
    """429 as kube-apiserver words it: reason TooManyRequests and details.retryAfterSeconds (the app adds the
    Retry-After header from it)."""
    return errors.ApiError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after})


class Limiter:
    """The limits of one API server and the state they keep: a bucket and a watch count per identity.

    Everything runs on the event loop's thread, so no lock is needed. Buckets of clients idle long enough to
    be full again are dropped (`_sweep`), so the table does not grow with every client ever seen."""

    SWEEP_EVERY = 1024

    def __init__(self, limits: Limits, admin_token: str | None = None, admin_user: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`admin_token`: the control plane's own token; `admin_user`: the name authentication gives its
        requests (also every request of the single-user `--insecure-http` mode). Both are exempt."""
        self.limits = limits
        self._admin = hashlib.sha256(admin_token.encode()).digest() if admin_token else None
        self._admin_user = admin_user
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._watches: dict[str, int] = {}
        self._seen = 0

    def _exempt(self, conn: HTTPConnection) -> bool:
        if self.limits.limit_admin:
            return False
        if self._admin_user is not None and conn.scope.get("state", {}).get("user") == self._admin_user:
            return True
        token = token_of(conn)
        if self._admin is None:
            return False
        return token is not None and hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self._admin)

    def admit(self, conn: HTTPConnection) -> None:
        """Take one request from its client's bucket, or raise 429 with how long to wait."""
        if self.limits.rate <= 0 or self._exempt(conn):
            return
        who = identity(conn)
        now = self._clock()
        bucket = self._buckets.get(who)
        if bucket is None:
            bucket = self._buckets[who] = TokenBucket(self.limits.rate, self.limits.burst, now)
        wait = bucket.take(now)
        self._seen += 1
        if self._seen % self.SWEEP_EVERY == 0:
            self._sweep(now)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise too_many(
                f"Too many requests from {who}: the limit is {self.limits.rate:g} requests a second with bursts of "
                f"{self.limits.burst}; retry after {seconds} s (the server's --rate-limit and --rate-burst set it)",
                seconds)

    def tracked(self) -> tuple[int, int]:
        """How many clients have a bucket, and how many hold watches: what the limiter's memory grows with."""
        return len(self._buckets), len(self._watches)

    def _sweep(self, now: float) -> None:
        full = [who for who, b in self._buckets.items() if b.tokens + (now - b.stamp) * b.rate >= b.burst]
        for who in full:
            del self._buckets[who]

    def open_watch(self, conn: HTTPConnection) -> Callable[[], None]:
        """Count a watch its client opens, or raise 429 when it has `max_watches` open; returns the function
        that closes it (idempotent)."""
        if self.limits.max_watches <= 0 or self._exempt(conn):
            return lambda: None
        who = identity(conn)
        count = self._watches.get(who, 0)
        if count >= self.limits.max_watches:
            raise too_many(
                f"Too many watches from {who}: the limit is {self.limits.max_watches} open at once; close one "
                "(or reuse one watch for many objects with a label selector) and retry (the server's "
                "--max-watches sets it)", 1)
        self._watches[who] = count + 1
        closed = False

        def close() -> None:
            nonlocal closed
            if closed:
                return
            closed = True
            left = self._watches.get(who, 1) - 1
            if left > 0:
                self._watches[who] = left
            else:
                self._watches.pop(who, None)

        return close

    def page(self, params: dict[str, Any]) -> dict[str, Any]:
        """LIST parameters with `limit` checked (400 naming it when not a number) and lowered to the maximum
        page size; without `limit` (or with 0, Kubernetes' "no limit") the list is served whole."""
        raw = params.get("limit")
        if raw is None or raw == "":
            return params
        try:
            limit = int(raw)
        except ValueError:
            raise errors.bad_request(f'limit must be a whole number of items, not "{raw}"') from None
        cap = self.limits.max_page_size
        if 0 < cap < limit < 2**63:  # beyond int64 it is left for the list to refuse, as Kubernetes does
            return {**params, "limit": str(cap)}
        return params
