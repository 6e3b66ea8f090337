"""The one entry point every channel uses to apply policies to a workload: the API server's admission,
the real-cluster webhook, the CLI's dry run and the UI's forms.

`evaluate` composes the effective spec (policy defaults < base workload < workload) and checks it
against the policy's rules. A `usage: Template` is checked as it stands (rules other than `required`),
gets no defaults, and inherits nothing: templates are bases, not jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from berth.policy.compose import Provenance, compose
from berth.policy.lookup import describe, reference
from berth.policy.rules import Context, Violation, check
from berth.policy.shapes import spec_shapes

#: The annotation that names the policy (namespace/name) that shaped a stored workload.
POLICY_ANNOTATION = "policy.run.ai/applied"


@dataclass
class Evaluation:
    """The result of applying a policy: the spec to store, and every rule it breaks."""

    spec: dict[str, Any]
    violations: list[Violation]
    policy: str | None = None  # namespace/name of the policy applied
    provenance: Provenance | None = None

    @property
    def allowed(self) -> bool:
        return not self.violations


def evaluate(workload: dict[str, Any], *, policy: dict[str, Any] | None = None,
             base: dict[str, Any] | None = None, base_missing: bool = False) -> Evaluation:
    """Apply `policy` (or none) to `workload`, inheriting from `base` (the workload its baseWorkload names).

    `base_missing` says the workload names a base workload that could not be found.
    """
    kind = workload.get("kind", "")
    shapes = spec_shapes(kind)
    spec = workload.get("spec") or {}
    policy_spec = (policy or {}).get("spec") or {}
    context = Context(describe(policy) if policy else "", (base or {}).get("metadata", {}).get("name"))
    if spec.get("usage") == "Template":
        composed, prov = compose(shapes, spec)
        found = check(composed, policy_spec, shapes, prov, context, partial=True) if policy else []
        return Evaluation(spec, found, reference(policy) if policy else None, prov)
    violations: list[Violation] = []
    if base_missing:
        name = spec.get("baseWorkload")
        violations.append(Violation("spec.baseWorkload",
                                    f'no {kind} "{name}" in this namespace or in the namespace runai to inherit from'))
    composed, prov = compose(shapes, spec, policy_spec=policy_spec or None, base_spec=(base or {}).get("spec"))
    if policy:
        violations += check(composed, policy_spec, shapes, prov, context)
    return Evaluation(composed, violations, reference(policy) if policy else None, prov)
