"""CustomResourceDefinitions on `berth up`: the CRDs of the kinds it serves, listed as a real cluster lists
them, and nothing more.

Berth's kinds are built into the server, so a CRD here is a record, not an instruction: `berth up` starts
with the CRD of every kind it serves (from `berth.api.crd`, what `berth crds` prints), Established, so
`kubectl get crd` and `kubectl wait --for condition=established` work, and so does applying `berth crds`
(the README's step for a real cluster) to it. It refuses what would pretend otherwise:
- a CRD of any other kind (403: it cannot serve new ones);
- a CRD of a served kind whose spec differs from the one it serves (422 naming the first difference: a
  changed schema would change nothing it does);
- deleting one (403: the kind would still be served).
"""

from __future__ import annotations

from typing import Any

from berth.api.crd import all_crds
from berth.apiserver import errors
from berth.apiserver.admission import Reader, Request
from berth.apiserver.resources import find

CRDS = find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
SERVED: dict[str, dict[str, Any]] = {c["metadata"]["name"]: c for c in all_crds()}


def established(crd: dict[str, Any]) -> dict[str, Any]:
    """The status a real cluster gives a CRD it serves."""
    spec = crd["spec"]
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted"},
    ]
    return {"acceptedNames": spec["names"], "conditions": conditions,
            "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")]}


def _first_difference(got: Any, want: Any, path: str) -> str | None:
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            found = _first_difference(got.get(key), want.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for i, (a, b) in enumerate(zip(got, want)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if got == want else path


class CrdGuard:
    """Validating admission of CustomResourceDefinitions: only those of the served kinds, as served."""

    name = "crds"

    def validate(self, request: Request, reader: Reader) -> None:
        if request.resource is not CRDS or request.subresource:
            return
        qualified = f'{CRDS.qualified} "{request.name}"'
        served = SERVED.get(request.name)
        if request.operation == "DELETE":
            raise errors.forbidden(
                f"{qualified} is forbidden: the kinds of berth up are built in, and deleting the CRD would not stop "
                f"serving {request.name}", request.name, CRDS.group, CRDS.plural)
        if served is None:
            raise errors.forbidden(
                f"{qualified} is forbidden: berth up serves a fixed set of kinds (the CRDs of berth crds) and cannot "
                "serve new ones; try this CRD on a Kubernetes cluster (kind, k3s...)", request.name, CRDS.group,
                CRDS.plural)
        differs = _first_difference((request.object or {}).get("spec"), served["spec"], "spec")
        if differs:
            kind = served["spec"]["names"]["plural"]
            raise errors.invalid(CRDS.kind, CRDS.group, request.name, [{
                "reason": "FieldValueForbidden", "field": differs,
                "message": f"Forbidden: berth up serves {request.name} as it is built, and this CRD differs from it; "
                           f"apply the one this Berth prints (berth crds --kind {kind}), or use a cluster for "
                           "another definition"}])


def bootstrap(api: Any) -> None:
    """Make the CRD of every served kind exist as it is served, Established (idempotent; after an upgrade,
    the stored CRDs are brought to what this Berth serves)."""
    from berth.apiserver.api import WriteOptions

    for name, crd in SERVED.items():
        stored = api.store.get(CRDS.ref, "", name)
        if stored is None:
            stored = api.create(CRDS, "", crd, WriteOptions(manager="berth")).obj
        elif stored.get("spec") != crd["spec"]:
            stored = api.update(CRDS, "", name, {**stored, "spec": crd["spec"]}, WriteOptions(manager="berth")).obj
        if stored.get("status") != established(crd):
            api.update(CRDS, "", name, {**stored, "status": established(crd)}, WriteOptions(), "status")
