"""Decoding request bodies and checking objects against their schema, as the real API server does for
custom resources: unknown fields per `fieldValidation` (Strict: 400; Warn: pruned with a warning; Ignore:
pruned silently), then schema validation (422 with one cause per field).

The checks themselves are `berth.api.load.check`, so `berth validate`, the CLI, the UI and the server
report the same problems in the same words. Core kinds get only the real server's checks that what Berth
makes and kubectl sends could fail: a pod's containers, a Service's ports, a ConfigMap's or Secret's size.
"""

from __future__ import annotations

from typing import Any

import orjson

from berth.api.load import INVALID, REQUIRED, UNKNOWN, LoadError, Problem, check, parse_documents
from berth.api.names import dns1123_label
from berth.api.priority import PRIORITY_CLASSES
from berth.api.schema import Schema, shared_schema
from berth.apiserver import errors, protobuf
from berth.apiserver.objects import clone
from berth.apiserver.resources import Resource

MAX_BODY = 3 * 1024 * 1024
#: What a ConfigMap or a Secret may hold (MaxSecretSize): 1 MiB.
MAX_DATA = 1024 * 1024
VALIDATION_MODES = ("Strict", "Warn", "Ignore")


#: How deep a request body may nest lists and maps. Kubernetes objects nest a few dozen levels at most; the
#: store writes JSON with orjson, which refuses more than 255, so a deeper body is refused when it comes.
MAX_DEPTH = 100


def decode(raw: bytes, content_type: str) -> Any:
    """A request body as JSON data; YAML for application/yaml and apply patches. Raises ApiError 400 for a body
    that cannot be read, or that nests deeper than MAX_DEPTH."""
    media = content_type.split(";", 1)[0].strip().lower()
    data = _decode(raw, media)
    if media != _PROTOBUF and media not in _YAML and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return data  # JSON nests only through brackets: with this few it cannot be deeper (no walk needed)
    if _deeper_than(data, MAX_DEPTH):
        raise errors.bad_request(f"the request body nests lists and maps more than {MAX_DEPTH} levels deep, "
                                 "which no Kubernetes object does")
    return data


_PROTOBUF = "application/vnd.kubernetes.protobuf"
_YAML = frozenset({"application/yaml", "application/apply-patch+yaml"})  # any other media is read as JSON


def _deeper_than(data: Any, limit: int) -> bool:
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


def _decode(raw: bytes, media: str) -> Any:
    if media == _PROTOBUF:  # kubectl create namespace|configmap|secret|sa
        try:
            return protobuf.decode(raw)
        except protobuf.UnsupportedProtobuf:
            raise errors.unsupported_media_type(media, ["application/json", "application/yaml"]) from None
        except ValueError as exc:
            raise errors.bad_request(str(exc)) from None
    if media in _YAML:
        try:
            documents = parse_documents(raw.decode("utf-8"))
        except (LoadError, UnicodeDecodeError) as exc:
            raise errors.bad_request(f"error decoding YAML: {exc}") from None
        if len(documents) != 1:
            raise errors.bad_request("the request body must hold exactly one object")
        return documents[0]
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None


def _prune(obj: Any, schema: Schema | None, path: tuple[str | int, ...], removed: list[str]) -> Any:
    """Drop fields the schema does not know (in place); record their paths."""
    if schema is None or schema.get("x-kubernetes-preserve-unknown-fields"):
        return obj
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in list(obj):
            value = obj[key]
            if props is not None:
                if key not in props:
                    removed.append(_dotted((*path, key)))
                    del obj[key]
                elif isinstance(value, (dict, list)):
                    _prune(value, props[key], (*path, key), removed)
            elif isinstance(extra, dict) and isinstance(value, (dict, list)):
                _prune(value, extra, (*path, key), removed)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            if isinstance(item, (dict, list)):
                _prune(item, schema["items"], (*path, i), removed)
    return obj


def _dotted(path: tuple[str | int, ...]) -> str:
    """`spec.containers[0].name` for ("spec", "containers", 0, "name")."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return '"object"' if isinstance(value, dict) else '"array"'
    return orjson.dumps(value).decode()


def _cause(problem: Problem) -> dict[str, str]:
    if problem.reason == REQUIRED:
        return {"reason": REQUIRED, "field": problem.path, "message": "Required value"}
    if problem.reason == UNKNOWN:
        return {"reason": "FieldValueInvalid", "field": problem.path, "message": problem.message}
    message = problem.message
    if problem.value is not None:
        shown = _shown(problem.value)  # kube's "Invalid value: <value>: <detail>"; the type for a wrong type
        message = f"Invalid value: {message}" if message.startswith(f"{shown} ") else f"Invalid value: {shown}: {message}"
    return {"reason": INVALID, "field": problem.path, "message": message}


def _unknown_message(resource: Resource, paths: list[str], hints: dict[str, str]) -> str:
    listed = []
    for path in paths:
        hint = hints.get(path, "")
        hint = hint.removeprefix("unknown field").lstrip("; ")
        listed.append(f'unknown field "{path}"' + (f" ({hint})" if hint else ""))
    return (
        f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
        f"strict decoding error: {', '.join(listed)}"
    )


def check_object(resource: Resource, obj: dict[str, Any], mode: str) -> tuple[dict[str, Any], list[str]]:
    """The object to store (pruned of unknown fields unless Strict) and the warnings to send.

    Raises ApiError 400 for unknown fields under Strict, 422 for invalid values.
    """
    if mode not in VALIDATION_MODES:
        raise errors.bad_request(f'fieldValidation must be one of Strict, Warn or Ignore, not "{mode}"')
    name = (obj.get("metadata") or {}).get("name", "")
    if resource.model is None:
        _check_builtin(resource, obj, name)
        return obj, []
    kind = resource.model
    removed: list[str] = []
    pruned = _prune(clone(obj), shared_schema(kind), (), removed)
    warnings: list[str] = []
    if removed:
        if mode == "Strict":
            _, problems = check(kind, obj)
            hints = {p.path: p.message for p in problems if p.reason == UNKNOWN}
            raise errors.bad_request(_unknown_message(resource, removed, hints))
        if mode == "Warn":
            warnings = [f'unknown field "{path}"' for path in removed]
    _, problems = check(kind, pruned)
    if problems:
        raise errors.invalid(resource.kind, resource.group, name, [_cause(p) for p in problems])
    return pruned, warnings


def _check_builtin(resource: Resource, obj: dict[str, Any], name: str) -> None:
    if resource.plural in ("configmaps", "secrets"):
        _check_string_maps(resource, obj)
    causes = []
    if resource.plural == "pods":
        containers = (obj.get("spec") or {}).get("containers")
        if not containers:
            causes.append({"reason": REQUIRED, "field": "spec.containers", "message": "Required value"})
        else:
            for i, container in enumerate(containers):
                if not isinstance(container, dict) or not container.get("name"):
                    causes.append({"reason": REQUIRED, "field": f"spec.containers[{i}].name",
                                   "message": "Required value"})
                elif not container.get("image"):
                    causes.append({"reason": REQUIRED, "field": f"spec.containers[{i}].image",
                                   "message": "Required value"})
    if resource.plural == "pods":
        _check_priority_class(obj, name)
    if resource.plural == "services":
        causes += _service_causes(obj.get("spec") or {})
    if resource.plural in ("configmaps", "secrets") and _data_bytes(obj) > MAX_DATA:
        causes.append({"reason": "FieldValueTooLong", "field": "data" if resource.plural == "secrets" else "",
                       "message": f"Too long: must have at most {MAX_DATA} bytes"})
    if causes:
        raise errors.invalid(resource.kind, resource.group, name, causes)


#: Classes every Kubernetes cluster has, besides those of `berth.api.priority`.
SYSTEM_PRIORITY_CLASSES = ("system-cluster-critical", "system-node-critical")


def _check_priority_class(pod: dict[str, Any], name: str) -> None:
    """A pod may name only a priority class that exists, as kube-apiserver's Priority admission plugin has
    it: Berth's are the table of `berth.api.priority`, which the scheduler reads (it would otherwise take an
    unknown name as train, silently)."""
    wanted = (pod.get("spec") or {}).get("priorityClassName")
    if wanted and wanted not in PRIORITY_CLASSES and wanted not in SYSTEM_PRIORITY_CLASSES:
        known = ", ".join(PRIORITY_CLASSES)
        raise errors.forbidden(f'pods "{name}" is forbidden: no PriorityClass with name {wanted} was found; '
                               f"use one of {known}", name, "", "pods")


def _json_type(value: Any) -> str:
    """How Go's encoding/json names the JSON type it could not decode."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _check_string_maps(resource: Resource, obj: dict[str, Any]) -> None:
    """A ConfigMap's or Secret's data, binaryData and stringData map names to strings: any other value is a
    400, in kube-apiserver's words (it cannot decode the object). A YAML `replicas: 3` is a number: quote it."""
    for field in ("data", "binaryData", "stringData"):
        values = obj.get(field)
        if values is None:
            continue
        element = "[]uint8" if field == "binaryData" else "string"  # base64 text, decoded to bytes
        found = _json_type(values) if not isinstance(values, dict) else next(
            (_json_type(v) for v in values.values() if not isinstance(v, str) and v is not None), None)
        if found is not None:
            into = element if isinstance(values, dict) else f"map[string]{element}"
            raise errors.bad_request(
                f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: json: '
                f"cannot unmarshal {found} into Go struct field {resource.kind}.{field} of type {into}")


def _data_bytes(obj: dict[str, Any]) -> int:
    """Bytes of the values a ConfigMap or Secret holds, as kube-apiserver counts them (base64 decoded)."""
    secret = obj.get("kind") == "Secret"
    total = 0
    for field, encoded in (("data", secret), ("binaryData", True), ("stringData", False)):
        values = obj.get(field)
        if isinstance(values, dict):
            total += sum(len(str(v)) * 3 // 4 if encoded else len(str(v).encode()) for v in values.values())
    return total


def _service_causes(spec: dict[str, Any]) -> list[dict[str, str]]:
    """What ValidateService refuses of a Service's ports: none where some are needed, two on one
    (port, protocol), two of one name, a port without a name beside others, a name that is no DNS label."""
    ports = spec.get("ports") or []
    causes = []
    if not ports and spec.get("clusterIP") != "None" and spec.get("type") != "ExternalName":
        causes.append({"reason": REQUIRED, "field": "spec.ports", "message": "Required value"})
    seen: set[tuple[str, Any]] = set()
    port_names: set[str] = set()
    for i, port in enumerate(p if isinstance(p, dict) else {} for p in ports):
        path = f"spec.ports[{i}]"
        name, number = port.get("name") or "", port.get("port")
        if not name and len(ports) > 1:
            causes.append({"reason": REQUIRED, "field": f"{path}.name", "message": "Required value"})
        elif name in port_names:
            causes.append({"reason": "FieldValueDuplicate", "field": f"{path}.name",
                           "message": f"Duplicate value: {orjson.dumps(name).decode()}"})
        elif name:
            causes += [{"reason": INVALID, "field": f"{path}.name",
                        "message": f"Invalid value: {orjson.dumps(name).decode()}: {m}"} for m in dns1123_label(name)]
        port_names.add(name)
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append({"reason": INVALID, "field": f"{path}.port",
                           "message": f"Invalid value: {orjson.dumps(number).decode()}: must be between 1 and 65535, "
                                      "inclusive"})
        key = (port.get("protocol") or "TCP", number)
        if key in seen:
            causes.append({"reason": "FieldValueDuplicate", "field": path, "message": "Duplicate value: " + orjson.dumps(
                {"port": number, "protocol": key[0]}).decode()})
        seen.add(key)
    return causes

