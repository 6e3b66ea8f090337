"""A node as the API sees it: the Node object an agent registers, and the heartbeat that keeps it Ready.

The Node carries what the scheduler needs: capacity and allocatable (cpu, memory, pods, `nvidia.com/gpu`),
its GPUs (model, memory, index) in the annotation `run.ai/gpus`, the labels GPU feature discovery would
set (`nvidia.com/gpu.product`, `nvidia.com/gpu.memory`), `run.ai/type` and node-pool labels, and whether
it is simulated. A Lease in `kube-node-lease` is renewed every few seconds, and the Ready condition with
it, as a kubelet does.

A GPU in MIG mode is offered as its MIG instances only, as NVIDIA's device plugin does in its `mixed`
strategy: `nvidia.com/gpu` counts the GPUs not in MIG mode, `nvidia.com/mig-<profile>` the instances of each
profile, and the GPU's entry in `run.ai/gpus` lists its instances' profiles in order (`"mig"`) and its
compute slices (`"migSlices"`, what a slice counts a share of: `berth.api.mig`).

Contract with the scheduler: when it binds a pod, it writes the devices it chose into the pod annotation
`run.ai/gpu-devices` (comma-separated indexes; a MIG instance as `<device>:<instance>`); the agent exposes
exactly those to the pod.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from berth import __version__
from berth.api import mig, streaming
from berth.api.wellknown import SIMULATED_LABEL
from berth.client import AlreadyExists, ApiError, Client, NotFound

log = logging.getLogger(__name__)

GPUS_ANNOTATION = "run.ai/gpus"  # on a Node: JSON list of its GPUs
DEVICES_ANNOTATION = "run.ai/gpu-devices"  # on a bound Pod: the device indexes the scheduler assigned
SIM_DURATION = "berth.dev/sim-duration"  # on a Pod: how long a simulated node "runs" it (e.g. "90s")
SIM_EXIT_CODE = "berth.dev/sim-exit-code"  # on a Pod: the exit code it then ends with
LEASE_NAMESPACE = "kube-node-lease"
HEARTBEAT_S = 10.0


@dataclass(frozen=True)
class Gpu:
    """One GPU device of a node."""

    index: int
    model: str = "NVIDIA-Simulated"
    memory_mib: int = 81920
    uuid: str = ""
    mig: tuple[str, ...] | None = None  # in MIG mode: its MIG instances' profiles, by instance index
    mig_uuids: tuple[str, ...] = ()  # the MIG devices' UUIDs (MIG-...), by instance, where known

    def entry(self) -> dict[str, Any]:
        """This GPU as an item of the `run.ai/gpus` annotation."""
        out: dict[str, Any] = {"index": self.index, "model": self.model, "memoryMiB": self.memory_mib}
        if self.uuid:
            out["uuid"] = self.uuid
        if self.mig is not None:
            out["mig"] = list(self.mig)
            out["migSlices"] = mig.slices_of(self.model, self.memory_mib)
        return out


@dataclass(frozen=True)
class NodeSpec:
    """What a node offers and how it is labelled."""

    name: str
    cpu: str = "8"
    memory: str = "64Gi"
    pods: int = 110
    gpus: tuple[Gpu, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    simulated: bool = False
    address: str = "127.0.0.1"
    stream_port: int | None = None  # where the agent serves exec, attach and port-forward (`berth.api.streaming`)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_manifest(spec: NodeSpec) -> dict[str, Any]:
    """The Node object for `spec`, Ready now."""
    labels = {"kubernetes.io/hostname": spec.name, "kubernetes.io/os": "linux",
              SIMULATED_LABEL: "true" if spec.simulated else "false", **spec.labels}
    if spec.gpus:
        labels.setdefault("nvidia.com/gpu.product", spec.gpus[0].model.replace(" ", "-"))
        labels.setdefault("nvidia.com/gpu.memory", str(spec.gpus[0].memory_mib))
        labels.setdefault("nvidia.com/gpu.count", str(len(spec.gpus)))
    resources = {"cpu": spec.cpu, "memory": spec.memory, "pods": str(spec.pods),
                 "nvidia.com/gpu": str(sum(1 for g in spec.gpus if g.mig is None))}
    slices = Counter(profile for g in spec.gpus for profile in g.mig or () if mig.is_profile(profile))
    resources.update({mig.resource_name(profile): str(n) for profile, n in sorted(slices.items())})
    gpus = [g.entry() for g in spec.gpus]
    now = _now()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels, "annotations": {GPUS_ANNOTATION: json.dumps(gpus)}},
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": dict(resources),
            "conditions": [{"type": "Ready", "status": "True", "reason": "AgentReady",
                            "message": "berth node agent is posting ready status", "lastHeartbeatTime": now,
                            "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": spec.address}, {"type": "Hostname", "address": spec.name}],
            **({"daemonEndpoints": streaming.daemon_endpoints(spec.stream_port)} if spec.stream_port else {}),
            "nodeInfo": {"kubeletVersion": f"berth-{__version__}", "osImage": platform.platform(terse=True),
                         "architecture": platform.machine(), "operatingSystem": "linux",
                         "containerRuntimeVersion": "berth-simulated" if spec.simulated else "berth-process"},
        },
    }


async def register(client: Client, spec: NodeSpec) -> dict[str, Any]:
    """Create the Node, or bring an existing one up to date (labels, capacity, Ready)."""
    manifest = node_manifest(spec)
    try:
        await client.create(manifest)
    except AlreadyExists:
        await client.patch("Node", spec.name, {"metadata": {"labels": manifest["metadata"]["labels"],
                                                                   "annotations": manifest["metadata"]["annotations"]}})
    return await client.patch("Node", spec.name, {"status": manifest["status"]}, subresource="status")


async def heartbeat(client: Client, name: str, interval: float = HEARTBEAT_S) -> None:
    """Renew the node's Lease and Ready condition every `interval` seconds, until cancelled."""
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": name, "namespace": LEASE_NAMESPACE},
             "spec": {"holderIdentity": name, "leaseDurationSeconds": int(interval * 4)}}
    while True:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        try:
            try:
                await client.patch("Lease", name, {"spec": {"renewTime": now}}, LEASE_NAMESPACE)
            except NotFound:
                await client.create({**lease, "spec": {**lease["spec"], "renewTime": now}})
            await client.patch("Node", name, {"status": {"conditions": [{
                "type": "Ready", "status": "True", "reason": "AgentReady",
                "message": "berth node agent is posting ready status", "lastHeartbeatTime": _now()}]}},
                subresource="status", type="strategic")
        except ApiError as exc:
            log.warning("heartbeat of node %s failed: %s", name, exc)
        await asyncio.sleep(interval)
