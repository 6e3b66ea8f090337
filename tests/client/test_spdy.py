"""SPDY/3.1 framing (`berth.client.spdy`) and streams (`berth.client.spdysession`): pure units, two ends
joined in memory. (kubectl's own SPDY is exercised by tests/apiserver/test_exec.py.)"""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from berth.client import spdy
from berth.client.spdysession import Session, StreamReset


def test_the_header_dictionary_is_spdy3s():
    # zlib names a dictionary by its Adler-32: a peer's header block only inflates with the same one.
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")


FRAMES = [
    spdy.SynStream(1, {"streamtype": "error", "port": "8080", "requestid": "0"}),
    spdy.SynReply(1, {}),
    spdy.Data(1, b"hello", fin=False),
    spdy.Data(1, b"", fin=True),
    spdy.SynStream(3, {"streamtype": "data", "port": "8080", "requestid": "0"}, fin=True),
    spdy.HeadersFrame(3, {"x": "a\x00b"}),
    spdy.RstStream(3, spdy.CANCEL),
    spdy.Settings(((0, 7, 65536),)),
    spdy.Ping(2),
    spdy.WindowUpdate(1, 5),
    spdy.GoAway(3, 0),
]


def test_frames_survive_the_wire_even_cut_into_single_bytes():
    sender, receiver = spdy.Codec(), spdy.Codec()
    wire = b"".join(sender.encode(frame) for frame in FRAMES)
    got = []
    for i in range(len(wire)):  # one byte at a time: a frame waits for its end
        got += receiver.feed(wire[i:i + 1])
    assert got == FRAMES


def test_header_blocks_share_one_compression_context_per_direction():
    sender, receiver = spdy.Codec(), spdy.Codec()
    first = sender.encode(spdy.SynStream(1, {"port": "80"}))
    second = sender.encode(spdy.SynStream(3, {"port": "80"}))
    assert len(second) < len(first)  # the second block refers back to the first
    with pytest.raises(spdy.ProtocolError):
        spdy.Codec().feed(second)  # out of its context it cannot be read
    assert receiver.feed(first + second) == [spdy.SynStream(1, {"port": "80"}), spdy.SynStream(3, {"port": "80"})]


def test_a_header_block_is_names_and_values_with_lengths():
    assert spdy.pack_headers({"Port": "80"}) == struct.pack(">I", 1) + b"\x00\x00\x00\x04port\x00\x00\x00\x0280"
    assert spdy.unpack_headers(spdy.pack_headers({"a": "1", "b": ""})) == {"a": "1", "b": ""}
    with pytest.raises(spdy.ProtocolError):
        spdy.unpack_headers(struct.pack(">I", 2) + b"\x00\x00\x00\x01a")


def test_other_versions_and_short_frames_are_protocol_errors():
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.Codec().feed(struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\x00\x00\x00\x01")
    with pytest.raises(spdy.ProtocolError, match="too short"):
        spdy.Codec().feed(struct.pack(">HHI", 0x8003, spdy.RST_STREAM, 2) + b"\x00\x01")
    noop = struct.pack(">HHI", 0x8003, 5, 0)  # NOOP: skipped
    assert spdy.Codec().feed(noop) == []


def joined() -> tuple[Session, Session]:
    """A client and a server session whose bytes reach each other."""
    client: Session
    server: Session

    async def to_server(data: bytes) -> None:
        await server.receive(data)

    async def to_client(data: bytes) -> None:
        await client.receive(data)

    client, server = Session(to_server, client=True), Session(to_client, client=False)
    return client, server


async def test_streams_open_reply_carry_data_both_ways_and_half_close():
    client, server = joined()

    async def serve() -> None:
        stream = await server.accept()
        assert stream is not None and stream.headers == {"streamtype": "data", "port": "80"}
        await server.reply(stream)
        assert await stream.read() == b"ping"
        assert await stream.read() == b""  # the client's FIN
        await stream.write(b"pong" * 20000)  # several data frames
        await stream.close()

    serving = asyncio.create_task(serve())
    stream = await client.open({"streamtype": "data", "port": "80"})
    assert stream.id == 1
    await stream.write(b"ping")
    await stream.close()
    got = b""
    while chunk := await stream.read():
        got += chunk
    assert got == b"pong" * 20000
    await serving
    assert client.streams == {} and server.streams == {}  # both sides finished: forgotten


async def test_a_refused_stream_and_pings():
    client, server = joined()

    async def refuse() -> None:
        stream = await server.accept()
        assert stream is not None
        await stream.reset(spdy.REFUSED_STREAM)

    refusing = asyncio.create_task(refuse())
    with pytest.raises(StreamReset):
        await client.open({"port": "1"})
    await refusing
    await client.ping()  # answered by the server (nothing to see but no error), the server's ping likewise
    await server.ping()


async def test_the_end_of_the_transport_ends_every_stream():
    client, server = joined()
    opening = asyncio.create_task(client.open({"port": "1"}))
    stream = await server.accept()
    assert stream is not None
    await server.reply(stream)
    mine = await opening
    client.end()
    assert await mine.read() == b""
    with pytest.raises(ConnectionError):
        await client.open({"port": "2"})
    server.end()
    assert await server.accept() is None
