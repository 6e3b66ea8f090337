"""A Project that still has workloads cannot be deleted: the admin is told which, and how to proceed.

Run:ai refuses it too; deleting the namespace under running workloads would silently end them.
"""

from __future__ import annotations

from berth.api.projects import namespace_of_project
from berth.api.registry import KINDS
from berth.apiserver import errors
from berth.apiserver.admission import Reader, Request
from berth.apiserver.resources import by_kind

WORKLOAD_KINDS = [k for k in KINDS if k.kind.endswith("Workload")]


class ProjectDeletionGuard:
    name = "project-deletion"

    def validate(self, request: Request, reader: Reader) -> None:
        if request.operation != "DELETE" or request.resource.kind != "Project" or request.old_object is None:
            return
        namespace = namespace_of_project(request.name, request.old_object.get("spec"))
        found = []
        for kind in WORKLOAD_KINDS:
            resource = by_kind(kind.group, kind.kind)
            assert resource is not None
            found += [f"{kind.singular}/{w['metadata']['name']}" for w in reader.list(resource, namespace)
                      if (w.get("spec") or {}).get("usage") != "Template"]
        if found:
            shown = ", ".join(sorted(found)[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
            raise errors.forbidden(
                f'project "{request.name}" still has {len(found)} workload{"s" if len(found) != 1 else ""} '
                f"in namespace {namespace} ({shown}); delete them first: kubectl delete runai --all -n {namespace}",
                request.name, "run.ai", "projects")
