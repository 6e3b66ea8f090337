"""Checking Berth's REST answers against Run:ai's published 2.18 schemas (runai-2.18-schemas.json, made
by extract_runai_schemas.py from Run:ai's OpenAPI document).

`conforms(body, method, path, status)` validates an answer with jsonschema, OpenAPI 3.0's `nullable`
read as JSON Schema's `null` type, and raises with every violation listed (the field path and why).
`request_schema(method, path)` gives the request body schema, for building bodies shaped as Run:ai's.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).with_name("runai-2.18-schemas.json")


@cache
def _document() -> dict[str, Any]:
    return json.loads(SCHEMAS.read_text())


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema (draft 2020-12): `nullable: true` allows null."""
    if isinstance(node, list):
        return [_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if "$ref" in out:
        out["$ref"] = "#/$defs/" + out["$ref"].rsplit("/", 1)[-1]
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _with_defs(schema: Any) -> dict[str, Any]:
    defs = {name: _json_schema(s) for name, s in _document()["components"]["schemas"].items()}
    return {**_json_schema(copy.deepcopy(schema)), "$defs": defs}


def response_schema(method: str, path: str, status: int | str) -> dict[str, Any]:
    entry = _document()["paths"][path][method.lower()]
    return _with_defs(entry["responses"][str(status)])


def request_schema(method: str, path: str) -> dict[str, Any]:
    return _with_defs(_document()["paths"][path][method.lower()]["request"])


def violations(body: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))]


def conforms(body: Any, method: str, path: str, status: int | str) -> None:
    """Raise AssertionError listing each way `body` breaks Run:ai's schema for this answer."""
    found = violations(body, response_schema(method, path, status))
    assert not found, f"{method.upper()} {path} {status} does not follow Run:ai's schema:\n  " + "\n  ".join(found)
