"""Run:ai's list parameters: `filterBy`, `sortBy`, `sortOrder`, `offset`, `limit`, and the `next` offset.

`filterBy` terms are `<field><op><value>` with the operators == != <= >= =@ (contains) !@ (does not
contain) =^ (starts with) =$ (ends with); several terms all hold (given repeated, or comma-separated as
Run:ai's `explode: false` sends them). Values compare as strings (dates in ISO 8601 compare correctly so);
a term on a field the path does not filter by is refused naming `filterBy`. Pure: answers (dicts) in,
the page out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from berth.rest.errors import bad_request

Obj = dict[str, Any]

OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "==": lambda have, want: have == want, "!=": lambda have, want: have != want,
    "<=": lambda have, want: have <= want, ">=": lambda have, want: have >= want,
    "=@": lambda have, want: want in have, "!@": lambda have, want: want not in have,
    "=^": lambda have, want: have.startswith(want), "=$": lambda have, want: have.endswith(want),
}
_TERM = re.compile(r"^(?P<field>[A-Za-z]+)(?P<op>==|!=|<=|>=|=@|!@|=\^|=\$)(?P<value>.+)$")
DEFAULT_LIMIT, MAX_LIMIT = 50, 500


def terms(given: list[str] | None) -> list[str]:
    return [t for item in given or [] for t in item.split(",") if t]


def matcher(given: list[str] | None, fields: dict[str, str]) -> Callable[[Obj], bool]:
    """A predicate over answers for the filterBy terms; `fields`: filterable name -> key in the answer."""
    checks = []
    for term in terms(given):
        found = _TERM.match(term)
        if not found or found["field"] not in fields:
            raise bad_request("filterBy", f"{term!r} is not a filter of this list",
                              f"write <field><operator><value> with a field among {', '.join(fields)} and an "
                              f"operator among {' '.join(OPERATORS)}, e.g. name=@team")
        key, compare, want = fields[found["field"]], OPERATORS[found["op"]], found["value"]
        checks.append(lambda obj, key=key, compare=compare, want=want: compare(str(obj.get(key) or ""), want))
    return lambda obj: all(check(obj) for check in checks)


def page(items: list[Obj], *, filter_by: list[str] | None, filters: dict[str, str], sort_by: str | None,
         sort_order: str, offset: int, limit: int) -> tuple[list[Obj], int | None]:
    """The filtered, sorted page of `items`, and the offset of the next page (None on the last)."""
    chosen = [item for item in items if matcher(filter_by, filters)(item)]
    if sort_by:
        key = filters.get(sort_by, sort_by)
        chosen.sort(key=lambda item: str(item.get(key) or ""), reverse=sort_order == "desc")
    end = offset + limit
    return chosen[offset:end], (end if end < len(chosen) else None)
