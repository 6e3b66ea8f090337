"""`GET pods/{name}/log`: container output, as kubectl logs reads it (chunked text/plain).

On one machine the node agents (`berth.nodes`) write each container's output to
`<data-dir>/logs/<namespace>/<pod>/<container>.log`, and the output of the run before a container's last
restart in `<container>.previous.log`; this module serves those files, with `tailLines`, `limitBytes`,
`previous` and `follow` (the stream ends when the pod has finished or is gone, and starts over at the
new file when the container restarts). A pod that has not started yet has an empty log.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.responses import Response, StreamingResponse

from berth.apiserver import errors
from berth.apiserver.resources import find

if TYPE_CHECKING:
    from berth.apiserver.api import Api

PODS = find("", "v1", "pods")
FOLLOW_POLL_S = 0.25


def log_path(data_dir: Path, namespace: str, pod: str, container: str, previous: bool = False) -> Path:
    """Where the output of one container of a pod is kept (`previous`: of its run before the last restart)."""
    return data_dir / "logs" / namespace / pod / f"{container}{'.previous' if previous else ''}.log"


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:  # not written yet, or being moved aside by a restart
        return None


def _true(value: str | None) -> bool:
    return value in ("true", "1", "True")


def _tail(data: bytes, lines: int) -> bytes:
    if lines <= 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


async def respond(api: Api, data_dir: Path | None, namespace: str, name: str, params: dict[str, str]) -> Response:
    pod = api.get(PODS, namespace, name)
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = params.get("container") or (containers[0] if containers else "")
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    previous = _true(params.get("previous"))
    path = log_path(data_dir, namespace, name, container, previous) if data_dir else None
    if previous and not (path and path.exists()):
        raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    data, inode = b"", None
    if path is not None:
        try:
            with path.open("rb") as handle:
                inode, data = os.fstat(handle.fileno()).st_ino, handle.read()
        except FileNotFoundError:
            pass
    offset = len(data)
    if params.get("tailLines", "").isdigit():
        data = _tail(data, int(params["tailLines"]))
    if params.get("limitBytes", "").isdigit():
        data = data[: int(params["limitBytes"])]
    if not _true(params.get("follow")) or previous or path is None:
        return Response(data, media_type="text/plain")
    return StreamingResponse(_follow(api, path, namespace, name, data, offset, inode), media_type="text/plain")


async def _follow(api: Api, path: Path, namespace: str, name: str, first: bytes, offset: int,
                  inode: int | None) -> AsyncIterator[bytes]:
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
            offset += len(chunk)
            yield chunk
            continue
        pod = api.store.get(PODS.ref, namespace, name)
        if pod is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            if ending:
                return
            ending = True  # one more look: the last lines may have landed since
            continue
        await asyncio.sleep(FOLLOW_POLL_S)
