"""Watch streams: `?watch=true` answered with one JSON event per line, from the store's change log.

Semantics (Kubernetes API concepts; protocol notes 2.8):
- no resourceVersion (or "0"): a synthetic ADDED for every matching object, then changes;
- resourceVersion=N: only changes after N; N older than the store's history: one ERROR 410 and close;
- a selector watch sees an object that starts matching as ADDED and one that stops as DELETED;
- BOOKMARKs now and then (when asked), and at the end of the initial events for `sendInitialEvents`;
- the stream ends after `timeoutSeconds`, or after 30 to 60 minutes without it, as the real server does.

Watchers never poll: `WatchHub` wakes them when the store commits.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from berth.apiserver import errors
from berth.apiserver.resources import Resource
from berth.store import Change, FieldSelector, LabelSelector, Store
from berth.store import Expired as StoreExpired

BOOKMARK_INTERVAL_S = 60.0
TRUE = {"1", "t", "T", "true", "True", "TRUE"}


class WatchHub:
    """Wakes every waiting watcher after each store commit (commits may come from any thread)."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()
        self.closed = False
        store.add_listener(self._on_commit)

    def _on_commit(self, revision: int) -> None:
        self._wake_from_anywhere()

    def _wake_from_anywhere(self) -> None:
        """Wake the watchers from the loop's thread, or from any other (a commit, a signal handler)."""
        if self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wake()
        else:
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float) -> None:
        """Until the next commit, close, or timeout."""
        if self.closed:
            return
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def close(self) -> None:
        """End every watch (with its last bookmark); safe to call from a signal handler's thread."""
        self.closed = True
        self._wake_from_anywhere()


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


def _matcher(labels: LabelSelector | None, fields: FieldSelector | None) -> Callable[[dict[str, Any]], bool] | None:
    if labels is None and fields is None:
        return None

    def matches(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return (labels is None or labels.matches(meta.get("labels"))) and (fields is None or fields.matches(obj))

    return matches


def _event_for(change: Change, matches: Callable[[dict[str, Any]], bool] | None) -> str | None:
    """The event type a watcher with this selector sees for a change, or None."""
    if matches is None:
        return change.type
    now = matches(change.object)
    if change.type == "ADDED":
        return "ADDED" if now else None
    if change.type == "DELETED":
        return "DELETED" if now else None
    before = matches(change.previous) if change.previous is not None else now
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None


def _bookmark(resource: Resource, revision: int, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line("BOOKMARK", {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta})


async def stream(
    store: Store,
    hub: WatchHub,
    resource: Resource,
    namespace: str | None,
    params: dict[str, str],
    labels: LabelSelector | None,
    fields: FieldSelector | None,
    render: Callable[[dict[str, Any]], dict[str, Any]] = lambda obj: obj,
) -> AsyncIterator[bytes]:
    """The event lines of one watch; `render` turns an object into what is sent (the object, or a Table)."""
    loop = asyncio.get_running_loop()
    timeout = params.get("timeoutSeconds")
    duration = float(timeout) if timeout and timeout.isdigit() else random.uniform(1800, 3600)
    deadline = loop.time() + duration
    bookmarks = params.get("allowWatchBookmarks") in TRUE
    initial = params.get("sendInitialEvents") in TRUE
    matches = _matcher(labels, fields)
    rv = params.get("resourceVersion") or ""
    if rv in ("", "0") or initial:
        page = store.list(resource.ref, namespace, label_selector=labels, field_selector=fields)
        for obj in page.items:
            yield _line("ADDED", render(obj))
        cursor = page.revision
        if initial:
            yield _bookmark(resource, cursor, initial_end=True)
    else:
        try:
            cursor = int(rv)
        except ValueError:
            cursor = -1
        if not 0 <= cursor < 2**63:  # a revision is a SQLite integer: a larger one broke the stream (fuzzing)
            yield _line("ERROR", errors.bad_request(f'invalid resourceVersion "{rv}"').status())
            return
    last_sent = loop.time()
    while not hub.closed:
        head = store.revision()
        try:
            changes = store.changes(cursor, resource.ref, namespace)
        except StoreExpired as exc:
            yield _line("ERROR", errors.expired(str(exc)).status())
            return
        for change in changes:
            event_type = _event_for(change, matches)
            if event_type is not None:
                yield _line(event_type, render(change.object))
                last_sent = loop.time()
        cursor = max([head] + [c.revision for c in changes])
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        if bookmarks and loop.time() - last_sent >= BOOKMARK_INTERVAL_S:
            yield _bookmark(resource, cursor)
            last_sent = loop.time()
        if store.revision() == head:
            await hub.wait(min(remaining, BOOKMARK_INTERVAL_S))
    if bookmarks:
        yield _bookmark(resource, cursor)
