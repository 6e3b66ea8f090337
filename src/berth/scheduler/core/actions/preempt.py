"""Preempt: within one project, a higher-priority job evicts lower-priority preemptible ones.

Victims are running, preemptible jobs of the same project with a strictly lower priority (e.g. an interactive
`build` job over `train` jobs), past the minimum runtime (the project's `preemptMinRuntimeSecs`, else the
cycle's; a job still protected is named in the waiting job's reason), in the same pool. First, if the project's quota
refuses the job (a non-preemptible job beyond deserved, or maxAllowed), victims are evicted, lowest priority
and most recently started first, until it does not; if even evicting all of them would not do, nothing happens.
Then the eviction search frees nodes for the job's pods. All or nothing: the statement is committed only if the
whole gang is placed. Preempt never takes from another project: that is reclaim's business.
"""

from __future__ import annotations

from berth.scheduler.core.actions.victims import (
    Budget,
    VictimCache,
    cost_of,
    evicted,
    place_with_evictions,
    victim_order,
)
from berth.scheduler.core.jobs import Job
from berth.scheduler.core.reasons import duration, note
from berth.scheduler.core.resources import add
from berth.scheduler.core.statement import Cause, Statement


def preempt(session) -> None:
    tried = 0
    for job in session.queue(session.waiting()):
        if tried >= session.config.depth:
            break
        if job.problem:
            continue
        candidates = _victims(session, job)
        if not candidates:
            _say_young(session, job)
            continue
        tried += 1
        for pool in job.pools:
            in_pool = [v for v in candidates if all(session.state.pool_of(p) == pool for p in v.pods)]
            if in_pool and session.can_land(job, pool) and preempt_job(session, job, pool, in_pool):
                break


def _lower(session, job: Job) -> list[Job]:
    """Running, preemptible jobs of the job's project with a lower priority: victims but for their age."""
    state = session.state
    return [v for v in session.jobs_of.get(job.project, ())
            if v.preemptible and v.priority < job.priority and not v.evicted
            and v is not job and v.pods and all(p.key in state.placements for p in v.pods)]


def _victims(session, job: Job) -> list[Job]:
    return [v for v in _lower(session, job) if not session.protected("preempt", v)]


def _say_young(session, job: Job) -> None:
    """When only the minimum runtime keeps lower-priority work from being preempted, the job's reason says so."""
    if not session.min_runtime("preempt", job):
        return
    young = [(session.protected("preempt", v), v) for v in _lower(session, job)]
    young = [(left, v) for left, v in young if left]
    if not young:
        return
    left, first = min(young, key=lambda x: (x[0], x[1].key))
    least = session.min_runtime("preempt", first)
    pool = session.state.pool_of(first.pods[0]) if first.pods else job.pools[0]
    note(job, pool if pool in job.pools else job.pools[0],
         f"the lower-priority workloads of project {job.project} it could preempt have run less than its minimum "
         f"runtime before preemption ({duration(least)}); the first may be preempted in {duration(left)}")


def preempt_job(session, job: Job, pool: str, victims: list[Job]) -> bool:
    state = session.state
    need = session.request(job.gang(state), pool)
    everything = (0, 0, 0)
    for victim in victims:
        everything = add(everything, cost_of(session, victim))
    if session.quota_refusal(job, pool, need, freed=everything) is not None:
        return False

    def reason(victim: Job) -> Cause:
        return Cause("preempt", job.key, f"higher priority in project {job.project}: {job.priority_class} (priority "
                                         f"{job.priority}) outranks {victim.priority_class} (priority {victim.priority})")

    statement = Statement(state)
    taken: set[str] = set()
    for victim in sorted(victims, key=victim_order):
        if session.quota_refusal(job, pool, need) is None:
            break
        for info in victim.running(state):
            statement.evict(info, reason(victim))
        taken.add(victim.key)
    allowed = {v.key for v in victims}
    outcome = place_with_evictions(session, statement, job, pool,
                                   VictimCache(session, lambda v: v.key in allowed and v.key not in taken),
                                   Budget(None), reason)
    if outcome.placed and session.quota_refusal(job, pool, (0, 0, 0)) is None:
        session.commit(statement)
        evicted([v for v in victims if v.key in taken or v in outcome.victims], pool,
                f"placed, then given up in the same cycle to {job.key} ({job.priority_class}) of the same project")
        return True
    statement.rollback()
    note(job, pool, f"evicting lower-priority preemptible workloads of project {job.project} would not make room "
                    "for it")
    return False
