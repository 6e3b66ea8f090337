"""`GET pods/{name}/log`: container output, as kubectl logs reads it (chunked text/plain).

On one machine the node agents (`berth.nodes`) write each container's output to the log files that
`berth.api.podlog` places and formats (timestamped records, the run before a restart kept aside); this
module serves them with kubectl's options: `tailLines`, `sinceSeconds`, `sinceTime`, `timestamps`,
`limitBytes`, `previous` and `follow` (the stream ends when the pod has finished or is gone, and starts
over at the new file when the container restarts).

A log that does not exist yet is answered as on a real cluster: a pod on no node yet has an empty log
(kube-apiserver has no kubelet to ask); a placed pod whose container has not started is 400 in the
kubelet's words (`container "main" in pod "x" is waiting to start: ContainerCreating`), unless an earlier
run of the container left a log.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from starlette.responses import Response, StreamingResponse

from berth.api import podlog
from berth.apiserver import errors
from berth.apiserver.resources import find

if TYPE_CHECKING:
    from berth.apiserver.api import Api

PODS = find("", "v1", "pods")
FOLLOW_POLL_S = 0.25
TAIL_WINDOW = 65536  # bytes read from the end of a log first when only a tail is asked for


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
        since = podlog.parse_time(params["sinceTime"])
        if since is None:
            causes.append({"reason": "FieldValueInvalid", "field": "sinceTime", "message":
                           f"Invalid value: {params['sinceTime']!r}: must be an RFC 3339 time, like "
                           "2026-01-02T15:04:05Z"})
    if causes:
        raise errors.invalid("PodLogOptions", "", name, causes)
    return since, tail, limit


def container_of(pod: dict, name: str, asked: str) -> str:
    """The container whose log (or exec, attach) is asked for, as kube-apiserver picks it (LogLocation)."""
    spec = pod.get("spec") or {}
    containers = [c.get("name") for c in spec.get("containers") or []]
    inits = [c.get("name") for c in spec.get("initContainers") or []]
    if asked:
        if asked not in containers + inits:
            raise errors.bad_request(f"container {asked} is not valid for pod {name}")
        return asked
    if len(containers) == 1:
        return containers[0]
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
    if inits:
        message += f" or one of the init containers: [{' '.join(inits)}]"
    raise errors.bad_request(message)


def _check_started(pod: dict, name: str, container: str, previous: bool) -> None:
    """Refuse, as the kubelet does, the log of a container that has none yet: it is not known to the node,
    or it waits to start (and has no earlier run to show)."""
    status = pod.get("status") or {}
    found = next((c for c in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
                  if c.get("name") == container), None)
    if found is None:
        raise errors.bad_request(f'container "{container}" in pod "{name}" is not available')
    state, last = found.get("state") or {}, found.get("lastState") or {}
    if previous or state.get("running") or state.get("terminated") or last.get("terminated"):
        return
    reason = (state.get("waiting") or {}).get("reason")
    if reason is None:
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start - no logs yet')
    said = {"ErrImagePull": "image can't be pulled", "ImagePullBackOff": "trying and failing to pull image"}
    raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {said.get(reason, reason)}')


async def respond(api: Api, data_dir: Path | None, namespace: str, name: str, params: dict[str, str]) -> Response:
    pod = api.get(PODS, namespace, name)
    container = container_of(pod, name, params.get("container") or "")
    since, tail, limit = _options(name, params)
    stamps, previous = _true(params.get("timestamps")), _true(params.get("previous"))
    if not (pod.get("spec") or {}).get("nodeName"):
        return Response(b"", media_type="text/plain")  # on no node yet: kube-apiserver answers an empty log
    _check_started(pod, name, container, previous)
    path = podlog.log_path(data_dir, namespace, name, container, previous=previous) if data_dir else None
    if previous and not (path and path.exists()):
        raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    follow = _true(params.get("follow")) and not previous and path is not None
    handle = _open(path)
    try:
        lines = await asyncio.to_thread(_read, handle, since, tail) if handle else []
    except BaseException:
        if handle:
            handle.close()
        raise
    text = podlog.render(lines, timestamps=stamps)
    if not follow or path is None:
        if handle:
            handle.close()
        return Response(text[:limit] if limit else text, media_type="text/plain")
    render = podlog.Follow(timestamps=stamps, open_streams=podlog.unfinished(lines))
    stream = _follow(api, path, namespace, name, text, handle, render)
    return StreamingResponse(_limited(stream, limit) if limit else stream, media_type="text/plain")


def _open(path: Path | None) -> BinaryIO | None:
    try:
        return path.open("rb") if path is not None else None
    except FileNotFoundError:  # not started yet
        return None


def _read(handle: BinaryIO, since: int | None, tail: int | None) -> list[podlog.Line]:
    """The selected lines of the log open in `handle`, which is left just after the last whole record.
    When only a tail is asked for, only as much of the end of the file is read as holds it."""
    size = os.fstat(handle.fileno()).st_size
    window = max(TAIL_WINDOW, tail * 256) if tail is not None and since is None else size
    while True:
        start = max(0, size - window)
        handle.seek(start)
        data = handle.read(size - start)
        end = podlog.whole(data)
        handle.seek(start + end)
        data = data[:end]
        if start:  # began mid-file: the first record may be cut, and the first line be the end of one
            data = data[data.find(b"\n") + 1:]
        lines = podlog.parse(data)
        if not start or (tail is not None and len(lines) > tail):
            return podlog.select(lines, since_ns=since, tail=tail)
        window *= 4


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """At most `limit` bytes of `chunks`, then the end of the stream."""
    async for chunk in chunks:
        yield chunk[:limit]
        limit -= len(chunk)
        if limit <= 0:
            return


async def _follow(api: Api, path: Path, namespace: str, name: str, first: bytes, handle: BinaryIO | None,
                  render: podlog.Follow) -> AsyncIterator[bytes]:
    """`first`, then what is appended to the log as it comes, until the pod has ended or is gone. When the
    container restarts (its log moved aside, a new file begun), what is left of the old file is read to its
    end, then the new one from its start."""
    if first:
        yield first
    ending = False
    try:
        while True:
            chunk = podlog.read_whole(handle)
            if chunk:
                yield render.feed(chunk)
                continue
            stat = _stat(path)
            if stat is not None and (handle is None or stat.st_ino != os.fstat(handle.fileno()).st_ino):
                rest = podlog.read_whole(handle)  # the last lines of the old file may have landed since
                if handle is not None:
                    handle.close()
                handle = _open(path)
                out = (render.feed(rest) if rest else b"") + render.restart()
                if out:
                    yield out
                continue
            pod = api.store.get(PODS.ref, namespace, name)
            if pod is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                if ending:
                    return
                ending = True  # one more look: the last lines may have landed since
                continue
            await asyncio.sleep(FOLLOW_POLL_S)
    finally:
        if handle is not None:
            handle.close()

