"""What `berth up` must hold before it says anything: a data directory it may write, that no other `berth up`
uses, the port it serves on, and a store it can read. Each check fails with a `ConfigError` of one line that
says what is wrong and what to do, so `berth up` prints that instead of a banner and a traceback.

The data directory's lock (`<data-dir>/berth-up.lock`) is an `flock` held for the life of the process: the
kernel releases it however the process ends (a kill -9 leaves no stale lock), and a second `berth up` on the
same directory is refused at once, told the pid and address of the one that runs (written into the file).
The lock is taken before anything in the directory is written (the kubeconfig, above all), so the second
one cannot take the first's clients away.

The listening socket is bound here and handed to uvicorn, so that "the port is in use" is known before the
banner and no other program can take the port between the check and the serving. So is the components'
local socket (`listen_local`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
import sys
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from berth.store import Store, StoreError, UnusableFile

LOCK_FILE = "berth-up.lock"


class ConfigError(ValueError):
    """A setting that cannot work; the message says which, why, and what to do instead."""


@dataclass
class DataDirLock:
    """The open lock file: held while this object (its descriptor) lives."""

    path: Path
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the only descriptor releases the flock
            self.fd = -1


def lock_data_dir(data_dir: Path, url: str) -> DataDirLock:
    """Create the data directory if needed (for this user only: it holds the admin token, the CA key and every
    Secret) and lock it for this process, or say who holds it."""
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(f"the data directory {data_dir} cannot be used ({exc.strerror or exc}); give a directory "
                          "this user may write with --data-dir DIR") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _holder(fd)
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise ConfigError(f"cannot lock the data directory {data_dir} ({exc.strerror or exc}); give a local "
                              "directory with --data-dir DIR") from None
        raise ConfigError(f"another berth up ({holder}) is using the data directory {data_dir}; stop it first, or "
                          "give this one another --data-dir") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": url}).encode() + b"\n", 0)
    except OSError as exc:  # a full disk, above all
        os.close(fd)
        raise cannot_write(data_dir, exc) from None
    return DataDirLock(path, fd)


@dataclass(frozen=True)
class Holder:
    """The `berth up` that holds a data directory's lock, as it wrote itself into the file (None: not yet)."""

    pid: int | None
    url: str | None


def _read_holder(fd: int) -> Holder:
    try:
        found = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return Holder(int(found["pid"]), str(found["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return Holder(None, None)


def _holder(fd: int) -> str:
    """Who holds the lock, in words, from what it wrote into the file."""
    found = _read_holder(fd)
    return "its pid not written yet" if found.pid is None else f"pid {found.pid}, serving {found.url}"


def holder_of(data_dir: Path) -> Holder | None:
    """The `berth up` that uses `data_dir` now, or None when none does (for `berth down`).

    The lock, not the pid in the file, says whether one runs: the file outlives a killed `berth up`, and
    its pid may be another process's by now. When nobody holds the lock it is taken, shared, for an
    instant to learn that; a `berth up` starting at that very instant is refused and may be started again."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        return _read_holder(fd)
    else:
        return None
    finally:
        os.close(fd)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, ready for uvicorn to serve on (it listens)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: not an address of this machine ({exc.strerror}); give an address such as "
                          "127.0.0.1") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT does not block
        if family in (socket.AF_INET, socket.AF_INET6):
            # Accepted connections inherit it: a response's headers and body are separate TLS records, and
            # without it the body waits for the client's delayed ACK (40 ms on Linux) on every request.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is in use (by another program); choose another with "
                              "--port N") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"port {port} on {host} needs privileges this user does not have (ports below 1024); "
                              "choose another with --port N") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"--host {host}: not an address of this machine; give one of its addresses, such as "
                              "127.0.0.1") from None
        raise ConfigError(f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose another --host or "
                          "--port") from None
    sock.set_inheritable(False)
    return sock


def open_store(path: Path) -> Store:
    """The store in `path`, or a ConfigError that says what is wrong with the file and what to do; a file
    that is refused is left as it was."""
    aside = f"mv {path} {path}.bad"
    fixes = {
        "not-sqlite": f"move it aside ({aside}) to start with an empty store, or start with another --data-dir",
        "foreign": f"move it aside ({aside}) to start with an empty store, or start with another --data-dir",
        "version": f"use the Berth that wrote it, or move it aside ({aside}) or start with another --data-dir",
        "damaged": f"move it and its -wal file aside ({aside}; mv {path}-wal {path}.bad-wal) to start with an "
                   "empty store, or start with another --data-dir",
        "unreadable": f"check that this user may read it and that its disk works ({_free_space(path.parent)}), "
                      "then start again",
    }
    try:
        return Store(path, sole_writer=True)  # `berth up` holds the data directory's lock
    except UnusableFile as exc:
        raise ConfigError(f"{exc}: {fixes[exc.problem]}") from None
    except StoreError as exc:
        raise ConfigError(f"{exc}: use the Berth that wrote it, move it aside, or start with another "
                          "--data-dir") from None
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{path} cannot be opened as a Berth store ({exc}); move it aside ({aside}), or start "
                          "with another --data-dir") from None


def _free_space(directory: Path) -> str:
    """How much room the disk under `directory` has, in words, for messages about writes that failed."""
    try:
        stat = os.statvfs(directory)
    except OSError:
        return "its disk's free space is unknown"
    return f"its disk has {stat.f_bavail * stat.f_frsize // 1024} KiB free"


def cannot_write(data_dir: Path, exc: OSError | StoreError) -> ConfigError:
    """The ConfigError of a start whose first writes into the data directory fail (a full disk, above all)."""
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return ConfigError(f"cannot write into the data directory {data_dir} ({detail}; {_free_space(data_dir)}): free "
                       "space on its disk, or start with another --data-dir")


#: The longest filesystem path a Unix socket may be bound to (sun_path is 108 bytes on Linux, 104 elsewhere).
_SUN_PATH_MAX = 100


def listen_local(data_dir: Path) -> tuple[socket.socket, str] | None:
    """A Unix socket for the components `berth up` starts, and its address to give them; None where there
    is none (then they use the HTTPS port like any client).

    The components send most of the API server's requests (7 of a workload's 8), and TLS between two
    processes of one machine protects nothing the kernel does not: over this socket they speak plain HTTP,
    still presenting the bearer token, which the server checks as on its port. On Linux the socket is in
    the abstract namespace (`@berth-api-<random>`: no file to leave behind, no path-length limit); elsewhere
    it is `<data-dir>/api.sock`, owner-only, when that path is short enough to bind."""
    if sys.platform == "linux":
        address = f"@berth-api-{secrets.token_hex(8)}"
        target: str = "\0" + address[1:]
    else:
        target = address = str(data_dir / "api.sock")
        if len(os.fsencode(target)) > _SUN_PATH_MAX or not hasattr(socket, "AF_UNIX"):
            return None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)  # a socket left by an earlier run: the data directory's lock is held
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(target)
        if not address.startswith("@"):
            os.chmod(target, 0o600)
    except OSError:
        sock.close()
        return None
    sock.set_inheritable(False)
    return sock, address

