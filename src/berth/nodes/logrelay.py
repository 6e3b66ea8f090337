"""The log relay of one container: reads its stdout and stderr from pipes and appends them to its log file
as timestamped records (`berth.api.podlog`), as conmon or a containerd shim does for a real runtime.

Why a process of its own: the time a line was written is what `kubectl logs --since` and `--timestamps`
need, so something must read the output as it comes; and containers outlive a restart of `berth up`
(`berth.nodes.procs`), so that something must too. The relay runs in a session of its own (a signal to
the container's process group does not reach it), needs nothing but the standard library and `podlog`,
and ends when every writer has closed the pipes: the container and whatever it left behind.

    python -m berth.nodes.logrelay LOG_FILE STDOUT_FD STDERR_FD
"""

from __future__ import annotations

import os
import selectors
import sys

from berth.api import podlog

CHUNK = 65536


def relay(log_file: str, streams: dict[int, bytes]) -> None:
    """Copy what arrives on each descriptor in `streams` (fd -> stream name) to `log_file` until all close."""
    out = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    selector = selectors.DefaultSelector()
    for fd, stream in streams.items():
        selector.register(fd, selectors.EVENT_READ, stream)
    try:
        while selector.get_map():
            for key, _ in selector.select():
                data = os.read(key.fd, CHUNK)
                if not data:
                    selector.unregister(key.fd)
                    os.close(key.fd)
                    continue
                _write(out, podlog.records(key.data, data))
    finally:
        os.close(out)


def _write(fd: int, data: bytes) -> None:
    """All of `data`, or as much as the disk takes: output that cannot be kept is dropped, and the relay
    reads on, so that a full disk never stops (or kills, by a broken pipe) the container."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue
        except OSError:
            return


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m berth.nodes.logrelay LOG_FILE STDOUT_FD STDERR_FD", file=sys.stderr)
        return 2
    relay(argv[0], {int(argv[1]): b"stdout", int(argv[2]): b"stderr"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
