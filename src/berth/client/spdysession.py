"""A SPDY/3.1 session over any byte transport (for Berth: the messages of a WebSocket), with the streams
that Kubernetes' port-forward opens: the node answers them (`berth.nodes.portforward`), the `berth` CLI
opens them (`berth port-forward`). Framing is `berth.client.spdy`.

The transport is two callables: `send(bytes)` and, from the caller's reading loop, `receive(bytes)`; the
caller calls `end()` when the transport is gone. Frames are encoded and sent under one lock, because the
header compression context must see the blocks in the order they go out.

What is left out, on purpose: flow control is not enforced on sending (kubectl's SPDY library does not
enforce it either), but every DATA frame received is acknowledged with a WINDOW_UPDATE, so a peer that
does enforce it never stalls; priorities are ignored; server push (associated streams) is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from berth.client import spdy

CHUNK = 32 * 1024
REPLY_TIMEOUT_S = 30.0


class StreamReset(Exception):
    """The stream was reset (RST_STREAM) or its session ended before it finished."""


class Stream:
    """One SPDY stream: its headers, the data the peer sends (`read`), and a way to send (`write`,
    `close` to half-close with FIN, `reset`)."""

    def __init__(self, session: Session, stream_id: int, headers: spdy.Headers) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self.reply_headers: spdy.Headers = {}
        self.replied = asyncio.Event()
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._ended = False  # the peer's side has finished (FIN, reset, or the session is gone)
        self.closed = False  # our side has finished
        self.was_reset = False

    async def read(self) -> bytes:
        """The next data the peer sent; b"" once it has finished (FIN), or was reset."""
        if self._ended and self._chunks.empty():
            return b""
        chunk = await self._chunks.get()
        if chunk is None:
            self._ended = True
            return b""
        await self.session.acknowledge(self.id, len(chunk))
        return chunk

    async def write(self, data: bytes) -> None:
        if self.closed:
            raise StreamReset(f"stream {self.id} is closed for writing")
        for start in range(0, len(data), CHUNK):
            await self.session.send(spdy.Data(self.id, data[start:start + CHUNK]))

    async def close(self) -> None:
        """Half-close: we send no more (FIN); the peer may go on sending."""
        if not self.closed:
            self.closed = True
            with contextlib.suppress(ConnectionError, StreamReset):
                await self.session.send(spdy.Data(self.id, b"", fin=True))
        self.session.forget_if_done(self)

    async def reset(self, status: int = spdy.CANCEL) -> None:
        self.closed = True
        self._finish()
        with contextlib.suppress(ConnectionError, StreamReset):
            await self.session.send(spdy.RstStream(self.id, status))
        self.session.forget_if_done(self)

    # -- fed by the session ---------------------------------------------------------------------------

    def _deliver(self, data: bytes, fin: bool) -> None:
        if data:
            self._chunks.put_nowait(data)
        if fin:
            self._finish()

    def _finish(self) -> None:
        if not self._ended:
            self._ended = True
            self._chunks.put_nowait(None)
        self.replied.set()

    @property
    def finished(self) -> bool:
        return self._ended and self.closed


class Session:
    """Streams over one transport; `client` opens odd stream ids, the server even ones (SPDY's rule)."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], *, client: bool) -> None:
        self._send = send
        self.codec = spdy.Codec()
        self.client = client
        self._next_id = 1 if client else 2
        self._next_ping = 1 if client else 2
        self.streams: dict[int, Stream] = {}
        self._incoming: asyncio.Queue[Stream | None] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self.ended = False

    async def send(self, frame: spdy.Frame) -> None:
        if self.ended:
            raise ConnectionError("the SPDY session has ended")
        async with self._lock:
            await self._send(self.codec.encode(frame))

    async def acknowledge(self, stream_id: int, size: int) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send(spdy.WindowUpdate(stream_id, size))

    # -- streams --------------------------------------------------------------------------------------

    async def open(self, headers: spdy.Headers, timeout: float = REPLY_TIMEOUT_S) -> Stream:
        """A new stream with `headers`, once the peer has replied; StreamReset when it refused it."""
        async with self._lock:  # the id and the frame go out in order: ids must increase on the wire
            if self.ended:
                raise ConnectionError("the SPDY session has ended")
            stream = Stream(self, self._next_id, headers)
            self._next_id += 2
            self.streams[stream.id] = stream
            await self._send(self.codec.encode(spdy.SynStream(stream.id, headers)))
        try:
            await asyncio.wait_for(stream.replied.wait(), timeout)
        except asyncio.TimeoutError:
            await stream.reset()
            raise StreamReset(f"no reply to stream {stream.id} within {timeout:g} s") from None
        if stream.was_reset:
            raise StreamReset(f"the peer refused stream {stream.id}")
        if self.ended:
            raise StreamReset(f"the session ended before stream {stream.id} was answered")
        return stream

    async def reply(self, stream: Stream, headers: spdy.Headers | None = None) -> None:
        await self.send(spdy.SynReply(stream.id, headers or {}))

    async def accept(self) -> Stream | None:
        """The next stream the peer opened; None once the session has ended."""
        if self.ended and self._incoming.empty():
            return None
        return await self._incoming.get()

    async def ping(self) -> None:
        ident, self._next_ping = self._next_ping, self._next_ping + 2
        await self.send(spdy.Ping(ident))

    def forget_if_done(self, stream: Stream) -> None:
        if stream.finished:
            self.streams.pop(stream.id, None)

    # -- fed by the transport -------------------------------------------------------------------------

    async def receive(self, data: bytes) -> None:
        """Bytes from the transport; ProtocolError ends the session (the caller closes the transport)."""
        for frame in self.codec.feed(data):
            await self._handle(frame)

    async def _handle(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.Data):
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                await self.send(spdy.RstStream(frame.stream_id, spdy.INVALID_STREAM))
                return
            stream._deliver(frame.data, frame.fin)
            self.forget_if_done(stream)
        elif isinstance(frame, spdy.SynStream):
            if frame.associated or frame.stream_id in self.streams or (frame.stream_id % 2 == 1) != (not self.client):
                await self.send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))
                return
            stream = Stream(self, frame.stream_id, frame.headers)
            self.streams[stream.id] = stream
            if frame.fin:
                stream._deliver(b"", True)
            self._incoming.put_nowait(stream)
        elif isinstance(frame, spdy.SynReply | spdy.HeadersFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                return
            stream.reply_headers.update(frame.headers)
            stream.replied.set()
            if frame.fin:
                stream._deliver(b"", True)
        elif isinstance(frame, spdy.RstStream):
            stream = self.streams.pop(frame.stream_id, None)
            if stream is not None:
                stream.was_reset = stream.closed = True
                stream._finish()
        elif isinstance(frame, spdy.Ping):
            if (frame.id % 2 == 1) != self.client:  # the peer's ping: answer it
                await self.send(frame)
        elif isinstance(frame, spdy.GoAway):
            self.end()
        # SETTINGS and WINDOW_UPDATE: nothing to do (see the module's docstring)

    def end(self) -> None:
        """The transport is gone: every stream ends, `accept` answers None."""
        if self.ended:
            return
        self.ended = True
        for stream in list(self.streams.values()):
            stream.closed = True
            stream._finish()
        self.streams.clear()
        self._incoming.put_nowait(None)
