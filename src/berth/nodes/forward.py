"""Forwarding one TCP connection to another address, both ways, for what stands between a client and a
pod on the local node: a service's port (`berth.nodes.serviceproxy`) and a serving pod's meter
(`berth.nodes.meter`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

CHUNK = 65536
Observer = Callable[[bytes], None]


def _ignore(data: bytes) -> None:
    pass


async def splice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int, *,
                 from_client: Observer = _ignore, from_server: Observer = _ignore) -> bool:
    """Connect to host:port and copy bytes both ways until both directions have ended, then close both
    connections; the observers see every piece (and b"" when their direction ends). False, the client's
    connection left open, when nothing accepts at host:port."""
    try:
        up_reader, up_writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    except asyncio.CancelledError:
        writer.close()
        raise
    try:
        await asyncio.gather(pipe(reader, up_writer, from_client), pipe(up_reader, writer, from_server))
    finally:
        up_writer.close()
        writer.close()
    return True


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, observe: Observer = _ignore) -> None:
    """Copy `source` to `sink` until `source` ends (`observe` sees each piece, and b"" at the end), then end
    `sink`'s writing half, so that the other side sees the end too."""
    try:
        while data := await source.read(CHUNK):
            observe(data)
            sink.write(data)
            await sink.drain()
        observe(b"")
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        with contextlib.suppress(Exception):
            sink.close()
