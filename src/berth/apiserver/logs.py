"""`GET pods/{name}/log`: container output, as kubectl logs reads it (chunked text/plain).

On one machine the node agents (`berth.nodes`) write each container's output to the log files that
`berth.api.podlog` places and formats (timestamped records, the run before a restart kept aside); this
module serves them with kubectl's options: `tailLines`, `sinceSeconds`, `sinceTime`, `timestamps`,
`limitBytes`, `previous` and `follow` (the stream ends when the pod has finished or is gone, and starts
over at the new file when the container restarts). A pod that has not started yet has an empty log.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import Response, StreamingResponse

from berth.api import podlog
from berth.apiserver import errors
from berth.apiserver.resources import find

if TYPE_CHECKING:
    from berth.apiserver.api import Api

PODS = find("", "v1", "pods")
FOLLOW_POLL_S = 0.25


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:  # not written yet, or being moved aside by a restart
        return None


def _true(value: str | None) -> bool:
    return value in ("true", "1", "True")


def _options(name: str, params: dict[str, str]) -> tuple[int | None, int | None, int | None]:
    """(since, in ns since the epoch; tailLines; limitBytes) from the query, checked as the real server
    checks PodLogOptions."""
    causes = []

    def number(key: str, least: int) -> int | None:
        raw = params.get(key)
        if raw is None or raw == "":
            return None
        try:
            found = int(raw)
        except ValueError:
            causes.append({"reason": "FieldValueInvalid", "field": key,
                           "message": f"Invalid value: {raw!r}: must be an integer"})
            return None
        if found < least:
            word = "greater than 0" if least else "greater than or equal to 0"
            causes.append({"reason": "FieldValueInvalid", "field": key, "message": f"Invalid value: {found}: must be "
                           f"{word}"})
            return None
        return found

    seconds, tail, limit = number("sinceSeconds", 1), number("tailLines", 0), number("limitBytes", 1)
    since = None if seconds is None else time.time_ns() - seconds * 1_000_000_000
    if params.get("sinceTime"):
        if params.get("sinceSeconds"):
            causes.append({"reason": "FieldValueForbidden", "field": "",
                           "message": "at most one of `sinceTime` or `sinceSeconds` may be specified"})
        try:
            since = int(datetime.fromisoformat(params["sinceTime"].replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            causes.append({"reason": "FieldValueInvalid", "field": "sinceTime", "message":
                           f"Invalid value: {params['sinceTime']!r}: must be an RFC 3339 time, like "
                           "2026-01-02T15:04:05Z"})
    if causes:
        raise errors.invalid("PodLogOptions", "", name, causes)
    return since, tail, limit


async def respond(api: Api, data_dir: Path | None, namespace: str, name: str, params: dict[str, str]) -> Response:
    pod = api.get(PODS, namespace, name)
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = params.get("container") or (containers[0] if containers else "")
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    since, tail, limit = _options(name, params)
    stamps, previous = _true(params.get("timestamps")), _true(params.get("previous"))
    path = podlog.log_path(data_dir, namespace, name, container, previous=previous) if data_dir else None
    if previous and not (path and path.exists()):
        raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    data, inode = b"", None
    if path is not None:
        try:
            with path.open("rb") as handle:
                inode, data = os.fstat(handle.fileno()).st_ino, handle.read()
        except FileNotFoundError:
            pass
    offset = podlog.whole(data)
    text = podlog.render(podlog.select(podlog.parse(data[:offset]), since_ns=since, tail=tail), timestamps=stamps)
    if not _true(params.get("follow")) or previous or path is None:
        return Response(text[:limit] if limit else text, media_type="text/plain")
    stream = _follow(api, path, namespace, name, text, offset, inode, podlog.Follow(timestamps=stamps))
    return StreamingResponse(_limited(stream, limit) if limit else stream, media_type="text/plain")


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """At most `limit` bytes of `chunks`, then the end of the stream."""
    async for chunk in chunks:
        yield chunk[:limit]
        limit -= len(chunk)
        if limit <= 0:
            return


async def _follow(api: Api, path: Path, namespace: str, name: str, first: bytes, offset: int,
                  inode: int | None, render: podlog.Follow) -> AsyncIterator[bytes]:
    if first:
        yield first
    ending = False
    while True:
        stat = _stat(path)
        if stat is not None and stat.st_ino != inode:  # a restart moved the old log aside: a new file
            offset, inode = 0, stat.st_ino
        if stat is not None and stat.st_size > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            chunk = chunk[:podlog.whole(chunk)]
            if chunk:
                offset += len(chunk)
                yield render.feed(chunk)
                continue
        pod = api.store.get(PODS.ref, namespace, name)
        if pod is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            if ending:
                return
            ending = True  # one more look: the last lines may have landed since
            continue
        await asyncio.sleep(FOLLOW_POLL_S)
