"""The audit log: who created, changed or deleted what, as JSON lines in `<data-dir>/audit/audit.log`.

Each line is a Kubernetes audit event (`audit.k8s.io/v1` Event at level Metadata, stage ResponseComplete),
so the tools that read a real cluster's audit log read this one: `verb`, `objectRef` (resource, namespace,
name, apiGroup, apiVersion, subresource), `user.username`, `sourceIPs`, `userAgent`, `responseStatus.code`,
`requestReceivedTimestamp` and `stageTimestamp`. Writes (create, update, patch, delete, deletecollection,
and a pod's exec, attach and portforward) are recorded, refused ones too; reads only when asked.

`AuditMiddleware` wraps the ASGI app, so the request handlers know nothing of it; it reads the user after
the app has authenticated the request (`request.state.user`, else the sha256 of the bearer token: a raw
token is never written). `AuditLog` hands lines to a writer thread through a queue, so the event loop never
waits on the disk; the thread drains the queue on a clean shutdown (the app's lifespan ending, or the
interpreter exiting), so no line is lost then. The file is rotated by size as kube-apiserver rotates its
own (`--audit-log-maxsize`, `--audit-log-maxbackup`): `audit.log` becomes `audit.log.1`, `.1` becomes `.2`,
and the oldest beyond the number kept is removed. A kill -9 may lose the lines still queued (at most about
`BATCH_S`, 20 ms, of them).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import HTTPConnection

from berth.apiserver.app import addressed
from berth.apiserver.limits import named

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The verbs recorded by default: everything that changes the cluster.
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
READS = frozenset({"get", "list", "watch"})
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


#: How long the writer thread lets lines gather after each write. Waking per request cost the API server
#: about a tenth of its CPU under load (the event loop and the thread handing the interpreter lock back and
#: forth); 20 ms keeps a line's delay far below anything a reader of the log notices.
BATCH_S = 0.02


class AuditLog:
    """An append-only JSON lines file, written by a thread of its own and rotated by size.

    Lines go to the file with plain `os.write` (no buffer to flush or lose): a batch that the disk refuses
    is cut off again, so the file never holds a torn line."""

    def __init__(self, path: Path, max_size: int, max_backups: int) -> None:
        self.path = path
        self.max_size = max_size
        self.max_backups = max_backups
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd: int | None = None
        self._size = 0
        self._reopen()
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # the file, between the thread and writes after close
        self._closed = False
        self._failing = False  # the last write failed (a full disk): said once, until one succeeds
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _reopen(self) -> None:
        self._shut()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _shut(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def write(self, event: dict[str, Any]) -> None:
        """Queue one event (never blocks on the disk); after `close`, write it at once."""
        line = orjson.dumps(event, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)
        if not self._closed:
            self._queue.put(line)
            return
        with self._lock:
            self._append_or_report([line])
            self._shut()

    def close(self) -> None:
        """Write what is queued and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._queue.put(None)
        self._thread.join()
        with self._lock:
            self._shut()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:  # everything already queued goes in one write
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            lines = [line for line in batch if line is not None]
            with self._lock:
                self._append_or_report(lines)
            if None in batch:
                return
            time.sleep(BATCH_S)  # let lines gather: one wake-up per batch, not per request

    def _append_or_report(self, lines: list[bytes]) -> None:
        """Append; a disk that refuses (full, gone) costs these lines, said once per failing stretch in the
        server's log, and never stops the thread or the server."""
        try:
            self._append(lines)
        except OSError as exc:
            self._dropped += len(lines)
            if not self._failing:
                log.error("audit log %s: %s; audit lines are dropped until it can be written again",
                          self.path, exc.strerror or exc)
            self._failing = True
            self._shut()  # opened again (or created again, if it was removed) by the next batch
            return
        if self._failing:
            log.warning("audit log %s: writing again; %d lines were dropped", self.path, self._dropped)
            self._failing, self._dropped = False, 0

    def _append(self, lines: list[bytes]) -> None:
        if self._fd is None:
            self._reopen()
        chunk: list[bytes] = []
        pending = 0
        for line in lines:
            if self._size + pending and self._size + pending + len(line) > self.max_size:
                self._write(b"".join(chunk))
                chunk, pending = [], 0
                self._rotate()
            chunk.append(line)
            pending += len(line)
        self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)  # no torn line
            raise
        self._size += len(data)

    def _rotate(self) -> None:
        self._shut()
        if self.max_backups <= 0:
            self.path.unlink(missing_ok=True)
        else:
            self._backup(self.max_backups).unlink(missing_ok=True)
            for n in range(self.max_backups - 1, 0, -1):
                if self._backup(n).exists():
                    self._backup(n).rename(self._backup(n + 1))
            self.path.rename(self._backup(1))
        self._reopen()

    def _backup(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")


def _now() -> datetime:
    return datetime.now(timezone.utc)  # orjson writes it as RFC 3339 with microseconds (OPT_UTC_Z: a "Z")


def _verb(method: str, has_name: bool, watch: bool) -> str:
    if method == "GET":
        return "watch" if watch else "get" if has_name else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(
        method, "delete" if has_name else "deletecollection")


def describe(scope: Scope) -> tuple[str, dict[str, str]] | None:
    """The verb and objectRef of a request for a resource, or None for any other path (discovery,
    OpenAPI, health) and for a method that is no Kubernetes verb. Reads the scope alone: it runs for every
    request, audited or not."""
    method = "POST" if scope["type"] == "websocket" else scope.get("method", "GET")
    if method not in METHODS:
        return None
    found = addressed(scope)
    if found is None or found.target is None:
        return None  # not a resource path, or no such resource: nothing in the cluster is read or changed
    target = found.target
    ref = {"resource": target.resource.plural, "namespace": target.namespace or "", "name": target.name or "",
           "apiGroup": found.group, "apiVersion": found.version, "subresource": target.subresource}
    return _verb(method, target.name is not None, method == "GET" and found.watch), {k: v for k, v in ref.items() if v}


def _created_name(reply: bytes) -> str | None:
    """The name a create's reply gives: the object's, or a refusal's Status details (AlreadyExists, Invalid)."""
    try:
        body = orjson.loads(reply)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    part = body.get("details") if body.get("kind") == "Status" else body.get("metadata")
    name = part.get("name") if isinstance(part, dict) else None
    return name if isinstance(name, str) else None


#: Audit IDs are UUIDs, unique across restarts: a random one per process, then a count in its last 48 bits
#: (a fresh random UUID per request was a tenth of the audit's time).
_ID_PREFIX = uuid.uuid4().hex[:20]
_ids = itertools.count()


def _audit_id() -> str:
    h = f"{_ID_PREFIX}{next(_ids) & 0xFFFF_FFFF_FFFF:012x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _user_agent(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"user-agent":
            return value.decode("latin-1")
    return ""


class AuditMiddleware:
    """Records each audited request once its answer is known; closes the log when the app stops."""

    def __init__(self, app: ASGIApp, log: AuditLog, reads: bool = False) -> None:
        self.app = app
        self.log = log
        self.reads = reads
        self.verbs = WRITES | READS if reads else WRITES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope.get("method") == "GET" and not self.reads:
            await self.app(scope, receive, send)  # most requests: nothing to look at
            return
        described = describe(scope)
        if described is None or described[0] not in self.verbs:
            await self.app(scope, receive, send)
            return
        verb, ref = described
        conn = HTTPConnection(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client")
        event: dict[str, Any] = {
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": _audit_id(),
            "stage": "ResponseComplete", "requestURI": scope["path"] + (f"?{query}" if query else ""),
            "verb": verb, "user": {"username": ""}, "objectRef": ref,
            "sourceIPs": [client[0]] if client else [],
            "userAgent": _user_agent(scope),
            "requestReceivedTimestamp": _now(),
        }
        named_by_body = verb == "create" and "name" not in ref  # a create's name (or generateName's) is in its reply
        body: list[bytes] = []
        code: list[int] = []

        async def capture(message: Message) -> None:
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                code.append(message["status"])
            elif kind == "websocket.accept":
                code.append(101)
            elif kind == "http.response.body" and named_by_body:
                body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if named_by_body:  # the app names what it created; a refusal names it in its reply
                name = scope.get("state", {}).get("created") or _created_name(b"".join(body))
                if name:
                    ref["name"] = name
            event["user"] = {"username": named(conn) or "system:anonymous"}
            if code:
                event["responseStatus"] = {"metadata": {}, "code": code[0]}
            event["stageTimestamp"] = _now()
            self.log.write(event)

    def _closing(self, send: Send) -> Send:
        async def forward(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                self.log.close()
            await send(message)

        return forward
