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
from berth.rest import ids
from berth.rest import workload_view as view
from berth.rest.workload_models import Phase

Obj = dict[str, Any]

DesiredPhase = Literal["Running", "Stopped", "Deleted"]

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
    actualPhase: Phase | None = Field(None, description="The phase the workload is in (status.phase).")


def desired_phase(obj: Obj) -> DesiredPhase:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Deleted"
    return "Stopped" if view.scalar(obj.get("spec") or {}, "active") is False else "Running"


def requested_name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    prefix = meta.get("generateName")
    return str(prefix).removesuffix("-") if prefix else str(meta.get("name") or "")


async def workload_meta(client: Client, obj: Obj, cluster: str) -> Obj:
    """WorkloadMeta1 of a workload object."""
    meta = obj["metadata"]
    org = await ids.org_of(client, cluster, meta.get("namespace") or "")
    answer = WorkloadMeta(
        name=meta["name"], requestedName=requested_name(obj), workloadId=meta["uid"],
        projectId=org.project_id if org is not None and org.project_id else str(meta.get("namespace") or ""),
        departmentId=org.department_id if org is not None else None, clusterId=cluster,
        createdBy=view.submitted_by(obj) or "", createdAt=str(meta.get("creationTimestamp") or ""),
        desiredPhase=desired_phase(obj), actualPhase=view.runai_phase((obj.get("status") or {}).get("phase")))
    return answer.model_dump(exclude_none=True)
