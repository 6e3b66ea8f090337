"""OpenAPI v3 documents: the index at `/openapi/v3` and one document per group-version.

kubectl needs them for `apply`, `create -f`, `replace`, `edit` and `explain`: it finds a kind's schema by
`x-kubernetes-group-version-kind`, and before writing it checks that the kind's PATCH operation declares
the `fieldValidation` query parameter (see the protocol notes, 2.4). Custom resources get the schemas of
`berth.api.schema` (the same as their CRDs); core kinds get a thin schema that keeps unknown fields.
Strategic merge patch is never listed for custom resources, since the server refuses it for them.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import orjson

from berth.api.meta import ObjectMeta
from berth.api.schema import full_schema, model_schema
from berth.apiserver.resources import Resource, group_versions, in_group_version

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_META_REF = {"allOf": [{"$ref": f"#/components/schemas/{OBJECT_META}"}]}

#: The media type of the OpenAPI v2 document, which Berth serves empty (`berth.apiserver.app`).
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _schema_name(resource: Resource) -> str:
    group = ".".join(reversed(resource.group.split("."))) if resource.group else "io.k8s.api.core"
    return f"{group}.{resource.version}.{resource.kind}"


def _gvk(resource: Resource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind}


def _core_schema(resource: Resource) -> dict[str, Any]:
    loose = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    props: dict[str, Any] = {
        "apiVersion": {"type": "string", "description": f"{resource.api_version} for {resource.kind}."},
        "kind": {"type": "string", "description": f"The kind of the object: {resource.kind}."},
        "spec": {**loose, "description": f"The desired state of the {resource.kind}."},
        "status": {**loose, "description": f"The observed state of the {resource.kind}; read-only."},
    }
    if resource.plural in ("configmaps", "secrets"):
        props["data"] = {"type": "object", "additionalProperties": {"type": "string"},
                         "description": "Key/value data" + (" (base64)." if resource.plural == "secrets" else ".")}
    return {"type": "object", "description": f"A Kubernetes {resource.kind}, as Berth stores it.",
            "properties": props, "x-kubernetes-preserve-unknown-fields": True}


def kind_schema(resource: Resource) -> dict[str, Any]:
    """The component schema of a kind, with metadata as a reference to ObjectMeta."""
    schema = full_schema(resource.model) if resource.model else _core_schema(resource)
    description = (schema["properties"].get("metadata") or {}).get("description", "Standard object metadata.")
    schema["properties"]["metadata"] = {**_META_REF, "description": description}
    schema["x-kubernetes-group-version-kind"] = [_gvk(resource)]
    return schema


def _query(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": True}}


_WRITE_PARAMS = [_query("dryRun"), _query("fieldManager"), _query("fieldValidation")]
#: The query parameters of list, watch and delete, as Kubernetes declares them, so that clients (and the
#: fuzz tests, docs/apiserver.md) know what the server reads.
_SELECT_PARAMS = [_query("labelSelector"), _query("fieldSelector"), _query("limit", "integer"), _query("continue"),
                  _query("resourceVersion"), _query("resourceVersionMatch"), _query("timeoutSeconds", "integer")]
_LIST_PARAMS = [*_SELECT_PARAMS, _query("watch", "boolean"), _query("allowWatchBookmarks", "boolean")]
_DELETE_PARAMS = [_query("dryRun"), _query("gracePeriodSeconds", "integer"), _query("propagationPolicy")]
_PARAMS = {"list": _LIST_PARAMS, "deletecollection": _SELECT_PARAMS + _DELETE_PARAMS, "delete": _DELETE_PARAMS,
           "patch": [*_WRITE_PARAMS, _query("force", "boolean")]}


def _path_params(path: str) -> list[dict[str, Any]]:
    """The path's `{namespace}` and `{name}`, declared on the path item as Kubernetes declares them."""
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "uniqueItems": True},
             "description": f"{name} of the object"} for name in ("name", "namespace") if f"{{{name}}}" in path]


def _operation(resource: Resource, action: str, op_id: str, *, write: bool = False,
               body_types: tuple[str, ...] = ()) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(resource),
        "responses": {"200": {"description": "OK"}},
    }
    if action in _PARAMS:
        op["parameters"] = list(_PARAMS[action])
    elif write:
        op["parameters"] = list(_WRITE_PARAMS)
    if body_types:  # the kind itself for create and replace (as Kubernetes declares them), any object for a patch
        schema = {"$ref": f"#/components/schemas/{_schema_name(resource)}"} if action in ("post", "put") else {
            "type": "object"}
        op["requestBody"] = {"content": {t: {"schema": schema} for t in body_types}}
    return op


def _paths(resource: Resource) -> dict[str, Any]:
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    base = f"{prefix}/namespaces/{{namespace}}/{resource.plural}" if resource.namespaced else f"{prefix}/{resource.plural}"
    tag = resource.kind
    patch_types = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
    if resource.builtin:
        patch_types += ("application/strategic-merge-patch+json",)
    paths = {
        base: {
            "get": _operation(resource, "list", f"list{tag}"),
            "post": _operation(resource, "post", f"create{tag}", write=True, body_types=("application/json",)),
            "delete": _operation(resource, "deletecollection", f"deletecollection{tag}"),
        },
        f"{base}/{{name}}": {
            "get": _operation(resource, "get", f"read{tag}"),
            "put": _operation(resource, "put", f"replace{tag}", write=True, body_types=("application/json",)),
            "patch": _operation(resource, "patch", f"patch{tag}", write=True, body_types=patch_types),
            "delete": _operation(resource, "delete", f"delete{tag}"),
        },
    }
    if resource.namespaced:
        paths[f"{prefix}/{resource.plural}"] = {"get": _operation(resource, "list", f"list{tag}ForAllNamespaces")}
    if resource.has_status:
        paths[f"{base}/{{name}}/status"] = {
            "get": _operation(resource, "get", f"read{tag}Status"),
            "put": _operation(resource, "put", f"replace{tag}Status", write=True, body_types=("application/json",)),
            "patch": _operation(resource, "patch", f"patch{tag}Status", write=True, body_types=patch_types),
        }
    for path, item in paths.items():
        if _path_params(path):
            item["parameters"] = _path_params(path)
    return paths


def _key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@functools.cache
def document(group: str, version: str) -> bytes:
    """The OpenAPI v3 document of one group-version, as JSON bytes."""
    resources = in_group_version(group, version)
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {OBJECT_META: model_schema(ObjectMeta)}
    for resource in resources:
        paths.update(_paths(resource))
        schemas[_schema_name(resource)] = kind_schema(resource)
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Berth", "version": _key(group, version)},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    return orjson.dumps(doc)


@functools.cache
def index() -> bytes:
    """The `/openapi/v3` index: one hashed URL per group-version, so clients' caches follow changes."""
    paths = {}
    for group, version in group_versions():
        digest = hashlib.sha512(document(group, version)).hexdigest()[:32].upper()
        paths[_key(group, version)] = {"serverRelativeURL": f"/openapi/v3/{_key(group, version)}?hash={digest}"}
    return orjson.dumps({"paths": paths})
