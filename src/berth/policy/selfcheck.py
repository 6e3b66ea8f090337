"""A policy must not contradict itself: its defaults obey its own rules, and no rule set is impossible.

Checked at admission, so an admin learns of the mistake when writing the policy, not when researchers
start failing. (Field names and types are the schema's job; `min <= max` the model's.)
"""

from __future__ import annotations

from typing import Any

from berth.policy.compose import DEFAULTS_ITEM
from berth.policy.rules import Violation, check_value
from berth.policy.shapes import GROUP, ITEMS, Shape


def _scalar(path: str, entry: dict[str, Any], numeric: bool) -> list[Violation]:
    rules = entry.get("rules") or {}
    found = []
    if rules.get("required") and rules.get("canEdit") is False and entry.get("value") is None:
        found.append(Violation(f"{path}.rules", "required with canEdit: false needs a value: no workload "
                                                "could set the field, and none may leave it blank"))
    if entry.get("value") is not None:
        for problem in check_value(entry["value"], rules, numeric, entry["value"], True):
            found.append(Violation(f"{path}.value", f"the default {problem.replace('cannot be changed', 'is')} "
                                                    "by the policy's own rules"))
    return found


def _items(path: str, entry: dict[str, Any], shape: Shape) -> list[Violation]:
    found = []
    items = entry.get("items") or {}
    defaults = (items.get(DEFAULTS_ITEM) or {}).get("value")
    if DEFAULTS_ITEM in items and shape.members and defaults is not None and not isinstance(defaults, dict):
        found.append(Violation(f"{path}.items.{DEFAULTS_ITEM}.value",
                               "must be an object of member defaults, like the other items' values"))
    member_rules = entry.get("itemRules") or {}
    if isinstance(defaults, dict):
        for member, default in defaults.items():
            rules = member_rules.get(member)
            if default is None or not isinstance(rules, dict):
                continue
            for problem in check_value(default, rules, shape.members.get(member, False), default, True):
                found.append(Violation(f"{path}.items.{DEFAULTS_ITEM}.value.{member}",
                                       f"the default item breaks the policy's own itemRules: {problem}"))
    for label, item in items.items():
        value = (item or {}).get("value")
        if label == DEFAULTS_ITEM or not isinstance(value, dict):
            continue
        filled = {**(defaults if isinstance(defaults, dict) else {}), **value}
        for member, rules in member_rules.items():
            if not isinstance(rules, dict):
                continue
            numeric = shape.members.get(member, False)
            default = defaults.get(member) if isinstance(defaults, dict) else None
            has_default = isinstance(defaults, dict) and member in defaults
            for problem in check_value(filled.get(member), rules, numeric, default, has_default):
                found.append(Violation(f"{path}.items.{label}.value.{member}",
                                       f"the default item breaks the policy's own itemRules: {problem}"))
    return found


def check_policy(policy_spec: dict[str, Any], shapes: dict[str, Shape], prefix: str = "spec.") -> list[Violation]:
    """Every way the policy contradicts itself."""
    found: list[Violation] = []
    for name, entry in policy_spec.items():
        shape = shapes.get(name)
        if shape is None or not isinstance(entry, dict):
            continue
        path = f"{prefix}{name}"
        if shape.kind == GROUP:
            found += check_policy(entry, shape.fields, f"{path}.")
        elif shape.kind == ITEMS:
            found += _items(path, entry, shape)
        else:
            found += _scalar(path, entry, shape.numeric)
    return found
