"""Reservation pods for the GPUs the scheduler shares, on a real cluster (`berth.api.sharing` says why and how).

Before a pod that shares a GPU is bound, its device must be held by a reservation pod that is running and has
said, in its log, which GPU the device plugin gave it; then the pod's ConfigMap names that GPU, then the bind.
That takes seconds (an image to pull, a container to start), so it is done beside the cycle: the pod stays
*assumed* on its device meanwhile, and the next cycles book its share as placed. A reservation that does not
come up in `WAIT_S` gives the pod back to the scheduler and says why on it. A reservation pod no sharing pod
uses any more is deleted (after `IDLE_S`, so that a pod about to be bound to it does not lose it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from berth.api import sharing, usage
from berth.client import AlreadyExists, ApiError, Client, NotFound
from berth.client.errors import ClientError
from berth.client.informer import Informer
from berth.scheduler.core import Bind

log = logging.getLogger(__name__)

Obj = dict[str, Any]
WAIT_S = 180.0  # for a reservation pod to run and say its GPU
POLL_S = 0.5
IDLE_S = 30.0  # an unused reservation pod is kept this long
ENDED_BACKOFF_S = 5.0  # after deleting a reservation pod that ended, before making it again


def shares(bind: Bind, pod: Obj) -> bool:
    """Whether a bind gives `pod` part of a GPU (it asks a fraction or GPU memory), not whole devices or MIG
    slices."""
    return bool(bind.devices) and not bind.mig and _sharing(pod)


def _sharing(pod: Obj) -> bool:
    request = usage.pod_request(pod)
    return bool(request.gpu_fraction or request.gpu_memory)


class Reservations:
    """The reservation pods of one scheduler, and the binds waiting on them."""

    def __init__(self, client: Client, image: str, idle_s: float = IDLE_S) -> None:
        self.client = client
        self.image = image
        self.idle_s = idle_s
        self.pods = Informer(client, "Pod", sharing.RESERVATION_NAMESPACE)  # the reservation pods
        # pod key -> its bind in progress, and the uid of the pod it is for
        self.waiting: dict[str, tuple[asyncio.Task[None], Bind, str | None]] = {}
        self._in_use_since: dict[tuple[str, int], float] = {}  # (node, device) -> last seen in use

    def bind_later(self, bind: Bind, pod: Obj, bind_now: Callable[[Bind], Awaitable[None]],
                   give_up: Callable[[Bind, str], Awaitable[None]]) -> None:
        """Reserve the bind's devices, write the pod's ConfigMap, then `bind_now`; beside the cycle. On failure,
        `give_up(bind, why)`. A bind in progress for an earlier pod of the same name is given up."""
        uid = (pod.get("metadata") or {}).get("uid")
        earlier = self.waiting.get(bind.pod)
        if earlier is not None:
            if earlier[2] == uid:
                return
            earlier[0].cancel()

        async def run() -> None:
            try:
                reserved = [await self._reserved(bind.node, device) for device in bind.devices]
                await self._write_configmap(pod, bind, ",".join(reserved))
                await bind_now(bind)
            except asyncio.CancelledError:
                raise
            except ReservationFailed as exc:
                await give_up(bind, str(exc))
            except ClientError as exc:
                await give_up(bind, f"its shared GPU on node {bind.node} could not be reserved: {exc} (is deploy/ "
                                    f"installed? it makes the namespace {sharing.RESERVATION_NAMESPACE})")
            except Exception as exc:  # noqa: BLE001 - the pod must not stay assumed forever
                log.exception("reserving for pod %s", bind.pod)
                await give_up(bind, f"its shared GPU on node {bind.node} could not be reserved: {exc!r}")
            finally:
                if self.waiting.get(bind.pod, (None, None, None))[2] == uid:
                    self.waiting.pop(bind.pod, None)

        self.waiting[bind.pod] = (asyncio.create_task(run()), bind, uid)

    async def _create(self, node: str, device: int) -> None:
        try:
            await self.client.create(sharing.reservation_pod(node, device, self.image))
        except AlreadyExists:
            pass  # another bind on the device made it

    async def _reserved(self, node: str, device: int) -> str:
        """The GPU the reservation pod for (node, device) holds: made if missing, waited for until it says. One
        being deleted, or that has ended, holds nothing: it is waited out and made again. The pod is read from
        the reservations' informer, not asked for at each look."""
        self._in_use_since[(node, device)] = time.monotonic()
        name = sharing.reservation_name(node, device)
        deadline = time.monotonic() + WAIT_S
        last = "not created"
        while time.monotonic() < deadline:
            pod = self.pods.get(name, sharing.RESERVATION_NAMESPACE)
            phase = ((pod or {}).get("status") or {}).get("phase") or "Pending"
            if pod is None:
                await self._create(node, device)  # or it is made and the informer has not seen it yet
            elif (pod.get("metadata") or {}).get("deletionTimestamp"):
                last = "being deleted"
            elif phase in ("Failed", "Succeeded"):
                last = f"it ended ({_state(pod)})"
                await self._delete(name)
                await asyncio.sleep(ENDED_BACKOFF_S)  # not a loop of pods the kubelet refuses
                continue
            elif (found := sharing.reserved_gpu(pod)) is not None:
                return found
            else:
                last = _state(pod)
                if phase == "Running" and _started(pod):
                    line = await self._first_line(name)
                    said = sharing.gpu_identity(line)
                    if line and said is None:
                        last = f"it printed {line[:200]!r}, not a GPU"
                    if said:
                        await self.client.patch("Pod", name, {"metadata": {"annotations": {
                            sharing.RESERVED_GPU_ANNOTATION: said}}}, sharing.RESERVATION_NAMESPACE)
                        return said
            await asyncio.sleep(POLL_S)
        raise ReservationFailed(f"the GPU reservation pod {sharing.RESERVATION_NAMESPACE}/{name} on node {node} "
                                f"did not say which GPU it holds within {WAIT_S:.0f} s ({last})")

    async def _first_line(self, name: str) -> str:
        text = ""
        try:
            async for chunk in self.client.logs(sharing.RESERVATION_NAMESPACE, name):
                text += chunk.decode(errors="replace")
                if "\n" in text:
                    break
        except ApiError:
            return ""
        return text.partition("\n")[0].strip() if "\n" in text else ""

    async def _write_configmap(self, pod: Obj, bind: Bind, reserved: str) -> None:
        meta = pod.get("metadata") or {}
        configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": sharing.shared_gpu_configmap(meta["name"]), "namespace": meta["namespace"],
                                  "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                                                       "uid": meta.get("uid"), "controller": False}]},
                     "data": sharing.shared_gpu_data(reserved, bind.gpu_fraction, bind.gpu_memory)}
        try:
            await self.client.create(configmap)
        except AlreadyExists:
            current = await self.client.get("ConfigMap", configmap["metadata"]["name"], meta["namespace"])
            configmap["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            await self.client.replace(configmap)

    async def _delete(self, name: str) -> None:
        try:
            await self.client.delete("Pod", name, sharing.RESERVATION_NAMESPACE)
        except NotFound:
            pass

    async def tidy(self, pods: Iterable[Obj]) -> None:
        """Delete the reservation pods that none of `pods` (placed, unfinished, sharing) nor a bind in progress
        uses, and that have not been used for `idle_s`; cancel the binds in progress whose pod is gone."""
        now = time.monotonic()
        pods = list(pods)
        uids = {f"{p['metadata'].get('namespace')}/{p['metadata']['name']}": p["metadata"].get("uid") for p in pods}
        for key, (task, waiting, uid) in list(self.waiting.items()):
            if uids.get(key) != uid:  # its pod was deleted (or evicted) while it waited
                task.cancel()
                continue
            for device in waiting.devices:
                self._in_use_since[(waiting.node, device)] = now
        for pod in pods:
            if usage.finished(pod) or not (pod.get("spec") or {}).get("nodeName"):
                continue
            if _sharing(pod):
                for device in usage.pod_devices(pod):
                    self._in_use_since[(pod["spec"]["nodeName"], device)] = now
        for reservation in self.pods.items():
            labels = (reservation.get("metadata") or {}).get("labels") or {}
            node = (reservation.get("spec") or {}).get("nodeName") or ""
            device = labels.get(sharing.RESERVATION_DEVICE_LABEL, "")
            if not device.isdigit():
                continue
            key = (node, int(device))
            if now - self._in_use_since.setdefault(key, now) > self.idle_s:
                self._in_use_since.pop(key, None)
                await self._delete(reservation["metadata"]["name"])


class ReservationFailed(Exception):
    """A reservation pod that did not come up: the message says which and in what state."""


def _started(pod: Obj) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all((c.get("state") or {}).get("running") for c in statuses)


def _state(pod: Obj) -> str:
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            return f"{waiting.get('reason', 'waiting')}: {waiting.get('message', '')}".rstrip(": ")
    return status.get("phase") or "Pending"


async def stop(reservations: Reservations) -> None:
    """Cancel the binds in progress (the scheduler stops)."""
    tasks = [task for task, _, _ in reservations.waiting.values()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
