"""The cycle's actions, least disruptive first: allocate, consolidate, reclaim, preempt.

Each visits waiting jobs in the cycle's order (`jobs.JobQueue`), tries each job on its own `Statement`, and
commits only when the whole job was placed and every rule still holds; otherwise it rolls back and leaves a
note on the job saying why (see `reasons`). `victims` is the eviction search the last three share; `spare`
closes the cycle by keeping every victim the cycle's placements turned out not to need.
"""

from berth.scheduler.core.actions.allocate import allocate
from berth.scheduler.core.actions.consolidate import consolidate
from berth.scheduler.core.actions.preempt import preempt
from berth.scheduler.core.actions.reclaim import reclaim
from berth.scheduler.core.actions.spare import spare

__all__ = ["allocate", "consolidate", "preempt", "reclaim", "spare"]
