"""Reading Berth resources from user YAML or JSON, with every problem reported by field path.

This is the one place user text becomes a model. It is strict, and it is helpful: a problem names the
field and, where it can, the fix:

    spec.gpu.value: expected a string like "1" or "0.5", got a list
    spec.nodetype: unknown field; did you mean spec.nodeType?
    spec.gpu: expected an object like {value: ...}, got a string ("1"); write gpu: {value: "1"}

All problems of a document are reported at once, and nothing is returned unless every document of the
input is valid, so a caller never acts on half of a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from berth.api.closest import suggest
from berth.api.registry import KINDS, CustomKind, by_kind
from berth.api.schema import Schema, alias_target, shared_schema
from berth.api.types import describe_input

#: Why a field is wrong, in the words of Kubernetes' Status causes (plus UnknownField for strict decoding).
UNKNOWN, INVALID, REQUIRED = "UnknownField", "FieldValueInvalid", "FieldValueRequired"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, at a field path (`spec.gpu.value`) or a line."""

    path: str
    message: str
    reason: str = INVALID
    value: Any = dataclass_field(default=None, compare=False, hash=False)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class LoadError(ValueError):
    """The input is not a valid resource; `problems` lists every reason."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + str(p) for p in problems))


@dataclass(frozen=True)
class Loaded:
    """A valid resource: its kind, its model and the document as the user wrote it."""

    kind: CustomKind
    obj: BaseModel
    document: dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it


class _StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """YAML as the Kubernetes API reads it: a duplicated key is an error, and times stay strings."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _field_name(key: Any, node: yaml.Node) -> str:
    """A mapping key as JSON has it: numbers and booleans become strings (as Kubernetes' YAML-to-JSON
    conversion makes them); anything else (null, a list, a map) cannot name a field."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return str(key)
    raise yaml.constructor.ConstructorError(
        None, None, f"a field name must be a string, not {_yaml_type(key)}: quote it", node.start_mark)


def _yaml_type(value: Any) -> str:
    return "null" if value is None else {list: "a list", dict: "a map"}.get(type(value), type(value).__name__)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _field_name(loader.construct_object(key_node, deep=deep), key_node)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f'duplicate field "{key}": give each field once', key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


#: The integers JSON decoding keeps exact (int64 and uint64, as Kubernetes' decoder); larger ones become
#: floats, as `orjson` makes them of a JSON body, so YAML and JSON bodies read the same.
_EXACT_INTS = range(-(2**63), 2**64)


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode) -> int | float:
    try:
        value = yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
        return value if value in _EXACT_INTS else _finite(float(value), node)
    except (ValueError, OverflowError):  # more digits than Python converts, or more than a float holds
        raise yaml.constructor.ConstructorError(
            None, None, f"the number {node.value[:20]}... is too large: quote it to make it a string",
            node.start_mark) from None


def _construct_float(loader: _StrictLoader, node: yaml.ScalarNode) -> float:
    return _finite(yaml.constructor.SafeConstructor.construct_yaml_float(loader, node), node)


def _finite(value: float, node: yaml.ScalarNode) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value} is not a number JSON can hold: quote it to make it a string", node.start_mark)
    return value


def _not_json(loader: _StrictLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"the YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')} has no JSON equivalent: write a string, number, list or map instead",
        node.start_mark)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
for _tag in ("binary", "set", "omap", "pairs", "timestamp"):
    _StrictLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _not_json)


def parse_documents(text: str, source: str = "") -> list[Any]:
    """The documents of a YAML stream (JSON is YAML too), empty documents dropped."""
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = exc.problem or str(exc)
        if exc.context and "duplicate" not in what:
            what = f"{exc.context}: {what}"
        raise LoadError([Problem(where, f"invalid YAML: {what}")], source) from None
    except yaml.YAMLError as exc:
        raise LoadError([Problem("", f"invalid YAML: {exc}")], source) from None
    except RecursionError:  # libyaml parses deeper than Python's stack lets its values be built
        raise LoadError([Problem("", "invalid YAML: it nests lists and maps hundreds of levels deep")], source) from None
    if "*" in text and not _expands_within(documents, len(text) + 10_000):
        raise LoadError([Problem("", "invalid YAML: its aliases (*name) expand to far more than the text holds; "
                                     "write the repeated parts out")], source)
    return [d for d in documents if d is not None]


def _expands_within(documents: list[Any], budget: int) -> bool:
    """Whether the documents, with every alias expanded (as JSON writes them), have at most `budget` values.

    Without aliases a value takes at least a character, so only aliases can exceed the text's length: a few
    lines of nested aliases ("billion laughs") expand to gigabytes once written as JSON. Go's YAML decoder,
    which Kubernetes uses, refuses such documents for the same reason."""
    stack: list[Any] = list(documents)
    while stack:
        budget -= 1
        if budget < 0:
            return False
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return True


# ---------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _step(schema: Schema | None, key: Any) -> tuple[Schema | None, bool]:
    """The schema one step down, and whether the step was a map key (not a named field)."""
    if schema is None:
        return None, False
    if isinstance(key, int) and schema.get("type") == "array":
        return schema.get("items"), True
    props = schema.get("properties", {})
    if key in props:
        return props[key], False
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return extra, True
    return None, False


def _walk(root: Schema, loc: tuple[Any, ...]) -> tuple[str, list[Schema | None]]:
    """The user-facing path of a pydantic location, and the schema at each step."""
    path = ""
    trail: list[Schema | None] = [root]
    schema: Schema | None = root
    for key in loc:
        schema, is_key = _step(schema, key)
        if isinstance(key, int):
            path += f"[{key}]"
        elif is_key and not _IDENTIFIER.match(str(key)):
            path += f"[{key}]"
        else:
            path += f".{key}" if path else str(key)
        trail.append(schema)
    return path, trail


def _is_wrapper(schema: Schema | None) -> bool:
    return bool(schema) and set(schema.get("properties", {})) == {"value"}


def _is_itemized(schema: Schema | None) -> bool:
    return bool(schema) and set(schema.get("properties", {})) == {"items"}


def _yaml_value(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _translate(error: dict[str, Any], root: Schema) -> Problem:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        path, trail = _walk(root, loc[:-1])
        name = str(loc[-1])
        parent = trail[-1] or {}
        full = f"{path}.{name}" if path else name
        if _is_itemized(parent):
            field = path.rsplit(".", 1)[-1]
            return Problem(
                full,
                f"unknown field; itemized fields list their entries under items: "
                f"write {field}: {{items: {{{name}: {{value: ...}}}}}}",
                UNKNOWN,
            )
        properties = parent.get("properties", {})
        primary = alias_target(properties[name]) if name in properties else None
        if primary:  # an alias given beside the field's first name
            return Problem(full, f"{name} and {primary} are the same field; give only one of them", UNKNOWN)
        hint = suggest(name, sorted(properties))
        if hint is None and not loc[:-1]:
            spec_fields = sorted(root.get("properties", {}).get("spec", {}).get("properties", {}))
            if name in spec_fields:
                return Problem(full, f"unknown field; did you mean spec.{name}? (it belongs under spec:)", UNKNOWN)
        message = "unknown field"
        if hint:
            message += f"; did you mean {path + '.' if path else ''}{hint}?"
        return Problem(full, message, UNKNOWN)

    path, trail = _walk(root, loc)
    schema = trail[-1]
    if kind == "missing":
        return Problem(path, "required field is missing", REQUIRED)
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        if _is_wrapper(schema) and not isinstance(value, (dict, list)):
            field = path.rsplit(".", 1)[-1]
            return Problem(
                path,
                f"expected an object like {{value: ...}}, got {describe_input(value)}; "
                f"write {field}: {{value: {_yaml_value(value)}}}",
                INVALID,
                value,
            )
        if _is_itemized(schema):
            return Problem(
                path, f"expected an object like {{items: {{LABEL: {{value: ...}}}}}}, got {describe_input(value)}",
                INVALID, value,
            )
        return Problem(path, f"expected an object, got {describe_input(value)}", INVALID, value)
    if kind == "list_type":
        return Problem(path, f"expected a list, got {describe_input(value)}", INVALID, value)
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    context = error.get("ctx") or {}
    if "at" in context:  # a rule between fields, reported at the field that breaks it (types.field_error)
        path = f"{path}.{context['at']}" if path else str(context["at"])
        value = context.get("culprit")
    return Problem(path, message, INVALID, value)


def _check_header(document: dict[str, Any]) -> tuple[CustomKind | None, list[Problem]]:
    api_version, kind_name = document.get("apiVersion"), document.get("kind")
    problems = []
    if not isinstance(kind_name, str) or not kind_name:
        problems.append(Problem("kind", "required field is missing; e.g. kind: TrainingWorkload"))
    if not isinstance(api_version, str) or not api_version:
        problems.append(Problem("apiVersion", "required field is missing; e.g. apiVersion: run.ai/v2alpha1"))
    if problems:
        return None, problems
    kind = by_kind(kind_name)
    if kind is None:
        hint = suggest(kind_name, [k.kind for k in KINDS])
        fix = f"; did you mean {hint}?" if hint else ""
        return None, [Problem("kind", f'unknown kind "{kind_name}"{fix}')]
    if kind.api_version != api_version:
        return None, [Problem("apiVersion", f'{kind.kind} is served as {kind.api_version}, not "{api_version}"')]
    return kind, []


def validate(document: Any, source: str = "") -> Loaded:
    """One parsed document as a valid resource, or a LoadError listing every problem."""
    if not isinstance(document, dict):
        raise LoadError([Problem("", f"expected an object (a resource), got {describe_input(document)}")], source)
    kind, problems = _check_header(document)
    if kind is None:
        raise LoadError(problems, source)
    obj, found = check(kind, document)
    if obj is None:
        raise LoadError(found, source)
    return Loaded(kind, obj, document)


def check(kind: CustomKind, document: dict[str, Any]) -> tuple[BaseModel | None, list[Problem]]:
    """Validate a document of a known kind: the model, or None and every problem (the API server's entry)."""
    try:
        return kind.model.model_validate(document), []
    except ValidationError as exc:
        root = shared_schema(kind)
        found = [_translate(e, root) for e in exc.errors(include_url=False)]
        return None, list(dict.fromkeys(found))


def load(text: str, source: str = "") -> list[Loaded]:
    """Every resource of a YAML or JSON text; all valid, or a LoadError naming each problem."""
    documents = parse_documents(text, source)
    loaded: list[Loaded] = []
    problems: list[Problem] = []
    for index, document in enumerate(documents):
        try:
            loaded.append(validate(document))
        except LoadError as exc:
            name = document.get("metadata", {}).get("name") if isinstance(document, dict) else None
            where = f"document {index + 1}" + (f" ({name})" if name else "") if len(documents) > 1 else ""
            problems += [Problem(f"{where}: {p.path}" if where and p.path else where or p.path, p.message)
                         for p in exc.problems]
    if problems:
        raise LoadError(problems, source)
    return loaded


def load_file(path: str | Path) -> list[Loaded]:
    """Every resource of a YAML or JSON file."""
    p = Path(path)
    return load(p.read_text(encoding="utf-8"), source=str(p))
