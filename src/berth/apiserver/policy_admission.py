"""Policies in the admission chain: the API server's edge of `berth.policy`.

- Workloads (create, and updates that change the spec): find the policy of the workload's kind (the
  project namespace's, else the global one in `runai`) and the base workload, write the effective spec
  (defaults included) into the object with an annotation naming the policy, or refuse with 422 and one
  cause per broken rule. Status updates and metadata-only changes are never refused by a policy, so a
  policy changed later does not block controllers or labels on existing workloads.
- Policies (create and update): refuse a second policy of one kind in a namespace, and a policy that
  contradicts itself.
"""

from __future__ import annotations

from typing import Any

from berth.api.policies import POLICY_FOR_WORKLOAD
from berth.apiserver import errors
from berth.apiserver.admission import Reader, Request
from berth.apiserver.resources import Resource, by_kind
from berth.policy import POLICY_ANNOTATION, check_policy, evaluate, select
from berth.policy.lookup import GLOBAL_NAMESPACE
from berth.policy.shapes import spec_shapes

_POLICY_KINDS = {p.__name__: w for w, p in POLICY_FOR_WORKLOAD.items()}  # TrainingPolicy -> TrainingWorkload


def _causes(violations: list[Any]) -> list[dict[str, str]]:
    return [{"reason": "FieldValueInvalid", "field": v.path, "message": v.message} for v in violations]


class PolicyAdmission:
    """Mutating admission for workloads and policies."""

    name = "policies"

    def mutate(self, request: Request, reader: Reader) -> dict[str, Any] | None:
        if request.operation not in ("CREATE", "UPDATE") or request.subresource or request.object is None:
            return None
        kind = request.resource.kind
        if kind in POLICY_FOR_WORKLOAD:
            return self._workload(request, reader)
        if kind in _POLICY_KINDS:
            self._policy(request, reader)
        return None

    def _workload(self, request: Request, reader: Reader) -> dict[str, Any] | None:
        obj = request.object
        assert obj is not None
        if request.operation == "UPDATE" and request.old_object is not None:
            if (request.old_object.get("spec") or {}) == (obj.get("spec") or {}):
                return None  # labels, annotations, finalizers: not the policy's business
        resource = request.resource
        policy_resource = by_kind(resource.group, POLICY_FOR_WORKLOAD[resource.kind].__name__)
        assert policy_resource is not None
        namespace = request.namespace
        policy = select(reader.list(policy_resource, namespace),
                        reader.list(policy_resource, GLOBAL_NAMESPACE) if namespace != GLOBAL_NAMESPACE else [])
        spec = obj.get("spec") or {}
        base, missing = None, False
        if spec.get("baseWorkload") and spec.get("usage") != "Template":
            base = self._base(resource, reader, namespace, spec["baseWorkload"], obj)
            missing = base is None
        result = evaluate(obj, policy=policy, base=base, base_missing=missing)
        if result.violations:
            raise errors.invalid(resource.kind, resource.group, obj["metadata"].get("name", ""),
                                 _causes(result.violations))
        updated = dict(obj)
        updated["spec"] = result.spec
        annotations = dict((obj.get("metadata") or {}).get("annotations") or {})
        if result.policy:
            annotations[POLICY_ANNOTATION] = result.policy
        else:
            annotations.pop(POLICY_ANNOTATION, None)
        updated["metadata"] = {**obj["metadata"], "annotations": annotations} if annotations else {
            k: v for k, v in obj["metadata"].items() if k != "annotations"}
        return updated

    @staticmethod
    def _base(resource: Resource, reader: Reader, namespace: str, name: str,
              obj: dict[str, Any]) -> dict[str, Any] | None:
        if name == obj["metadata"].get("name"):
            return None
        return reader.get(resource, namespace, name) or reader.get(resource, GLOBAL_NAMESPACE, name)

    def _policy(self, request: Request, reader: Reader) -> None:
        obj = request.object
        assert obj is not None
        name = obj["metadata"].get("name", "")
        others = [p for p in reader.list(request.resource, request.namespace)
                  if p["metadata"]["name"] != name]
        if others:
            existing = others[0]["metadata"]["name"]
            raise errors.invalid(request.resource.kind, request.resource.group, name, [{
                "reason": "FieldValueDuplicate", "field": "metadata.name",
                "message": f'namespace {request.namespace} already has its {request.resource.kind}, "{existing}"; '
                           "a namespace holds one policy per workload kind, so edit that one: "
                           f"kubectl edit {request.resource.singular} {existing} -n {request.namespace}"}])
        violations = check_policy(obj.get("spec") or {}, spec_shapes(_POLICY_KINDS[request.resource.kind]))
        if violations:
            raise errors.invalid(request.resource.kind, request.resource.group, name, _causes(violations))
