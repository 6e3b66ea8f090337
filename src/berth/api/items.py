"""The member shapes of itemized workload fields (`ports`, `pvcs`, `volumes`, ...).

Every member is optional here on purpose: a policy's `DEFAULTS` item may supply members to every item,
so whether an item is complete can only be judged after composition (`berth.policy`). Members that the
workload cannot run without say so in their description ("Required after defaults are applied").
Where the public Run:ai record does not name a member, the choice is written down in docs/api.md.
"""

from __future__ import annotations

from berth.api.base import Model, field
from berth.api.types import Boolean, Count, Port, Quantity, String, enum

ServiceType = enum("ClusterIP", "NodePort", "LoadBalancer", "Ingress", spellings={
    "clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer", "ingress": "Ingress",
    "portforward": "ClusterIP",
})
"""As Run:ai's CLI writes them too (`--service-type nodeport`); portforward, the CLI's way of reaching a port
through `kubectl port-forward`, is a ClusterIP Service."""
AccessMode = enum("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


class PortItem(Model):
    """A container port, optionally exposed outside the cluster through a Service."""

    container: Port | None = field(
        "Port the container listens on. Required after defaults are applied.", flag="--port [EXTERNAL:]CONTAINER"
    )
    external: Port | None = field(
        "Port to expose outside the cluster (the node port or load balancer port).",
        default="chosen by the cluster",
        flag="--port EXTERNAL:CONTAINER",
    )
    serviceType: ServiceType | None = field(
        "How the port is exposed: ClusterIP (inside the cluster), NodePort, LoadBalancer or Ingress.",
        default="the workload's serviceType, else ClusterIP",
        flag="--service-type, -s",
    )
    name: String | None = field("A name for the port, used in the Service's port list.", default="the item label")


class PvcItem(Model):
    """A persistent volume claim mounted into the container: an existing claim, or one Berth creates."""

    claimName: String | None = field(
        "Name of the PersistentVolumeClaim. For a new claim, the name to create.",
        default="generated from the workload name for a new claim",
        flag="--existing-pvc claimname=NAME,path=PATH",
    )
    existingPvc: Boolean | None = field(
        "true mounts a claim that already exists; false asks Berth to create it (storageClass, size, accessMode).",
        default="false",
        flag="--existing-pvc / --pvc-new",
    )
    path: String | None = field(
        "Directory in the container where the claim is mounted. Required after defaults are applied.",
        flag="--existing-pvc ...,path=PATH",
    )
    readOnly: Boolean | None = field("true mounts the claim read-only.", default="false", flag="--pvc-new ...,ro")
    ephemeral: Boolean | None = field(
        "true deletes a claim Berth created when the workload is deleted.", default="false", flag="--pvc-new ...,ephemeral"
    )
    storageClass: String | None = field(
        "Storage class of a new claim.", default="the cluster's default storage class", flag="--pvc-new storageclass=..."
    )
    size: Quantity | None = field("Size of a new claim, e.g. 10Gi.", unit="bytes (a quantity)", flag="--pvc-new size=...")
    accessMode: AccessMode | None = field(
        "Access mode of a new claim.", default="ReadWriteOnce", flag="--pvc-new accessmode-rwm (ReadWriteMany)"
    )


class VolumeItem(Model):
    """A host directory or NFS export mounted into the container."""

    source: String | None = field(
        "Path on the node (or on the NFS server when nfsServer is set). Required after defaults are applied.",
        flag="--volume SOURCE:TARGET[:ro][:NFS_HOST], -v",
    )
    target: String | None = field(
        "Path in the container. Required after defaults are applied.", flag="--volume SOURCE:TARGET, -v"
    )
    readOnly: Boolean | None = field("true mounts the volume read-only.", default="false", flag="--volume ...:ro")
    nfsServer: String | None = field(
        "Host name or address of an NFS server; when set, source is an export on that server.",
        default="none (a host path)",
        flag="--nfs-server, or --volume ...:NFS_HOST",
    )


class EmptyDirItem(Model):
    """A scratch directory that lives as long as the pod."""

    path: String | None = field("Path in the container. Required after defaults are applied.")
    sizeLimit: Quantity | None = field("Largest size the directory may grow to.", unit="bytes (a quantity)", default="no limit")
    medium: enum("Memory") | None = field("Memory backs the directory with RAM (tmpfs).", default="the node's disk")


class ConfigMapVolumeItem(Model):
    """A ConfigMap of the workload's namespace mounted as files."""

    name: String | None = field(
        "Name of the ConfigMap. Required after defaults are applied.", flag="--configmap-volume name=NAME,path=PATH"
    )
    mountPath: String | None = field(
        "Directory in the container. Required after defaults are applied.", flag="--configmap-volume ...,path=PATH"
    )
    readOnly: Boolean | None = field("true mounts it read-only.", default="true")


class SecretVolumeItem(Model):
    """A Secret of the workload's namespace mounted as files."""

    name: String | None = field("Name of the Secret. Required after defaults are applied.")
    mountPath: String | None = field("Directory in the container. Required after defaults are applied.")
    readOnly: Boolean | None = field("true mounts it read-only.", default="true")


class TolerationItem(Model):
    """Lets the pods run on nodes with a matching taint."""

    key: String | None = field("Taint key to tolerate; empty with operator Exists tolerates every taint.",
                               flag="--toleration key=...")
    operator: enum("Equal", "Exists") | None = field(
        "Equal matches key and value; Exists matches the key whatever its value.", default="Equal",
        flag="--toleration operator=...",
    )
    value: String | None = field("Taint value to match when operator is Equal.", flag="--toleration value=...")
    effect: enum("NoSchedule", "PreferNoSchedule", "NoExecute") | None = field(
        "Taint effect to tolerate.", default="all effects", flag="--toleration effect=..."
    )
    seconds: Count | None = field(
        "For NoExecute: how long the pod stays on a node after the taint appears.", unit="seconds",
        default="forever", flag="--toleration seconds=...",
    )


class ExtendedResourceItem(Model):
    """A request for a device other than GPUs, such as a network adapter."""

    resource: String | None = field(
        "Resource name as the node advertises it, e.g. nvidia.com/mlnx_rdma. Required after defaults are applied.",
        flag="--extended-resource NAME=QUANTITY",
    )
    quantity: Quantity | None = field("How many to request.", default="1", flag="--extended-resource NAME=QUANTITY")


class GitSyncItem(Model):
    """A git repository cloned into the container before it starts."""

    source: String | None = field(
        "Repository URL. Required after defaults are applied.", flag="--git-sync source=..."
    )
    branch: String | None = field("Branch to check out.", default="the repository's default branch",
                                  flag="--git-sync branch=...")
    rev: String | None = field("Commit or tag to check out; overrides branch.", flag="--git-sync rev=...")
    username: String | None = field("User name for a private repository.", flag="--git-sync username=...")
    password: String | None = field(
        "Password or token for a private repository; prefer SECRET:<secret>,<key>.", flag="--git-sync password=..."
    )
    target: String | None = field("Directory in the container to clone into.", default="/code",
                                  flag="--git-sync target=...")


class S3Item(Model):
    """An S3 bucket mounted into the container."""

    bucket: String | None = field("Bucket name. Required after defaults are applied.", flag="--s3 bucket=...")
    key: String | None = field("Access key id, or SECRET:<secret>,<key>.", flag="--s3 key=...")
    secret: String | None = field("Secret access key, or SECRET:<secret>,<key>.", flag="--s3 secret=...")
    url: String | None = field("Endpoint URL of the S3 service.", default="https://s3.amazon.com", flag="--s3 url=...")
    target: String | None = field("Directory in the container. Required after defaults are applied.",
                                  flag="--s3 target=...")


class ExposedUrlItem(Model):
    """A URL through which a container port is reached, such as an ingress path."""

    container: Port | None = field("Container port the URL leads to. Required after defaults are applied.")
    url: String | None = field("The URL, or a path under the cluster's ingress host.", default="generated")
    authorizedUsers: String | None = field("Space-separated users who may open the URL.", default="everyone")
    toolType: String | None = field("What serves the URL (jupyter-notebook, tensorboard, custom...), for the UI.")
