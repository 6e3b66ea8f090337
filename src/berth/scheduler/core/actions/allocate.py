"""Allocate: place waiting jobs on free resources, disturbing nobody.

For each job in order, for each of its node pools in preference order: the project's quota must allow it (a
non-preemptible job stays within deserved, nobody passes maxAllowed), then its pods are placed one by one,
biggest first, through the pool indexes (`placement`). The first `needed` pods are the gang: if one of them
finds no node, the pool is rolled back and the next pool tried; pods beyond the gang are placed if they fit
and their project's quota allows, each on its own. Preemptible jobs may take idle resources beyond their
project's fair share: the order already favours deprived projects, and reclaim takes back what is owed.
"""

from __future__ import annotations

from berth.scheduler.core.jobs import Job, placement_order
from berth.scheduler.core.reasons import Misfit, note
from berth.scheduler.core.state import PodInfo
from berth.scheduler.core.statement import Statement


def allocate(session) -> None:
    for job in session.queue(session.waiting()):
        if not job.problem:
            allocate_job(session, job)


def allocate_job(session, job: Job) -> bool:
    state = session.state
    pending = placement_order(job.pending(state))
    needed = job.needed(state)
    statement = Statement(state)
    for pool in job.pools:
        refusal = session.quota_refusal(job, pool, session.request(pending[:needed], pool))
        if refusal is not None:
            note(job, pool, refusal)
            continue
        misfit = place_pods(session, statement, job, pool, pending, needed)
        if misfit is None:
            session.commit(statement)
            return True
        note(job, pool, misfit)
    return False


def place_pods(session, statement: Statement, job: Job, pool: str, pending: list[PodInfo],
               needed: int) -> Misfit | None:
    """Place the pods in `pool` on free resources; None on success, else the first gang pod that found no node."""
    index = session.pools.get(pool)
    if index is None:
        return Misfit(pool, pending[0], needed)
    checkpoint = statement.checkpoint()
    memo = session.misfits
    for i, info in enumerate(pending):
        gang = i < needed
        if not gang and session.quota_refusal(job, pool, session.request([info], pool)) is not None:
            continue
        spec = job.specs[info.key]
        found = None
        if not memo.known_misfit(pool, spec, info.shape):
            allowed = session.filters.allowed(spec, pool)
            if allowed is None or allowed:
                found = index.find(info.shape, allowed)
            if found is None:
                memo.remember(pool, spec, info.shape)
        if found is not None:
            statement.allocate(info, *found)
        elif gang:
            statement.rollback(checkpoint)
            return Misfit(pool, info, sum(1 for p in pending[:needed] if p.shape == info.shape))
    return None
