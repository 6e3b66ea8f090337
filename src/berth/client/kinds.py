"""Which URL a kind lives at: names as users write them ("TrainingWorkload", "tw", "pods") resolved to a
`ResourceKind` with group, version, plural and scope.

Berth's own kinds come from `berth.api.registry` and the core kinds from `berth.api.core`: the same lists
the CRDs and the API server read. No discovery round-trips: the set of kinds is known when Berth is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from berth.api.core import CORE_KINDS
from berth.api.registry import KINDS
from berth.client.errors import UnknownKind


@dataclass(frozen=True)
class ResourceKind:
    """One kind of object and where it is served."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`trainingworkloads.run.ai` or `pods`, as the server names it in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def names(self) -> set[str]:
        """Every name a user may call the kind by, lower-cased."""
        return {self.kind.lower(), self.plural, *self.short_names}

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


CORE: tuple[ResourceKind, ...] = tuple(
    ResourceKind(k.group, k.version, k.kind, k.plural, k.namespaced, k.short_names) for k in CORE_KINDS
)

ALL: tuple[ResourceKind, ...] = CORE + tuple(
    ResourceKind(k.group, k.version, k.kind, k.plural, k.namespaced, k.short_names) for k in KINDS
)

_BY_NAME = {name: k for k in ALL for name in k.names()}
_BY_API = {(k.api_version, k.kind): k for k in ALL}


def resolve(kind: str | ResourceKind) -> ResourceKind:
    """The kind meant by a name: Kind, plural or short name in any case, optionally `plural.group`.

    A `ResourceKind` passes through, so callers can address kinds this table does not list.
    """
    if isinstance(kind, ResourceKind):
        return kind
    key = kind.lower()
    found = _BY_NAME.get(key)
    if found is None:
        head, _, group = key.partition(".")
        candidate = _BY_NAME.get(head)
        if candidate is not None and group in (candidate.group, f"{candidate.version}.{candidate.group}"):
            found = candidate
    if found is None:
        raise UnknownKind(kind, sorted({n for k in ALL for n in (k.kind, k.plural)}))
    return found


def of_object(obj: dict[str, Any]) -> ResourceKind:
    """The kind of an object, from its apiVersion and kind."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not api_version or not kind:
        raise ValueError("the object needs apiVersion and kind")
    found = _BY_API.get((api_version, kind))
    if found is None:
        raise UnknownKind(f"{kind} ({api_version})", [f"{k.kind} ({k.api_version})" for k in ALL])
    return found
