"""The values the store hands out: which resource a key belongs to, a page of a list, a change.

They are plain frozen dataclasses so that they are cheap to build in the hot paths (a list of 10,000
objects, a watch catching up on thousands of changes) and safe to share between threads. The objects they
carry are ordinary dicts decoded afresh for each call: a caller may mutate them without affecting the
store or any other caller.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    deletion's revision. `previous` is the object before this change: None for ADDED, and None when that
    state has been compacted away. It is kept as stored and decoded when asked (afresh each time): only a
    watch with a selector needs it, to tell an object that stops matching, and most changes are
    modifications whose previous state nobody reads.
    """

    type: ChangeType
    revision: int
    ref: ResourceRef
    namespace: str
    name: str
    object: dict[str, Any]
    stored_previous: bytes | None

    @property
    def previous(self) -> dict[str, Any] | None:
        return None if self.stored_previous is None else orjson.loads(self.stored_previous)
