"""Value types of the resource model, each with its OpenAPI shape and its wording for errors.

Every leaf value in a Berth resource is one of the types below. Each carries an `OpenAPI` marker: the
schema fragment that `berth.api.schema` emits for it (CRDs, OpenAPI v3, `explain`) and the phrase the
YAML loader uses when a user gives something else ("expected a string like "1" or "0.5"").
Keeping both next to the validator is what makes the model the one source of truth.

The types are strict on purpose: the Kubernetes API server validates CRs against the same schema, and a
YAML `gpu: {value: 0.5}` (a number where a string is required) is rejected there. We reject it here too,
with a message that says how to fix it, so that offline checks and the server never disagree.
"""

from __future__ import annotations

import functools

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import PlainValidator
from pydantic_core import PydanticCustomError


@dataclass(frozen=True, eq=False)
class OpenAPI:
    """The OpenAPI v3 fragment of a leaf type and the words for what it expects.

    Compared and hashed by identity: it lives inside `Annotated[...]`, which must stay hashable.
    """

    schema: dict[str, Any]
    expects: str
    #: How `explain` names the type (`<string>`, `<integer>`); defaults to the schema's `type`.
    type_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def describe_input(value: Any) -> str:
    """Say what a user gave, in YAML words: `a list`, `a number (0.5)`, `a string ("abc")`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'a string ("{shown}")'
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def field_error(at: str, message: str, value: Any = None, **context: Any) -> PydanticCustomError:
    """A rule between fields, raised by the model that holds them but reported at the field that breaks it
    (`at`, a dotted path below the model, like "gpuLimit.value") with its value (None when the rule is
    about a combination, not one value), as kube-apiserver reports `spec.gpuLimit.value: Invalid value: "1"`
    rather than the whole object."""
    return PydanticCustomError("berth_value", message, {**context, "at": at, "culprit": value})


def _not_a(noun: str, value: Any, use: str) -> PydanticCustomError:
    """A value of the right type but the wrong content: `"abc" is not a number of GPUs; use a string like "1"`."""
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return PydanticCustomError("berth_type", "{shown} is not {noun}; use {use}", {"shown": shown, "noun": noun, "use": use})


def _fail(expects: str, value: Any, hint: str = "") -> PydanticCustomError:
    message = f"expected {expects}, got {describe_input(value)}"
    if hint:
        message += f"; {hint}"
    return PydanticCustomError("berth_type", message)


# ---------------------------------------------------------------------------------------------------------
# Quantities
# ---------------------------------------------------------------------------------------------------------

_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]i?|Ki)?$")
_SUFFIX = {
    "": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}


def parse_quantity(text: str | int) -> Decimal:
    """The numeric value of a Kubernetes quantity (`"500m"` is 0.5, `"2Gi"` is 2147483648).

    Raises ValueError for anything that is not a quantity.
    """
    if isinstance(text, bool):
        raise ValueError("a boolean is not a quantity")
    if isinstance(text, int):
        return Decimal(text)
    s = text.strip()
    if not _QUANTITY.match(s):
        raise ValueError(f"{text!r} is not a quantity")
    for suffix in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"):
        if s.endswith(suffix):
            number = s[: -len(suffix)]
            return Decimal(number) * _SUFFIX[suffix]
    try:
        return Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - the regex above guards this
        raise ValueError(f"{text!r} is not a quantity") from exc


_QUANTITY_EXPECTS = 'a quantity like "2", "500m" or "4Gi"'


def _quantity(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        hint = f'quote it: "{value}"' if isinstance(value, float) else ""
        raise _fail(_QUANTITY_EXPECTS, value, hint)
    try:
        amount = parse_quantity(value)
    except ValueError:
        raise _not_a("a quantity", value, 'a string like "2", "500m" or "4Gi"') from None
    if amount < 0:
        raise PydanticCustomError("berth_value", "must not be negative, got {value}", {"value": value})
    return value


Quantity = Annotated[
    str | int,
    PlainValidator(_quantity),
    OpenAPI({"x-kubernetes-int-or-string": True, "pattern": _QUANTITY.pattern}, _QUANTITY_EXPECTS, "string"),
]
"""A Kubernetes resource quantity (CPU cores, bytes): a string like "500m" or "4Gi", or a whole number."""


_GPU_EXPECTS = 'a string like "1" or "0.5"'
_GPU = re.compile(r"^([0-9]+|[0-9]*\.[0-9]+)$")


def _gpu_amount(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        hint = ""
        if isinstance(value, float) and (value <= 1 or value.is_integer()) and value >= 0:
            hint = f'quote it: "{value}"'
        raise _fail(_GPU_EXPECTS, value, hint)
    text = str(value).strip()
    if not _GPU.match(text):
        raise _not_a("a number of GPUs", value, 'a string like "1" or "0.5"')
    amount = Decimal(text)
    if amount > 1 and amount != amount.to_integral_value():
        raise PydanticCustomError(
            "berth_value",
            "a GPU request above 1 must be a whole number of GPUs, got {value}; "
            "ask for a fraction between 0 and 1, or a whole number",
            {"value": value},
        )
    return value


GpuAmount = Annotated[
    str | int,
    PlainValidator(_gpu_amount),
    OpenAPI({"x-kubernetes-int-or-string": True, "pattern": _GPU.pattern}, _GPU_EXPECTS, "string"),
]
"""A number of GPUs: a whole number ("2") or a fraction of one GPU between 0 and 1 ("0.5")."""


def gpu_amount(value: str | int) -> Decimal:
    """The numeric value of a validated `GpuAmount`."""
    return Decimal(str(value).strip())


def amount(value: Any) -> Decimal:
    """A number, quantity ("500m", "4Gi") or GPU amount ("0.5") as a comparable number.

    Raises ValueError or decimal.InvalidOperation for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    try:
        return parse_quantity(value)
    except ValueError:
        return gpu_amount(value)


# ---------------------------------------------------------------------------------------------------------
# Plain scalars
# ---------------------------------------------------------------------------------------------------------

def _strict(kind: type, expects: str) -> PlainValidator:
    def check(value: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise _fail(expects, value)
        if kind is float and isinstance(value, int):
            return value
        if not isinstance(value, kind):
            hint = ""
            if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
                hint = f"write {value.lower()} without quotes"
            elif kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
                hint = f"write {value.strip()} without quotes"
            elif kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
                hint = f'quote it: "{value}"'
            raise _fail(expects, value, hint)
        return value

    return PlainValidator(check)


String = Annotated[str, _strict(str, "a string"), OpenAPI({"type": "string"}, "a string")]
Integer = Annotated[int, _strict(int, "a whole number"), OpenAPI({"type": "integer", "format": "int64"}, "a whole number")]
Number = Annotated[float | int, _strict(float, "a number"), OpenAPI({"type": "number"}, "a number")]
Boolean = Annotated[bool, _strict(bool, "true or false"), OpenAPI({"type": "boolean"}, "true or false")]


def _bounded_int(minimum: int | None = None, maximum: int | None = None) -> Any:
    """A whole number with bounds, checked with the same words as the API server's schema check."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            hint = f"write {value.strip()} without quotes" if isinstance(value, str) and value.strip().isdigit() else ""
            raise _fail("a whole number", value, hint)
        if minimum is not None and value < minimum:
            raise PydanticCustomError("berth_value", "must be no less than {m}, got {v}", {"m": minimum, "v": value})
        if maximum is not None and value > maximum:
            raise PydanticCustomError("berth_value", "must be no greater than {m}, got {v}", {"m": maximum, "v": value})
        return value

    schema: dict[str, Any] = {"type": "integer", "format": "int64"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return Annotated[int, PlainValidator(check), OpenAPI(schema, "a whole number")]


Count = _bounded_int(0)
"""A whole number, zero or more (pods, retries, seconds)."""
PositiveCount = _bounded_int(1)
Port = _bounded_int(1, 65535)
UnixId = _bounded_int(0, 2**31 - 1)


def enum(*values: str, expects: str = "", spellings: dict[str, str] | None = None) -> Any:
    """A string restricted to `values`; a near miss in case gets a suggestion.

    `spellings` are other ways Run:ai's tools and docs write a value (`nodeport` for NodePort): accepted
    here and listed in the schema's enum, so that a real cluster's CRD takes them too, and turned into the
    value they stand for on admission (`berth.api.spellings`), so what is stored and shown is one spelling.
    """
    other = dict(spellings or {})
    unknown = sorted(set(other.values()) - set(values))
    if unknown:
        raise ValueError(f"spellings stand for values that are not in the enum: {unknown}")
    shown = ", ".join(f'"{v}"' for v in values)
    words = expects or "one of " + shown + (f" (or {', '.join(other)})" if other else "")

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _fail(words, value)
        if value in values or value in other:
            return value
        fix = next((v for v in values if v.lower() == value.lower()), None)
        hint = f'; did you mean "{fix}"?' if fix else ""
        raise PydanticCustomError("berth_type", "expected {words}, got \"{value}\"{hint}",
                                  {"words": words, "value": value, "hint": hint})

    marker = OpenAPI({"type": "string", "enum": [*values, *other]}, words, extra={"spellings": other} if other else {})
    return Annotated[str, PlainValidator(check), marker]


def pattern(regex: str, expects: str, noun: str) -> Any:
    """A string matching `regex` (anchored), described to users as `expects`; a string that does not match
    "is not `noun`"."""
    compiled = re.compile(regex)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _fail(expects, value)
        if not compiled.fullmatch(value):
            raise _not_a(noun, value, expects)
        return value

    return Annotated[str, PlainValidator(check), OpenAPI({"type": "string", "pattern": f"^(?:{regex})$"}, expects)]


DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DnsLabel = pattern(DNS_LABEL, "a lowercase name of letters, digits and '-' (a DNS label), like \"team-a\"",
                   "a DNS label")
MigProfile = pattern(r"[1-7]g\.[0-9]+gb", 'a MIG profile like "1g.5gb" or "3g.20gb"', "a MIG profile")
Duration = pattern(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+", 'a duration like "90s", "30m" or "1h30m"', "a duration")


def _free_form(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail("an object", value)
    return value


FreeForm = Annotated[
    dict[str, Any],
    PlainValidator(_free_form),
    OpenAPI({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, "an object", "Object"),
]
"""An object whose content Berth keeps as given (server-managed bookkeeping such as managedFields)."""

def epoch_seconds(text: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time as the API writes it ("2026-11-28T21:17:22Z"), or None.
    Remembered: the scheduler's snapshot reads every pod's times every cycle."""
    if not text:
        return None
    return _epoch_seconds(text[:19])


@functools.lru_cache(maxsize=1 << 16)
def _epoch_seconds(text: str) -> float | None:
    from datetime import datetime, timezone

    if len(text) != 19 or text[10] != "T":
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


Timestamp = pattern(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})",
    'an RFC 3339 time like "2026-11-28T21:17:22Z"', "an RFC 3339 time",
)
