"""Consolidate: make room for a job that fails only because free resources are scattered.

A job is a candidate in a pool when allocate found no node for it there although the pool has enough free
GPUs, CPU and memory in total (fragmentation, not shortage) and its quota allowed it. Preemptible jobs are
then moved out of the way: the eviction search (`victims`) frees the nodes the job needs at the least cost,
the job is placed, and every moved job must be placed again in the same pool on what is still free. Only if
all of them fit is anything committed (KAI's rule); a move is reported as an eviction with `moved_to`. Moves
do not change anyone's usage, so no quota or fair share is involved.
"""

from __future__ import annotations

from berth.scheduler.core.actions.allocate import place_pods, placement_order
from berth.scheduler.core.actions.victims import Budget, place_with_evictions
from berth.scheduler.core.jobs import Job
from berth.scheduler.core.reasons import Misfit
from berth.scheduler.core.statement import Statement


def consolidate(session) -> None:
    tried = 0
    for job in session.queue(session.waiting()):
        if tried >= session.config.depth:
            break
        if job.problem:
            continue
        pools = [pool for pool in job.pools if _fragmented(session, job, pool)]
        if pools:
            tried += 1
            for pool in pools:
                if consolidate_job(session, job, pool):
                    break


def _fragmented(session, job: Job, pool: str) -> bool:
    notes = job.tried.get(pool)
    if not notes or not isinstance(notes[0], Misfit):
        return False
    index = session.pools.get(pool)
    if index is None or not session.can_land(job, pool):
        return False
    need = session.request(job.pending(session.state)[: job.needed(session.state)], pool)
    gpu = cpu = mem = 0
    for idx in index.members:
        node = session.nodes[idx]
        if node.schedulable:
            gpu += sum(f for f in node.dev_free if f > 0)
            cpu += node.free_cpu
            mem += node.free_mem
    return gpu >= need[0] and cpu >= need[1] and mem >= need[2]


def consolidate_job(session, job: Job, pool: str) -> bool:
    state = session.state

    def movable(victim: Job) -> bool:
        return (victim.preemptible and not victim.evicted and not victim.problem
                and all(state.pool_of(p) == pool for p in victim.pods))

    statement = Statement(state)
    outcome = place_with_evictions(session, statement, job, pool, movable, Budget(None),
                                   lambda victim: f"moved to make room for {job.key} (consolidation)")
    if outcome.placed and outcome.victims:
        for victim in sorted(outcome.victims, key=lambda v: (-v.priority, v.submitted, v.key)):
            pods = placement_order(victim.pending(state))
            if place_pods(session, statement, victim, pool, pods, len(pods)) is not None:
                break
        else:
            session.commit(statement)
            return True
    statement.rollback()
    return False
