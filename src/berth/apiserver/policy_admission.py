"""Policies in the API server's admission chain: `berth.policy.admission` over the embedded store."""

from __future__ import annotations

from typing import Any

from berth.apiserver import errors
from berth.apiserver.admission import Reader, Request
from berth.apiserver.resources import Resource, by_kind
from berth.policy.admission import admit
from berth.policy.guards import Refusal


class _StoreObjects:
    """`berth.policy.admission.Objects` over the admission reader: kinds by name, in run.ai's group or core."""

    def __init__(self, reader: Reader, group: str) -> None:
        self._reader = reader
        self._group = group

    def _resource(self, kind: str) -> Resource:
        found = by_kind(self._group, kind) or by_kind("", kind)  # run.ai's kinds, and core ones (Namespace)
        assert found is not None, kind
        return found

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._reader.get(self._resource(kind), namespace, name)

    def list(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        return self._reader.list(self._resource(kind), namespace)


class PolicyAdmission:
    """Mutating admission: policy defaults into workloads, and refusals for broken rules."""

    name = "policies"

    def mutate(self, request: Request, reader: Reader) -> dict[str, Any] | None:
        if request.operation not in ("CREATE", "UPDATE") or request.subresource or request.object is None:
            return None
        if request.resource.builtin:
            return None
        obj = request.object
        try:
            updated, violations = admit(obj, request.old_object if request.operation == "UPDATE" else None,
                                        _StoreObjects(reader, request.resource.group))
        except Refusal as refusal:
            raise errors.ApiError(refusal.code, refusal.reason, refusal.message, refusal.status()["details"]) from None
        if violations:
            causes = [{"reason": "FieldValueInvalid", "field": v.path, "message": v.message} for v in violations]
            raise errors.invalid(request.resource.kind, request.resource.group,
                                 (obj.get("metadata") or {}).get("name", ""), causes)
        return updated
