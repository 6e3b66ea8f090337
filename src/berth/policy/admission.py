"""Admission of workloads and policies, independent of where the objects come from.

The API server's admission chain and the real-cluster webhook both call `admit`, each with its own way
of reading objects (`Objects`): the embedded store, or a Kubernetes API through `berth.client`.

- A workload (create, or an update that changes its spec): the policy of its kind (the namespace's own,
  else the global one in `runai`) and its base workload give the effective spec, written into the
  object with an annotation naming the policy; broken rules are returned as violations. A new workload
  that ends up with a `namePrefix` and no `name` is given its name (`<prefix>-<n>`). Updates that do
  not touch the spec (labels, finalizers) are left alone, so a policy changed later never blocks them.
- A policy: a second one of the same kind in a namespace, and rules that contradict themselves, are
  violations.

Whole numbers where the schema takes "integer or string" (GPU amounts, quantities) are stored as
strings, and values in another of Run:ai's spellings as the value they stand for (`berth.api.spellings`:
`serviceType: {value: nodeport}` becomes NodePort), in workloads and policies alike (`gpu: {value: 2}`
becomes `{value: "2"}`), so `berth up` and a
real cluster with `berth webhook` store the same thing. Before any policy, a workload meets
`berth.policy.guards` (a namespace of a project, a name no other kind holds...), which refuses the write as
a whole by raising `guards.Refusal`; after it, the guards' field checks (names and ports its children can
take, edits that can take effect) on what it will run with.
"""

from __future__ import annotations

from typing import Any, Protocol

from berth.api.registry import POLICY_OF, by_kind
from berth.api.schema import int_or_string_as_strings, shared_schema
from berth.api.spellings import canonical
from berth.policy import guards
from berth.policy.engine import POLICY_ANNOTATION, evaluate
from berth.policy.lookup import GLOBAL_NAMESPACE, select
from berth.policy.rules import Violation
from berth.policy.selfcheck import check_policy
from berth.policy.shapes import spec_shapes

#: Policy kind -> workload kind (TrainingPolicy -> TrainingWorkload).
POLICY_KINDS = {p: w for w, p in POLICY_OF.items()}


class Objects(Protocol):
    """Read access to the objects admission needs, by kind name."""

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list(self, kind: str, namespace: str) -> list[dict[str, Any]]: ...


def needs(obj: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """What `admit` will read for this object: (kind, namespace, name or None for a list).

    Lets a caller whose reads are slow (the webhook) fetch everything at once beforehand.
    """
    kind = obj.get("kind", "")
    namespace = (obj.get("metadata") or {}).get("namespace", "")
    if kind in POLICY_OF:
        policy_kind = POLICY_OF[kind]
        wanted: list[tuple[str, str, str | None]] = [(policy_kind, namespace, None), (policy_kind, GLOBAL_NAMESPACE, None)]
        base = (obj.get("spec") or {}).get("baseWorkload")
        if base:
            wanted += [(kind, namespace, base), (kind, GLOBAL_NAMESPACE, base)]
        name = (obj.get("metadata") or {}).get("name", "")
        wanted += [(other, namespace, name) for other in guards.WORKLOAD_KINDS if other != kind]
        wanted.append((kind, namespace, None))  # the names taken, for a namePrefix
        return [*wanted, ("Namespace", "", namespace), ("Project", "", None)]
    if kind in POLICY_KINDS:
        return [(kind, namespace, None)]
    return []


def _lifted(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A DistributedWorkload's top-level masterSpec (where Run:ai writes it) moved into spec, where policies
    and base workloads compose it field by field like the rest of the spec (DistributedPolicy's masterSpec)."""
    if obj is None or obj.get("masterSpec") is None:
        return obj
    rest = {k: v for k, v in obj.items() if k != "masterSpec"}
    return {**rest, "spec": {**(obj.get("spec") or {}), "masterSpec": obj["masterSpec"]}}


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """What a workload asks to run: its spec, with a top-level masterSpec."""
    return ((_lifted(obj) or obj).get("spec")) or {}


def _lowered(obj: dict[str, Any], top_level: bool) -> dict[str, Any]:
    """The inverse of `_lifted` for a workload that gave its masterSpec at the top level."""
    spec = obj.get("spec") or {}
    if not top_level or "masterSpec" not in spec:
        return obj
    return {**obj, "spec": {k: v for k, v in spec.items() if k != "masterSpec"}, "masterSpec": spec["masterSpec"]}


def _at_top(violations: list[Violation], top_level: bool) -> list[Violation]:
    if not top_level:
        return violations
    return [Violation(v.path.replace("spec.masterSpec", "masterSpec", 1) if v.path.startswith("spec.masterSpec")
                      else v.path, v.message) for v in violations]


def _workload(obj: dict[str, Any], old: dict[str, Any] | None, objects: Objects
              ) -> tuple[dict[str, Any] | None, list[Violation]]:
    top_level = (obj.get("spec") or {}).get("masterSpec") is None and (
        obj.get("masterSpec") is not None or obj.get("kind") == "DistributedWorkload")
    obj, old = _lifted(obj) or obj, _lifted(old)
    updated, violations = _composed(obj, old, objects)
    return (None if updated is None else _lowered(updated, top_level)), _at_top(violations, top_level)


def _composed(obj: dict[str, Any], old: dict[str, Any] | None, objects: Objects
              ) -> tuple[dict[str, Any] | None, list[Violation]]:
    if old is not None and (old.get("spec") or {}) == (obj.get("spec") or {}):
        return None, []
    kind = obj["kind"]
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace", "")
    policy_kind = POLICY_OF[kind]
    policy = select(objects.list(policy_kind, namespace),
                    objects.list(policy_kind, GLOBAL_NAMESPACE) if namespace != GLOBAL_NAMESPACE else [])
    spec = obj.get("spec") or {}
    base, missing = None, False
    name = spec.get("baseWorkload")
    if name and spec.get("usage") != "Template":
        if name != meta.get("name"):
            base = _lifted(objects.get(kind, namespace, name) or objects.get(kind, GLOBAL_NAMESPACE, name))
        missing = base is None
    if policy is None and base is None and not missing and POLICY_ANNOTATION not in (meta.get("annotations") or {}):
        return None, []  # nothing to compose, nothing to check: the object stays as it is
    result = evaluate(obj, policy=policy, base=base, base_missing=missing)
    if result.violations:
        return None, result.violations
    annotations = dict(meta.get("annotations") or {})
    if result.policy:
        annotations[POLICY_ANNOTATION] = result.policy
    else:
        annotations.pop(POLICY_ANNOTATION, None)
    new_meta = {k: v for k, v in meta.items() if k != "annotations"}
    if annotations:
        new_meta["annotations"] = annotations
    return {**obj, "metadata": new_meta, "spec": result.spec}, []


def _named(obj: dict[str, Any], objects: Objects) -> dict[str, Any] | None:
    """A new workload whose spec (or its base, or its policy) gives `namePrefix` and no `name` gets its name
    here, `<prefix>-<n>` with the smallest n no workload of its kind in the namespace is named: namePrefix
    becomes that name, as kube-apiserver turns generateName into a name. None when there is nothing to do."""
    spec = obj.get("spec") or {}
    prefix = (spec.get("namePrefix") or {}).get("value")
    if not prefix or (spec.get("name") or {}).get("value") or spec.get("usage") == "Template":
        return None
    meta = obj.get("metadata") or {}
    taken = {((o.get("spec") or {}).get("name") or {}).get("value")
             for o in objects.list(obj["kind"], meta.get("namespace", ""))}
    number = 1
    while f"{prefix}-{number}" in taken:
        number += 1
    named = {k: v for k, v in spec.items() if k != "namePrefix"}
    return {**obj, "spec": {**named, "name": {"value": f"{prefix}-{number}"}}}


def _policy(obj: dict[str, Any], objects: Objects) -> list[Violation]:
    kind = obj["kind"]
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    others = [p for p in objects.list(kind, namespace) if (p.get("metadata") or {}).get("name") != name]
    if others:
        existing = others[0]["metadata"]["name"]
        return [Violation("metadata.name",
                          f'namespace {namespace} already has its {kind}, "{existing}"; a namespace holds one policy '
                          f"per workload kind, so edit that one: kubectl edit {kind.lower()} {existing} -n {namespace}")]
    return check_policy(obj.get("spec") or {}, spec_shapes(POLICY_KINDS[kind]))


def admit(obj: dict[str, Any], old: dict[str, Any] | None, objects: Objects
          ) -> tuple[dict[str, Any] | None, list[Violation]]:
    """The object to store instead (None: unchanged) and the violations that refuse it; raises
    `guards.Refusal` for a workload refused as a whole."""
    kind = obj.get("kind", "")
    registered = by_kind(kind)
    if registered is not None and (kind in POLICY_OF or kind in POLICY_KINDS):
        given = obj
        obj = canonical(int_or_string_as_strings(obj, shared_schema(registered)), registered)
        updated, violations = _admit(obj, old, objects)
        if updated is None and obj is not given and not violations:
            updated = obj  # only spellings changed (whole numbers as strings, nodeport as NodePort)
        return updated, violations
    return None, []


def _admit(obj: dict[str, Any], old: dict[str, Any] | None, objects: Objects
           ) -> tuple[dict[str, Any] | None, list[Violation]]:
    kind = obj["kind"]
    if kind in POLICY_OF:
        if old is None:
            namespace = (obj.get("metadata") or {}).get("namespace", "")
            guards.in_a_project(obj, objects.get("Namespace", "", namespace), objects.list("Project", ""))
            guards.unique_name(obj, objects.get)
        updated, violations = _workload(obj, old, objects)
        if not violations and old is None:
            updated = _named(updated or obj, objects) or updated
        if not violations and (old is None or _spec_of(old) != _spec_of(obj)):
            violations = guards.children(updated or obj, old)
            if old is not None and not violations:  # a top-level masterSpec is checked as spec.masterSpec is
                top_level = (obj.get("spec") or {}).get("masterSpec") is None
                violations = _at_top(guards.edits(_lifted(updated or obj) or obj, _lifted(old) or old), top_level)
        return (None, violations) if violations else (updated, [])
    return None, _policy(obj, objects)
