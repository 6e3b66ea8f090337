"""`GET pods/{name}/log`: container output, as kubectl logs reads it (chunked text/plain).

On one machine the node agents (`berth.nodes`) write each container's output to
`<data-dir>/logs/<namespace>/<pod>/<container>.log`; this module serves those files, with `tailLines`,
`limitBytes` and `follow` (the stream ends when the pod has finished or is gone). A pod that has not
started yet has an empty log.
"""

from __future__ import annotations

import asyncio
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


def log_path(data_dir: Path, namespace: str, pod: str, container: str) -> Path:
    """Where the output of one container of a pod is kept."""
    return data_dir / "logs" / namespace / pod / f"{container}.log"


def _tail(data: bytes, lines: int) -> bytes:
    if lines <= 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


async def respond(api: "Api", data_dir: Path | None, namespace: str, name: str, params: dict[str, str]) -> Response:
    pod = api.get(PODS, namespace, name)
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = params.get("container") or (containers[0] if containers else "")
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    path = log_path(data_dir, namespace, name, container) if data_dir else None
    data = path.read_bytes() if path and path.exists() else b""
    if params.get("tailLines", "").isdigit():
        data = _tail(data, int(params["tailLines"]))
    if params.get("limitBytes", "").isdigit():
        data = data[: int(params["limitBytes"])]
    if params.get("follow") not in ("true", "1", "True") or path is None:
        return Response(data, media_type="text/plain")
    start = path.stat().st_size if path.exists() else 0
    return StreamingResponse(_follow(api, path, namespace, name, data, start), media_type="text/plain")


async def _follow(api: "Api", path: Path, namespace: str, name: str, first: bytes, offset: int) -> AsyncIterator[bytes]:
    if first:
        yield first
    while True:
        if path.exists() and path.stat().st_size > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            offset += len(chunk)
            yield chunk
            continue
        pod = api.store.get(PODS.ref, namespace, name)
        if pod is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        await asyncio.sleep(FOLLOW_POLL_S)
