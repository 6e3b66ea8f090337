"""Which URL a kind lives at: names as users write them ("TrainingWorkload", "tw", "pods") resolved to a
`ResourceKind`, the client's view of an entry of `berth.api.registry` with the URL paths it is served at.

Names, scope and the rules of resolution are the registry's (the same table the CRDs, the API server and
the CLI read); this module only adds URL building. No discovery round-trips: the set of kinds is known when
Berth is built. A `ResourceKind` made by hand addresses a kind the table does not list (`apps/v1`
Deployments, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from berth.api import registry
from berth.api.closest import suggest
from berth.client.errors import UnknownKind


@dataclass(frozen=True)
class ResourceKind(registry.Kind):
    """One kind of object and where it is served."""

    @classmethod
    def of(cls, kind: registry.Kind) -> ResourceKind:
        """The client's view of a registry entry."""
        return kind if isinstance(kind, ResourceKind) else cls(**kind.facts())

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The URL path: `namespace` None addresses every namespace (list and watch only)."""
        parts = ["api", self.version] if not self.group else ["apis", self.group, self.version]
        if self.namespaced and namespace is not None:
            parts += ["namespaces", quote(namespace, safe="")]
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/" + "/".join(parts)


_VIEW: dict[registry.Kind, ResourceKind] = {k: ResourceKind.of(k) for k in registry.ALL}

#: Every kind the API server serves, as the client addresses it.
ALL: tuple[ResourceKind, ...] = tuple(_VIEW.values())


def resolve(kind: str | registry.Kind) -> ResourceKind:
    """The kind meant by a name: Kind, plural or short name in any case, optionally `plural.group`.

    A registry entry (what `berth.api.registry.resolve` returns) or a `ResourceKind` passes through, so
    callers can address kinds this table does not list.
    """
    if isinstance(kind, registry.Kind):
        return _VIEW.get(kind) or ResourceKind.of(kind)
    try:
        return _VIEW[registry.resolve(kind)]
    except registry.UnknownKind as exc:
        raise UnknownKind(exc.name, exc.hint) from None


def of_object(obj: dict[str, Any]) -> ResourceKind:
    """The kind of an object, from its apiVersion and kind."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not api_version or not kind:
        raise ValueError("the object needs apiVersion and kind")
    found = registry.by_api_version(api_version, kind)
    if found is None:
        name = f"{kind} ({api_version})"
        raise UnknownKind(name, suggest(name, [f"{k.kind} ({k.api_version})" for k in registry.ALL]))
    return _VIEW[found]
