"""Which policy applies to a workload, and how to name it in messages.

Run:ai's rule (notes, section 3.1), with no merging: the project's policy of the workload's kind (in the
project's namespace), else the global one (in the namespace `runai`), else none. A namespace holds at
most one policy per kind; admission refuses a second one (see `berth.policy.selfcheck`).
"""

from __future__ import annotations

from typing import Any

from berth.api.projects import project_of_namespace as project_of

GLOBAL_NAMESPACE = "runai"


def _first(policies: list[dict[str, Any]]) -> dict[str, Any] | None:
    live = [p for p in policies if not (p.get("metadata") or {}).get("deletionTimestamp")]
    return min(live, key=lambda p: (p.get("metadata") or {}).get("name", "")) if live else None


def select(project_policies: list[dict[str, Any]], global_policies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The effective policy: the project's if it has one, else the global one, else None."""
    return _first(project_policies) or _first(global_policies)


def describe(policy: dict[str, Any]) -> str:
    """`TrainingPolicy "limits" in project team-a`, or `... in namespace runai (global)`."""
    meta = policy.get("metadata") or {}
    namespace = meta.get("namespace", "")
    where = f"in namespace {namespace} (global)" if namespace == GLOBAL_NAMESPACE else f"in project {project_of(namespace)}"
    return f'{policy.get("kind", "Policy")} "{meta.get("name", "")}" {where}'


def reference(policy: dict[str, Any]) -> str:
    """`namespace/name` of a policy, for annotations."""
    meta = policy.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
