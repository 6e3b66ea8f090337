"""`attach` on the local node: the output of a container's program from now on, over the channel protocol
of `berth.client.channels`, until the program ends or the client leaves.

The program's output is what its monitor writes to the container's log (`berth.api.podlog` records, each
marked stdout or stderr), so attach follows that file, as `kubectl logs -f` does but from its end.

Input: a container with `stdin: true` (a workload submitted with `--stdin`/`-i`) was started by its monitor
(`berth.nodes.monitor`) with a FIFO for its input (`LocalNode.stdin_path`), open for as long as it runs, so
what the client sends on the stdin channel is written there; several clients may write, and the end of one
client's input does not end the program's (Kubernetes' `stdinOnce` is not honoured). With `tty: true` too,
the program has a pseudo-terminal that the monitor types that input into, and the client's window size
(resize channel) goes to the monitor's resize FIFO. A container without `stdin: true` has no input: a
client that asks for stdin is told so on stderr (or the terminal), and its input is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from berth.api import podlog
from berth.client import channels
from berth.nodes.execute import Socket, Streams, write_fd
from berth.nodes.monitor import resize_path

if TYPE_CHECKING:
    from berth.nodes.podrunner import PodRunner

POLL_S = 0.2
NO_STDIN = ("berth: input is not attached: container {container} was not started with stdin: true (submit with "
            "--stdin / -i), so it has no stdin to write to; its output follows (for a shell: `berth bash` or "
            "`kubectl exec -it`)\n")


def _open_input(fifo: Path) -> int | None:
    """A FIFO of the container's monitor, open for writing without blocking; None when there is none."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no FIFO (no stdin: true, or no tty), or nobody reads it (the program has ended)
        return None


async def serve(ws: Socket, log_file: Path, fifo: Path, runner: PodRunner, container: str,
                streams: Streams) -> None:
    """Relay what container `container` of `runner`'s pod writes from now on, until it stops running (then
    a Success status) or the client leaves."""

    async def send(channel: int, data: bytes) -> None:
        await ws.send(channels.frame(channel, data))

    err = channels.STDERR if streams.stderr and not streams.tty else channels.STDOUT
    await send(channels.STDOUT if streams.stdout or streams.tty else err, b"")
    writer = _open_input(fifo) if streams.stdin else None
    if streams.stdin and writer is None:
        await send(err, NO_STDIN.format(container=container).encode())
    sizer = _open_input(resize_path(fifo)) if streams.tty else None
    listening = asyncio.create_task(_input(ws, writer, sizer))
    try:
        handle: BinaryIO | None = log_file.open("rb")
    except OSError:
        handle = None
    try:
        if handle is not None:
            handle.seek(0, os.SEEK_END)
        while not listening.done():  # until the client leaves
            chunk = podlog.read_whole(handle)
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
        for fd in (writer, sizer):
            if fd is not None:
                os.close(fd)



async def _input(ws: Socket, writer: int | None, sizer: int | None) -> None:
    """The client's stdin to `writer`, its window sizes to `sizer` (each dropped when None), until the
    client leaves."""
    with contextlib.suppress(Exception):  # the client's end, or the program's (a broken pipe)
        while True:
            message = await ws.recv()
            if not isinstance(message, bytes) or not message:
                continue
            channel, data = channels.split(message)
            if channel == channels.STDIN and data and writer is not None:
                await write_fd(writer, data)
            elif channel == channels.RESIZE and sizer is not None:
                size = channels.parse_resize(data)
                if size is not None:
                    await write_fd(sizer, f"{size[0]} {size[1]}\n".encode())
