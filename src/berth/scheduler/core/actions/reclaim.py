"""Reclaim: a project below its fair share takes resources back from projects above theirs.

For a waiting job of project P in a pool, in order:
- P's own quota must allow the job (reclaim cannot fix that), and after placing it P must still be within its
  fair share in that pool (or within its deserved quota, when quotas add up to more than the pool) for every
  resource it has a quota for. Otherwise P is not owed anything.
- Victims are preemptible, running jobs of other projects Q that are above their fair share in the pool, past
  the minimum runtime (Q's `reclaimMinRuntimeSecs`, else the cycle's; KAI's queue-based resolution), lowest
  project priority first; each Q may lose only what it holds above its fair share (its budget), so it never drops
  below its fair share, which is at least its deserved quota unless quotas add up to more than the pool. So
  after a reclaim P is still at or below its share and every Q at or above its own: no ping-pong next cycle.
  Non-preemptible work is never a victim.
- If the pool's free resources plus everything the victims could give do not cover the job, nothing is
  evicted (all or nothing) and the job waits, with a note saying how much could be freed.
- Otherwise the eviction search frees nodes for the job's pods; if the whole gang is placed the evictions and
  binds are committed together, else everything is rolled back.
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
from berth.scheduler.core.fairshare import EPS, INF
from berth.scheduler.core.jobs import Job
from berth.scheduler.core.reasons import duration, in_pool, note, share_words
from berth.scheduler.core.resources import GPU, gpus, say
from berth.scheduler.core.statement import Cause, Statement


def reclaim(session) -> None:
    tried = 0
    contexts: dict[tuple[str, str], _Context] = {}
    for job in session.queue(session.waiting()):
        if tried >= session.config.depth:
            break
        if job.problem:
            continue
        for pool in job.pools:
            result = reclaim_job(session, job, pool, contexts)
            if result is not None:
                tried += 1
                if result:
                    break


class _Context:
    """What stays true for one reclaiming project in one pool while the action runs: who could be a victim
    (budgets aside), in eviction order, what each would free, and the node rankings of the eviction search.
    A commit changes it only for the jobs it evicted or placed, which are forgotten then."""

    def __init__(self, session, project: str, pool: str) -> None:
        state = session.state
        self.protected: dict[str, float] = {}  # victims the minimum runtime keeps: seconds left

        def eligible(victim: Job) -> bool:
            if not (victim.project != project and victim.preemptible and not victim.evicted and bool(victim.pods)
                    and all(state.pool_of(p) == pool for p in victim.pods)):
                return False
            left = session.protected("reclaim", victim)
            if left:
                self.protected[victim.key] = left
            return not left

        self.victims = VictimCache(session, eligible)
        self.candidates = sorted((j for j in session.jobs if j.project != project and self.victims.ok(j)),
                                 key=victim_order)
        self.rankings: dict = {}

    def forget(self, jobs: list[Job]) -> None:
        """Rankings stay: budgets only shrink while reclaim runs, so a node left out of a ranking stays out,
        and every rank is checked again when it is used."""
        for job in jobs:
            self.victims.verdicts.pop(job.key, None)
            self.victims.costs.pop(job.key, None)


def reclaim_job(session, job: Job, pool: str, contexts: dict[tuple[str, str], _Context]) -> bool | None:
    """True: placed; False: tried and refused (noted); None: reclaim does not apply here."""
    state = session.state
    if not session.can_land(job, pool):
        return None
    need = session.request(job.gang(state), pool)
    if session.quota_refusal(job, pool, need) is not None:
        return None
    share = session.fair.of(job.project, pool)
    deserved = session.limits[(job.project, pool)].deserved
    used = state.used(job.project, pool)
    kept = session.kept.get(job.project, (True, False, False))
    for dim in range(3):
        if kept[dim] and need[dim] and used[dim] + need[dim] > max(share[dim], _finite(deserved[dim])) + EPS:
            if _others_use(session, job.project, pool):
                where = in_pool(session, pool)
                if used[dim] >= share[dim]:
                    state_words = f"is at its fair share of {say(dim, share[dim])}{where} (it uses {say(dim, used[dim])})"
                else:
                    state_words = (f"would then be above its fair share of {say(dim, share[dim])}{where} (it uses "
                                   f"{say(dim, used[dim])} and this workload needs {say(dim, need[dim])})")
                note(job, pool, f"project {job.project} {state_words}{share_words(session, job.project, pool, dim)}, "
                                "so it cannot take resources back from other projects")
            return None

    budget = _budgets(session, pool, exclude=job.project)
    if not budget.left:
        return None
    context = contexts.get((pool, job.project))
    if context is None:
        context = contexts[(pool, job.project)] = _Context(session, job.project, pool)
    freeable = _freeable(context, budget)
    free = state.pool_free.get(pool, (0, 0, 0))[GPU]
    if need[GPU] and free + freeable < need[GPU]:
        note(job, pool, f"projects above their fair share{in_pool(session, pool)} could give back only "
                        f"{gpus(freeable)} of preemptible workloads without going below it, and {gpus(free)} "
                        f"{'is' if free == 1000 or 0 < free < 1000 else 'are'} free: less than the "
                        f"{gpus(need[GPU])} it needs{_young(session, context, budget)}")
        return False

    def reason(victim: Job) -> Cause:
        q_used = state.used(victim.project, pool)[GPU]
        q_share = session.fair.of(victim.project, pool)[GPU]
        return Cause("reclaim", job.key, f"project {job.project} is below its fair share; project {victim.project} "
                                         f"uses {gpus(q_used)}{in_pool(session, pool)}, above its fair share of "
                                         f"{gpus(q_share)}")

    statement = Statement(state)
    outcome = place_with_evictions(session, statement, job, pool, context.victims, budget, reason, context.rankings)
    if outcome.placed:
        session.commit(statement)
        evicted(outcome.victims, pool, f"placed, then given up in the same cycle to {job.key} of project "
                                       f"{job.project}, which is below its fair share")
        for other in contexts.values():
            other.forget([*outcome.victims, job])
        return True
    statement.rollback()
    note(job, pool, f"even evicting what projects above their fair share may lose ({gpus(freeable)}) would not "
                    f"leave room for all its pods on single nodes{in_pool(session, pool)}"
                    f"{_young(session, context, budget)}")
    return False


def _budgets(session, pool: str, exclude: str) -> Budget:
    """What each other project holds above its fair share in the pool (only those above it)."""
    left: dict[str, list[float]] = {}
    for (project, where), used in session.state.usage.items():
        if where != pool or project == exclude:
            continue
        share = session.fair.of(project, pool)
        kept = session.kept.get(project, (True, False, False))
        row = [used[d] - share[d] if kept[d] and share[d] != INF else INF for d in range(3)]
        if row[GPU] > EPS:
            left[project] = row
    return Budget(left)


def _freeable(context: _Context, budget: Budget) -> int:
    """GPUs the victims could give, each project only up to its budget (victims in eviction order)."""
    room = {p: list(row) for p, row in (budget.left or {}).items()}
    total = 0
    for victim in context.candidates:
        row = room.get(victim.project)
        if row is None or victim.evicted or not context.victims.ok(victim):
            continue
        gpu = context.victims.cost(victim)[GPU]
        if gpu and gpu <= row[GPU] + EPS:
            row[GPU] -= gpu
            total += gpu
    return total


def _young(session, context: _Context, budget: Budget) -> str:
    """`; 2 GPUs of project b ... run less than its minimum runtime`: the victims the minimum runtime keeps from
    reclaim, among projects above their fair share, when there are any (else nothing)."""
    left = budget.left or {}
    young = [session.job_by_key[key] for key in sorted(context.protected)
             if session.job_by_key[key].project in left and not session.job_by_key[key].evicted]
    if not young:
        return ""
    projects = sorted({j.project for j in young})
    held = sum(cost_of(session, j)[GPU] for j in young)
    soonest = min(context.protected[j.key] for j in young)
    least = sorted({session.min_runtime("reclaim", j) for j in young})
    return (f"; {gpus(held)} of project{'s' if len(projects) > 1 else ''} {', '.join(projects)} "
            f"{'is' if held <= 1000 else 'are'} protected by a minimum runtime before reclaim of "
            f"{' or '.join(duration(s) for s in least)} (the first may be reclaimed in {duration(soonest)})")


def _others_use(session, project: str, pool: str) -> bool:
    return any(where == pool and other != project and used[GPU] > 0
               for (other, where), used in session.state.usage.items())


def _finite(value: float) -> float:
    return 0.0 if value == INF else value
