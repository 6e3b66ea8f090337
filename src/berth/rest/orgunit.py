"""`/api/v1/org-unit/projects` and `/departments`: Run:ai's projects and departments as Berth's Project and
Department objects (`run.ai/v1`, cluster-scoped), read and written as the caller.

Writes are the API server's to allow (admins only, in Berth's roles: a researcher gets its 403 here) and
to check (the Project and Department models; a project with workloads cannot be deleted,
`berth.apiserver.project_admission`), with its messages passed through in the request's field names.
Reads show a researcher only the projects they are assigned to, as Run:ai does: those in whose namespace
they may list workloads (the API server's answer, a SelfSubjectAccessReview); admins and viewers see all.
Departments are the admin's and viewer's to read. The translation is `berth.rest.orgunit_map`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from berth.api.projects import quota_by_pool
from berth.client import Client
from berth.client import errors as client_errors
from berth.rest import ids, listing
from berth.rest.cluster_map import pools_by_name
from berth.rest.context import caller, rest_of
from berth.rest.errors import RestError, from_api_error
from berth.rest.orgunit_map import (answer_resources, department_answer, merged_resources, new_object,
                                    project_answer, project_spec_patch, quota_patch, rest_field, spec_resources)
from berth.rest.orgunit_models import (Department, DepartmentCreationRequest, DepartmentList,
                                       DepartmentUpdateRequest, Project, ProjectCreationRequest, ProjectList,
                                       ProjectUpdateRequest, Resources)

Obj = dict[str, Any]
router = APIRouter(prefix="/api/v1/org-unit", tags=["Organizations"])
ANSWER: dict[str, Any] = {"response_model_exclude_none": True}
DEPARTMENT_FILTERS = {"name": listing.key("name"), "clusterId": listing.key("clusterId"),
                      "createdAt": listing.key("createdAt", "date")}
PROJECT_FILTERS = {**DEPARTMENT_FILTERS, "departmentId": listing.key("parentId")}


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """The API server's refusal in the REST shape, Berth's field names replaced by the request's."""
    try:
        yield
    except client_errors.ApiError as exc:
        err = from_api_error(exc)
        err.message = rest_field(err.message)
        for issue in err.issues:
            issue.field, issue.details = rest_field(issue.field), rest_field(issue.details)
        raise err from None


def _name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


async def _pools(client: Client) -> dict[str, Obj]:
    return pools_by_name(await client.list("NodePool"))


async def _departments(client: Client) -> dict[str, Obj]:
    """Departments by name; none for a caller who may not read them (a researcher)."""
    return {_name(d): d for d in await ids.readable(client, "Department")}


async def visible_projects(client: Client, projects: list[Obj]) -> list[Obj]:
    """The projects the caller is assigned to (all of them for one who may list workloads everywhere)."""
    visible = await ids.visible_projects(client, projects)
    return projects if visible is None else visible


async def _project(client: Client, project_id: str) -> Obj:
    found = await ids.project(client, project_id, field=None)
    if not await visible_projects(client, [found]):
        raise RestError(404, f"project {project_id!r} not found",
                        details="GET /api/v1/org-unit/projects lists the projects you are assigned to")
    return found


async def _project_answer(request: Request, client: Client, obj: Obj) -> Obj:
    pools, departments = await asyncio.gather(_pools(client), _departments(client))
    return project_answer(obj, await ids.cluster_id(rest_of(request)), pools, departments)


FILTER_BY = Query(None, alias="filterBy", description=(
    "Terms <field><operator><value>, all of which hold; operators == != <= >= =@ (contains) !@ =^ (starts "
    "with) =$ (ends with). Repeat the parameter or separate terms with commas."))
SORT_ORDER = Query("asc", alias="sortOrder", description="asc or desc.")
OFFSET = Query(0, ge=0, description="The offset of the first item returned.")
LIMIT = Query(listing.DEFAULT_LIMIT, ge=1, le=listing.MAX_LIMIT, description="The most items returned.")


# -- projects ----------------------------------------------------------------------------------------


@router.post("/projects", status_code=201, response_model=Project, **ANSWER)
async def create_project(request: Request, body: ProjectCreationRequest, client: Client = Depends(caller)) -> Obj:
    """Create a project: a Project object with the quota per node pool."""
    await ids.check_cluster(rest_of(request), body.clusterId)
    spec = project_spec_patch(body.model_dump(), await _pools(client))
    if body.parentId:
        spec["department"] = _name(await ids.department(client, body.parentId, field="parentId"))
    spec["namespace"] = body.requestedNamespace
    with translated():
        created = await client.create(new_object("Project", body.name, spec))
    return await _project_answer(request, client, created)


@router.get("/projects", response_model=ProjectList, **ANSWER)
async def list_projects(request: Request, client: Client = Depends(caller), filter_by: list[str] | None = FILTER_BY,
                        sort_by: Literal["name", "clusterId", "departmentId", "createdAt"] | None = Query(
                            None, alias="sortBy"),
                        sort_order: Literal["asc", "desc"] = SORT_ORDER, offset: int = OFFSET,
                        limit: int = LIMIT) -> Obj:
    """The projects the caller sees (a researcher: those they are assigned to)."""
    projects, pools, departments = await asyncio.gather(client.list("Project"), _pools(client), _departments(client))
    cluster_id = await ids.cluster_id(rest_of(request))
    answers = [project_answer(p, cluster_id, pools, departments) for p in await visible_projects(client, projects)]
    chosen, following = listing.select(answers, PROJECT_FILTERS, filter_by=filter_by, sort_by=sort_by,
                                      sort_order=sort_order, offset=offset, limit=limit)
    return {"projects": chosen, "next": following}


@router.get("/projects/{projectId}", response_model=Project, **ANSWER)
async def get_project(request: Request, projectId: str, client: Client = Depends(caller)) -> Obj:  # noqa: N803
    """A project by id (its uid) or name."""
    return await _project_answer(request, client, await _project(client, projectId))


@router.put("/projects/{projectId}", response_model=Project, **ANSWER)
async def update_project(request: Request, projectId: str, body: ProjectUpdateRequest,  # noqa: N803
                         client: Client = Depends(caller)) -> Obj:
    """Replace a project's updatable fields: quota, default node pools, node types, scheduling rules."""
    found = await _project(client, projectId)
    spec = project_spec_patch(body.model_dump(), await _pools(client))
    with translated():
        updated = await client.patch("Project", _name(found), {"spec": spec})
    return await _project_answer(request, client, updated)


async def _write_resources(client: Client, kind: str, found: Obj, given: list[Resources], merge: bool) -> list[Obj]:
    pools = await _pools(client)
    entries = spec_resources([r.model_dump() for r in given], pools)
    if merge:
        entries = merged_resources(list(quota_by_pool(found.get("spec") or {}).values()), entries)
    with translated():
        updated = await client.patch(kind, _name(found), {"spec": quota_patch(entries)})
    return answer_resources(updated.get("spec") or {}, pools)


RESOURCES_BODY = Body(..., description="The quota per node pool.")


@router.put("/projects/{projectId}/resources", response_model=list[Resources], **ANSWER)
async def put_project_resources(projectId: str, body: list[Resources] = RESOURCES_BODY,  # noqa: N803
                                client: Client = Depends(caller)) -> list[Obj]:
    """Replace a project's quota: the pools given, and no quota in the others."""
    return await _write_resources(client, "Project", await _project(client, projectId), body, merge=False)


@router.patch("/projects/{projectId}/resources", response_model=list[Resources], **ANSWER)
async def patch_project_resources(projectId: str, body: list[Resources] = RESOURCES_BODY,  # noqa: N803
                                  client: Client = Depends(caller)) -> list[Obj]:
    """Change the values given of a project's quota, in the pools given; the rest is kept."""
    return await _write_resources(client, "Project", await _project(client, projectId), body, merge=True)


@router.delete("/projects/{projectId}", status_code=204, response_class=Response)
async def delete_project(projectId: str, client: Client = Depends(caller)) -> Response:  # noqa: N803
    """Delete a project (refused while it has workloads: delete them first)."""
    found = await _project(client, projectId)
    with translated():
        await client.delete("Project", _name(found))
    return Response(status_code=204)


# -- departments -------------------------------------------------------------------------------------


async def _department_answer(request: Request, client: Client, obj: Obj) -> Obj:
    pools, projects = await asyncio.gather(_pools(client), client.list("Project"))
    return department_answer(obj, await ids.cluster_id(rest_of(request)), pools, projects)


@router.post("/departments", status_code=201, response_model=Department, **ANSWER)
async def create_department(request: Request, body: DepartmentCreationRequest,
                            client: Client = Depends(caller)) -> Obj:
    """Create a department: a Department object with the quota per node pool."""
    await ids.check_cluster(rest_of(request), body.clusterId)
    spec = quota_patch(spec_resources([r.model_dump() for r in body.resources], await _pools(client)))
    with translated():
        created = await client.create(new_object("Department", body.name, spec))
    return await _department_answer(request, client, created)


@router.get("/departments", response_model=DepartmentList, **ANSWER)
async def list_departments(request: Request, client: Client = Depends(caller),
                           filter_by: list[str] | None = FILTER_BY,
                           sort_by: Literal["name", "clusterId", "createdAt"] | None = Query(None, alias="sortBy"),
                           sort_order: Literal["asc", "desc"] = SORT_ORDER, offset: int = OFFSET,
                           limit: int = LIMIT) -> Obj:
    """The departments (admins and viewers)."""
    departments, pools = await asyncio.gather(client.list("Department"), _pools(client))
    cluster_id = await ids.cluster_id(rest_of(request))
    answers = [department_answer(d, cluster_id, pools, [], slim=True) for d in departments]
    chosen, following = listing.select(answers, DEPARTMENT_FILTERS, filter_by=filter_by, sort_by=sort_by,
                                      sort_order=sort_order, offset=offset, limit=limit)
    return {"departments": chosen, "next": following}


@router.get("/departments/{departmentId}", response_model=Department, **ANSWER)
async def get_department(request: Request, departmentId: str, client: Client = Depends(caller)) -> Obj:  # noqa: N803
    """A department by id (its uid) or name, with its projects and their summed quota."""
    return await _department_answer(request, client, await ids.department(client, departmentId, field=None))


@router.put("/departments/{departmentId}", response_model=Department, **ANSWER)
async def update_department(request: Request, departmentId: str, body: DepartmentUpdateRequest,  # noqa: N803
                            client: Client = Depends(caller)) -> Obj:
    """Replace a department's quota."""
    found = await ids.department(client, departmentId, field=None)
    spec = quota_patch(spec_resources([r.model_dump() for r in body.resources], await _pools(client)))
    with translated():
        updated = await client.patch("Department", _name(found), {"spec": spec})
    return await _department_answer(request, client, updated)


@router.put("/departments/{departmentId}/resources", response_model=list[Resources], **ANSWER)
async def put_department_resources(departmentId: str, body: list[Resources] = RESOURCES_BODY,  # noqa: N803
                                   client: Client = Depends(caller)) -> list[Obj]:
    """Replace a department's quota: the pools given, and no quota in the others."""
    found = await ids.department(client, departmentId, field=None)
    return await _write_resources(client, "Department", found, body, merge=False)


@router.patch("/departments/{departmentId}/resources", response_model=list[Resources], **ANSWER)
async def patch_department_resources(departmentId: str, body: list[Resources] = RESOURCES_BODY,  # noqa: N803
                                     client: Client = Depends(caller)) -> list[Obj]:
    """Change the values given of a department's quota, in the pools given; the rest is kept."""
    found = await ids.department(client, departmentId, field=None)
    return await _write_resources(client, "Department", found, body, merge=True)


@router.delete("/departments/{departmentId}", status_code=204, response_class=Response)
async def delete_department(departmentId: str, client: Client = Depends(caller)) -> Response:  # noqa: N803
    """Delete a department (its projects stay)."""
    found = await ids.department(client, departmentId, field=None)
    with translated():
        await client.delete("Department", _name(found))
    return Response(status_code=204)
