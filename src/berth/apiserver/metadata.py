"""Object metadata and size, checked as kube-apiserver checks them (ValidateObjectMeta, etcd's limit), so
that `berth up` refuses what a real cluster refuses, in the same words.

- `metadata.name` by kind: a Namespace's is a DNS-1123 label, a Service's a DNS-1035 label (it becomes a
  DNS name that must not start with a digit), everything else's a DNS-1123 subdomain.
- label keys are qualified names (`[prefix/]name`), values at most 63 characters of `[A-Za-z0-9_.-]`;
  annotation keys are qualified names too, and all annotations of an object together at most 256 KiB.
- a stored object is at most 1.5 MiB, etcd's default `--max-request-bytes` (a request body may be 3 MiB:
  `berth.apiserver.validation.MAX_BODY`); above it the write is 413 RequestEntityTooLarge.

Pure functions of the object; every problem becomes one cause of a 422, as the real server lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from berth.api import names
from berth.apiserver import errors
from berth.apiserver.resources import Resource

#: etcd's default --max-request-bytes: the most one stored object may take.
MAX_OBJECT_BYTES = 1536 * 1024

_NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    "namespaces": names.dns1123_label,
    "services": names.dns1035_label,
}

Cause = dict[str, str]


def _invalid(field: str, value: Any, message: str) -> Cause:
    return {"reason": "FieldValueInvalid", "field": field, "message": f"Invalid value: {orjson.dumps(value).decode()}: "
                                                                      f"{message}"}


def name_problems(resource: Resource, name: str) -> list[Cause]:
    """Causes for an invalid metadata.name of this kind of object."""
    rule = _NAME_RULES.get(resource.plural, names.dns1123_subdomain)
    return [_invalid("metadata.name", name, message) for message in rule(name)]


def _pairs(meta: dict[str, Any], key: str) -> list[tuple[str, Any]]:
    found = meta.get(key)
    return list(found.items()) if isinstance(found, dict) else []


def problems(meta: dict[str, Any]) -> list[Cause]:
    """Causes for the labels and annotations of an object's metadata."""
    causes = []
    for key, value in _pairs(meta, "labels"):
        causes += [_invalid("metadata.labels", key, m) for m in names.qualified_name(str(key))]
        if not isinstance(value, str):
            causes.append(_invalid("metadata.labels", value, "must be a string"))
        else:
            causes += [_invalid("metadata.labels", value, m) for m in names.label_value(value)]
    size = 0
    for key, value in _pairs(meta, "annotations"):
        # the rule is a qualified name, except that case does not matter (as in ValidateAnnotations)
        causes += [_invalid("metadata.annotations", key, m) for m in names.qualified_name(str(key).lower())]
        size += len(str(key).encode()) + len(value.encode() if isinstance(value, str) else orjson.dumps(value))
    if size > names.ANNOTATIONS_MAX_BYTES:
        causes.append({"reason": "FieldValueTooLong", "field": "metadata.annotations",
                       "message": f"Too long: must have at most {names.ANNOTATIONS_MAX_BYTES} bytes"})
    return causes


def check(resource: Resource, obj: dict[str, Any]) -> None:
    """Raise 422 naming every problem of the object's labels and annotations."""
    causes = problems(obj.get("metadata") or {})
    if causes:
        raise errors.invalid(resource.kind, resource.group, (obj.get("metadata") or {}).get("name", ""), causes)


def check_size(resource: Resource, obj: dict[str, Any]) -> None:
    """Raise 413 for an object too large to store, as a real cluster's etcd refuses it; 422 for one nested too
    deep to store (a request body nests at most `validation.MAX_DEPTH` levels, but patches can add up)."""
    try:
        size = len(orjson.dumps(obj))
    except orjson.JSONEncodeError as exc:
        message = ("the object would nest lists and maps more than 250 levels deep, more than the store keeps"
                   if "ecursion" in str(exc) else f"the object cannot be stored as JSON: {exc}")
        raise errors.invalid(resource.kind, resource.group, (obj.get("metadata") or {}).get("name", ""), [{
            "reason": "FieldValueInvalid", "field": "", "message": message}]) from None
    if size > MAX_OBJECT_BYTES:
        raise errors.ApiError(413, "RequestEntityTooLarge", (
            f"Request entity too large: limit is {MAX_OBJECT_BYTES} bytes for one stored object (etcd's "
            f"--max-request-bytes on a real cluster), and the {resource.kind} would be {size}; keep large data "
            "out of the object, in a volume"))
