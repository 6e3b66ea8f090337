"""What `berth up` must hold before it says anything: a data directory it may write, that no other `berth up`
uses, the port it serves on, and a store it can read. Each check fails with a `ConfigError` of one line that
says what is wrong and what to do, so `berth up` prints that instead of a banner and a traceback.

The data directory's lock (`<data-dir>/berth-up.lock`) is an `flock` held for the life of the process: the
kernel releases it however the process ends (a kill -9 leaves no stale lock), and a second `berth up` on the
same directory is refused at once, told the pid and address of the one that runs (written into the file).
The lock is taken before anything in the directory is written (the kubeconfig, above all), so the second
one cannot take the first's clients away.

The listening socket is bound here and handed to uvicorn, so that "the port is in use" is known before the
banner and no other program can take the port between the check and the serving.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from berth.store import Store, StoreError

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
    """Create the data directory if needed and lock it for this process, or say who holds it."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
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
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": url}).encode() + b"\n", 0)
    return DataDirLock(path, fd)


def _holder(fd: int) -> str:
    """Who holds the lock, in words, from what it wrote into the file."""
    try:
        found = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(found['pid'])}, serving {found['url']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid not written yet"


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
    """The store in `path`, or a ConfigError that says why it cannot be read."""
    try:
        return Store(path)
    except StoreError as exc:  # another schema version, or another program's SQLite file
        raise ConfigError(f"{exc}: use the Berth that wrote it, move it away, or start with another "
                          "--data-dir") from None
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{path} is not a Berth store ({exc}); move it away, or start with another "
                          "--data-dir") from None
