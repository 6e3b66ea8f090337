"""A transaction over `ClusterState`: tentative allocations and evictions an action commits or rolls back.

As in KAI-Scheduler, an action tries a decision for real on the in-memory state (so that the next pod of a gang
sees the resources the previous one took, and a reclaimer sees the GPUs its victims free), and keeps a log of
each change. `rollback(checkpoint)` undoes the log back to a checkpoint, in reverse order, leaving the state
exactly as it was (usage is integer, so nothing drifts); `commit()` hands the log over as decisions.

Invariant: between `Statement()` and `commit()`/`rollback(0)`, every change to the state went through this
statement. Nothing outside the core ever sees an uncommitted operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from berth.scheduler.core.state import ClusterState, Placement, PodInfo


class Cause(NamedTuple):
    """Why a pod is evicted: the action (preempt, reclaim or consolidate), the job the room is made for, and
    why that job may take it, in words that do not name it (the runner names it as users know it)."""

    action: str
    by: str
    why: str


@dataclass(slots=True)
class Op:
    kind: str  # "bind" or "evict"
    info: PodInfo
    placement: Placement
    cause: Cause | None = None  # for an evict


class Statement:
    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self.ops: list[Op] = []

    def checkpoint(self) -> int:
        return len(self.ops)

    def allocate(self, info: PodInfo, node: int, devices: tuple[int, ...], milli: int) -> Placement:
        placement = self.state.place(info, node, devices, milli)
        self.ops.append(Op("bind", info, placement))
        return placement

    def evict(self, info: PodInfo, cause: Cause) -> Placement:
        placement = self.state.unplace(info)
        self.ops.append(Op("evict", info, placement, cause))
        return placement

    def rollback(self, checkpoint: int = 0) -> None:
        state = self.state
        while len(self.ops) > checkpoint:
            op = self.ops.pop()
            if op.kind == "bind":
                state.unplace(op.info)
            else:
                p = op.placement
                state.place(op.info, p.node, p.devices, p.milli)

    def commit(self) -> list[Op]:
        ops, self.ops = self.ops, []
        return ops
