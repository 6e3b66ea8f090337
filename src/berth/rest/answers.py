"""What Run:ai's REST API says about one workload besides its spec: `WorkloadMeta1` (name, ids, who created it
and when, the desired and the actual phase), read from a `run.ai/v2alpha1` object.

- workloadId is the object's uid; projectId the uid of the Project whose namespace holds it; departmentId the
  uid of that project's Department, or its name where the caller may not read Departments (as
  `GET /api/v1/workloads` says it); clusterId `ids.cluster_id`.
- requestedName is the name asked for: the name, or the prefix of a name made from `generateName`.
- createdBy is who submitted it, as `GET /api/v1/workloads` says `submittedBy` (`workload_view.submitted_by`:
  spec.userId, else spec.username; the REST API sets spec.username to the caller).
- desiredPhase: Deleted once the object is being deleted, Stopped while it is suspended (`spec.active`
  false), else Running. actualPhase: the object's `status.phase` in Run:ai's Phase enum, mapped as
  `GET /api/v1/workloads` maps it (`workload_view.runai_phase`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from berth.client import Client
from berth.client import errors as client_errors
from berth.rest import ids
from berth.rest import workload_view as view
from berth.rest.context import remembered

Obj = dict[str, Any]

DesiredPhase = Literal["Running", "Stopped", "Deleted"]
ActualPhase = Literal["Creating", "Initializing", "Resuming", "Pending", "Deleting", "Running", "Updating",
                      "Stopped", "Stopping", "Degraded", "Failed", "Completed", "Terminating", "Unknown"]

class WorkloadMeta(BaseModel):
    """Run:ai's WorkloadMeta1: who and what a workload is, and where it is in its life."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, description="The workload's name (its object's metadata.name).")
    requestedName: str = Field(..., description="The name asked for: the name, or the prefix it was made from "
                                                "when useGivenNameAsPrefix was true.")
    workloadId: str = Field(..., description="The workload's id: its object's uid.")
    projectId: str = Field(..., description="The id (uid) of the workload's project.")
    departmentId: str | None = Field(None, min_length=1, description="The id (uid) of the project's department.")
    clusterId: str = Field(..., description="The cluster's id (the uid of its runai namespace).")
    createdBy: str = Field(..., description="The user who submitted the workload (spec.userId, else spec.username).")
    createdAt: str = Field(..., description="When the workload was created (metadata.creationTimestamp).")
    desiredPhase: DesiredPhase = Field(..., description="Running, Stopped (suspended) or Deleted.")
    actualPhase: ActualPhase | None = Field(None, description="The phase the workload is in (status.phase).")


def _value(spec: Obj, name: str) -> Any:
    node = spec.get(name)
    return node.get("value") if isinstance(node, dict) else None


def desired_phase(obj: Obj) -> DesiredPhase:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Deleted"
    return "Stopped" if _value(obj.get("spec") or {}, "active") is False else "Running"


def actual_phase(obj: Obj) -> ActualPhase:
    phase = view.runai_phase((obj.get("status") or {}).get("phase"))
    allowed: tuple[str, ...] = ActualPhase.__args__  # type: ignore[attr-defined]
    return phase if phase in allowed else "Unknown"  # type: ignore[return-value]


def requested_name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    prefix = meta.get("generateName")
    return str(prefix).removesuffix("-") if prefix else str(meta.get("name") or "")


async def project_of(client: Client, namespace: str) -> Obj | None:
    """The Project whose workloads live in `namespace`, as the caller sees projects."""
    for fresh in (False, True):
        for project in await ids.projects(client, fresh=fresh):
            if ids.project_namespace(project) == namespace:
                return project
    return None


async def department_id(client: Client, project: Obj | None) -> str | None:
    """The uid of the project's Department; its name where the caller may not read it or it does not exist."""
    if project is None:
        return None
    name = (project.get("spec") or {}).get("department") or "default"

    async def uid() -> str:
        try:
            department = await client.get("Department", name)
        except (client_errors.NotFound, client_errors.Forbidden):
            return str(name)
        return str(department["metadata"]["uid"])

    return await remembered(client, f"department-uid/{name}", uid)


async def workload_meta(client: Client, obj: Obj, cluster: str, project: Obj | None = None) -> Obj:
    """WorkloadMeta1 of a workload object (`project`: its Project, when the caller has it at hand)."""
    meta = obj["metadata"]
    if project is None:
        project = await project_of(client, meta.get("namespace") or "")
    department = await department_id(client, project)
    answer = WorkloadMeta(
        name=meta["name"], requestedName=requested_name(obj), workloadId=meta["uid"],
        projectId=str((project or {}).get("metadata", {}).get("uid") or meta.get("namespace") or ""),
        departmentId=department, clusterId=cluster, createdBy=view.submitted_by(obj) or "",
        createdAt=str(meta.get("creationTimestamp") or ""), desiredPhase=desired_phase(obj),
        actualPhase=actual_phase(obj))
    return answer.model_dump(exclude_none=True)
