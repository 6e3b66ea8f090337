"""The store's exceptions: the only way it reports a refused operation.

Each maps to exactly one Kubernetes `Status` reason, which the API server picks by class, so the classes
must stay distinct and every error the store raises on purpose is a `StoreError` (or a `SelectorError`):

| class           | API answer                  |
|-----------------|-----------------------------|
| `NotFound`      | 404 NotFound                |
| `AlreadyExists` | 409 AlreadyExists           |
| `Conflict`      | 409 Conflict                |
| `Expired`       | 410 Expired                 |
| `SelectorError` | 400 BadRequest (`berth.api.selectors`' own, re-exported: selectors are parsed outside the store too) |
| `StoreError`    | 400 BadRequest (e.g. a malformed continue token, a resource version from the future) |
| `UnusableFile`  | none: raised when a store is opened, so `berth up` refuses to start |
| `WriteFailed`   | 507 InsufficientStorage (disk full) or 500 InternalError (an I/O error): nothing was written |

Messages are written for people (they end up in `kubectl` output) and, where Kubernetes has a fixed
wording, use it.
"""

from __future__ import annotations

from berth.api.selectors import SelectorError

__all__ = ["AlreadyExists", "Conflict", "Expired", "NotFound", "SelectorError", "StoreError", "UnusableFile",
           "WriteFailed"]


class StoreError(Exception):
    """Base class of every error the store raises on purpose; alone, a request the store cannot serve."""


class NotFound(StoreError):
    """The key does not exist (or no longer exists) at the revision read."""


class AlreadyExists(StoreError):
    """A create found a live object under the same key."""


class Conflict(StoreError):
    """An optimistic-concurrency precondition failed: `current_rv` is the key's revision now."""

    def __init__(self, message: str, current_rv: int) -> None:
        super().__init__(message)
        self.current_rv = current_rv


class Expired(StoreError):
    """The revision asked for is older than the retained history (compacted away)."""

    def __init__(self, requested: int, compacted: int) -> None:
        # The exact wording of the Kubernetes API (410 Expired); clients match on the reason, people read this.
        super().__init__(f"too old resource version: {requested} ({compacted})")
        self.requested = requested
        self.compacted = compacted


class UnusableFile(StoreError):
    """The file cannot be a store: `problem` is "not-sqlite", "foreign" (another program's SQLite database),
    "version" (a Berth store of another schema version), "damaged" (SQLite finds it corrupt) or
    "unreadable" (SQLite cannot read it now: an I/O error, a full disk where its -shm file must go)."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


class WriteFailed(StoreError):
    """SQLite could not write (the disk is full, or an I/O error): the transaction was rolled back, so
    nothing of the write is stored, and the store is as it was. `disk_full` tells the two apart."""

    def __init__(self, message: str, disk_full: bool) -> None:
        super().__init__(message)
        self.disk_full = disk_full
