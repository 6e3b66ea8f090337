"""Watch streams: `?watch=true` answered with one JSON event per line, from the store's change log.

Semantics (Kubernetes API concepts; protocol notes 2.8):
- no resourceVersion (or "0"): a synthetic ADDED for every matching object, then changes;
- resourceVersion=N: only changes after N; N older than the store's history: one ERROR 410 and close;
- a selector watch sees an object that starts matching as ADDED and one that stops as DELETED;
- BOOKMARKs now and then (when asked), and at the end of the initial events for `sendInitialEvents`;
- the stream ends after `timeoutSeconds`, or after 30 to 60 minutes without it, as the real server does.

Watchers never poll: `WatchHub` wakes them when the store commits. The watchers a commit wakes mostly
ask the same question (the changes of one resource since the revision they were all at): the hub keeps a
log of the latest changes that every watcher filters in memory, and builds each event line once for all
of them from the object as stored (`WatchHub.changes`, `line`). The store hands the hub each change as it
writes it (`Store.on_write`), so a write costs no read and no encoding however many informers watch its
kind; the hub reads the store only when what it was handed does not follow on from what it has.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from berth.api.selectors import matcher
from berth.apiserver import errors
from berth.apiserver.resources import Resource
from berth.store import Change, FieldSelector, LabelSelector, Store
from berth.store import Expired as StoreExpired

BOOKMARK_INTERVAL_S = 60.0
#: How many of the latest changes the hub keeps for its watchers (a watcher further behind reads the store).
KEPT = 5_000
TRUE = {"1", "t", "T", "true", "True", "TRUE"}


class WatchHub:
    """Wakes every waiting watcher after each store commit (commits may come from any thread)."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()
        self.closed = False
        self.store = store
        #: The latest changes of every resource, oldest first, read from the store once for all watchers:
        #: `_log[i].revision` ascending, every committed revision in (`_from`, `_to`] present.
        self._log: list[Change] = []
        self._revisions: list[int] = []
        self._from = self._to = self._head = store.revision()
        #: Event lines encoded for watchers that send objects as stored, by (revision, event type).
        self._lines: dict[tuple[int, str], bytes] = {}
        #: Changes as the store wrote them (`Store.on_write`), appended from the committing thread.
        self._written: collections.deque[Change] = collections.deque(maxlen=KEPT)
        store.on_write(self._written.append)
        store.add_listener(self._on_commit)

    def changes(self, since: int, ref: Any, namespace: str | None = None) -> tuple[int, list[Change]]:
        """A revision the caller has now seen everything up to, and the changes of `ref` (None: of every
        resource) in `namespace` after `since`. Changes are read from the store once for every watcher
        (`_catch_up`); a watcher further behind than the hub keeps reads the store itself, as before
        (Expired when compacted)."""
        self._catch_up()
        if since < self._from:
            head = self.store.revision()
            return head, self.store.changes(since, ref, namespace)
        start = bisect.bisect_right(self._revisions, since)
        if ref is None and namespace is None:
            return self._to, self._log[start:]
        found = [c for c in self._log[start:] if (ref is None or c.ref == ref)
                 and (namespace is None or c.namespace == namespace)]
        return self._to, found

    @property
    def head(self) -> int:
        """The store's latest committed revision, as its commits told."""
        return self._head

    def line(self, event_type: str, change: Change) -> bytes:
        """The event line of a change sent as stored, built once for every watcher sending it."""
        key = (change.revision, event_type)
        found = self._lines.get(key)
        if found is None:
            found = self._lines[key] = b'{"type":"%s","object":%s}\n' % (event_type.encode(), change.stored)
        return found

    def _catch_up(self) -> None:
        """Take in what was committed since the last time, for all watchers at once; keep the last KEPT.
        The store's head is known from its commits (`_on_commit`): nothing to do while nothing was written.
        What the store handed over as it wrote serves when it runs on, without a gap, from what the log has
        up to the head; anything else (a write of another process, more than KEPT since the last time) is
        read from the store."""
        head = self._head
        if head <= self._to:
            return
        new = self._handed_over(head)
        if new is None:
            try:
                new = self.store.changes(self._to)
            except StoreExpired:  # idle through a compaction: start the log afresh
                self._log, self._revisions, self._lines = [], [], {}
                self._from = self._to = head
                return
        self._log += new
        self._revisions += [c.revision for c in new]
        self._to = max(head, self._revisions[-1] if self._revisions else head)
        if len(self._log) > KEPT:
            cut = len(self._log) - KEPT // 2
            self._from = self._revisions[cut - 1]
            del self._log[:cut], self._revisions[:cut]
            self._lines = {k: v for k, v in self._lines.items() if k[0] > self._from}

    def _handed_over(self, head: int) -> list[Change] | None:
        """The changes after the log's end up to at least `head`, as the store handed them over, or None."""
        written = self._written
        new = []
        expected = self._to + 1
        while written:
            change = written.popleft()
            if change.revision < expected:
                continue  # already read from the store
            if change.revision != expected:
                written.clear()
                return None
            new.append(change)
            expected += 1
        return new if expected > head else None

    def _on_commit(self, revision: int) -> None:
        self._head = max(self._head, revision)  # the store's writes are serialised: no lost update
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


def _event_for(change: Change, matches: Callable[[dict[str, Any]], bool] | None) -> str | None:
    """The event type a watcher with this selector sees for a change, or None."""
    if matches is None:
        return change.type
    now = matches(change.object)
    if change.type == "ADDED":
        return "ADDED" if now else None
    if change.type == "DELETED":
        return "DELETED" if now else None
    previous = change.previous
    before = matches(previous) if previous is not None else now
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
    render: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> AsyncIterator[bytes]:
    """The event lines of one watch; `render` turns an object into what is sent (a Table); None sends the
    objects as stored, with lines shared between watchers."""
    loop = asyncio.get_running_loop()
    timeout = params.get("timeoutSeconds")
    duration = float(timeout) if timeout and timeout.isdigit() else random.uniform(1800, 3600)
    deadline = loop.time() + duration
    bookmarks = params.get("allowWatchBookmarks") in TRUE
    initial = params.get("sendInitialEvents") in TRUE
    matches = matcher(labels, fields)
    rv = params.get("resourceVersion") or ""
    if rv in ("", "0") or initial:
        page = store.list(resource.ref, namespace, label_selector=labels, field_selector=fields)
        for obj in page.items:
            yield _line("ADDED", obj if render is None else render(obj))
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
        compacted = store.compacted_revision()  # once per watch: the hub may still hold what was compacted
        if cursor < compacted:
            yield _line("ERROR", errors.expired(str(StoreExpired(cursor, compacted))).status())
            return
    last_sent = loop.time()
    while not hub.closed:
        try:
            head, changes = hub.changes(cursor, resource.ref, namespace)
        except StoreExpired as exc:
            yield _line("ERROR", errors.expired(str(exc)).status())
            return
        lines = []
        for change in changes:
            event_type = _event_for(change, matches)
            if event_type is not None:
                lines.append(hub.line(event_type, change) if render is None
                             else _line(event_type, render(change.object)))
        if lines:  # one chunk for what one wake-up found: one write through the layers and TLS, not one each
            yield b"".join(lines)
            last_sent = loop.time()
        cursor = max(head, changes[-1].revision) if changes else head  # changes come in revision order
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        if bookmarks and loop.time() - last_sent >= BOOKMARK_INTERVAL_S:
            yield _bookmark(resource, cursor)
            last_sent = loop.time()
        if hub.head == head:  # nothing committed since the changes were read
            await hub.wait(min(remaining, BOOKMARK_INTERVAL_S))
    if bookmarks:
        yield _bookmark(resource, cursor)
