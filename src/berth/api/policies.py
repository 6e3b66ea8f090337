"""The four policy kinds (`InteractivePolicy`, `TrainingPolicy`, `DistributedPolicy`, `InferencePolicy`),
generated field by field from the workload kinds so that each policy has exactly its workload's fields.

The v2alpha1 policy shapes (Run:ai notes, section 3.2):

* a scalar field `gpu: {rules: {required, min, max, canEdit, options}, value: "1"}`, where `value` is the
  default a workload gets and `rules` limit what it may ask for; `min`/`max` only for numbers and
  quantities;
* an itemized field `ports: {rules: {canAdd, required}, itemRules: {<member>: rules}, items: {<label>:
  {rules: {canRemove, canEdit}, value: {...}}}}`, where the item labelled `DEFAULTS` supplies member
  defaults to every other item;
* a group (`runPolicy`, `masterSpec`, ...) holds the policy fields of its members.

Applying a policy (lookup, composition, rule checks) belongs to `berth.policy`; this module only says
what a policy may contain, and rejects policies that contradict themselves in one field (min > max).
"""

from __future__ import annotations

import functools
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, create_model, model_validator
from berth.api.base import Items, Model, Value, annotation_of, generic_arg, marker_of, strip_optional
from berth.api.meta import ObjectMeta
from berth.api.registry import POLICY_OF
from berth.api.types import Boolean, String, amount, field_error
from berth.api.workloads import WORKLOAD_SPECS

T = TypeVar("T")

#: The item label whose value supplies defaults to the members of every other item.
DEFAULTS_ITEM = "DEFAULTS"


class FlagRules(Model):
    """Rules for a true/false field."""

    required: Boolean | None = Field(None, description="true: every workload must end up with a value.")
    canEdit: Boolean | None = Field(
        None, description="false: workloads must keep the policy's value (the UI shows it read-only). Default true."
    )


class TextRules(Model, Generic[T]):
    """Rules for a text or choice field."""

    required: Boolean | None = Field(None, description="true: every workload must end up with a value.")
    canEdit: Boolean | None = Field(
        None, description="false: workloads must keep the policy's value (the UI shows it read-only). Default true."
    )
    options: list[T] | None = Field(None, description="The only values a workload may choose from.")


class NumberRules(Model, Generic[T]):
    """Rules for a number or quantity field."""

    required: Boolean | None = Field(None, description="true: every workload must end up with a value.")
    canEdit: Boolean | None = Field(
        None, description="false: workloads must keep the policy's value (the UI shows it read-only). Default true."
    )
    min: T | None = Field(None, description="Smallest value a workload may ask for (quantities compare by amount).")
    max: T | None = Field(None, description="Largest value a workload may ask for (quantities compare by amount).")
    options: list[T] | None = Field(None, description="The only values a workload may choose from.")

    @model_validator(mode="after")
    def _min_le_max(self) -> "NumberRules[T]":
        if self.min is not None and self.max is not None and amount(self.min) > amount(self.max):
            raise field_error("min", "must be no greater than rules.max ({hi})", self.min, hi=self.max)
        return self


class ItemsRules(Model):
    """Rules for an itemized field as a whole."""

    canAdd: Boolean | None = Field(
        None, description="false: workloads may not add items beyond the policy's. Default true."
    )
    required: Boolean | None = Field(None, description="true: every workload must end up with at least one item.")


class ItemRules(Model):
    """Rules for one of the policy's default items."""

    canRemove: Boolean | None = Field(
        None, description="false: workloads may not remove the item (deleted: true). Default true."
    )
    canEdit: Boolean | None = Field(None, description="false: workloads may not change the item. Default true.")


class PolicyItem(Model, Generic[T]):
    """A default item of an itemized policy field."""

    rules: ItemRules | None = Field(None, description="What workloads may do with this item.")
    value: T | None = Field(None, description="The item's default value.")


def rules_for(annotation: Any) -> type[Model]:
    """The rules model fitting a leaf type: flags, text/choices, or numbers/quantities."""
    marker = marker_of(annotation)
    schema = marker.schema if marker else {}
    if schema.get("type") == "boolean":
        return FlagRules
    if schema.get("type") in ("integer", "number") or schema.get("x-kubernetes-int-or-string"):
        return NumberRules[annotation]
    return TextRules[annotation]


def _type_name(annotation: Any) -> str:
    """A class-name stem for a field type, from its OpenAPI schema: String, Integer, Quantity, Choice..."""
    marker = marker_of(annotation)
    schema = marker.schema if marker else {}
    if "enum" in schema:
        return "Choice"
    if schema.get("x-kubernetes-int-or-string"):
        return "Quantity"
    return str(schema.get("type", "value")).title()


_POLICY_NOTE = "In a policy: value is the default a workload gets, and rules limit what it may set."


@functools.cache
def _scalar_policy(annotation: Any) -> type[Model]:
    """The policy of one scalar field: made once per field type (many fields share one), which keeps the
    policy kinds quick to build on every start of a Berth command."""
    return create_model(
        f"{_type_name(annotation)}Policy",
        __base__=Model,
        rules=(rules_for(annotation) | None, Field(None, description="Limits on what a workload may set.")),
        value=(annotation | None, Field(None, description="Default given to workloads that leave the field out.")),
    )


@functools.cache
def _member_rules(item_model: type[BaseModel]) -> type[Model]:
    fields: dict[str, Any] = {}
    for member, info in item_model.model_fields.items():
        annotation = strip_optional(annotation_of(info))
        fields[member] = (
            rules_for(annotation) | None,
            Field(None, description=f"Rules for the member {member} of every item."),
        )
    return create_model(f"{item_model.__name__}Rules", __base__=Model, **fields)


@functools.cache
def _items_policy(value_type: Any, name: str) -> type[Model]:
    """The policy of an itemized field: made once per field name and item type, shared by the kinds."""
    fields: dict[str, Any] = {
        "rules": (ItemsRules | None, Field(None, description="Rules for the field as a whole.")),
        "items": (
            dict[str, PolicyItem[value_type]] | None,
            Field(
                None,
                description=(
                    "Default items by label, each with its own rules. The item labelled DEFAULTS is not an item: "
                    "its value supplies defaults to the members of every other item."
                ),
            ),
        ),
    }
    if isinstance(value_type, type) and issubclass(value_type, BaseModel):
        fields["itemRules"] = (
            _member_rules(value_type) | None,
            Field(None, description="Rules for the members of every item."),
        )
    return create_model(f"{name}ItemsPolicy", __base__=Model, **fields)


@functools.cache
def policy_model_for(model: type[BaseModel]) -> type[Model]:
    """The policy twin of a workload spec (or of a group within one), field by field."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = strip_optional(annotation_of(info))
        title = name[:1].upper() + name[1:]
        if (arg := generic_arg(annotation, Value)) is not None:
            policy = _scalar_policy(arg)
        elif (arg := generic_arg(annotation, Items)) is not None:
            policy = _items_policy(arg, title)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            policy = policy_model_for(annotation)
        else:  # a plain value: usage, baseWorkload, jobType
            policy = _scalar_policy(annotation)
        description = f"{info.description or ''} {_POLICY_NOTE}".strip()
        extra: dict[str, Any] = {"description": description}
        if info.serialization_alias:
            extra["serialization_alias"] = info.serialization_alias
            extra["validation_alias"] = info.validation_alias
        fields[name] = (policy | None, Field(None, **extra))
    stem = model.__name__.removesuffix("Spec").removesuffix("Fields")
    return create_model(f"{stem}PolicySpec", __base__=Model, __doc__=model.__doc__, **fields)


def _policy_kind(workload_kind: str) -> type[Model]:
    policy_kind = POLICY_OF[workload_kind]
    spec = policy_model_for(WORKLOAD_SPECS[workload_kind])
    doc = (
        f"Constraints and defaults for every {workload_kind} of a project (in its namespace runai-<project>) "
        f"or, in the namespace runai, of every project that has no {policy_kind} of its own. Each field of "
        f"the {workload_kind} has its counterpart here."
    )
    return create_model(
        policy_kind,
        __base__=Model,
        __doc__=doc,
        apiVersion=(String, Field(..., description="run.ai/v2alpha1")),
        kind=(String, Field(..., description=policy_kind)),
        metadata=(ObjectMeta, Field(default_factory=ObjectMeta, description="Standard object metadata.")),
        spec=(spec, Field(default_factory=spec, description="Per field: rules and a default value.")),
    )


InteractivePolicy = _policy_kind("InteractiveWorkload")
TrainingPolicy = _policy_kind("TrainingWorkload")
DistributedPolicy = _policy_kind("DistributedWorkload")
InferencePolicy = _policy_kind("InferenceWorkload")

POLICY_FOR_WORKLOAD: dict[str, type[Model]] = {
    "InteractiveWorkload": InteractivePolicy,
    "TrainingWorkload": TrainingPolicy,
    "DistributedWorkload": DistributedPolicy,
    "InferenceWorkload": InferencePolicy,
}
