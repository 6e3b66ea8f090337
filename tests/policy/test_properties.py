"""Property-based tests of the rule checker and of composition (issue C), each against an oracle of its own.

(a) `min`/`max` on numbers, quantities and GPU fractions: the amounts are drawn first (exact Decimals from the
    Kubernetes unit tables below) and only then written out, in any unit and style, so the oracle never parses
    text and never shares Berth's parser. Values sit at the bound and one unit either side of it, in mixed
    units ("1Gi" against "1073741824", "500m" against "0.5").
(b) Random item sets in the policy, the base template and the workload, with random deletions: the composed
    items are the set computation, and every value comes from the latest layer that set it.
(c) canAdd: false and canRemove: false on those random sets.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from berth.policy import evaluate
from berth.policy.rules import check_value
from tests.policy.helpers import policy, template, workload

# --- (a) amounts ------------------------------------------------------------------------------------------------

# Kubernetes quantity suffixes (apimachinery resource.Quantity): decimal SI and binary IEC.
UNITS: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal(10) ** -9, "u": Decimal(10) ** -6, "m": Decimal(10) ** -3,
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
EXACT = 200  # digits: every amount here is a terminating decimal far shorter than this


def digits(amount: Decimal) -> int:
    """Significant digits of an amount (a quantity of more than 28 is beyond any real request)."""
    with localcontext() as ctx:
        ctx.prec = EXACT
        return len(amount.normalize().as_tuple().digits)


@st.composite
def written(draw: st.DrawFn, amount: Decimal) -> str | int:
    """`amount` written as a user might: in any unit, with or without trailing zeros, `.5`, `1e3`, or a bare int."""
    unit = draw(st.sampled_from(sorted(UNITS)))
    with localcontext() as ctx:
        ctx.prec = EXACT
        number = amount / UNITS[unit]  # exact: dividing by 10^k or 2^k always terminates
        assert number * UNITS[unit] == amount
        style = draw(st.sampled_from(["plain", "padded", "dot", "exponent", "int"]))
        integral = number == number.to_integral_value()
        if style == "int" and unit == "" and integral:
            return int(number)
        if style == "exponent" and unit == "" and integral and number > 0:
            shift = draw(st.integers(0, 3))
            while shift and number % (10 ** shift):
                shift -= 1
            mark = draw(st.sampled_from("eE"))
            return f"{int(number) // 10 ** shift}{mark}{shift}"
        text = format(number.normalize(), "f")
        if style == "padded":
            text += ("" if "." in text else ".") + "0" * draw(st.integers(1, 3))
        elif style == "dot" and 0 < number < 1:
            text = text.removeprefix("0")
        return text + unit


@st.composite
def bound_amounts(draw: st.DrawFn) -> Decimal:
    """A bound: up to 4 digits and 3 decimals in any unit (`2G`, `0.5`, `1.5Gi`, `100M`, `30000`)."""
    mantissa = Decimal(draw(st.integers(0, 9999))).scaleb(-draw(st.integers(0, 3)))
    return mantissa * UNITS[draw(st.sampled_from(sorted(UNITS)))]


@st.composite
def near(draw: st.DrawFn, bound: Decimal) -> Decimal:
    """An amount at the bound, or one unit (of any table entry, or a thousandth) either side of it."""
    step = draw(st.sampled_from([*UNITS.values(), Decimal("0.001")]))
    with localcontext() as ctx:
        ctx.prec = EXACT
        value = bound + draw(st.sampled_from([-1, 0, 0, 1])) * step
    assume(value >= 0 and digits(value) <= 27)
    return value


def shown(bound: str | int) -> str:
    return str(bound)


def expected_problems(value: Decimal, low: tuple[Decimal, Any] | None, high: tuple[Decimal, Any] | None) -> list[str]:
    problems = []
    if low is not None and value < low[0]:
        problems.append(f"must be no less than {shown(low[1])}")
    if high is not None and value > high[0]:
        problems.append(f"must be no greater than {shown(high[1])}")
    return problems


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_min_and_max_compare_amounts_at_and_around_one_bound(data):
    bound = data.draw(bound_amounts(), "bound")
    value = data.draw(near(bound), "value")
    bound_text = data.draw(written(bound), "bound as written")
    value_text = data.draw(written(value), "value as written")
    which = data.draw(st.sampled_from(["min", "max", "both"]), "rule")
    rules = {"min": bound_text, "max": bound_text} if which == "both" else {which: bound_text}
    oracle = expected_problems(value, (bound, bound_text) if "min" in rules else None,
                               (bound, bound_text) if "max" in rules else None)
    assert check_value(value_text, rules, numeric=True) == oracle
    # The same amount under `options` and `canEdit: false`: equal amounts are the same value.
    same = value == bound
    assert (check_value(value_text, {"options": [bound_text]}, True) == []) is same
    assert (check_value(value_text, {"canEdit": False}, True, bound_text, True) == []) is same


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_min_and_max_together(data):
    low = data.draw(bound_amounts(), "min")
    with localcontext() as ctx:
        ctx.prec = EXACT
        high = low + data.draw(bound_amounts(), "max - min")
    assume(digits(high) <= 27)
    value = data.draw(near(data.draw(st.sampled_from([low, high]))), "value")
    low_text, high_text = data.draw(written(low), "min as written"), data.draw(written(high), "max as written")
    value_text = data.draw(written(value), "value as written")
    assert check_value(value_text, {"min": low_text, "max": high_text}, numeric=True) == expected_problems(
        value, (low, low_text), (high, high_text))


# GPU amounts as the model allows them: a fraction of one GPU in hundredths, or a whole number.
GPUS = sorted({Decimal(n).scaleb(-2) for n in range(101)} | {Decimal(n) for n in range(17)})


def gpu_text(amount: Decimal, draw: st.DrawFn) -> str | int:
    text = format(amount.normalize(), "f")
    choices: list[str | int] = [text, text + ("" if "." in text else ".") + "0"]
    if 0 < amount < 1:
        choices.append(text.removeprefix("0"))
    if amount == amount.to_integral_value():
        choices.append(int(amount))
    return draw(st.sampled_from(choices))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_gpu_fractions_at_and_around_the_bounds_as_users_see_them(data):
    low_at = data.draw(st.integers(0, len(GPUS) - 1), "min index")
    high_at = data.draw(st.integers(low_at, len(GPUS) - 1), "max index")
    anchor = data.draw(st.sampled_from([low_at, high_at]))
    value_at = min(max(anchor + data.draw(st.sampled_from([-1, 0, 1])), 0), len(GPUS) - 1)
    low, high, value = GPUS[low_at], GPUS[high_at], GPUS[value_at]
    low_text, high_text = gpu_text(low, data.draw), gpu_text(high, data.draw)
    value_text = gpu_text(value, data.draw)
    pol = policy({"gpu": {"rules": {"min": low_text, "max": high_text}}})
    result = evaluate(workload({"gpu": {"value": value_text}}), policy=pol)
    where = '(TrainingPolicy "limits" in project team-a)'
    assert [str(v) for v in result.violations] == [
        f"spec.gpu: {p} {where}" for p in expected_problems(value, (low, low_text), (high, high_text))]


# --- (b) and (c): random item sets ------------------------------------------------------------------------------

LABELS = ["a", "b", "c", "d", "e", "f"]
LAYERS = ["policy", "base", "workload"]
DELETE = "deleted"


def port(layer: str, label: str, draw: st.DrawFn) -> dict[str, Any]:
    """A port value that says which layer gave it (so the test can tell where a value came from)."""
    value: dict[str, Any] = {"container": 30000 + 100 * LAYERS.index(layer) + LABELS.index(label),
                             "name": f"{layer}-{label}"}
    if draw(st.booleans()):
        value["external"] = 8000 + LABELS.index(label)
    return value


@st.composite
def layered_items(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """label -> value for the policy; label -> value or DELETE for the template and the workload."""
    layers: dict[str, dict[str, Any]] = {}
    for layer in LAYERS:
        labels = draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=len(LABELS)))
        choices = st.just("set") if layer == "policy" else st.sampled_from(["set", DELETE])
        layers[layer] = {label: (port(layer, label, draw) if draw(choices) == "set" else DELETE) for label in labels}
    return layers


def oracle(layers: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The composed items, the layer each comes from, and the layer that removed each removed one."""
    items: dict[str, Any] = {}
    source: dict[str, str] = {}
    removed: dict[str, str] = {}
    for layer in LAYERS:
        given = layers[layer]
        kept = {label for label in items if given.get(label) != DELETE}
        for label in set(items) - kept:
            removed[label] = layer
        items = {label: items[label] for label in kept}
        for label, value in given.items():
            if value != DELETE:
                items[label], source[label] = value, layer
                removed.pop(label, None)
    return items, {label: source[label] for label in items}, removed


def as_items(given: dict[str, Any]) -> dict[str, Any]:
    return {label: ({"deleted": True} if value == DELETE else {"value": value}) for label, value in given.items()}


def submit(layers: dict[str, dict[str, Any]], policy_field: dict[str, Any]):
    base = template({"ports": {"items": as_items(layers["base"])}} if layers["base"] else {})
    spec = {"baseWorkload": "tpl", "image": {"value": "u"}}
    if layers["workload"]:
        spec["ports"] = {"items": as_items(layers["workload"])}
    return evaluate(workload(spec), policy=policy({"ports": policy_field}), base=base)


@settings(max_examples=400, deadline=None)
@given(layered_items(), st.one_of(st.none(), st.fixed_dictionaries({"external": st.integers(1, 9)})))
def test_composed_items_are_the_set_computation_and_the_latest_layer_wins(layers, defaults):
    items = {label: {"value": value} for label, value in layers["policy"].items()}
    if defaults is not None:
        items["DEFAULTS"] = {"value": defaults}
    result = submit(layers, {"items": items})
    assert result.allowed
    expected, source, removed = oracle(layers)
    if defaults is not None:  # DEFAULTS fills the members an item leaves out, and only those
        expected = {label: {**defaults, **value} for label, value in expected.items()}
    if expected:
        assert result.spec["ports"] == {"items": {label: {"value": value} for label, value in expected.items()}}
    else:
        assert "ports" not in result.spec  # every item removed: the field is gone
    prov = result.provenance
    assert {label: prov.sources[f"ports.items.{label}"] for label in expected} == source
    assert prov.removed == {f"ports.items.{label}": layer for label, layer in removed.items()}


@settings(max_examples=400, deadline=None)
@given(layered_items(), st.data())
def test_can_add_and_can_remove(layers, data):
    can_add = data.draw(st.sampled_from([False, True, None]), "canAdd")
    locked = {label for label in layers["policy"] if data.draw(st.booleans(), f"{label} canRemove: false")}
    items = {label: {"value": value, **({"rules": {"canRemove": False}} if label in locked else {})}
             for label, value in layers["policy"].items()}
    field: dict[str, Any] = {"items": items}
    if can_add is not None:
        field["rules"] = {"canAdd": can_add}
    result = submit(layers, field)
    final, source, _ = oracle(layers)

    # canAdd: false: one violation per label outside the policy's items, with a note when the base added it.
    where = '(TrainingPolicy "limits" in project team-a'
    allowed = ", ".join(sorted(layers["policy"])) or "none"
    added = {label for label in final if label not in layers["policy"]} if can_add is False else set()
    expected = []
    for label in sorted(added):
        note = '; the value comes from base workload "tpl")' if source[label] == "base" else ")"
        expected.append(f"spec.ports.items.{label}: cannot be added: the policy allows only its own items "
                        f"({allowed}) {where}{note}")
    # canRemove: false: a violation exactly when a later layer deleted the locked item and none gave it back.
    deleted_for_good: dict[str, str] = {}  # label -> the layer that removed the item while it was there
    for label in locked:
        present, by = True, None
        for layer in ("base", "workload"):
            if label not in layers[layer]:
                continue
            if layers[layer][label] == DELETE:
                if present:
                    present, by = False, layer
            else:
                present, by = True, None
        if not present:
            deleted_for_good[label] = by
    for label in sorted(deleted_for_good):
        note = '; removed by base workload "tpl")' if deleted_for_good[label] == "base" else ")"
        expected.append(f"spec.ports.items.{label}: cannot be removed {where}{note}")

    assert sorted(str(v) for v in result.violations) == sorted(expected)
