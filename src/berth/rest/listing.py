"""Run:ai's list parameters: `filterBy`, `sortBy`/`sortOrder`, `offset`/`limit`, applied to answers already
translated to Run:ai's shape.

A filter is `<field><operator><value>`; operators `==` `!=` `<=` `>=` `=@` (contains) `!@` (does not
contain) `=^` (starts with) `=$` (ends with), as Run:ai's document defines them. Several filters all hold
(AND). `filterBy` may be repeated or comma-separated (the document's style is `explode: false`,
`filterBy=a==1,b==2`); a comma inside a value is kept when what follows it is not another filter.
Text compares as text (`==` ignores case only for `type`, whose spelling differs between Run:ai's
versions), numbers as numbers, dates as instants; dates take only `==` `!=` `<=` `>=`, as the document says.
A field the item lacks matches only `!=` and `!@`. Sorting puts items without the field last; ties keep a
stable order (by `id`). Paging answers `next`, the offset of the following page, when there is one.

Pure functions; a bad parameter raises `RestError` 400 naming it and what it accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from berth.rest.errors import bad_request

Obj = dict[str, Any]
Kind = Literal["text", "number", "date"]
#: `limit`'s default and most, as the document defines them for every list.
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
OPERATORS = ("==", "!=", "<=", ">=", "=@", "!@", "=^", "=$")
DATE_OPERATORS = ("==", "!=", "<=", ">=")


@dataclass(frozen=True)
class Field:
    """A field items may be filtered and sorted by: how to read it from an answer, and what it holds. A
    reader returning a list matches when any element does (a workload's node pools)."""

    get: Callable[[Obj], Any]
    kind: Kind = "text"
    fold_case: bool = False


def key(name: str, kind: Kind = "text", *, fold_case: bool = False) -> Field:
    """A field read from the answer's key `name`."""
    return Field(lambda item: item.get(name), kind, fold_case)


@dataclass(frozen=True)
class Filter:
    name: str
    op: str
    value: Any
    field: Field


def _instant(text: str) -> datetime | None:
    try:
        found = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _accepts(fields: Mapping[str, Field]) -> str:
    return (f"write <field><operator><value> with a field of: {', '.join(fields)}; and an operator of: "
            f"{' '.join(OPERATORS)} (e.g. name=@train)")


def split(raw: list[str], fields: Mapping[str, Field]) -> list[str]:
    """The single filters in repeated and comma-separated `filterBy` values."""
    starts = "|".join(re.escape(n) for n in sorted(fields, key=len, reverse=True))
    ops = "|".join(re.escape(o) for o in OPERATORS)
    boundary = re.compile(rf",(?=(?:{starts})(?:{ops}))")
    return [part for text in raw for part in boundary.split(text) if part != ""]


def parse(raw: list[str], fields: Mapping[str, Field], param: str = "filterBy") -> list[Filter]:
    """The filters of `raw`; 400 naming `param` for one that is not `<field><operator><value>` of `fields`."""
    names = "|".join(re.escape(n) for n in sorted(fields, key=len, reverse=True))
    ops = "|".join(re.escape(o) for o in OPERATORS)
    shape = re.compile(rf"^({names})({ops})(.+)$", re.DOTALL)
    out = []
    for text in split(raw, fields):
        match = shape.match(text)
        if not match:
            raise bad_request(param, f"{text!r} is not a filter", _accepts(fields))
        name, op, given = match.groups()
        field = fields[name]
        value: Any = given
        if field.kind == "date":
            if op not in DATE_OPERATORS:
                raise bad_request(param, f"{text!r}: {name} is a date, which takes only {' '.join(DATE_OPERATORS)}",
                                  "write e.g. createdAt>=2024-01-01T00:00:00Z")
            value = _instant(given)
            if value is None:
                raise bad_request(param, f"{text!r}: {given!r} is not an ISO 8601 time",
                                  "write e.g. createdAt>=2024-01-01T00:00:00Z")
        elif field.kind == "number" and op in DATE_OPERATORS:
            try:
                value = float(given)
            except ValueError:
                raise bad_request(param, f"{text!r}: {name} is a number, not {given!r}",
                                  f"write e.g. {name}>=1") from None
        out.append(Filter(name, op, value, field))
    return out


def _normal(value: Any, field: Field) -> Any:
    if value is None:
        return None
    if field.kind == "date":
        return _instant(str(value))
    if field.kind == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    text = str(value)
    return text.lower() if field.fold_case else text


def _holds(have: Any, f: Filter) -> bool:
    if have is None:
        return f.op in ("!=", "!@")
    want = f.value
    if isinstance(want, str):
        want = want.lower() if f.field.fold_case else want
        if f.field.kind == "number":  # text operators on a number compare its text
            have = f"{have:g}"
    text_ops: dict[str, Callable[[Any, Any], bool]] = {
        "=@": lambda a, b: str(b) in str(a), "!@": lambda a, b: str(b) not in str(a),
        "=^": lambda a, b: str(a).startswith(str(b)), "=$": lambda a, b: str(a).endswith(str(b)),
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
        "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
    }
    return text_ops[f.op](have, want)


def matches(item: Obj, filters: list[Filter]) -> bool:
    """Whether `item` passes every filter (a list-valued field: any of its values, or none for `!=`/`!@`)."""
    for f in filters:
        raw = f.field.get(item)
        values = [_normal(v, f.field) for v in raw] if isinstance(raw, list) else [_normal(raw, f.field)]
        if f.op in ("!=", "!@"):
            if not all(_holds(v, f) for v in values):
                return False
        elif not any(_holds(v, f) for v in values if v is not None):
            return False
    return True


def sort(items: list[Obj], fields: Mapping[str, Field], by: str | None, order: str = "asc") -> list[Obj]:
    """`items` ordered by the field `by` (None: as given), items without it last, ties by `id`."""
    ordered = sorted(items, key=lambda i: str(i.get("id") or ""))
    if by is None:
        return ordered
    field = fields[by]

    def value(item: Obj) -> Any:
        raw = field.get(item)
        return _normal(raw[0] if isinstance(raw, list) and raw else (None if isinstance(raw, list) else raw), field)

    present = [i for i in ordered if value(i) is not None]
    absent = [i for i in ordered if value(i) is None]
    return sorted(present, key=value, reverse=order == "desc") + absent


def page(items: list[Obj], offset: int, limit: int) -> tuple[list[Obj], int | None]:
    """The page of `limit` items from `offset`, and the offset of the next page (None when it is the last)."""
    chosen = items[offset:offset + limit]
    following = offset + limit
    return chosen, (following if following < len(items) else None)


def select(items: list[Obj], fields: Mapping[str, Field], *, filter_by: list[str] | None, sort_by: str | None,
           sort_order: str, offset: int, limit: int) -> tuple[list[Obj], int | None]:
    """Filtered, sorted and paged: the page of `items` a list answers, and the next page's offset."""
    filters = parse(filter_by or [], fields)
    return page(sort([i for i in items if matches(i, filters)], fields, sort_by, sort_order), offset, limit)
