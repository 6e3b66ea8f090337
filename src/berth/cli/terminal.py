"""The user's end of `berth exec`, `berth bash` and `berth attach`: this process's stdin, stdout, stderr and
terminal relayed over the channel protocol (`berth.client.channels`) of one WebSocket to the API server.

With a terminal (`tty`), the local one is put in raw mode for the session (every key goes to the remote
program, Ctrl-C included, and the remote terminal echoes) and restored however the session ends; its size
is sent at the start and whenever it changes (SIGWINCH). The session ends when the server closes the
connection, after the error channel's Status: its exit code is the command's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import tty as ttymode
from collections.abc import Iterator
from typing import Any, BinaryIO

from berth.client import channels

READ_SIZE = 65536


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """The terminal on `fd` in raw mode, restored afterwards. What was typed ahead is kept (TCSANOW, not the
    default TCSAFLUSH): it goes to the remote program."""
    saved = termios.tcgetattr(fd)
    try:
        ttymode.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _size(fd: int) -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return (size.columns, size.lines) if size.columns and size.lines else None


class _Input:
    """This process's stdin, sent on the stdin channel until its end (then v5's close signal)."""

    def __init__(self, conn: Any, fd: int, v5: bool) -> None:
        self.conn, self.fd, self.v5 = conn, fd, v5

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(self.fd)
            queue.put_nowait(data)

        try:
            loop.add_reader(self.fd, readable)
        except (PermissionError, ValueError, OSError):  # a regular file: epoll cannot watch it, read it at once
            data = await asyncio.to_thread(sys.stdin.buffer.read)
            queue.put_nowait(data)
            queue.put_nowait(b"")
        try:
            while data := await queue.get():
                await self.conn.send(channels.frame(channels.STDIN, data))
            if self.v5:
                await self.conn.send(channels.close_frame(channels.STDIN))
        finally:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(self.fd)


async def session(conn: Any, *, stdin: bool, tty: bool, out: BinaryIO | None = None,
                  err: BinaryIO | None = None) -> channels.Outcome:
    """Relay until the server ends the session; what the error channel said."""
    out = out or sys.stdout.buffer
    err = err or sys.stderr.buffer
    loop = asyncio.get_running_loop()
    v5 = conn.subprotocol == channels.V5
    status = bytearray()
    tasks: list[asyncio.Task[None]] = []
    resized = False
    if tty:
        size = _size(sys.stdout.fileno()) or _size(sys.stdin.fileno())
        if size:
            await conn.send(channels.resize(*size))

        def on_resize() -> None:
            now = _size(sys.stdout.fileno()) or _size(sys.stdin.fileno())
            if now:
                tasks.append(asyncio.ensure_future(conn.send(channels.resize(*now))))

        with contextlib.suppress(ValueError, RuntimeError):
            loop.add_signal_handler(signal.SIGWINCH, on_resize)
            resized = True
    if stdin:
        tasks.append(asyncio.create_task(_Input(conn, sys.stdin.fileno(), v5).run()))
    try:
        with contextlib.suppress(Exception):  # the connection's end, normal or not, ends the session
            async for message in conn:
                if isinstance(message, str) or not message:
                    continue
                channel, data = channels.split(message)
                if channel == channels.STDOUT:
                    out.write(data)
                    out.flush()
                elif channel == channels.STDERR:
                    err.write(data)
                    err.flush()
                elif channel == channels.ERROR:
                    status += data
    finally:
        if resized:
            loop.remove_signal_handler(signal.SIGWINCH)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if not status and conn.close_code not in (None, 1000):
        return channels.Outcome(1, f"the connection ended before the command did ({conn.close_reason or conn.close_code})")
    return channels.outcome(bytes(status))


def interactive(stdin: bool, tty: bool) -> tuple[bool, bool, str]:
    """(stdin, tty, warning): a terminal is used only when stdin is one and is sent, as kubectl decides."""
    if tty and not stdin:
        return stdin, False, "-t/--tty needs -i/--stdin: no terminal is used"
    if tty and not sys.stdin.isatty():
        return stdin, False, "Unable to use a TTY - input is not a terminal or the right kind of file"
    return stdin, tty, ""
