"""`GET /api/v1/workloads` and what hangs under it: list, count, one workload, its pods, events and history,
and every workload's pods; Run:ai's read paths over all four workload kinds.

Everything is read as the caller (`berth.rest.context.caller`), so a researcher sees their projects'
workloads only, and a workload they may not read is "not found". A request reads the workloads, the
Projects and Departments (for their ids) and the workloads' pods, translates them (`workload_view`),
then filters, sorts and pages the translated answers (`listing`), so that a filter and the answer always
agree. Workloads of usage Template are not listed (they never run; Run:ai keeps templates apart).

Route order matters: the fixed paths (`/count`, `/pods`, `/pods/count`) are declared before
`/{workloadId}`, which answers 404 for an id that is not a uuid, as for one it does not know.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request

from berth.api.wellknown import WORKLOAD_NAME_LABEL
from berth.client import Client
from berth.rest import ids, listing
from berth.rest import workload_models as models
from berth.rest import workload_view as view
from berth.rest.context import caller, rest_of

router = APIRouter(prefix="/api/v1/workloads", tags=["Workloads"])

Obj = dict[str, Any]
T = TypeVar("T")
Caller = Annotated[Client, Depends(caller)]

#: The fields `filterBy` and `sortBy` take for workloads, as Run:ai's document lists them.
WORKLOAD_FIELDS: dict[str, listing.Field] = {
    "type": listing.key("type", fold_case=True),
    "name": listing.key("name"),
    "clusterId": listing.key("clusterId"),
    "projectId": listing.key("projectId"),
    "projectName": listing.key("projectName"),
    "departmentId": listing.key("departmentId"),
    "departmentName": listing.key("departmentName"),
    "createdAt": listing.key("createdAt", "date"),
    "deletedAt": listing.key("deletedAt", "date"),
    "submittedBy": listing.key("submittedBy"),
    "phase": listing.key("phase", fold_case=True),
    "completedAt": listing.key("completedAt", "date"),
    "nodepool": listing.key("requestedNodePools"),
    "allocatedGPU": listing.Field(lambda w: (w.get("allocatedResources") or {}).get("gpu"), "number"),
    "distributedFramework": listing.key("distributedFramework", fold_case=True),
}
#: The fields `filterBy` and `sortBy` take for pods.
POD_FIELDS: dict[str, listing.Field] = {
    "clusterId": listing.key("clusterId"),
    "nodeName": listing.key("nodeName"),
    "currentNodepool": listing.key("currentNodePool"),
    "createdAt": listing.key("createdAt", "date"),
    "completedAt": listing.key("completedAt", "date"),
    "deletedAt": listing.key("deletedAt", "date"),
}

WorkloadSort = Literal["type", "name", "clusterId", "projectId", "projectName", "departmentId", "departmentName",
                       "createdAt", "deletedAt", "submittedBy", "phase", "completedAt", "nodepool", "allocatedGPU",
                       "distributedFramework"]
PodSort = Literal["clusterId", "nodeName", "currentNodepool", "createdAt", "completedAt", "deletedAt"]
SortOrder = Literal["asc", "desc"]

_FILTER_HELP = ("Filter results: field-name, operator, value. Operators: == != <= >= =@ (contains) !@ (does not "
                "contain) =^ (starts with) =$ (ends with); dates (ISO 8601) take == != <= >=. Repeat the "
                "parameter or separate filters with commas; all must hold.")
Deleted = Annotated[bool | None, Query(description="true: only workloads being deleted (Berth keeps no record of "
                                                   "deleted ones); false: only the others; absent: all.")]
Offset = Annotated[int, Query(ge=0, description="The offset of the first item returned.")]
Limit = Annotated[int, Query(ge=1, le=listing.MAX_LIMIT, description="The most items to return.")]
WorkloadFilter = Annotated[list[str] | None, Query(alias="filterBy", description=_FILTER_HELP + " Fields: "
                                                    + ", ".join(WORKLOAD_FIELDS) + ".")]
PodFilter = Annotated[list[str] | None, Query(alias="filterBy", description=_FILTER_HELP + " Fields: "
                                               + ", ".join(POD_FIELDS) + ".")]
WorkloadId = Annotated[str, Path(description="The workload's id: its object's uid.")]


@dataclass
class Seen:
    """What a request read: the caller's workloads (Templates left out), each with its pods and org ids."""

    workloads: list[Obj]
    pods: dict[str, list[Obj]]  # by workload uid
    orgs: dict[str, view.Org]  # by namespace
    cluster_id: str
    pools: dict[str, str]  # node name -> its node pool

    def org(self, obj: Obj) -> view.Org:
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        return self.orgs.get(namespace) or view.Org(self.cluster_id, namespace.removeprefix("runai-"), "", "", "")

    def answers(self) -> list[Obj]:
        return [view.workload(w, self.org(w), self.pods.get(_uid(w), []), self.pools) for w in self.workloads]

    def pod_answers(self, obj: Obj) -> list[Obj]:
        """Run:ai's pods of one workload."""
        return [view.pod(p, obj, self.org(obj), self.pools) for p in self.pods.get(_uid(obj), [])]


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


async def seen(request: Request, client: Client, one: Obj | None = None) -> Seen:
    """The caller's workloads, their pods and their projects' ids, read at once; with `one`, only that
    workload and its pods (what a request about one workload needs)."""
    rest = rest_of(request)
    cluster = await ids.cluster_id(rest)
    if one is None:
        where = await ids.visible_where(client)
        listing_workloads = ids.list_workloads(client, where=where)
        listing_pods = asyncio.gather(*(client.list("Pod", ns, labels=WORKLOAD_NAME_LABEL) for ns in where))
    else:
        meta = one["metadata"]
        listing_workloads = _constant([one])
        listing_pods = asyncio.gather(client.list("Pod", meta["namespace"],
                                                  labels={WORKLOAD_NAME_LABEL: meta["name"]}))
    listed, pod_lists, orgs, nodes, node_pools = await asyncio.gather(
        listing_workloads, listing_pods, ids.orgs(client, cluster), ids.readable(client, "Node"),
        ids.readable(client, "NodePool"))
    workloads = [w for w in listed if not view.is_template(w)]
    pods: dict[str, list[Obj]] = {}
    for pod in (p for listed in pod_lists for p in listed):
        for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("uid"):
                pods.setdefault(str(ref["uid"]), []).append(pod)
    return Seen(workloads, pods, orgs, cluster, view.node_pools_of(nodes, node_pools))


async def _constant(value: T) -> T:
    return value


def _deleted(answers: list[Obj], deleted: bool | None) -> list[Obj]:
    if deleted is None:
        return answers
    return [a for a in answers if (a.get("deletedAt") is not None) == deleted]


def _filtered(answers: list[Obj], filters: list[listing.Filter], deleted: bool | None) -> list[Obj]:
    return [a for a in _deleted(answers, deleted) if listing.matches(a, filters)]


async def _find(request: Request, client: Client, workload_id: str) -> tuple[Seen, Obj]:
    """What the caller sees, and in it the workload whose uid is `workload_id`; 404 otherwise (an id that
    is not a uuid included, refused before anything is read)."""
    try:
        uuid.UUID(workload_id)
    except ValueError:
        raise ids.workload_not_found(workload_id) from None
    obj = await ids.workload(client, workload_id)
    if view.is_template(obj):
        raise ids.workload_not_found(workload_id)
    return await seen(request, client, obj), obj


# -- the collection --------------------------------------------------------------------------------------------

@router.get("", response_model=models.Workloads, summary="List workloads.")
async def list_workloads(request: Request, client: Caller, deleted: Deleted = None, offset: Offset = 0,
                         limit: Limit = listing.DEFAULT_LIMIT, sortOrder: SortOrder = "asc", sortBy: WorkloadSort | None = None,
                         filter_by: WorkloadFilter = None) -> Obj:
    """Every workload the caller may see, filtered, sorted and paged."""
    filters = listing.parse(filter_by or [], WORKLOAD_FIELDS)
    chosen = _filtered((await seen(request, client)).answers(), filters, deleted)
    ordered = listing.sort(chosen, WORKLOAD_FIELDS, sortBy or "createdAt", sortOrder)
    items, following = listing.page(ordered, offset, limit)
    return {"workloads": items, "next": following}


@router.get("/count", response_model=models.Count, summary="Count workloads.")
async def count_workloads(request: Request, client: Caller, deleted: Deleted = None,
                          filter_by: WorkloadFilter = None) -> Obj:
    """How many workloads `GET /api/v1/workloads` would list with these filters."""
    filters = listing.parse(filter_by or [], WORKLOAD_FIELDS)
    return {"count": len(_filtered((await seen(request, client)).answers(), filters, deleted))}


def _all_pods(found: Seen) -> list[Obj]:
    return [answer for w in found.workloads for answer in found.pod_answers(w)]


def _completed(answers: list[Obj], completed: str) -> list[Obj]:
    if completed.lower() == "true":
        return [a for a in answers if a.get("completedAt")]
    if completed.lower() == "false":
        return [a for a in answers if not a.get("completedAt")]
    return answers


@router.get("/pods", response_model=models.Pods, tags=["Pods"], summary="List pods.")
async def list_pods(request: Request, client: Caller, deleted: Deleted = None, offset: Offset = 0,
                    limit: Limit = listing.DEFAULT_LIMIT, sortOrder: SortOrder = "asc", sortBy: PodSort | None = None,
                    filter_by: PodFilter = None,
                    verbosity: Annotated[Literal["full", "short"] | None, Query(
                        description="full (Berth's default) adds workloadName and projectName.")] = None,
                    completed: Annotated[Literal["true", "false", "all", ""], Query(
                        description="true: only finished pods; false: only the others; all.")] = "all") -> Obj:
    """The pods of every workload the caller may see."""
    filters = listing.parse(filter_by or [], POD_FIELDS)
    chosen = _completed(_filtered(_all_pods(await seen(request, client)), filters, deleted), completed)
    ordered = listing.sort(chosen, POD_FIELDS, sortBy or "createdAt", sortOrder)
    items, following = listing.page(ordered, offset, limit)
    if verbosity == "short":
        items = [{k: v for k, v in p.items() if k not in ("workloadName", "projectName")} for p in items]
    return {"pods": items, "next": following}


@router.get("/pods/count", response_model=models.Count, tags=["Pods"], summary="Count pods.")
async def count_pods(request: Request, client: Caller, deleted: Deleted = None, filter_by: PodFilter = None) -> Obj:
    """How many pods `GET /api/v1/workloads/pods` would list with these filters."""
    filters = listing.parse(filter_by or [], POD_FIELDS)
    return {"count": len(_filtered(_all_pods(await seen(request, client)), filters, deleted))}


# -- one workload ----------------------------------------------------------------------------------------------

@router.get("/{workloadId}", response_model=models.Workload, summary="Get a workload.")
async def get_workload(request: Request, client: Caller, workloadId: WorkloadId) -> Obj:
    found, obj = await _find(request, client, workloadId)
    return view.workload(obj, found.org(obj), found.pods.get(workloadId, []), found.pools)


@router.get("/{workloadId}/pods", response_model=models.Pods, tags=["Pods"], summary="Get a workload's pods.")
async def get_workload_pods(request: Request, client: Caller, workloadId: WorkloadId, deleted: Deleted = None,
                            offset: Offset = 0, limit: Limit = listing.DEFAULT_LIMIT) -> Obj:
    found, obj = await _find(request, client, workloadId)
    answers = _deleted(found.pod_answers(obj), deleted)
    items, following = listing.page(listing.sort(answers, POD_FIELDS, "createdAt"), offset, limit)
    return {"pods": items, "next": following}


async def _events(client: Client, found: Seen, obj: Obj) -> list[Obj]:
    """The core Events of the workload and its pods, oldest first."""
    namespace = str((obj.get("metadata") or {}).get("namespace") or "")
    mine = {_uid(obj), *(_uid(p) for p in found.pods.get(_uid(obj), []))}
    events = await client.list("Event", namespace)
    return sorted((e for e in events if (e.get("involvedObject") or {}).get("uid") in mine), key=view.event_time)


@router.get("/{workloadId}/events", response_model=models.Events, tags=["Events"], summary="Get a workload's events.")
async def get_workload_events(request: Request, client: Caller, workloadId: WorkloadId, offset: Offset = 0,
                              limit: Limit = listing.DEFAULT_LIMIT) -> Obj:
    found, obj = await _find(request, client, workloadId)
    answers = [view.event(e, found.cluster_id) for e in await _events(client, found, obj)]
    items, following = listing.page(answers, offset, limit)
    return {"events": items, "next": following}


@router.get("/{workloadId}/history", response_model=models.History, tags=["Events"],
            summary="Get a workload's history.")
async def get_workload_history(request: Request, client: Caller, workloadId: WorkloadId, offset: Offset = 0,
                               limit: Limit = listing.DEFAULT_LIMIT) -> Obj:
    found, obj = await _find(request, client, workloadId)
    records = view.history(obj, await _events(client, found, obj), found.cluster_id)
    items, following = listing.page(records, offset, limit)
    return {"records": items, "next": following}
