"""The values the store hands out: which resource a key belongs to, a page of a list, a change.

They are plain frozen dataclasses so that they are cheap to build in the hot paths (a list of 10,000
objects) and safe to share between threads. The objects they carry are ordinary dicts decoded afresh for
each call: a caller may mutate them without affecting the store or any other caller. A `Change` is the
exception: it is shared by every watcher of the API server, carries the stored bytes, and decodes its
objects once, on first use; its readers must not mutate them.
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


class Change:
    """One committed write, as a watcher sees it.

    `object.metadata.resourceVersion == str(revision)`; for DELETED it is the last state, stamped with the
    deletion's revision. `previous` is the object before this change: None for ADDED, and None when that
    state has been compacted away.

    `raw` is the object as stored (its JSON bytes, when the change came from the store), so a watch can send
    it without decoding and encoding it again; `object` and `previous` are decoded on first use, once for
    every reader (most watchers never look at `previous`). Read them from one thread at a time.
    """

    __slots__ = ("type", "revision", "ref", "namespace", "name", "raw", "_object", "_previous", "_raw_previous")

    def __init__(self, type: ChangeType, revision: int, ref: ResourceRef, namespace: str, name: str,
                 object: dict[str, Any] | None = None, previous: dict[str, Any] | None = None, *,
                 raw: bytes | None = None, raw_previous: bytes | None = None) -> None:
        if object is None and raw is None:
            raise ValueError("a Change needs its object or its raw bytes")
        self.type, self.revision, self.ref, self.namespace, self.name = type, revision, ref, namespace, name
        self.raw = raw
        self._object, self._previous, self._raw_previous = object, previous, raw_previous

    @property
    def object(self) -> dict[str, Any]:
        if self._object is None:
            self._object = orjson.loads(self.raw)  # type: ignore[arg-type]
        return self._object

    @property
    def previous(self) -> dict[str, Any] | None:
        if self._previous is None and self._raw_previous is not None:
            self._previous, self._raw_previous = orjson.loads(self._raw_previous), None
        return self._previous

    def _key(self) -> tuple[Any, ...]:
        return (self.type, self.revision, self.ref, self.namespace, self.name, self.object, self.previous)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Change) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # (mutable payloads, as the dataclass had)

    def __repr__(self) -> str:
        return f"Change({self.type}, {self.revision}, {self.ref}, {self.namespace!r}, {self.name!r})"
