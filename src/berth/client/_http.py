"""A lean HTTP/1.1 client for what Berth's components send most: JSON requests and watch streams to one API
server, with a bearer token or a client certificate.

Why it exists: profiling a fill of 2,000 workloads through `berth up` (benchmarks/profile_fill.py) found
three quarters of the components' CPU in the general-purpose HTTP stack under lightkube (httpx, httpcore,
anyio, h11: per request, a pool that polls every idle socket, cancel scopes, header validation), not in
the controllers, scheduler or nodes. This module does only what those requests need, on asyncio's own
transports: keep-alive connections (a `Pool` per server), TLS from the kubeconfig's context, httptools'
C parser (the one uvicorn uses on the server side), bodies by Content-Length or chunked, streamed bodies
handed over as they arrive.

`berth.client._wire.Wire` uses it when the kubeconfig asks for nothing else (`usable`): a bearer token, a
token file (read again once on 401, as for a rotated service-account token), a client certificate, or
no credentials; no proxy. Exec plugins, basic auth, auth providers and proxies go through lightkube.

`berth up`'s components reach their API server over a local Unix socket instead (`unix=`: plain HTTP,
the same token; `berth.apiserver.startup.listen_local` says why).

A request that fails on a reused connection before any byte of an answer came back is sent once more on a
new one: the server closed that idle connection (uvicorn does after 5 s) without reading the request, as
Go's net/http assumes in the same case.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httptools

MAX_IDLE = 32  # idle connections kept per pool
PAUSE_AT = 64  # streamed chunks waiting to be read before the connection stops reading from the socket


class Closed(ConnectionError):
    """The connection ended before the answer did."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class _Pending:
    """One request's answer as the parser reads it."""

    headers_done: asyncio.Future[None]
    done: asyncio.Future[None]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    chunks: asyncio.Queue[bytes | None] | None = None
    started: bool = False  # a byte of the answer came


class _Connection(asyncio.Protocol):
    """One keep-alive connection: answers one request at a time, parsed as the bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self._parser: httptools.HttpResponseParser | None = None  # one per request (`send`)
        self._pending: _Pending | None = None
        self._paused = False

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        pending = self._pending
        if pending is None:  # bytes nobody asked for: the connection cannot be trusted again
            self.close()
            return
        pending.started = True
        assert self._parser is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(Closed(f"unreadable answer: {exc}"))
            self.close()

    def eof_received(self) -> bool | None:
        self.closed = True
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(Closed(f"connection closed{': ' + str(exc) if exc else ' by the server'}"))

    # -- httptools callbacks ------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._pending is not None
        self._pending.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        pending = self._pending
        assert pending is not None
        assert self._parser is not None
        pending.status = self._parser.get_status_code()
        if not pending.headers_done.done():
            pending.headers_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        pending = self._pending
        assert pending is not None
        if pending.chunks is None:
            pending.body.append(body)
            return
        pending.chunks.put_nowait(body)
        if pending.chunks.qsize() >= PAUSE_AT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        pending = self._pending
        assert pending is not None and self._parser is not None
        self.reusable = self._parser.should_keep_alive()
        if pending.chunks is not None:
            pending.chunks.put_nowait(None)
        if not pending.done.done():
            pending.done.set_result(None)

    # -- requests -----------------------------------------------------------------------------------

    def send(self, head: bytes, body: bytes | None, streamed: bool) -> _Pending:
        loop = asyncio.get_running_loop()
        pending = _Pending(loop.create_future(), loop.create_future(), chunks=asyncio.Queue() if streamed else None)
        self._pending, self.reusable = pending, False
        self._parser = httptools.HttpResponseParser(self)
        if self.closed or self.transport is None or self.transport.is_closing():
            self._fail(Closed("connection closed by the server"))
        else:
            self.transport.write(head + body if body else head)
        return pending

    def consumed(self) -> None:
        """The reader took chunks: read from the socket again if it was paused."""
        pending = self._pending
        if self._paused and pending is not None and pending.chunks is not None \
                and pending.chunks.qsize() < PAUSE_AT // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def finished(self) -> bool:
        """The answer is complete and the connection may carry another request."""
        pending = self._pending
        return pending is not None and pending.done.done() and pending.done.exception() is None \
            and self.reusable and not self.closed

    def _fail(self, exc: Exception) -> None:
        pending = self._pending
        if pending is None:
            return
        for future in (pending.headers_done, pending.done):
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: whoever waits sees it, nobody else is warned
        if pending.chunks is not None:
            pending.chunks.put_nowait(None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _query(params: dict[str, Any] | None) -> str:
    """Query parameters as Kubernetes reads them: booleans as true/false, lists repeated, None left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None:
                continue
            pairs.append((key, "true" if item is True else "false" if item is False else str(item)))
    return urlencode(pairs)


class Pool:
    """Keep-alive connections to one server; `request` and `stream` speak HTTP/1.1 over them."""

    def __init__(self, server: str, context: ssl.SSLContext | None, authorization: str | None = None,
                 token_file: Path | None = None, timeout: float = 30.0, unix: str | None = None) -> None:
        """`unix`: connect to this Unix socket (`@name`: in the abstract namespace) instead of the server's
        address, without TLS; requests still name `server` as their Host."""
        url = urlsplit(server)
        self._unix = None if unix is None else "\0" + unix[1:] if unix.startswith("@") else unix
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = context if url.scheme == "https" else None
        self._prefix = url.path.rstrip("/")
        self._host_header = url.netloc.rsplit("@", 1)[-1]
        self._authorization = authorization
        self._token_file = token_file
        self.timeout = timeout
        self._idle: list[_Connection] = []

    def _head(self, method: str, path: str, params: dict[str, Any] | None, content_type: str | None,
              length: int | None) -> bytes:
        query = _query(params)
        target = f"{self._prefix}/{path.lstrip('/')}" + (f"?{query}" if query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}", "User-Agent: berth",
                 "Accept: */*"]
        if self._token_file is not None and self._authorization is None:
            self._authorization = "Bearer " + self._token_file.read_text().strip()
        if self._authorization:
            lines.append(f"Authorization: {self._authorization}")
        if length is not None:
            lines += [f"Content-Type: {content_type or 'application/json'}", f"Content-Length: {length}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _connection(self) -> tuple[_Connection, bool]:
        """An idle connection (True: reused) or a new one."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn, True
        loop = asyncio.get_running_loop()
        if self._unix is not None:  # connected first: uvloop cannot connect to an abstract name itself
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, self._unix)
                _, conn = await loop.create_unix_connection(_Connection, sock=sock)
            except BaseException:
                sock.close()
                raise
        else:
            _, conn = await loop.create_connection(_Connection, self._host, self._port, ssl=self._ssl)
        return conn, False

    async def _send(self, method: str, path: str, params: dict[str, Any] | None, body: bytes | None,
                    content_type: str | None, streamed: bool) -> tuple[_Connection, _Pending]:
        """Send one request; the connection and its answer once the headers came (retrying once, on a new
        connection, a request whose reused connection had been closed by the server unread). The caller
        hands the connection back with `_release` once done with it."""
        head = self._head(method, path, params, content_type, None if body is None else len(body))
        for attempt in range(2):
            conn, reused = await self._connection()
            pending = conn.send(head, body, streamed)
            try:
                await pending.headers_done
            except Closed:
                conn.close()
                if reused and not pending.started and attempt == 0:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            return conn, pending
        raise AssertionError("not reached: the second attempt returns or raises")

    def _release(self, conn: _Connection) -> None:
        """Keep a connection whose answer ended cleanly for the next request; close any other (an answer
        cut short, a reader that hung up, a failure)."""
        if conn.finished() and len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.close()

    async def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                      body: bytes | None = None, content_type: str | None = None) -> Answer:
        """One request and its whole answer (TimeoutError after `timeout` seconds, Closed, OSError)."""
        async with asyncio.timeout(self.timeout):
            for attempt in range(2):
                conn, pending = await self._send(method, path, params, body, content_type, streamed=False)
                try:
                    await pending.done
                finally:
                    self._release(conn)
                if pending.status == 401 and self._token_file is not None and attempt == 0:
                    self._authorization = None  # a rotated token: read the file again, once
                    continue
                break
        return Answer(pending.status, pending.headers, b"".join(pending.body))

    @contextlib.asynccontextmanager
    async def stream(self, path: str, params: dict[str, Any] | None = None
                     ) -> AsyncIterator[tuple[Answer, AsyncIterator[bytes]]]:
        """A GET whose body is read as it arrives: its status and headers, and the body's chunks."""
        async with asyncio.timeout(self.timeout):  # for the headers; a watch then runs as the server says
            conn, pending = await self._send("GET", path, params, None, None, streamed=True)

        async def chunks() -> AsyncIterator[bytes]:
            assert pending.chunks is not None
            while True:
                chunk = await pending.chunks.get()
                conn.consumed()
                if chunk is None:
                    if pending.done.done():
                        pending.done.result()  # the connection broke before the answer ended: Closed
                        return
                    raise Closed("connection closed before the answer ended")
                yield chunk

        try:
            yield Answer(pending.status, pending.headers), chunks()
        finally:
            self._release(conn)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def usable(server: str, user: Any) -> bool:
    """Whether this module can speak to `server` as `user` (a lightkube `User`, or None): see the module
    docstring for what it leaves to lightkube."""
    url = urlsplit(server)
    if url.scheme not in ("http", "https") or url.username or url.query:
        return False
    if user is not None and (user.exec is not None or user.auth_provider or user.username or user.password):
        return False
    proxies = urllib.request.getproxies()
    return not (proxies.get(url.scheme) or proxies.get("all")) or bool(urllib.request.proxy_bypass(url.hostname or ""))
