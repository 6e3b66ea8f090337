"""The JSON schema of the REST `spec` of each workload type, generated from the field table
(`berth.rest.fields.FIELDS`) and Berth's models, for the OpenAPI document at /api/v1/openapi.json.

A row's type and description are its Berth field's (`berth.api`, the one source of both), unless the row
converts the value (`number_text`, a list as a string): then `SCHEMAS` says the REST type, and the
description is still the Berth field's. Fields Berth refuses or ignores are listed with why. The request's
`spec` is checked by `berth.rest.fields` (which suggests the closest name for a mistyped one) and then by
Berth's models as for kubectl; this schema documents that contract, it does not add another check.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic.fields import FieldInfo

from berth.api.base import Items, Value, annotation_of, generic_arg, marker_of, strip_optional
from berth.rest import fields as f

Obj = dict[str, Any]

_STRING: Obj = {"type": "string"}
_NUMBER: Obj = {"type": "number"}
_INTEGER: Obj = {"type": "integer"}
_BOOLEAN: Obj = {"type": "boolean"}
_STRINGS: Obj = {"type": "array", "items": _STRING}

#: The REST type of rows whose value is converted on the way (the rest take their Berth field's type).
SCHEMAS: dict[str, Obj] = {
    "nodePools": _STRINGS,
    "compute.gpuDevicesRequest": {"type": "integer", "minimum": 0},
    "compute.gpuRequestType": {"type": "string", "enum": ["portion", "memory", "migProfile"]},
    "compute.gpuPortionRequest": {"type": "number", "minimum": 0, "maximum": 1},
    "compute.gpuPortionLimit": {"type": "number", "minimum": 0},
    "compute.gpuMemoryRequest": _STRING,
    "compute.cpuCoreRequest": _NUMBER,
    "compute.cpuCoreLimit": _NUMBER,
    "compute.cpuMemoryRequest": _STRING,
    "compute.cpuMemoryLimit": _STRING,
    "security.uidGidSource": {"type": "string", "enum": ["fromTheImage", "fromIdpToken", "custom"]},
    "security.capabilities": _STRINGS,
    "distributedFramework": {"type": "string", "enum": ["MPI", "PyTorch", "TF", "XGBoost"]},
    "priorityClass": {"type": "string", "enum": ["build", "train", "interactive-preemptible"]},
}
#: Members of REST list items that a row's hook takes (no one Berth member is theirs).
MEMBER_SCHEMAS: dict[str, Obj] = {
    "authorizedUsers": _STRINGS, "authorizedGroups": _STRINGS, "readOnly": _BOOLEAN,
    "mountPropagation": {"type": "string", "enum": ["None", "HostToContainer"]},
    "claimInfo": {"type": "object", "properties": {
        "size": _STRING, "storageClass": _STRING, "volumeMode": {"type": "string", "enum": ["Filesystem"]},
        "accessModes": {"type": "object", "properties": {k: _BOOLEAN for k in
                                                         ("readWriteOnce", "readOnlyMany", "readWriteMany")}}}},
    "passwordSecret": _STRING, "secretKeyOfUser": _STRING, "secretKeyOfPassword": _STRING,
    "accessKeySecret": _STRING, "secretKeyOfAccessKeyId": _STRING, "secretKeyOfSecretKey": _STRING,
    "name": _STRING, "exclude": _BOOLEAN, "value": _STRING, "quantity": _STRING,
}


def _leaf(annotation: Any) -> Obj:
    """The JSON schema of one of Berth's leaf types, as the REST API writes it (quantities are strings)."""
    marker = marker_of(annotation)
    schema = dict(marker.schema) if marker else {}
    if schema.pop("x-kubernetes-int-or-string", None):
        schema["type"] = "string"
    return schema


def _info(kind: str, path: str) -> FieldInfo | None:
    model: Any = f.SPECS[kind]
    info = None
    for part in path.split("."):
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = strip_optional(info.annotation)
    return info


def _berth_description(kind: str, row: f.Field) -> str:
    target = row.target(kind) or next((o for o in (*row.obj, *row.also) if _info(kind, o)), None)
    info = _info(kind, target) if target else None
    return (info.description or "") if info else ""


def _items(kind: str, row: f.Field, target: str | None) -> Obj:
    info = _info(kind, target) if target else None
    member_model = generic_arg(strip_optional(info.annotation), Items) if info else None
    properties: Obj = {}
    if row.label:
        properties[row.label] = {**_STRING, "description": "The item's name: its label in the object's items."}
    for m in row.members:
        member_info = getattr(member_model, "model_fields", {}).get(m.obj) if m.obj else None
        schema = _leaf(annotation_of(member_info)) if member_info else copy.deepcopy(MEMBER_SCHEMAS.get(m.rest, {}))
        if member_info and member_info.description:
            schema["description"] = member_info.description
        if row.members == f._KEYED:
            schema = {**_leaf(member_model), "description": "The item's value."} if member_model else _STRING
        properties[m.rest] = schema
    if row.exclude:
        properties["exclude"] = {**_BOOLEAN, "description": "true drops an item of this name that the policy's "
                                                            "defaults add."}
    for other in f.FIELDS:
        if other.rest.startswith(row.rest + ".") and other.ignored:
            properties[other.rest.rsplit(".", 1)[1]] = {"description": f"Accepted, not honoured by Berth: "
                                                                       f"{other.ignored}."}
    item: Obj = {"type": "object", "properties": properties, "additionalProperties": False}
    if row.label and not row.prefix:
        item["required"] = [row.label]
    return {"type": "array", "items": item}


def _row(kind: str, row: f.Field) -> Obj:
    if row.why:
        taken = ", ".join(str(a).lower() if isinstance(a, bool) else str(a) for a in row.accepts)
        refused = f"any value but {taken} is refused (400)" if row.accepts else "refused (400)"
        return {"description": f"Not supported by Berth: {row.why}; {refused}."}
    if row.ignored:
        return {"description": f"Accepted, not honoured by Berth: {row.ignored}."}
    target = row.target(kind)
    if row.shape == "items":
        schema = _items(kind, row, target)
    elif row.rest in SCHEMAS:
        schema = copy.deepcopy(SCHEMAS[row.rest])
    else:
        info = _info(kind, target) if target else None
        annotation = strip_optional(info.annotation) if info else None
        schema = _leaf(generic_arg(annotation, Value) if generic_arg(annotation, Value) is not None else annotation)
    description = _berth_description(kind, row)
    if description:
        schema["description"] = description
    if row.shape not in ("gpu", "priority") and target is None:
        schema = {"description": f"Not supported by Berth for {f.NOUNS[kind]}: the {kind} object has no such "
                                 "field; refused (400)."}
    return schema


def _serving_port() -> Obj:
    return {"type": "object", "additionalProperties": False, "required": ["container"],
            "description": "The port the inference server listens on: the ports item serving-port of the object.",
            "properties": {"container": {"type": "integer", "minimum": 1, "maximum": 65535},
                           "protocol": {"type": "string", "enum": ["http", "grpc"], "description": "Accepted, "
                                        "not honoured by Berth: the Service forwards any TCP protocol."}}}


@cache
def spec_schema(kind: str) -> Obj:
    """The REST spec of `kind` (or `fields.MASTER`) as a JSON schema (OpenAPI 3.1)."""
    root: Obj = {"type": "object", "properties": {}, "additionalProperties": False}
    for row in f.rows(kind):
        if row.rest.startswith("servingPort."):
            continue
        if any(row.rest.startswith(o.rest + ".") for o in f.rows(kind) if o.shape == "items"):
            continue  # an item member (ports.toolType): in the item's schema
        *parents, last = row.rest.split(".")
        node = root
        for part in parents:
            node = node["properties"].setdefault(part, {"type": "object", "properties": {},
                                                       "additionalProperties": False})
        node["properties"][last] = _row(kind, row)
    if kind == f.I:
        root["properties"]["servingPort"] = _serving_port()
    return root
