"""`exec` on the local node: a command run in a container, as the container's own program runs (its
environment, working directory and user), its input and output relayed over the channel protocol of
`berth.client.channels`, with a terminal when one is asked for.

Why this way:
- There is no image and no namespace to enter: a container is a process on this machine, so "in the
  container" means "as its program was started" (`ExecContext`, made by the pod's runner from the same
  `berth.nodes.podenv` that started the program).
- With `tty`, the command gets a pseudo-terminal of its own (a new session whose controlling terminal it
  is), so shells are interactive, `tty` names a /dev/pts device, job control and Ctrl-C work, and the
  client's window size reaches it (resize channel; the kernel then sends SIGWINCH). stderr is the terminal
  too, as with kubectl against a real cluster.
- The command is a child of the node agent, in a process group of its own. When the client goes away
  before it ends, the group gets SIGHUP (what closing a terminal does), then SIGKILL: nothing started by
  an exec outlives the session that asked for it. (On a real cluster it may; here nothing would ever reap
  it.)
- The exit code reaches the client as the Status of the error channel, after all the output.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from berth.client import channels

DRAIN_S = 1.0  # after the command ends, how long output still held by what it left behind is awaited
HANGUP_GRACE_S = 2.0
READ_SIZE = 65536


class Socket(Protocol):
    """The WebSocket end the node serves (the `websockets` library's connection)."""

    subprotocol: str | None

    async def send(self, message: bytes) -> None: ...

    async def recv(self) -> bytes | str: ...


@dataclass(frozen=True)
class ExecContext:
    """How a command runs in one container: what the pod's runner started its program with."""

    env: dict[str, str]
    cwd: Path
    credentials: dict[str, Any] = field(default_factory=dict)  # Popen's user, group, extra_groups


@dataclass(frozen=True)
class Streams:
    """Which streams the client asked for (the query's stdin, stdout, stderr, tty)."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False


def _controlling_terminal(slave: int) -> Callable[[], None]:
    """What the child runs before exec: lead a new session whose controlling terminal is `slave`. (Done
    here, not with `start_new_session`, because an event loop such as uvloop may run this before it has
    set up the child's session and standard streams.)"""

    def become_leader() -> None:  # pragma: no cover - runs in the child between fork and exec
        with contextlib.suppress(OSError):  # already a session leader
            os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    return become_leader


def set_window(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


async def write_fd(fd: int, data: bytes) -> None:
    """All of `data` to a non-blocking fd, waiting while it is full."""
    loop = asyncio.get_running_loop()
    while data:
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            ready = loop.create_future()
            loop.add_writer(fd, ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_writer(fd)


async def _read_fd(fd: int, deliver: Callable[[bytes], Awaitable[None]]) -> None:
    """Everything read from a non-blocking fd until its end (a terminal's end is EIO: no one holds it)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
        queue.put_nowait(data)

    loop.add_reader(fd, readable)
    try:
        while data := await queue.get():
            await deliver(data)
    finally:
        loop.remove_reader(fd)


def _refusal(argv: list[str], exc: Exception) -> tuple[int, str]:
    """(exit code, message) for a command that cannot start, as a shell would say it."""
    if isinstance(exc, FileNotFoundError):
        return 127, f'exec: "{argv[0]}": executable file not found in $PATH or the working directory'
    if isinstance(exc, PermissionError):
        return 126, f'exec: "{argv[0]}": permission denied'
    return 126, f'exec: "{argv[0]}": {getattr(exc, "strerror", None) or exc}'


class _Session:
    """One exec: the process, its output pumps, and the client's messages."""

    def __init__(self, ws: Socket, argv: list[str], context: ExecContext, streams: Streams) -> None:
        self.ws = ws
        self.argv = argv
        self.context = context
        self.streams = streams
        self.v5 = ws.subprotocol == channels.V5
        self.master: int | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._send_lock = asyncio.Lock()

    async def send(self, channel: int, data: bytes) -> None:
        async with self._send_lock:
            await self.ws.send(channels.frame(channel, data))

    async def start(self) -> None:
        context, streams = self.context, self.streams
        common: dict[str, Any] = {"env": context.env, "cwd": str(context.cwd), **context.credentials}
        if streams.tty:
            self.master, slave = pty.openpty()
            try:
                set_window(slave, 80, 24)
                self.process = await asyncio.create_subprocess_exec(
                    *self.argv, stdin=slave, stdout=slave, stderr=slave, preexec_fn=_controlling_terminal(slave),
                    **common)
            except BaseException:
                os.close(self.master)
                self.master = None
                raise
            finally:
                os.close(slave)
            os.set_blocking(self.master, False)
        else:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, stdin=subprocess.PIPE if streams.stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if streams.stdout else subprocess.DEVNULL,
                stderr=subprocess.PIPE if streams.stderr else subprocess.DEVNULL, start_new_session=True, **common)

    def _pumps(self) -> list[asyncio.Task[None]]:
        async def pipe(reader: asyncio.StreamReader | None, channel: int) -> None:
            while reader is not None and (data := await reader.read(READ_SIZE)):
                await self.send(channel, data)

        if self.master is not None:
            return [asyncio.create_task(_read_fd(self.master, lambda data: self.send(channels.STDOUT, data)))]
        assert self.process is not None
        return [asyncio.create_task(pipe(self.process.stdout, channels.STDOUT)),
                asyncio.create_task(pipe(self.process.stderr, channels.STDERR))]

    async def _input(self) -> None:
        """The client's messages until it goes away (then this returns)."""
        assert self.process is not None
        while True:
            try:
                message = await self.ws.recv()
            except Exception:  # noqa: BLE001 - closed, normally or not: the client is gone
                return
            if isinstance(message, str) or not message:
                continue
            channel, data = channels.split(message)
            if channel == channels.STDIN and data:
                with contextlib.suppress(OSError, ConnectionError):
                    if self.master is not None:
                        await write_fd(self.master, data)
                    elif self.process.stdin is not None:
                        self.process.stdin.write(data)
                        await self.process.stdin.drain()
            elif channel == channels.RESIZE and self.master is not None:
                size = channels.parse_resize(data)
                if size is not None:
                    with contextlib.suppress(OSError):
                        set_window(self.master, *size)
            elif channel == channels.CLOSE and self.v5 and data[:1] == bytes((channels.STDIN,)):
                if self.process.stdin is not None:
                    with contextlib.suppress(OSError):
                        self.process.stdin.close()

    async def run(self) -> None:
        streams = self.streams
        first = channels.STDOUT if streams.stdout or streams.tty else channels.STDERR if streams.stderr else \
            channels.ERROR
        try:
            await self.start()
        except (OSError, subprocess.SubprocessError) as exc:
            code, message = _refusal(self.argv, exc)
            channel = channels.STDERR if streams.stderr and not streams.tty else channels.STDOUT
            await self.send(channel, f"berth: {message}\n".encode())
            await self.ws.send(channels.encode_status(channels.exit_status(code, self.argv)))
            return
        assert self.process is not None
        await self.send(first, b"")  # the streams are ready (what a kubelet sends first)
        pumps = self._pumps()
        listening = asyncio.create_task(self._input())
        waiting = asyncio.create_task(self.process.wait())
        try:
            await asyncio.wait({listening, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():  # the client went away first
                await self._hang_up(waiting)
                return
            await asyncio.wait(pumps, timeout=DRAIN_S)
            code = self.process.returncode or 0
            code = 128 - code if code < 0 else code  # killed by signal N: 128 + N, as shells say
            await self.ws.send(channels.encode_status(channels.exit_status(code, self.argv)))
        finally:
            for task in (*pumps, listening, waiting):
                task.cancel()
            await asyncio.gather(*pumps, listening, waiting, return_exceptions=True)
            if self.master is not None:
                os.close(self.master)
            with contextlib.suppress(ProcessLookupError, PermissionError):  # it, or what it left behind
                os.killpg(self.process.pid, signal.SIGKILL)
            if self.process.returncode is None:
                await self.process.wait()

    async def _hang_up(self, waiting: asyncio.Task[int]) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGHUP)
        await asyncio.wait({waiting}, timeout=HANGUP_GRACE_S)


async def run_exec(ws: Socket, argv: list[str], context: ExecContext, streams: Streams) -> None:
    """Run `argv` in `context` for the client on `ws` until it ends (its status sent) or the client leaves."""
    await _Session(ws, argv, context, streams).run()
