"""Child processes of the local node: start one in its own session, wait for it without a thread, tell it
from a stranger that reused its pid, and stop its whole process group; and the free local ports pods get.

Why these choices:
- Each container is the leader of a new session and process group (`start_new_session`), so signals sent
  to the group reach what it started (a shell's children, DataLoader workers, a notebook's kernels).
- Output goes through pipes to a log relay (`berth.nodes.logrelay`), a small process in a session of its
  own that stamps each line with the time it came and appends it to the log file at once, so
  `kubectl logs -f` sees it as soon as it is written, and `--since` and `--timestamps` work. The relay
  outlives a restart of `berth up` as the container does, and ends when the container's pipes close.
- `subprocess.Popen`, not asyncio's subprocess transports: a transport kills its child when it is closed
  or collected, and the local node must leave processes running when it stops (as a kubelet leaves its
  containers), so that a restarted `berth up` can adopt them. Exit is awaited on a pidfd where Linux has
  one, else by polling.
- A pid alone does not identify a process after a restart: the kernel reuses pids. `start_ticks` (the
  start time in /proc/<pid>/stat) does, and `is_alive` checks both; a zombie counts as gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

POLL_S = 0.2


def spawn(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_file: Path,
          credentials: Mapping[str, Any] | None = None) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """Start `argv` in a new session, stdin empty, its stdout and stderr relayed to `log_file`: the process
    and its log relay. `credentials`: the user, group and extra groups to run it as (`Popen`'s arguments;
    `berth.nodes.credentials`).

    `argv[0]` is looked up on the PATH of `env`, as exec does. Raises OSError when it cannot start
    (not found, not executable); the relay then ends by itself."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        relay = subprocess.Popen([sys.executable, "-m", "berth.nodes.logrelay", str(log_file), str(out_r), str(err_r)],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 pass_fds=(out_r, err_r),
                                 start_new_session=True, env=_relay_env())
        os.close(out_r)
        os.close(err_r)
        out_r = err_r = -1
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, cwd=cwd,
                                   env=dict(env), start_new_session=True, close_fds=True, **(credentials or {}))
    finally:
        for fd in (out_r, err_r, out_w, err_w):
            if fd >= 0:
                os.close(fd)
    return process, relay


def _relay_env() -> dict[str, str]:
    """The relay's environment: this one, with the directory Berth is imported from on its path (so that
    it starts from a source checkout too)."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    return env


async def wait_relay(relay: subprocess.Popen[bytes], timeout: float = 2.0) -> None:
    """Until the relay has written everything (its pipes closed), or `timeout` seconds: a process the
    container left behind may keep them open."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while relay.poll() is None and loop.time() < deadline:
        await asyncio.sleep(0.02)


def start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot; None when there is no such process or it is a
    zombie (it has ended, and only waits for its parent to read its exit status)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # the command name, in parentheses, may hold spaces
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


def signal_group(pid: int, sig: int) -> None:
    """Send `sig` to the process group `pid` leads; nothing if it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def wait_exit(process: subprocess.Popen[bytes]) -> int:
    """The exit status of our child (negative: killed by that signal), once it has ended."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux), or already reaped
        while process.poll() is None:
            await asyncio.sleep(POLL_S)
        return process.returncode
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()
    try:
        loop.add_reader(pidfd, lambda: ended.done() or ended.set_result(None))
        try:
            if process.poll() is None:
                await ended
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)
    return process.wait()


async def wait_gone(pid: int, ticks: int | None) -> None:
    """Until a process that is not our child (adopted after a restart) has ended."""
    while is_alive(pid, ticks):
        await asyncio.sleep(POLL_S * 5)


async def stop_group(pid: int, ended: asyncio.Future[object], grace: float) -> None:
    """SIGTERM the group `pid` leads; SIGKILL it after `grace` seconds, or at once when its leader has
    ended (`ended` done), so that no straggler outlives the container."""
    if grace > 0 and not ended.done():
        signal_group(pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(ended), grace)
    signal_group(pid, signal.SIGKILL)
    await ended


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
