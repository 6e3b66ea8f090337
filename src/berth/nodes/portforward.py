"""`port-forward` on the local node: the SPDY session kubectl tunnels in a WebSocket
(`berth.client.spdysession`), with each forwarded connection relayed to the pod's port on this machine.

kubectl opens two streams per connection it accepts, with the same `requestID` and `port` headers: an
`error` stream (what goes wrong is written there, then it ends) and a `data` stream (the bytes). A pod's
port is reached where the node put it: the host port in its annotation `run.ai/host-ports` for a declared
containerPort, else the same port number on 127.0.0.1 (a process listens on this machine's ports: nothing
stands in between).

A connection ends when the pod's side closes it: the data stream gets its FIN, then the error stream, and
kubectl closes its local connection. The client's FIN on the data stream half-closes the pod's side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from berth.api.wellknown import host_ports
from berth.client import spdy
from berth.client.spdysession import Session, Stream, StreamReset

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"


def target_port(pod: dict[str, Any], port: int) -> int:
    """Where the pod's `port` is reached on this machine."""
    return host_ports(pod).get(str(port), port)


async def serve(ws: ServerConnection, pod: dict[str, Any]) -> None:
    """Answer the streams of one port-forward session until the client ends it."""

    async def send(data: bytes) -> None:
        await ws.send(data)

    session = Session(send, client=False)

    async def read() -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    await session.receive(message)
        except (ConnectionClosed, ConnectionError):
            pass
        except spdy.ProtocolError as exc:
            log.warning("port-forward to pod %s: %s", pod.get("metadata", {}).get("name"), exc)
        finally:
            session.end()

    reading = asyncio.create_task(read())
    pairs: dict[str, dict[str, Stream]] = {}
    forwards: set[asyncio.Task[None]] = set()
    try:
        while (stream := await session.accept()) is not None:
            with contextlib.suppress(ConnectionError):
                await session.reply(stream)
            kind, request = stream.headers.get("streamtype", ""), stream.headers.get("requestid", "")
            if kind not in ("error", "data"):
                await stream.reset(spdy.PROTOCOL_ERROR)
                continue
            pair = pairs.setdefault(request, {})
            pair[kind] = stream
            if len(pair) == 2:
                del pairs[request]
                task = asyncio.create_task(forward(pod, pair["error"], pair["data"]))
                forwards.add(task)
                task.add_done_callback(forwards.discard)
    finally:
        for task in (reading, *forwards):
            task.cancel()
        await asyncio.gather(reading, *forwards, return_exceptions=True)


async def forward(pod: dict[str, Any], error: Stream, data: Stream) -> None:
    """Relay one connection between `data` and the pod's port; what fails is told on `error`."""
    name = (pod.get("metadata") or {}).get("name", "")
    raw = data.headers.get("port", "")
    try:
        port = int(raw)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        await _fail(error, data, f'invalid port header "{raw}": a port number from 1 to 65535')
        return
    target = target_port(pod, port)
    try:
        reader, writer = await asyncio.open_connection(LOCALHOST, target)
    except OSError as exc:
        await _fail(error, data, f"error forwarding port {port} to pod {name}: dial tcp {LOCALHOST}:{target}: "
                    f"{exc.strerror or exc} (does the pod listen on port {port}?)")
        return

    async def upward() -> None:  # client -> pod
        while chunk := await data.read():
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    going_up = asyncio.create_task(upward())
    try:
        while chunk := await reader.read(65536):
            await data.write(chunk)
    except (OSError, ConnectionError, StreamReset):
        pass
    finally:
        await data.close()
        await error.close()
        going_up.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError, ConnectionError, StreamReset):
            await going_up
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _fail(error: Stream, data: Stream, message: str) -> None:
    with contextlib.suppress(ConnectionError, StreamReset):
        await error.write(message.encode())
        await error.close()
        await data.close()
