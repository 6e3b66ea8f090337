"""The only module of Berth that imports lightkube: configuration, TLS, auth and the HTTP connection.

Requests and watches go through `berth.client._http` (a lean HTTP/1.1 client: the general-purpose stack
cost three quarters of the components' CPU) whenever the configuration needs nothing more than a token or a
client certificate; lightkube's client sends them otherwise, and reads every configuration.

What lightkube does for us is the part that is hard to get right and differs between clusters: reading
kubeconfig contexts, the in-cluster service account (re-reading the rotated token on 401), exec credential
plugins, client certificates, CA data, proxies from the environment, and a pooled HTTP client. We hold one
`lightkube.AsyncClient` per `berth.client.Client` and send through its generic layer
(`build_adapter_request`/`send`), with paths built from `berth.client.kinds`: Berth's objects are plain
JSON dicts, so lightkube's typed resource classes, its selector builder (dicts only, no selector strings)
and its watch loop (no bookmarks, re-raises ERROR events as HTTP errors) are not used.

Pinned against lightkube 1.0.x (httpx2 + msgspec); `tests/client` exercises every path here against a
real server, so an upgrade that moves these internals fails there first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import orjson
from lightkube import AsyncClient, KubeConfig, SingleConfig
from lightkube import ConfigError as LightkubeConfigError
from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import SERVICE_ACCOUNT
from lightkube.config.models import User
from lightkube.core.exceptions import ApiError as LightkubeApiError
from lightkube.core.generic_client import BasicRequest, GenericAsyncClient

from berth.client import _http, errors

R = TypeVar("R")
DEFAULT_KUBECONFIG = Path("~/.kube/config")
#: A 429 with Retry-After (the server's per-client rate limit) is retried this often, as client-go does; the
#: server refused the request before acting on it, so every verb may be sent again.
RETRIES_ON_429 = 10
MAX_RETRY_AFTER_S = 30.0


def _retry_after(status: int, headers: Any) -> float | None:
    """Seconds to wait before sending again a request answered 429 with Retry-After; None otherwise."""
    if status != 429:
        return None
    try:
        return min(max(float(headers.get("retry-after", "")), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return None


async def _sent(send: Callable[[], Awaitable[tuple[int, Any, R]]]) -> tuple[int, Any, R]:
    """`send()`'s (status, headers, answer), sent again after the Retry-After of a 429 (at most
    RETRIES_ON_429 times): the same rule for both transports."""
    for _ in range(RETRIES_ON_429):
        sent = await send()
        wait = _retry_after(sent[0], sent[1])
        if wait is None:
            return sent
        await asyncio.sleep(wait)
    return await send()


def _error(status: int, content: bytes) -> errors.ApiError:
    """The `ApiError` of an error answer (its Status decoded when it is one)."""
    try:
        body = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        body = None
    return errors.from_response(status, body, content.decode("utf-8", "replace"))


def kubeconfig(path: str | os.PathLike[str] | None = None, context: str | None = None) -> SingleConfig:
    """One context of a kubeconfig: `path`, else the first existing file of $KUBECONFIG, else
    ~/.kube/config; `context`, else the file's current context. (kubectl merges every file of $KUBECONFIG;
    Berth reads one.)"""
    if path is None:
        listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        existing = [p for p in listed if Path(p).expanduser().is_file()]
        path = existing[0] if existing else (listed[0] if listed else DEFAULT_KUBECONFIG)
    try:
        config = KubeConfig.from_file(path).get(context)
    except LightkubeConfigError as exc:
        raise errors.ConfigError(f"kubeconfig {path}: {exc}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable, not YAML, missing sections
        raise errors.ConfigError(f"kubeconfig {path} is not usable: {exc!r}") from exc
    if config is None:
        raise errors.ConfigError(f"kubeconfig {path} has no current context; pass context=")
    return config


def service_account() -> SingleConfig:
    """The pod's service account (token, CA, namespace) and the cluster's in-cluster address."""
    try:
        config = KubeConfig.from_service_account().get()
    except (LightkubeConfigError, KeyError) as exc:
        raise errors.ConfigError(f"not running in a cluster (no service account or KUBERNETES_SERVICE_HOST): "
                                 f"{exc}") from exc
    assert config is not None
    return config


def in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (Path(SERVICE_ACCOUNT) / "token").is_file()


def _transport_error(method: str, path: str, exc: Exception) -> errors.Unreachable:
    return errors.Unreachable(f"{method} {path}: {type(exc).__name__}: {exc}".rstrip(": "))


class Wire:
    """JSON over one lightkube connection: `request` for single answers, `stream` for watch lines."""

    def __init__(self, config: SingleConfig, *, timeout: float = 30.0, unix: str | None = None) -> None:
        """`unix`: the API server's local socket (`berth up`'s components), for the requests and watches
        that go through `berth.client._http`."""
        if config.user is None:  # lightkube refuses a context without a user ("Missing user")
            config = config._replace(user=User())
        self.config = config
        self._lk = AsyncClient(config, timeout=httpx2.Timeout(timeout))
        self._generic: GenericAsyncClient = self._lk._client
        self._stream_timeout = httpx2.Timeout(timeout, read=None)
        self._fast = (self._lean_pool(config, timeout, unix) if _http.usable(config.cluster.server, config.user)
                      else None)

    @staticmethod
    def _lean_pool(config: SingleConfig, timeout: float, unix: str | None = None) -> _http.Pool:
        """`berth.client._http` for this configuration: the same TLS context and credentials lightkube uses."""
        server, user = config.cluster.server, config.user
        context = verify_cluster(config.cluster, user or User(), config.abs_file) if server.startswith("https") else None
        token = user.token if user is not None else None
        token_file = (Path(config.abs_file(user.token_file)) if user is not None and user.token_file and not token
                      else None)
        return _http.Pool(server, context, f"Bearer {token}" if token else None, token_file, timeout, unix)

    @property
    def server(self) -> str:
        return self.config.cluster.server

    def as_bearer(self, token: str | None, *, timeout: float = 30.0) -> Wire:
        """A new connection to the same cluster (address, CA) that presents `token` instead of this
        configuration's credentials; None presents none (the server then answers as to an anonymous caller)."""
        return Wire(self.config._replace(user=User(token=token) if token else User()), timeout=timeout)

    @property
    def namespace(self) -> str:
        return self.config.namespace

    @property
    def bearer_token(self) -> str | None:
        """The kubeconfig user's bearer token (from `token` or `tokenFile`), None when it has none."""
        user = self.config.user
        if user is None:
            return None
        if user.token_file:
            try:
                return Path(self.config.abs_file(user.token_file)).read_text().strip()
            except OSError as exc:
                raise errors.ConfigError(f"token file {user.token_file}: {exc.strerror or exc}") from exc
        return user.token

    def socket_settings(self) -> tuple[str, dict[str, str], ssl.SSLContext | None]:
        """What a WebSocket to this API server needs (streaming into pods): its base URL (ws:// or wss://),
        the Authorization header, and the TLS context (the cluster's CA, the user's client certificate).
        Credentials that come from an exec plugin are not supported here: ConfigError says so."""
        config, user = self.config, self.config.user
        if user is not None and user.exec is not None and not (user.token or user.token_file):
            raise errors.ConfigError("the kubeconfig's user gets its token from an exec plugin, which Berth's "
                                     "streaming commands do not run; use a context with a token or certificate")
        headers: dict[str, str] = {}
        token = self.bearer_token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif user is not None and user.username and user.password:
            import base64

            pair = base64.b64encode(f"{user.username}:{user.password}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        server = config.cluster.server.rstrip("/")
        if server.startswith("https://"):
            context = verify_cluster(config.cluster, user or User(), config.abs_file)
            return "wss://" + server[len("https://"):], headers, context
        return "ws://" + server.removeprefix("http://"), headers, None

    def _build(self, method: str, path: str, params: dict[str, Any] | None, body: Any,
               content_type: str | None, timeout: httpx2.Timeout | None = None) -> httpx2.Request:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        headers = {"Content-Type": content_type} if content_type else None
        return self._generic.build_adapter_request(
            BasicRequest(method=method, url=path.lstrip("/"), params=clean, data=body, headers=headers,
                         timeout=timeout))

    def _check(self, response: httpx2.Response) -> None:
        """Raise the `ApiError` for an error answer, chained to lightkube's."""
        if response.status_code < 400:
            return
        error = _error(response.status_code, response.content)
        try:
            self._generic.raise_for_status(response)
        except (LightkubeApiError, httpx2.HTTPStatusError) as exc:
            raise error from exc
        except Exception as exc:  # lightkube could not decode the Status; ours is still right
            raise error from exc
        raise error

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                      content_type: str | None = None) -> Any:
        """Send one request; the decoded JSON answer, or an `ApiError` / `Unreachable`."""
        if self._fast is not None:
            return await self._lean_request(method, path, params, body, content_type)

        async def send() -> tuple[int, Any, httpx2.Response]:
            try:
                response = await self._generic.send(self._build(method, path, params, body, content_type))
            except httpx2.TransportError as exc:
                raise _transport_error(method, path, exc) from exc
            return response.status_code, response.headers, response

        *_, response = await _sent(send)
        self._check(response)
        return orjson.loads(response.content) if response.content else None

    async def _lean_request(self, method: str, path: str, params: dict[str, Any] | None, body: Any,
                            content_type: str | None) -> Any:
        assert self._fast is not None
        fast, data = self._fast, None if body is None else orjson.dumps(body)

        async def send() -> tuple[int, Any, _http.Answer]:
            try:
                answer = await fast.request(method, path, params, data, content_type)
            except (OSError, TimeoutError) as exc:  # refused, reset, closed, TLS, timed out
                raise _transport_error(method, path, exc) from exc
            return answer.status, answer.headers, answer

        status, _, answer = await _sent(send)
        if status >= 400:
            raise _error(status, answer.body)
        return orjson.loads(answer.body) if answer.body else None

    async def _lean_stream(self, path: str, params: dict[str, Any]) -> AsyncIterator[bytes]:
        """The body of one GET as it arrives, through `berth.client._http`."""
        assert self._fast is not None
        try:
            async with self._fast.stream(path, params) as (answer, chunks):
                if answer.status >= 400:
                    raise _error(answer.status, b"".join([chunk async for chunk in chunks]))
                async for chunk in chunks:
                    yield chunk
        except (OSError, TimeoutError) as exc:
            raise _transport_error("GET", path, exc) from exc

    @contextlib.asynccontextmanager
    async def _streaming(self, path: str, params: dict[str, Any]) -> AsyncIterator[httpx2.Response]:
        """One GET whose body is read as it comes: the response once its status is known good; an error
        answer raised as `ApiError`, a broken connection (also while reading) as `Unreachable`."""
        request = self._build("GET", path, params, None, None, self._stream_timeout)
        try:
            response = await self._generic.send(request, stream=True)
        except httpx2.TransportError as exc:
            raise _transport_error("GET", path, exc) from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                self._check(response)
            yield response
        except httpx2.TransportError as exc:
            raise _transport_error("GET", path, exc) from exc
        finally:
            await response.aclose()

    async def stream(self, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The JSON lines of one watch request until the server ends it; close the iterator to hang up."""
        if self._fast is not None:
            rest = b""
            async with contextlib.aclosing(self._lean_stream(path, params)) as chunks:
                async for chunk in chunks:
                    *lines, rest = (rest + chunk).split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield orjson.loads(line)
            if rest.strip():
                yield orjson.loads(rest)
            return
        async with self._streaming(path, params) as response:
            async for line in response.aiter_lines():
                if line.strip():
                    yield orjson.loads(line)

    async def stream_bytes(self, path: str, params: dict[str, Any]) -> AsyncIterator[bytes]:
        """The body of one GET as it arrives (a followed pod log); close the iterator to hang up."""
        if self._fast is not None:
            async with contextlib.aclosing(self._lean_stream(path, params)) as chunks:
                async for chunk in chunks:
                    if chunk:
                        yield chunk
            return
        async with self._streaming(path, params) as response:
            async for chunk in response.aiter_bytes():
                if chunk:
                    yield chunk

    async def close(self) -> None:
        if self._fast is not None:
            await self._fast.close()
        await self._lk.close()
