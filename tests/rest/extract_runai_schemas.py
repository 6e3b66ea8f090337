"""Regenerate runai-2.18-schemas.json: the structure of Run:ai's published 2.18 REST API for the paths Berth
serves, which the tests check Berth's answers against.

Input: Run:ai's OpenAPI document for 2.18 (`original-swagger.json` of the public repository
`ofir-run-ai/swagger-playground`, see ../shared/spec/runai-rest-api.md). Output: for each path and method
Berth serves, the request body schema and the response schemas by status, with every `$ref`d component
they reach, keeping only what is structure (types, formats, required, enums, patterns, bounds, nullable,
allOf/oneOf/anyOf, items, properties); descriptions, examples and vendor extensions are dropped. It is a
fact sheet of the interface, not a copy of the document.

    python tests/rest/extract_runai_schemas.py path/to/original-swagger.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("runai-2.18-schemas.json")
#: (method, path) pairs served by Berth's REST API.
SERVED = [
    ("get", "/api/v1/workloads"), ("get", "/api/v1/workloads/count"), ("get", "/api/v1/workloads/{workloadId}"),
    ("get", "/api/v1/workloads/{workloadId}/pods"), ("get", "/api/v1/workloads/{workloadId}/events"),
    ("get", "/api/v1/workloads/{workloadId}/history"), ("get", "/api/v1/workloads/pods"),
    ("get", "/api/v1/workloads/pods/count"),
    *[(m, f"/api/v1/workloads/{kind}") for kind in ("workspaces", "trainings", "distributed", "inferences")
      for m in ("post",)],
    *[(m, f"/api/v1/workloads/{kind}/{{workloadId}}") for kind in ("workspaces", "trainings", "distributed",
                                                                   "inferences") for m in ("get", "delete")],
    *[("post", f"/api/v1/workloads/{kind}/{{workloadId}}/{verb}") for kind in ("workspaces", "trainings")
      for verb in ("suspend", "resume")],
    ("get", "/api/v2/policy"),
    *[(m, f"/api/v2/policy/{kind}") for kind in ("workspaces", "trainings", "distributed", "inferences")
      for m in ("get", "put", "patch", "delete")],
    *[(m, "/api/v1/org-unit/projects") for m in ("get", "post")],
    *[(m, "/api/v1/org-unit/projects/{projectId}") for m in ("get", "put", "delete")],
    *[(m, "/api/v1/org-unit/projects/{projectId}/resources") for m in ("put", "patch")],
    *[(m, "/api/v1/org-unit/departments") for m in ("get", "post")],
    *[(m, "/api/v1/org-unit/departments/{departmentId}") for m in ("get", "put", "delete")],
    *[(m, "/api/v1/org-unit/departments/{departmentId}/resources") for m in ("put", "patch")],
    ("get", "/api/v1/clusters"), ("get", "/api/v1/clusters/{clusterUuid}"),
    ("get", "/api/v1/clusters/{clusterUuid}/nodes"), ("get", "/v1/k8s/clusters/{clusterId}/node-pools"),
    ("get", "/api/v1/workloads/inferences/{workloadId}/metrics"),
    ("get", "/api/v1/workloads/inferences/{workloadId}/pods/{podId}/metrics"),
]
KEEP = {"type", "format", "required", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength",
        "minItems", "maxItems", "nullable", "allOf", "oneOf", "anyOf", "items", "properties",
        "additionalProperties", "$ref", "default", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}


def _structure(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {name: _structure(v) for name, v in value.items()}
            elif key in KEEP:
                out[key] = _structure(value)
        return out
    if isinstance(node, list):
        return [_structure(v) for v in node]
    return node


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def extract(doc: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path in SERVED:
        op = doc["paths"].get(path, {}).get(method)
        if op is None:
            continue
        entry: dict[str, Any] = {"responses": {}}
        body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
        if body is not None:
            entry["request"] = _structure(body)
        for code, response in op.get("responses", {}).items():
            if "$ref" in response:
                response = _resolve(doc, response["$ref"])
            schema = (response.get("content") or {}).get("application/json", {}).get("schema")
            entry["responses"][code] = _structure(schema) if schema is not None else None
        paths.setdefault(path, {})[method] = entry
    components: dict[str, Any] = {}
    todo = _refs(paths)
    while todo:
        ref = todo.pop()
        name = ref.rsplit("/", 1)[-1]
        if name in components:
            continue
        components[name] = _structure(_resolve(doc, ref))
        todo |= _refs(components[name])
    return {"source": "Run:ai REST API 2.18 (structure only)", "paths": paths,
            "components": {"schemas": dict(sorted(components.items()))}}


if __name__ == "__main__":
    document = json.loads(Path(sys.argv[1]).read_text())
    OUT.write_text(json.dumps(extract(document), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
