"""Placing a job by evicting others: the search shared by consolidate, reclaim and preempt.

Each action says which running jobs may be victims (a `VictimCache` around its rule) and how much it may take
from each project (`Budget`); this module finds, for each pod of the job's gang, the node where the pod fits
after evicting the least, evicts those victims on the statement and places the pod. Victims are whole jobs:
evicting one pod of a gang evicts all of them (what they free on other nodes helps the pods that follow). On a
node, victims are taken lowest project priority, then lowest priority first, then the most recently started (the least work lost), and any
victim found unnecessary afterwards is spared. Nothing is decided here: the caller commits the statement only
if the whole gang was placed and its own rules still hold, and rolls it back otherwise (all or nothing).

Cost: nodes are ranked once per pod shape (a heap of "GPUs to evict"), and a node's rank is checked again
only when it comes to the top, because budgets shrink as victims are taken (lazy greedy). So a 250-pod gang on
500 nodes costs about one pass over the pool, not 250."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.scheduler.core.devices import NodeState, Shape, fit_on, need_milli
from berth.scheduler.core.fairshare import EPS
from berth.scheduler.core.jobs import Job
from berth.scheduler.core.reasons import note
from berth.scheduler.core.resources import MILLI, Amount
from berth.scheduler.core.statement import Cause, Statement


@dataclass
class Budget:
    """How much each project may still lose, per resource (missing project: nothing; None: no limit)."""

    left: dict[str, list[float]] | None = None

    def allows(self, project: str, cost: Amount) -> bool:
        if self.left is None:
            return True
        row = self.left.get(project)
        if row is None:
            return False
        return all(cost[d] <= row[d] + EPS for d in range(3) if cost[d])

    def take(self, project: str, cost: Amount) -> None:
        if self.left is not None:
            row = self.left[project]
            for d in range(3):
                row[d] -= cost[d]


@dataclass
class Outcome:
    placed: bool
    victims: list[Job] = field(default_factory=list)
    failed_pod: object = None


def cost_of(session, job: Job) -> Amount:
    """What evicting this job frees, everywhere it runs."""
    gpu = cpu = mem = 0
    placements = session.state.placements
    for info in job.pods:
        placed = placements.get(info.key)
        if placed is not None:
            gpu += placed.gpu_milli
            cpu += info.shape.cpu
            mem += info.shape.mem
    return (gpu, cpu, mem)


def victim_order(job: Job) -> tuple:
    """Who goes first: the lowest project priority (KAI: a higher-priority queue is the last reclaimed), then the
    lowest priority, then the most recently started (placed this cycle: not started at all)."""
    return (job.queue_priority, job.priority, -_started(job), job.key)


def _started(job: Job) -> float:
    return job.started if job.started is not None else math.inf


def evicted(victims: list[Job], pool: str, why: str) -> None:
    """Mark committed victims: those running at the start are leaving; a job placed earlier in this cycle is
    simply not placed after all (see `cycle.decisions`), waits again, and says why."""
    for victim in victims:
        if any(info.pod.node is not None for info in victim.pods):
            victim.evicted = True
        else:
            note(victim, pool, why)


class VictimCache:
    """Who may be a victim and what evicting it frees: the same for every job an action tries between two
    commits (a failed try rolls back), so an action may share one cache and clear it when it commits."""

    def __init__(self, session, eligible: Callable[[Job], bool]) -> None:
        self.session = session
        self.eligible = eligible
        self.verdicts: dict[str, bool] = {}
        self.costs: dict[str, Amount] = {}

    def clear(self) -> None:
        self.verdicts.clear()
        self.costs.clear()

    def ok(self, victim: Job) -> bool:
        verdict = self.verdicts.get(victim.key)
        if verdict is None:
            verdict = self.verdicts[victim.key] = self.eligible(victim)
        return verdict

    def cost(self, victim: Job) -> Amount:
        cost = self.costs.get(victim.key)
        if cost is None:
            cost = self.costs[victim.key] = cost_of(self.session, victim)
        return cost


def place_with_evictions(session, stmt: Statement, job: Job, pool: str, victims: VictimCache, budget: Budget,
                         reason: Callable[[Job], Cause], rankings: dict | None = None) -> Outcome:
    """Place the job's gang in `pool`, evicting eligible victims where needed; see the module docstring.

    `rankings` lets an action keep the node rankings from one try to the next (each try works on a copy, so a
    rollback loses nothing); ranks are checked again when used, so stale ones only cost a little precision.
    """
    state = session.state
    index = state.pools.get(pool)
    outcome = Outcome(False)
    if index is None:
        return outcome
    ranked = {} if rankings is None else rankings
    heaps: dict[tuple, list] = {}
    taken: set[str] = set()  # evicted in this try

    def can_take(victim: Job) -> bool:
        return (victim is not job and victim.key not in taken and victims.ok(victim)
                and budget.allows(victim.project, victims.cost(victim)))

    gang = job.gang(state)  # only the gang: pods beyond it wait for allocate, never evict anyone
    for info in gang:
        allowed = session.allowed(job, info, pool)
        found = index.find(info.shape, allowed)
        if found is None:
            key = (info.shape, allowed)
            heap = heaps.get(key)
            if heap is None:
                if key not in ranked:
                    ranked[key] = _rank(session, index, info.shape, allowed, can_take)
                heap = heaps[key] = list(ranked[key])
            choice = _take_best(session, index, heap, info.shape, can_take)
            if choice is not None:
                node, chosen = choice
                for victim in chosen:
                    for vinfo in victim.running(state):
                        stmt.evict(vinfo, reason(victim))
                    budget.take(victim.project, victims.cost(victim))
                    taken.add(victim.key)
                    outcome.victims.append(victim)
                spot = fit_on(node, info.shape, index.strategy)
                found = (node.idx, *spot) if spot is not None else index.find(info.shape, allowed)
        if found is None:
            outcome.failed_pod = info
            return outcome
        stmt.allocate(info, *found)
    outcome.placed = True
    return outcome


def _candidates(session, index, allowed) -> list[NodeState]:
    nodes = session.nodes
    members = index.members if allowed is None else sorted(allowed)
    return [nodes[i] for i in members if nodes[i].schedulable]


def _rank(session, index, shape: Shape, allowed, can_take) -> list:
    heap = []
    for node in _candidates(session, index, allowed):
        plan = _plan(session, node, shape, can_take, index.strategy)
        if plan is not None:
            heap.append((plan[0], node.idx))
    heapq.heapify(heap)
    return heap


def _take_best(session, index, heap: list, shape: Shape, can_take) -> tuple[NodeState, list[Job]] | None:
    while heap:
        rank, idx = heapq.heappop(heap)
        node = session.nodes[idx]
        plan = _plan(session, node, shape, can_take, index.strategy)
        if plan is None:
            continue
        if plan[0] > rank:
            heapq.heappush(heap, (plan[0], idx))
            continue
        heapq.heappush(heap, (plan[0], idx))  # it may take another pod later; checked again then
        return node, plan[1]
    return None


def _plan(session, node: NodeState, shape: Shape, can_take, strategy: str) -> tuple[tuple, list[Job]] | None:
    """(rank, victims) to fit `shape` on `node`, or None if it cannot; a lower rank is a better node."""
    if fit_on(node, shape, strategy) is not None:
        return (0, 0, 0, 0, 0.0), []
    placements = session.state.placements
    on_node: dict[str, list] = {}  # victim -> its pods here, with their placements
    owners: dict[str, Job] = {}
    rejected: set[str] = set()
    cpu, mem = node.free_cpu, node.free_mem  # what the node could have free at best
    for info in session.state.node_pods[node.idx].values():
        owner = info.job
        key = owner.key
        if key in rejected:
            continue
        if key not in owners:
            if not can_take(owner):
                rejected.add(key)
                continue
            owners[key] = owner
            on_node[key] = []
        on_node[key].append((info, placements[info.key]))
        cpu += info.shape.cpu
        mem += info.shape.mem
    if not owners or cpu < shape.cpu or mem < shape.mem:
        return None
    freed = _Freed(node)
    chosen: list[Job] = []
    for victim in sorted(owners.values(), key=victim_order):
        pods = on_node[victim.key]
        if not freed.helps(pods, shape):
            continue
        freed.add(pods, 1)
        chosen.append(victim)
        if freed.fits(shape):
            break
    else:
        return None
    for victim in list(reversed(chosen[:-1])):  # spare victims the pod does not need after all
        freed.add(on_node[victim.key], -1)
        if freed.fits(shape):
            chosen.remove(victim)
        else:
            freed.add(on_node[victim.key], 1)
    gpu = cpu = 0
    for victim in chosen:
        gpu_v, cpu_v, _ = cost_of(session, victim)
        gpu += gpu_v
        cpu += cpu_v
    # Least evicted first; among equals, the node whose victims rank lowest and started last.
    return (gpu, cpu, len(chosen), max(v.priority for v in chosen),
            -min(_started(v) for v in chosen)), chosen


class _Freed:
    """A node as it would be after some victims leave it."""

    __slots__ = ("cpu", "dev", "mem", "mig", "node", "pods")

    def __init__(self, node: NodeState) -> None:
        self.node = node
        self.dev = list(node.dev_free)
        self.mig = dict(node.mig_free)  # free MIG slots per profile
        self.cpu = node.free_cpu
        self.mem = node.free_mem
        self.pods = node.pods

    def add(self, pods: list, sign: int) -> None:
        """Take these (pod, placement) pairs off the node (sign 1) or put them back (sign -1)."""
        for info, placed in pods:
            if info.shape.mig:  # its devices are MIG slots
                self.mig[info.shape.mig] += sign * len(placed.devices)
            else:
                for d in placed.devices:
                    self.dev[d] += sign * placed.milli
            self.cpu += sign * info.shape.cpu
            self.mem += sign * info.shape.mem
            self.pods -= sign

    def helps(self, pods: list, shape: Shape) -> bool:
        """Do these pods hold, on this node, something the pod is short of?"""
        for info, placed in pods:
            if shape.any_gpu and placed.devices and info.shape.mig == shape.mig:  # the same kind of device
                return True
            if self.cpu < shape.cpu and info.shape.cpu:
                return True
            if self.mem < shape.mem and info.shape.mem:
                return True
            if self.pods >= self.node.max_pods:
                return True
        return False

    def fits(self, shape: Shape) -> bool:
        if self.cpu < shape.cpu or self.mem < shape.mem or self.pods >= self.node.max_pods:
            return False
        if shape.gpus:
            return sum(1 for f in self.dev if f == MILLI) >= shape.gpus
        if shape.shared:
            room = (1 for d, f in enumerate(self.dev) if f >= need_milli(shape, self.node.dev_mem[d]))
            return next(room, 0) == 1 if shape.count == 1 else sum(room) >= shape.count
        if shape.mig:
            return self.mig.get(shape.mig, 0) >= shape.count
        return True
