"""The JSON schemas of a REST policy's `defaults` and `rules` per policy type, for the OpenAPI document.

Derived from the workload types' REST spec schema (`berth.rest.spec_schema`, itself generated from the
field table and Berth's models), so a policy documents exactly the fields a workload of its type has, with
the same descriptions; only the policy shapes are added here: an itemized field's defaults are
`{instances: [...], attributes: {...}}`, and each field's rules are `{required, canEdit, min, max,
options}` by its type (itemized: `{instances: {canAdd, locked}, attributes: {<member>: rules}}`). A
DistributedPolicy has `worker` (the spec) and `master` (a masterSpec). The requests are checked by
`berth.rest.policy_view` and the API server's admission; this schema documents that contract.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from berth.rest import fields
from berth.rest.fields import MASTER
from berth.rest.policy_view import PolicyType
from berth.rest.spec_schema import spec_schema

Obj = dict[str, Any]

_BOOLEAN: Obj = {"type": "boolean"}
_SOURCE: Obj = {"type": "object", "description": "In answers (effective): the scope the rule comes from. Ignored "
                                                 "in requests.",
                "properties": {"scope": {"type": "string"}, "clusterId": {"type": "string"}}}
_DEFAULTS_NOTE = "Defaults for the members of every item (Berth's DEFAULTS item)."


def _is_items(node: Obj) -> bool:
    return node.get("type") == "array" and (node.get("items") or {}).get("type") == "object"


def _is_group(node: Obj) -> bool:
    return node.get("type") == "object" and "properties" in node


def _described(schema: Obj, node: Obj) -> Obj:
    if node.get("description"):
        schema["description"] = node["description"]
    return schema


def defaults_schema(node: Obj) -> Obj:
    """A REST spec schema as policy defaults: itemized fields as `{instances, attributes}`."""
    if _is_items(node):
        listed = {k: v for k, v in node.items() if k != "description"}
        attributes = {**node["items"], "description": _DEFAULTS_NOTE}
        return _described({"type": "object", "additionalProperties": False,
                           "properties": {"instances": listed, "attributes": attributes}}, node)
    if _is_group(node):
        return {**node, "properties": {k: defaults_schema(v) for k, v in node["properties"].items()}}
    return node


def _leaf_rules(node: Obj) -> Obj:
    """One field's rules: an object whose members the description lists by the field's type (kept free-form
    here, so that the document stays small enough for schemathesis to cover; `policy_view` checks them)."""
    kind = node.get("type")
    if kind is None:  # a field Berth refuses or ignores: its description says so
        return {k: v for k, v in node.items() if k == "description"}
    rules = ["required", "canEdit"]
    if kind in ("integer", "number", "string"):
        rules += ["min", "max", "options ([{value}])"]
    text = f"Rules: {', '.join(rules)}." + (" (step is not supported: 400.)" if kind in ("integer", "number") else "")
    field = node.get("description")
    return {"type": "object", "description": f"{field} {text}" if field else text}


def _has_member(kind: str, path: str, member: str) -> bool:
    """Whether Berth's items of the REST field `path` have a member for `member` (a variable's value is
    the item itself, and has no member rules)."""
    target, mapped = fields.object_path(kind, path), fields.object_path(kind, f"{path}.{member}")
    return bool(target and mapped and mapped.startswith(f"{target}."))


def rules_schema(node: Obj, kind: str, path: str = "") -> Obj:
    """A REST spec schema (of `kind`, at the REST field `path`) as policy rules: each field's rules by its
    type."""
    if _is_items(node):
        instances = {"type": "object", "additionalProperties": False, "properties": {
            "canAdd": {**_BOOLEAN, "description": "false: workloads may not add items beyond the policy's."},
            "locked": {"type": "array", "items": {"type": "string"},
                       "description": "Keys (names) of the policy's items that workloads may not remove."},
            "sourceOfRule": _SOURCE}}
        members = (node["items"].get("properties") or {}).items()
        attributes = {"type": "object", "additionalProperties": False,
                      "properties": {k: _leaf_rules(v) for k, v in members if _has_member(kind, path, k)}}
        return _described({"type": "object", "additionalProperties": False,
                           "properties": {"instances": instances, "attributes": attributes}}, node)
    if _is_group(node):
        return {**node, "properties": {k: rules_schema(v, kind, f"{path}.{k}" if path else k)
                                       for k, v in node["properties"].items()}}
    return _leaf_rules(node)


@cache
def policy_schemas(ptype: PolicyType) -> tuple[Obj, Obj]:
    """(defaults, rules) schemas of a policy type."""
    if not ptype.distributed:
        spec = spec_schema(ptype.workload_kind)
        return copy.deepcopy(defaults_schema(spec)), copy.deepcopy(rules_schema(spec, ptype.workload_kind))
    worker, master = spec_schema(ptype.workload_kind), spec_schema(MASTER)

    def both(made: Obj, master_made: Obj) -> Obj:
        return copy.deepcopy({"type": "object", "additionalProperties": False, "properties": {
            "worker": {**made, "description": "The workers' fields (the workload's spec)."},
            "master": {**master_made, "description": "The master's fields (the workload's masterSpec)."}}})
    return (both(defaults_schema(worker), defaults_schema(master)),
            both(rules_schema(worker, ptype.workload_kind), rules_schema(master, MASTER)))
