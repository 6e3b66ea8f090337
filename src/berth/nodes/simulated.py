"""Simulated nodes, in the manner of KWOK: many Nodes that look real to the scheduler and to users, whose
pods "run" without anything being executed. For demos, tests, benchmarks and what-if runs at scale (1,000
nodes and more in one process).

What a simulated node does, as a kubelet would but with nothing behind it:
- registers its Node (`berth.nodes.node.register`, labelled simulated) and a Lease in `kube-node-lease`;
- renews the Lease every `heartbeat_s`, and its Ready condition every `status_every` heartbeats (as a
  kubelet reports node status less often than it renews its lease);
- makes every pod bound to it Running at once (phase, conditions, container statuses, startTime, a
  made-up podIP), and, when the pod has the annotation `berth.dev/sim-duration`, ends it that long after it
  started: Succeeded, or Failed when `berth.dev/sim-exit-code` is not 0. A pod without the annotation runs
  until it is deleted. An annotation that cannot be read fails the pod, with a message naming it.
  restartPolicy is not simulated: a finished simulated container is never restarted in place.
- reports, for serving pods whose workload is offered a load (`berth.dev/sim-load`), each one's share in
  `run.ai/metrics`, so that inference autoscaling can be tried out at scale (`berth.nodes.simload`).

The pod state machine, written once (phases as the API shows them):

    Pending (bound here) -> Running -> Succeeded | Failed      deleted at any point: forgotten

Why it is built this way: at 1,000 nodes and 8,000 pods, per-node or per-pod tasks cost more than the
work. So there is one heartbeat loop for all nodes (spread over the interval in small batches), one pod
informer for all of them (pods with any spec.nodeName, filtered against the set of simulated nodes here),
one heap of timers for the pods' ends, and a fixed pool of writers sending status merge patches.

Invariants:
- A pod's status writes go out in the order they were decided, never two at once for the same pod: a
  newer status replaces one not yet sent (each status written is complete by itself), and a pod's next
  write waits for its current one.
- A write or timer decided for one incarnation of a pod (its uid) is dropped once the simulator has seen
  that pod deleted or recreated under the same name (only a write already on the wire can still land).
- After a restart of the simulator, pods already Running here are not written again; their end is counted
  from their startTime.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from berth.api.wellknown import METRICS_ANNOTATION
from berth.client import (
    AlreadyExists,
    ApiError,
    Change,
    Client,
    Informer,
    NotFound,
    Unreachable,
    key_of,
)
from berth.nodes import simload
from berth.nodes.cluster_file import ClusterFileError, load_cluster_file
from berth.nodes.node import (
    HEARTBEAT_S,
    LEASE_NAMESPACE,
    SIM_DURATION,
    SIM_EXIT_CODE,
    NodeSpec,
    register,
)

__all__ = ["ClusterFileError", "SimulatedNodes", "load_cluster_file", "parse_duration", "parse_exit_code",
           "run_simulated_nodes"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]

#: Node status (the Ready condition) is refreshed every this many heartbeats; the Lease every heartbeat.
STATUS_EVERY = 6
#: Heartbeat batches are this far apart, so 1,000 nodes renew in 20 small batches over 10 s.
HEARTBEAT_TICK_S = 0.5
WRITERS = 16
REGISTER_CONCURRENCY = 16
LOAD_REPORT_S = 2.0  # how often simulated serving pods report their share of an offered load
RETRIES = 5

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration like "90s", "2m", "250ms", "1h30m" (Go's units ms, s, m, h); a bare number is
    seconds. ValueError otherwise."""
    s = text.strip()
    try:
        seconds = float(s)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _DURATION_PART.finditer(s):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(s) or not s:
            raise ValueError(f'"{text}" is not a duration; write e.g. 90s, 2m, 250ms or 1h30m') from None
    if not 0 <= seconds < float("inf"):  # also refuses nan
        raise ValueError(f'"{text}" is not a duration; write e.g. 90s, 2m, 250ms or 1h30m')
    return seconds


def parse_exit_code(text: str) -> int:
    try:
        code = int(text.strip())
    except ValueError:
        raise ValueError(f'"{text}" is not an exit code; write a whole number from 0 to 255') from None
    if not 0 <= code <= 255:
        raise ValueError(f'"{text}" is not an exit code; write a whole number from 0 to 255')
    return code


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


@dataclass(slots=True)
class _Pod:
    """A pod this simulator runs: one incarnation (uid) of a name."""

    uid: str
    node: str
    pod_ip: str
    started: float  # epoch seconds, as written in status.startTime
    finished: bool = False


@dataclass(slots=True)
class _Node:
    spec: NodeSpec
    index: int
    uid: str = ""
    next_ip: int = 0


# -- the statuses written -----------------------------------------------------------------------------


def _conditions(ready: bool, since: str, reason: str = "") -> list[Obj]:
    def one(kind: str, status: bool, why: str = "") -> Obj:
        c: Obj = {"type": kind, "status": "True" if status else "False", "lastProbeTime": None,
                  "lastTransitionTime": since}
        if why:
            c["reason"] = why
        return c
    return [one("PodReadyToStartContainers", True), one("Initialized", True), one("Ready", ready, reason),
            one("ContainersReady", ready, reason), one("PodScheduled", True)]


def _container_ids(pod: Obj, uid: str, key: str) -> list[tuple[str, str, str]]:
    containers = (pod.get("spec") or {}).get(key) or []
    return [(c.get("name") or f"c{i}", c.get("image") or "", f"simulated://{uid}/{c.get('name') or i}")
            for i, c in enumerate(containers)]


def _init_statuses(pod: Obj, uid: str, started: str) -> list[Obj]:
    return [{"name": name, "image": image, "imageID": "", "containerID": cid, "ready": True, "restartCount": 0,
             "started": False,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                      "finishedAt": started, "containerID": cid}}}
            for name, image, cid in _container_ids(pod, uid, "initContainers")]


def _common(pod: Obj, rec: _Pod, host_ip: str) -> Obj:
    started = _rfc3339(rec.started)
    status: Obj = {"hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": rec.pod_ip,
                   "podIPs": [{"ip": rec.pod_ip}], "startTime": started}
    init = _init_statuses(pod, rec.uid, started)
    if init:
        status["initContainerStatuses"] = init
    return status


def running_status(pod: Obj, rec: _Pod, host_ip: str) -> Obj:
    """The status of `pod` running on a simulated node: every container started and ready."""
    started = _rfc3339(rec.started)
    containers = [{"name": name, "image": image, "imageID": "", "containerID": cid, "ready": True,
                   "started": True, "restartCount": 0, "state": {"running": {"startedAt": started}}}
                  for name, image, cid in _container_ids(pod, rec.uid, "containers")]
    return {**_common(pod, rec, host_ip), "phase": "Running", "conditions": _conditions(True, started),
            "containerStatuses": containers}


def finished_status(pod: Obj, rec: _Pod, host_ip: str, exit_code: int, *, reason: str = "",
                    message: str = "") -> Obj:
    """The status of `pod` after its simulated run: Succeeded (exit code 0) or Failed; every container ended
    with `exit_code`."""
    started, now = _rfc3339(rec.started), _rfc3339(time.time())
    why = "Completed" if exit_code == 0 else "Error"
    containers = [{"name": name, "image": image, "imageID": "", "containerID": cid, "ready": False,
                   "started": False, "restartCount": 0,
                   "state": {"terminated": {"exitCode": exit_code, "reason": why, "startedAt": started,
                                            "finishedAt": now, "containerID": cid}}}
                  for name, image, cid in _container_ids(pod, rec.uid, "containers")]
    status = {**_common(pod, rec, host_ip), "phase": "Succeeded" if exit_code == 0 else "Failed",
              "conditions": _conditions(False, now, "PodCompleted" if exit_code == 0 else "PodFailed"),
              "containerStatuses": containers}
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return status


# -- the simulator ------------------------------------------------------------------------------------


class SimulatedNodes:
    """Simulated nodes `specs`, served through `client` until `run` is cancelled.

    `ready` is set once every Node is registered and the pod informer has its first list. `running` and
    `finished` count pods made Running and ended since the start (for logs and benchmarks)."""

    def __init__(self, client: Client, specs: Iterable[NodeSpec], *, heartbeat_s: float = HEARTBEAT_S,
                 status_every: int = STATUS_EVERY, writers: int = WRITERS) -> None:
        self._client = client
        self._nodes: dict[str, _Node] = {}
        for spec in specs:
            if spec.name in self._nodes:
                raise ValueError(f'two simulated nodes are named "{spec.name}"')
            spec = spec if spec.simulated else replace(spec, simulated=True)
            self._nodes[spec.name] = _Node(spec, len(self._nodes))
        self._heartbeat_s = heartbeat_s
        self._status_every = max(1, status_every)
        self._writers = writers
        self._pods: dict[Key, _Pod] = {}
        self._timers: list[tuple[float, int, Key, str, int]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._pending: dict[Key, tuple[str, Obj, int]] = {}  # key -> (uid, status, attempt)
        self._inflight: set[Key] = set()
        self._informer: Informer | None = None
        self._loads: dict[Key, dict[str, float]] = {}  # the readings last written to each pod
        self.ready = asyncio.Event()
        self.running = 0
        self.finished = 0

    @property
    def nodes(self) -> list[str]:
        return list(self._nodes)

    async def run(self) -> None:
        gpus = sum(len(n.spec.gpus) for n in self._nodes.values())
        log.info("simulated nodes: registering %d nodes with %d GPUs", len(self._nodes), gpus)
        started = time.monotonic()
        await self._register_all()
        log.info("simulated nodes: %d registered in %.1f s", len(self._nodes), time.monotonic() - started)
        informer = self._informer = Informer(self._client, "Pod", fields="spec.nodeName!=",
                                             handlers=[self._on_change])
        tasks = [asyncio.create_task(self._write_loop(), name=f"simulated pod writer {i}")
                 for i in range(self._writers)]
        tasks += [asyncio.create_task(self._timer_loop(), name="simulated pod timers"),
                  asyncio.create_task(self._heartbeat_loop(), name="simulated node heartbeats"),
                  asyncio.create_task(self._load_loop(), name="simulated load of serving pods")]
        informer.start()
        try:
            await informer.wait_synced()
            log.info("simulated nodes: ready; %d pods bound to them", len(self._pods))
            self.ready.set()
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await informer.stop()

    # -- load ---------------------------------------------------------------------------------------------

    async def _load_loop(self) -> None:
        """Every `LOAD_REPORT_S`, the share of its workload's offered load each pod here reports
        (`berth.nodes.simload`), written to `run.ai/metrics` when it changed."""
        while True:
            await asyncio.sleep(LOAD_REPORT_S)
            if self._informer is None:
                continue
            here = (p for p in self._informer.items() if (p.get("spec") or {}).get("nodeName") in self._nodes)
            readings = simload.shares(here)
            for key in set(self._loads) - set(readings):
                del self._loads[key]
            for (namespace, name), reading in readings.items():
                if self._loads.get((namespace, name)) == reading:
                    continue
                body = {"metadata": {"annotations": {METRICS_ANNOTATION: json.dumps(reading)}}}
                try:
                    await self._client.patch("Pod", name, body, namespace)
                except (ApiError, Unreachable) as exc:
                    log.warning("simulated nodes: cannot report the load of pod %s/%s: %s", namespace, name, exc)
                    continue
                self._loads[(namespace, name)] = reading

    # -- nodes ----------------------------------------------------------------------------------------

    @staticmethod
    async def _bounded(coroutines: Iterable[Any], limit: int) -> None:
        """Await `coroutines` with at most `limit` at a time."""
        items = iter(coroutines)

        async def worker() -> None:
            for coroutine in items:
                await coroutine

        await asyncio.gather(*(worker() for _ in range(limit)))

    async def _register_all(self) -> None:
        await self._bounded((self._register(n) for n in self._nodes.values()), REGISTER_CONCURRENCY)

    async def _register(self, node: _Node) -> None:
        for attempt in itertools.count():
            try:
                obj = await register(self._client, node.spec)
                node.uid = (obj.get("metadata") or {}).get("uid") or ""
                await self._renew_lease(node, create=True)
                return
            except (ApiError, Unreachable) as exc:
                if isinstance(exc, ApiError) and exc.code < 500 and exc.code != 429:
                    raise  # a node the API refuses is a bug here or a bad spec: say so, do not retry
                delay = min(0.2 * 2**attempt, 10.0)
                log.warning("simulated node %s: registering failed (%s); retrying in %.1f s", node.spec.name,
                            exc, delay)
                await asyncio.sleep(delay)

    def _lease(self, node: _Node, now: str) -> Obj:
        name = node.spec.name
        meta: Obj = {"name": name, "namespace": LEASE_NAMESPACE}
        if node.uid:  # as a kubelet does: the Lease goes with its Node
            meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node.uid}]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": name, "leaseDurationSeconds": max(1, int(self._heartbeat_s * 4)),
                         "renewTime": now}}

    async def _renew_lease(self, node: _Node, *, create: bool = False) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if create:
            try:
                await self._client.create(self._lease(node, now))
                return
            except AlreadyExists:
                pass
        try:
            await self._client.patch("Lease", node.spec.name, {"spec": {"renewTime": now}}, LEASE_NAMESPACE)
        except NotFound:
            await self._client.create(self._lease(node, now))

    async def _report_ready(self, node: _Node) -> None:
        condition = {"type": "Ready", "status": "True", "reason": "AgentReady",
                     "message": "berth simulated node is posting ready status",
                     "lastHeartbeatTime": _rfc3339(time.time())}
        try:
            await self._client.patch("Node", node.spec.name, {"status": {"conditions": [condition]}},
                                     subresource="status", type="strategic")
        except NotFound:  # someone deleted the Node: come back, as a kubelet does
            log.info("simulated node %s was deleted; registering it again", node.spec.name)
            await self._register(node)

    async def _beat(self, node: _Node, report: bool, failures: list[str]) -> None:
        try:
            await self._renew_lease(node)
            if report:
                await self._report_ready(node)
        except (ApiError, Unreachable) as exc:
            failures.append(f"{node.spec.name}: {exc}")

    async def _heartbeat_loop(self) -> None:
        """One loop for every node: each round renews all Leases in batches spread over the interval.
        Failures are logged once a round, not once a node (1,000 lines when the server goes away)."""
        nodes = list(self._nodes.values())
        batches = max(1, min(len(nodes), round(self._heartbeat_s / HEARTBEAT_TICK_S)))
        size = -(-len(nodes) // batches) if nodes else 0
        for round_no in itertools.count(1):
            start = time.monotonic()
            report = round_no % self._status_every == 0
            failures: list[str] = []
            for b in range(batches):
                await asyncio.sleep(max(0.0, start + (b + 1) * self._heartbeat_s / batches - time.monotonic()))
                batch = nodes[b * size:(b + 1) * size]
                await self._bounded((self._beat(n, report, failures) for n in batch), 8)
            if failures:
                log.warning("simulated nodes: %d of %d heartbeats failed; the first: %s", len(failures), len(nodes),
                            failures[0])

    # -- pods -----------------------------------------------------------------------------------------

    async def _on_change(self, change: Change) -> None:
        """The informer's handler: decide, never wait (writes go to the writers, ends to the timer heap)."""
        pod = change.object
        key = key_of(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = self._nodes.get(node_name or "")
        if change.type == "DELETED" or node is None:
            self._forget(key)
            return
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        uid = meta.get("uid") or ""
        phase = status.get("phase")
        if phase in ("Succeeded", "Failed") or meta.get("deletionTimestamp"):
            self._forget(key)
            return
        rec = self._pods.get(key)
        if rec is not None and rec.uid == uid:
            return  # already running here (this is likely the echo of our own write)
        self._start(pod, key, uid, node, status)

    def _forget(self, key: Key) -> None:
        self._pods.pop(key, None)

    def _start(self, pod: Obj, key: Key, uid: str, node: _Node, status: Obj) -> None:
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        started = _epoch(status.get("startTime")) if status.get("phase") == "Running" else None
        if started is not None:  # running here before a restart of the simulator: keep it as it is
            rec = _Pod(uid, node.spec.name, status.get("podIP") or self._pod_ip(node), started)
        else:
            rec = _Pod(uid, node.spec.name, self._pod_ip(node), time.time())
        self._pods[key] = rec
        duration, exit_code, problem = None, 0, ""
        try:
            if SIM_DURATION in annotations:
                duration = parse_duration(annotations[SIM_DURATION])
        except ValueError as exc:
            problem = f"annotation {SIM_DURATION}: {exc}"
        try:
            if SIM_EXIT_CODE in annotations:
                exit_code = parse_exit_code(annotations[SIM_EXIT_CODE])
        except ValueError as exc:
            problem = f"annotation {SIM_EXIT_CODE}: {exc}"
        if problem:  # the user asked for something we cannot simulate: fail the pod and say why
            rec.finished = True
            self.finished += 1
            self._write(key, uid, finished_status(pod, rec, node.spec.address, 128, reason="InvalidSimulation",
                                                  message=problem))
            return
        if started is None:
            self.running += 1
            self._write(key, uid, running_status(pod, rec, node.spec.address))
        if duration is not None:
            entry = (time.monotonic() + max(0.0, rec.started + duration - time.time()), next(self._seq), key, uid,
                     exit_code)
            heapq.heappush(self._timers, entry)
            if self._timers[0] is entry:  # earlier than what the timer loop sleeps for
                self._wake.set()

    def _pod_ip(self, node: _Node) -> str:
        n = node.next_ip
        node.next_ip = (n + 1) % 253
        return f"10.{64 + (node.index >> 8) % 192}.{node.index & 255}.{n + 2}"

    async def _timer_loop(self) -> None:
        """One heap for every pod's end: sleep until the earliest, or until an earlier one is pushed."""
        while True:
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, key, uid, exit_code = heapq.heappop(self._timers)
                self._end(key, uid, exit_code)
            self._wake.clear()
            timeout = self._timers[0][0] - now if self._timers else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def _end(self, key: Key, uid: str, exit_code: int) -> None:
        rec = self._pods.get(key)
        if rec is None or rec.uid != uid or rec.finished:
            return  # deleted, recreated or ended meanwhile
        rec.finished = True
        self.finished += 1
        node = self._nodes[rec.node]
        pod = self._informer.cache.get(key) if self._informer is not None else None
        if pod is None:
            return  # gone from the cache: its DELETED is on its way
        self._write(key, uid, finished_status(pod, rec, node.spec.address, exit_code))

    # -- status writes --------------------------------------------------------------------------------

    def _write(self, key: Key, uid: str, status: Obj, attempt: int = 0) -> None:
        queued = key in self._pending
        self._pending[key] = (uid, status, attempt)
        if not queued and key not in self._inflight:
            self._queue.put_nowait(key)

    async def _write_loop(self) -> None:
        while True:
            key = await self._queue.get()
            item = self._pending.pop(key, None)
            if item is None:
                continue
            uid, status, attempt = item
            rec = self._pods.get(key)
            if rec is None or rec.uid != uid:
                continue
            self._inflight.add(key)
            try:
                await self._client.patch("Pod", key[1], {"status": status}, key[0], subresource="status")
            except NotFound:
                self._forget(key)
            except (ApiError, Unreachable) as exc:
                if attempt + 1 >= RETRIES:
                    log.warning("simulated pod %s/%s: status not written after %d tries: %s", *key, RETRIES, exc)
                else:
                    delay = 0.2 * 2**attempt
                    asyncio.get_running_loop().call_later(delay, self._retry, key, uid, status, attempt + 1)
            finally:
                self._inflight.discard(key)
                if key in self._pending:
                    self._queue.put_nowait(key)

    def _retry(self, key: Key, uid: str, status: Obj, attempt: int) -> None:
        if key not in self._pending:  # a newer status supersedes this one
            self._write(key, uid, status, attempt)


async def run_simulated_nodes(client: Client, specs: list[NodeSpec]) -> None:
    """Register `specs` as simulated nodes and run the pods bound to them, until cancelled."""
    await SimulatedNodes(client, specs).run()


def main(argv: list[str] | None = None) -> int:
    """`python -m berth.nodes.simulated CLUSTER_YAML [--kubeconfig PATH]`: the simulated nodes as a process of
    their own (a supervised child of `berth up`, or beside any cluster). Prints `ready <nodes> <seconds>` on
    stdout once every node is registered and the pods are listed."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m berth.nodes.simulated", description=main.__doc__)
    parser.add_argument("cluster_file", help="the cluster file (pools of simulated nodes)")
    parser.add_argument("--kubeconfig", help="default: $KUBECONFIG, else ~/.kube/config")
    parser.add_argument("--heartbeat", type=float, default=HEARTBEAT_S, help="seconds between Lease renewals")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    try:
        specs = load_cluster_file(args.cluster_file)
    except ClusterFileError as exc:
        print(exc, file=sys.stderr)
        return 2

    async def serve() -> None:
        async with Client.from_kubeconfig(args.kubeconfig, field_manager="berth-simulated-nodes") as client:
            sim = SimulatedNodes(client, specs, heartbeat_s=args.heartbeat)
            start = time.monotonic()
            task = asyncio.create_task(sim.run())
            ready = asyncio.create_task(sim.ready.wait())
            await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if sim.ready.is_set():
                print(f"ready {len(specs)} {time.monotonic() - start:.3f}", flush=True)
            await task

    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
