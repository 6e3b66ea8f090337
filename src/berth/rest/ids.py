"""The ids Run:ai's REST API speaks, and the objects they name.

- clusterId: the uid of the cluster's `runai` namespace (every Berth control plane and every cluster
  running the operator has one): stable for the cluster's life, different between clusters.
- projectId / departmentId: the Project's or Department's uid. Run:ai's ids are short numbers; Berth's
  objects have uids, and a script that looks the id up by name (`GET /api/v1/org-unit/projects`) works
  the same. For people typing requests by hand, the name is accepted wherever an id is (docs/rest.md).
- workloadId: the workload object's uid.

Lookups read as the caller, so a caller never learns of an object it may not read: an id it may not see
is "not found", as the Kubernetes API does for names.
"""

from __future__ import annotations

import asyncio
from typing import Any

from berth.api.projects import namespace_of_project
from berth.api.registry import WORKLOADS
from berth.client import Client
from berth.client import errors as client_errors
from berth.rest.context import Rest, remembered
from berth.rest.errors import RestError, bad_request
from berth.rest.workload_view import Org

Obj = dict[str, Any]
CLUSTER_NAMESPACES = ("runai", "default")
WORKLOAD_KINDS: tuple[str, ...] = tuple(w.kind for w in WORKLOADS)


async def cluster_id(rest: Rest) -> str:
    """The cluster's id (see the module's docstring), read once."""
    if rest.cluster_id is None:
        for name in CLUSTER_NAMESPACES:
            try:
                namespace = await rest.base.get("Namespace", name)
            except client_errors.NotFound:
                continue
            rest.cluster_id = str(namespace["metadata"]["uid"])
            break
        else:
            raise RestError(503, "the cluster has no `runai` namespace to take its id from",
                            details="start the control plane with `berth up`, or install Berth's operator")
    return rest.cluster_id


async def check_cluster(rest: Rest, given: str | None, field: str = "clusterId") -> str:
    """The cluster's id; a request naming another cluster is refused, with this cluster's id in the fix."""
    ours = await cluster_id(rest)
    if given is not None and given != ours:
        raise bad_request(field, f"this is not cluster {given!r}",
                          f"this cluster's id is {ours} (GET /api/v1/clusters lists it)")
    return ours


async def projects(client: Client, *, fresh: bool = False) -> list[Obj]:
    """The Projects as the caller sees them (remembered a moment: `context.remembered`)."""
    return await remembered(client, "projects", lambda: client.list("Project"), fresh=fresh)


async def _reread(client: Client, kind: str, remembered_obj: Obj) -> Obj:
    """The object as it is now (a remembered list may be a moment old; callers write what they read)."""
    return await client.get(kind, remembered_obj["metadata"]["name"])


def _matches(obj: Obj, key: str) -> bool:
    meta = obj.get("metadata") or {}
    return key in (meta.get("uid"), meta.get("name"))


async def project(client: Client, project_id: str, *, field: str | None = "projectId") -> Obj:
    """The Project whose id (uid) or name is `project_id`. Unknown: 400 naming `field` (a request body's
    field), or 404 when `field` is None (a path)."""
    for fresh in (False, True):
        for found in await projects(client, fresh=fresh):
            if _matches(found, project_id):
                return found if fresh else await _reread(client, "Project", found)
    raise _unknown("project", project_id, field)


async def department(client: Client, department_id: str, *, field: str | None = "departmentId") -> Obj:
    """The Department whose id (uid) or name is `department_id`; unknown as for `project`."""
    for found in await client.list("Department"):
        if _matches(found, department_id):
            return found
    raise _unknown("department", department_id, field)


def _unknown(unit: str, key: str, field: str | None) -> RestError:
    """No project or department has this id: 400 naming the request's `field`, or 404 for a path's id."""
    fix = f"GET /api/v1/org-unit/{unit}s lists the {unit}s and their ids"
    if field is None:
        return RestError(404, f"{unit} {key!r} not found", details=fix)
    return bad_request(field, f"no {unit} has the id {key!r}", fix)


async def readable(client: Client, kind: str) -> list[Obj]:
    """Every object of a cluster-scoped `kind`; none when the caller may not read them (a researcher may not
    read Departments: they then see a department's name as its id)."""
    try:
        return list(await client.list(kind))
    except client_errors.Forbidden:
        return []


async def orgs(client: Client, cluster: str, *, fresh: bool = False) -> dict[str, Org]:
    """The ids of each project and its department, by the namespace holding the project's workloads, as the
    caller sees projects and departments (remembered a moment, as `projects`)."""
    listed, departments = await asyncio.gather(projects(client, fresh=fresh), remembered(
        client, "departments", lambda: readable(client, "Department"), fresh=fresh))
    uids = {d["metadata"]["name"]: str(d["metadata"].get("uid") or "") for d in departments}
    out = {}
    for found in listed:
        name = (found.get("spec") or {}).get("department") or "default"
        out[project_namespace(found)] = Org(cluster, found["metadata"]["name"],
                                            str(found["metadata"].get("uid") or ""), name, uids.get(name, name))
    return out


async def org_of(client: Client, cluster: str, namespace: str) -> Org | None:
    """The ids of the project whose workloads live in `namespace` (a project made a moment ago included)."""
    for fresh in (False, True):
        found = (await orgs(client, cluster, fresh=fresh)).get(namespace)
        if found is not None:
            return found
    return None


def project_namespace(project_obj: Obj) -> str:
    """The namespace holding a project's workloads."""
    status_ns = (project_obj.get("status") or {}).get("namespace")
    return status_ns or namespace_of_project(project_obj["metadata"]["name"], project_obj.get("spec"))


async def visible_projects(client: Client, candidates: list[Obj] | None = None) -> list[Obj] | None:
    """The projects (of `candidates`, default all) whose workloads the caller may list: None when it may
    list them everywhere (admin, viewer), else those it may (a researcher's own)."""
    if await client.can_i("list", "trainingworkloads", "run.ai"):
        return None
    found = await projects(client) if candidates is None else candidates
    allowed = await asyncio.gather(*(client.can_i("list", "trainingworkloads", "run.ai", project_namespace(p))
                                     for p in found))
    return [p for p, ok in zip(found, allowed, strict=True) if ok]


async def visible_namespaces(client: Client) -> list[str] | None:
    """The namespaces whose workloads the caller may list: None when it may list them everywhere (admin,
    viewer), else the namespaces of the projects it may (a researcher's own)."""
    visible = await visible_projects(client)
    return None if visible is None else [project_namespace(p) for p in visible]


#: Where each workload seen lately lives, by uid: (kind, namespace, name). Only a hint for `workload`, which
#: reads the object as the caller and checks its uid, so it never shows a caller what it may not read.
_WHERE: dict[str, tuple[str, str, str]] = {}
WHERE_KEPT = 100_000


def note(kind: str, objs: list[Obj]) -> None:
    if len(_WHERE) > WHERE_KEPT:
        _WHERE.clear()
    for obj in objs:
        meta = obj.get("metadata") or {}
        if meta.get("uid"):
            _WHERE[meta["uid"]] = (kind, meta.get("namespace", ""), meta.get("name", ""))


async def visible_where(client: Client) -> list[str | None]:
    """The namespaces to list the caller's workloads in: [None] (every one) or its projects' ones."""
    namespaces = await visible_namespaces(client)
    return [None] if namespaces is None else list(namespaces)


async def list_workloads(client: Client, kinds: tuple[str, ...] = WORKLOAD_KINDS,
                         where: list[str | None] | None = None) -> list[Obj]:
    """Every workload of `kinds` the caller may see (`where`: the namespaces `visible_where` gives, read
    when not given)."""
    where = await visible_where(client) if where is None else where
    pairs = [(kind, ns) for kind in kinds for ns in where]
    lists = await asyncio.gather(*(client.list(kind, ns) for kind, ns in pairs))
    for (kind, _), listed in zip(pairs, lists, strict=True):
        note(kind, listed)
    return [obj for listed in lists for obj in listed]


async def _hinted(client: Client, workload_id: str, kinds: tuple[str, ...]) -> Obj | None:
    """The workload at the place `_WHERE` remembers for its uid, if it is still that workload."""
    hint = _WHERE.get(workload_id)
    if hint is None or hint[0] not in kinds:
        return None
    try:
        obj = await client.get(hint[0], hint[2], hint[1])
    except (client_errors.NotFound, client_errors.Forbidden):
        return None
    return obj if (obj.get("metadata") or {}).get("uid") == workload_id else None


async def workload(client: Client, workload_id: str, kinds: tuple[str, ...] = WORKLOAD_KINDS) -> Obj:
    """The workload whose uid is `workload_id`, among `kinds`; 404 when the caller sees none. A uid seen
    lately is read where it was (one GET); any other is searched for in every list the caller may read."""
    found = await _hinted(client, workload_id, kinds)
    if found is not None:
        return found
    for obj in await list_workloads(client, kinds):
        if (obj.get("metadata") or {}).get("uid") == workload_id:
            return obj
    raise workload_not_found(workload_id)


def workload_not_found(workload_id: str) -> RestError:
    return RestError(404, f"workload {workload_id!r} not found",
                     details="GET /api/v1/workloads lists the workloads you can see, with their ids")
