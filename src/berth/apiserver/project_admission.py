"""A Project that still has workloads cannot be deleted, nor can its namespace: the admin is told which
workloads, and how to proceed.

Run:ai refuses it too; deleting the namespace under running workloads would silently end them (the
namespace's deletion deletes everything in it). A namespace is a project's when a Project names it
(`spec.namespace`, else `runai-<project>`); other namespaces are deleted as in Kubernetes. Once the Project
is gone (it could only go without workloads), its namespace goes freely, as the garbage collector takes it.
"""

from __future__ import annotations

from berth.api.projects import namespace_of_project
from berth.api.registry import WORKLOADS
from berth.apiserver import errors
from berth.apiserver.admission import Reader, Request
from berth.apiserver.resources import by_kind


def _workloads(reader: Reader, namespace: str) -> list[str]:
    """`kind/name` of the workloads in a namespace (templates are not workloads), sorted."""
    found = []
    for kind in WORKLOADS:
        resource = by_kind(kind.group, kind.kind)
        assert resource is not None
        found += [f"{kind.singular}/{w['metadata']['name']}" for w in reader.list(resource, namespace)
                  if (w.get("spec") or {}).get("usage") != "Template"]
    return sorted(found)


def _count(found: list[str]) -> str:
    return f'{len(found)} workload{"s" if len(found) != 1 else ""}'


def _shown(found: list[str]) -> str:
    """`(trainingworkload/a)`; five of them and how many more."""
    return "(" + ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "") + ")"


def _project_of(reader: Reader, namespace: str) -> str | None:
    projects = by_kind("run.ai", "Project")
    assert projects is not None
    for project in reader.list(projects, None):
        name = project["metadata"]["name"]
        if namespace_of_project(name, project.get("spec")) == namespace:
            return name
    return None


class ProjectDeletionGuard:
    name = "project-deletion"

    def validate(self, request: Request, reader: Reader) -> None:
        if request.operation != "DELETE" or request.old_object is None:
            return
        if request.resource.kind == "Project":
            project = request.name
            namespace = namespace_of_project(project, request.old_object.get("spec"))
        elif request.resource.kind == "Namespace":
            namespace, project = request.name, _project_of(reader, request.name)
            if project is None:
                return
        else:
            return
        found = _workloads(reader, namespace)
        if not found:
            return
        fix = f"delete them first: kubectl delete runai --all -n {namespace}"
        if request.resource.kind == "Project":
            raise errors.forbidden(f'project "{project}" still has {_count(found)} in namespace {namespace} '
                                   f"{_shown(found)}; {fix}", project, "run.ai", "projects")
        raise errors.forbidden(
            f'namespace "{namespace}" holds the workloads of project "{project}": {_count(found)} {_shown(found)}; '
            f"{fix}; "
            f'while project "{project}" exists its namespace is made again, so to be rid of both: '
            f"kubectl delete project {project}",
            namespace, "", "namespaces")
