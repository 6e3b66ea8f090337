"""The resources the API server serves: its view of the table of kinds in `berth.api.registry` (Berth's own
kinds and the few core Kubernetes kinds the controllers, scheduler and node agents need).

A `Resource` is a registry entry plus what only the server needs: its key in the store, the field
selectors every kind supports, and, for Berth's own kinds, the entry whose model validates and whose
columns make Tables. Names, scope, subresources and verbs are the registry's and are not written here.
Core kinds are stored as plain objects with light validation: Berth does not model all of Kubernetes.
Everything that routes a request, answers discovery or builds an OpenAPI document reads this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.api.registry import ALL, CustomKind, Kind
from berth.store import ResourceRef

STATUS_VERBS = ("get", "patch", "update")

#: Field selectors every kind supports, as the real API server does.
BASE_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class Resource(Kind):
    """One served resource: how it is named, addressed and checked."""

    #: The Berth kind for custom resources: its model validates, its schema documents.
    model: CustomKind | None = None

    @classmethod
    def of(cls, kind: Kind) -> Resource:
        """The server's view of a registry entry."""
        return cls(**kind.facts(), model=kind if isinstance(kind, CustomKind) else None)

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.group, self.plural)

    @property
    def builtin(self) -> bool:
        return self.model is None

    def selectable(self) -> frozenset[str]:
        return BASE_FIELDS | self.field_selectors


RESOURCES: tuple[Resource, ...] = tuple(Resource.of(k) for k in ALL)

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
