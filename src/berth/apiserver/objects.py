"""What the API server does to an object on its way into the store: names, uid, timestamps, generation,
and which parts of a write count (the main resource never changes status; /status changes nothing else).

Pure functions of (old object, new object); the store adds the resourceVersion. Invariants:
- uid, creationTimestamp, name and namespace never change after create;
- metadata.generation starts at 1 and grows by one whenever anything outside metadata and status changes;
- an object being deleted (deletionTimestamp set) keeps its deletionTimestamp and gains no finalizers.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

import orjson

from berth.apiserver import errors
from berth.apiserver.resources import Resource

#: Metadata the server owns; what a client sends for them is ignored.
_SERVER_METADATA = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds",
                    "selfLink")


def clone(obj: Any) -> Any:
    """A deep copy of JSON data, several times faster than copy.deepcopy on API objects."""
    try:
        return orjson.loads(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS))
    except TypeError:  # not plain JSON data (e.g. integers beyond 64 bits): the slow, general way
        return copy.deepcopy(obj)


_NOW: list[Any] = [-1, ""]  # the second last formatted, and its text: a request asks several times a second


def now() -> str:
    """The current time as Kubernetes writes it: RFC 3339, UTC, whole seconds."""
    second = int(time.time())
    if second != _NOW[0]:
        _NOW[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))]
    return _NOW[1]


def _generate_name(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:5]


def prepare_create(resource: Resource, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The object as it will be stored on create (without resourceVersion)."""
    obj = clone(obj)
    meta = obj.setdefault("metadata", {})
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = _generate_name(meta["generateName"])
    for key in (*_SERVER_METADATA, "resourceVersion"):
        meta.pop(key, None)
    if resource.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    meta["generation"] = 1
    obj["apiVersion"] = resource.api_version
    obj["kind"] = resource.kind
    if resource.has_status and not resource.builtin:
        obj.pop("status", None)  # custom resources with a status subresource start without one
    if resource.plural == "secrets":
        obj.setdefault("type", "Opaque")
    return obj


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def next_generation(old: dict[str, Any], new: dict[str, Any]) -> int:
    """The generation `new` has as the successor of `old`: one more when anything outside metadata and status
    changed. The API server asks again after admission, which may have put back what the write changed
    (`gpu: 2` stored as "2"), so that only a real change counts."""
    generation = (old.get("metadata") or {}).get("generation", 1)
    return generation + 1 if _spec_part(new) != _spec_part(old) else generation


def prepare_update(
    resource: Resource, old: dict[str, Any], new: dict[str, Any], *, subresource: str = ""
) -> dict[str, Any]:
    """The object as it will be stored after an update of the main resource or of /status."""
    old_meta = old.get("metadata", {})
    if subresource == "status":
        result = clone(old)
        if "status" in new:
            result["status"] = clone(new["status"])
        else:
            result.pop("status", None)
        result["metadata"].pop("resourceVersion", None)
        return result
    result = clone(new)
    meta = result.setdefault("metadata", {})
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "name", "namespace"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    meta.pop("resourceVersion", None)
    meta.pop("selfLink", None)
    result["apiVersion"] = resource.api_version
    result["kind"] = resource.kind
    if resource.has_status:
        if "status" in old:
            result["status"] = clone(old["status"])
        else:
            result.pop("status", None)
    meta["generation"] = next_generation(old, result)
    if old_meta.get("deletionTimestamp"):
        added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
        if added:
            raise errors.invalid(resource.kind, resource.group, meta.get("name", ""), [{
                "reason": "FieldValueForbidden", "field": "metadata.finalizers",
                "message": "Forbidden: no new finalizers can be added if the object is being deleted, "
                           f"found new finalizers {sorted(added)}",
            }])
    return result


def is_deleting(obj: dict[str, Any]) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def finalizers(obj: dict[str, Any]) -> list[str]:
    return list(obj.get("metadata", {}).get("finalizers") or [])


def holds_deletion(resource: Resource, obj: dict[str, Any]) -> bool:
    """Whether something still holds a deleted object back: its finalizers (and a namespace's spec.finalizers)."""
    held = finalizers(obj)
    if resource.plural == "namespaces":
        held += list((obj.get("spec") or {}).get("finalizers") or [])
    return bool(held)


def mark_deleting(obj: dict[str, Any], extra_finalizer: str | None = None, grace: int | None = None) -> dict[str, Any]:
    """The object with deletionTimestamp set (and a propagation finalizer added), as DELETE leaves it while
    finalizers still hold it. A pod keeps the grace period its node has to stop it (`grace`: the DELETE's
    gracePeriodSeconds, else its spec's terminationGracePeriodSeconds, else 30 s, as kube-apiserver sets it);
    other kinds get 0."""
    obj = clone(obj)
    meta = obj["metadata"]
    meta.pop("resourceVersion", None)
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = now()
        if obj.get("kind") == "Pod":
            if grace is None:
                grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds")
            meta["deletionGracePeriodSeconds"] = 30 if grace is None else int(grace)
        else:
            meta["deletionGracePeriodSeconds"] = 0
    if extra_finalizer and extra_finalizer not in (meta.get("finalizers") or []):
        meta["finalizers"] = [*(meta.get("finalizers") or []), extra_finalizer]
    return obj
