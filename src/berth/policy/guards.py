"""What admission refuses of a workload whatever its policy says, on `berth up` and through `berth webhook`
alike: things that would leave it waiting for ever with nothing said.

- A name another workload kind already holds in the namespace: a TrainingWorkload and an
  InteractiveWorkload both called `same` would both name their pods `same-0-0`, and the second would
  wait at Creating for ever. Names are unique across the four kinds; templates make no pods, so a
  template shares its name with anything.
- A name or ports its children cannot take (`berth.api.children`): "d.job" would make a Service named
  `tw-d.job-clusterip`, two port items on 8888 a Service with the port twice, a long label item pods
  no cluster accepts. These are violations of fields (422), checked on what the workload runs with (after
  its base workload and policy), when it is created and when its spec changes.
- An edit that cannot take effect: the pods keep the image they were made with, the Services their ports.
  Which field may change when is `berth.api.edits`, one table; refused edits are violations of the
  field (422) saying how to get the change (suspend and resume, or resubmit).
- A namespace that belongs to no project: nothing would ever schedule the workload (the scheduler's
  queues are projects). A namespace belongs to the project its `runai/queue` label names, else to
  `<project>` of `runai-<project>`, and that Project must exist. The global namespace `runai` holds
  policies and templates: a template may live there, a workload that runs may not.

Refusals that are not about a field's value (a name taken, a namespace of no project) raise `Refusal`
with the status code kube-apiserver would use; the callers turn it into a Kubernetes `Status`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from berth.api import children as made
from berth.api.edits import When, can_suspend, edit_of
from berth.api.registry import POLICY_OF
from berth.api.projects import claimed_by
from berth.api.registry import by_kind
from berth.policy.lookup import GLOBAL_NAMESPACE
from berth.policy.rules import Violation

WORKLOAD_KINDS = tuple(POLICY_OF)

Getter = Callable[[str, str, str], "dict[str, Any] | None"]


class Refusal(Exception):
    """A write refused as a whole: the HTTP code and reason of the Kubernetes Status that answers it."""

    def __init__(self, code: int, reason: str, message: str, kind: str, name: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.kind = kind
        self.name = name

    def status(self) -> dict[str, Any]:
        """The `Status` object kube-apiserver (and `berth up`) answers with; kubectl prints its message."""
        found = by_kind(self.kind)
        details: dict[str, Any] = {"name": self.name, "kind": found.plural if found else self.kind}
        if found:
            details["group"] = found.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message,
                "reason": self.reason, "code": self.code, "details": details}


def _qualified(kind: str) -> str:
    found = by_kind(kind)
    return f"{found.plural}.{found.group}" if found else kind


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


def _is_template(obj: dict[str, Any]) -> bool:
    return (obj.get("spec") or {}).get("usage") == "Template"


def unique_name(obj: dict[str, Any], get: Getter) -> None:
    """Refuse (409 AlreadyExists) a workload whose name another kind's workload holds in its namespace."""
    if _is_template(obj):
        return
    kind = obj["kind"]
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    for other in WORKLOAD_KINDS:
        if other == kind:
            continue
        found = get(other, namespace, name)
        if found is None or _is_template(found):
            continue
        raise Refusal(409, "AlreadyExists", (
            f'{_qualified(kind)} "{name}" already exists: {_article(other)} {other} of that name is in namespace '
            f"{namespace}, and a workload's name is unique across the four kinds (its pods and Services are "
            f"named after it); choose another name, or delete the other first: "
            f"kubectl delete {other.lower()} {name} -n {namespace}"), kind, name)


def _project_command(name: str, namespace: str | None = None) -> str:
    project: dict[str, Any] = {"apiVersion": "run.ai/v1", "kind": "Project", "metadata": {"name": name}}
    if namespace:
        project["spec"] = {"namespace": namespace}
    return f"echo '{json.dumps(project)}' | kubectl apply -f -"


def in_a_project(obj: dict[str, Any], namespace: dict[str, Any] | None, projects: list[dict[str, Any]]) -> None:
    """Refuse (403 Forbidden) a workload whose namespace belongs to no existing project; `namespace` is the
    Namespace object (None if unknown), `projects` every Project."""
    kind = obj["kind"]
    meta = obj.get("metadata") or {}
    name, ns = meta.get("name", ""), meta.get("namespace", "")
    refused = f'{_qualified(kind)} "{name}" is forbidden: '
    if ns == GLOBAL_NAMESPACE:
        if _is_template(obj):
            return
        raise Refusal(403, "Forbidden", refused + (
            f"the namespace {GLOBAL_NAMESPACE} holds global policies and templates, not workloads that run; "
            "submit it in a project's namespace (runai-<project>), or make it a template (usage: Template)"),
            kind, name)
    project = claimed_by(ns, ((namespace or {}).get("metadata") or {}).get("labels"))
    if project is not None and any((p.get("metadata") or {}).get("name") == project for p in projects):
        return
    if project is not None:
        fix = f'it is the namespace of project "{project}", which does not exist; create it: ' + _project_command(project)
    else:
        fix = ("submit the workload in a project's namespace (runai-<project>; kubectl get projects lists them), "
               "or give this namespace to a project: " + _project_command("<project>", ns))
    raise Refusal(403, "Forbidden", refused + (
        f"namespace {ns} belongs to no project, and only a project's workloads are scheduled; {fix}"), kind, name)


def children(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Violation]:
    """Fields of a workload (as it will run) whose children a cluster would refuse: its name (on create), its
    ports, its pods' labels and annotations. Templates make no children."""
    if _is_template(obj):
        return []
    meta = obj.get("metadata") or {}
    found = []
    if old is None:
        found += [Violation("metadata.name", f'Invalid value: "{meta.get("name", "")}": {m}')
                  for m in made.workload_name_problems(obj["kind"], meta.get("name", ""))]
    spec = obj.get("spec") or {}
    found += [Violation(path, message) for path, message in made.port_problems(spec) + made.pod_metadata_problems(spec)]
    return found


def _suspended(spec: dict[str, Any]) -> bool:
    return (spec.get("active") or {}).get("value") is False


def edits(obj: dict[str, Any], old: dict[str, Any]) -> list[Violation]:
    """The spec fields an update changes that cannot take effect on the workload as it is (`berth.api.edits`):
    fields baked into the pods while it has pods, fields of objects made once at any time (a template's
    fields may all change, but not `usage`)."""
    kind = obj["kind"]
    spec, before = obj.get("spec") or {}, old.get("spec") or {}
    template = _is_template(old)
    suspended = can_suspend(kind) and (_suspended(before) or _suspended(spec))
    found = []
    for prop in sorted(set(spec) | set(before)):
        if spec.get(prop) == before.get(prop):
            continue
        known = edit_of(kind, prop)
        if known is None:
            continue  # not a field of the kind: the schema check has refused it already
        name, edit = known
        if edit.when is When.ANY_TIME or (template and name != "usage"):
            continue
        if edit.when is When.WHILE_SUSPENDED and suspended:
            continue
        if edit.when is When.NEVER:
            fix = "delete the workload and submit it again with the new value"
        elif can_suspend(kind):
            fix = ("suspend the workload (active: false; its pods are removed), change it, and resume it "
                   "(active: true), in one edit or several; or delete the workload and submit it again")
        else:
            fix = f"{_article(kind)} {kind} cannot be suspended: delete it and submit it again with the new value"
        found.append(Violation(f"spec.{prop}", f"Forbidden: cannot change on a submitted workload ({edit.why}); {fix}"))
    return found
