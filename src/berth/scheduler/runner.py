"""The scheduler as a component: watch caches in, `berth.scheduler.core` decisions out, through the API.

A cycle runs when something changed (pods, nodes, pod groups, projects, departments, node pools), and at
least every second, but no sooner after the last than that one spent thinking (`PACE`): snapshot the caches
(each object converted once per change, `snapshot_of.Kept`), run the core (in a thread: the event loop keeps
serving watches), then apply the decisions:
- bind: POST the pod's binding with its GPU devices (`run.ai/gpu-devices`, and the fraction) as annotations,
  which the API server sets on the pod in the same write;
  the pod is *assumed* bound until the watch shows it, so no cycle books its resources twice;
- evict: record the interruption on the pod's workload (`berth.client.interruptions`: an Event naming the
  workload the room is made for and why, and its count), mark the pod (status reason Preempted, a
  DisruptionTarget condition, an Event with the reason), then delete it; its workload controller decides
  what follows;
- pending: the PodGroup's `schedulingConditions` say why it waits (the workload's status shows it); and
  every pod that waits is told itself, where Kubernetes users look (`kubectl describe pod`, `kubectl get
  events`), as kube-scheduler tells it: a PodScheduled=False condition (reason Unschedulable) and a
  FailedScheduling Warning event with the plain-words reason, when the reason changes (at most once per
  `RETELL_S` per pod: a reason that keeps changing, as free GPUs come and go, is not a storm of writes);
- an evicted pod gets a Preempted event naming the workload that takes its place.
Cluster-wide settings come from the ConfigMap `runai-scheduler` in `runai` (`berth.api.scheduler_settings`);
each cycle also records what every project holds into the usage history that the time-based fair share
reads (kept in memory: a restart starts a new history). It is the scheduler of a real cluster as much as of
`berth up`: pods choose it with
`schedulerName: runai-scheduler`. With `serve_default` it also places the pods of `default-scheduler` (those
that name no scheduler, as `kubectl run` makes them): `berth up` turns it on, being the only scheduler there;
on a real cluster it stays off and kube-scheduler keeps them (see `snapshot_of` for their queue).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from collections.abc import Awaitable, Iterable
from typing import Any

from berth.api import scheduler_settings, usage
from berth.api.scheduler_settings import CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, SchedulerSettings
from berth.client import ApiError, Client, Conflict, NotFound
from berth.client.errors import ClientError
from berth.client.informer import Change, Informer
from berth.client.interruptions import record_interruption, workload_of
from berth.scheduler import reservations, snapshot_of
from berth.scheduler.core import Bind, CycleConfig, Decisions, Eviction, Pod, Snapshot, run_cycle
from berth.scheduler.core.decisions import GROUP_NOT_FOUND
from berth.scheduler.core.timeshare import UsageHistory, holdings, record
from berth.scheduler.metrics import SchedulerMetrics
from berth.scheduler.reservations import Reservations

log = logging.getLogger(__name__)

SCHEDULER_NAME = "runai-scheduler"
PERIOD_S = 1.0
INTERRUPTIONS = {"preempt": "Preempted", "reclaim": "Reclaimed", "consolidate": "Preempted"}  # event reasons
CONCURRENCY = 32
# After a cycle the scheduler waits PACE times what the cycle spent thinking (its snapshot and decisions)
# before the next, so that under a stream of changes it takes at most about half of its process's time
# and the controllers and nodes sharing that process keep up: each cycle then places more pods, rather
# than each pod being placed by a cycle of its own that costs as much as the cluster is large.
PACE = 1.0
RETELL_S = 10.0  # the least time between two different reasons told to one waiting pod
# A pod seen before its PodGroup (the two are watched apart) is told so only once it has waited this long:
# the PodGroup is usually a few milliseconds behind, and telling every such pod would cost two writes each.
GROUP_GRACE_S = 5.0
USAGE_BUCKET_S = 300.0  # the usage history's resolution: a week is about 2,000 buckets
Obj = dict[str, Any]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _offer(node: Obj) -> tuple[Any, ...]:
    """What the scheduler reads of a node (see `snapshot_of.node`), to tell a heartbeat from a change."""
    meta, status = node.get("metadata") or {}, node.get("status") or {}
    return (meta.get("labels"), (meta.get("annotations") or {}).get(usage.GPUS_ANNOTATION),
            status.get("allocatable"), node.get("spec"), usage.node_ready(node))


class Scheduler:
    """One scheduler loop over one API."""

    def __init__(self, client: Client, *, period: float = PERIOD_S, config: CycleConfig | None = None,
                 serve_default: bool = False, metrics: SchedulerMetrics | None = None,
                 reservation_image: str | None = None, reservation_idle_s: float = reservations.IDLE_S) -> None:
        self.client = client
        # On a real cluster (`reservation_image`): a shared GPU is held by a reservation pod of that image
        # (`berth.scheduler.reservations`); berth up's node agents read the device annotation instead.
        self.reservations = (Reservations(client, reservation_image, reservation_idle_s) if reservation_image
                             else None)
        self.metrics = metrics  # counted once per cycle, after its writes (`berth.scheduler.metrics`)
        self.period = period
        self.config = config
        self.names = {SCHEDULER_NAME, snapshot_of.DEFAULT_SCHEDULER} if serve_default else {SCHEDULER_NAME}
        self._dirty = asyncio.Event()
        handlers = [self._changed]
        # One scheduler name is a field selector; two are every pod, sorted out by `_ours`.
        self.pods = Informer(client, "Pod", fields=None if serve_default else f"spec.schedulerName={SCHEDULER_NAME}",
                             handlers=handlers)
        self.nodes = Informer(client, "Node", handlers=[self._node_changed])
        self.groups = Informer(client, "PodGroup", handlers=handlers)
        self.projects = Informer(client, "Project", handlers=handlers)
        self.departments = Informer(client, "Department", handlers=handlers)
        self.pools = Informer(client, "NodePool", handlers=handlers)
        # Cluster-wide settings (`berth.api.scheduler_settings`) and the usage history the time-based fair share
        # reads: kept here, across cycles, and handed to the pure core with each snapshot.
        self.settings = Informer(client, "ConfigMap", CONFIGMAP_NAMESPACE, handlers=handlers)
        self.history = UsageHistory(bucket_s=USAGE_BUCKET_S, keep_s=SchedulerSettings().usage_window)
        self._settings_said: tuple[str, ...] = ()
        # pod key -> (the pod's uid, its bind) not yet seen in the cache: a pod created again under the name is
        # another pod, not the one bound
        self._assumed: dict[str, tuple[str | None, Bind]] = {}
        # pod key -> uid of the pod the last snapshot holds: binds and evictions act on the pod decided for only
        self._uids: dict[str, str | None] = {}
        self._evicting: set[str] = set()
        self._interrupted: set[str] = set()  # uids of pods whose interruption is recorded (each counted once)
        self._reported: dict[str, tuple[str, str, str | None]] = {}  # group key -> last pending reason written
        self._told: dict[str, tuple[str, float]] = {}  # waiting pod -> (why, as its condition says; when told)
        self.cycles = 0
        self._thought = 0.0  # the last cycle's snapshot and decisions, in seconds (see PACE)
        # Each pod, node and group converted once per change, not once per cycle (`snapshot_of.Kept`).
        self._pods_kept = snapshot_of.Kept(self._scheduled_pod)
        self._nodes_kept = snapshot_of.Kept(snapshot_of.node)
        self._groups_kept = snapshot_of.Kept(snapshot_of.pod_group)

    async def _changed(self, change: Change) -> None:
        self._dirty.set()

    async def _node_changed(self, change: Change) -> None:
        """A node's heartbeat changes nothing the scheduler reads: only a change of what it offers does."""
        if change.type != "MODIFIED" or change.old is None or _offer(change.old) != _offer(change.object):
            self._dirty.set()

    def _informers(self) -> list[Informer]:
        kept = [self.pods, self.nodes, self.groups, self.projects, self.departments, self.pools, self.settings]
        return kept + ([self.reservations.pods] if self.reservations is not None else [])

    async def run(self) -> None:
        for informer in self._informers():
            informer.start()
        try:
            for informer in self._informers():
                await informer.wait_synced()
            while True:
                try:
                    await asyncio.wait_for(self._dirty.wait(), self.period)
                except asyncio.TimeoutError:
                    pass
                self._dirty.clear()
                try:
                    await self.cycle()
                except ClientError as exc:  # a refusal, or the API unreachable: the next cycle tries again
                    log.warning("scheduling cycle: %s", exc)
                except Exception:  # noqa: BLE001 - the scheduler must keep running
                    log.exception("scheduling cycle failed")
                await asyncio.sleep(min(self._thought * PACE, self.period))
        finally:
            if self.reservations is not None:
                await reservations.stop(self.reservations)
            await asyncio.gather(*(i.stop() for i in self._informers()), return_exceptions=True)

    # -- one cycle ----------------------------------------------------------------------------------

    def _scheduled_pod(self, obj: Obj) -> tuple[str, Pod, str | None] | None:
        """A pod the snapshot counts, with the scheduler it names and its uid; None for one it does not."""
        if not usage.counts(obj):
            return None
        name = snapshot_of.scheduler_name(obj)
        return (name, snapshot_of.pod(obj), (obj.get("metadata") or {}).get("uid")) if name in self.names else None

    def snapshot(self) -> Snapshot:
        pods, adopted = [], []
        self._uids = {}
        for kept in self._pods_kept(self.pods.items()):
            if kept is None:
                continue
            name, pod, uid = kept
            self._uids[pod.key] = uid
            if name == snapshot_of.DEFAULT_SCHEDULER and not pod.group:
                adopted.append(pod)
            if pod.key in self._assumed:
                assumed_uid, assumed = self._assumed[pod.key]
                if pod.node or assumed_uid != uid:  # the cache has caught up, or this is a new pod of the name
                    del self._assumed[pod.key]
                else:  # a copy: the kept conversion stays as the cache has it
                    pod = replace(pod, node=assumed.node, devices=list(assumed.devices),
                                  mig_instances=list(assumed.mig))
            pods.append(pod)
        for gone in [key for key in self._assumed if key not in self._uids]:  # deleted while its bind waited
            del self._assumed[gone]
        groups = self._groups_kept(self.groups.items())
        projects = [snapshot_of.project(p) for p in self.projects.items()]
        if adopted:
            queues = snapshot_of.queues_by_namespace(self.projects.items())
            groups = groups + [snapshot_of.adopted_group(pod, queues) for pod in adopted]
            if snapshot_of.DEFAULT_QUEUE not in {p.name for p in projects}:
                projects.append(snapshot_of.default_queue())
        return Snapshot(
            nodes=self._nodes_kept(self.nodes.items()),
            pods=pods,
            groups=groups,
            projects=projects,
            departments=[snapshot_of.department(d) for d in self.departments.items()],
            pools=[snapshot_of.node_pool(p) for p in self.pools.items()],
            usage=self.history,
        )

    async def cycle(self) -> Decisions:
        started = time.perf_counter()
        snapshot = self.snapshot()
        config = await self._config(time.time())
        record(self.history, config.now, *holdings(snapshot))  # what runs from now on, until the next cycle
        decisions = await asyncio.to_thread(run_cycle, snapshot, config)
        self._thought = time.perf_counter() - started
        self.cycles += 1
        await _bounded(self._evict(e) for e in decisions.evictions)
        if self._interrupted:
            self._interrupted &= {(p.get("metadata") or {}).get("uid") for p in self.pods.items()}
        await _bounded(self._bind(b) for b in decisions.binds if not b.pipelined)
        await self._report(decisions, snapshot)
        if self.reservations is not None:
            await self.reservations.tidy(self.pods.items())
        if self.metrics is not None:
            self.metrics.cycle_done(time.perf_counter() - started, snapshot, decisions)
        return decisions

    async def _config(self, now: float) -> CycleConfig:
        """The cycle's knobs: the ConfigMap's settings over the defaults (or over the config given), at `now`.
        What is wrong in the ConfigMap is said once per change, as a Warning event on it."""
        obj = self.settings.get(CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
        base = self.config or CycleConfig()
        if obj is None:
            return replace(base, now=now)
        settings, problems = scheduler_settings.parse(obj.get("data"))
        self.history.keep_s = max(self.history.keep_s, settings.usage_window)
        if tuple(problems) != self._settings_said:
            self._settings_said = tuple(problems)
            if problems:
                log.warning("ConfigMap %s/%s: %s", CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, "; ".join(problems))
                try:
                    await self.client.create_event(obj, "InvalidSetting", "; ".join(problems), type="Warning",
                                                   component=SCHEDULER_NAME)
                except ApiError as exc:
                    log.warning("could not record the event: %s", exc)
        return replace(base, now=now, **settings.as_config())

    async def _bind(self, bind: Bind) -> None:
        namespace, name = bind.pod.split("/", 1)
        uid = self._uids.get(bind.pod)  # the pod the cycle decided for: the bind is for it alone
        self._assumed[bind.pod] = (uid, bind)
        if self.reservations is not None:  # a shared device is reserved first, beside the cycle; assumed meanwhile
            pod = self.pods.get(name, namespace)
            if pod is not None and (pod.get("metadata") or {}).get("uid") == uid and reservations.shares(bind, pod):
                self.reservations.bind_later(bind, pod, lambda b: self._bind_now(b, uid), self._not_reserved)
                return
        await self._bind_now(bind, uid)

    async def _not_reserved(self, bind: Bind, why: str) -> None:
        """A shared device's reservation did not come up: the pod goes back to waiting, and is told why."""
        self._assumed.pop(bind.pod, None)  # the next cycle decides again (and tries again)
        namespace, name = bind.pod.split("/", 1)
        if self._told.get(bind.pod, ("", 0.0))[0] == why:
            return  # said already: one word per reason, not one per cycle
        self._told[bind.pod] = (why, time.monotonic())
        log.warning("pod %s: %s", bind.pod, why)
        if (pod := self.pods.get(name, namespace)) is not None:
            try:
                await self._unschedulable(pod, why, time.monotonic())
            except ClientError as exc:
                log.warning("could not tell pod %s: %s", bind.pod, exc)

    async def _bind_now(self, bind: Bind, uid: str | None) -> None:
        namespace, name = bind.pod.split("/", 1)
        try:
            annotations = ({usage.DEVICES_ANNOTATION: usage.devices_value(bind.devices, bind.mig)}
                           if bind.devices else None)
            await self.client.bind(namespace, name, bind.node, annotations, uid)  # one write: node and devices
            if self.metrics is not None:
                self.metrics.bound()
            if self._told.pop(bind.pod, None) is not None and (pod := self.pods.get(name, namespace)) is not None:
                await self._set_scheduled(pod, "True")
        except (NotFound, Conflict):
            self._assumed.pop(bind.pod, None)  # gone, or bound by someone else: the cache will tell
        except BaseException:  # any other failure (a refusal, a broken connection, a cancel): not bound as far
            self._assumed.pop(bind.pod, None)  # as we know; were it bound after all, the cache will show it
            raise

    async def _evict(self, eviction: Eviction) -> None:
        """Mark the pod (DisruptionTarget, reason Preempted), record the interruption on its workload, then
        delete it; each step only if the pod is still as the decision saw it running (resourceVersion as a
        precondition): a pod that ended meanwhile is never taken, so its workload never runs it again."""
        if eviction.pod in self._evicting:
            return
        self._evicting.add(eviction.pod)
        namespace, name = eviction.pod.split("/", 1)
        try:
            pod = self.pods.get(name, namespace)
            if pod is None or usage.finished(pod):
                return
            meta = pod.get("metadata") or {}
            if meta.get("uid") != self._uids.get(eviction.pod, meta.get("uid")):
                return  # a new pod of the name: the one decided on is gone already
            condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                         "message": eviction.reason, "lastTransitionTime": _now()}
            marked = await self.client.patch(
                "Pod", name, {"metadata": {"resourceVersion": meta.get("resourceVersion")},
                              "status": {"reason": "Preempted", "message": eviction.reason, "conditions": [condition]}},
                namespace, subresource="status", type="strategic")
            uid = meta.get("uid") or eviction.pod
            if uid not in self._interrupted:
                self._interrupted.add(uid)
                try:
                    await record_interruption(self.client, pod, reason=INTERRUPTIONS[eviction.action],
                                              message=f"pod {name} was {eviction.said(self._who(eviction.by))}",
                                              component=SCHEDULER_NAME)
                except ApiError as exc:  # the eviction goes ahead: the room is needed either way
                    log.warning("could not record the interruption of pod %s: %s", eviction.pod, exc)
            said = eviction.said(self._who(eviction.by))
            await self.client.create_event(pod, "Preempted", said[:1].upper() + said[1:], type="Warning",
                                           component=SCHEDULER_NAME)
            if await self._delete_unless_ended(name, namespace, marked) and self.metrics is not None:
                self.metrics.evicted(eviction.action)
        except (NotFound, Conflict):
            pass  # gone, or changed since (it may have ended): the next cycle decides again
        finally:
            self._evicting.discard(eviction.pod)

    async def _delete_unless_ended(self, name: str, namespace: str, pod: Obj) -> bool:
        """Delete the pod as it was last seen; if it changed since (a status write of its node), look again:
        one that ended is left alone. Whether it was deleted."""
        for _ in range(3):
            try:
                await self.client.delete("Pod", name, namespace, resource_version=pod["metadata"]["resourceVersion"])
                return True
            except Conflict:
                pod = await self.client.get("Pod", name, namespace)
                if usage.finished(pod):
                    return False
        return False

    def _who(self, group: str) -> str:
        """A group as users know it: its workload (kind namespace/name), else its PodGroup, else its pod."""
        namespace, name = group.split("/", 1)
        obj = self.groups.get(name, namespace)
        if obj is None:
            return f"pod {group}"
        owner = workload_of(obj)
        return f"{owner[0]} {owner[1]}/{owner[2]}" if owner else f"PodGroup {group}"

    async def _report(self, decisions: Decisions, snapshot: Snapshot) -> None:
        """PodGroup status: why each waiting group waits; Running once placed. Each waiting pod: its own
        condition and event. The writes go out together, at most `CONCURRENCY` at a time (a cycle may place
        thousands of gangs)."""
        running = {b.group for b in decisions.binds}
        running |= {f"{p.namespace}/{p.group}" for p in snapshot.pods if p.node and p.group}
        await self._tell_waiting(decisions, snapshot)
        writes: list[Awaitable[None]] = []
        for group in self.groups.items():
            meta = group.get("metadata") or {}
            key = f"{meta.get('namespace', '')}/{meta['name']}"
            pending = decisions.pending.get(key)
            if pending is not None and pending.reason == GROUP_NOT_FOUND:
                continue  # it has arrived since the cycle's snapshot: the next cycle decides
            if pending is not None:
                wanted = ("Pending", pending.reason, pending.message)
            elif key in running:
                wanted = ("Running", "", "")
            else:
                continue
            current = group.get("status") or {}
            shown = (current.get("schedulingConditions") or [{}])[0]
            if self._reported.get(key) == wanted or (
                    current.get("phase"), shown.get("reason", ""), shown.get("message", "")) == wanted:
                self._reported[key] = wanted
                continue
            if pending is not None:
                condition = {"type": "Unschedulable", "reason": pending.reason, "message": pending.message,
                             "lastTransitionTime": _now()}
                if pending.node_pool:
                    condition["nodePool"] = pending.node_pool
                status: Obj = {"phase": "Pending", "schedulingConditions": [condition]}
            else:
                status = {"phase": "Running", "schedulingConditions": None}
            writes.append(self._group_status(meta, key, wanted, status))
        await _bounded(writes)

    async def _group_status(self, meta: Obj, key: str, wanted: tuple[str, str, str], status: Obj) -> None:
        """Write one PodGroup's status, and remember it as reported (a PodGroup gone meanwhile is let be)."""
        try:
            await self.client.patch("PodGroup", meta["name"], {"status": status}, meta.get("namespace"),
                                    subresource="status")
            self._reported[key] = wanted
        except NotFound:
            pass

    async def _tell_waiting(self, decisions: Decisions, snapshot: Snapshot) -> None:
        """Tell every pod that waits why, on the pod itself (a pod of its own by its own pending reason, a
        pod of a waiting group by its group's), as kube-scheduler does: once per reason, and a changed reason
        no sooner than `RETELL_S` after the last. Which pods need a write is decided here, without I/O: most
        waiting pods were told already."""
        bound = {b.pod for b in decisions.binds}
        now = time.monotonic()
        told = {key: self._told[key] for key in bound if key in self._told}  # a pipelined bind: told True once bound
        due: list[tuple[Obj, str]] = []
        for pod in snapshot.pods:
            if pod.node or pod.key in bound:
                continue
            pending = decisions.pending.get(f"{pod.namespace}/{pod.group}" if pod.group else pod.key)
            if pending is None or (pending.reason == GROUP_NOT_FOUND and time.time() - pod.submitted < GROUP_GRACE_S):
                continue
            before = self._told.get(pod.key)
            if before is not None:
                told[pod.key] = before
                if before[0] == pending.message or now - before[1] < RETELL_S:
                    continue
            obj = self.pods.get(pod.name, pod.namespace)
            if obj is None or (obj.get("spec") or {}).get("nodeName"):
                continue  # gone, or placed meanwhile
            if before is None and _scheduled_condition(obj) == ("False", pending.message):
                told[pod.key] = (pending.message, now)  # told before a restart
                continue
            due.append((obj, pending.message))
        self._told = told
        await _bounded(self._unschedulable(obj, message, now) for obj, message in due)

    async def _unschedulable(self, pod: Obj, message: str, now: float) -> None:
        """Write why a pod waits: its PodScheduled=False condition and a FailedScheduling event."""
        meta = pod.get("metadata") or {}
        try:
            await self._set_scheduled(pod, "False", message)
            await self.client.create_event(pod, "FailedScheduling", message, type="Warning",
                                           component=SCHEDULER_NAME)
            self._told[f"{meta.get('namespace', '')}/{meta['name']}"] = (message, now)
        except NotFound:
            pass

    async def _set_scheduled(self, pod: Obj, status: str, message: str = "") -> None:
        """The pod's PodScheduled condition (Berth's API server does not set it at binding as Kubernetes' does)."""
        meta = pod.get("metadata") or {}
        condition = {"type": "PodScheduled", "status": status, "reason": "Unschedulable" if status == "False" else "",
                     "message": message, "lastTransitionTime": _now()}
        await self.client.patch("Pod", meta["name"], {"status": {"conditions": [condition]}}, meta.get("namespace"),
                                type="strategic", subresource="status")


async def _bounded(coroutines: Iterable[Awaitable[Any]]) -> None:
    """Await the cycle's writes, at most `CONCURRENCY` at a time."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(coroutine: Awaitable[Any]) -> None:
        async with limit:
            await coroutine

    await asyncio.gather(*(one(c) for c in coroutines))


def _scheduled_condition(pod: Obj) -> tuple[str, str] | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled":
            return condition.get("status", ""), condition.get("message", "")
    return None
