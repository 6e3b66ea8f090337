"""AdmissionReview v1 in, AdmissionReview v1 out: pure, given the objects admission reads.

kube-apiserver sends `request` (uid, kind, namespace, operation, object, oldObject, dryRun...); the answer
carries the same uid, `allowed`, and either a base64 JSONPatch (`patchType: JSONPatch`) that writes the
effective spec and the policy annotation, or a `status` with code 422 and one cause per broken rule (or the
code of a refusal as a whole: 409 for a name another kind holds...), which kubectl shows as it shows the
embedded server's refusals. The validating webhook gives the same verdict without the patch: it sees the
object after every mutating webhook, so a later one cannot undo a policy's rules unseen.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from berth.policy.admission import Objects, admit
from berth.policy.guards import Refusal

API_VERSION = "admission.k8s.io/v1"


def _patch(original: dict[str, Any], updated: dict[str, Any]) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    if updated.get("spec") != original.get("spec"):
        ops.append({"op": "add", "path": "/spec", "value": updated.get("spec") or {}})
    before = (original.get("metadata") or {}).get("annotations")
    after = (updated.get("metadata") or {}).get("annotations")
    if after != before:
        if after:
            ops.append({"op": "add", "path": "/metadata/annotations", "value": after})
        else:
            ops.append({"op": "remove", "path": "/metadata/annotations"})
    return ops


def _object(request: dict[str, Any]) -> dict[str, Any]:
    obj = dict(request.get("object") or {})
    meta = dict(obj.get("metadata") or {})
    if request.get("namespace") and not meta.get("namespace"):
        meta["namespace"] = request["namespace"]  # kube-apiserver may leave it out on create
    if request.get("name") and not meta.get("name"):
        meta["name"] = request["name"]
    obj["metadata"] = meta
    kind = request.get("kind") or {}
    obj.setdefault("kind", kind.get("kind", ""))
    if kind.get("group") and kind.get("version"):
        obj.setdefault("apiVersion", f"{kind['group']}/{kind['version']}")
    return obj


def respond(review: dict[str, Any], objects: Objects, *, mutating: bool = True) -> dict[str, Any]:
    """The AdmissionReview answering `review`: from a validating webhook (`mutating=False`) the same verdict
    without the patch, which only a mutating webhook may send."""
    request = review.get("request") or {}
    uid = request.get("uid", "")
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    if request.get("operation") in ("CREATE", "UPDATE") and not request.get("subResource"):
        obj = _object(request)
        old = request.get("oldObject") if request.get("operation") == "UPDATE" else None
        try:
            updated, violations = admit(obj, old, objects)
        except Refusal as refusal:
            return {"apiVersion": API_VERSION, "kind": "AdmissionReview",
                    "response": {"uid": uid, "allowed": False, "status": refusal.status()}}
        if violations:
            name = obj["metadata"].get("name", "")
            group = (request.get("kind") or {}).get("group", "")
            kind = obj.get("kind", "")
            causes = [{"reason": "FieldValueInvalid", "field": v.path, "message": v.message} for v in violations]
            summary = str(violations[0]) if len(violations) == 1 else "[" + ", ".join(map(str, violations)) + "]"
            response = {"uid": uid, "allowed": False, "status": {
                "status": "Failure", "code": 422, "reason": "Invalid",
                "message": f'{kind}.{group} "{name}" is invalid: {summary}',
                "details": {"name": name, "group": group, "kind": kind, "causes": causes}}}
        elif updated is not None and mutating:
            ops = _patch(obj, updated)
            if ops:
                response["patchType"] = "JSONPatch"
                response["patch"] = base64.b64encode(orjson.dumps(ops)).decode()
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}
