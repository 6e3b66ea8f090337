"""Run:ai's policy API (2.18): `/api/v2/policy/{workspaces,trainings,distributed,inferences}` and the list
`/api/v2/policy`, read and written as the same Policy objects (`InteractivePolicy`, `TrainingPolicy`,
`DistributedPolicy`, `InferencePolicy`) that `kubectl apply` writes.

Scopes are namespaces, as Berth's policy lookup knows them (`berth.policy.lookup`): `project` is the
project's namespace (`runai-<project>`), `cluster` the namespace `runai`; `tenant` is the cluster too (a
Berth control plane is one cluster of one tenant). Berth's lookup has no department level, so a
department-scoped policy is refused (400 naming the scope, with the fix). A namespace holds one policy of
each kind, so a scope holds one policy per type, as in Run:ai; its name is the object's name.

Every read and write goes through the caller's client: admins may write, others are refused by the API
server (403); a policy that contradicts itself is refused by Berth's admission as for kubectl, and the
answer names the REST field (`berth.rest.policy_view.rest_field`). `effective` is what applies to the
scope's workloads: the project's own policy if it has one, else the cluster's (Berth composes no rules
across scopes: `berth.policy.lookup.select`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from berth.client import Client
from berth.client import errors as client_errors
from berth.policy.lookup import GLOBAL_NAMESPACE, select
from berth.rest import fields as field_map
from berth.rest import ids
from berth.rest.context import caller, rest_of
from berth.rest.errors import RestError, bad_request, from_api_error
from berth.rest.policy_schema import policy_schemas
from berth.rest.policy_view import TYPES, PolicyType, from_policy_spec, merge, reset, rest_field
from berth.rest.policy_view import to_policy_spec

Obj = dict[str, Any]
router = APIRouter(prefix="/api/v2/policy", tags=["Policy"])
API_VERSION = "run.ai/v2alpha1"


class Scope(str, Enum):
    tenant = "tenant"
    cluster = "cluster"
    department = "department"
    project = "project"


class WorkloadType(str, Enum):
    Workspace = "Workspace"
    Training = "Training"
    Distributed = "Distributed"
    Inference = "Inference"


# -- bodies -----------------------------------------------------------------------------------------------

class PolicyCreationFields(BaseModel):
    """Which organizational unit the policy is for, and its name."""

    model_config = ConfigDict(extra="ignore")  # a GET's meta (id, createdAt...) may be sent back as is

    scope: Scope = Field(..., description="project: the project's namespace (runai-<project>); cluster and "
                                          "tenant: the namespace runai; department: not supported by Berth.")
    projectId: int | str | None = Field(None, description="The project (its id, or its name); for scope project.")
    departmentId: int | str | None = Field(None, description="Not used: Berth has no department policies.")
    clusterId: str | None = Field(None, description="This cluster's id (GET /api/v1/clusters); optional.")
    name: str | None = Field(None, description="The Policy object's name (a DNS label); a PUT without one "
                                               "keeps the existing policy's name.")


class PolicyDefaultsAndRules(BaseModel):
    """A policy in Run:ai's REST field names: defaults as a workload spec, rules per field."""

    defaults: dict[str, Any] | None = Field(
        None, description="Default values, as a workload spec in REST names (compute.gpuDevicesRequest, "
                          "environmentVariables: {instances, attributes}...).")
    rules: dict[str, Any] | None = Field(
        None, description="Rules per field (required, canEdit, min, max, options; itemized: instances.canAdd, "
                          "instances.locked, attributes.<member>).")
    imposedAssets: list[str] | None = Field(None, description="Not supported by Berth: must be empty.")


class OverwriteRequest(BaseModel):
    meta: PolicyCreationFields
    policy: PolicyDefaultsAndRules | None = None


class ChangeRequest(BaseModel):
    meta: PolicyCreationFields
    policy: PolicyDefaultsAndRules | None = None
    reset: list[str] | None = Field(None, description="REST fields (compute.gpuDevicesRequest) whose defaults "
                                                      "and rules are cleared before the change is applied.")


class PolicyMeta(BaseModel):
    id: str = Field(..., description="The Policy object's uid.")
    name: str
    scope: Scope
    projectId: int | None = Field(None, description="Run:ai's numeric project id; Berth's ids are uids, so "
                                                    "this is left out: see projectName.")
    projectName: str | None = Field(None, description="Berth: the project of a project-scoped policy (accepted "
                                                      "as projectId).")
    clusterId: str | None = None
    createdBy: str = Field(..., description="The client (field manager) that created the object.")
    createdAt: str
    updatedBy: str = Field(..., description="The client (field manager) that last changed the object.")
    updatedAt: str


class PolicyAnswer(BaseModel):
    meta: PolicyMeta
    policy: PolicyDefaultsAndRules | None = None
    effective: PolicyDefaultsAndRules | None = Field(
        None, description="What applies to the scope's workloads: the project's policy, else the cluster's.")
    effectiveUpdatedAt: str | None = None


class ClusterStatus(BaseModel):
    clusterId: str
    status: str = Field(..., description="Ready: Berth's admission applies a policy as soon as it is stored.")


class SyncStatus(BaseModel):
    clusters: list[ClusterStatus]


class PolicyListEntry(BaseModel):
    type: str = Field(..., description="workspace, training, distributed or inference.")
    meta: PolicyMeta
    status: SyncStatus


class PolicyListResponse(BaseModel):
    policies: list[PolicyListEntry]


@dataclass(frozen=True)
class Models:
    """A policy type's request and answer models, their defaults and rules documented by its fields
    (`berth.rest.policy_schema`), named as Run:ai's document names them."""

    body: type[PolicyDefaultsAndRules]
    overwrite: type[OverwriteRequest]
    change: type[ChangeRequest]
    answer: type[PolicyAnswer]


def _documented(schema: Obj, text: str) -> Any:
    return (Annotated[dict[str, Any] | None, WithJsonSchema({**schema, "description": text})],
            Field(None, description=text))


def _models(ptype: PolicyType) -> Models:
    defaults, rules = policy_schemas(ptype)
    name = ptype.workload_type
    base = PolicyDefaultsAndRules.model_fields
    body = create_model(f"{name}PolicyDefaultsAndRulesV2", __base__=PolicyDefaultsAndRules,
                        defaults=_documented(defaults, base["defaults"].description or ""),
                        rules=_documented(rules, base["rules"].description or ""))
    given = (body | None, Field(None, description="The policy: defaults and rules."))
    return Models(
        body=body,
        overwrite=create_model(f"{name}PolicyOverwriteRequestV2", __base__=OverwriteRequest, policy=given),
        change=create_model(f"{name}PolicyChangeRequestV2", __base__=ChangeRequest, policy=given),
        answer=create_model(f"{name}PolicyV2", __base__=PolicyAnswer, policy=given, effective=(
            body | None, Field(None, description=PolicyAnswer.model_fields["effective"].description))))


MODELS: dict[str, Models] = {t.segment: _models(t) for t in TYPES}


# -- scopes -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    """The organizational unit a request names, as Berth keeps it: a namespace."""

    scope: Scope  # project or cluster
    namespace: str
    cluster_id: str
    project: str | None = None  # the project's name


async def _unit(request: Request, client: Client, scope: Scope, project_id: Any, cluster_id: str | None,
                prefix: str) -> Unit:
    if scope == Scope.department:
        raise bad_request(f"{prefix}scope", "Berth's policies apply per project or to the whole cluster; a "
                                            "department has no policy of its own",
                          "give the policy to each of the department's projects (scope project, projectId), "
                          "or to the cluster (scope cluster)")
    cid = await ids.check_cluster(rest_of(request), cluster_id, f"{prefix}clusterId")
    if scope != Scope.project:
        return Unit(Scope.cluster, GLOBAL_NAMESPACE, cid)
    if project_id is None or project_id == "":
        raise bad_request(f"{prefix}projectId", "a project-scoped policy names its project",
                          "set projectId (GET /api/v1/org-unit/projects lists the projects and their ids)")
    project = await ids.project(client, str(project_id), field=f"{prefix}projectId")
    return Unit(Scope.project, ids.project_namespace(project), cid, project["metadata"]["name"])


def _live(listed: list[Obj]) -> Obj | None:
    return select(listed, [])


async def _own(client: Client, ptype: PolicyType, namespace: str) -> Obj | None:
    return _live(await client.list(ptype.policy_kind, namespace))


async def _located(request: Request, client: Client, ptype: PolicyType, scope: Scope, project_id: str | None,
                   cluster_id: str | None) -> tuple[Unit, Obj | None]:
    """The unit a GET or DELETE names (query parameters), and its own policy of the type."""
    unit = await _unit(request, client, scope, project_id, cluster_id, "")
    return unit, await _own(client, ptype, unit.namespace)


async def _effective(client: Client, ptype: PolicyType, unit: Unit, own: Obj | None) -> Obj | None:
    if unit.scope == Scope.cluster:
        return own
    return select([own] if own else [], await client.list(ptype.policy_kind, GLOBAL_NAMESPACE))


# -- answers ----------------------------------------------------------------------------------------------

def _times(obj: Obj) -> tuple[str, str, str, str]:
    """createdBy, createdAt, updatedBy, updatedAt from the object's managedFields (managers are clients)."""
    meta = obj.get("metadata") or {}
    created = str(meta.get("creationTimestamp") or "")
    entries = sorted((e for e in meta.get("managedFields") or [] if isinstance(e, dict) and e.get("time")),
                     key=lambda e: str(e["time"]))
    first = entries[0] if entries else {}
    last = entries[-1] if entries else {}
    return (str(first.get("manager") or "unknown"), created, str(last.get("manager") or first.get("manager") or "unknown"),
            str(last.get("time") or created))


def _meta(obj: Obj, unit: Unit) -> PolicyMeta:
    created_by, created_at, updated_by, updated_at = _times(obj)
    meta = obj.get("metadata") or {}
    return PolicyMeta(id=str(meta.get("uid")), name=str(meta.get("name")), scope=unit.scope,
                      projectName=unit.project, clusterId=unit.cluster_id, createdBy=created_by,
                      createdAt=created_at, updatedBy=updated_by, updatedAt=updated_at)


def _answer(ptype: PolicyType, obj: Obj, unit: Unit, effective: Obj | None) -> PolicyAnswer:
    models = MODELS[ptype.segment]
    out = models.answer(meta=_meta(obj, unit),
                        policy=models.body(**from_policy_spec(ptype, obj.get("spec") or {}, field_map)))
    if effective is not None:
        on_cluster = (effective.get("metadata") or {}).get("namespace") == GLOBAL_NAMESPACE
        source = {"scope": "cluster" if on_cluster else "project", "clusterId": unit.cluster_id}
        out.effective = models.body(**from_policy_spec(ptype, effective.get("spec") or {}, field_map,
                                                                  source))
        out.effectiveUpdatedAt = _times(effective)[3]
    return out


def _refusal(ptype: PolicyType, exc: client_errors.ApiError) -> RestError:
    """The API server's refusal of a Policy object, its causes named by the REST fields."""
    names = {str(c.get("field") or ""): rest_field(ptype, str(c.get("field") or ""), field_map) for c in exc.causes}
    return from_api_error(exc, fields=names)


# -- routes -----------------------------------------------------------------------------------------------

ScopeQuery = Annotated[Scope, Query(description="The scope the policy is for.")]
ProjectQuery = Annotated[str | None, Query(alias="projectId", description="The project's id or name.")]
DepartmentQuery = Annotated[str | None, Query(alias="departmentId", description="Not used by Berth.")]
ClusterQuery = Annotated[str | None, Query(alias="clusterId", description="This cluster's id.")]
ValidateOnly = Annotated[bool, Query(alias="validateOnly", description="Check the policy without storing it.")]


async def _put(request: Request, client: Client, ptype: PolicyType, body: OverwriteRequest | ChangeRequest,
               validate_only: bool, patch: bool) -> PolicyAnswer:
    unit = await _unit(request, client, body.meta.scope, body.meta.projectId, body.meta.clusterId, "meta.")
    own = await _own(client, ptype, unit.namespace)
    name = body.meta.name or (own or {}).get("metadata", {}).get("name")
    if not name:
        raise bad_request("meta.name", "a new policy needs a name", "set meta.name, e.g. \"training-limits\"")
    if own is not None and own["metadata"]["name"] != name:
        where = f"project {unit.project}" if unit.project else "the cluster"
        raise bad_request("meta.name", f"{where} already has {ptype.policy_kind} {own['metadata']['name']!r}, "
                                       "and holds one policy of each type",
                          f"send meta.name {own['metadata']['name']!r} to change it, or DELETE it first")
    given = body.policy.model_dump(exclude_none=True) if body.policy else {}
    spec = to_policy_spec(ptype, given, field_map)
    if patch:
        assert isinstance(body, ChangeRequest)
        base = reset(ptype, (own or {}).get("spec") or {}, body.reset or [], field_map)
        spec = merge(base, spec)
    obj: Obj = {"apiVersion": API_VERSION, "kind": ptype.policy_kind,
                "metadata": {"name": name, "namespace": unit.namespace}, "spec": spec}
    try:
        if own is None:
            stored = await client.create(obj, dry_run=validate_only)
        else:
            obj["metadata"] = {**own["metadata"], "name": name, "namespace": unit.namespace}
            obj["metadata"].pop("managedFields", None)
            stored = await client.replace(obj, dry_run=validate_only)
    except client_errors.ApiError as exc:
        raise _refusal(ptype, exc) from None
    return _answer(ptype, stored, unit, await _effective(client, ptype, unit, stored))


def _routes(ptype: PolicyType) -> None:
    what = f"{ptype.type} policy"

    async def get_policy(request: Request, scope: ScopeQuery, projectId: ProjectQuery = None,
                         departmentId: DepartmentQuery = None, clusterId: ClusterQuery = None,
                         client: Client = Depends(caller)) -> PolicyAnswer:
        unit, own = await _located(request, client, ptype, scope, projectId, clusterId)
        if own is None:
            where = f"project {unit.project}" if unit.project else "the cluster"
            hint = (f"the cluster's applies to it: GET /api/v2/policy/{ptype.segment}?scope=cluster"
                    if unit.project else f"PUT /api/v2/policy/{ptype.segment} makes one")
            raise RestError(404, f"{where} has no {what} of its own ({ptype.policy_kind} in namespace "
                                 f"{unit.namespace})", details=hint)
        return _answer(ptype, own, unit, await _effective(client, ptype, unit, own))

    async def put_policy(request: Request, body: OverwriteRequest, validateOnly: ValidateOnly = False,
                         client: Client = Depends(caller)) -> PolicyAnswer:
        return await _put(request, client, ptype, body, validateOnly, patch=False)

    async def patch_policy(request: Request, body: ChangeRequest, validateOnly: ValidateOnly = False,
                           client: Client = Depends(caller)) -> PolicyAnswer:
        return await _put(request, client, ptype, body, validateOnly, patch=True)

    async def delete_policy(request: Request, scope: ScopeQuery, projectId: ProjectQuery = None,
                            departmentId: DepartmentQuery = None, clusterId: ClusterQuery = None,
                            client: Client = Depends(caller)) -> Response:
        unit, own = await _located(request, client, ptype, scope, projectId, clusterId)
        if own is None:
            raise RestError(404, f"no {what} in namespace {unit.namespace}",
                            details=f"GET /api/v2/policy?workloadType={ptype.workload_type} lists the policies")
        await client.delete(ptype.policy_kind, own["metadata"]["name"], unit.namespace)
        return Response(status_code=204)

    models = MODELS[ptype.segment]
    put_policy.__annotations__["body"] = models.overwrite  # the type's own models, in the OpenAPI document
    patch_policy.__annotations__["body"] = models.change
    path = f"/{ptype.segment}"
    answer: Obj = {"response_model": models.answer, "response_model_exclude_none": True}
    router.add_api_route(path, get_policy, methods=["GET"], summary=f"Get a {what}.",
                         operation_id=f"get_{ptype.type}_policy_v2", **answer)
    router.add_api_route(path, put_policy, methods=["PUT"], summary=f"Overwrite a {what}.",
                         operation_id=f"overwrite_{ptype.type}_policy_v2", **answer)
    router.add_api_route(path, patch_policy, methods=["PATCH"], summary=f"Update a {what}.",
                         operation_id=f"update_{ptype.type}_policy_v2", **answer)
    router.add_api_route(path, delete_policy, methods=["DELETE"], summary=f"Delete a {what}.", status_code=204,
                         operation_id=f"delete_{ptype.type}_policy", response_class=Response)


for _type in TYPES:
    _routes(_type)


@router.get("", response_model=PolicyListResponse, response_model_exclude_none=True, summary="List policies",
            operation_id="list_policies")
async def list_policies(request: Request,
                        workloadType: Annotated[WorkloadType | None, Query(description="Only this type.")] = None,
                        scope: Annotated[Scope | None, Query(description="Only this scope.")] = None,
                        departmentId: DepartmentQuery = None, projectId: ProjectQuery = None,
                        clusterId: ClusterQuery = None, client: Client = Depends(caller)) -> PolicyListResponse:
    """Every policy the caller may read: one per project and type, and the cluster's."""
    cid = await ids.check_cluster(rest_of(request), clusterId)
    wanted_project = (await ids.project(client, projectId))["metadata"]["name"] if projectId else None
    if departmentId:
        await ids.department(client, departmentId)
    projects = {ids.project_namespace(p): p["metadata"]["name"] for p in await client.list("Project")}
    entries: list[PolicyListEntry] = []
    for ptype in TYPES:
        if workloadType is not None and workloadType.value != ptype.workload_type:
            continue
        for obj in await client.list(ptype.policy_kind):
            namespace = (obj.get("metadata") or {}).get("namespace", "")
            if namespace == GLOBAL_NAMESPACE:
                unit = Unit(Scope.cluster, namespace, cid)
            elif namespace in projects:
                unit = Unit(Scope.project, namespace, cid, projects[namespace])
            else:
                continue  # a policy in a namespace of no project applies to nothing
            if (scope is not None and scope.value != unit.scope.value
                    and not (scope == Scope.tenant and unit.scope == Scope.cluster)):
                continue
            if wanted_project is not None and unit.project != wanted_project:
                continue
            if departmentId:  # Berth keeps no policy per department
                continue
            entries.append(PolicyListEntry(type=ptype.type, meta=_meta(obj, unit),
                                           status=SyncStatus(clusters=[ClusterStatus(clusterId=cid, status="Ready")])))
    return PolicyListResponse(policies=entries)

