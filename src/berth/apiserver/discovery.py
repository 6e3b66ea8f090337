"""Discovery: `/version`, aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) and the legacy
`/api`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}` documents, all built from the resource table.

kubectl decides how to parse `/api` and `/apis` from the response Content-Type, so the aggregated form
must be answered with the exact media type it asked for; kopf and kr8s use only the legacy form.
"""

from __future__ import annotations

import hashlib
from typing import Any

from berth import __version__
from berth.apiserver.resources import STATUS_VERBS, Resource, group_versions, in_group_version

#: The Kubernetes minor version Berth reports (see the protocol notes: 29 to 33 work with every kubectl
#: command; 32 is the middle of that range).
KUBE_MINOR = "32"

AGGREGATED = {
    "v2": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    "v2beta1": "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
}


def version_info() -> dict[str, str]:
    return {
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": f"v1.{KUBE_MINOR}.0+berth-{__version__}",
        "gitCommit": "berth",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "berth",
        "platform": "linux/amd64",
    }


def negotiate_aggregated(accept: str) -> str | None:
    """The aggregated discovery version the client accepts (`v2` or `v2beta1`), or None for legacy."""
    for part in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in part.split(";")[1:])}
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in AGGREGATED:
                return params["v"]
    return None


def _gvk(resource: Resource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind}


def _sub_verbs(sub: str) -> list[str]:
    return {"status": list(STATUS_VERBS), "log": ["get"], "binding": ["create"], "eviction": ["create"]}[sub]


def _aggregated_resource(resource: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "singularResource": resource.singular,
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "responseKind": _gvk(resource),
        "verbs": sorted(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    subs = []
    for sub in resource.subresources:
        kind = _gvk(resource) if sub == "status" else {"group": "", "version": "v1", "kind": _SUB_KIND[sub]}
        subs.append({"subresource": sub, "responseKind": kind, "verbs": _sub_verbs(sub)})
    if subs:
        entry["subresources"] = subs
    return entry


_SUB_KIND = {"log": "Pod", "binding": "Binding", "eviction": "Eviction"}


def aggregated(version: str, core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList for `/api` (core=True) or `/apis`."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for group, gv_version in group_versions():
        if (group == "") != core:
            continue
        groups.setdefault(group, []).append({
            "version": gv_version,
            "freshness": "Current",
            "resources": [_aggregated_resource(r) for r in in_group_version(group, gv_version)],
        })
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": [{"metadata": {"name": g, "creationTimestamp": None}, "versions": v} for g, v in groups.items()],
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(group: str) -> dict[str, Any] | None:
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in group_versions() if g == group and g]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    groups = []
    for group in dict.fromkeys(g for g, _ in group_versions() if g):
        found = api_group(group)
        assert found is not None
        found = dict(found)
        del found["kind"], found["apiVersion"]
        groups.append(found)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    served = in_group_version(group, version)
    if not served:
        return None
    resources = []
    for r in served:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": sorted(r.verbs),
            "storageVersionHash": hashlib.sha256(f"{r.group}/{r.version}/{r.kind}".encode()).hexdigest()[:11],
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for sub in r.subresources:
            resources.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                              "kind": r.kind if sub == "status" else _SUB_KIND[sub], "verbs": _sub_verbs(sub)})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": served[0].group_version,
            "resources": resources}

