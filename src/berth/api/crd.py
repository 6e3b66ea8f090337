"""CustomResourceDefinitions (apiextensions.k8s.io/v1) for every Berth kind, generated from the models.

`berth crds` prints them; `deploy/` installs them into a real cluster, and the embedded API server
serves the same schemas. A CRD here is pure data: building one touches no cluster.
"""

from __future__ import annotations

from typing import Any

import yaml

from berth.api.registry import KINDS, CustomKind
from berth.api.schema import crd_schema


def crd(kind: CustomKind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    names: dict[str, Any] = {
        "kind": kind.kind,
        "listKind": f"{kind.kind}List",
        "plural": kind.plural,
        "singular": kind.singular,
    }
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    if kind.categories:
        names["categories"] = list(kind.categories)
    version: dict[str, Any] = {
        "name": kind.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": crd_schema(kind)},
        "additionalPrinterColumns": [c.to_crd() for c in kind.columns],
    }
    if kind.has_status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.qualified,
            "labels": {"app.kubernetes.io/part-of": "berth"},
        },
        "spec": {
            "group": kind.group,
            "names": names,
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [version],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """The CRDs of every kind, in the registry's order."""
    return [crd(k) for k in KINDS]


class _PlainDumper(yaml.SafeDumper):
    """Writes YAML without anchors and aliases, which Kubernetes tooling handles poorly."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(documents: list[dict[str, Any]]) -> str:
    """Documents as one multi-document YAML stream, keys in the order given."""
    return yaml.dump_all(documents, Dumper=_PlainDumper, sort_keys=False, width=100, allow_unicode=True)
