"""One scheduling cycle's working set, built from a snapshot: nodes, pools, quotas, jobs and fair shares.

`Session(snapshot, config)` reads the snapshot once and never again: it turns nodes into `NodeState`s with per-pool
indexes, pods into `PodInfo`s with their shapes, pod groups into `Job`s (making a group of one for a bare pod),
loads the running pods into the `ClusterState`, and computes the fair shares from what is running and what is
waiting (with the projects' priorities, and their recent usage when the fair share is time-based). It also
answers the questions of queue order (`project_key`) and minimum runtime (`protected`) the actions share. Everything the actions share lives here, and the committed statements are collected here until the
cycle turns them into `Decisions`.

Invariants: nodes are numbered in name order and jobs are listed in key order, so that the same snapshot gives
the same decisions whatever order its lists came in. The snapshot is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.api.projects import project_of_namespace
from berth.api.usage import PoolSelector, fraction_milli, pool_of_node
from berth.scheduler.core import fairshare, timeshare
from berth.scheduler.core.decisions import GROUP_NOT_FOUND
from berth.scheduler.core.devices import NodeState, Shape, gpu_shape, node_state, request_milli, running_placement
from berth.scheduler.core.filters import FilterCache, spec_for
from berth.scheduler.core.jobs import Job, JobQueue
from berth.scheduler.core.placement import MisfitMemo, PoolIndex
from berth.scheduler.core.quota import NO_LIMITS, Limits, Refusal, check
from berth.scheduler.core.resources import MILLI, Amount, quota_milli
from berth.scheduler.core.snapshot import (
    DEFAULT_POOL,
    DEFAULT_QUEUE_PRIORITY,
    INTERACTIVE,
    NON_PREEMPTIBLE_FROM,
    PRIORITY_CLASSES,
    TRAIN,
    UNLIMITED,
    Node,
    Pod,
    PodGroup,
    PoolQuota,
    Project,
    Quota,
    Snapshot,
    kind_of_priority_class,
)
from berth.scheduler.core.state import ClusterState, PodInfo
from berth.scheduler.core.statement import Op, Statement

INF = fairshare.INF
EPS = fairshare.EPS


@dataclass
class CycleConfig:
    """Knobs of one cycle. The defaults are Run:ai's behaviour."""

    now: float = 0.0  # the snapshot's clock, for minimum runtimes
    actions: tuple[str, ...] = ("allocate", "consolidate", "reclaim", "preempt")
    preempt_min_runtime: float = 0.0  # seconds a workload runs before preempt may take it (a project may say)
    reclaim_min_runtime: float = 0.0  # seconds a workload runs before reclaim may take it (a project may say)
    # Time-based fair share (`timeshare`): off unless set; then the snapshot's usage history is read over a
    # sliding window of `usage_window` seconds, decayed by `usage_half_life` (None: no decay), with factor k.
    time_based: bool = False
    k_value: float = 1.0
    usage_window: float = 7 * 86400.0
    usage_half_life: float | None = None
    depth: int = 100  # most waiting jobs each disruptive action (consolidate, reclaim, preempt) tries per cycle
    explain: bool = True  # put in words why each job waits (off: they are listed as "Waiting", for speed)


def shape_of(pod: Pod) -> Shape | str:
    """The pod's request in core units, or what is wrong with it."""
    gpus, fraction, gmem = pod.gpus, pod.gpu_fraction, pod.gpu_memory
    if fraction >= 1 and float(fraction).is_integer() and not gpus:
        gpus, fraction = int(fraction), 0.0
    if gpus < 0 or fraction < 0 or gmem < 0 or pod.cpu < 0 or pod.memory < 0:
        return "asks for a negative amount"
    if fraction >= 1:
        return f"gpu-fraction {fraction:g} must be below 1 (ask whole GPUs for more)"
    if sum(1 for x in (gpus, fraction, gmem, pod.mig) if x) > 1:
        return "asks for more than one of whole GPUs, a GPU fraction, GPU memory and MIG slices; choose one"
    return gpu_shape(pod, gpus, fraction_milli(fraction), gmem)


class Session:
    def __init__(self, snapshot: Snapshot, config: CycleConfig) -> None:
        self.config = config
        self.ops: list[Op] = []  # committed, in order
        self.said: dict[tuple, tuple[str, str]] = {}  # reasons already put in words (see `reasons`)
        self._open_pools(snapshot)
        self._open_nodes(snapshot)
        self._open_projects(snapshot)
        self._open_jobs(snapshot)
        for pool in self.pools.values():
            pool.build()
        self.state.total_free()
        self.misfits = MisfitMemo(self.state)
        self.usage: dict[str, list[float]] = {}  # recent usage per project, when the fair share is time-based
        if config.time_based and snapshot.usage is not None and config.k_value > 0:
            self.usage = timeshare.normalized(snapshot.usage, config.now, config.usage_window,
                                              config.usage_half_life)
        self.fair = self._fair_share()
        # What the fair shares would be without the usage, for the words of a pending reason.
        self.fair_untimed = self._fair_share(timed=False) if self.usage else self.fair

    # --- building -------------------------------------------------------------------------------------------

    def _open_pools(self, snapshot: Snapshot) -> None:
        self.pool_specs = {p.name: p for p in snapshot.pools}
        self.selectors = [PoolSelector(p.name, p.label_key, p.label_value) for p in snapshot.pools]
        self.pool_names = [p.name for p in snapshot.pools]
        if DEFAULT_POOL not in self.pool_specs:
            self.pool_names.append(DEFAULT_POOL)

    def _pool_of_node(self, node: Node) -> str:
        if node.pool:
            return node.pool
        return pool_of_node(node.labels, self.selectors)

    def _open_nodes(self, snapshot: Snapshot) -> None:
        self.cpu_per_gpu = _cpu_per_gpu(snapshot.pods)
        self.snapshot_nodes = sorted(snapshot.nodes, key=lambda n: n.name)
        self.nodes: list[NodeState] = []
        self.node_index: dict[str, int] = {}
        self.pools: dict[str, PoolIndex] = {}
        for idx, node in enumerate(self.snapshot_nodes):
            pool = self._pool_of_node(node)
            if pool not in self.pools:
                spec = self.pool_specs.get(pool)
                self.pools[pool] = PoolIndex(pool, spec.placement if spec else "binpack", self.nodes,
                                             self.cpu_per_gpu)
            state = node_state(idx, node, pool)
            self.nodes.append(state)
            self.node_index[node.name] = idx
            self.pools[pool].add_node(state)
        for name in self.pool_names:
            if name not in self.pools:
                spec = self.pool_specs.get(name)
                self.pools[name] = PoolIndex(name, spec.placement if spec else "binpack", self.nodes,
                                             self.cpu_per_gpu)
        self.state = ClusterState(self.nodes, self.pools)
        self.filters = FilterCache(self.snapshot_nodes, {name: p.members for name, p in self.pools.items()})

    def _open_projects(self, snapshot: Snapshot) -> None:
        self.projects: dict[str, Project] = {p.name: p for p in snapshot.projects}
        dept_specs = {d.name: d for d in snapshot.departments}
        self.members: dict[str, list[str]] = {}
        for project in sorted(self.projects.values(), key=lambda p: p.name):
            self.members.setdefault(project.department, []).append(project.name)
        self.limits: dict[tuple[str, str], Limits] = {}
        self.dept_limits: dict[tuple[str, str], Limits] = {}
        self.project_quota: dict[tuple[str, str], list[Quota | None]] = {}
        self.dept_quota: dict[tuple[str, str], list[Quota | None]] = {}
        for pool in self.pools:
            for project in self.projects.values():
                quota = project.quotas.get(pool) or PoolQuota()
                self.project_quota[(project.name, pool)] = [quota.gpu, quota.cpu, quota.memory]
                self.limits[(project.name, pool)] = _limits(quota)
            for dept in self.members:
                spec = dept_specs.get(dept)
                quota = spec.quotas.get(pool) if spec else None
                self.dept_quota[(dept, pool)] = [quota.gpu, quota.cpu, quota.memory] if quota else [None] * 3
                self.dept_limits[(dept, pool)] = _limits(quota) if quota else NO_LIMITS
        self.priority: dict[str, int] = {p.name: p.priority for p in self.projects.values()}
        for dept in self.members:
            spec = dept_specs.get(dept)
            if spec is not None:
                self.priority[fairshare.DEPARTMENT_KEY + dept] = spec.priority
        self.kept = {  # per project: the resources it has a deserved quota for somewhere (always GPUs)
            p.name: (True, *(any(getattr(q, r).deserved != UNLIMITED for q in p.quotas.values())
                             for r in ("cpu", "memory")))
            for p in self.projects.values()
        }

    def _open_jobs(self, snapshot: Snapshot) -> None:
        groups = {g.key: g for g in snapshot.groups}
        pods_of: dict[str, list[Pod]] = {}
        for pod in snapshot.pods:
            key = f"{pod.namespace}/{pod.group or pod.name}"
            pods_of.setdefault(key, []).append(pod)
        self.jobs: list[Job] = []
        self.job_by_key: dict[str, Job] = {}
        for key in sorted(pods_of):
            pods = sorted(pods_of[key], key=lambda p: p.name)
            group = groups.get(key)
            unseen = group is None and pods[0].group is not None  # it names a PodGroup not seen yet
            group = group or PodGroup(name=key.split("/", 1)[1], namespace=pods[0].namespace,
                                      queue=project_of_namespace(pods[0].namespace))
            job = self._job(key, group, pods)
            if unseen and not any(info.pod.node for info in job.pods):
                # Its pods may arrive before their PodGroup (each is watched on its own): as a group of one,
                # the first pod of a gang would be placed alone. A gang already running keeps running.
                job.problem = (GROUP_NOT_FOUND, f"waiting for its PodGroup {group.name} (named by the pods' "
                                                   "annotation pod-group-name), which does not exist in namespace "
                                                   f"{group.namespace} yet")
            self.jobs.append(job)
            self.job_by_key[key] = job
        self.jobs_of: dict[str, list[Job]] = {}  # by project, in key order
        for job in self.jobs:
            self.jobs_of.setdefault(job.project, []).append(job)

    def _job(self, key: str, group: PodGroup, pods: list[Pod]) -> Job:
        first = pods[0]
        priority_class = group.priority_class or first.priority_class or "train"
        priority = PRIORITY_CLASSES.get(priority_class, PRIORITY_CLASSES["train"])
        preemptible = group.preemptible if group.preemptible is not None else first.preemptible
        if preemptible is None:
            preemptible = priority < NON_PREEMPTIBLE_FROM
        project = self.projects.get(group.queue)
        department = project.department if project else ""
        submitted = group.submitted if group.submitted is not None else min(p.submitted for p in pods)
        job = Job(key, group.queue, department, priority, priority_class, preemptible,
                  group.kind or kind_of_priority_class(priority_class), submitted, max(group.min_member, 1))
        if project is None:
            job.problem = ("ProjectNotFound", (f"project {group.queue or '(none)'} does not exist; "
                                               "the pod group's queue must name a project"))
        else:
            job.queue_priority = project.priority
        job.pools = list(group.node_pools or first.node_pools or (project.default_node_pools if project else [])
                         or [DEFAULT_POOL])
        node_types = None
        if project is not None:
            node_types = {TRAIN: project.node_affinity_train,
                          INTERACTIVE: project.node_affinity_interactive}.get(job.kind) or None
        running_pool = None
        for pod in pods:
            shape = shape_of(pod)
            if isinstance(shape, str):
                job.problem = job.problem or ("InvalidRequest", f"pod {pod.name} {shape}")
                shape = Shape()
            info = PodInfo(pod, shape, group.queue, department)
            info.job = job
            if pod.node is not None:
                idx = self.node_index.get(pod.node)
                if idx is None:  # bound to a node the snapshot does not have: it counts as running elsewhere
                    job.min_member = max(job.min_member - 1, 1)
                    continue
                self._load_running(info, idx)
                running_pool = self.nodes[idx].pool
                if pod.started is not None:
                    job.started = pod.started if job.started is None else min(job.started, pod.started)
            job.pods.append(info)
            job.specs[info.key] = spec_for(pod.node_selector, pod.tolerations, node_types)
        if running_pool is not None:
            job.pools = [running_pool]
        if len(job.pods) < job.min_member and not job.problem:
            # A gang whose pods are still being created: placing the first ones alone would break it.
            job.problem = ("GangIncomplete", f"waiting for the gang's pods: {len(job.pods)} of "
                                             f"{job.min_member} exist so far")
        return job

    def _load_running(self, info: PodInfo, idx: int) -> None:
        devices, milli = running_placement(self.nodes[idx], info.shape, info.pod.devices, info.pod.mig_instances)
        self.state.place(info, idx, devices, milli)

    def _fair_share(self, timed: bool = True) -> fairshare.FairShare:
        capacity = {}
        for name, pool in self.pools.items():
            gpu = cpu = mem = 0
            for idx in pool.members:
                node = self.nodes[idx]
                if node.schedulable:
                    gpu += MILLI * len(node.dev_free) - sum(
                        round(d.used * MILLI) for d in self.snapshot_nodes[idx].gpus)
                    cpu += node.cap_cpu
                    mem += node.cap_mem
            capacity[name] = (gpu, cpu, mem)
        requested = {key: list(row) for key, row in self.state.usage.items()}
        for job in self.jobs:
            if job.problem:
                continue
            pending = job.pending(self.state)
            if not pending:
                continue
            for pool in job.pools:
                if pool not in self.pools:
                    continue
                need = self.request(pending, pool)
                row = requested.setdefault((job.project, pool), [0, 0, 0])
                for dim in range(3):
                    row[dim] += need[dim]
        return fairshare.compute(capacity, self.project_quota, self.dept_quota, self.members, requested,
                                 self.priority, self.usage if timed else None, self.config.k_value)

    # --- what the actions ask -------------------------------------------------------------------------------

    def request(self, pods: list[PodInfo], pool: str) -> Amount:
        """What these pods take in `pool` (a gpu-memory ask is counted on the pool's largest device)."""
        gpu = cpu = mem = 0
        index = self.pools.get(pool)
        for info in pods:
            shape = info.shape
            if shape.gpus:
                gpu += shape.gpus * MILLI
            elif shape.any_gpu:
                gpu += request_milli(shape, index)
            cpu += shape.cpu
            mem += shape.mem
        return (gpu, cpu, mem)

    def quota_refusal(self, job: Job, pool: str, need: Amount, freed: Amount = (0, 0, 0)) -> Refusal | None:
        state = self.state
        scopes = [("project", job.project, self.limits.get((job.project, pool), NO_LIMITS),
                   state.used(job.project, pool), state.np_used(job.project, pool)),
                  ("department", job.department, self.dept_limits.get((job.department, pool), NO_LIMITS),
                   state.dept_used(job.department, pool), state.np_dept_used(job.department, pool))]
        return check(job.preemptible, pool, need, scopes, freed)

    def allowed(self, job: Job, info: PodInfo, pool: str) -> frozenset[int] | None:
        return self.filters.allowed(job.specs[info.key], pool)

    def can_land(self, job: Job, pool: str) -> bool:
        """Whether the pool has, for each of the job's waiting pods, some node its static filters allow."""
        index = self.pools.get(pool)
        if index is None or not index.members:
            return False
        return all(self.filters.allowed(job.specs[p.key], pool) != frozenset() for p in job.pending(self.state))

    def saturation(self, project: str) -> float:
        share = self.fair.project_total.get(project)
        used = self.state.project_total.get(project)
        if share is None or used is None:
            return 0.0
        kept = self.kept.get(project, (True, False, False))
        return fairshare.saturation(used, [s if k else INF for s, k in zip(share, kept)])

    def department_saturation(self, department: str) -> float:
        share = self.fair.department_total.get(department)
        used = self.state.dept_total.get(department)
        if share is None or used is None:
            return 0.0
        return fairshare.saturation(used, share)

    def project_key(self, project: str) -> tuple:
        """Who is served first (KAI's queue order): a project within its fair share before one above it, then
        the higher priority, then the more deprived (allocated / fair share)."""
        ratio = self.saturation(project)
        return (ratio > 1 + EPS, -self.priority.get(project, DEFAULT_QUEUE_PRIORITY), ratio)

    def department_key(self, department: str) -> tuple:
        ratio = self.department_saturation(department)
        return (ratio > 1 + EPS, -self.priority.get(fairshare.DEPARTMENT_KEY + department, DEFAULT_QUEUE_PRIORITY),
                ratio)

    def queue(self, jobs: list[Job]) -> JobQueue:
        return JobQueue(jobs, self.department_key, self.project_key)

    def min_runtime(self, action: str, victim: Job) -> float:
        """Seconds `victim` must have run before `action` ("preempt" or "reclaim") may take it: its project's
        own minimum (KAI's queue-based resolution), else the cycle's."""
        project = self.projects.get(victim.project)
        own = None if project is None else (
            project.preempt_min_runtime if action == "preempt" else project.reclaim_min_runtime)
        if own is not None:
            return own
        return self.config.preempt_min_runtime if action == "preempt" else self.config.reclaim_min_runtime

    def protected(self, action: str, victim: Job) -> float:
        """How many more seconds the minimum runtime protects `victim` from `action` (0: not protected). A job
        whose start is unknown is not protected."""
        least = self.min_runtime(action, victim)
        if not least or victim.started is None:
            return 0.0
        return max(0.0, victim.started + least - self.config.now)

    def waiting(self) -> list[Job]:
        """Jobs with pods to place now."""
        placements = self.state.placements
        return [j for j in self.jobs
                if not j.evicted and any(p.key not in placements for p in j.pods)]

    def commit(self, statement: Statement) -> None:
        self.ops.extend(statement.commit())


def _limits(quota: PoolQuota) -> Limits:
    parts = (quota.gpu, quota.cpu, quota.memory)
    return Limits(
        tuple(INF if q.deserved == UNLIMITED else quota_milli(d, q.deserved) for d, q in enumerate(parts)),
        tuple(INF if q.max_allowed == UNLIMITED else quota_milli(d, q.max_allowed) for d, q in enumerate(parts)),
    )


def _cpu_per_gpu(pods: list[Pod]) -> float:
    """Millicores the snapshot's GPU pods ask per GPU: how much CPU a free GPU will need (see `placement`)."""
    cpu = gpu = 0.0
    for pod in pods:
        share = pod.gpus + (pod.gpu_fraction if 0 < pod.gpu_fraction < 1 else 0)
        if share > 0:
            cpu += pod.cpu
            gpu += share
    return cpu / gpu if gpu else 0.0



