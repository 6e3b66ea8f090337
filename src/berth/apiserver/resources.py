"""The resources the API server serves: Berth's own kinds (from `berth.api.registry`) and the few core
Kubernetes kinds the controllers, scheduler and node agents need.

Core kinds are stored as plain objects with light validation: Berth does not model all of Kubernetes.
Everything that routes a request, answers discovery or builds an OpenAPI document reads this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from berth.api.core import CORE_KINDS, CoreKind
from berth.api.registry import KINDS, Kind
from berth.store import ResourceRef

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")

#: Field selectors every kind supports, as the real API server does.
BASE_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class Resource:
    """One served resource: how it is named, addressed and checked."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    #: Field selectors beyond metadata.name and metadata.namespace.
    fields: frozenset[str] = field(default_factory=frozenset)
    #: The Berth kind for custom resources: its model validates, its schema documents.
    model: Kind | None = None

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.group, self.plural)

    @property
    def qualified(self) -> str:
        """`trainingworkloads.run.ai` or `pods`: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def builtin(self) -> bool:
        return self.model is None

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def selectable(self) -> frozenset[str]:
        return BASE_FIELDS | self.fields


def _custom(kind: Kind) -> Resource:
    return Resource(
        group=kind.group,
        version=kind.version,
        kind=kind.kind,
        plural=kind.plural,
        namespaced=kind.namespaced,
        short_names=kind.short_names,
        categories=kind.categories,
        subresources=("status",) if kind.has_status else (),
        model=kind,
    )


def _core(kind: CoreKind) -> Resource:
    return Resource(kind.group, kind.version, kind.kind, kind.plural, namespaced=kind.namespaced,
                    short_names=kind.short_names, categories=kind.categories, subresources=kind.subresources,
                    fields=kind.fields)


CORE: tuple[Resource, ...] = tuple(_core(k) for k in CORE_KINDS)

RESOURCES: tuple[Resource, ...] = CORE + tuple(_custom(k) for k in KINDS)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.group, r.kind): r for r in RESOURCES}


def find(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at /api(s)/{group}/{version}/{plural}."""
    return _BY_PATH.get((group, version, plural))


def by_kind(group: str, kind: str) -> Resource | None:
    """The resource of a kind (owner references and events name kinds, not plurals)."""
    return _BY_KIND.get((group, kind))


def group_versions() -> list[tuple[str, str]]:
    """Served (group, version) pairs, core first, in a stable order."""
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen


def in_group_version(group: str, version: str) -> list[Resource]:
    return [r for r in RESOURCES if r.group == group and r.version == version]
