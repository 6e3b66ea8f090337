"""The monitor of one container: a small process that starts the container's program, relays its output to
the log file as timestamped records (`berth.api.podlog`), and writes the program's exit status, as conmon
does for a container runtime.

Why a process of its own, and one that outlives `berth up`:
- The time a line was written is what `kubectl logs --since` and `--timestamps` need, so something must
  read the output as it comes.
- Only its parent learns how a process ended. Containers outlive a restart of `berth up`, as containers
  outlive a kubelet (`berth.nodes.procs`), so their parent must outlive it too. The monitor writes the
  status to `<container>.exit` beside the log (`exit_path`), atomically (a temporary file, fsync, rename,
  fsync of the directory): whenever anything is killed, there is either no status (the program still
  runs, or the monitor was killed first: then, and only then, how it ended is unknown) or the true one. The
  file names the process (pid and start time), so a status an earlier run of the container left is never
  taken for a later one's.

The monitor runs in a session of its own (a signal to the container's process group does not reach it),
needs nothing but the standard library and `podlog`, and ends once the program has ended and every writer
has closed its output (the program and whatever it left behind).

It is also what watches over the program while no `berth up` runs, so it is the one that stops it when
its data directory is deleted (`guard`): nothing could ever adopt, report or stop the program then, and it
must not be left behind. The monitor holds the directory open and looks every `GUARD_S` seconds whether it
has been removed (no link left to it: a data directory that is moved is still there, and its next `berth
up` adopts the program); then it stops the program's process group as a pod deletion does (SIGTERM, SIGKILL
after `grace` seconds, or at once once the program has ended, for what it left behind).

    python -m berth.nodes.monitor < SPEC

SPEC is JSON: `argv`, `env`, `cwd`, `log` (the log file), and `user`, `group`, `extra_groups` to run as
(`berth.nodes.credentials`), `stdin`, a FIFO that is the program's input (else it has none), `tty`, to give
the program a pseudo-terminal (see `run`), and `guard`, a directory (the data directory) whose deletion
stops the program, with `grace`, its grace period in seconds.
The monitor answers one line on stdout, `{"pid": P, "ticks": T}` once the program runs, or
`{"errno": N, "error": "..."}` when it cannot start, and closes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import selectors
import struct
import subprocess
import signal
import sys
import termios
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from berth.api import podlog

CHUNK = 65536
POLL_S = 0.2  # how often the program is looked at where Linux offers no pidfd
GUARD_S = 1.0  # how often the guarded directory is looked at


@dataclass(frozen=True)
class Exit:
    """How a program ended: its status as `subprocess` gives it (negative: killed by that signal), and when."""

    returncode: int
    finished_at: str


def exit_path(log_file: Path) -> Path:
    """Where the monitor writing `log_file` writes its program's exit status."""
    return log_file.with_suffix(".exit")


def stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from its third field (the state) on; None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()  # the command name, in parentheses, may hold spaces


def _ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot, zombie or not."""
    fields = stat_fields(pid)
    try:
        return int(fields[19]) if fields else None  # field 22 of stat
    except (IndexError, ValueError):
        return None


def read_exit(path: Path, pid: int, ticks: int | None) -> Exit | None:
    """The exit status the monitor wrote for the process `pid` that started at `ticks`; None when there is
    none (yet), or the file is of another process."""
    try:
        found = json.loads(path.read_bytes())
        if found["pid"] != pid or found.get("ticks") != ticks:
            return None
        return Exit(int(found["returncode"]), str(found["finishedAt"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_exit(path: Path, pid: int, ticks: int | None, returncode: int) -> None:
    finished = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = json.dumps({"pid": pid, "ticks": ticks, "returncode": returncode, "finishedAt": finished}).encode()
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class _Guard:
    """Stops the program's process group once the directory it guards is deleted (see the module's
    docstring). Without a directory (or one gone before the program started) it does nothing."""

    def __init__(self, directory: str | None, grace: float) -> None:
        self.fd = -1
        if directory:
            with contextlib.suppress(OSError):
                self.fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.grace = grace
        self.kill_at: float | None = None  # set once the directory is gone

    def timeout(self) -> float | None:
        """How long the monitor may wait before looking again (None: it need not)."""
        if self.fd < 0:
            return None
        if self.kill_at is None:
            return GUARD_S
        return max(0.0, self.kill_at - time.monotonic())

    def check(self, pid: int, ended: bool) -> None:
        """Look at the directory; stop the group `pid` leads once it is gone (`ended`: its leader has)."""
        if self.fd < 0:
            return
        if self.kill_at is None:
            if os.fstat(self.fd).st_nlink > 0:
                return
            self.kill_at = time.monotonic() + self.grace
            signal_group(pid, signal.SIGTERM)
        if ended or time.monotonic() >= self.kill_at:
            signal_group(pid, signal.SIGKILL)
            self.close()  # done: nothing more to watch

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def signal_group(pid: int, sig: int) -> None:
    """Send `sig` to the process group `pid` leads; nothing if it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _earliest(*timeouts: float | None) -> float | None:
    given = [t for t in timeouts if t is not None]
    return min(given) if given else None


def _write(fd: int, data: bytes) -> None:
    """All of `data`, or as much as the disk takes: output that cannot be kept is dropped, and the monitor
    reads on, so that a full disk never stops (or kills, by a broken pipe) the container."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue
        except OSError:
            return


def _answer(message: dict[str, Any]) -> None:
    """The one line to `berth up`, then stdin and stdout go to /dev/null: it may be gone by now."""
    try:
        os.write(1, json.dumps(message).encode() + b"\n")
    except OSError:
        pass
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)


def _open_fifo(path: Path) -> int:
    """The FIFO at `path` (made when missing), open for reading and writing, so that it never ends however
    often writers come and go: a container's stdin with `stdin: true` (and not `stdinOnce`)."""
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        pass
    return os.open(path, os.O_RDWR | os.O_NONBLOCK)


def resize_path(stdin: Path) -> Path:
    """Where the window size of a container with a terminal is written ("COLUMNS ROWS" lines): beside its
    stdin FIFO."""
    return stdin.with_name(stdin.name + ".resize")


def _controlling_terminal() -> None:  # pragma: no cover - runs in the child, after setsid, before exec
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _resize(terminal: int, lines: bytes) -> None:
    """Apply the last "COLUMNS ROWS" line of `lines` to the terminal (the kernel signals the program)."""
    for line in reversed(lines.split(b"\n")):
        parts = line.split()
        if len(parts) == 2 and all(p.isdigit() for p in parts) and all(0 < int(p) < 65536 for p in parts):
            fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", int(parts[1]), int(parts[0]), 0, 0))
            return


INPUT, SIZE = b"<stdin>", b"<size>"  # selector keys of what comes in, beside the output streams


def run(spec: dict[str, Any]) -> int:
    """Start the program of `spec`, relay its output, write its exit status; the monitor's own status.

    With `tty`, the program's stdin, stdout and stderr are a pseudo-terminal (its output goes to the log as
    stdout, as a container runtime logs a terminal), and with `stdin` what is written to the FIFO is typed
    into it, and "COLUMNS ROWS" lines written to `resize_path` set its size. Without `tty`, the FIFO itself
    is the program's stdin."""
    log_file = Path(spec["log"])
    out = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    credentials = {key: spec[key] for key in ("user", "group", "extra_groups") if spec.get(key) is not None}
    stdin = Path(spec["stdin"]) if spec.get("stdin") else None
    given: list[int] = []  # what the program gets, closed here once it has it
    kept: list[tuple[int, bytes]] = []  # what the monitor reads: (fd, its selector key)
    terminal = -1
    try:
        if spec.get("tty"):
            terminal, slave = pty.openpty()
            given.append(slave)
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            streams: dict[str, Any] = {"stdin": slave, "stdout": slave, "stderr": slave,
                                       "preexec_fn": _controlling_terminal}
            if stdin is not None:
                kept += [(_open_fifo(stdin), INPUT), (_open_fifo(resize_path(stdin)), SIZE)]
        else:
            streams = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
            if stdin is not None:
                streams["stdin"] = _open_fifo(stdin)
                os.set_blocking(streams["stdin"], True)
                given.append(streams["stdin"])
        process = subprocess.Popen(spec["argv"], cwd=spec["cwd"], env=spec["env"], start_new_session=True,
                                   **streams, **credentials)
    except OSError as exc:
        for fd in [terminal, *(fd for fd, _ in kept)]:
            if fd >= 0:
                os.close(fd)
        os.close(out)
        _answer({"errno": exc.errno, "error": exc.strerror or str(exc)})
        return 1
    finally:
        for fd in given:
            os.close(fd)
    ticks = _ticks(process.pid)
    guard = _Guard(spec.get("guard"), float(spec.get("grace") or 0))
    _answer({"pid": process.pid, "ticks": ticks})
    selector = selectors.DefaultSelector()
    if terminal >= 0:
        os.set_blocking(terminal, False)
        selector.register(terminal, selectors.EVENT_READ, b"stdout")
        outputs = 1
    else:
        assert process.stdout is not None and process.stderr is not None
        selector.register(process.stdout, selectors.EVENT_READ, b"stdout")
        selector.register(process.stderr, selectors.EVENT_READ, b"stderr")
        outputs = 2
    for fd, key in kept:
        selector.register(fd, selectors.EVENT_READ, key)
    try:
        pidfd = os.pidfd_open(process.pid)
        selector.register(pidfd, selectors.EVENT_READ, None)
    except (AttributeError, OSError):
        pidfd = -1
    ended = False
    try:
        while outputs or not ended:
            for key, _ in selector.select(_earliest(None if pidfd >= 0 or ended else POLL_S, guard.timeout())):
                if key.data is None:
                    continue  # the program ended: seen below
                try:
                    data = os.read(key.fd, CHUNK)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: nothing holds the terminal any more
                    data = b""
                if key.data == INPUT:
                    with contextlib.suppress(OSError):  # a full terminal drops what is typed, as a program that
                        os.write(terminal, data)         # does not read would make a keyboard wait
                elif key.data == SIZE:
                    with contextlib.suppress(OSError):
                        _resize(terminal, data)
                elif data:
                    _write(out, podlog.records(key.data, data))
                else:
                    selector.unregister(key.fileobj)
                    if isinstance(key.fileobj, int):
                        os.close(key.fd)
                    else:
                        key.fileobj.close()
                    outputs -= 1
            if not ended and process.poll() is not None:
                with contextlib.suppress(OSError):  # (its directory gone with the data directory: nobody asks)
                    _write_exit(exit_path(log_file), process.pid, ticks, process.returncode)
                ended = True
                if pidfd >= 0:
                    selector.unregister(pidfd)
                    os.close(pidfd)
                    pidfd = -1
            guard.check(process.pid, ended)
    finally:
        guard.close()
        os.close(out)
        for fd, _ in kept:
            os.close(fd)
    return 0


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m berth.nodes.monitor < SPEC (JSON: argv, env, cwd, log, user, group, extra_groups)",
              file=sys.stderr)
        return 2
    return run(json.loads(sys.stdin.buffer.read()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
