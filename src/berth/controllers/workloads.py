"""The workload controller: for every workload, the PodGroup, pods and other objects its plan asks for, and
its status, through the Kubernetes API only.

Reconciling one workload is level-based and idempotent: read the workload and its pods from the caches,
compute the plan (`training`, `interactive`, `distributed`, `inference`), create what is missing and delete
what must go, write the status if it changed, and record an Event for each phase change. Pod names are
deterministic and creation tolerates AlreadyExists, so a restart at any point repeats nothing. A workload
whose last creates or deletes the caches do not show yet is not planned again until they do
(`berth.controllers.expectations`), so no controller creates pods faster than it observes them; failed
pods are replaced only after a back-off (`berth.controllers.backoff`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from berth.api import sharing
from berth.api.priority import priority_class
from berth.api.registry import WORKLOADS
from berth.client import AlreadyExists, ApiError, Client, Conflict, NotFound
from berth.client.informer import Change, Informer
from berth.controllers import (
    claims,
    distributed,
    frameworks,
    inference,
    interactive,
    podspec,
    preemption,
    services,
    tools,
    training,
)
from berth.controllers.expectations import Expectations
from berth.controllers.phase import TERMINAL, derive
from berth.controllers.plan import (
    INDEX,
    NODE_POOLS_ANNOTATION,
    POD_GROUP_ANNOTATION,
    PRIORITY,
    ROLE,
    WORKLOAD_NAME,
    Obj,
    Plan,
    duration_seconds,
    is_active,
    is_finished,
    meta,
    timestamp,
    value,
)

log = logging.getLogger(__name__)

KINDS = tuple(k.kind for k in WORKLOADS)
TEMPLATE = "Template"  # the phase of a workload of usage Template, which never runs
RUN_TO_END = ("TrainingWorkload", "DistributedWorkload")  # kinds whose finished pods count after they are gone
Key = tuple[str, str, str]  # kind, namespace, name


def pod_group_name(workload: Obj) -> str:
    """`pg-<name>-<uid prefix>`: unique per workload, stable across restarts (as KAI's pod-grouper names)."""
    m = meta(workload)
    return f"pg-{m['name']}-{(m.get('uid') or '')[:8]}".rstrip("-")


def requested_pools(workload: Obj) -> list[str]:
    """The node pools the workload itself names, in order (the scheduler falls back to the project's)."""
    spec = workload.get("spec") or {}
    text = value(spec, "nodePools") or value(spec, "nodePool") or ""
    return [p for p in str(text).replace(",", " ").split() if p]


class WorkloadController:
    """Runs the reconcile loop for the four workload kinds."""

    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time, workers: int = 16) -> None:
        self.client = client
        self.clock = clock
        self.workers = workers
        self.workloads = {k: Informer(client, k, handlers=[self._on_workload]) for k in KINDS}
        self.pods = Informer(client, "Pod", labels=WORKLOAD_NAME, handlers=[self._on_child])
        self.pod_groups = Informer(client, "PodGroup", handlers=[self._on_child])
        self.services = Informer(client, "Service", labels=WORKLOAD_NAME, handlers=[self._on_child])
        self.projects = Informer(client, "Project")
        self._pods_of: dict[Key, set[str]] = defaultdict(set)
        self._ended: dict[Key, dict[str, Obj]] = defaultdict(dict)  # finished pods deleted since (see `_pods`)
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._busy: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self.expectations = Expectations()

    # -- events -> queue ----------------------------------------------------------------------------

    def enqueue(self, key: Key) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def _later(self, key: Key, seconds: float) -> None:
        """Reconcile `key` again in `seconds`, unless it is due sooner already."""
        loop = asyncio.get_running_loop()
        when = loop.time() + max(seconds, 0.05)
        old = self._timers.get(key)
        if old is not None:
            if old.when() <= when:
                return
            old.cancel()
        self._timers[key] = loop.call_at(when, self._due, key)

    def _due(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)

    async def _on_workload(self, change: Change) -> None:
        m = meta(change.object)
        self.enqueue((change.object["kind"], m.get("namespace", ""), m["name"]))

    async def _on_child(self, change: Change) -> None:
        m = meta(change.object)
        owner = next((o for o in m.get("ownerReferences") or [] if o.get("controller") and o.get("kind") in KINDS), None)
        if owner is None:
            return
        key = (owner["kind"], m.get("namespace", ""), owner["name"])
        if change.object.get("kind") == "Pod":
            if change.type == "DELETED":
                self._pods_of[key].discard(m["name"])
                if key[0] in RUN_TO_END and is_finished(change.object):
                    self._ended[key][m["name"]] = change.object
            else:
                self._pods_of[key].add(m["name"])
            # A pod being deleted counts as deleted (as the ReplicaSet controller counts it): its grace period
            # must not hold up the workload.
            gone = change.type == "DELETED" or bool(m.get("deletionTimestamp"))
            self.expectations.observed(key, m["name"], exists=not gone)
        self.enqueue(key)

    # -- the loop -----------------------------------------------------------------------------------

    async def run(self) -> None:
        informers = [*self.workloads.values(), self.pods, self.pod_groups, self.services, self.projects]
        for informer in informers:
            informer.start()
        try:
            for informer in informers:
                await informer.wait_synced()
            workers = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
            await asyncio.gather(*workers)
        finally:
            for timer in self._timers.values():
                timer.cancel()
            await asyncio.gather(*(i.stop() for i in informers), return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            if key in self._busy:  # another worker has it: look again when it is done
                self._later(key, 0.05)
                continue
            self._busy.add(key)
            try:
                await self.reconcile(*key)
            except Conflict:
                self._later(key, 0.1)
            except NotFound:
                pass  # the workload (or what it was writing into) was deleted meanwhile: nothing left to do
            except ApiError as exc:
                log.warning("reconciling %s %s/%s: %s", *key, exc)
                self._later(key, 1.0)
            except Exception:  # noqa: BLE001 - one workload's bug must not stop the others
                log.exception("reconciling %s %s/%s failed", *key)
                self._later(key, 5.0)
            finally:
                self._busy.discard(key)

    # -- one workload -------------------------------------------------------------------------------

    def _pods(self, key: Key) -> list[Obj]:
        """The workload's pods in the cache, and the last state of those of a job that ended and were deleted
        since (by a user, or a cleanPodPolicy): a training whose pod succeeded does not run it again because
        the pod is gone (as the Job controller counts such pods, with its finalizers)."""
        found = {}
        for name in self._pods_of.get(key, ()):
            pod = self.pods.get(name, key[1])
            if pod is not None:
                found[name] = pod
        for name, pod in self._ended.get(key, {}).items():
            found.setdefault(name, pod)
        return [found[name] for name in sorted(found)]

    def _make_pod(self, workload: Obj, group: str) -> Callable[..., Obj]:
        def make(name: str, index: int, *, role: str | None = None, overrides: Obj | None = None,
                 restart_policy: str = "Never") -> Obj:
            pod = podspec.pod_template(workload, role=role, overrides=overrides)
            m = pod["metadata"]
            m["name"] = name
            labels = m.setdefault("labels", {})  # the workload's labels come with the template
            labels[INDEX] = str(index)
            if role:
                labels[ROLE] = role
            annotations = m.setdefault("annotations", {})
            annotations[POD_GROUP_ANNOTATION] = group
            pools = requested_pools(workload)
            if pools:
                annotations[NODE_POOLS_ANNOTATION] = ",".join(pools)
            spec = pod["spec"]
            spec["restartPolicy"] = restart_policy
            if podspec.GPU_FRACTION in annotations or podspec.GPU_MEMORY in annotations:
                for container in spec["containers"]:  # the shared GPU, on a real cluster (berth.api.sharing)
                    container.setdefault("envFrom", []).append(sharing.env_from(name))
            priority, _ = priority_class(workload)
            spec["priorityClassName"] = priority
            spec["priority"] = PRIORITY[priority]
            return pod

        return make

    def _plan(self, workload: Obj, pods: list[Obj], make: Callable[..., Obj]) -> Plan:
        kind = workload["kind"]
        exposed = services.port_services(workload)
        namespace = meta(workload).get("namespace", "")
        live = {m["name"]: svc for m in (svc["metadata"] for svc in exposed)
                if (svc := self.services.get(m["name"], namespace)) is not None}
        if kind == "InferenceWorkload":
            result = inference.plan(workload, pods, make, now=self.clock(), waiting=services.waiting(live.values()))
        elif kind == "TrainingWorkload":
            result = training.plan(workload, pods, make, now=self.clock())
        elif kind == "InteractiveWorkload":
            project = self.projects.get(podspec.project_of(meta(workload).get("namespace", "")))
            limit = ((project or {}).get("spec") or {}).get("interactiveJobTimeLimitSecs") or None
            result = interactive.plan(
                workload, pods, lambda name, index: tools.add_tensorboard(make(name, index, restart_policy="Always"),
                                                                          workload),
                time_limit=limit, now=self.clock())
        else:
            result = distributed.plan(workload, pods, make)
        if kind != "InferenceWorkload" and result.phase not in TERMINAL:
            verdict = preemption.ended(workload, pods)
            if verdict is not None:  # terminateAfterPreemption, preemptionLimit: it ends instead of waiting again
                result.phase, (result.reason, result.message) = "Failed", verdict
                result.create, result.waiting, result.requeue_after = [], None, None
                result.delete = [meta(p)["name"] for p in pods if is_active(p)]
        if kind != "InferenceWorkload":  # the inference plan has its Services already: its pods serve behind them
            result.objects.extend(exposed)
        result.objects.extend(claims.new_claims(workload))
        result.status_extra["gpuRequest"] = podspec.gpus_shown(_gpu_requests(workload, result))
        if exposed:
            result.status_extra["serviceUrls"] = services.urls(exposed, pods, live)
        return result

    async def reconcile(self, kind: str, namespace: str, name: str) -> None:
        key = (kind, namespace, name)
        workload = self.workloads[kind].get(name, namespace)
        if workload is None:
            self.expectations.forget(key)
            self._ended.pop(key, None)
            return  # gone: the garbage collector removes what it owned
        spec = workload.get("spec") or {}
        if spec.get("usage") == "Template":
            await self._show_template(workload)  # a base for other workloads, not a job: nothing runs
            return
        wait = self.expectations.wait_left(key)
        if wait > 0:  # the caches do not show our last creates or deletes yet: their events bring us back
            self._later(key, wait)
            return
        workload = tools.with_tools(workload)
        pods = self._pods(key)
        group = pod_group_name(workload)
        status = workload.get("status") or {}
        if meta(workload).get("deletionTimestamp"):
            plan = Plan()
        elif value(spec, "active", True) is False:
            plan = Plan(phase="Stopped", reason="Suspended", message="suspended (active: false); pods removed",
                        delete=[meta(p)["name"] for p in pods if not meta(p).get("deletionTimestamp")])
        else:
            try:
                plan = self._plan(workload, pods, self._make_pod(workload, group))
            except podspec.PodSpecError as exc:  # the spec cannot make a pod: tell the user which field
                plan = Plan(phase="Failed", reason="InvalidSpec", message=str(exc))
            if status.get("phase") in TERMINAL:
                plan.create = []  # an ended workload starts nothing again
                self._auto_delete(workload, plan)
        self.expectations.expect(key, creates=[meta(p)["name"] for p in plan.create], deletes=plan.delete)
        if plan.phase != "Stopped" and not meta(workload).get("deletionTimestamp"):
            await self._ensure_pod_group(workload, group, plan)
            for obj in plan.objects:
                await self._ensure(obj)
            for pod in plan.create:
                if not await self._ensure(pod):
                    self.expectations.failed(key, meta(pod)["name"])
        elif plan.phase == "Stopped":
            await self._release_pod_group(workload, group)
        for pod_name in plan.delete:
            try:
                await self.client.delete("Pod", pod_name, namespace)
            except NotFound:
                self.expectations.failed(key, pod_name)
        # The status comes from the pods the plan saw: one snapshot, so counts and phase agree (the pods just
        # created show in the next look, which their events bring).
        await self._write_status(workload, plan, pods, group)
        if plan.delete_workload:
            await self.client.delete(kind, name, namespace)
        elif plan.requeue_after is not None:
            self._later(key, plan.requeue_after)

    async def _show_template(self, workload: Obj) -> None:
        """The status of a `usage: Template` workload: phase Template, and words saying it never runs."""
        status = {"phase": TEMPLATE, "reason": TEMPLATE,
                  "message": f"usage: Template: never run; a base for {workload['kind']}s that name it in "
                             "baseWorkload (set usage: Submit, or leave usage out, to run a workload)",
                  "observedGeneration": meta(workload).get("generation", 1)}
        if {k: (workload.get("status") or {}).get(k) for k in status} != status:
            await self.client.update_status({**workload, "status": status})

    def _auto_delete(self, workload: Obj, plan: Plan) -> None:
        """autoDeletionTimeAfterCompletionSeconds (or the older ttlAfterFinish): delete, or look again later."""
        spec = workload.get("spec") or {}
        seconds = value(spec, "autoDeletionTimeAfterCompletionSeconds")
        if seconds is None and value(spec, "ttlAfterFinish"):
            seconds = duration_seconds(value(spec, "ttlAfterFinish"))
        ended = timestamp((workload.get("status") or {}).get("completionTime"))
        if seconds is None or ended is None:
            return
        left = ended + float(seconds) - self.clock()
        if left <= 0:
            plan.delete_workload = True
        else:
            plan.requeue_after = left

    async def _ensure(self, obj: Obj) -> bool:
        """Create `obj` unless it exists: True when this call created it."""
        try:
            await self.client.create(obj)
        except AlreadyExists:
            return False
        return True

    async def _ensure_pod_group(self, workload: Obj, group: str, plan: Plan) -> None:
        namespace = meta(workload).get("namespace", "")
        priority, preemptibility = priority_class(workload)
        desired = {"minMember": plan.min_member, "queue": podspec.project_of(namespace),
                   "priorityClassName": priority, "preemptibility": preemptibility}
        current = self.pod_groups.get(group, namespace)
        if current is None:
            metadata: Obj = {"name": group, "namespace": namespace, "ownerReferences": services.owner(workload),
                             "labels": podspec.workload_labels(workload)}
            pools = requested_pools(workload)
            if pools:
                metadata["annotations"] = {NODE_POOLS_ANNOTATION: ",".join(pools)}
            await self._ensure({"apiVersion": "scheduling.run.ai/v2alpha2", "kind": "PodGroup",
                                "metadata": metadata, "spec": desired})
        elif any((current.get("spec") or {}).get(k) != v for k, v in desired.items()):
            await self.client.patch("PodGroup", group, {"spec": desired}, namespace)

    async def _release_pod_group(self, workload: Obj, group: str) -> None:
        try:
            await self.client.delete("PodGroup", group, meta(workload).get("namespace", ""))
        except NotFound:
            pass

    async def _write_status(self, workload: Obj, plan: Plan, pods: list[Obj], group: str) -> None:
        namespace = meta(workload).get("namespace", "")
        pod_group = self.pod_groups.get(group, namespace)
        status = derive(workload, plan, pods, pod_group, now=self.clock())
        if plan.status_extra:
            status.update(plan.status_extra)
        old = workload.get("status") or {}
        if _comparable(status) == _comparable(old):
            return
        updated = await self.client.update_status({**workload, "status": status})
        if status["phase"] != old.get("phase"):
            warning = status["phase"] in ("Failed", "TimedOut")
            try:
                await self.client.create_event(updated, status.get("reason") or status["phase"],
                                               f"{status['phase']}: {status.get('message', '')}".rstrip(": "),
                                               type="Warning" if warning else "Normal")
            except ApiError as exc:
                log.warning("could not record an event for %s: %s", meta(workload)["name"], exc)


def _gpu_requests(workload: Obj, plan: Plan) -> list[tuple[int, Obj]]:
    """(pods, the spec they are made from) for all the pods the workload runs at once."""
    spec = workload.get("spec") or {}
    kind = workload["kind"]
    if kind == "DistributedWorkload":
        master = frameworks.master_spec(workload) or None
        return [(role.replicas, podspec.effective_spec(spec, master if role.uses_master_spec else None))
                for role in frameworks.roles(workload)]
    if kind == "TrainingWorkload":
        return [(min(int(value(spec, "parallelism", 1)), int(value(spec, "completions", 1))), spec)]
    if kind == "InferenceWorkload":
        return [(int(plan.status_extra.get("replicas", plan.desired_pods)), spec)]
    return [(1, spec)]


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    """A status without the timestamps of its conditions, to tell whether anything changed."""
    out = dict(status)
    out["conditions"] = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []]
    return out
