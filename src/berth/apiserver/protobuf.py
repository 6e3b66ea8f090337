"""Kubernetes protobuf request bodies, decoded into the JSON objects the API server stores.

kubectl's generator subcommands (`kubectl create namespace|configmap|secret|serviceaccount|service ...`) POST
their object as `application/vnd.kubernetes.protobuf` and never fall back to JSON. That body is the
Kubernetes protobuf envelope: the four bytes `k8s\\x00`, then a `runtime.Unknown` message whose
`typeMeta` names the apiVersion and kind and whose `raw` holds the object itself, protobuf-encoded with
the field numbers of the Kubernetes `generated.proto` files.

This module is pure: `decode(body)` returns the object as a JSON dict, shaped as Go's `encoding/json`
would write the same object (the shape `kubectl create ... --dry-run=client -o json` prints), so the
rest of the server treats it exactly like a JSON body:

* scalar fields at their zero value ("" / 0 / false) are left out (Go's `omitempty`), except pointer
  fields such as `immutable` or `automountServiceAccountToken`, which are kept whenever they are on the
  wire, `false` included; an empty map or list is left out;
* `metadata.creationTimestamp` sent as an empty Time message (what clients send) is left out, and a set
  timestamp is written in RFC 3339 with second precision, in UTC, as the Kubernetes JSON does;
* `bytes` values (`Secret.data`, `ConfigMap.binaryData`) become base64 strings;
* `metadata.managedFields[].fieldsV1` is the JSON document the entry carries.

Only the kinds kubectl's generators send and Berth serves are understood: core/v1 Namespace,
ConfigMap, Secret, ServiceAccount and Service (`kubectl run` and `kubectl expose` send JSON), and the
reviews of `kubectl auth can-i` (authorization.k8s.io/v1 SelfSubjectAccessReview) and `kubectl auth whoami`
(authentication.k8s.io/v1 SelfSubjectReview). Any other kind raises `UnsupportedProtobuf`; fields the schema
below does not know are skipped, as protobuf readers do. A body that is not well-formed protobuf (bad
magic, truncated varint or length, a known field with the wrong wire type, a string that is not UTF-8)
raises `ValueError` with a message that says where.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

__all__ = ["MAGIC", "SUPPORTED", "UnsupportedProtobuf", "decode"]

#: The four bytes every Kubernetes protobuf body starts with.
MAGIC = b"k8s\x00"


class UnsupportedProtobuf(Exception):
    """A well-formed protobuf envelope holding a kind this module cannot decode (answer 415)."""

    def __init__(self, kind: str, api_version: str = "") -> None:
        self.kind = kind
        self.api_version = api_version
        what = f"{api_version}, Kind={kind}" if api_version else f"Kind={kind}"
        super().__init__(f"protobuf bodies of {what} are not supported; send application/json")


# --- the wire format -----------------------------------------------------------------------------------

_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5
_WIRE_NAMES = {_VARINT: "varint", _I64: "fixed64", _LEN: "length-delimited", _SGROUP: "start-group",
               _EGROUP: "end-group", _I32: "fixed32"}


def _varint(buf: bytes, pos: int, where: str) -> tuple[int, int]:
    """The unsigned varint at `pos` and the position after it."""
    result = shift = 0
    for i in range(10):
        if pos + i >= len(buf):
            raise ValueError(f"malformed protobuf in {where}: truncated varint at byte {pos}")
        byte = buf[pos + i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, pos + i + 1
        shift += 7
    raise ValueError(f"malformed protobuf in {where}: varint longer than 10 bytes at byte {pos}")


def _skip_group(buf: bytes, pos: int, number: int, where: str) -> int:
    """The position after the end-group tag that closes group `number`, nested groups included.

    Iterative, so that a body of deeply nested groups cannot exhaust the Python stack.
    """
    open_groups = [number]
    while open_groups:
        if pos >= len(buf):
            raise ValueError(f"malformed protobuf in {where}: group {open_groups[-1]} is not closed")
        tag, pos = _varint(buf, pos, where)
        inner, wire = tag >> 3, tag & 7
        if wire == _EGROUP:
            if inner != open_groups[-1]:
                raise ValueError(f"malformed protobuf in {where}: group {open_groups[-1]} closed as group {inner}")
            open_groups.pop()
        elif wire == _SGROUP:
            open_groups.append(inner)
        else:
            pos = _skip(buf, pos, inner, wire, where)
    return pos


def _skip(buf: bytes, pos: int, number: int, wire: int, where: str) -> int:
    """The position after the value of a field this schema does not know."""
    if wire == _VARINT:
        return _varint(buf, pos, where)[1]
    if wire in (_I64, _I32):
        end = pos + (8 if wire == _I64 else 4)
        if end > len(buf):
            raise ValueError(f"malformed protobuf in {where}: truncated {_WIRE_NAMES[wire]} field {number}")
        return end
    if wire == _LEN:
        length, pos = _varint(buf, pos, where)
        if pos + length > len(buf):
            raise ValueError(f"malformed protobuf in {where}: field {number} is {length} bytes long but only "
                             f"{len(buf) - pos} remain")
        return pos + length
    if wire == _SGROUP:
        return _skip_group(buf, pos, number, where)
    raise ValueError(f"malformed protobuf in {where}: invalid wire type {wire} for field {number}")


def _fields(buf: bytes, where: str) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each field of a message; for a varint, start is the value."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos, where)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ValueError(f"malformed protobuf in {where}: field number 0")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, where)
            yield number, wire, value, pos
        elif wire == _LEN:
            length, start = _varint(buf, pos, where)
            pos = start + length
            if pos > len(buf):
                raise ValueError(f"malformed protobuf in {where}: field {number} is {length} bytes long but "
                                 f"only {len(buf) - start} remain")
            yield number, wire, start, pos
        elif wire == _EGROUP:
            raise ValueError(f"malformed protobuf in {where}: end-group tag {number} without a group")
        else:
            start = pos
            pos = _skip(buf, pos, number, wire, where)
            yield number, wire, start, pos


# --- the schema ----------------------------------------------------------------------------------------

class _T(Enum):
    """How a field's wire value becomes JSON."""

    STRING = "string"
    BYTES = "bytes"      # base64 in JSON
    INT = "int"          # int32/int64 varint, two's complement
    BOOL = "bool"
    TIME = "time"        # meta/v1 Time {seconds = 1, nanos = 2}, RFC 3339 in JSON
    FIELDS = "fields"    # meta/v1 FieldsV1 {Raw = 1}: a JSON document
    INT_OR_STRING = "intstr"  # util/intstr IntOrString {type = 1, intVal = 2, strVal = 3}: a number or a string
    MESSAGE = "message"


class _Keep(Enum):
    """When a field appears in the JSON."""

    NONZERO = "nonzero"  # Go `omitempty`: left out at its zero value
    PRESENT = "present"  # a pointer field: kept whenever it is on the wire, even at its zero value
    ALWAYS = "always"    # no `omitempty`: written even when absent from the wire


@dataclass(frozen=True)
class _F:
    """One field of a message: its JSON name, type, and whether it repeats or is a map<string, type>."""

    name: str
    type: _T
    message: str = ""    # for MESSAGE: the name of the message in _MESSAGES
    repeated: bool = False
    map: bool = False
    keep: _Keep = _Keep.NONZERO


_S, _B, _I, _BOOL, _TIME = _T.STRING, _T.BYTES, _T.INT, _T.BOOL, _T.TIME


# Field numbers from k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto and
# k8s.io/api/core/v1/generated.proto.
_MESSAGES: dict[str, dict[int, _F]] = {
    "ObjectMeta": {
        1: _F("name", _S), 2: _F("generateName", _S), 3: _F("namespace", _S), 4: _F("selfLink", _S),
        5: _F("uid", _S), 6: _F("resourceVersion", _S), 7: _F("generation", _I),
        8: _F("creationTimestamp", _TIME), 9: _F("deletionTimestamp", _TIME, keep=_Keep.PRESENT),
        10: _F("deletionGracePeriodSeconds", _I, keep=_Keep.PRESENT),
        11: _F("labels", _S, map=True), 12: _F("annotations", _S, map=True),
        13: _F("ownerReferences", _T.MESSAGE, "OwnerReference", repeated=True),
        14: _F("finalizers", _S, repeated=True),
        17: _F("managedFields", _T.MESSAGE, "ManagedFieldsEntry", repeated=True),
    },
    "OwnerReference": {
        5: _F("apiVersion", _S, keep=_Keep.ALWAYS), 1: _F("kind", _S, keep=_Keep.ALWAYS),
        3: _F("name", _S, keep=_Keep.ALWAYS), 4: _F("uid", _S, keep=_Keep.ALWAYS),
        6: _F("controller", _BOOL, keep=_Keep.PRESENT), 7: _F("blockOwnerDeletion", _BOOL, keep=_Keep.PRESENT),
    },
    "ManagedFieldsEntry": {
        1: _F("manager", _S), 2: _F("operation", _S), 3: _F("apiVersion", _S),
        4: _F("time", _TIME, keep=_Keep.PRESENT), 6: _F("fieldsType", _S),
        7: _F("fieldsV1", _T.FIELDS, keep=_Keep.PRESENT), 8: _F("subresource", _S),
    },
    "Namespace": {
        1: _F("metadata", _T.MESSAGE, "ObjectMeta", keep=_Keep.ALWAYS),
        2: _F("spec", _T.MESSAGE, "NamespaceSpec", keep=_Keep.PRESENT),
        3: _F("status", _T.MESSAGE, "NamespaceStatus", keep=_Keep.PRESENT),
    },
    "NamespaceSpec": {1: _F("finalizers", _S, repeated=True)},
    "NamespaceStatus": {
        1: _F("phase", _S), 2: _F("conditions", _T.MESSAGE, "NamespaceCondition", repeated=True),
    },
    "NamespaceCondition": {
        1: _F("type", _S, keep=_Keep.ALWAYS), 2: _F("status", _S, keep=_Keep.ALWAYS),
        4: _F("lastTransitionTime", _TIME), 5: _F("reason", _S), 6: _F("message", _S),
    },
    "ConfigMap": {
        1: _F("metadata", _T.MESSAGE, "ObjectMeta", keep=_Keep.ALWAYS),
        4: _F("immutable", _BOOL, keep=_Keep.PRESENT),
        2: _F("data", _S, map=True), 3: _F("binaryData", _B, map=True),
    },
    "Secret": {
        1: _F("metadata", _T.MESSAGE, "ObjectMeta", keep=_Keep.ALWAYS),
        5: _F("immutable", _BOOL, keep=_Keep.PRESENT),
        2: _F("data", _B, map=True), 4: _F("stringData", _S, map=True), 3: _F("type", _S),
    },
    "ServiceAccount": {
        1: _F("metadata", _T.MESSAGE, "ObjectMeta", keep=_Keep.ALWAYS),
        2: _F("secrets", _T.MESSAGE, "ObjectReference", repeated=True),
        3: _F("imagePullSecrets", _T.MESSAGE, "LocalObjectReference", repeated=True),
        4: _F("automountServiceAccountToken", _BOOL, keep=_Keep.PRESENT),
    },
    "ObjectReference": {
        1: _F("kind", _S), 2: _F("namespace", _S), 3: _F("name", _S), 4: _F("uid", _S),
        5: _F("apiVersion", _S), 6: _F("resourceVersion", _S), 7: _F("fieldPath", _S),
    },
    "LocalObjectReference": {1: _F("name", _S)},
    "Service": {
        1: _F("metadata", _T.MESSAGE, "ObjectMeta", keep=_Keep.ALWAYS),
        2: _F("spec", _T.MESSAGE, "ServiceSpec", keep=_Keep.ALWAYS),
        3: _F("status", _T.MESSAGE, "ServiceStatus", keep=_Keep.ALWAYS),
    },
    "ServiceSpec": {
        1: _F("ports", _T.MESSAGE, "ServicePort", repeated=True), 2: _F("selector", _S, map=True),
        3: _F("clusterIP", _S), 18: _F("clusterIPs", _S, repeated=True), 4: _F("type", _S),
        5: _F("externalIPs", _S, repeated=True), 7: _F("sessionAffinity", _S), 8: _F("loadBalancerIP", _S),
        9: _F("loadBalancerSourceRanges", _S, repeated=True), 10: _F("externalName", _S),
        11: _F("externalTrafficPolicy", _S), 12: _F("healthCheckNodePort", _I),
        13: _F("publishNotReadyAddresses", _BOOL),
        14: _F("sessionAffinityConfig", _T.MESSAGE, "SessionAffinityConfig", keep=_Keep.PRESENT),
        19: _F("ipFamilies", _S, repeated=True), 17: _F("ipFamilyPolicy", _S, keep=_Keep.PRESENT),
        20: _F("allocateLoadBalancerNodePorts", _BOOL, keep=_Keep.PRESENT),
        21: _F("loadBalancerClass", _S, keep=_Keep.PRESENT), 22: _F("internalTrafficPolicy", _S, keep=_Keep.PRESENT),
        23: _F("trafficDistribution", _S, keep=_Keep.PRESENT),
    },
    "ServicePort": {
        1: _F("name", _S), 2: _F("protocol", _S), 6: _F("appProtocol", _S, keep=_Keep.PRESENT),
        3: _F("port", _I, keep=_Keep.ALWAYS), 4: _F("targetPort", _T.INT_OR_STRING), 5: _F("nodePort", _I),
    },
    "SessionAffinityConfig": {1: _F("clientIP", _T.MESSAGE, "ClientIPConfig", keep=_Keep.PRESENT)},
    "ClientIPConfig": {1: _F("timeoutSeconds", _I, keep=_Keep.PRESENT)},
    "ServiceStatus": {
        1: _F("loadBalancer", _T.MESSAGE, "LoadBalancerStatus", keep=_Keep.ALWAYS),
        2: _F("conditions", _T.MESSAGE, "Condition", repeated=True),
    },
    "LoadBalancerStatus": {1: _F("ingress", _T.MESSAGE, "LoadBalancerIngress", repeated=True)},
    "LoadBalancerIngress": {
        1: _F("ip", _S), 2: _F("hostname", _S), 3: _F("ipMode", _S, keep=_Keep.PRESENT),
        4: _F("ports", _T.MESSAGE, "PortStatus", repeated=True),
    },
    "PortStatus": {1: _F("port", _I, keep=_Keep.ALWAYS), 2: _F("protocol", _S, keep=_Keep.ALWAYS),
                   3: _F("error", _S, keep=_Keep.PRESENT)},
    "Condition": {
        1: _F("type", _S, keep=_Keep.ALWAYS), 2: _F("status", _S, keep=_Keep.ALWAYS),
        3: _F("observedGeneration", _I), 4: _F("lastTransitionTime", _TIME, keep=_Keep.ALWAYS),
        5: _F("reason", _S, keep=_Keep.ALWAYS), 6: _F("message", _S, keep=_Keep.ALWAYS),
    },
    # k8s.io/api/authorization/v1/generated.proto: what `kubectl auth can-i` sends.
    "SelfSubjectAccessReview": {
        1: _F("metadata", _T.MESSAGE, "ObjectMeta", keep=_Keep.ALWAYS),
        2: _F("spec", _T.MESSAGE, "SelfSubjectAccessReviewSpec", keep=_Keep.ALWAYS),
    },
    "SelfSubjectAccessReviewSpec": {
        1: _F("resourceAttributes", _T.MESSAGE, "ResourceAttributes", keep=_Keep.PRESENT),
        2: _F("nonResourceAttributes", _T.MESSAGE, "NonResourceAttributes", keep=_Keep.PRESENT),
    },
    "ResourceAttributes": {
        1: _F("namespace", _S), 2: _F("verb", _S), 3: _F("group", _S), 4: _F("version", _S),
        5: _F("resource", _S), 6: _F("subresource", _S), 7: _F("name", _S),
    },
    "NonResourceAttributes": {1: _F("path", _S), 2: _F("verb", _S)},
    # k8s.io/api/authentication/v1: what `kubectl auth whoami` sends (its metadata only).
    "SelfSubjectReview": {1: _F("metadata", _T.MESSAGE, "ObjectMeta", keep=_Keep.ALWAYS)},
}

#: (apiVersion, kind) of the objects `decode` understands.
SUPPORTED: frozenset[tuple[str, str]] = frozenset(
    {("v1", kind) for kind in ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service")}
    | {("authorization.k8s.io/v1", "SelfSubjectAccessReview"), ("authentication.k8s.io/v1", "SelfSubjectReview")}
)

_ZERO: dict[_T, Any] = {_S: "", _B: "", _I: 0, _BOOL: False}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- decoding ------------------------------------------------------------------------------------------

def _text(buf: bytes, where: str) -> str:
    try:
        return buf.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"malformed protobuf in {where}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _small(buf: bytes, where: str, varints: tuple[int, ...], strings: tuple[int, ...] = ()) -> dict[int, Any]:
    """The varint fields `varints` (signed) and string fields `strings` of a small message, by number."""
    found: dict[int, Any] = {}
    for number, wire, start, end in _fields(buf, where):
        if number in varints:
            _expect(wire, _VARINT, number, where)
            found[number] = _signed(start)
        elif number in strings:
            _expect(wire, _LEN, number, where)
            found[number] = _text(buf[start:end], where)
    return found


def _time(buf: bytes, where: str) -> str | None:
    """A meta/v1 Time as the Kubernetes JSON writes it; None for an empty message (the zero time)."""
    if not buf:
        return None
    found = _small(buf, where, (1, 2))
    seconds, nanos = found.get(1, 0), found.get(2, 0)
    if not 0 <= nanos < 1_000_000_000:
        raise ValueError(f"malformed protobuf in {where}: nanos {nanos} out of range")
    try:
        moment = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"malformed protobuf in {where}: seconds {seconds} out of range") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(buf: bytes, where: str) -> int | str:
    """An IntOrString {type = 1, intVal = 2, strVal = 3} as JSON writes it: the string when type is 1."""
    found = _small(buf, where, (1, 2), (3,))
    return found.get(3, "") if found.get(1, 0) == 1 else found.get(2, 0)


def _expect(wire: int, wanted: int, number: int, where: str) -> None:
    if wire != wanted:
        raise ValueError(f"malformed protobuf in {where}: field {number} has wire type {_WIRE_NAMES.get(wire, wire)}"
                         f", expected {_WIRE_NAMES[wanted]}")


def _value(field: _F, buf: bytes, wire: int, start: int, end: int, number: int, here: str) -> Any:
    """The JSON value of one occurrence of a (non-map) field; `here` names it in error messages."""
    if field.type in (_I, _BOOL):
        _expect(wire, _VARINT, number, here)
        return _signed(start) if field.type is _I else start != 0
    _expect(wire, _LEN, number, here)
    data = buf[start:end]
    if field.type is _S:
        return _text(data, here)
    if field.type is _B:
        return base64.b64encode(data).decode("ascii")
    if field.type is _TIME:
        return _time(data, here)
    if field.type is _T.INT_OR_STRING:
        return _int_or_string(data, here)
    if field.type is _T.FIELDS:
        raw = b""
        for inner, inner_wire, s, e in _fields(data, here):
            if inner == 1:
                _expect(inner_wire, _LEN, inner, here)
                raw = data[s:e]
        try:
            return json.loads(raw) if raw else {}
        except ValueError as exc:
            raise ValueError(f"malformed protobuf in {here}: not JSON ({exc})") from None
    return _message(field.message, data, here)


def _map_entry(field: _F, buf: bytes, where: str) -> tuple[str, Any]:
    """One map<string, T> entry: a message with key = 1 and value = 2 (either may be absent)."""
    key, value = "", _ZERO[field.type]
    for number, wire, start, end in _fields(buf, where):
        if number == 1:
            _expect(wire, _LEN, number, where)
            key = _text(buf[start:end], f"{where} key")
        elif number == 2:
            value = _value(field, buf, wire, start, end, number, f"{where}[{key!r}]")
    return key, value


def _message(name: str, buf: bytes, where: str) -> dict[str, Any]:
    """A message of _MESSAGES as a JSON dict, fields in the order the schema lists them."""
    schema = _MESSAGES[name]
    found: dict[int, Any] = {}
    for number, wire, start, end in _fields(buf, where):
        field = schema.get(number)
        if field is None:
            continue
        here = f"{where}.{field.name}"
        if field.map:
            _expect(wire, _LEN, number, here)
            key, value = _map_entry(field, buf[start:end], here)
            found.setdefault(number, {})[key] = value
        elif field.repeated:
            found.setdefault(number, []).append(_value(field, buf, wire, start, end, number, here))
        else:
            found[number] = _value(field, buf, wire, start, end, number, here)
    out: dict[str, Any] = {}
    for number, field in schema.items():
        if number in found:
            value = found[number]
            if value is None or (field.keep is _Keep.NONZERO and not value):
                continue
            out[field.name] = value
        elif field.keep is _Keep.ALWAYS:
            out[field.name] = {} if field.type is _T.MESSAGE else _ZERO[field.type]
    return out


def _envelope(body: bytes) -> tuple[str, str, bytes]:
    """apiVersion, kind and raw object bytes of a `k8s\\x00` + runtime.Unknown body."""
    if not body.startswith(MAGIC):
        raise ValueError("malformed protobuf body: it does not start with the Kubernetes magic bytes k8s\\x00")
    buf = body[len(MAGIC):]
    api_version = kind = encoding = content_type = ""
    raw = b""
    for number, wire, start, end in _fields(buf, "runtime.Unknown"):
        if number == 1:
            _expect(wire, _LEN, number, "runtime.Unknown")
            for inner, inner_wire, s, e in _fields(buf[start:end], "runtime.Unknown.typeMeta"):
                if inner in (1, 2):
                    _expect(inner_wire, _LEN, inner, "runtime.Unknown.typeMeta")
                    text = _text(buf[start:end][s:e], "runtime.Unknown.typeMeta")
                    if inner == 1:
                        api_version = text
                    else:
                        kind = text
        elif number in (2, 3, 4):
            _expect(wire, _LEN, number, "runtime.Unknown")
            if number == 2:
                raw = buf[start:end]
            elif number == 3:
                encoding = _text(buf[start:end], "runtime.Unknown.contentEncoding")
            else:
                content_type = _text(buf[start:end], "runtime.Unknown.contentType")
    if not kind:
        raise ValueError("malformed protobuf body: the envelope's typeMeta names no kind")
    if encoding:
        raise ValueError(f"malformed protobuf body: content encoding {encoding!r} is not supported")
    if content_type not in ("", "application/vnd.kubernetes.protobuf"):
        raise ValueError(f"malformed protobuf body: the envelope holds {content_type!r}, not protobuf")
    return api_version, kind, raw


def decode(body: bytes) -> dict[str, Any]:
    """The object of a Kubernetes protobuf request body as a JSON dict (apiVersion and kind first)."""
    api_version, kind, raw = _envelope(body)
    if (api_version, kind) not in SUPPORTED:
        raise UnsupportedProtobuf(kind, api_version)
    return {"apiVersion": api_version, "kind": kind, **_message(kind, raw, kind)}
