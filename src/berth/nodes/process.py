"""The local node: runs the pods bound to it as processes on this machine, as a kubelet runs containers.

`run_local_node` registers the Node (this machine's cpus, memory and GPUs, or `gpus=N` simulated ones
where it has none), keeps its heartbeat, and watches the pods bound to it (`spec.nodeName`). Each pod gets
a `PodRunner` (`berth.nodes.podrunner`: how one pod runs, its phases, and its recovery after a restart).

What the node does for all its pods: it remembers them across restarts (`berth.nodes.state`), sweeps away
what is left of pods deleted while it was away, gives out ports (each containerPort gets the same port on
127.0.0.1 when it is free there, else a free one; the mapping goes to the pod annotation
`run.ai/host-ports` and the environment, and status.podIP and hostIP say 127.0.0.1; a serving pod's
public ports, behind its meter, are other free ones), and every `LOAD_REPORT_S` measures the load of each
serving pod, written to its annotation `run.ai/metrics` when it changed materially.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from berth.api import podlog
from berth.api.wellknown import LOCAL_NODE_FINALIZER, METRICS_ANNOTATION
from berth.client import ApiError, Client, Conflict, Informer, NotFound, Unreachable
from berth.client.informer import Change, key_of
from berth.nodes import gpus as discovery
from berth.nodes import podenv, procs
from berth.nodes.kubelet import Endpoint
from berth.nodes.node import Gpu, NodeSpec, heartbeat, register
from berth.nodes.podrunner import TERMINAL, PodRunner
from berth.nodes.state import StateFile

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]

SIMULATED_GPUS_LABEL = "berth.dev/simulated-gpus"
COMPONENT = "berth-node"
LOAD_REPORT_S = 2.0  # how often serving pods' load goes to their annotation


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def memory_quantity() -> str:
    """This machine's memory as a Kubernetes quantity."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1])}Ki"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 1024}Ki"


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class LocalNode:
    """The agent of one local node: registration, heartbeat, and a `PodRunner` per pod bound to it."""

    def __init__(self, client: Client, *, data_dir: Path, name: str = "local", gpus: int | None = None,
                 devices: tuple[Gpu, ...] | None = None, parent_env: dict[str, str] | None = None) -> None:
        """`gpus`: how many simulated GPUs to advertise when the machine has none. `devices` replaces discovery
        (tests); `parent_env` the environment processes inherit from (default: this process's)."""
        self.client = client
        self.data_dir = Path(data_dir)
        self.name = name
        self.requested_gpus = gpus
        self._devices = devices
        self.gpus: tuple[Gpu, ...] = ()
        self.parent_env = dict(os.environ) if parent_env is None else parent_env
        self.state = StateFile(self.data_dir / "nodes" / name / "state.json")
        self.runners: dict[Key, PodRunner] = {}
        self._finished: set[str] = set()  # uids this agent has run to the end: never again
        self._tasks: set[asyncio.Task[None]] = set()
        #: Where exec, attach and port-forward into this node's pods are served (`berth.nodes.kubelet`).
        self.endpoint = Endpoint(self, client.bearer_token)

    # -- paths --------------------------------------------------------------------------------------

    def scratch_dir(self, namespace: str, pod: str) -> Path:
        return self.data_dir / "pods" / namespace / pod

    def log_path(self, namespace: str, pod: str, container: str) -> Path:
        """Where pods/log reads a container's output."""
        return podlog.log_path(self.data_dir, namespace, pod, container)

    def stdin_path(self, namespace: str, pod: str, container: str) -> Path:
        """The FIFO that is the stdin of a container with `stdin: true` (its monitor makes it; attach writes)."""
        return self.log_path(namespace, pod, container).with_name(f"{container}.stdin")

    def remove_dirs(self, namespace: str, pod: str) -> None:
        shutil.rmtree(self.scratch_dir(namespace, pod), ignore_errors=True)
        shutil.rmtree(self.log_path(namespace, pod, "x").parent, ignore_errors=True)

    # -- the node -----------------------------------------------------------------------------------

    async def node_spec(self) -> NodeSpec:
        devices = self._devices if self._devices is not None else await asyncio.to_thread(discovery.discover)
        labels: dict[str, str] = {}
        if devices:
            log.info("local node %s: %d GPU(s): %s", self.name, len(devices), ", ".join(g.model for g in devices))
            if self.requested_gpus:
                log.info("local node %s: this machine has GPUs, so --gpus %d is not used", self.name,
                         self.requested_gpus)
        elif self.requested_gpus:
            devices = discovery.simulated(self.requested_gpus)
            labels[SIMULATED_GPUS_LABEL] = "true"
            log.warning("local node %s: no GPU found on this machine; advertising %d SIMULATED GPUs (label %s=true). "
                        "Pods get CUDA_VISIBLE_DEVICES for them, but no device exists", self.name, len(devices),
                        SIMULATED_GPUS_LABEL)
        self.gpus = tuple(devices)
        return NodeSpec(name=self.name, cpu=str(cpu_count()), memory=memory_quantity(), gpus=self.gpus, labels=labels,
                        stream_port=self.endpoint.port or None)

    async def run(self) -> None:
        """Serve streams, register, then run the node's pods, until cancelled."""
        await self.endpoint.start()
        await register(self.client, await self.node_spec())
        beat = asyncio.create_task(heartbeat(self.client, self.name), name=f"heartbeat {self.name}")
        self._tasks.add(asyncio.create_task(self._report_load(), name=f"load of {self.name}'s pods"))
        pods = Informer(self.client, "Pod", fields=f"spec.nodeName={self.name}", handlers=[self._on_pod])
        try:
            pods.start()
            await pods.wait_synced()
            self._sweep({str(_meta(p).get("uid")) for p in pods.items()})
            log.info("local node %s is running pods (data in %s)", self.name, self.data_dir)
            await beat
        finally:
            beat.cancel()
            await pods.stop()
            tasks = [r.task for r in self.runners.values()] + list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(beat, *tasks, return_exceptions=True)
            await self.endpoint.close()

    async def _report_load(self) -> None:
        """Every few seconds, the load of each serving pod to its annotation `run.ai/metrics` when it changed
        materially (`berth.nodes.meter`), where the inference autoscaler reads it."""
        while True:
            await asyncio.sleep(LOAD_REPORT_S)
            serving = [r for r in self.runners.values() if r.meter is not None]
            if not serving:
                continue
            cpu = procs.cpu_seconds()
            for runner in serving:
                try:
                    readings, now = runner.load(cpu), time.monotonic()
                    if runner.meter is None or not runner.meter.worth_reporting(readings, now):
                        continue
                    body = {"metadata": {"annotations": {METRICS_ANNOTATION: json.dumps(readings)}}}
                    if await self.call(lambda r=runner, b=body: self.client.patch("Pod", r.name, b, r.namespace)):
                        runner.meter.was_reported(readings, now)
                except Exception:  # noqa: BLE001 - one pod's trouble must not stop the others' reports
                    log.exception("local node %s: load of pod %s/%s", self.name, runner.namespace, runner.name)

    def _sweep(self, uids: set[str]) -> None:
        """Pods recorded here that the API no longer has (deleted while the agent was away): stop what is
        left of them and forget them."""
        for uid, record in list(self.state.pods.items()):
            if uid in uids:
                continue
            log.info("local node %s: pod %s/%s is gone; stopping what is left of it", self.name, record.namespace,
                     record.name)
            pod = {"metadata": {"name": record.name, "namespace": record.namespace, "uid": uid},
                   "status": {"phase": "Failed"}}
            runner = PodRunner(self, pod, None)
            runner.stop(pod, gone=True)
            self._tasks.add(runner.task)
            runner.task.add_done_callback(self._tasks.discard)

    async def _on_pod(self, change: Change) -> None:
        pod = change.object
        key, uid = key_of(pod), str(_meta(pod).get("uid") or "")
        runner = self.runners.get(key)
        if change.type == "DELETED":
            self._finished.discard(uid)
            if runner is not None and not runner.task.done():
                runner.stop(pod, gone=True)
            elif uid not in self.state.pods:  # (a runner that has just ended let its pod go: its dirs go now)
                self.remove_dirs(*key)
            return
        previous = None
        if runner is not None and runner.uid != uid:  # replaced by a pod of the same name
            runner.stop(runner.pod, gone=True)
            previous, runner = runner.task, None
        if runner is not None:
            runner.update(pod)
            if _meta(pod).get("deletionTimestamp"):
                runner.stop(pod, gone=False)
            return
        if uid in self._finished or ((pod.get("status") or {}).get("phase") in TERMINAL and uid not in self.state.pods):
            self._finished.add(uid)
            if LOCAL_NODE_FINALIZER in (_meta(pod).get("finalizers") or []):  # nothing of it runs here any more
                await self.release(pod)
            return
        runner = PodRunner(self, pod, previous)
        if _meta(pod).get("deletionTimestamp"):
            runner.stop(pod, gone=False)
        self.runners[key] = runner
        runner.task.add_done_callback(lambda task: self._runner_done(key, runner, task))

    def _runner_done(self, key: Key, runner: PodRunner, task: asyncio.Task[None]) -> None:
        if self.runners.get(key) is runner:
            del self.runners[key]
        if not task.cancelled():
            self._finished.add(runner.uid)

    # -- what runners share -------------------------------------------------------------------------

    def allocate_ports(self, pod: Obj, *, metered: bool = False) -> tuple[dict[str, int], dict[str, int]]:
        """(public, backend): a host port for each TCP containerPort, the same one when it is free on
        127.0.0.1 and not given to another pod, else a free one. `metered`: the program listens on those
        (backend), and the public ports, where clients connect, are new free ones with a meter in front."""
        taken = {port for record in self.state.pods.values()
                 for port in [*record.host_ports.values(), *record.backend_ports.values()]}
        wanted = [int(p["containerPort"]) for c in _spec(pod).get("containers") or [] for p in c.get("ports") or []
                  if p.get("containerPort") and (p.get("protocol") or "TCP") == "TCP"]
        ports: dict[str, int] = {}
        for port in dict.fromkeys(wanted):
            host = port if port not in taken and procs.port_free(port) else procs.free_port()
            while host in taken:
                host = procs.free_port()
            ports[str(port)] = host
            taken.add(host)
        if not metered:
            return ports, {}
        public: dict[str, int] = {}
        for key in ports:
            public[key] = procs.free_port()
            while public[key] in taken:
                public[key] = procs.free_port()
            taken.add(public[key])
        return public, ports

    async def read(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's or ConfigMap's data as text, for the environment; None when it does not exist."""
        try:
            obj = await self.client.get(kind, name, namespace)
        except NotFound:
            return None
        except (ApiError, Unreachable) as exc:
            raise podenv.ConfigError(f"cannot read {kind.lower()} {namespace}/{name}: {exc}") from exc
        if kind == "Secret":
            return podenv.decode_secret(obj)
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}

    async def event(self, pod: Obj, reason: str, message: str, *, type: str = "Normal") -> None:
        if not pod.get("apiVersion"):
            return
        await self.call(lambda: self.client.create_event(pod, reason, message, type=type, component=COMPONENT))

    async def hold(self, pod: Obj) -> None:
        """Put the node's finalizer on `pod` before its processes start (see `LOCAL_NODE_FINALIZER`)."""
        await self._finalizer(pod, add=True)

    async def release(self, pod: Obj) -> None:
        """Take the node's finalizer off `pod`: its processes are stopped and how they ended is written (a
        pod being deleted goes now)."""
        await self._finalizer(pod, add=False)

    async def _finalizer(self, pod: Obj, *, add: bool) -> None:
        namespace, name = key_of(pod)
        for _ in range(5):
            held = list(_meta(pod).get("finalizers") or [])
            if (LOCAL_NODE_FINALIZER in held) == add:
                return
            wanted = [*held, LOCAL_NODE_FINALIZER] if add else [f for f in held if f != LOCAL_NODE_FINALIZER]
            patch = {"metadata": {"finalizers": wanted or None, "resourceVersion": _meta(pod).get("resourceVersion")}}
            try:
                await self.client.patch("Pod", name, patch, namespace)
                return
            except Conflict:  # someone else wrote the pod: look again
                pod = await self.call(lambda: self.client.get("Pod", name, namespace))
                if pod is None:
                    return
            except NotFound:
                return
            except (ApiError, Unreachable) as exc:
                log.warning("local node %s: finalizer of pod %s/%s: %s", self.name, namespace, name, exc)
                return

    async def call(self, request: Callable[[], Awaitable[Any]], *, retry: bool = False) -> Any:
        """Make an API request; failures are logged, not raised (the pod may be gone). With `retry`, a server
        that does not answer is asked again for about a minute: a final status must not be lost."""
        attempts = 7 if retry else 1
        for attempt in range(attempts):
            try:
                return await request()
            except NotFound:
                return None
            except (ApiError, Unreachable) as exc:
                if attempt + 1 == attempts or (isinstance(exc, ApiError) and exc.code < 500):
                    log.warning("local node %s: %s", self.name, exc)
                    return None
                await asyncio.sleep(min(2 ** attempt, 15))
        return None


async def run_local_node(client: Client, *, data_dir: Path, name: str = "local", gpus: int | None = None) -> None:
    """Run this machine as the node `name` until cancelled (see the module's docstring). `data_dir` is
    `berth up`'s: logs go where pods/log serves them. `gpus`: simulated GPUs to advertise when there is
    no real one."""
    await LocalNode(client, data_dir=data_dir, name=name, gpus=gpus).run()
