"""GPU sharing on a real cluster: the reservation pods and ConfigMaps through which a pod that shares a GPU
(`gpu-fraction`, `gpu-memory`) gets a device a kubelet knows about, as KAI-Scheduler does it.

A kubelet hands out GPUs through the NVIDIA device plugin, by the count of `nvidia.com/gpu`, and knows nothing
of fractions. So for each device the scheduler shares on a node, it runs a **reservation pod** in
`runai-reservation` that asks `nvidia.com/gpu: 1` on that node: the device plugin gives it one GPU, which no
other pod is then given whole, and the pod prints that GPU's identity (its UUID) as the first line of its log.
The pods sharing the device get it through a ConfigMap `<pod>-shared-gpu` (NVIDIA_VISIBLE_DEVICES, and the share
as GPU_PORTION), which the workload controller names in the pod's `envFrom` (optional, so a node agent of
`berth up`, which reads the device annotation instead, needs none) and the scheduler writes before it binds.
This module is the contract between the controller, the scheduler and the reservation pod: names, labels and
the objects' shapes, once.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from berth.api.usage import DEVICES_ANNOTATION  # on the reservation pod too: its device, for berth up's nodes

RESERVATION_NAMESPACE = "runai-reservation"
#: On a reservation pod: the node and the device index (the scheduler's) it holds.
RESERVATION_NODE_LABEL = "run.ai/gpu-reservation-node"
RESERVATION_DEVICE_LABEL = "run.ai/gpu-reservation-device"
#: Written by the scheduler on a reservation pod once read from its log: the GPU the device plugin gave it.
RESERVED_GPU_ANNOTATION = "run.ai/reserved-gpu"
#: Reservation pods are placed by their nodeName; this name keeps every scheduler's hands off them.
RESERVATION_SCHEDULER = "berth-gpu-reservation"


def reservation_name(node: str, device: int) -> str:
    """`gpu-reservation-<node>-<device>`, or a hashed short form when the node's name is long (names of pods
    are DNS labels: at most 63 characters)."""
    name = f"gpu-reservation-{node}-{device}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(f"{node}/{device}".encode()).hexdigest()[:10]
    return f"gpu-reservation-{node[:30].rstrip('-.')}-{digest}-{device}"


def shared_gpu_configmap(pod_name: str) -> str:
    """The ConfigMap a sharing pod's containers take NVIDIA_VISIBLE_DEVICES and GPU_PORTION from."""
    return f"{pod_name}-shared-gpu"


def env_from(pod_name: str) -> dict[str, Any]:
    """What the workload controller adds to the `envFrom` of a sharing pod's containers."""
    return {"configMapRef": {"name": shared_gpu_configmap(pod_name), "optional": True}}


def reservation_pod(node: str, device: int, image: str) -> dict[str, Any]:
    """The reservation pod holding one GPU on `node` for the pods sharing the scheduler's `device`."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": reservation_name(node, device), "namespace": RESERVATION_NAMESPACE,
                     "labels": {RESERVATION_NODE_LABEL: node[:63], RESERVATION_DEVICE_LABEL: str(device),
                                "app.kubernetes.io/part-of": "berth"},
                     "annotations": {DEVICES_ANNOTATION: str(device)}},
        "spec": {
            "nodeName": node, "schedulerName": RESERVATION_SCHEDULER, "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 5, "automountServiceAccountToken": False,
            "tolerations": [{"operator": "Exists"}],
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},  # the image's user (65532)
            "containers": [{
                "name": "reservation", "image": image, "imagePullPolicy": "IfNotPresent",
                "command": ["berth", "gpu-reservation"],
                "resources": {"limits": {"nvidia.com/gpu": "1", "cpu": "100m", "memory": "128Mi"},
                              "requests": {"nvidia.com/gpu": "1", "cpu": "10m", "memory": "64Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
        },
    }


def shared_gpu_data(reserved: str, fraction: float, memory_mib: int) -> dict[str, str]:
    """The ConfigMap's data for a pod sharing the GPU `reserved` (as its reservation pod printed it)."""
    data = {"NVIDIA_VISIBLE_DEVICES": reserved}
    if fraction and fraction < 1:
        data["GPU_PORTION"] = f"{fraction:g}"
    if memory_mib:
        data["GPU_MEMORY_LIMIT_MIB"] = str(memory_mib)
    return data


_GPU = re.compile(r"^(GPU-[0-9A-Fa-f-]+|MIG-[\w:/-]+|\d+)$")


def gpu_identity(line: str) -> str | None:
    """The GPUs a reservation pod printed (UUIDs, MIG UUIDs or indexes, comma-separated), or None when the line
    is something else (an error the container printed instead)."""
    parts = [part.strip() for part in line.strip().split(",")]
    return ",".join(parts) if parts and all(_GPU.match(part) for part in parts) else None


def reserved_gpu(pod: dict[str, Any]) -> str | None:
    """The GPU a reservation pod holds, once the scheduler has read it from its log."""
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(RESERVED_GPU_ANNOTATION) or None
