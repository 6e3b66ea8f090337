"""A program run under a pseudo-terminal of its own, so that it sees a terminal (as `kubectl exec -it` and
`berth bash` need), driven by a script of (wait for this output, then type that)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from dataclasses import dataclass, field


@dataclass
class Terminal:
    """A running program on the slave side of a pty; `output` is everything it printed so far."""

    pid: int
    fd: int
    output: bytes = b""
    status: int | None = None
    log: list[str] = field(default_factory=list)

    def read_until(self, wanted: bytes, timeout: float = 30) -> bytes:
        """Read until `wanted` has been printed (AssertionError with what came, after `timeout`)."""
        deadline = time.monotonic() + timeout
        while wanted not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.2)) and self._ended():
                raise AssertionError(f"{wanted!r} did not come; the terminal shows: {self.output!r}")
        return self.output

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the program closed the terminal
            return False
        self.output += data
        return bool(data)

    def _ended(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status is not None

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def resize(self, rows: int, columns: int) -> None:
        """What a terminal window does when resized: the kernel then signals the program (SIGWINCH)."""
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def wait(self, timeout: float = 30) -> int:
        """The program's exit status, once it has ended (what it printed meanwhile is kept)."""
        deadline = time.monotonic() + timeout
        while not self._ended():
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                raise AssertionError(f"the program did not end; the terminal shows: {self.output!r}")
            self._read(0.1)
        while self._read(0.1):
            pass
        os.close(self.fd)
        assert self.status is not None
        return self.status


def spawn(argv: list[str], env: dict[str, str], rows: int = 24, columns: int = 80) -> Terminal:
    """Start `argv` in a new pty of `rows` x `columns`."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child: the size is set before the program can read it
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    return Terminal(pid, fd)
