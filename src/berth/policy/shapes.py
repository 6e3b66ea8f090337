"""How each spec field of a workload kind is shaped, read once from the model in `berth.api`.

Composition and rule checks work on plain JSON (what the API stores), so they need to know, per field,
whether it is a wrapped scalar (`{value: X}`), a plain value (`usage`, `baseWorkload`, `jobType`), an
itemized field (`{items: {...}}`) or a group of fields (`runPolicy`, `masterSpec`), and whether its values
compare as numbers (for `min`/`max`). This module derives that from the pydantic models, so a field added
to the model is covered here without a second list.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from berth.api.base import Items, Value, annotation_of, generic_arg, marker_of, strip_optional
from berth.api.workloads import WORKLOAD_SPECS

SCALAR, PLAIN, ITEMS, GROUP = "scalar", "plain", "items", "group"


@dataclass(frozen=True)
class Shape:
    """One field: how it is written and how its values compare."""

    kind: str  # SCALAR, PLAIN, ITEMS or GROUP
    numeric: bool = False  # values compare by amount (numbers, quantities, GPU amounts)
    members: dict[str, bool] = field(default_factory=dict)  # ITEMS of objects: member -> numeric
    fields: dict[str, "Shape"] = field(default_factory=dict)  # GROUP: its fields


def _numeric(annotation: Any) -> bool:
    marker = marker_of(annotation)
    if marker is None:
        return False
    schema = marker.schema
    return schema.get("type") in ("integer", "number") or bool(schema.get("x-kubernetes-int-or-string"))


def _shape(annotation: Any) -> Shape:
    annotation = strip_optional(annotation)
    if (arg := generic_arg(annotation, Value)) is not None:
        return Shape(SCALAR, numeric=_numeric(arg))
    if (arg := generic_arg(annotation, Items)) is not None:
        members = {}
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            members = {name: _numeric(strip_optional(annotation_of(info))) for name, info in arg.model_fields.items()}
        return Shape(ITEMS, members=members)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Shape(GROUP, fields=shapes_of(annotation))
    return Shape(PLAIN, numeric=_numeric(annotation))


@functools.cache
def shapes_of(model: type[BaseModel]) -> dict[str, Shape]:
    """The shape of every field of a spec model, by the name it is written under."""
    out = {}
    for name, info in model.model_fields.items():
        written = info.serialization_alias or info.alias or name
        out[written] = _shape(annotation_of(info))
    return out


def spec_shapes(workload_kind: str) -> dict[str, Shape]:
    """The spec fields of a workload kind (`TrainingWorkload`...)."""
    return shapes_of(WORKLOAD_SPECS[workload_kind])

