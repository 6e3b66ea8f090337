"""The admission chain: mutating plugins, then validating plugins, between schema checks and the store.

Order on every create and update (as in Kubernetes): decode -> schema check (unknown fields, types) ->
mutating admission (defaults, e.g. policy defaults) -> schema check of the mutated object -> validating
admission (rules, e.g. policy limits) -> store. A plugin sees plain dicts, may read other objects through
`Reader` (a policy plugin looks up the project's policy), and refuses with an `ApiError`.

Plugins must not write: with `dryRun=All` nothing may change, and a refusal later in the chain must leave
no trace. The same plugins run behind an AdmissionReview webhook on a real cluster (issue C/J).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from berth.apiserver.resources import Resource


class Reader(Protocol):
    """Read access to stored objects for plugins."""

    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list(self, resource: Resource, namespace: str | None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Request:
    """One write as admission sees it."""

    operation: str  # CREATE, UPDATE or DELETE
    resource: Resource
    namespace: str
    name: str
    object: dict[str, Any] | None
    old_object: dict[str, Any] | None
    dry_run: bool = False
    subresource: str = ""
    user: str = "admin"


class MutatingPlugin(Protocol):
    name: str

    def mutate(self, request: Request, reader: Reader) -> dict[str, Any] | None:
        """The changed object, or None to leave it as it is."""


class ValidatingPlugin(Protocol):
    name: str

    def validate(self, request: Request, reader: Reader) -> None:
        """Raise an ApiError to refuse the write."""


@dataclass
class Chain:
    """The plugins of one server, in order."""

    mutating: list[MutatingPlugin] = field(default_factory=list)
    validating: list[ValidatingPlugin] = field(default_factory=list)

    def mutate(self, request: Request, reader: Reader) -> dict[str, Any] | None:
        obj = request.object
        for plugin in self.mutating:
            changed = plugin.mutate(replace(request, object=obj), reader)
            if changed is not None:
                obj = changed
        return obj

    def validate(self, request: Request, reader: Reader) -> None:
        for plugin in self.validating:
            plugin.validate(request, reader)

