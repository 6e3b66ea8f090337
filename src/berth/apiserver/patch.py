"""The patch formats of the Kubernetes API: JSON merge patch, JSON patch and strategic merge patch.

This module is pure: it takes JSON-like values (dicts, lists, str, int, float, bool, None) and returns
new ones. It never touches the store, never stamps resourceVersion or time, and never mutates its
inputs. Server-side apply and field ownership (`metadata.managedFields`) live in `berth.apiserver.apply`;
`server_side_apply`, `record_update` and `ApplyConflict` are also reachable from here, so the API server
imports every patch operation from one place.

Failures are `PatchError`s that carry the HTTP status and the Status reason the real API server answers
with: 400 BadRequest for a document that is not a patch at all, 422 Invalid for a patch that does not
apply (a failed JSON-patch `test`, a path that does not exist).

Strategic merge patch (`application/strategic-merge-patch+json`) needs to know, per field, whether a list
is merged by a key, merged as a set, or replaced. Kubernetes reads that from Go struct tags
(`patchStrategy`, `patchMergeKey`); Berth keeps the same facts in `PATCH_RULES` for the core kinds it
stores. For any other kind (the run.ai custom resources, which the API server refuses strategic merge
patches for anyway) the patch acts as a merge patch in which every list is replaced, and map directives
(`$patch`, `$retainKeys`) still work.

Where Berth knowingly differs from Kubernetes:
* list order after a strategic merge: live items keep their places and new items are appended;
  `$setElementOrder/<field>` reorders the patched items among the live ones (Kubernetes also weighs the
  order of the patch list itself);
* directives inside a value that is new to the object are dropped rather than stored verbatim;
* strategic patch errors Kubernetes leaves unclassified (a list item without its merge key, an unknown
  `$patch` value) are 400 here instead of 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from berth.apiserver.objects import clone

if TYPE_CHECKING:
    from berth.apiserver.apply import ApplyConflict, record_update, server_side_apply

__all__ = [
    "ApplyConflict",
    "FieldRule",
    "OBJECT_META",
    "PATCH_RULES",
    "PatchError",
    "create_merge_patch",
    "json_equal",
    "json_patch",
    "merge_patch",
    "record_update",
    "rules_for",
    "server_side_apply",
    "strategic_merge_patch",
    "three_way_merge_patch",
]

_REASONS = {400: "BadRequest", 409: "Conflict", 422: "Invalid"}

# The real API server answers every JSON patch that does not apply with this exact text (and empty
# details); kopf and other clients compare it verbatim, so the specific cause goes to `detail`.
REJECTED = "the server rejected our request due to an error in our request"


class PatchError(Exception):
    """A patch that cannot be applied.

    `code` is the HTTP status the API server answers with and `reason` the Kubernetes Status reason (422
    Invalid, 400 BadRequest, 409 Conflict). `message` is worded like the real API server's, which for a
    JSON patch that does not apply is a fixed generic sentence; `detail` then says what went wrong (for
    logs and `--verbose`). `details` is the Status `details` object, when the real server sends one.
    """

    def __init__(self, code: int, message: str, *, detail: str = "",
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = _REASONS.get(code, "BadRequest")
        self.message = message
        self.detail = detail or message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The Kubernetes `Status` body for this error."""
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _bad_request(message: str) -> PatchError:
    return PatchError(400, message)


def _not_applicable(detail: str) -> PatchError:
    return PatchError(422, REJECTED, detail=detail, details={})


def json_type(value: Any) -> str:
    """The JSON type name Go's decoder uses in its messages."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return "number"


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare by value, but a bool is never a number (unlike Python's `==`)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _require_object(patch: Any, what: str) -> None:
    if not isinstance(patch, dict):
        raise _bad_request(f"json: cannot unmarshal {json_type(patch)} into Go value of type "
                           f"map[string]interface {{}} ({what} must be a JSON object)")


# -- JSON merge patch (RFC 7386) ------------------------------------------------------------------------

def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply an RFC 7386 JSON merge patch: maps merge, `null` deletes, anything else (lists too) replaces."""
    if not isinstance(target, dict):
        target = {}
    _require_object(patch, "a merge patch")
    return _merge(clone(target), patch)


def _merge(target: Any, patch: Any) -> Any:
    """Merge `patch` into `target`, which is a copy and changes in place."""
    if not isinstance(patch, dict):
        return clone(patch)
    out = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def create_merge_patch(original: dict[str, Any], modified: dict[str, Any]) -> dict[str, Any]:
    """The smallest merge patch that turns `original` into `modified`.

    A value of `modified` that is a map holding `null` cannot be expressed (merge patch reads `null` as
    delete); Kubernetes objects never need one.
    """
    patch: dict[str, Any] = {key: None for key in original if key not in modified}
    for key, value in modified.items():
        if key not in original:
            patch[key] = clone(value)
        elif isinstance(value, dict) and isinstance(original[key], dict):
            sub = create_merge_patch(original[key], value)
            if sub:
                patch[key] = sub
        elif not json_equal(original[key], value):
            patch[key] = clone(value)
    return patch


def three_way_merge_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                          current: dict[str, Any]) -> dict[str, Any]:
    """The merge patch `kubectl apply` sends for a custom resource.

    `original` is the last-applied configuration (the annotation), `modified` the new file and `current`
    the live object. Fields that were in the last applied configuration but are gone from the file are
    deleted; fields of the file that differ from the live object are set; fields only the server or
    another client set are left alone.
    """
    changes = _without_nulls(create_merge_patch(current, modified))
    deletions = _only_nulls(create_merge_patch(original or {}, modified))
    return _deep_union(deletions, changes)


def _without_nulls(patch: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if isinstance(value, dict):
            sub = _without_nulls(value)
            if sub or not value:
                out[key] = sub
        elif value is not None:
            out[key] = value
    return out


def _only_nulls(patch: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if value is None:
            out[key] = None
        elif isinstance(value, dict):
            sub = _only_nulls(value)
            if sub:
                out[key] = sub
    return out


def _deep_union(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_union(out[key], value)
        else:
            out[key] = value
    return out


# -- JSON patch (RFC 6902) -------------------------------------------------------------------------------

_INDEX = re.compile(r"0|[1-9][0-9]*")
_MISSING: Any = object()


def json_patch(target: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """Apply an RFC 6902 JSON patch. The whole patch applies, or none of it does."""
    if not isinstance(operations, list):
        raise _bad_request(f"json: cannot unmarshal {json_type(operations)} into Go value of type jsonpatch.Patch")
    for op in operations:
        if not isinstance(op, dict):
            raise _bad_request(f"json: cannot unmarshal {json_type(op)} into Go value of type jsonpatch.Operation")
    doc: Any = clone(target)
    for op in operations:
        doc = _apply_operation(doc, op)
    if not isinstance(doc, dict):
        raise _not_applicable(f"the patched document is a JSON {json_type(doc)}, not an object")
    return doc


def _pointer(op: dict[str, Any], member: str) -> list[str]:
    text = op.get(member, _MISSING)
    if text is _MISSING:
        raise _not_applicable(f"{op.get('op')} operation has no {member!r}")
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise _not_applicable(f"{member} {text!r} is not a JSON pointer (it must be empty or start with /)")
    if not text:
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in text[1:].split("/")]


def _show(tokens: list[str]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens)


def _index(container: list[Any], token: str, tokens: list[str], *, insert: bool = False) -> int:
    if insert and token == "-":
        return len(container)
    if not _INDEX.fullmatch(token):
        raise _not_applicable(f"{_show(tokens)}: {token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not insert):
        raise _not_applicable(f"{_show(tokens)}: index {index} is out of range (the array has {len(container)} items)")
    return index


def _get(doc: Any, tokens: list[str]) -> Any:
    """The value at `tokens`, or `_MISSING`."""
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                return _MISSING
            node = node[token]
        elif isinstance(node, list):
            if not _INDEX.fullmatch(token) or int(token) >= len(node):
                return _MISSING
            node = node[int(token)]
        else:
            return _MISSING
    return node


def _parent(doc: Any, tokens: list[str], verb: str) -> Any:
    parent = _get(doc, tokens[:-1])
    if not isinstance(parent, (dict, list)):
        raise _not_applicable(f"{verb} operation does not apply: doc is missing path: {_show(tokens)}")
    return parent


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens, "add")
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent.insert(_index(parent, tokens[-1], tokens, insert=True), value)
    return doc


def _remove(doc: Any, tokens: list[str], verb: str) -> Any:
    """Remove the value at `tokens`; returns it."""
    if not tokens:
        raise _not_applicable(f"{verb} operation does not apply: the whole document cannot be removed")
    parent = _parent(doc, tokens, verb)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise _not_applicable(f"{verb} operation does not apply: doc is missing key: {_show(tokens)}")
        return parent.pop(tokens[-1])
    return parent.pop(_index(parent, tokens[-1], tokens))


def _apply_operation(doc: Any, op: dict[str, Any]) -> Any:
    verb = op.get("op")
    if verb not in ("add", "remove", "replace", "move", "copy", "test"):
        raise _not_applicable(f"unknown JSON patch operation {verb!r} (one of add, remove, replace, move, copy, test)")
    path = _pointer(op, "path")
    if verb in ("add", "replace", "test"):
        if "value" not in op:
            raise _not_applicable(f"{verb} operation on {_show(path)} has no 'value'")
        value = clone(op["value"])
    if verb == "add":
        return _add(doc, path, value)
    if verb == "remove":
        _remove(doc, path, verb)
        return doc
    if verb == "replace":
        if not path:
            return value
        _remove(doc, path, verb)
        return _add(doc, path, value)
    if verb == "test":
        actual = _get(doc, path)
        if actual is _MISSING or not json_equal(actual, value):
            raise _not_applicable(f"testing value {_show(path)} failed")
        return doc
    source = _pointer(op, "from")
    if _get(doc, source) is _MISSING:
        raise _not_applicable(f"{verb} operation does not apply: doc is missing from path: {_show(source)}")
    if verb == "copy":
        return _add(doc, path, clone(_get(doc, source)))
    if path[:len(source)] == source and len(path) > len(source):
        raise _not_applicable(f"move operation does not apply: {_show(source)} cannot move into its own child")
    if path == source:
        return doc
    return _add(doc, path, _remove(doc, source, verb))


# -- strategic merge patch ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldRule:
    """How strategic merge patch (and server-side apply) treats one field.

    `merge_key`: the field is a list of maps merged item by item on this key (a Go `patchMergeKey`).
    `merge_set`: the field is a list of scalars merged as a set (Go `patchStrategy:"merge"` without key).
    Neither: a map is merged and a list replaced. `fields` holds the rules of the field's own fields, or,
    for a keyed list, of each item's fields.
    """

    merge_key: str | None = None
    merge_set: bool = False
    fields: Mapping[str, FieldRule] = field(default_factory=dict)

    def child(self, name: str) -> FieldRule | None:
        return self.fields.get(name)


def _keyed(key: str, **fields: FieldRule) -> FieldRule:
    return FieldRule(merge_key=key, fields=fields)


def _map(**fields: FieldRule) -> FieldRule:
    return FieldRule(fields=fields)


_SET = FieldRule(merge_set=True)
_CONDITIONS = _keyed("type")
_CONTAINER = {
    "ports": _keyed("containerPort"),
    "env": _keyed("name"),
    "volumeMounts": _keyed("mountPath"),
    "volumeDevices": _keyed("devicePath"),
}

OBJECT_META = _map(finalizers=_SET, ownerReferences=_keyed("uid"))

# From the patchStrategy/patchMergeKey tags of k8s.io/api core/v1 and coordination/v1. Lists not named
# here (tolerations, node taints, readinessGates, containerStatuses, a ServiceAccount's imagePullSecrets,
# a Namespace's spec.finalizers, ...) carry no strategy there either, so a patch replaces them.
PATCH_RULES: dict[str, FieldRule] = {
    "Pod": _map(
        metadata=OBJECT_META,
        spec=_map(
            containers=_keyed("name", **_CONTAINER),
            initContainers=_keyed("name", **_CONTAINER),
            ephemeralContainers=_keyed("name", **_CONTAINER),
            volumes=_keyed("name"),
            imagePullSecrets=_keyed("name"),
            hostAliases=_keyed("ip"),
            topologySpreadConstraints=_keyed("topologyKey"),
            schedulingGates=_keyed("name"),
            resourceClaims=_keyed("name"),
        ),
        status=_map(conditions=_CONDITIONS, podIPs=_keyed("ip"), hostIPs=_keyed("ip"),
                    resourceClaimStatuses=_keyed("name")),
    ),
    "Service": _map(metadata=OBJECT_META, spec=_map(ports=_keyed("port")), status=_map(conditions=_CONDITIONS)),
    "Node": _map(metadata=OBJECT_META, spec=_map(podCIDRs=_SET),
                 status=_map(conditions=_CONDITIONS, addresses=_keyed("type"))),
    "Namespace": _map(metadata=OBJECT_META, status=_map(conditions=_CONDITIONS)),
    "PersistentVolumeClaim": _map(metadata=OBJECT_META, status=_map(conditions=_CONDITIONS)),
    "ServiceAccount": _map(metadata=OBJECT_META, secrets=_keyed("name")),
    "ConfigMap": _map(metadata=OBJECT_META),
    "Secret": _map(metadata=OBJECT_META),
    "Event": _map(metadata=OBJECT_META),
    "Lease": _map(metadata=OBJECT_META),
}

_UNKNOWN = FieldRule()


def rules_for(kind: str) -> FieldRule | None:
    """The strategic-merge rules of a core kind, or None for a kind Berth has no rules for."""
    return PATCH_RULES.get(kind)


def strategic_merge_patch(target: dict[str, Any], patch: dict[str, Any], kind: str) -> dict[str, Any]:
    """Apply a Kubernetes strategic merge patch to an object of `kind` (see the module docstring)."""
    if not isinstance(target, dict):
        target = {}
    _require_object(patch, "a strategic merge patch")
    return _smp_map(clone(target), clone(patch), rules_for(kind) or _UNKNOWN)


_DELETE_FROM = "$deleteFromPrimitiveList/"
_SET_ORDER = "$setElementOrder/"


def _smp_map(original: dict[str, Any], patch: dict[str, Any], rule: FieldRule) -> dict[str, Any]:
    """Merge `patch` into `original` (both already copies; `original` is changed in place)."""
    directive = patch.pop("$patch", None)
    if directive == "replace":
        return _fresh(patch, rule)
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise _bad_request(f"unknown patch type: {directive} in map: {patch}")
    if "$retainKeys" in patch:
        retain = patch.pop("$retainKeys")
        if not isinstance(retain, list):
            raise _bad_request("invalid patch format of retainKeys")
        for key, value in patch.items():
            if value is not None and not key.startswith("$") and key not in retain:
                raise _bad_request(f"invalid patch format of retainKeys: {key!r} is not in the $retainKeys list")
        for key in [k for k in original if k not in retain]:
            del original[key]
    orders: dict[str, list[Any]] = {}
    for key in [k for k in patch if k.startswith("$")]:
        value = patch.pop(key)
        name = key.split("/", 1)[1] if "/" in key else ""
        if key.startswith(_DELETE_FROM) and name:
            if not isinstance(value, list):
                raise _bad_request("invalid patch format of primitive list")
            if isinstance(original.get(name), list):
                original[name] = [v for v in original[name] if not any(json_equal(v, d) for d in value)]
        elif key.startswith(_SET_ORDER) and name:
            if not isinstance(value, list):
                raise _bad_request("invalid patch format of setElementOrder list")
            orders[name] = value
        else:
            raise _bad_request(f"unknown strategic merge patch directive {key!r}")
    for key, value in patch.items():
        sub = rule.child(key)
        if value is None:
            original.pop(key, None)
        elif key not in original:
            original[key] = _fresh(value, sub)
        elif isinstance(value, dict) and isinstance(original[key], dict):
            original[key] = _smp_map(original[key], value, sub or _UNKNOWN)
        elif isinstance(value, list) and isinstance(original[key], list):
            original[key] = _smp_list(original[key], value, sub)
        else:
            original[key] = _fresh(value, sub)
    for name, order in orders.items():
        if isinstance(original.get(name), list):
            original[name] = _reorder(original[name], order, rule.child(name))
    return original


def _fresh(value: Any, rule: FieldRule | None) -> Any:
    """A patch value for a field the object does not have yet: nulls and directives dropped."""
    if isinstance(value, dict):
        return _smp_map({}, value, rule or _UNKNOWN)
    if isinstance(value, list):
        item_rule = _UNKNOWN if rule is None else FieldRule(fields=rule.fields)
        return [_fresh(i, item_rule) for i in value if not _is_directive(i)]
    return value


def _is_directive(item: Any) -> bool:
    return isinstance(item, dict) and "$patch" in item


def _smp_list(original: list[Any], patch: list[Any], rule: FieldRule | None) -> list[Any]:
    if any(_is_directive(i) and i["$patch"] == "replace" for i in patch):
        original = []
    if rule is not None and rule.merge_key is not None:
        return _merge_keyed(original, patch, rule)
    if rule is not None and rule.merge_set:
        merged = list(original)
        for item in patch:
            if not _is_directive(item) and not any(json_equal(item, m) for m in merged):
                merged.append(item)
        return merged
    return _fresh(patch, rule)  # a list without a strategy is replaced


def _merge_keyed(original: list[Any], patch: list[Any], rule: FieldRule) -> list[Any]:
    key = rule.merge_key
    assert key is not None
    item_rule = FieldRule(fields=rule.fields)
    merged = list(original)
    for item in patch:
        if not isinstance(item, dict):
            raise _bad_request(f"strategic merge patch: the items of a list merged on {key!r} must be objects, "
                               f"got {json_type(item)}")
        directive = item.get("$patch")
        if directive == "replace":
            continue
        if key not in item:
            raise _bad_request(f"map: {item} does not contain declared merge key: {key}")
        at = next((i for i, m in enumerate(merged) if isinstance(m, dict) and json_equal(m.get(key), item[key])), None)
        if directive == "delete":
            merged = [m for m in merged if not (isinstance(m, dict) and json_equal(m.get(key), item[key]))]
        elif directive not in (None, "merge"):
            raise _bad_request(f"unknown patch type: {directive} in map: {item}")
        elif at is None:
            merged.append(_fresh(item, item_rule))
        else:
            merged[at] = _smp_map(merged[at], item, item_rule)
    return merged


def _reorder(items: list[Any], order: list[Any], rule: FieldRule | None) -> list[Any]:
    """`$setElementOrder`: items named in `order` take the places of named items, in that order."""
    key = rule.merge_key if rule is not None else None

    def ident(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    named = [i for i in items if any(json_equal(ident(i), w) for w in wanted)]
    named.sort(key=lambda i: next(n for n, w in enumerate(wanted) if json_equal(ident(i), w)))
    slots = iter(named)
    return [next(slots) if any(json_equal(ident(i), w) for w in wanted) else i for i in items]


def __getattr__(name: str) -> Any:
    # Server-side apply lives in its own module; it imports this one, so the names are resolved lazily.
    if name in ("ApplyConflict", "record_update", "server_side_apply"):
        from berth.apiserver import apply

        return getattr(apply, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
