"""One scheduling cycle, top to bottom: snapshot -> fair share -> allocate -> consolidate -> reclaim -> preempt
-> spare.

This is the core's entry point. Each action works on its own statements and commits only what holds, so the
order is also the order of disruption: placing on free resources first, then moving pods around, then taking
back from other projects, then evicting lower priority work of the same project (KAI-Scheduler's order).
`spare` closes the cycle: a victim that the cycle's placements, taken together, turn out not to need stays.
The cycle is deterministic: there is no randomness anywhere, and every choice has a total order that ends in
names, so the same snapshot and config always give the same `Decisions`.
"""

from __future__ import annotations

from dataclasses import replace

from berth.api.mig import memory_gb_of
from berth.scheduler.core.actions import allocate, consolidate, preempt, reclaim, spare
from berth.scheduler.core.decisions import Bind, Decisions, Eviction, Pending
from berth.scheduler.core.reasons import explain
from berth.scheduler.core.resources import MILLI
from berth.scheduler.core.session import CycleConfig, Session
from berth.scheduler.core.snapshot import Snapshot


def run_cycle(snapshot: Snapshot, config: CycleConfig | None = None) -> Decisions:
    """Schedule once: what to bind, what to evict, and why each job still waits."""
    config = config or CycleConfig()
    session = Session(snapshot, config)  # the state, the jobs and everyone's fair share
    actions = set(config.actions)
    if "allocate" in actions:
        allocate(session)
    if "consolidate" in actions:
        consolidate(session)
    if "reclaim" in actions:
        reclaim(session)
    if "preempt" in actions:
        preempt(session)
    spare(session)
    return decisions(session)


def decisions(session: Session) -> Decisions:
    """The committed operations as decisions, plus a reason for every job left waiting.

    Per pod, the operations of a cycle net out: running -> evicted -> placed again is a move (an eviction with
    `moved_to`); placed this cycle and then evicted by a later action is nothing at all (it stays pending).
    """
    out = Decisions()
    evicted_on: set[int] = set()
    binds: dict[str, int] = {}  # pod -> its Bind's position, while it stands
    evictions: dict[str, int] = {}  # pod -> its Eviction's position
    for op in session.ops:
        info, placed = op.info, op.placement
        node = session.nodes[placed.node]
        key = info.key
        if op.kind == "evict":
            if key in binds:  # placed earlier this cycle: just do not place it
                out.binds[binds.pop(key)] = None
            elif key in evictions:  # moved earlier this cycle, now evicted for good
                at = evictions[key]
                out.evictions[at] = replace(out.evictions[at], **op.cause._asdict(), moved_to=None)
                evicted_on.add(placed.node)
            else:
                evictions[key] = len(out.evictions)
                out.evictions.append(Eviction(key, info.job.key, node.name, *op.cause))
                evicted_on.add(placed.node)
            continue
        if key in evictions:  # running at the start, evicted, placed again: a move
            at = evictions[key]
            out.evictions[at] = replace(out.evictions[at], moved_to=node.name)
            continue
        binds[key] = len(out.binds)
        out.binds.append(_bind(session, op, placed.node in evicted_on))
    out.binds = [b for b in out.binds if b is not None]
    for job in session.waiting():
        out.pending[job.key] = (explain(session, job) if session.config.explain
                                else Pending(job.key, "Waiting", "not put in words (CycleConfig.explain is off)"))
    for (project, pool), share in sorted(session.fair.project.items()):
        out.fair_share.setdefault(project, {})[pool] = share[0] / MILLI
    return out


def _bind(session: Session, op, pipelined: bool) -> Bind:
    info, placed = op.info, op.placement
    node = session.nodes[placed.node]
    shape = info.shape
    if shape.mig and placed.devices:
        devices, instances = node.slot_devices(placed.devices)
        return Bind(info.key, info.job.key, node.name, devices, placed.milli / MILLI,
                    memory_gb_of(shape.mig) * 1024, pipelined, instances)
    if placed.devices and shape.shared:
        memory = shape.gmem or placed.milli * node.dev_mem[placed.devices[0]] // MILLI
    elif placed.devices:
        memory = node.dev_mem[placed.devices[0]]
    else:
        memory = 0
    return Bind(info.key, info.job.key, node.name, placed.devices, placed.milli / MILLI, memory, pipelined)
