"""Processes of the local node: start a container's program under its monitor, learn how it ended (also
after a restart of `berth up`), tell it from a stranger that reused its pid, and stop its whole process
group; and the free local ports pods get.

Why these choices:
- Each container's program is started by its monitor (`berth.nodes.monitor`, as conmon starts a
  container), a small process in a session of its own that relays the program's output to its log and
  writes its exit status to a file. The monitor, not `berth up`, is the program's parent, so both outlive a
  restart of `berth up`, as containers outlive a kubelet, and a restarted `berth up` still learns how a
  program it adopted ended, or one that ended while it was down (`wait_exit`).
- The program is the leader of a new session and process group, so signals sent to the group reach what
  it started (a shell's children, DataLoader workers, a notebook's kernels), and not the monitor.
- The end of a program is awaited on a pidfd where Linux has one (it works for a process that is not our
  child), else by polling; then its status is read from what the monitor wrote.
- A pid alone does not identify a process after a restart: the kernel reuses pids. `start_ticks` (the
  start time in /proc/<pid>/stat) does, and `is_alive` checks both; a zombie counts as gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.nodes.monitor import Exit, read_exit, signal_group, stat_fields

POLL_S = 0.2
EXIT_POLL_S = 0.02  # how often, once a program has ended, its monitor's status is looked for


@dataclass
class Monitor:
    """The monitor of a container's program (`berth.nodes.monitor`): its pid and start time, and its `Popen`
    when this process started it (so that it is reaped)."""

    pid: int | None
    ticks: int | None
    popen: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            return False
        return self.pid is not None and is_alive(self.pid, self.ticks)


@dataclass(frozen=True)
class Started:
    """A program running under its monitor."""

    pid: int
    ticks: int | None
    monitor: Monitor


async def start(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_file: Path,
                credentials: Mapping[str, Any] | None = None, stdin: Path | None = None,
                tty: bool = False, guard: Path | None = None, grace: float = 0.0) -> Started:
    """Start `argv` under a new monitor, in a new session, stdin empty, its stdout and stderr relayed to
    `log_file`, its exit status written beside it (`monitor.exit_path`). `credentials`: the user, group
    and extra groups to run it as (`Popen`'s arguments; `berth.nodes.credentials`). `stdin`: a FIFO to
    make (when missing) and give the program as its stdin instead, for a container with `stdin: true`
    (what `kubectl attach -i` writes to: `berth.nodes.attach`); `tty`: a pseudo-terminal for the program
    (`tty: true`), fed from that FIFO. `guard`: a directory (the data directory) whose deletion makes the
    monitor stop the program's process group, SIGKILL after `grace` seconds.

    `argv[0]` is looked up on the PATH of `env`, as exec does. Raises OSError when it cannot start (not
    found, not executable); the monitor then ends by itself."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    spec = json.dumps({"argv": list(argv), "env": dict(env), "cwd": str(cwd), "log": str(log_file),
                       **({"stdin": str(stdin)} if stdin is not None else {}), "tty": tty,
                       **({"guard": str(guard), "grace": grace} if guard is not None else {}),
                       **dict(credentials or {})}).encode()
    popen = subprocess.Popen([sys.executable, "-m", "berth.nodes.monitor"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                             env=_monitor_env())
    monitor = Monitor(popen.pid, start_ticks(popen.pid), popen)

    def handshake() -> bytes:
        assert popen.stdin is not None and popen.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            popen.stdin.write(spec)
            popen.stdin.close()
        try:
            return popen.stdout.readline()
        finally:
            popen.stdout.close()

    answer = json.loads(await asyncio.to_thread(handshake) or b"{}")
    if "pid" not in answer:
        raise OSError(answer.get("errno") or 0, answer.get("error") or "its monitor ended before starting it")
    return Started(int(answer["pid"]), answer.get("ticks"), monitor)


def _monitor_env() -> dict[str, str]:
    """The monitor's environment: this one, with the directory Berth is imported from on its path (so that
    it starts from a source checkout too)."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    return env


async def wait_monitor(monitor: Monitor, timeout: float = 2.0) -> None:
    """Until the monitor has written everything (its pipes closed) and ended, or `timeout` seconds: a
    process the container left behind may keep them open."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while monitor.alive() and loop.time() < deadline:
        await asyncio.sleep(0.02)


def start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot; None when there is no such process or it is a
    zombie (it has ended, and only waits for its parent to read its exit status)."""
    fields = stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return None
    try:
        return int(fields[19])  # field 22 of stat; fields[0] is field 3
    except (IndexError, ValueError):
        return None


def cpu_seconds() -> dict[int, float]:
    """CPU time (user and system, with that of reaped children) used so far by the running processes of
    each process group, in seconds."""
    ticks: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                text = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = text[text.rfind(")") + 2:].split()  # fields[0] is field 3 of stat
            if len(fields) > 14:
                group = int(fields[2])
                ticks[group] = ticks.get(group, 0) + sum(int(f) for f in fields[11:15])  # utime, stime, cu-, cs-
    per_second = os.sysconf("SC_CLK_TCK")
    return {group: n / per_second for group, n in ticks.items()}


def is_alive(pid: int, ticks: int | None) -> bool:
    """Whether the process `pid` that started at `ticks` still runs (and is not a later one with its pid)."""
    if not Path("/proc").is_dir():  # no procfs: the pid is all we have
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False  # someone else's process has the pid now
        return True
    now = start_ticks(pid)
    return now is not None and (ticks is None or now == ticks)


async def wait_exit(pid: int, ticks: int | None, exit_file: Path, monitor: Monitor) -> Exit | None:
    """How the program `pid` (that started at `ticks`) ended, once it has: what its monitor wrote to
    `exit_file`; None when nobody can know (its monitor ended without writing it)."""
    await wait_gone(pid, ticks)
    while (found := read_exit(exit_file, pid, ticks)) is None:
        if not monitor.alive():
            return read_exit(exit_file, pid, ticks)  # it may have written it as it ended
        await asyncio.sleep(EXIT_POLL_S)
    return found


async def wait_gone(pid: int, ticks: int | None) -> None:
    """Until the process `pid` that started at `ticks` has ended: on a pidfd where there is one (it need
    not be our child), else by polling."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux), or gone already
        while is_alive(pid, ticks):
            await asyncio.sleep(POLL_S)
        return
    loop = asyncio.get_running_loop()
    try:
        if not is_alive(pid, ticks):  # looked at after the pidfd was opened: it is of this process
            return
        ended: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pidfd, lambda: ended.done() or ended.set_result(None))
        try:
            await ended
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)


async def stop_group(pid: int, ended: asyncio.Future[object], grace: float) -> bool:
    """SIGTERM the group `pid` leads; SIGKILL it after `grace` seconds, or at once when its leader has
    ended (`ended` done), so that no straggler outlives the container. True when the leader ended within
    the grace period (False: it had to be killed)."""
    if grace > 0 and not ended.done():
        signal_group(pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(ended), grace)
    in_time = ended.done()
    signal_group(pid, signal.SIGKILL)
    await ended
    return in_time


async def accepts(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections at host:port now."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (false for ports this user may not bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT does not block
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now, chosen by the kernel."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
