"""PersistentVolumeClaims a workload asks Berth to create (`pvcs` items with `existingPvc: false`).

A claim is named by its `claimName`, else `<workload>-<item label>`. An `ephemeral` claim is owned by the
workload and deleted with it; any other outlives the workload, as data usually should.
"""

from __future__ import annotations

from berth.controllers.plan import Obj, meta
from berth.controllers.podspec import workload_labels
from berth.controllers.services import owner
from berth.controllers.volumes import claim_name


def new_claims(workload: Obj) -> list[Obj]:
    claims = []
    m = meta(workload)
    for label, entry in sorted((((workload.get("spec") or {}).get("pvcs") or {}).get("items") or {}).items()):
        item = (entry or {}).get("value") or {}
        if item.get("existingPvc", False):
            continue
        claim_meta: Obj = {"name": claim_name(m["name"], label, item), "namespace": m.get("namespace", ""),
                           "labels": workload_labels(workload)}
        if item.get("ephemeral"):
            claim_meta["ownerReferences"] = owner(workload)
        spec: Obj = {"accessModes": [item.get("accessMode") or "ReadWriteOnce"],
                     "resources": {"requests": {"storage": str(item.get("size") or "1Gi")}}}
        if item.get("storageClass"):
            spec["storageClassName"] = item["storageClass"]
        claims.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta, "spec": spec})
    return claims
