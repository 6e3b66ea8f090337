"""One stored spelling for values Run:ai's tools and docs write in several ways.

`kubectl explain` of Run:ai's CRDs, its CLI and its docs write some enum values in their own case:
`serviceType` nodeport, loadbalancer, clusterip, ingress and the CLI's portforward; `imagePullPolicy`
always, ifNotPresent, never; `podAffinitySchedulingRule` hard and soft. The leaf types accept them
(`berth.api.types.enum(..., spellings=...)`), and admission rewrites them into the value they stand for
before anything else reads the object (policies, guards, the store), for workloads and policies alike: a
policy whose options say `nodeport` and a workload that says `NodePort` agree, and every reader sees one
spelling. The paths come from the models, so a new field with spellings needs nothing here.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from pydantic import BaseModel

from berth.api.base import annotation_of, marker_of, strip_optional
from berth.api.registry import CustomKind
from berth.api.schema import property_names

#: A step of a path: a property name, or ANY for every key of a map and every element of a list.
ANY = "*"
Path = tuple[str, ...]


def _paths_of(annotation: Any, prefix: Path, depth: int) -> list[tuple[Path, dict[str, str]]]:
    annotation = strip_optional(annotation)
    marker = marker_of(annotation)
    if marker is not None:
        spellings = marker.extra.get("spellings")
        return [(prefix, spellings)] if spellings else []
    if depth > 12:  # the models are not recursive; this only guards against a mistake
        return []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found = []
        for name, info in annotation.model_fields.items():
            for prop in property_names(name, info):
                found += _paths_of(annotation_of(info), (*prefix, prop), depth + 1)
        return found
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict:
        return _paths_of(args[1], (*prefix, ANY), depth + 1)
    if origin is list:
        return _paths_of(args[0], (*prefix, ANY), depth + 1)
    return []


@functools.cache
def paths(kind: CustomKind) -> tuple[tuple[Path, dict[str, str]], ...]:
    """Where the kind's values with other spellings sit, and those spellings (other -> canonical)."""
    return tuple(_paths_of(kind.model, (), 0))


def _rewrite(value: Any, path: Path, spellings: dict[str, str]) -> Any:
    if not path:
        return spellings.get(value, value) if isinstance(value, str) else value
    step, rest = path[0], path[1:]
    if step == ANY:
        if isinstance(value, dict):
            changed = {k: new for k, v in value.items() if (new := _rewrite(v, rest, spellings)) is not v}
            return {**value, **changed} if changed else value
        if isinstance(value, list):
            items = [_rewrite(v, rest, spellings) for v in value]
            return items if any(a is not b for a, b in zip(items, value)) else value
        return value
    if not isinstance(value, dict) or step not in value:
        return value
    new = _rewrite(value[step], rest, spellings)
    return value if new is value[step] else {**value, step: new}


def canonical(obj: dict[str, Any], kind: CustomKind) -> dict[str, Any]:
    """`obj` with every value written in another spelling replaced by the value it stands for; the same
    object when nothing changes, so callers can tell."""
    for path, spellings in paths(kind):
        obj = _rewrite(obj, path, spellings)
    return obj
