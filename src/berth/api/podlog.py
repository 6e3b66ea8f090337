"""Container log files: where they are and what a line in them looks like; the contract between the node
agents that write them (`berth.nodes`) and the API server that serves them (`pods/{name}/log`).

Layout: `<data-dir>/logs/<namespace>/<pod>/<container>.log`, and the run before a container's last
restart in `<container>.previous.log`.

Format: the one the Kubernetes CRI gives container runtimes, one record per line:

    2026-11-28T23:50:39.123456789Z stdout F epoch 1 done

a UTC time with nanoseconds (when the output was read), the stream (`stdout` or `stderr`), `F` for a full
line or `P` for part of one (output that did not end in a newline yet; the rest follows in later records
of the same stream), and the output itself. The time is what `kubectl logs --since` and `--timestamps`
need. A line that does not parse (a file written by hand, or by an older Berth) is served as it is, with
no time.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

STREAMS = (b"stdout", b"stderr")


def log_path(data_dir: Path, namespace: str, pod: str, container: str, *, previous: bool = False) -> Path:
    """Where the output of one container of a pod is kept (`previous`: of its run before the last restart)."""
    return Path(data_dir) / "logs" / namespace / pod / f"{container}{'.previous' if previous else ''}.log"


def timestamp(ns: int | None = None) -> bytes:
    """RFC 3339 in UTC with nanoseconds, as the kubelet writes it (`now` when `ns` is None)."""
    ns = time.time_ns() if ns is None else ns
    seconds, fraction = divmod(ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z".encode()


def records(stream: bytes, data: bytes, *, ns: int | None = None) -> bytes:
    """`data` read from `stream` as log records: one `F` record per complete line, and a `P` record for a
    trailing piece without its newline."""
    stamp = timestamp(ns)
    pieces = data.split(b"\n")
    out = [b"%s %s F %s\n" % (stamp, stream, piece) for piece in pieces[:-1]]
    if pieces[-1]:
        out.append(b"%s %s P %s\n" % (stamp, stream, pieces[-1]))
    return b"".join(out)


@dataclass(frozen=True)
class Line:
    """One line of output (its parts joined); `ns` is when its first part was read, None when unknown."""

    content: bytes
    ns: int | None = None
    stamp: bytes = b""
    stream: bytes = b""
    complete: bool = True


@functools.lru_cache(maxsize=4096)
def _epoch_seconds(whole: str) -> int | None:
    """`YYYY-MM-DDTHH:MM:SS` in UTC as seconds since the epoch (cached: a log has many lines a second)."""
    try:
        return int(datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return None


def _parse_stamp(stamp: bytes) -> int | None:
    text = stamp.decode("ascii", "replace")
    if len(text) < 20 or not text.endswith("Z") or text[10] != "T":
        return None
    whole, _, fraction = text[:-1].partition(".")
    seconds = _epoch_seconds(whole)
    digits = (fraction + "000000000")[:9]
    return seconds * 1_000_000_000 + int(digits) if seconds is not None and digits.isdigit() else None


def parse_time(text: str) -> int | None:
    """An RFC 3339 time (`Z` or an offset, any fraction of a second) as ns since the epoch; None when it
    is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None or "T" not in text.upper():
        return None
    whole = int(moment.replace(microsecond=0).timestamp())
    fraction = text.split(".", 1)[1] if "." in text else ""
    digits = "".join(itertools.takewhile(str.isdigit, fraction))
    return whole * 1_000_000_000 + int((digits + "000000000")[:9])


def _record(raw: bytes) -> tuple[int | None, bytes, bytes, bool, bytes]:
    """(ns, stamp, stream, partial, content) of one record; ns None when `raw` is not a record."""
    parts = raw.split(b" ", 3)
    if len(parts) == 4 and parts[1] in STREAMS and parts[2] in (b"F", b"P"):
        ns = _parse_stamp(parts[0])
        if ns is not None:
            return ns, parts[0], parts[1], parts[2] == b"P", parts[3]
    return None, b"", b"", False, raw


def parse(data: bytes) -> list[Line]:
    """The lines in a log file's bytes, parts joined. Only whole records count: a last record still being
    written (no newline yet) is left for the next read."""
    lines: list[Line] = []
    open_parts: dict[bytes, int] = {}  # stream -> index in `lines` of its unfinished line
    for raw in data.split(b"\n")[:-1]:
        ns, stamp, stream, partial, content = _record(raw)
        if ns is None:
            lines.append(Line(content))
            continue
        at = open_parts.pop(stream, None)
        if at is not None:
            first = lines[at]
            lines[at] = Line(first.content + content, first.ns, first.stamp, stream, not partial)
            if partial:
                open_parts[stream] = at
            continue
        lines.append(Line(content, ns, stamp, stream, not partial))
        if partial:
            open_parts[stream] = len(lines) - 1
    return lines


def whole(data: bytes) -> int:
    """How many leading bytes of `data` are whole records (up to and including its last newline)."""
    return data.rfind(b"\n") + 1


def read_whole(handle: BinaryIO | None) -> bytes:
    """The whole records appended to an open log file since the last read; a record still being written
    stays for the next read (the file position stops after the last newline)."""
    if handle is None:
        return b""
    at = handle.tell()
    data = handle.read()
    end = whole(data)
    handle.seek(at + end)
    return data[:end]


def render(lines: Sequence[Line], *, timestamps: bool = False) -> bytes:
    """What `kubectl logs` prints: each line's output (`timestamps`: after its time and a space). A line
    still being written ends without a newline when it is the last, so that `Follow` can go on with it;
    one that was never finished (other output came after it) gets its newline."""
    out = []
    for i, line in enumerate(lines):
        if timestamps and line.stamp:
            out.append(line.stamp + b" ")
        out.append(line.content)
        if line.complete or i != len(lines) - 1:
            out.append(b"\n")
    return b"".join(out)


def unfinished(lines: Sequence[Line]) -> set[bytes]:
    """The stream whose line `render` left open (the last line, when it is incomplete): `Follow` goes on
    with it."""
    return {lines[-1].stream} if lines and not lines[-1].complete else set()


def select(lines: list[Line], *, since_ns: int | None = None, tail: int | None = None) -> list[Line]:
    """The lines at or after `since_ns` (lines without a time are kept only when there is no `since_ns`),
    then the last `tail` of them."""
    if since_ns is not None:
        lines = [line for line in lines if line.ns is not None and line.ns >= since_ns]
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return lines


class Follow:
    """Renders records as they arrive, for `kubectl logs -f`: the parts of a line are printed as they come,
    its time (with `timestamps`) only before the first."""

    def __init__(self, *, timestamps: bool = False, open_streams: Iterable[bytes] = ()) -> None:
        """`open_streams`: streams whose line was left open by what was printed before (`unfinished`)."""
        self.timestamps = timestamps
        self._open: set[bytes] = set(open_streams)  # streams in the middle of a line

    def restart(self) -> bytes:
        """A new file begins (the container restarted): end a line left open."""
        ended = b"\n" if self._open else b""
        self._open.clear()
        return ended

    def feed(self, data: bytes) -> bytes:
        """The output in `data`, whole records only (see `whole`)."""
        out = []
        for raw in data.split(b"\n")[:-1]:
            ns, stamp, stream, partial, content = _record(raw)
            if ns is None:
                out.append(content + b"\n")
                continue
            if self.timestamps and stream not in self._open:
                out.append(stamp + b" ")
            out.append(content if partial else content + b"\n")
            (self._open.add if partial else self._open.discard)(stream)
        return b"".join(out)
