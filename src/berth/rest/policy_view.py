"""Run:ai's REST policies (`{defaults, rules}` in REST field names) <-> the spec of Berth's Policy objects
(`{<field>: {rules, value}}` in the Cluster API's names), on plain dicts.

One policy, two spellings. A REST policy writes defaults as a workload spec (`compute.gpuDevicesRequest:
1`) with itemized fields as `{instances: [...], attributes: {...}}`, and rules as a tree of the same paths
(`compute.gpuDevicesRequest: {min, max, required, canEdit, options}`; itemized: `{instances: {canAdd,
locked}, attributes: {<member>: rules}}`). A Berth policy keeps both on the field itself: `gpu: {value:
"1", rules: {max: "4"}}`, items by label with `DEFAULTS` supplying member defaults (`berth.api.policies`).
The field names and value conversions are the workload mapping's (`berth.rest.fields`, passed in as
`Fields`), so a field is named alike in a workload and in a policy; this module adds only the policy
shapes around it:

- defaults: the REST spec goes through `to_object_spec` whole (itemized `instances` as the workload's
  list; `attributes` as a one-item list whose item becomes `DEFAULTS`); back through `from_object_spec`;
- rules: each leaf is re-keyed by `object_path` (`rest_path` back); `min`, `max` and `options` values are
  converted by the same mapping as a value of the field (REST `2` -> `"2"`); `options` lose `displayed`;
  `step` has no counterpart in Berth and is refused; `locked` items are items with `canRemove: false`;
- a DistributedPolicy's `worker` is the spec, its `master` the spec's `masterSpec`.

Pure: no I/O; bad input raises `RestError` naming the REST field (`policy.rules.compute....`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any, Protocol

from berth.api.types import amount
from berth.policy.compose import DEFAULTS_ITEM, policy_defaults
from berth.policy.shapes import GROUP, ITEMS, PLAIN, SCALAR, Shape, spec_shapes
from berth.rest.errors import ComplianceIssue, RestError, bad_request

Obj = dict[str, Any]

#: Keys of a leaf of REST rules (one field's rules).
RULE_KEYS = frozenset({"required", "canEdit", "min", "max", "step", "options", "sourceOfRule"})
#: Keys of an itemized field in REST defaults and rules.
ITEM_KEYS = frozenset({"instances", "attributes"})
#: Rules Berth and Run:ai share, by the same name, on a scalar field.
SHARED_RULES = ("required", "canEdit")
#: Where a DistributedPolicy keeps the master's fields (REST: `master`).
DISTRIBUTED_MASTER = "masterSpec"
#: The kind the field mapping knows a masterSpec's fields by (`berth.rest.fields.MASTER`).
MASTER_KIND = "DistributedMaster"


class Fields(Protocol):
    """The workload field mapping (`berth.rest.fields`): REST spec <-> object spec, paths relative to spec."""

    def to_object_spec(self, kind: str, rest_spec: Obj) -> Obj: ...

    def from_object_spec(self, kind: str, spec: Obj) -> Obj: ...

    def object_path(self, kind: str, rest_path: str) -> str | None: ...

    def rest_path(self, kind: str, object_path: str) -> str | None: ...


@dataclass(frozen=True)
class PolicyType:
    """One of the four policy families: its path segment, Run:ai's type names, Berth's kinds."""

    segment: str  # /api/v2/policy/<segment>
    type: str  # PolicyType in answers: workspace, training, ...
    workload_type: str  # the list's workloadType filter: Workspace, Training, ...
    workload_kind: str
    policy_kind: str

    @property
    def distributed(self) -> bool:
        return self.workload_kind == "DistributedWorkload"


TYPES: tuple[PolicyType, ...] = (
    PolicyType("workspaces", "workspace", "Workspace", "InteractiveWorkload", "InteractivePolicy"),
    PolicyType("trainings", "training", "Training", "TrainingWorkload", "TrainingPolicy"),
    PolicyType("distributed", "distributed", "Distributed", "DistributedWorkload", "DistributedPolicy"),
    PolicyType("inferences", "inference", "Inference", "InferenceWorkload", "InferencePolicy"),
)
BY_SEGMENT = {t.segment: t for t in TYPES}
BY_POLICY_KIND = {t.policy_kind: t for t in TYPES}


# -- dotted paths ---------------------------------------------------------------------------------------

def get_path(tree: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
    return tree


def nest(path: str, value: Any) -> Obj:
    """`{"a": {"b": value}}` for "a.b"."""
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def _entry(tree: Obj, path: str) -> Obj:
    """The dict at `path` in `tree`, made where missing."""
    for part in path.split("."):
        tree = tree.setdefault(part, {})
    return tree


def _drop(tree: Obj, path: str) -> bool:
    """Remove what is at `path` (and groups left empty); whether anything was there."""
    head, _, rest = path.partition(".")
    if head not in tree:
        return False
    if not rest:
        del tree[head]
        return True
    inner = tree[head]
    if not isinstance(inner, dict) or not _drop(inner, rest):
        return False
    if not inner:
        del tree[head]
    return True


def merge(base: Obj, change: Obj) -> Obj:
    """`change` laid over `base` key by key, recursively (lists and values replaced): a PATCH."""
    out = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# -- the parts of a policy: a DistributedPolicy's worker and master ----------------------------------------

@dataclass(frozen=True)
class _Part:
    rest: str  # prefix of REST paths ("" or "worker." / "master.")
    obj: str  # prefix of object paths ("" or "masterSpec.")
    shapes: dict[str, Shape]
    kind: str  # the kind the field mapping knows these fields by (a masterSpec's is its own)


def _parts(ptype: PolicyType) -> tuple[_Part, ...]:
    shapes = spec_shapes(ptype.workload_kind)
    if not ptype.distributed:
        return (_Part("", "", shapes, ptype.workload_kind),)
    return (_Part("worker.", "", shapes, ptype.workload_kind),
            _Part("master.", f"{DISTRIBUTED_MASTER}.", shapes[DISTRIBUTED_MASTER].fields, MASTER_KIND))


def _rest_subtree(tree: Obj | None, part: _Part, field: str) -> Obj:
    if not tree:
        return {}
    if not part.rest:
        return tree
    sub = tree.get(part.rest.rstrip("."))
    if sub is not None and not isinstance(sub, dict):
        raise bad_request(f"{field}.{part.rest.rstrip('.')}", "expected an object of fields")
    return sub or {}


def _check_parts(ptype: PolicyType, tree: Obj | None, field: str) -> None:
    if ptype.distributed and tree:
        extra = sorted(set(tree) - {"worker", "master"})
        if extra:
            raise bad_request(f"{field}.{extra[0]}", "a distributed policy's fields are under worker or master",
                              f"write it as {field}.worker.{extra[0]} (or master.{extra[0]})")


def _reprefixed(err: RestError, prefix: str) -> RestError:
    """An error of the workload mapping (fields named `spec.x` or `x`) with its fields under `prefix`."""
    def moved(name: str) -> str:
        return prefix + name.removeprefix("spec.")
    issues = [ComplianceIssue(field=moved(i.field), details=i.details) for i in err.issues]
    message = err.message
    for old in err.issues:
        message = message.replace(old.field, moved(old.field), 1)
    return RestError(err.code, message, details=err.details, issues=issues)


def _to_object(fields: Fields, kind: str, rest_spec: Obj, prefix: str) -> Obj:
    try:
        return fields.to_object_spec(kind, rest_spec)
    except RestError as err:
        raise _reprefixed(err, prefix) from None
    except (ValueError, TypeError, ArithmeticError, AttributeError, KeyError) as err:
        raise bad_request(prefix.rstrip("."), f"cannot be read as {kind}'s fields: {err}",
                          "give the fields as a workload's spec in Run:ai's REST names") from None


# -- REST -> object -------------------------------------------------------------------------------------

def _split_items(tree: Obj, path: str, out: Obj, attributes: dict[str, Any]) -> None:
    """REST defaults as a REST workload spec: `{instances, attributes}` -> the instances' list; the
    attributes kept aside by path."""
    for key, value in tree.items():
        here = f"{path}{key}"
        if isinstance(value, dict) and value and set(value) <= ITEM_KEYS:
            if value.get("instances") is not None:
                out[key] = value["instances"]
            if value.get("attributes") is not None:
                attributes[here] = value["attributes"]
        elif isinstance(value, dict):
            inner: Obj = {}
            _split_items(value, f"{here}.", inner, attributes)
            if inner:
                out[key] = inner
        elif value is not None:
            out[key] = value


def _as_policy(spec: Obj, shapes: dict[str, Shape]) -> Obj:
    """An object spec's values as policy defaults: `{value}` per field, items as they are."""
    out: Obj = {}
    for name, value in spec.items():
        shape = shapes.get(name)
        if shape is None or shape.kind == PLAIN:
            out[name] = {"value": value}
        elif shape.kind == SCALAR:
            out[name] = {"value": value.get("value") if isinstance(value, dict) else value}
        elif shape.kind == ITEMS:
            items = {label: {"value": item.get("value")} for label, item in ((value or {}).get("items") or {}).items()
                     if isinstance(item, dict) and not item.get("deleted")}
            out[name] = {"items": items}
        elif shape.kind == GROUP and isinstance(value, dict):
            out[name] = _as_policy(value, shape.fields)
    return out


def _first_item(spec: Obj) -> tuple[str, Any] | None:
    """(object path, value) of the one item in an object spec made from a one-item list."""
    for name, value in spec.items():
        if isinstance(value, dict) and isinstance(value.get("items"), dict) and value["items"]:
            item = next(iter(value["items"].values()))
            return name, (item or {}).get("value")
        if isinstance(value, dict):
            found = _first_item(value)
            if found:
                return f"{name}.{found[0]}", found[1]
    return None


def _defaults_in(ptype: PolicyType, defaults: Obj, fields: Fields, prefix: str) -> Obj:
    spec: Obj = {}
    for part in _parts(ptype):
        tree = _rest_subtree(defaults, part, prefix.rstrip("."))
        rest_spec: Obj = {}
        attributes: dict[str, Any] = {}
        _split_items(tree, "", rest_spec, attributes)
        where = f"{prefix}{part.rest}"
        obj = _to_object(fields, part.kind, rest_spec, where) if rest_spec else {}
        policy = _as_policy(obj, part.shapes)
        for rest_path, value in attributes.items():
            found = _first_item(_attributes_in(fields, part.kind, rest_path, value, f"{where}{rest_path}.attributes."))
            if found is None:
                raise bad_request(f"{where}{rest_path}.attributes", "Berth has no itemized field here")
            _entry(policy, found[0]).setdefault("items", {})[DEFAULTS_ITEM] = {"value": found[1]}
        spec = merge(spec, nest(part.obj.rstrip("."), policy) if part.obj else policy)
    return spec


def _attributes_in(fields: Fields, kind: str, rest_path: str, attributes: Any, prefix: str) -> Obj:
    """An itemized field's `attributes` (member defaults of every item) as a one-item object spec; an item
    that needs a name gets the label DEFAULTS."""
    if not isinstance(attributes, dict):
        raise bad_request(prefix.rstrip("."), "expected an object of member defaults")
    try:
        return _to_object(fields, kind, nest(rest_path, [attributes]), prefix)
    except RestError as err:
        if "name" in attributes:
            raise
        try:
            return _to_object(fields, kind, nest(rest_path, [{"name": DEFAULTS_ITEM, **attributes}]), prefix)
        except RestError:
            raise err from None


def _value_in(fields: Fields, kind: str, rest_path: str, obj_path: str, value: Any) -> Any:
    """A rule's value (min, max, an option) as the object field holds it; as given when not convertible."""
    try:
        got = get_path(fields.to_object_spec(kind, nest(rest_path, value)), obj_path)
    except (RestError, ValueError, TypeError):
        return value
    if isinstance(got, dict):
        got = got.get("value")
    return value if got is None else got


def _leaf_rules_in(fields: Fields, kind: str, rest_path: str, obj_path: str, rules: Obj, field: str) -> Obj:
    if rules.get("step") is not None:
        raise bad_request(f"{field}.step", "Berth's policies have no step rule",
                          "leave step out; use options to allow only some values")
    out: Obj = {k: rules[k] for k in SHARED_RULES if rules.get(k) is not None}
    for bound in ("min", "max"):
        if rules.get(bound) is not None:
            out[bound] = _value_in(fields, kind, rest_path, obj_path, rules[bound])
    if rules.get("options") is not None:
        options = rules["options"]
        if not isinstance(options, list):
            raise bad_request(f"{field}.options", "expected a list of {value, displayed}")
        values = [o.get("value") if isinstance(o, dict) else o for o in options]
        out["options"] = [_value_in(fields, kind, rest_path, obj_path, v) for v in values]
    return out


def _member(fields: Fields, kind: str, rest_path: str, obj_path: str, member: str, field: str) -> str:
    """An item member's object name: the last step of the mapping's path for `<field>.<member>`."""
    mapped = fields.object_path(kind, f"{rest_path}.{member}")
    if mapped and mapped.startswith(f"{obj_path}."):
        return mapped.rsplit(".", 1)[-1]
    raise bad_request(field, f"Berth's items of {rest_path} have no member for {member}",
                      "leave the rule out (docs/rest.md lists the fields Berth maps)")


def _item_rules_in(fields: Fields, kind: str, rest_path: str, target: str, entry: Obj, policy: Obj,
                   field: str) -> None:
    """An itemized field's REST rules (`instances`, `attributes`) into its policy entry."""
    instances, attributes = entry.get("instances") or {}, entry.get("attributes") or {}
    if not isinstance(instances, dict) or not isinstance(instances.get("locked") or [], list):
        raise bad_request(f"{field}.instances", "expected an object {canAdd, locked: [key, ...]}")
    if not isinstance(attributes, dict):
        raise bad_request(f"{field}.attributes", "expected an object of rules per member")
    if instances.get("canAdd") is not None:
        policy.setdefault("rules", {})["canAdd"] = instances["canAdd"]
    for label in instances.get("locked") or []:
        item = policy.setdefault("items", {}).setdefault(str(label), {})
        item.setdefault("rules", {})["canRemove"] = False
    for member, rules in attributes.items():
        if rules is None:
            continue
        if not isinstance(rules, dict):
            raise bad_request(f"{field}.attributes.{member}", "expected an object of rules")
        name = _member(fields, kind, rest_path, target, member, f"{field}.attributes.{member}")
        converted = _leaf_rules_in(fields, kind, f"{rest_path}.{member}", f"{target}.{name}", rules,
                                   f"{field}.attributes.{member}")
        if converted:
            policy.setdefault("itemRules", {})[name] = converted


def _rules_in(fields: Fields, tree: Obj, part: _Part, path: str, spec: Obj, prefix: str) -> None:
    kind = part.kind
    for key, entry in tree.items():
        if entry is None:
            continue
        rest_path = f"{path}{key}"
        field = f"{prefix}{part.rest}{rest_path}"
        if not isinstance(entry, dict):
            raise bad_request(field, "expected an object of rules")
        keys = set(entry)
        if not keys:
            continue
        if keys <= ITEM_KEYS | {"sourceOfRule"} and keys & ITEM_KEYS:
            target = _object_path(fields, kind, rest_path, field)
            _item_rules_in(fields, kind, rest_path, target, entry, _entry(spec, part.obj + target), field)
        elif keys <= RULE_KEYS:
            target = _object_path(fields, kind, rest_path, field)
            converted = _leaf_rules_in(fields, kind, rest_path, target, entry, field)
            if converted:
                _entry(spec, part.obj + target).setdefault("rules", {}).update(converted)
        else:
            _rules_in(fields, entry, part, f"{rest_path}.", spec, prefix)


def _object_path(fields: Fields, kind: str, rest_path: str, field: str) -> str:
    target = fields.object_path(kind, rest_path)
    if target is None:
        raise bad_request(field, f"Berth's {kind} has no field for {rest_path}",
                          "leave the rule out (docs/rest.md lists the fields Berth maps)")
    return target


def to_policy_spec(ptype: PolicyType, policy: Obj | None, fields: Fields) -> Obj:
    """A REST `policy` ({defaults, rules, imposedAssets}) as the spec of a Berth Policy object."""
    policy = policy or {}
    if policy.get("imposedAssets"):
        raise bad_request("policy.imposedAssets", "Berth has no data source assets to impose",
                          "leave imposedAssets out; give the volumes as defaults (policy.defaults.storage)")
    defaults, rules = policy.get("defaults") or {}, policy.get("rules") or {}
    for name, tree in (("defaults", defaults), ("rules", rules)):
        if not isinstance(tree, dict):
            raise bad_request(f"policy.{name}", "expected an object")
        _check_parts(ptype, tree, f"policy.{name}")
    spec = _defaults_in(ptype, defaults, fields, "policy.defaults.")
    for part in _parts(ptype):
        _rules_in(fields, _rest_subtree(rules, part, "policy.rules"), part, "", spec, "policy.rules.")
    return spec


def reset(ptype: PolicyType, spec: Obj, paths: list[str], fields: Fields) -> Obj:
    """`spec` without the policy (defaults and rules) of each REST field in `paths` (PATCH's `reset`)."""
    out = copy.deepcopy(spec)
    for index, path in enumerate(paths):
        field = f"reset.{index}"
        part = next((p for p in _parts(ptype) if p.rest and path.startswith(p.rest)), _parts(ptype)[0])
        if ptype.distributed and not part.rest:
            raise bad_request(field, f"{path!r}: a distributed policy's fields start with worker. or master.")
        target = fields.object_path(part.kind, path.removeprefix(part.rest))
        if target is None:
            raise bad_request(field, f"Berth's {ptype.workload_kind} has no field {path!r}",
                              "name fields as in the policy's defaults, e.g. compute.gpuDevicesRequest")
        _drop(out, part.obj + target)
    return out


# -- object -> REST -------------------------------------------------------------------------------------

def _lists_as_items(tree: Any) -> Any:
    """A REST workload spec as policy defaults: lists of objects become `{instances: [...]}`."""
    if isinstance(tree, dict):
        return {k: _lists_as_items(v) for k, v in tree.items()}
    if isinstance(tree, list) and tree and all(isinstance(v, dict) for v in tree):
        return {"instances": tree}
    return tree


def _value_out(fields: Fields, kind: str, obj_path: str, rest_path: str, value: Any, shape: Shape) -> Any:
    wrapped = {"value": value} if shape.kind == SCALAR else value
    try:
        got = get_path(fields.from_object_spec(kind, nest(obj_path, wrapped)), rest_path)
    except (RestError, ValueError, TypeError, KeyError):
        return value
    return value if got is None else got


def _leaf_rules_out(fields: Fields, kind: str, obj_path: str, rest_path: str, rules: Obj, shape: Shape,
                    source: Obj | None) -> Obj:
    out: Obj = {k: rules[k] for k in SHARED_RULES if rules.get(k) is not None}
    for bound in ("min", "max"):
        if rules.get(bound) is not None:
            out[bound] = _value_out(fields, kind, obj_path, rest_path, rules[bound], shape)
    if rules.get("options") is not None:
        out["options"] = [{"value": str(_value_out(fields, kind, obj_path, rest_path, v, shape))}
                          for v in rules["options"]]
    if out and source:
        out["sourceOfRule"] = dict(source)
    return out


def _leaves(spec: Obj, shapes: dict[str, Shape], path: str = "") -> Iterator[tuple[str, Obj, Shape]]:
    """(object path, policy entry, shape) of every field of a policy spec, through groups; a
    DistributedPolicy's masterSpec is left out (it is the master part, walked on its own)."""
    for name, entry in spec.items():
        shape = shapes.get(name)
        if shape is None or not isinstance(entry, dict):
            continue
        if shape.kind != GROUP:
            yield f"{path}{name}", entry, shape
        elif f"{path}{name}" != DISTRIBUTED_MASTER:
            yield from _leaves(entry, shape.fields, f"{path}{name}.")


#: Berth's one `gpu` field is Run:ai's devices when whole and a portion of one device when not, so a bound
#: such as `max: "0.5"` reads as a rule of gpuPortionRequest (the rest stay with gpuDevicesRequest).
GPU_DEVICES, GPU_PORTION = "compute.gpuDevicesRequest", "compute.gpuPortionRequest"


def _gpu_split(rest_path: str, rules: Obj) -> list[tuple[str, Obj]]:
    if rest_path != GPU_DEVICES:
        return [(rest_path, rules)]
    shares = {}
    for bound in ("min", "max"):
        try:
            whole = rules.get(bound) is None or amount(rules[bound]) == amount(rules[bound]).to_integral_value()
        except (ValueError, ArithmeticError, TypeError):
            whole = True
        if not whole:
            shares[bound] = rules[bound]
    if not shares:
        return [(rest_path, rules)]
    return [(rest_path, {k: v for k, v in rules.items() if k not in shares}), (GPU_PORTION, shares)]


def _item_rules_out(fields: Fields, kind: str, obj_path: str, rest_path: str, entry: Obj, shape: Shape,
                    source: Obj | None) -> Obj:
    """An itemized field's policy entry as REST rules: `instances` (canAdd, locked) and `attributes`."""
    out: Obj = {}
    instances: Obj = {}
    if (entry.get("rules") or {}).get("canAdd") is not None:
        instances["canAdd"] = entry["rules"]["canAdd"]
    locked = [label for label, item in (entry.get("items") or {}).items()
              if label != DEFAULTS_ITEM and ((item or {}).get("rules") or {}).get("canRemove") is False]
    if locked:
        instances["locked"] = locked
    if instances:
        out["instances"] = {**instances, **({"sourceOfRule": dict(source)} if source else {})}
    attributes: Obj = {}
    for member, rules in (entry.get("itemRules") or {}).items():
        mapped = fields.rest_path(kind, f"{obj_path}.items.{DEFAULTS_ITEM}.value.{member}")
        if not isinstance(rules, dict) or not (mapped and mapped.startswith(f"{rest_path}.")):
            continue  # a member Run:ai's items have no field for: kubectl shows its rules
        rest_member = mapped.removeprefix(f"{rest_path}.")
        member_shape = Shape(SCALAR, numeric=shape.members.get(member, False))
        converted = _leaf_rules_out(fields, kind, f"{obj_path}.{member}", f"{rest_path}.{rest_member}", rules,
                                    member_shape, source)
        if converted:
            attributes[rest_member] = converted
    if attributes:
        out["attributes"] = attributes
    return out


def _rules_out(fields: Fields, spec: Obj, part: _Part, out: Obj, source: Obj | None) -> None:
    kind = part.kind
    for obj_path, entry, shape in _leaves(spec, part.shapes):
        rest_path = fields.rest_path(kind, obj_path)
        if rest_path is None:
            continue
        if shape.kind == ITEMS:
            item_rules = _item_rules_out(fields, kind, obj_path, rest_path, entry, shape, source)
            if item_rules:
                _entry(out, part.rest + rest_path).update(item_rules)
        else:
            for where, rules in _gpu_split(rest_path, entry.get("rules") or {}):
                converted = _leaf_rules_out(fields, kind, obj_path, where, rules, shape, source)
                if converted:
                    _entry(out, part.rest + where).update(converted)


def _defaults_out(ptype: PolicyType, fields: Fields, spec: Obj, part: _Part) -> Obj:
    kind = part.kind
    given = policy_defaults(spec, part.shapes)
    if ptype.distributed:
        given.pop(DISTRIBUTED_MASTER, None)  # the master part's own
    rest = _lists_as_items(fields.from_object_spec(kind, given)) if given else {}
    _attributes_out(fields, kind, spec, part.shapes, rest)
    return rest


def _attributes_out(fields: Fields, kind: str, spec: Obj, shapes: dict[str, Shape], rest: Obj) -> None:
    """Each itemized field's DEFAULTS item as the field's REST `attributes`."""
    for obj_path, entry, shape in _leaves(spec, shapes):
        defaults = ((entry.get("items") or {}).get(DEFAULTS_ITEM) or {}).get("value") if shape.kind == ITEMS else None
        rest_path = fields.rest_path(kind, obj_path)
        if defaults is None or rest_path is None:
            continue
        one = fields.from_object_spec(kind, nest(obj_path, {"items": {DEFAULTS_ITEM: {"value": defaults}}}))
        listed = get_path(one, rest_path)
        if isinstance(listed, list) and listed:
            _entry(rest, rest_path)["attributes"] = {k: v for k, v in listed[0].items() if v != DEFAULTS_ITEM}


def from_policy_spec(ptype: PolicyType, spec: Obj, fields: Fields, source: Obj | None = None) -> Obj:
    """A Berth Policy's spec as REST `{defaults, rules}`; `source` (a SourceOfRule) marks every rule."""
    defaults: Obj = {}
    rules: Obj = {}
    for part in _parts(ptype):
        sub = get_path(spec, part.obj.rstrip(".")) if part.obj else spec
        if not isinstance(sub, dict):
            continue
        part_defaults = _defaults_out(ptype, fields, sub, part)
        if part_defaults:
            defaults = merge(defaults, nest(part.rest.rstrip("."), part_defaults) if part.rest else part_defaults)
        _rules_out(fields, sub, part, rules, source)
    return {"defaults": defaults or None, "rules": rules or None, "imposedAssets": None}


# -- the API server's refusals, in REST field names --------------------------------------------------------

#: What follows a field's object path in a Policy's causes: value, rules.<r>, itemRules.<m>.<r>, items.<l>...
_POLICY_PARTS = ("value", "rules", "itemRules", "items")


def rest_field(ptype: PolicyType, cause: str, fields: Fields) -> str:
    """A cause's field in a Policy object (`spec.gpu.rules.min`) as the REST request's
    (`policy.rules.compute.gpuDevicesRequest.min`); `metadata.name` is `meta.name`."""
    if cause.startswith("metadata.name") or cause == "metadata":
        return "meta.name"
    if not cause.startswith("spec."):
        return cause
    steps = cause.removeprefix("spec.").split(".")
    cut = next((i for i, s in enumerate(steps) if s in _POLICY_PARTS), len(steps))
    obj_path, tail = ".".join(steps[:cut]), steps[cut:]
    part = _parts(ptype)[0]
    if ptype.distributed and obj_path.startswith(f"{DISTRIBUTED_MASTER}."):
        part = _parts(ptype)[1]
        obj_path = obj_path.removeprefix(part.obj)
    rest_path = fields.rest_path(part.kind, obj_path) if obj_path else None
    if rest_path is None:
        return f"policy.{cause}"
    rest_path = part.rest + rest_path
    if not tail or tail[0] == "value":
        return f"policy.defaults.{rest_path}"
    if tail[0] == "rules":
        return f"policy.rules.{rest_path}" + (f".{tail[1]}" if len(tail) > 1 and tail[1] != "canAdd" else
                                               ".instances.canAdd" if len(tail) > 1 else "")
    if tail[0] == "itemRules":
        return f"policy.rules.{rest_path}.attributes" + "".join(f".{s}" for s in tail[1:])
    if len(tail) > 1 and tail[1] == DEFAULTS_ITEM:
        return f"policy.defaults.{rest_path}.attributes" + "".join(f".{s}" for s in tail[3:])
    return f"policy.defaults.{rest_path}.instances"
