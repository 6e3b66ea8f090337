"""The values the store hands out: which resource a key belongs to, a page of a list, a change.

They are plain frozen dataclasses so that they are cheap to build in the hot paths (a list of 10,000
objects, a watch catching up on thousands of changes) and safe to share between threads. A page's objects
are ordinary dicts decoded afresh for each call: a caller may mutate them without affecting the store or
any other caller. A change carries its object as stored and decodes it once for all who hold it (`Change`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A resource type: API group ("" for the core group) and plural resource name ("pods").

    The version is deliberately absent: every version of a resource shares one key space, as in etcd.
    """

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a list, all of it as of `revision`.

    `continue_token` is None on the last page. `remaining` is the number of objects after this page at the
    same revision, or None when it is not known cheaply (no further page, or a selector was applied), as
    Kubernetes' `remainingItemCount`.
    """

    items: list[dict[str, Any]]
    revision: int
    continue_token: str | None
    remaining: int | None


@dataclass(frozen=True, slots=True)
class Change:
    """One committed write, as a watcher sees it.

    `object.metadata.resourceVersion == str(revision)`; for DELETED it is the last state, stamped with the
    deletion's revision. `stored` is the object as stored (its JSON): a watch sends it as it is, so a change
    is never decoded to be sent. `object` is decoded on first use and then shared by everyone who holds
    this change: read it, never mutate it (decode `stored` for a copy of your own).

    `previous` is the object before this change: None for ADDED, and None when that state has been
    compacted away. Only a watch with a selector needs it, to tell an object that stops matching, so it is
    decoded on first use too, and a change reported by its own write (`Store.on_write`) that did not have it
    at hand reads it from the store only then: `stored_previous` is its JSON, or a function that reads it.
    """

    type: ChangeType
    revision: int
    ref: ResourceRef
    namespace: str
    name: str
    stored: bytes
    stored_previous: bytes | Callable[[], bytes | None] | None
    _object: Any = field(default=None, compare=False, repr=False)
    _previous: Any = field(default=None, compare=False, repr=False)

    @property
    def object(self) -> dict[str, Any]:
        found = self._object
        if found is None:
            found = orjson.loads(self.stored)
            object.__setattr__(self, "_object", found)
        return found

    @property
    def previous(self) -> dict[str, Any] | None:
        found = self._previous
        if found is None:
            stored = self.stored_previous
            if callable(stored):
                stored = stored()
            if stored is None:
                return None
            found = orjson.loads(stored)
            object.__setattr__(self, "_previous", found)
        return found
