"""SPDY/3.1 framing, as much of it as Kubernetes' port-forward needs: kubectl 1.31 and later tunnel a SPDY
session inside a WebSocket (subprotocol `SPDY/3.1+portforward.k8s.io`, each WebSocket message a piece of
the byte stream), and open two SPDY streams per forwarded connection. Pure: bytes in, frames out, and back;
`berth.client.spdysession` runs streams over it.

Written from the SPDY/3.1 specification (draft-mbelshe-httpbis-spdy-00 and the 3.1 changes):

    control frame   1 bit 1 | 15 bits version (3) | 16 bits type | 8 bits flags | 24 bits length | payload
    data frame      1 bit 0 | 31 bits stream id | 8 bits flags (FIN = 1) | 24 bits length | data

    SYN_STREAM (1)     stream id, associated stream id, priority (3 bits) and slot, header block
    SYN_REPLY (2)      stream id, header block
    RST_STREAM (3)     stream id, status
    SETTINGS (4)       entries (read and ignored: Berth keeps no limits to negotiate)
    PING (6)           id, answered with the same id when the peer sent it
    GOAWAY (7)         last stream id, status
    HEADERS (8)        stream id, header block
    WINDOW_UPDATE (9)  stream id, delta

A header block is a count, then each name and value with a 32-bit length before it; it is zlib-compressed,
one compression context per direction for the whole connection, primed with SPDY/3's dictionary and
flushed (Z_SYNC_FLUSH) after each block. Names are lower case; several values of one name are joined
with NUL.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
#: RST_STREAM status codes used here.
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 2, 3, 5, 6
MAX_LENGTH = (1 << 24) - 1

# The SPDY/3 header compression dictionary (section 2.6.10.1): length-prefixed common header names and
# values, then a run of status codes, reason phrases, dates and media types.
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
    "age allow authorization cache-control connection content-base content-encoding content-language "
    "content-length content-location content-md5 content-range content-type date etag expect expires from host "
    "if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location max-forwards "
    "pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()

Headers = dict[str, str]


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1; the session cannot go on."""


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False
    associated: int = 0
    priority: int = 0


@dataclass(frozen=True)
class _StreamHeaders:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


class SynReply(_StreamHeaders):
    """The answer to a SYN_STREAM: the stream is open both ways."""


class HeadersFrame(_StreamHeaders):
    """More headers for an open stream."""


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int = CANCEL


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...] = ()  # (flags, id, value)


@dataclass(frozen=True)
class Ping:
    id: int


@dataclass(frozen=True)
class GoAway:
    last_stream_id: int = 0
    status: int = 0


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


Frame = Data | SynStream | SynReply | HeadersFrame | RstStream | Settings | Ping | GoAway | WindowUpdate


def pack_headers(headers: Headers) -> bytes:
    """A header block, uncompressed."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        raw_name, raw_value = name.lower().encode(), value.encode()
        out += [struct.pack(">I", len(raw_name)), raw_name, struct.pack(">I", len(raw_value)), raw_value]
    return b"".join(out)


def unpack_headers(block: bytes) -> Headers:
    """A header block's names (lower case) and values; ProtocolError when it does not add up."""
    try:
        (count,), at = struct.unpack_from(">I", block), 4
        headers: Headers = {}
        for _ in range(count):
            (size,) = struct.unpack_from(">I", block, at)
            name = block[at + 4:at + 4 + size].decode()
            at += 4 + size
            (size,) = struct.unpack_from(">I", block, at)
            value = block[at + 4:at + 4 + size].decode()
            at += 4 + size
            if at > len(block):
                raise ProtocolError("a header block ends in the middle of a name or value")
            headers[name.lower()] = value
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProtocolError(f"a header block cannot be read: {exc}") from None
    return headers


class Codec:
    """One end of a SPDY session's byte stream: `encode` frames to send, `feed` bytes received and get
    the whole frames among them. Holds the two header compression contexts of the connection."""

    def __init__(self) -> None:
        self._compress = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)
        self._buffer = bytearray()

    # -- sending ------------------------------------------------------------------------------------

    def _block(self, headers: Headers) -> bytes:
        return self._compress.compress(pack_headers(headers)) + self._compress.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control(kind: int, flags: int, payload: bytes) -> bytes:
        if len(payload) > MAX_LENGTH:
            raise ValueError("a control frame's payload is at most 16 MiB")
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, Data):
            if len(frame.data) > MAX_LENGTH:
                raise ValueError("a data frame holds at most 16 MiB")
            return struct.pack(">II", frame.stream_id & 0x7FFFFFFF,
                               ((FLAG_FIN if frame.fin else 0) << 24) | len(frame.data)) + frame.data
        fin = FLAG_FIN if getattr(frame, "fin", False) else 0
        if isinstance(frame, SynStream):
            payload = struct.pack(">IIBB", frame.stream_id, frame.associated, (frame.priority & 7) << 5, 0)
            return self._control(SYN_STREAM, fin, payload + self._block(frame.headers))
        if isinstance(frame, SynReply):
            return self._control(SYN_REPLY, fin, struct.pack(">I", frame.stream_id) + self._block(frame.headers))
        if isinstance(frame, HeadersFrame):
            return self._control(HEADERS, fin, struct.pack(">I", frame.stream_id) + self._block(frame.headers))
        if isinstance(frame, RstStream):
            return self._control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">II", (flags << 24) | ident, value) for flags, ident, value in frame.entries)
            return self._control(SETTINGS, 0, body)
        if isinstance(frame, Ping):
            return self._control(PING, 0, struct.pack(">I", frame.id))
        if isinstance(frame, GoAway):
            return self._control(GOAWAY, 0, struct.pack(">II", frame.last_stream_id, frame.status))
        if isinstance(frame, WindowUpdate):
            return self._control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))
        raise TypeError(f"not a SPDY frame: {frame!r}")

    # -- receiving ----------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Frame]:
        """The whole frames completed by `data` (a frame cut between two pieces waits for the rest).
        Frames of types Berth does not use are skipped; ProtocolError for what is not SPDY/3."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from(">II", self._buffer)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            flags = second >> 24
            if not first & 0x80000000:
                frames.append(Data(first & 0x7FFFFFFF, payload, bool(flags & FLAG_FIN)))
                continue
            version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
            if version != VERSION:
                raise ProtocolError(f"SPDY version {version} is not spoken here (only 3)")
            decoded = self._decode(kind, flags, payload)
            if decoded is not None:
                frames.append(decoded)
        return frames

    def _headers(self, block: bytes) -> Headers:
        try:
            return unpack_headers(self._decompress.decompress(block))
        except zlib.error as exc:
            raise ProtocolError(f"a header block cannot be decompressed: {exc}") from None

    def _decode(self, kind: int, flags: int, payload: bytes) -> Frame | None:
        fin = bool(flags & FLAG_FIN)
        try:
            if kind == SYN_STREAM:
                stream_id, associated, priority = struct.unpack_from(">IIB", payload)
                return SynStream(stream_id & 0x7FFFFFFF, self._headers(payload[10:]), fin, associated & 0x7FFFFFFF,
                                 priority >> 5)
            if kind in (SYN_REPLY, HEADERS):
                (stream_id,) = struct.unpack_from(">I", payload)
                kind_of = SynReply if kind == SYN_REPLY else HeadersFrame
                return kind_of(stream_id & 0x7FFFFFFF, self._headers(payload[4:]), fin)
            if kind == RST_STREAM:
                stream_id, status = struct.unpack_from(">II", payload)
                return RstStream(stream_id & 0x7FFFFFFF, status)
            if kind == SETTINGS:
                (count,) = struct.unpack_from(">I", payload)
                entries = []
                for index in range(count):
                    head, value = struct.unpack_from(">II", payload, 4 + 8 * index)
                    entries.append((head >> 24, head & 0xFFFFFF, value))
                return Settings(tuple(entries))
            if kind == PING:
                return Ping(struct.unpack_from(">I", payload)[0])
            if kind == GOAWAY:
                last, status = struct.unpack_from(">II", payload) if len(payload) >= 8 else (
                    struct.unpack_from(">I", payload)[0], 0)
                return GoAway(last & 0x7FFFFFFF, status)
            if kind == WINDOW_UPDATE:
                stream_id, delta = struct.unpack_from(">II", payload)
                return WindowUpdate(stream_id & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        except struct.error:
            raise ProtocolError(f"a control frame of type {kind} is too short") from None
        return None  # NOOP, CREDENTIAL and unknown types: skipped, as the specification asks
