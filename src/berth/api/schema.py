"""OpenAPI v3 schemas of Berth's kinds, generated from the pydantic models.

The schemas are *structural* in the Kubernetes sense (every node has a type, or is int-or-string or
preserve-unknown-fields; no properties beside additionalProperties; no $ref), so they serve unchanged as
the CRDs' `openAPIV3Schema`, as the API server's OpenAPI v3 documents, and as what `explain` walks.
Pydantic's own `model_json_schema` is not used because its $defs, anyOf-for-Optional and titles are not
structural.

Leaf types come from the `OpenAPI` markers in `berth.api.types`; descriptions come from the fields.
"""

from __future__ import annotations

import copy
import functools
import typing
from typing import Any

from pydantic import AliasChoices, BaseModel

from berth.api.base import Value, annotation_of, marker_of, strip_optional
from berth.api.meta import ObjectMeta
from berth.api.registry import CustomKind

Schema = dict[str, Any]

#: How an alias property's description starts; `alias_target` reads it back.
_ALIAS_PREFIX = "Another name for "


def alias_target(prop: Schema) -> str | None:
    """For an alias property (`replicas`), the name of the field it stands for (`workers`)."""
    text = prop.get("description", "")
    if text.startswith(_ALIAS_PREFIX):
        return text[len(_ALIAS_PREFIX):].split(",", 1)[0]
    return None


def property_names(name: str, info: Any) -> list[str]:
    """The names a field is written under: its serialized name first, then accepted aliases."""
    primary = info.serialization_alias or info.alias or name
    names = [primary]
    if isinstance(info.validation_alias, AliasChoices):
        for choice in info.validation_alias.choices:
            if isinstance(choice, str) and choice not in names:
                names.append(choice)
    return names


def _with_description(schema: Schema, description: str | None) -> Schema:
    if description:
        schema = dict(schema)
        schema["description"] = " ".join(description.split())
    return schema


def type_schema(annotation: Any) -> Schema:
    """The schema of one annotation (a leaf type, a model, a map or a list)."""
    annotation = strip_optional(annotation)
    marker = marker_of(annotation)
    if marker is not None:
        return copy.deepcopy(marker.schema)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_schema(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict:
        return {"type": "object", "additionalProperties": type_schema(args[1])}
    if origin is list:
        return {"type": "array", "items": type_schema(args[0])}
    raise TypeError(f"no OpenAPI shape for {annotation!r}; give it an OpenAPI marker in berth.api.types")


def model_schema(model: type[BaseModel]) -> Schema:
    """The object schema of a model, its fields as properties."""
    properties: dict[str, Schema] = {}
    required: list[str] = []
    value_wrapper = (getattr(model, "__pydantic_generic_metadata__", None) or {}).get("origin") is Value
    for name, info in model.model_fields.items():
        annotation = annotation_of(info)
        sub = type_schema(annotation)
        description = info.description
        if value_wrapper and name == "value":
            marker = marker_of(strip_optional(annotation))
            description = f"The value: {marker.expects}." if marker else "The value."
        if not description:
            inner = strip_optional(annotation)
            description = inner.__doc__ if isinstance(inner, type) and issubclass(inner, BaseModel) else None
        names = property_names(name, info)
        for i, prop in enumerate(names):
            text = description if i == 0 else f"{_ALIAS_PREFIX}{names[0]}, accepted on input. {description or ''}"
            properties[prop] = _with_description(sub, text)
        if info.is_required():
            required.append(names[0])
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return _with_description(schema, model.__doc__)


@functools.cache
def _kind_schema(kind: CustomKind, expand_metadata: bool) -> Schema:
    schema = model_schema(kind.model)
    schema["description"] = kind.description
    props = schema["properties"]
    props["apiVersion"] = {
        "type": "string",
        "description": f"Group and version of the object's schema: {kind.api_version} for {kind.kind}.",
    }
    props["kind"] = {"type": "string", "description": f"The kind of the object: {kind.kind}."}
    meta_description = props["metadata"].get("description", "Standard object metadata.")
    if expand_metadata:
        props["metadata"] = _with_description(model_schema(ObjectMeta), meta_description)
    else:
        # A CRD may not constrain metadata beyond name/generateName: the API server validates it.
        props["metadata"] = {"type": "object", "description": meta_description}
    schema["required"] = [r for r in schema.get("required", []) if r not in ("apiVersion", "kind", "metadata")]
    if not schema["required"]:
        del schema["required"]
    return schema


def crd_schema(kind: CustomKind) -> Schema:
    """The `openAPIV3Schema` of the kind's CRD (metadata left to the API server)."""
    return copy.deepcopy(_kind_schema(kind, False))


def full_schema(kind: CustomKind) -> Schema:
    """The kind's schema with metadata expanded (for explain and the OpenAPI v3 documents)."""
    return copy.deepcopy(_kind_schema(kind, True))


def shared_schema(kind: CustomKind) -> Schema:
    """The same as `full_schema`, without the copy: for readers on hot paths, who must not change it."""
    return _kind_schema(kind, True)


def int_or_string_as_strings(value: Any, schema: Schema | None) -> Any:
    """`value` with every whole number that sits where the schema says "integer or string" (GPU amounts,
    quantities) written as a string: `gpu: {value: 2}` becomes `{value: "2"}`. The same object when nothing
    changes, so callers can tell. This is how admission stores them, on `berth up` and on a real cluster
    alike: one spelling whatever the user typed."""
    if schema is None:
        return value
    if schema.get("x-kubernetes-int-or-string") and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        props, extra = schema.get("properties"), schema.get("additionalProperties")
        changed = {}
        for key, item in value.items():
            inner = props.get(key) if props is not None else (extra if isinstance(extra, dict) else None)
            new = int_or_string_as_strings(item, inner)
            if new is not item:
                changed[key] = new
        return {**value, **changed} if changed else value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        new_items = [int_or_string_as_strings(item, schema["items"]) for item in value]
        return new_items if any(a is not b for a, b in zip(new_items, value)) else value
    return value
