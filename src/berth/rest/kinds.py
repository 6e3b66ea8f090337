"""Create, get, delete, suspend and resume a workload of one type: `/api/v1/workloads/{workspaces, trainings,
distributed, inferences}`, on the same `run.ai/v2alpha1` objects kubectl writes.

A create becomes one `create` of the object through the caller's client (`context.caller`), so
authentication, authorization, admission and policies are the API server's, exactly as for `kubectl
apply`: a refusal comes back with the API server's message, and each cause's field is translated to the
REST field that set it (`spec.gpu` -> `spec.compute.gpuDevicesRequest`, by `berth.rest.fields`). The body:
`name` (with `useGivenNameAsPrefix`, the prefix of a name the API server makes, `generateName`),
`projectId` (the project's namespace holds the object), `clusterId` (must be this cluster's), `spec`
(translated by `berth.rest.fields`), and for distributed workloads `masterSpecSameAsWorker` / `masterSpec`
(the object's top-level masterSpec). The object's `spec.username` is the caller's name (createdBy).

Suspend and resume are what `berth suspend` / `berth resume` do (`berth.cli.lifecycle`): the object's
`spec.active` set to false or true. Run:ai has them for workspaces and trainings only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model

from berth.client import Client
from berth.client import errors as client_errors
from berth.rest import answers, fields, ids
from berth.rest.spec_schema import spec_schema
from berth.rest.context import caller, remembered, rest_of
from berth.rest.errors import RestError, bad_request, from_api_error

Obj = dict[str, Any]
API_VERSION = "run.ai/v2alpha1"


def _text(value: Any) -> Any:
    """Run:ai's examples send ids as numbers (`"projectId": 1`); they are strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Id = Annotated[str, BeforeValidator(_text)]
#: What the API server takes as a workload's name (documented here; the API server checks it, in its words).
NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
SPEC_TEXT = ("What to run and how, with Run:ai's field names (compute.gpuDevicesRequest, "
             "environmentVariables, storage.pvc...). docs/rest.md lists each field, the run.ai/v2alpha1 field it "
             "is, and the fields Berth refuses.")


class CreationRequest(BaseModel):
    """Run:ai's WorkloadCreationMeta1 and a spec."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, description="The workload's name (its object's metadata.name): a DNS "
                      "label, checked by the API server.", json_schema_extra={"pattern": NAME_PATTERN, "maxLength": 63})
    useGivenNameAsPrefix: bool = Field(False, description="true: name is a prefix; the API server adds random "
                                                           "characters (generateName).")
    projectId: Id = Field(..., description="The project's id (its uid), or its name.")
    clusterId: Id = Field(..., description="This cluster's id (GET /api/v1/clusters).")
    spec: dict[str, Any] | None = Field(None, description=SPEC_TEXT)


class DistributedCreationRequest(CreationRequest):
    masterSpecSameAsWorker: bool | None = Field(
        None, description="true (or masterSpec left out): the master runs as the workers do.")
    masterSpec: dict[str, Any] | None = Field(
        None, description="The master's (or launcher's) spec where it differs from the workers': the spec's "
                          "fields without the distributed ones.")


class Workload(answers.WorkloadMeta):
    """Run:ai's Workspace, Training1 or Inference1: WorkloadMeta1 and the spec."""

    spec: dict[str, Any] = Field(default_factory=dict, description=SPEC_TEXT)


class DistributedWorkload(Workload):
    masterSpecSameAsWorker: bool | None = Field(None, description="true when the workload has no masterSpec.")
    masterSpec: dict[str, Any] | None = Field(None, description="The master's spec, where it differs.")


class Accepted(BaseModel):
    """Run:ai's HttpResponse2."""

    code: int = Field(..., ge=100, le=599)
    message: str


def _spec(kind: str, text: str) -> Any:
    """A spec member typed as a dict (`berth.rest.fields` reads it) and documented with its schema."""
    return (Annotated[dict[str, Any] | None, WithJsonSchema({**spec_schema(kind), "description": text})],
            Field(None, description=text))


@dataclass(frozen=True)
class Type:
    """One workload type of the REST API, with its request and answer models (their spec documented by
    `berth.rest.spec_schema`)."""

    path: str  # under /api/v1/workloads/
    kind: str  # the run.ai/v2alpha1 kind
    noun: str  # in summaries and messages
    name: str  # of its models in the OpenAPI document
    suspendable: bool

    @property
    def request(self) -> type[CreationRequest]:
        return _models(self)[0]

    @property
    def answer(self) -> type[Workload]:
        return _models(self)[1]


_MODELS: dict[str, tuple[type[CreationRequest], type[Workload]]] = {}


def _models(t: Type) -> tuple[type[CreationRequest], type[Workload]]:
    if t.path not in _MODELS:
        distributed = t.kind == fields.D
        master = {"masterSpec": _spec(fields.MASTER, DistributedCreationRequest.model_fields["masterSpec"].description
                                      or "")} if distributed else {}
        request = create_model(f"{t.name}CreationRequest", __base__=DistributedCreationRequest if distributed
                               else CreationRequest, spec=_spec(t.kind, SPEC_TEXT), **master)  # type: ignore[call-overload]
        answer = create_model(t.name, __base__=DistributedWorkload if distributed else Workload,
                              spec=_spec(t.kind, SPEC_TEXT), **master)  # type: ignore[call-overload]
        _MODELS[t.path] = (request, answer)
    return _MODELS[t.path]


TYPES = (
    Type("workspaces", fields.W, "workspace", "Workspace", True),
    Type("trainings", fields.T, "training", "Training", True),
    Type("distributed", fields.D, "distributed training", "DistributedTraining", False),
    Type("inferences", fields.I, "inference", "Inference", False),
)

router = APIRouter(tags=["Workloads by type"])


# ---------------------------------------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------------------------------------


def object_for(kind: str, body: CreationRequest, namespace: str, username: str) -> Obj:
    """The object a creation request stands for."""
    spec = fields.to_object_spec(kind, body.spec or {})
    spec["username"] = {"value": username}
    meta: Obj = {"namespace": namespace}
    if body.useGivenNameAsPrefix:
        meta["generateName"] = body.name if body.name.endswith("-") else f"{body.name}-"
    else:
        meta["name"] = body.name
    obj: Obj = {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}
    if isinstance(body, DistributedCreationRequest):
        if body.masterSpec is not None and body.masterSpecSameAsWorker:
            raise bad_request("masterSpec", "given with masterSpecSameAsWorker true",
                              "leave masterSpec out, or set masterSpecSameAsWorker to false")
        if body.masterSpec is None and body.masterSpecSameAsWorker is False:
            raise bad_request("masterSpec", "required when masterSpecSameAsWorker is false",
                              "give the master's spec, or set masterSpecSameAsWorker to true")
        if body.masterSpec is not None:
            obj["masterSpec"] = fields.to_object_spec(fields.MASTER, body.masterSpec, root="masterSpec")
    return obj


def rest_field(kind: str, path: str) -> str:
    """A field path of the object (a Kubernetes error's cause) as the REST request's field."""
    if path.startswith(("metadata.name", "metadata.generateName")):
        return "name"
    for root, of in (("spec.", kind), ("masterSpec.", fields.MASTER)):
        if path.startswith(root):
            found = fields.rest_path(of, path[len(root):])
            return f"{root}{found}" if found else path
    return path


def refusal(kind: str, exc: client_errors.ApiError) -> RestError:
    """The API server's refusal with each cause's field named as in the REST request."""
    causes = {str(c.get("field") or ""): rest_field(kind, str(c.get("field") or "")) for c in exc.causes}
    return from_api_error(exc, fields=causes)


async def answer(request: Request, client: Client, kind: str, obj: Obj) -> Obj:
    cluster = await ids.cluster_id(rest_of(request))
    out = await answers.workload_meta(client, obj, cluster)
    out["spec"] = fields.from_object_spec(kind, obj.get("spec") or {})
    if kind == fields.D:
        master = obj.get("masterSpec") or (obj.get("spec") or {}).get("masterSpec")
        out["masterSpecSameAsWorker"] = master is None
        if master is not None:
            out["masterSpec"] = fields.from_object_spec(fields.MASTER, master)
    return out


# ---------------------------------------------------------------------------------------------------------
# Routes, one set per type
# ---------------------------------------------------------------------------------------------------------


def _routes(t: Type) -> None:
    base = f"/api/v1/workloads/{t.path}"

    async def create(body: CreationRequest, request: Request, client: Client = Depends(caller)) -> Obj:
        await ids.check_cluster(rest_of(request), body.clusterId)
        project = await ids.project(client, body.projectId)
        who = await remembered(client, "whoami", client.whoami)
        obj = object_for(t.kind, body, ids.project_namespace(project), who)
        try:
            created = await client.create(obj)
        except client_errors.ApiError as exc:
            raise refusal(t.kind, exc) from None
        ids.note(t.kind, [created])
        return await answer(request, client, t.kind, created)

    async def get(workloadId: str, request: Request, client: Client = Depends(caller)) -> Obj:
        return await answer(request, client, t.kind, await ids.workload(client, workloadId, (t.kind,)))

    async def delete(workloadId: str, client: Client = Depends(caller)) -> Response:
        obj = await ids.workload(client, workloadId, (t.kind,))
        await client.delete(t.kind, obj["metadata"]["name"], obj["metadata"]["namespace"])
        return Response(status_code=204)

    create.__annotations__["body"] = t.request  # FastAPI reads the body's model from the annotation
    for function, verb in ((create, "create"), (get, "get"), (delete, "delete")):
        function.__name__ = f"{verb}_{t.path}"
    router.add_api_route(base, create, methods=["POST"], response_model=t.answer, response_model_exclude_none=True,
                         status_code=200, summary=f"Create a {t.noun}.")
    router.add_api_route(f"{base}/{{workloadId}}", get, methods=["GET"], response_model=t.answer,
                         response_model_exclude_none=True, summary=f"Get a {t.noun} by its id.")
    router.add_api_route(f"{base}/{{workloadId}}", delete, methods=["DELETE"], status_code=204,
                         response_class=Response, summary=f"Delete a {t.noun}.")
    if t.suspendable:
        for verb, active in (("suspend", False), ("resume", True)):
            router.add_api_route(f"{base}/{{workloadId}}/{verb}", _set_active(t, verb, active), methods=["POST"],
                                 response_model=Accepted, status_code=202,
                                 summary=f"{verb.capitalize()} a {t.noun} (its spec.active set to "
                                         f"{str(active).lower()}).")


def _set_active(t: Type, verb: str, active: bool) -> Any:
    async def set_active(workloadId: str, client: Client = Depends(caller)) -> Obj:
        obj = await ids.workload(client, workloadId, (t.kind,))
        meta = obj["metadata"]
        node = (obj.get("spec") or {}).get("active")
        was = not (isinstance(node, dict) and node.get("value") is False)
        if was != active:
            try:
                await client.patch(t.kind, meta["name"], {"spec": {"active": {"value": active}}}, meta["namespace"])
            except client_errors.ApiError as exc:
                raise refusal(t.kind, exc) from None
        done = "resumed" if active else "suspended"
        already = "was not suspended" if active else "is already suspended"
        return {"code": 202, "message": f'{t.noun} "{meta["name"]}" {done if was != active else already}'}

    set_active.__name__ = f"{verb}_{t.path}"
    return set_active


for _type in TYPES:
    _routes(_type)
