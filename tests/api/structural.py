"""Checks that a CRD schema is structural, as the Kubernetes API server requires of apiextensions/v1 CRDs.

The rules checked (from the Kubernetes documentation on structural schemas): every node has a non-empty
type unless it is int-or-string or preserve-unknown-fields; properties and additionalProperties never
appear together; no $ref; int-or-string nodes carry no type; metadata at the root sets nothing but
name and generateName; arrays have items.
"""

from __future__ import annotations

from typing import Any


def violations(schema: dict[str, Any], path: str = "", root: bool = True) -> list[str]:
    found: list[str] = []
    where = path or "<root>"
    if "$ref" in schema or "definitions" in schema or "$defs" in schema:
        found.append(f"{where}: references are not allowed")
    for keyword in ("anyOf", "oneOf", "allOf", "not"):
        if keyword in schema:
            found.append(f"{where}: {keyword} is not used by Berth's schemas and needs its own checks")
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    free = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if int_or_string and "type" in schema:
        found.append(f"{where}: an int-or-string node must not set type")
    if not schema.get("type") and not int_or_string and not free:
        found.append(f"{where}: missing type")
    if "properties" in schema and "additionalProperties" in schema:
        found.append(f"{where}: properties and additionalProperties together")
    if schema.get("type") == "array" and "items" not in schema:
        found.append(f"{where}: array without items")
    for name, sub in schema.get("properties", {}).items():
        if root and name == "metadata":
            extra = set(sub.get("properties", {})) - {"name", "generateName"}
            if extra:
                found.append(f"metadata: may only constrain name and generateName, not {sorted(extra)}")
        found += violations(sub, f"{path}.{name}" if path else name, root=False)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        found += violations(extra, f"{path}[*]", root=False)
    if isinstance(schema.get("items"), dict):
        found += violations(schema["items"], f"{path}[]", root=False)
    return found


def to_json_schema(schema: dict[str, Any], root: bool = True) -> dict[str, Any]:
    """A CRD schema as JSON Schema with unknown fields rejected (the API server's Strict validation)."""
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "format"}
    if schema.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
        # A pattern applies to strings only in JSON Schema, as it does for Kubernetes int-or-string.
    if "properties" in schema:
        out["properties"] = {
            k: (v if root and k == "metadata" else to_json_schema(v, root=False))
            for k, v in schema["properties"].items()
        }
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(schema["additionalProperties"], root=False)
    if isinstance(schema.get("items"), dict):
        out["items"] = to_json_schema(schema["items"], root=False)
    return out
