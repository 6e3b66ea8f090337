"""Consolidate: make room for a job that fails only because free resources are scattered.

A job is a candidate in a pool when allocate found no node for it there although the pool has enough free
GPUs, CPU and memory in total (fragmentation, not shortage) and its quota allowed it. Preemptible jobs are
then moved out of the way: the eviction search (`victims`) frees the nodes the job needs at the least cost,
the job is placed, and every moved job must be placed again in the same pool on what is still free. Only if
all of them fit is anything committed (KAI's rule); a move is reported as an eviction with `moved_to`. Moves
do not change anyone's usage, so no quota or fair share is involved.
"""

from __future__ import annotations

from berth.scheduler.core.actions.allocate import place_pods
from berth.scheduler.core.actions.victims import Budget, VictimCache, place_with_evictions
from berth.scheduler.core.jobs import Job, placement_order
from berth.scheduler.core.placement import _covers, _kind
from berth.scheduler.core.reasons import Misfit
from berth.scheduler.core.statement import Cause, Statement

CONSOLIDATION = Cause("consolidate", "", "consolidation: the pod is placed again at once, on another node")


def consolidate(session) -> None:
    tried = 0
    failed: list[tuple] = []  # what could not be consolidated since the last commit (see `_hopeless`)
    state = session.state
    movable = VictimCache(session, lambda victim: (
        victim.preemptible and not victim.evicted and not victim.problem and bool(victim.pods)
        and all(p.key in state.placements for p in victim.pods)
        and len({state.nodes[state.placements[p.key].node].pool for p in victim.pods}) == 1))
    rankings: dict = {}  # node rankings of the eviction search, good until a commit moves things around
    for job in session.queue(session.waiting()):
        if tried >= session.config.depth:
            break
        if job.problem:
            continue
        pools = [pool for pool in job.pools if _fragmented(session, job, pool)]
        for pool in pools:
            if _hopeless(failed, session, job, pool):
                continue
            tried += 1
            if consolidate_job(session, job, pool, movable, rankings.setdefault(pool, {})):
                failed.clear()
                movable.clear()
                rankings.clear()
                break
            failed.append(_signature(session, job, pool))


def _fragmented(session, job: Job, pool: str) -> bool:
    """Allocate found no node in `pool` although the pool has the free resources in total."""
    notes = job.tried.get(pool)
    if not notes or not isinstance(notes[0], Misfit) or not session.can_land(job, pool):
        return False
    need = session.request(job.gang(session.state), pool)
    free = session.state.pool_free.get(pool, (0, 0, 0))
    return free[0] >= need[0] and free[1] >= need[1] and free[2] >= need[2]


def _signature(session, job: Job, pool: str) -> tuple:
    pods = job.gang(session.state)
    return pool, tuple(sorted((job.specs[p.key], p.shape) for p in pods))


def _hopeless(failed: list[tuple], session, job: Job, pool: str) -> bool:
    """A job like one that failed since the last commit, or a single pod asking at least as much of everything
    with the same filters: skipped without a search (a cut-off, like KAI's queue depth, not a proof)."""
    mine = _signature(session, job, pool)
    for other in failed:
        if other == mine:
            return True
        if other[0] == pool and len(other[1]) == len(mine[1]) == 1:
            (spec, shape), (my_spec, my_shape) = other[1][0], mine[1][0]
            if spec == my_spec and _kind(shape) == _kind(my_shape) and _covers(shape, my_shape):
                return True
    return False


def consolidate_job(session, job: Job, pool: str, movable: VictimCache, rankings: dict) -> bool:
    state = session.state
    statement = Statement(state)
    outcome = place_with_evictions(session, statement, job, pool, movable, Budget(None),
                                   lambda victim: CONSOLIDATION._replace(by=job.key), rankings)
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
