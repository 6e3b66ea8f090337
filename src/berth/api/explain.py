"""`explain`: documentation of a kind or one of its fields, offline, in the layout of `kubectl explain`.

The text is rendered from the same schema the CRDs carry (`berth.api.schema`), so `berth explain` and
`kubectl explain` against Berth's API server tell the same thing. The layout is kubectl's classic one,
as the Run:ai documentation shows it:

    KIND:     TrainingWorkload
    VERSION:  run.ai/v2alpha1

    RESOURCE: nodeType <Object>

    DESCRIPTION:
         ...

    FIELDS:
       value	<string>
         ...
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from berth.api.closest import suggest
from berth.api.registry import CustomKind, all_names, lookup
from berth.api.schema import Schema, full_schema

_WIDTH = 80


class ExplainError(ValueError):
    """A resource or field that does not exist; the message suggests the closest name."""


def type_name(schema: Schema, *, top_metadata: bool = False) -> str:
    """How kubectl names a schema's type: string, integer, Object, []string, map[string]Object..."""
    if top_metadata:
        return "ObjectMeta"
    if schema.get("x-kubernetes-int-or-string"):
        return "string"
    kind = schema.get("type", "Object")
    if kind == "array":
        return "[]" + type_name(schema.get("items", {}))
    if kind == "object":
        if "additionalProperties" in schema and "properties" not in schema:
            return "map[string]" + type_name(schema["additionalProperties"])
        return "Object"
    return kind


def _fields_of(schema: Schema) -> Schema | None:
    """The object whose properties are listed for a schema: through lists and maps, as kubectl does."""
    while True:
        if "properties" in schema:
            return schema
        if schema.get("type") == "array":
            schema = schema.get("items", {})
        elif isinstance(schema.get("additionalProperties"), dict):
            schema = schema["additionalProperties"]
        else:
            return None


@dataclass(frozen=True)
class Target:
    """What a path like `trainingworkload.spec.nodeType` resolves to."""

    kind: CustomKind
    path: tuple[str, ...]
    schema: Schema
    required: bool


def resolve(expression: str) -> Target:
    """Find the kind and the field an explain expression names."""
    parts = expression.split(".")
    kind, path = None, []
    # Longest first, so that a group-qualified name (trainingworkloads.run.ai.spec) wins over its head.
    for cut in range(len(parts), 0, -1):
        kind = lookup(".".join(parts[:cut]))
        if kind:
            path = parts[cut:]
            break
    if kind is None:
        resource = parts[0]
        hint = suggest(resource, all_names())
        message = f'unknown resource "{resource}"'
        raise ExplainError(message + (f"; did you mean {hint}?" if hint else ""))
    schema = full_schema(kind)
    required = False
    walked: list[str] = []
    for name in path:
        holder = _fields_of(schema)
        properties = holder.get("properties", {}) if holder else {}
        if name not in properties:
            where = ".".join([kind.singular, *walked]) if walked else kind.singular
            hint = suggest(name, sorted(properties))
            message = f'field "{name}" does not exist in {where}'
            raise ExplainError(message + (f"; did you mean {hint}?" if hint else ""))
        required = name in (holder or {}).get("required", [])
        schema = properties[name]
        walked.append(name)
    return Target(kind, tuple(walked), schema, required)


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(
        " ".join(text.split()), width=_WIDTH, initial_indent=" " * indent, subsequent_indent=" " * indent
    ) or [" " * indent + "<empty>"]


def _header(target: Target) -> list[str]:
    return [f"KIND:     {target.kind.kind}", f"VERSION:  {target.kind.api_version}", ""]


def explain(expression: str, *, recursive: bool = False) -> str:
    """The explain text for `RESOURCE[.field.path]`."""
    target = resolve(expression)
    lines = _header(target)
    holder = _fields_of(target.schema)
    top_metadata = target.path == ("metadata",)
    if target.path:
        label = "RESOURCE: " if holder is not None else "FIELD:    "
        tname = type_name(target.schema, top_metadata=top_metadata)
        lines += [f"{label}{target.path[-1]} <{tname}>", ""]
    lines.append("DESCRIPTION:")
    lines += _wrap(target.schema.get("description", ""), 5)
    if holder is not None:
        lines += ["", "FIELDS:"]
        if recursive:
            lines += _tree(holder, 3)
        else:
            lines += _field_list(holder, at_root=not target.path)
    return "\n".join(lines) + "\n"


def _field_list(holder: Schema, *, at_root: bool) -> list[str]:
    lines: list[str] = []
    required = set(holder.get("required", []))
    for name in sorted(holder["properties"], key=str.lower):
        sub = holder["properties"][name]
        tname = type_name(sub, top_metadata=at_root and name == "metadata")
        flag = " -required-" if name in required else ""
        lines.append(f"   {name}\t<{tname}>{flag}")
        lines += _wrap(sub.get("description", ""), 5)
        lines.append("")
    return lines


def _tree(holder: Schema, indent: int) -> list[str]:
    lines: list[str] = []
    for name in sorted(holder["properties"], key=str.lower):
        sub = holder["properties"][name]
        lines.append(f"{' ' * indent}{name}\t<{type_name(sub)}>")
        inner = _fields_of(sub)
        if inner is not None:
            lines += _tree(inner, indent + 3)
    return lines
