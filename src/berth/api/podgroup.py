"""PodGroup (`scheduling.run.ai/v2alpha2`): the unit the scheduler places, as in KAI-Scheduler.

The workload controller makes one PodGroup per workload; the scheduler places its pods all together
(`minMember` of them at least) or not at all, charges them to the project named by `queue`, and writes
back why they wait in `status.schedulingConditions`. Field names follow KAI-Scheduler so that a pod
group written for it reads the same here.
"""

from __future__ import annotations

from pydantic import Field

from berth.api.base import Model
from berth.api.meta import Condition, ObjectMeta
from berth.api.priority import PriorityClassName
from berth.api.types import Boolean, Count, Integer, PositiveCount, String, Timestamp, enum

Preemptibility = enum("preemptible", "non-preemptible")


class TopologyConstraint(Model):
    """Keeps the group's pods close together in the cluster's topology."""

    topology: String | None = Field(None, description="Name of the topology description to use.")
    requiredTopologyLevel: String | None = Field(
        None, description="Node label key all pods must share a value of (a hard rule)."
    )
    preferredTopologyLevel: String | None = Field(
        None, description="Node label key the pods should share a value of, when possible."
    )


class SubGroup(Model):
    """A part of the group with a gang size of its own (e.g. the workers of a distributed job)."""

    name: String = Field(..., description="Name of the sub-group; pods join it with a label.")
    minMember: PositiveCount = Field(..., description="Pods of this sub-group that must be placed together.")


class PodGroupSpec(Model):
    """How the group's pods must be placed."""

    minMember: Count | None = Field(
        None, description="Fewest pods that must be placed together for any to start (the gang size). Default 1."
    )
    queue: String | None = Field(None, description="The project (queue) the group's resources are charged to.")
    priorityClassName: PriorityClassName | None = Field(
        None,
        description=(
            "Priority class: train (50), build-preemptible or interactive-preemptible (75), build (100) or "
            "inference (125), as KAI-Scheduler and Run:ai 2.18 name them. A group of priority 100 or more is "
            "non-preemptible. Default: train."
        ),
    )
    preemptibility: Preemptibility | None = Field(
        None,
        description=(
            "preemptible groups may use resources beyond their project's quota and may be preempted; "
            "non-preemptible ones stay within quota. Default: by priority (below 100 is preemptible)."
        ),
    )
    markUnschedulable: Boolean | None = Field(
        None, description="true marks the pods Unschedulable when the group cannot be placed."
    )
    schedulingBackoff: Integer | None = Field(
        None, description="Scheduling attempts before the group is marked unschedulable; -1 tries for ever."
    )
    topologyConstraint: TopologyConstraint | None = Field(None, description="Topology rules for the whole group.")
    subGroups: list[SubGroup] | None = Field(None, description="Parts of the group with their own gang sizes.")


class SchedulingCondition(Model):
    """Why the scheduler could not place the group, per node pool, in plain words."""

    type: String = Field(..., description="Unschedulable, or another scheduling observation.")
    nodePool: String | None = Field(None, description="The node pool this reason applies to.")
    reason: String | None = Field(None, description="A CamelCase word, e.g. OverQuota or NotEnoughGPUs.")
    message: String | None = Field(None, description="Plain words for people, e.g. why the job waits.")
    lastTransitionTime: Timestamp | None = Field(None, description="When this reason was first seen.")


class PodGroupStatus(Model):
    """What the scheduler observed."""

    phase: enum("Pending", "Running", "Succeeded", "Failed", "Unknown") | None = Field(
        None, description="Pending until minMember pods are placed, then Running."
    )
    conditions: list[Condition] | None = Field(None, description="Observations of the group's state.")
    schedulingConditions: list[SchedulingCondition] | None = Field(
        None, description="Why the group waits, per node pool."
    )
    running: Count | None = Field(None, description="Pods running.")
    pending: Count | None = Field(None, description="Pods waiting.")
    succeeded: Count | None = Field(None, description="Pods that ended successfully.")
    failed: Count | None = Field(None, description="Pods that failed.")


class PodGroup(Model):
    """A group of pods scheduled together (a gang), charged to one project's quota."""

    apiVersion: String = Field(..., description="scheduling.run.ai/v2alpha2")
    kind: String = Field(..., description="PodGroup")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta, description="Standard object metadata.")
    spec: PodGroupSpec = Field(default_factory=PodGroupSpec, description="How the pods must be placed.")
    status: PodGroupStatus | None = Field(None, description="What the scheduler observed; read-only.")
