"""Label and field selectors: the `labelSelector` and `fieldSelector` query parameters of a list or watch.

The store filters with them while it reads (a page holds `limit` *matching* objects), and an informer shared
by several components filters its views with them (`berth.client.informer`): they are pure, parse text
once, then `matches()` many objects, with no I/O and no knowledge of kinds.

Label selectors accept the whole Kubernetes grammar: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
`a` (exists), `!a` (does not exist), `a>1`, `a<1`, joined by commas and all of which must hold. Keys and
values are validated as Kubernetes validates label keys and values, and errors are worded like the
Kubernetes API's ("unable to parse requirement: ..."), so kubectl users see familiar messages.

Field selectors are `path=value`, `path==value`, `path!=value` terms joined by commas, in any order; `\\`
escapes `,`, `=` and `\\` in values. A path is dotted (`spec.nodeName`); a missing field reads as "". Which
paths are allowed for a kind is the API server's business, not this module's (see `FieldSelector.fields`).

Invariant: a parsed selector is immutable, so one instance can serve many threads and watches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson


class SelectorError(ValueError):
    """A label or field selector that does not parse or names an invalid key or value."""


# --- label keys and values, as Kubernetes validates them -------------------------------------------------

_NAME_RE = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
_NAME_HINT = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_HINT = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_PREFIX_HINT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _invalid(field: str, value: str, why: str) -> str:
    return f"{field}: Invalid value: {orjson.dumps(value).decode()}: {why}"


def _key_problem(key: str) -> str | None:
    """Why `key` is not a valid label key (optional DNS-subdomain prefix, '/', name), or None if it is."""
    parts = key.split("/")
    if len(parts) > 2:
        return _invalid("key", key, "a qualified name " + _NAME_HINT
                        + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
    if len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return _invalid("key", key, "prefix part must be non-empty")
        if len(prefix) > 253:
            return _invalid("key", key, "prefix part must be no more than 253 characters")
        if not _DNS_SUBDOMAIN_RE.fullmatch(prefix):
            return _invalid("key", key, "prefix part " + _PREFIX_HINT)
    else:
        name = parts[0]
    if not name:
        return _invalid("key", key, "name part must be non-empty")
    if len(name) > 63:
        return _invalid("key", key, "name part must be no more than 63 characters")
    if not _NAME_RE.fullmatch(name):
        return _invalid("key", key, "name part " + _NAME_HINT)
    return None


def _value_problem(key: str, index: int, value: str) -> str | None:
    if value == "":
        return None
    if len(value) > 63:
        return _invalid(f"values[{index}][{key}]", value, "must be no more than 63 characters")
    if not _NAME_RE.fullmatch(value):
        return _invalid(f"values[{index}][{key}]", value, _VALUE_HINT)
    return None


# --- label selector lexer --------------------------------------------------------------------------------

_IDENT, _BANG, _NEQ, _EQ, _DEQ, _GT, _LT, _LPAR, _RPAR, _COMMA, _END = range(11)
_SYMBOLS = {"!=": _NEQ, "==": _DEQ, "!": _BANG, "=": _EQ, ">": _GT, "<": _LT, "(": _LPAR, ")": _RPAR,
            ",": _COMMA}
_SPECIAL = frozenset("!=><(),")
_SPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[int, str]]:
    """Tokens of a label selector; identifiers are maximal runs of anything but blanks and symbols."""
    tokens: list[tuple[int, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
        elif ch in _SPECIAL:
            pair = text[i:i + 2]
            symbol = pair if pair in _SYMBOLS else ch
            tokens.append((_SYMBOLS[symbol], symbol))
            i += len(symbol)
        else:
            j = i
            while j < n and text[j] not in _SPECIAL and text[j] not in _SPACE:
                j += 1
            tokens.append((_IDENT, text[i:j]))
            i = j
    tokens.append((_END, ""))
    return tokens


# --- label selector --------------------------------------------------------------------------------------

_EXACT_OPS = {_EQ: "=", _DEQ: "==", _NEQ: "!=", _GT: ">", _LT: "<"}


@dataclass(frozen=True, slots=True)
class _Requirement:
    key: str
    op: str  # "=", "==", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        value = labels.get(self.key)
        if op in ("=", "==", "in"):
            return value is not None and value in self.values
        if op in ("!=", "notin"):
            return value is None or value not in self.values
        # ">" / "<": both sides integers; a label that is not one never matches.
        if value is None:
            return False
        try:
            number = int(value, 10)
        except ValueError:
            return False
        return number > int(self.values[0]) if op == ">" else number < int(self.values[0])

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return "!" + self.key
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        return f"{self.key}{self.op}{self.values[0]}"


class _LabelParser:
    """Recursive descent over the token list; every method returns the next position."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def _next(self) -> tuple[int, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _peek(self) -> tuple[int, str]:
        return self.tokens[self.pos]

    def selector(self) -> list[_Requirement]:
        requirements: list[_Requirement] = []
        kind, literal = self._peek()
        if kind == _END:
            return requirements
        if kind not in (_IDENT, _BANG):
            raise SelectorError(f"found '{literal}', expected: !, identifier, or 'end of string'")
        while True:
            try:
                requirements.append(self.requirement())
            except SelectorError as exc:
                raise SelectorError(f"unable to parse requirement: {exc}") from None
            kind, literal = self._next()
            if kind == _END:
                return requirements
            if kind != _COMMA:
                raise SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self._peek()
            if kind not in (_IDENT, _BANG):
                raise SelectorError(f"found '{literal}', expected: identifier after ','")

    def requirement(self) -> _Requirement:
        negated = self._peek()[0] == _BANG
        if negated:
            self.pos += 1
        kind, key = self._next()
        if kind != _IDENT:
            raise SelectorError(f"found '{key}', expected: identifier")
        problem = _key_problem(key)
        if problem:
            raise SelectorError(problem)
        if negated:
            return _Requirement(key, "!", ())
        kind, literal = self._peek()
        if kind in (_END, _COMMA):
            return _Requirement(key, "exists", ())
        self.pos += 1
        if kind == _IDENT and literal in ("in", "notin"):
            op, values = literal, self.value_set()
        elif kind in _EXACT_OPS:
            op, values = _EXACT_OPS[kind], (self.exact_value(),)
        else:
            raise SelectorError(f"found '{literal}', expected: in, notin, =, ==, !=, gt, lt")
        for index, value in enumerate(values):
            problem = _value_problem(key, index, value)
            if problem:
                raise SelectorError(problem)
        if op in (">", "<"):
            try:
                int(values[0], 10)
            except ValueError:
                raise SelectorError(_invalid("values[0]", values[0],
                                             "for 'Gt', 'Lt' operators, the value must be an integer")) from None
        return _Requirement(key, op, values)

    def exact_value(self) -> str:
        kind, literal = self._peek()
        if kind in (_END, _COMMA):
            return ""  # "a=" selects an empty value
        self.pos += 1
        if kind != _IDENT:
            raise SelectorError(f"found '{literal}', expected: identifier")
        return literal

    def value_set(self) -> tuple[str, ...]:
        """`( v, v, ... )`; empty slots (`()`, `(a,)`, `(a,,b)`) stand for the empty value, as in Kubernetes."""
        kind, literal = self._next()
        if kind != _LPAR:
            raise SelectorError(f"found '{literal}', expected: '('")
        values: list[str] = []
        while True:
            kind, literal = self._next()
            if kind == _IDENT:
                values.append(literal)
                kind, literal = self._next()
                if kind == _RPAR:
                    break
                if kind != _COMMA:
                    raise SelectorError(f"found '{literal}', expected: ',' or ')'")
            elif kind == _COMMA:
                values.append("")
            elif kind == _RPAR:
                values.append("")
                break
            else:
                raise SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        return tuple(sorted(set(values)))


class LabelSelector:
    """A parsed label selector: all requirements must hold. The empty selector matches everything."""

    __slots__ = ("_requirements",)

    def __init__(self, requirements: tuple[_Requirement, ...] = ()) -> None:
        self._requirements = requirements

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse Kubernetes label-selector text; SelectorError, worded like the Kubernetes API, if it is bad."""
        return cls(tuple(_LabelParser(text).selector()))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with these labels (None: no labels) is selected."""
        if labels is None:
            labels = {}
        for requirement in self._requirements:
            if not requirement.matches(labels):
                return False
        return True

    def empty(self) -> bool:
        """True when the selector has no requirements (selects everything)."""
        return not self._requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        return f"LabelSelector.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSelector) and self._requirements == other._requirements

    def __hash__(self) -> int:
        return hash(self._requirements)


# --- field selector --------------------------------------------------------------------------------------

_FIELD_OPS = ("!=", "==", "=")  # tried in this order at each position, so "a!=b" is not "a!" = "b"


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped with a backslash; escapes stay in the terms."""
    terms, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ",":
            terms.append(text[start:i])
            start = i + 1
        i += 1
    terms.append(text[start:])
    return terms


def _unescape(value: str, term: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector: '{term}': invalid escape sequence in value "
                                    "(only '\\\\', '\\,' and '\\=' are allowed)")
            out.append(value[i + 1])
            i += 2
            continue
        if ch in ",=":
            raise SelectorError(f"invalid field selector: '{term}': unescaped '{ch}' in value")
        out.append(ch)
        i += 1
    return "".join(out)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _field_text(value: Any) -> str:
    """How a field's value compares with selector text: strings as they are, null/missing as "", others as
    JSON (true, 3, 1.5)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class FieldSelector:
    """A parsed field selector: `path=value` / `path!=value` terms, all of which must hold."""

    __slots__ = ("_terms",)

    def __init__(self, terms: tuple[tuple[str, bool, str], ...] = ()) -> None:
        self._terms = terms  # (dotted path, equal?, value)

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        """Parse `metadata.name=x,spec.nodeName!=`; SelectorError if a term has no operator or a bad escape."""
        terms: list[tuple[str, bool, str]] = []
        for term in _split_terms(text):
            if not term:
                continue
            for i in range(len(term)):
                op = next((o for o in _FIELD_OPS if term.startswith(o, i)), None)
                if op is not None:
                    break
            else:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
            path = term[:i].strip()
            if not path:
                raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}': no field name")
            terms.append((path, op != "!=", _unescape(term[i + len(op):], term)))
        return cls(tuple(terms))

    def fields(self) -> list[str]:
        """The field paths used, each once, in order of first use (the API server checks them per kind)."""
        return list(dict.fromkeys(path for path, _, _ in self._terms))

    def required_value(self, path: str) -> str | None:
        """The value an equality term demands of `path`, or None: lets a list narrow by key before decoding."""
        for term_path, equal, value in self._terms:
            if equal and term_path == path:
                return value
        return None

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether `obj` satisfies every term; each path is followed through nested objects."""
        for path, equal, value in self._terms:
            current: Any = obj
            for part in path.split("."):
                current = current.get(part) if isinstance(current, Mapping) else None
                if current is None:
                    break
            if (_field_text(current) == value) != equal:
                return False
        return True

    def empty(self) -> bool:
        """True when the selector has no terms (selects everything)."""
        return not self._terms

    def __str__(self) -> str:
        return ",".join(f"{p}{'=' if eq else '!='}{_escape(v)}" for p, eq, v in self._terms)

    def __repr__(self) -> str:
        return f"FieldSelector.parse({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSelector) and self._terms == other._terms

    def __hash__(self) -> int:
        return hash(self._terms)


def matcher(labels: LabelSelector | None, fields: FieldSelector | None) -> Callable[[Mapping[str, Any]], bool] | None:
    """Whether an object is selected by both (None when there are none): a watch's filter, on the server and
    in a shared informer's views alike."""
    if labels is None and fields is None:
        return None

    def matches(obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return (labels is None or labels.matches(meta.get("labels"))) and (fields is None or fields.matches(obj))

    return matches
