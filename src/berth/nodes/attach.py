"""`attach` on the local node: the output of a container's program from now on, over the channel protocol
of `berth.client.channels`, until the program ends or the client leaves.

The program's output is what its monitor writes to the container's log (`berth.api.podlog` records, each
marked stdout or stderr), so attach follows that file, as `kubectl logs -f` does but from its end. Its
input is not attached: the monitor starts programs with an empty stdin, as a container without
`stdin: true` has, and keeps no pipe or terminal to write to; a client that asks for stdin is told so on
stderr (or the terminal) and its input is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from berth.api import podlog
from berth.client import channels
from berth.nodes.execute import Socket, Streams

if TYPE_CHECKING:
    from berth.nodes.podrunner import PodRunner

POLL_S = 0.2
NO_STDIN = ("berth: input is not attached: the local node starts a container's program with no stdin to write "
            "to; its output follows (use `kubectl exec -it` or `berth bash` for a shell)\n")


async def serve(ws: Socket, log_file: Path, runner: PodRunner, container: str, streams: Streams) -> None:
    """Relay what container `container` of `runner`'s pod writes from now on, until it stops running (then
    a Success status) or the client leaves."""

    async def send(channel: int, data: bytes) -> None:
        await ws.send(channels.frame(channel, data))

    err = channels.STDERR if streams.stderr and not streams.tty else channels.STDOUT
    await send(channels.STDOUT if streams.stdout or streams.tty else err, b"")
    if streams.stdin:
        await send(err, NO_STDIN.encode())
    listening = asyncio.create_task(_drop_input(ws))
    try:
        handle: BinaryIO | None = log_file.open("rb")
    except OSError:
        handle = None
    try:
        if handle is not None:
            handle.seek(0, os.SEEK_END)
        while not listening.done():  # until the client leaves
            chunk = _whole_records(handle)
            for line in podlog.parse(chunk):
                channel = err if line.stream == b"stderr" else channels.STDOUT
                await send(channel, line.content + (b"\n" if line.complete else b""))
            if chunk:
                continue
            if not runner.container_state(container).get("running"):
                await ws.send(channels.encode_status(channels.exit_status(0)))
                return
            await asyncio.sleep(POLL_S)
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        if handle is not None:
            handle.close()


def _whole_records(handle: BinaryIO | None) -> bytes:
    """The whole records appended since the last read (a record being written waits for its newline)."""
    if handle is None:
        return b""
    at = handle.tell()
    data = handle.read()
    end = podlog.whole(data)
    handle.seek(at + end)
    return data[:end]


async def _drop_input(ws: Socket) -> None:
    """Read (and drop) the client's messages until it leaves."""
    with contextlib.suppress(Exception):
        while True:
            await ws.recv()
