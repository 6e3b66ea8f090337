"""Kubernetes object metadata and conditions, as Berth resources carry them.

Only what a Berth object can hold is modelled; the API server (issue B) owns the server-set fields
(uid, resourceVersion, generation, timestamps) and clients must not rely on setting them.
"""

from __future__ import annotations

from pydantic import Field

from berth.api.base import Model
from berth.api.types import Boolean, FreeForm, Integer, String, Timestamp, enum


class OwnerReference(Model):
    """Points at the object that owns this one; deleting the owner deletes this object too."""

    apiVersion: String = Field(..., description="API version of the owner, e.g. run.ai/v2alpha1.")
    kind: String = Field(..., description="Kind of the owner, e.g. TrainingWorkload.")
    name: String = Field(..., description="Name of the owner.")
    uid: String = Field(..., description="UID of the owner; a recreated owner with the same name is a different owner.")
    controller: Boolean | None = Field(None, description="true if the owner is the managing controller.")
    blockOwnerDeletion: Boolean | None = Field(
        None, description="true makes a foreground deletion of the owner wait for this object to go first."
    )


class ObjectMeta(Model):
    """Standard object metadata: name, namespace, labels, annotations and the server's bookkeeping."""

    name: String | None = Field(
        None,
        description=(
            "Name of the object, unique per kind within its namespace (or the cluster for cluster-scoped kinds). "
            "Lowercase letters, digits, '-' and '.'."
        ),
    )
    generateName: String | None = Field(
        None, description="Prefix from which the server makes a unique name when name is empty."
    )
    namespace: String | None = Field(
        None,
        description=(
            "Namespace of the object. Workloads and policies live in a project's namespace, runai-<project>; "
            "global policies and templates live in the namespace runai."
        ),
    )
    labels: dict[str, String] | None = Field(None, description="Key/value labels used by selectors.")
    annotations: dict[str, String] | None = Field(None, description="Key/value notes that selectors ignore.")
    uid: String | None = Field(None, description="Unique id set by the server at creation. Read-only.")
    resourceVersion: String | None = Field(
        None,
        description=(
            "Opaque version set by the server on every change; an update that carries an older one is refused "
            "with 409 Conflict. Read-only."
        ),
    )
    generation: Integer | None = Field(None, description="Counts changes to the spec. Read-only.")
    creationTimestamp: Timestamp | None = Field(None, description="When the object was created. Read-only.")
    deletionTimestamp: Timestamp | None = Field(
        None, description="When deletion was requested; the object goes once its finalizers are cleared. Read-only."
    )
    deletionGracePeriodSeconds: Integer | None = Field(
        None, description="Seconds the object is given to stop before it is removed. Read-only."
    )
    finalizers: list[String] | None = Field(
        None, description="Names of controllers that must finish their clean-up before the object is removed."
    )
    ownerReferences: list[OwnerReference] | None = Field(
        None, description="Objects that own this one; when all owners are gone, this object is deleted."
    )
    managedFields: list[FreeForm] | None = Field(
        None, description="Which manager set which fields (server-side apply bookkeeping). Read-only."
    )
    selfLink: String | None = Field(None, description="Deprecated; never set by Berth.")


ConditionStatus = enum("True", "False", "Unknown")


class Condition(Model):
    """One observation of an object's state, in the Kubernetes condition convention."""

    type: String = Field(..., description="The kind of observation, e.g. Scheduled, Running, Completed.")
    status: ConditionStatus = Field(..., description='"True", "False" or "Unknown".')
    reason: String | None = Field(None, description="A CamelCase word for programs, e.g. NotEnoughGPUs.")
    message: String | None = Field(None, description="Plain words for people: what happened and why.")
    lastTransitionTime: Timestamp | None = Field(None, description="When status last changed.")
    observedGeneration: Integer | None = Field(
        None, description="The metadata.generation the condition was computed from."
    )
