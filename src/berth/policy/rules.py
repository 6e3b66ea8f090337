"""Checking a workload's effective values against its policy's rules, reporting every violation.

Rules (Run:ai notes, section 3.2): on a field, `required`, `min`, `max` (numbers and quantities compare
by amount: "1500M" < "2G", "0.5" < "1"), `options` and `canEdit`; on an itemized field, `canAdd` and
`required` for the field, `canRemove` and `canEdit` per default item, and `itemRules` on the members of
every item. Messages use Run:ai's words (`must be no greater than 4`) and say which policy they come
from, and whether the offending value was inherited from a base workload.

Pure: JSON in, a list of `Violation` out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from berth.api.types import amount
from berth.policy.compose import BASE, DEFAULTS_ITEM, Provenance
from berth.policy.shapes import GROUP, ITEMS, SCALAR, Shape


@dataclass(frozen=True)
class Violation:
    """One broken rule: the field path (`spec.gpu`) and what is wrong, in words for people."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Context:
    """How messages name the policy (`TrainingPolicy "limits" in project team-a`) and the base workload."""

    policy: str
    base: str | None = None


def _amount(value: Any) -> Decimal | None:
    try:
        return amount(value)
    except (ValueError, InvalidOperation, TypeError):
        return None


def _same(a: Any, b: Any, numeric: bool) -> bool:
    if numeric and a is not None and b is not None:
        x, y = _amount(a), _amount(b)
        if x is not None and y is not None:
            return x == y
    return a == b


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_value(value: Any, rules: dict[str, Any], numeric: bool, policy_value: Any = None,
                has_policy_value: bool = False, partial: bool = False) -> list[str]:
    """What is wrong with one value under one set of rules (messages without path or policy).

    `partial` (a template, which need not be complete) skips `required`.
    """
    problems: list[str] = []
    if value is None:
        if rules.get("required") and not partial:
            problems.append("cannot be blank")
        return problems
    if numeric:
        number = _amount(value)
        low = _amount(rules["min"]) if rules.get("min") is not None else None
        high = _amount(rules["max"]) if rules.get("max") is not None else None
        if number is not None and low is not None and number < low:
            problems.append(f"must be no less than {_shown(rules['min'])}")
        if number is not None and high is not None and number > high:
            problems.append(f"must be no greater than {_shown(rules['max'])}")
    options = rules.get("options")
    if options is not None and not any(_same(value, o, numeric) for o in options):
        problems.append("must be one of " + ", ".join(_shown(o) for o in options))
    if rules.get("canEdit") is False:
        if not has_policy_value:
            problems.append("cannot be set: the policy does not allow changing it")
        elif not _same(value, policy_value, numeric):
            problems.append(f"cannot be changed from {_shown(policy_value)}")
    return problems


class _Checker:
    def __init__(self, prov: Provenance, context: Context, partial: bool) -> None:
        self.prov = prov
        self.context = context
        self.partial = partial
        self.found: list[Violation] = []

    def add(self, path: str, message: str, source_key: str | None = None, removed: bool = False) -> None:
        suffix = f" ({self.context.policy})"
        key = source_key or path
        if self.context.base and removed and self.prov.removed.get(key) == BASE:
            suffix = f" ({self.context.policy}; removed by base workload \"{self.context.base}\")"
        elif self.context.base and not removed and self.prov.sources.get(key) == BASE:
            suffix = f" ({self.context.policy}; the value comes from base workload \"{self.context.base}\")"
        self.found.append(Violation(path, message + suffix))

    def fields(self, spec: dict[str, Any], policy: dict[str, Any], shapes: dict[str, Shape], prefix: str) -> None:
        for name, entry in policy.items():
            shape = shapes.get(name)
            if shape is None or not isinstance(entry, dict):
                continue
            path = f"{prefix}{name}"
            current = spec.get(name)
            if shape.kind == GROUP:
                self.fields(current if isinstance(current, dict) else {}, entry, shape.fields, f"{path}.")
            elif shape.kind == ITEMS:
                self.items(current if isinstance(current, dict) else {}, entry, shape, path)
            else:
                value = current.get("value") if shape.kind == SCALAR and isinstance(current, dict) else (
                    None if shape.kind == SCALAR else current)
                rules = entry.get("rules") or {}
                for problem in check_value(value, rules, shape.numeric, entry.get("value"), "value" in entry,
                                           self.partial):
                    self.add(f"spec.{path}", problem, path)

    def items(self, current: dict[str, Any], entry: dict[str, Any], shape: Shape, path: str) -> None:
        rules = entry.get("rules") or {}
        policy_items = {k: v for k, v in (entry.get("items") or {}).items() if k != DEFAULTS_ITEM and isinstance(v, dict)}
        defaults = ((entry.get("items") or {}).get(DEFAULTS_ITEM) or {}).get("value")
        items = current.get("items") or {}
        if rules.get("required") and not items and not self.partial:
            self.add(f"spec.{path}", "needs at least one item")
        if rules.get("canAdd") is False:
            allowed = ", ".join(sorted(policy_items)) or "none"
            for label in items:
                if label not in policy_items:
                    self.add(f"spec.{path}.items.{label}",
                             f"cannot be added: the policy allows only its own items ({allowed})", f"{path}.items.{label}")
        for label, item in policy_items.items():
            item_rules = item.get("rules") or {}
            key = f"{path}.items.{label}"
            if item_rules.get("canRemove") is False and key in self.prov.removed:
                self.add(f"spec.{key}", "cannot be removed", key, removed=True)
            if item_rules.get("canEdit") is False and label in items:
                expected = item.get("value")
                if isinstance(expected, dict) and isinstance(defaults, dict):
                    expected = dict(expected)  # filled from DEFAULTS as composition fills it
                    for member, default in defaults.items():
                        if expected.get(member) is None and default is not None:
                            expected[member] = default
                if items[label].get("value") != expected:
                    self.add(f"spec.{key}", "cannot be changed", key)
        for member, member_rules in (entry.get("itemRules") or {}).items():
            if not isinstance(member_rules, dict):
                continue
            numeric = shape.members.get(member, False)
            default = defaults.get(member) if isinstance(defaults, dict) else None
            for label, item in items.items():
                value = item.get("value") if isinstance(item, dict) else None
                if not isinstance(value, dict):
                    continue
                has_default = isinstance(defaults, dict) and member in defaults
                for problem in check_value(value.get(member), member_rules, numeric, default, has_default,
                                           self.partial):
                    self.add(f"spec.{path}.items.{label}.value.{member}", problem, f"{path}.items.{label}")


def check(spec: dict[str, Any], policy_spec: dict[str, Any], shapes: dict[str, Shape], prov: Provenance,
          context: Context, *, partial: bool = False) -> list[Violation]:
    """Every rule of the policy that the effective spec breaks (`partial`: a template; no `required`)."""
    checker = _Checker(prov, context, partial)
    checker.fields(spec, policy_spec, shapes, "")
    return checker.found
