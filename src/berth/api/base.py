"""Building blocks shared by every Berth resource model: the base class, field documentation and the
Run:ai value shapes.

Run:ai's `v2alpha1` workloads wrap every scalar spec field in an object, `gpu: {value: "1"}`, and keep
multi-valued fields as labelled items, `environment: {items: {HOME: {value: /home/u}}}`, where an item may
instead say `{deleted: true}` to drop an item inherited from a template or a policy. `Value` and `Items`
are those two shapes; policies mirror them (see `berth.api.policies`).

`field()` is the one place a field's documentation is written. The description it composes (what the
field does, its unit, its default, and which `runai submit` flag sets it) is what `kubectl explain`,
`berth explain`, the CRDs, the CLI help and the UI labels show. The same facts are kept structured in
the field's `json_schema_extra["x-berth"]` so the CLI can generate its flags from them.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo

from berth.api.types import Boolean, OpenAPI, field_error

T = TypeVar("T")

#: Key under which a field's structured documentation is kept in `json_schema_extra`.
DOC_KEY = "x-berth"


class Model(BaseModel):
    """Base of every Berth model: unknown fields are errors (with a suggestion, see `berth.api.load`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=False)

    def to_dict(self) -> dict[str, Any]:
        """The object as a user wrote it: aliases resolved, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def field(
    text: str,
    *,
    flag: str | None = None,
    unit: str | None = None,
    default: str | None = None,
    aliases: tuple[str, ...] = (),
    required: bool = False,
    yaml_only: bool = True,
) -> Any:
    """Document a field once: the description shown everywhere is composed from these parts.

    `flag` is the `runai submit` flag that sets the field (`"--gpu, -g"`); `yaml_only=False` with no flag
    is for fields nobody sets by hand (status). `aliases` are other accepted names (`replicas` for
    `workers`); the first name is the one written back.
    """
    parts = [text.strip()]
    if unit:
        parts.append(f"Unit: {unit}.")
    if default:
        parts.append(f"Default: {default}.")
    if flag:
        command = "runai" if flag.startswith("submit-") else "runai submit"
        parts.append(f"Set with `{command} {flag}`.")
    elif yaml_only:
        parts.append("No runai submit flag sets it; set it in YAML.")
    doc = {"flag": flag, "unit": unit, "default": default}
    kwargs: dict[str, Any] = {
        "description": " ".join(parts),
        "json_schema_extra": {DOC_KEY: doc},
    }
    if aliases:
        kwargs["validation_alias"] = AliasChoices(*aliases)
        kwargs["serialization_alias"] = aliases[0]
    if required:
        return Field(..., **kwargs)
    return Field(None, **kwargs)


def status_field(text: str, *, unit: str | None = None) -> Any:
    """A field the system writes (status); it carries no flag note."""
    return field(text, unit=unit, yaml_only=False)


def annotation_of(info: FieldInfo) -> Any:
    """A field's declared type with its `Annotated` metadata put back (pydantic moves it to `metadata`)."""
    if info.metadata:
        return Annotated[(info.annotation, *info.metadata)]
    return info.annotation


def strip_optional(annotation: Any) -> Any:
    """`X` for `X | None`; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def marker_of(annotation: Any) -> OpenAPI | None:
    """The OpenAPI marker of a leaf type (see `berth.api.types`), if it has one."""
    for extra in getattr(annotation, "__metadata__", ()):
        if isinstance(extra, OpenAPI):
            return extra
    return None


def generic_arg(model: Any, base: type) -> Any | None:
    """`X` when `model` is `base[X]` (e.g. `Value[String]`), else None."""
    meta = getattr(model, "__pydantic_generic_metadata__", None)
    if meta and meta.get("origin") is base:
        return meta["args"][0]
    return None


class Value(Model, Generic[T]):
    """A Run:ai scalar field: the value sits under the key `value`.

    An empty wrapper (`gpu: {}`) is the same as leaving the field out, as in Run:ai's CRDs, where `value`
    is not a required member.
    """

    value: T | None = None


class Item(Model, Generic[T]):
    """One labelled item of an itemized field: its value, or `deleted: true` to drop an inherited item."""

    value: T | None = Field(None, description="The item's value.")
    deleted: Boolean | None = Field(
        None,
        description=(
            "true removes the item of this label inherited from the base workload or the policy's defaults. "
            "Give either value or deleted, not both."
        ),
    )

    @model_validator(mode="after")
    def _value_or_deleted(self) -> "Item[T]":
        if self.deleted and self.value is not None:
            raise field_error("deleted", "give either value or deleted: true, not both")
        if not self.deleted and self.value is None:
            raise field_error("value", "an item needs a value (or deleted: true to remove an inherited item)")
        return self


class Items(Model, Generic[T]):
    """A Run:ai itemized field: labelled items, merged by label with the base workload and policy."""

    items: dict[str, Item[T]] = Field(
        default_factory=dict,
        description="The items, keyed by a label of your choice; the label is how items are merged and removed.",
    )
