"""Spare: once the cycle's actions are done, every victim that could stay where it runs stays.

Each action takes victims for one job at a time, the cheapest for each pod in turn, so a later choice can make
an earlier one unneeded: the second pod of a gang evicts a two-pod job that also frees the node the first pod
evicted a job for, or preempt evicts for a project's maxAllowed and a later preemption of the same project
frees more than the first needed. This step looks at the cycle's evictions as a whole, in the reverse of the
order victims are taken in (`victims.victim_order`: the one that would be taken last is kept first): a job
evicted this cycle goes back exactly where it ran (the same node and devices) when that room is
still free and its project's quota (maxAllowed, project and department) takes it back, and its evictions are
struck from the cycle. Nothing else moves, so every placement of the cycle stands; putting a victim back only
uses free room and raises its own project's usage, which no rule of reclaim or preempt forbids (reclaim keeps
victims at or above their fair share, preempt's deserved rule counts only non-preemptible work).

Invariant afterwards: with every other decision as it is, putting any one evicted job back where it ran would
overfill a device or a node or pass its project's maxAllowed. Jobs placed earlier in this cycle and then given
up are left alone: placing them is allocate's business, next cycle.
"""

from __future__ import annotations

from berth.scheduler.core.actions.victims import victim_order
from berth.scheduler.core.devices import fits_host, room_for
from berth.scheduler.core.jobs import Job
from berth.scheduler.core.statement import Op, Statement


def spare(session) -> None:
    ops = session.ops
    of_pod: dict[str, list[int]] = {}  # pod -> positions of its ops in the cycle
    victims: dict[str, Job] = {}
    for at, op in enumerate(ops):
        of_pod.setdefault(op.info.key, []).append(at)
        if op.kind == "evict" and op.info.pod.node is not None:
            victims.setdefault(op.info.job.key, op.info.job)
    struck: set[int] = set()
    for victim in sorted(victims.values(), key=victim_order, reverse=True):
        mine = [of_pod[info.key] for info in victim.pods if info.key in of_pod]
        if not victim.evicted or any(ops[at[0]].kind != "evict" or ops[at[-1]].kind != "evict" for at in mine):
            continue  # not a victim, moved and left in place, or with pods placed this cycle
        if _put_back(session, victim, [ops[at[0]] for at in mine]):
            struck.update(at for positions in mine for at in positions)
            victim.evicted = False
    if struck:
        session.ops = [op for at, op in enumerate(ops) if at not in struck]


def _put_back(session, victim: Job, first: list[Op]) -> bool:
    """Place the victim's pods where the cycle first evicted them from, if that room is free and quota allows."""
    state = session.state
    pool = state.nodes[first[0].placement.node].pool
    gpu = sum(op.placement.gpu_milli for op in first)
    cpu = sum(op.info.shape.cpu for op in first)
    mem = sum(op.info.shape.mem for op in first)
    if session.quota_refusal(victim, pool, (gpu, cpu, mem)) is not None:
        return False
    statement = Statement(state)
    for op in first:
        placed, node = op.placement, state.nodes[op.placement.node]
        if not fits_host(node, op.info.shape) or not room_for(node, op.info.shape, placed.devices, placed.milli):
            statement.rollback()
            return False
        statement.allocate(op.info, placed.node, placed.devices, placed.milli)
    statement.commit()  # the state is as if they had never left; their evictions are struck by the caller
    return True
