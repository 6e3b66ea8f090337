"""Server-side apply and field ownership: who set which field, kept in `metadata.managedFields`.

Every write that names a field manager records what that manager changed: `record_update` for create,
update and patch (operation "Update"), `server_side_apply` for `application/apply-patch+yaml` (operation
"Apply"). Call exactly one of them per write: `record_update` after `server_side_apply` would hand the
applied fields to an "Update" entry and take them from the applier.

Ownership is a set of field paths per manager, stored as Kubernetes' FieldsV1 tree: `f:<name>` is a map
field, `k:{"name":"x"}` a list item found by its merge key, `v:"x"` an item of a list of scalars merged
as a set, `{}` a path owned outright, and `.` marks a node that is owned and also has owned children.

Rules, as in Kubernetes (sigs.k8s.io/structured-merge-diff):
* an applier owns exactly the fields of its last applied configuration (its leaves, and the list items
  it names; an empty map owns nothing); a field it applied before but no longer applies is removed from
  the object, unless another manager owns it too;
* applying a different value to a field another manager owns is a conflict (409); with force the field
  moves to the applier; applying the same value shares the field;
* an update takes the fields whose value it changed or added (a map it created is owned itself, with
  `.`), and every other manager loses them; a field that disappears is owned by nobody;
* an object that has no managedFields yet gets them all owned by "before-first-apply" on its first apply.

Lists: lists of maps with a merge key in `patch.PATCH_RULES` (Pod containers by name, conditions by type,
ownerReferences by uid, ...) are owned item by item, `metadata.finalizers` and Node `spec.podCIDRs` value
by value; every other list (all lists of the run.ai kinds) is atomic, owned as a whole. Items are keyed
by the strategic merge key alone (Kubernetes also keys container and Service ports by protocol).

Never owned: apiVersion, kind, metadata.name, namespace, uid, resourceVersion, generation,
creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds, selfLink and managedFields.
Not done: the cap of ten "Update" entries, and conversion between API versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from berth.apiserver.objects import clone
from berth.apiserver.patch import OBJECT_META, FieldRule, PatchError, json_equal, rules_for

__all__ = ["ApplyConflict", "record_update", "server_side_apply"]

Path = tuple[str, ...]

_STRIPPED: frozenset[Path] = frozenset(
    [(), ("f:apiVersion",), ("f:kind",), ("f:metadata",)]
    + [("f:metadata", "f:" + name) for name in (
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "selfLink", "clusterName", "managedFields")]
)

BEFORE_FIRST_APPLY = "before-first-apply"


@dataclass
class _Manager:
    manager: str
    operation: str
    api_version: str
    subresource: str = ""
    time: str | None = None
    fields: set[Path] = field(default_factory=set)

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def label(self) -> str:
        """How the real API server names a manager in a conflict."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


class ApplyConflict(PatchError):
    """A server-side apply that would change fields other managers own (409 Conflict).

    `conflicts` lists (manager, field path) pairs, the path written like `.spec.gpu.value` or
    `.spec.containers[name="main"].image`.
    """

    def __init__(self, found: list[tuple[_Manager, Path]]) -> None:
        found = sorted(found, key=lambda mp: (mp[0].ident, display_path(mp[1])))
        self.conflicts = [(m.manager, display_path(p)) for m, p in found]
        causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {m.label()}",
                   "field": display_path(p)} for m, p in found]
        if len(found) == 1:
            manager, path = found[0]
            message = f"Apply failed with 1 conflict: conflict with {manager.label()}: {display_path(path)}"
        else:
            lines: list[str] = []
            for manager in sorted({m.ident: m for m, _ in found}.values(), key=lambda m: m.ident):
                lines.append(f"conflicts with {manager.label()}:")
                lines += [f"- {display_path(p)}" for m, p in found if m.ident == manager.ident]
            message = f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)
        super().__init__(409, message, details={"causes": causes})


def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str, *,
                      force: bool = False, now: str, subresource: str = "") -> dict[str, Any]:
    """Apply the configuration `applied` as `manager` to `live` (None: create); returns the new object."""
    if not isinstance(applied, dict):
        raise PatchError(400, "the applied configuration must be a JSON or YAML object")
    if (applied.get("metadata") or {}).get("managedFields") is not None:
        raise PatchError(400, "metadata.managedFields must be nil")
    current, entries = _split_managed_fields(live or {})
    api_version = str(applied.get("apiVersion") or current.get("apiVersion") or "")
    rule = _root_rule(str(applied.get("kind") or current.get("kind") or ""))

    managers = _decode(entries) or []
    if live is not None and not managers:
        everything = _diff({}, current, rule).added - _STRIPPED
        if everything:
            managers = [_Manager(BEFORE_FIRST_APPLY, "Update", str(current.get("apiVersion") or ""),
                                 time=now, fields=everything)]
    me = next((m for m in managers if m.ident == (manager, "Apply", subresource)), None)
    others = [m for m in managers if m is not me]

    config = clone(applied)
    wanted = _applied_fields(config, rule, (), set()) - _STRIPPED
    merged = _merge(clone(current), config, rule)
    if me is not None and me.fields:
        keep = wanted.union(*(m.fields for m in others))
        merged = _prune(merged, rule, (), _prefixes(me.fields), _prefixes(keep))

    diff = _diff(current, merged, rule)
    changed = diff.added | diff.modified | (diff.removed & wanted)
    found = [(m, p) for m in others for p in m.fields & changed]
    if found and not force:
        raise ApplyConflict(found)
    for m in others:
        m.fields -= changed | diff.removed
    if me is None:
        me = _Manager(manager, "Apply", api_version, subresource)
        managers.append(me)
    if me.time is None or me.fields != wanted or me.api_version != api_version or not json_equal(current, merged):
        me.time = now
    me.fields, me.api_version = wanted, api_version
    return _with_managed_fields(merged, managers)


def record_update(before: dict[str, Any] | None, after: dict[str, Any], manager: str, *, now: str,
                  subresource: str = "") -> dict[str, Any]:
    """`after` with managedFields updated for a create (before None), update or patch by `manager`.

    The managedFields of `after` are used when it has some (a client may rewrite them; `[{}]` clears
    them), else those of `before`, so a client that does not know the field cannot drop it.
    """
    new, entries = _split_managed_fields(after)
    if before is None and entries is None:
        return _created(new, manager, now=now, subresource=subresource)
    old, old_entries = _split_managed_fields(before or {})
    new = clone(new)
    managers = _decode(entries)
    if managers is None:
        managers = _decode(old_entries) or []
    rule = _root_rule(str(new.get("kind") or old.get("kind") or ""))
    diff = _diff(old, new, rule)
    touched = (diff.added | diff.modified | diff.removed) - _STRIPPED
    identity = (manager, "Update", subresource)
    for m in managers:
        if m.ident != identity:
            m.fields -= touched
    me = next((m for m in managers if m.ident == identity), None)
    if me is None:
        me = _Manager(manager, "Update", "", subresource)
        managers.append(me)
    fields = ((me.fields | diff.added | diff.modified) - diff.removed) - _STRIPPED
    api_version = str(new.get("apiVersion") or "")
    if me.time is None or fields != me.fields or api_version != me.api_version:
        me.time = now
    me.fields, me.api_version = fields, api_version
    return _with_managed_fields(new, managers)


def _created(obj: dict[str, Any], manager: str, *, now: str, subresource: str) -> dict[str, Any]:
    """A new object with `manager` owning all of it: what the general path gives for a create, built in one
    walk of the object (creates are the common write, and the diff against nothing is most of their cost)."""
    tree = _owned_tree(obj, _root_rule(str(obj.get("kind") or "")), ())
    meta = dict(obj.get("metadata") or {})
    out = {**obj, "metadata": meta}
    if tree:
        entry: dict[str, Any] = {"manager": manager, "operation": "Update", "apiVersion": str(obj.get("apiVersion") or ""),
                                 "time": now, "fieldsType": "FieldsV1", "fieldsV1": tree}
        if subresource:
            entry["subresource"] = subresource
        meta["managedFields"] = [entry]
    return out


def _owned_tree(value: Any, rule: FieldRule | None, path: Path) -> dict[str, Any] | None:
    """The fieldsV1 node of `value` at `path` when all of it is owned (`_fields_v1` of every path `_every`
    gives, less `_STRIPPED`); None when nothing of it is."""
    node: dict[str, Any] = {}
    if isinstance(value, dict):  # the common case, without `_children`'s intermediate map
        owned = path not in _STRIPPED
        for key in sorted(value):
            element = "f:" + key
            below = _owned_tree(value[key], rule.child(key) if rule else None, (*path, element))
            if below is not None:
                node[element] = below
    else:
        parts = _children(value, rule)
        owned = parts is None and path not in _STRIPPED  # a granular list is not owned itself, its items are
        for element in sorted(parts or ()):
            child, sub = parts[element]  # type: ignore[index]
            below = _owned_tree(child, sub, (*path, element))
            if below is not None:
                node[element] = below
    if node:
        return {".": {}, **node} if owned else node
    return {} if owned else None


# -- the object as a tree of owned paths ----------------------------------------------------------------

def _root_rule(kind: str) -> FieldRule:
    # ObjectMeta is the same for every kind, custom resources included.
    return rules_for(kind) or FieldRule(fields={"metadata": OBJECT_META})


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _children(value: Any, rule: FieldRule | None) -> dict[str, tuple[Any, FieldRule | None]] | None:
    """The owned parts of a map or granular list, by path element; None for a leaf or an atomic list."""
    if isinstance(value, dict):
        return {"f:" + k: (v, rule.child(k) if rule else None) for k, v in value.items()}
    if not isinstance(value, list) or rule is None or not (rule.merge_key or rule.merge_set):
        return None
    out: dict[str, tuple[Any, FieldRule | None]] = {}
    item_rule = FieldRule(fields=rule.fields)
    for item in value:
        if rule.merge_key:
            if not isinstance(item, dict) or rule.merge_key not in item:
                return None  # not keyable: the list is owned as a whole
            element, sub = "k:" + _compact({rule.merge_key: item[rule.merge_key]}), item_rule
        else:
            if isinstance(item, (dict, list)):
                return None
            element, sub = "v:" + _compact(item), None
        if element in out:
            return None
        out[element] = (item, sub)
    return out


def _applied_fields(value: Any, rule: FieldRule | None, prefix: Path, out: set[Path]) -> set[Path]:
    """The paths an applied configuration sets: leaves, atomic lists and list items, not maps."""
    parts = _children(value, rule)
    if parts is None:
        out.add(prefix)
        return out
    for element, (child, sub) in parts.items():
        if isinstance(value, list):
            out.add(prefix + (element,))
        _applied_fields(child, sub, prefix + (element,), out)
    return out


def _every(value: Any, rule: FieldRule | None, path: Path, out: set[Path]) -> None:
    """All paths of a value that appeared or disappeared: itself (unless a granular list) and below."""
    parts = _children(value, rule)
    if parts is None or not isinstance(value, list):
        out.add(path)
    for element, (child, sub) in (parts or {}).items():
        _every(child, sub, path + (element,), out)


@dataclass
class _Diff:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)


def _diff(old: dict[str, Any], new: dict[str, Any], rule: FieldRule) -> _Diff:
    diff = _Diff()
    _compare(old, new, rule, (), diff)
    return diff


def _compare(old: Any, new: Any, rule: FieldRule | None, prefix: Path, diff: _Diff) -> None:
    before, after = _children(old, rule), _children(new, rule)
    if before is None or after is None or type(old) is not type(new):
        if not json_equal(old, new):
            diff.modified.add(prefix)
            for element, (child, sub) in (before or {}).items():
                _every(child, sub, prefix + (element,), diff.removed)
            for element, (child, sub) in (after or {}).items():
                _every(child, sub, prefix + (element,), diff.added)
        return
    for element, (child, sub) in before.items():
        if element in after:
            _compare(child, after[element][0], sub, prefix + (element,), diff)
        else:
            _every(child, sub, prefix + (element,), diff.removed)
    for element, (child, sub) in after.items():
        if element not in before:
            _every(child, sub, prefix + (element,), diff.added)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _merge(live: Any, config: Any, rule: FieldRule | None) -> Any:
    """The applied configuration laid over the live object (a copy, changed in place).

    Maps merge, keyed and set lists merge item by item, anything else is replaced; `null` removes.
    """
    if isinstance(live, dict) and isinstance(config, dict):
        for key, value in config.items():
            if value is None:
                live.pop(key, None)
            elif key in live:
                live[key] = _merge(live[key], value, rule.child(key) if rule else None)
            else:
                live[key] = _drop_nulls(value)
        return live
    if isinstance(live, list) and isinstance(config, list):
        have, want = _children(live, rule), _children(config, rule)
        if have is not None and want is not None:
            merged = [_merge(item, want[e][0], sub) if e in want else item for e, (item, sub) in have.items()]
            return merged + [_drop_nulls(item) for e, (item, _) in want.items() if e not in have]
    return _drop_nulls(config)


def _prefixes(paths: set[Path]) -> set[Path]:
    return {p[:i] for p in paths for i in range(1, len(p) + 1)}


def _prune(value: Any, rule: FieldRule | None, prefix: Path, last: set[Path], keep: set[Path]) -> Any:
    """Remove what the applier applied last time (`last`, with prefixes) that nobody owns now (`keep`)."""
    parts = _children(value, rule)
    if parts is None:
        return value
    kept: list[tuple[str, Any]] = []
    for element, (child, sub) in parts.items():
        path = prefix + (element,)
        if path not in last:
            kept.append((element, child))
            continue
        if _children(child, sub) is None:
            if path in keep:
                kept.append((element, child))
            continue
        pruned = _prune(child, sub, path, last, keep)
        if path in keep or _children(pruned, sub):
            if isinstance(value, list) and rule is not None and rule.merge_key:
                pruned = {rule.merge_key: child[rule.merge_key], **pruned}
            kept.append((element, pruned))
    if isinstance(value, dict):
        return {element[2:]: child for element, child in kept}
    return [child for _, child in kept]


# -- managedFields on the wire ---------------------------------------------------------------------------

def display_path(path: Path) -> str:
    """A path as the API server prints it: `.spec.containers[name="main"].image`."""
    out = []
    for element in path:
        kind, text = element[:2], element[2:]
        if kind == "f:":
            out.append("." + text)
        elif kind == "v:":
            out.append(f"[={text}]")
        elif kind == "i:":
            out.append(f"[{text}]")
        else:
            try:
                keys = json.loads(text)
                out.append("[" + ",".join(f"{k}={_compact(v)}" for k, v in keys.items()) + "]")
            except (ValueError, AttributeError):
                out.append(element)
    return "".join(out)


def _split_managed_fields(obj: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """A shallow copy of `obj` without managedFields, and the managedFields."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return dict(obj), None
    rest = {k: v for k, v in meta.items() if k != "managedFields"}
    return {**obj, "metadata": rest}, meta["managedFields"]


def _parse_fields(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in tree.items():
        if key == ".":
            if prefix:
                out.add(prefix)
        elif isinstance(sub, dict) and sub:
            out |= _parse_fields(sub, prefix + (key,))
        else:
            out.add(prefix + (key,))
    return out


def _decode(entries: Any) -> list[_Manager] | None:
    """The managers of a managedFields list; None when there is no usable list."""
    if not isinstance(entries, list) or not entries:
        return None
    managers: list[_Manager] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("fieldsV1") or {}, dict):
            return None
        managers.append(_Manager(
            manager=str(entry.get("manager") or ""), operation=str(entry.get("operation") or ""),
            api_version=str(entry.get("apiVersion") or ""), subresource=str(entry.get("subresource") or ""),
            time=entry.get("time"), fields=_parse_fields(entry.get("fieldsV1") or {})))
    return managers


def _fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for element in path:
            node = node.setdefault(element, {})
    for path in paths:
        node = root
        for element in path:
            node = node[element]
        if node:
            node["."] = {}
    return _sorted_tree(root)


def _sorted_tree(node: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted_tree(node[k]) for k in sorted(node, key=lambda k: (k != ".", k))}


def _with_managed_fields(obj: dict[str, Any], managers: list[_Manager]) -> dict[str, Any]:
    live = [m for m in managers if m.fields]
    live.sort(key=lambda m: (m.operation, m.time or "", m.manager, m.api_version, m.subresource))
    entries = []
    for m in live:
        entry: dict[str, Any] = {"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version}
        if m.time:
            entry["time"] = m.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = _fields_v1(m.fields)
        if m.subresource:
            entry["subresource"] = m.subresource
        entries.append(entry)
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    return obj
