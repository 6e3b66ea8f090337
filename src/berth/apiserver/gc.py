"""The garbage collector and the namespace finalizer: what makes `kubectl delete tw x` remove its pods,
and `kubectl delete ns x` remove everything in it.

It follows the store's change log, as any controller would, and keeps an index of owner uid -> dependents.
- An owner deleted in the Background: every dependent whose owners are all gone is deleted.
- An owner being deleted in the Foreground (finalizer foregroundDeletion): its dependents are deleted
  first; when none is left the finalizer goes, and with it the owner.
- An owner deleted with Orphan (finalizer orphan): dependents lose their reference to it; then the
  finalizer goes.
- A namespace being deleted: every object in it is deleted; then the namespace.
Every change goes through `Api`, so the same rules (finalizers, events for watchers) apply as for users.

Most changes are nothing to it (a status written, an object created with its owners alive), yet it sees
every one: it takes what it needs of each (uid, owners, whether it is being deleted) from the store as the
object is written (`Store.on_write(with_object=True)`), so that only the changes it acts on are decoded.
Decoding every change was a tenth of the API server's time under load, with freeing what was decoded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from berth.apiserver import errors, objects
from berth.apiserver.api import FOREGROUND, NAMESPACE_FINALIZER, NAMESPACES, ORPHAN, Api, WriteOptions
from berth.apiserver.objects import clone
from berth.apiserver.resources import RESOURCES, Resource
from berth.apiserver.watch import WatchHub
from berth.store import Change, Expired

log = logging.getLogger(__name__)

Key = tuple[Resource, str, str]  # resource, namespace, name
_BY_REF = {r.ref: r for r in RESOURCES}
_MANAGER = WriteOptions(manager="berth-garbage-collector")


def _owners(obj: dict[str, Any]) -> list[str]:
    return [ref.get("uid", "") for ref in (obj.get("metadata") or {}).get("ownerReferences") or []]


@dataclass(frozen=True, slots=True)
class _Note:
    """What the collector needs of one stored state of an object."""

    uid: str
    owners: list[str]
    deleting: bool

    @staticmethod
    def of(obj: dict[str, Any]) -> _Note:
        return _Note((obj.get("metadata") or {}).get("uid", ""), _owners(obj), objects.is_deleting(obj))


class GarbageCollector:
    """Deletes what its owners no longer hold; runs as a task of the API server."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.dependents: dict[str, set[Key]] = defaultdict(set)  # owner uid -> its dependents
        self.owners_of: dict[Key, list[str]] = {}  # dependent -> its owners' uids
        self.live: dict[str, Key] = {}  # uid -> key of every object that exists
        self.terminating: set[str] = set()  # namespaces being deleted: another look whenever anything changes
        self.notes: dict[int, _Note] = {}  # revision -> its note, taken as the store wrote it (`note`)
        api.store.on_write(self.note, with_object=True)

    # -- index --------------------------------------------------------------------------------------

    def note(self, change: Change, obj: dict[str, Any]) -> None:
        """Keep what the collector needs of a change, from the object as the store writes it (under its write
        lock, before the writer has it back: read, never kept)."""
        self.notes[change.revision] = _Note.of(obj)

    def _index(self, resource: Resource, obj: dict[str, Any], present: bool) -> None:
        meta = obj.get("metadata") or {}
        self._index_key((resource, meta.get("namespace", ""), meta.get("name", "")), _Note.of(obj), present)

    def _index_key(self, key: Key, note: _Note, present: bool) -> None:
        uid = note.uid
        for owner in self.owners_of.pop(key, ()):
            self.dependents[owner].discard(key)
            if not self.dependents[owner]:
                del self.dependents[owner]
        if not present:
            self.live.pop(uid, None)
            return
        self.live[uid] = key
        owners = note.owners
        if owners:
            self.owners_of[key] = owners
            for owner in owners:
                self.dependents[owner].add(key)

    def rebuild(self) -> int:
        """Index every stored object; the revision it reflects."""
        revision = self.api.store.revision()
        self.dependents.clear()
        self.owners_of.clear()
        self.live.clear()
        self.terminating.clear()
        self.notes = {r: n for r, n in self.notes.items() if r > revision}
        for resource in RESOURCES:
            for obj in self.api.store.list(resource.ref, None).items:
                self._index(resource, obj, True)
                if resource is NAMESPACES and objects.is_deleting(obj):
                    self.terminating.add(obj["metadata"]["name"])
        return revision

    # -- work ---------------------------------------------------------------------------------------

    def _delete(self, key: Key, policy: str = "Background") -> None:
        resource, namespace, name = key
        try:
            self.api.delete(resource, namespace, name, {"propagationPolicy": policy})
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                log.warning("garbage collector could not delete %s %s/%s: %s", resource.kind, namespace, name, exc)

    def _drop_finalizer(self, resource: Resource, obj: dict[str, Any], finalizer: str) -> None:
        meta = obj["metadata"]
        updated = clone(obj)
        updated["metadata"]["finalizers"] = [f for f in objects.finalizers(obj) if f != finalizer]
        if resource.plural == "namespaces":
            updated.setdefault("spec", {})["finalizers"] = []
        try:
            self.api.update(resource, meta.get("namespace", ""), meta["name"], updated, _MANAGER)
        except errors.ApiError as exc:
            if exc.code not in (404, 409):
                raise

    def _orphan(self, owner_uid: str) -> None:
        for resource, namespace, name in list(self.dependents.get(owner_uid, ())):
            obj = self.api.store.get(resource.ref, namespace, name)
            if obj is None:
                continue
            updated = clone(obj)
            refs = [r for r in updated["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
            updated["metadata"]["ownerReferences"] = refs
            try:
                self.api.update(resource, namespace, name, updated, _MANAGER)
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise

    def handle(self, resource: Resource, obj: dict[str, Any], deleted: bool) -> None:
        """React to one change of one object."""
        self._index(resource, obj, not deleted)
        meta = obj.get("metadata") or {}
        uid = meta.get("uid", "")
        if deleted:
            for key in list(self.dependents.get(uid, ())):
                dependent = self.api.store.get(key[0].ref, key[1], key[2])
                if dependent is not None and not any(o in self.live for o in _owners(dependent)):
                    self._delete(key)
            for owner_uid in _owners(obj):  # an owner deleted in the foreground may now be free to go
                owner_key = self.live.get(owner_uid)
                owner = self.api.store.get(owner_key[0].ref, owner_key[1], owner_key[2]) if owner_key else None
                if owner is not None and objects.is_deleting(owner):
                    self.handle(owner_key[0], owner, False)
            return
        if not objects.is_deleting(obj):
            dangling = _owners(obj)
            if dangling and not any(o in self.live for o in dangling) and self._owners_known(obj):
                self._delete((resource, meta.get("namespace", ""), meta.get("name", "")))
            return
        finalizers = objects.finalizers(obj)
        if resource.plural == "namespaces":
            self._finish_namespace(obj)
        elif FOREGROUND in finalizers:
            remaining = [k for k in self.dependents.get(uid, ()) if self.api.store.get(k[0].ref, k[1], k[2])]
            for key in remaining:
                self._delete(key, "Foreground")
            if not remaining:
                self._drop_finalizer(resource, obj, FOREGROUND)
        elif ORPHAN in finalizers:
            self._orphan(uid)
            self._drop_finalizer(resource, obj, ORPHAN)

    def _owners_known(self, obj: dict[str, Any]) -> bool:
        """Owner references name kinds Berth serves (an unknown owner is never collected)."""
        return all(bool(ref.get("uid")) for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])

    def _finish_namespace(self, ns: dict[str, Any]) -> None:
        name = ns["metadata"]["name"]
        left = 0
        for resource in RESOURCES:
            if not resource.namespaced:
                continue
            for obj in self.api.store.list(resource.ref, name).items:
                left += 1
                if not objects.is_deleting(obj):
                    self._delete((resource, name, obj["metadata"]["name"]))
        if left == 0 and NAMESPACE_FINALIZER in ((ns.get("spec") or {}).get("finalizers") or []):
            updated = clone(ns)
            updated["spec"]["finalizers"] = []
            try:
                self.api.update(NAMESPACES, "", name, updated, _MANAGER)  # the last finalizer: it goes
            except errors.ApiError as exc:
                if exc.code not in (404, 409):
                    raise

    def apply(self, change: Change) -> None:
        note = self.notes.pop(change.revision, None)
        resource = _BY_REF.get(change.ref)
        if resource is None:
            return
        if note is None:  # not written through this store (another process), or noted before a rebuild
            note = _Note.of(change.object)
        if resource is NAMESPACES:
            if change.type != "DELETED" and note.deleting:
                self.terminating.add(change.name)
            else:
                self.terminating.discard(change.name)
        key = (resource, change.namespace, change.name)
        if change.type != "DELETED" and not note.deleting and (
                self._as_indexed(key, note) if change.type == "MODIFIED" else self._added(key, note)):
            return  # most changes: a status written, or an object made with its owners alive
        # `change.object` is decoded once for every watcher of the change: read, never changed, here
        self.handle(resource, change.object, change.type == "DELETED")

    def _as_indexed(self, key: Key, note: _Note) -> bool:
        """Whether `handle` would find that this modification of an object not being deleted changes
        nothing: it has the owners indexed for it, and every one of them is live (so none is dangling)."""
        return note.owners == self.owners_of.get(key, []) and note.uid in self.live \
            and all(owner in self.live for owner in note.owners)

    def _added(self, key: Key, note: _Note) -> bool:
        """Index an object created not being deleted, as `handle` would; False (nothing done) when one of
        its owners is not live, for `handle` to decide."""
        if not all(owner in self.live for owner in note.owners):
            return False
        self._index_key(key, note, True)
        return True

    async def run(self, hub: WatchHub) -> None:
        """Follow the store until the hub closes."""
        cursor = self.rebuild()
        for resource in RESOURCES:  # finish what a previous run left half done
            for obj in self.api.store.list(resource.ref, None).items:
                self.handle(resource, obj, False)
        while not hub.closed:
            try:  # every resource's changes, from the log the watchers share (`WatchHub.changes`)
                head, changes = hub.changes(cursor, None)
            except Expired:
                cursor = self.rebuild()
                continue
            for change in changes:
                try:
                    self.apply(change)
                except Exception:  # noqa: BLE001 - one bad object must not stop collection
                    log.exception("garbage collector failed on %s %s", change.ref, change.name)
            if changes:  # namespaces still terminating need another look when their contents change
                for name in sorted(self.terminating):
                    ns = self.api.store.get(NAMESPACES.ref, "", name)
                    if ns is not None and objects.is_deleting(ns):
                        self._finish_namespace(ns)
            cursor = max([head] + [c.revision for c in changes])
            if hub.head == cursor:
                await hub.wait(5.0)
            else:
                await asyncio.sleep(0)
