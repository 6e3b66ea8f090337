"""The link between the components' Prometheus series and the API server's `/metrics`.

The scheduler and controllers run in `berth up`'s child process (`berth.controlplane`), so their series live
in that process's registry. The child serves it on a loopback port of its own (`serve`), writes the port to
`<data-dir>/components-metrics.port` (replaced atomically; `berth up` removes it before each start of the
child, so a port of an earlier child is never read), and answers only requests that carry the secret `berth
up` handed it in the environment (`SECRET_ENV`): other local users cannot read it. The API server fetches it
per scrape with a short timeout (`fetcher`) and appends it to its own series; when the child is down or slow,
the answer is None and `/metrics` says `berth_components_up 0`.

Deliberately tiny HTTP/1.0 on asyncio streams: one GET, one answer, the connection closed; nothing else is
served there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

PORT_FILE = "components-metrics.port"
SECRET_ENV = "BERTH_COMPONENTS_METRICS_SECRET"
#: How long a scrape waits for the components; Prometheus' default scrape timeout is 10 s.
FETCH_TIMEOUT_S = 2.0
_HEAD_LIMIT = 8192


def port_file(data_dir: Path) -> Path:
    return data_dir / PORT_FILE


async def serve(registry: CollectorRegistry, data_dir: Path, secret: str) -> None:
    """Serve `registry` on 127.0.0.1 (a port of the kernel's choosing, written to the port file) until
    cancelled."""
    expected = f"Bearer {secret}".encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            lines = head.split(b"\r\n")
            authorized = any(hmac.compare_digest(line.partition(b":")[2].strip(), expected)
                             for line in lines[1:] if line.lower().startswith(b"authorization:"))
            if not lines[0].startswith(b"GET /metrics "):
                status, body = b"404 Not Found", b""
            elif not authorized:
                status, body = b"401 Unauthorized", b""
            else:
                try:
                    status, body = b"200 OK", generate_latest(registry)
                except Exception:  # noqa: BLE001 - a collector's bug: this scrape goes without, the next tries
                    log.exception("components' metrics: a collector failed")
                    status, body = b"500 Internal Server Error", b""
            writer.write(b"HTTP/1.0 " + status + b"\r\nContent-Type: text/plain; version=0.0.4\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, limit=_HEAD_LIMIT)
    port = server.sockets[0].getsockname()[1]
    target = port_file(data_dir)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(f"{port}\n")
    os.replace(temporary, target)
    async with server:
        await server.serve_forever()


def fetcher(data_dir: Path, secret: str, timeout: float = FETCH_TIMEOUT_S) -> Callable[[], Awaitable[bytes | None]]:
    """What the API server calls per scrape: the components' exposition text, or None when they do not answer
    in time (not started yet, restarting, stopped, or busy)."""

    async def fetch() -> bytes | None:
        try:
            port = int(port_file(data_dir).read_text().strip())
            return await asyncio.wait_for(_get(port, secret), timeout)
        except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            log.debug("components' metrics not fetched: %s", exc)
            return None

    return fetch


async def _get(port: int, secret: str) -> bytes | None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /metrics HTTP/1.0\r\nAuthorization: Bearer {secret}\r\n\r\n".encode())
        await writer.drain()
        reply = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = reply.partition(b"\r\n\r\n")
    return body if head.startswith(b"HTTP/1.0 200 ") else None
