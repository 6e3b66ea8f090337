"""The scheduler's output: what to bind, what to evict, and why every waiting job waits.

These are the only things a cycle returns; the runner turns them into API calls (a Binding with the GPU devices
in an annotation, an eviction, a PodGroup condition), the simulator applies them to its virtual cluster.

- `Bind`: the pod goes to `node`, on GPU `devices`, taking `gpu_fraction` (and `gpu_memory` MiB) of each;
  a MIG pod takes MIG instance `mig[i]` of `devices[i]` (and `gpu_fraction` is what each counts for).
  `pipelined` means the node's resources are only free once this cycle's evictions there are done: the binder
  must wait for the victims to leave (KAI's "pipelined" allocation).
- `Eviction`: the pod must stop: `action` took it (preempt, reclaim or consolidate) to make room for the group
  `by`, which may take it because of `why`; `reason` says all that in one sentence. A consolidation move
  carries `moved_to`, the node the pod was shown to fit on after the move (it goes back to pending and the
  next cycle places it).
- `Pending`: one per job left waiting: a CamelCase `reason` and a `message` a person understands.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Bind:
    pod: str  # namespace/name
    group: str
    node: str
    devices: tuple[int, ...] = ()
    gpu_fraction: float = 0.0  # per device: 1.0 for whole GPUs
    gpu_memory: int = 0  # MiB per device
    pipelined: bool = False
    mig: tuple[int, ...] = ()  # for a MIG pod: the MIG instance it takes on each of `devices`


VERBS = {"preempt": "preempted", "reclaim": "reclaimed", "consolidate": "moved"}


@dataclass(frozen=True, slots=True)
class Eviction:
    pod: str
    group: str
    node: str
    action: str  # preempt, reclaim or consolidate
    by: str  # the group the room is made for
    why: str  # why that group may take the room (without naming it)
    moved_to: str | None = None

    @property
    def reason(self) -> str:
        return self.said(self.by)

    def said(self, by: str) -> str:
        """The eviction in words, naming the group it makes room for as `by` (e.g. by its workload)."""
        where = "off" if self.action == "consolidate" else "on"
        return f"{VERBS[self.action]} {where} node {self.node} to make room for {by} ({self.why})"


# The reason of a group whose pods were seen before their PodGroup (the two are watched apart): transient, so a
# runner says it only when it outlasts a grace, and never on a PodGroup that has arrived meanwhile.
GROUP_NOT_FOUND = "PodGroupNotFound"


@dataclass(frozen=True, slots=True)
class Pending:
    group: str
    reason: str
    message: str
    node_pool: str | None = None


@dataclass
class Decisions:
    binds: list[Bind] = field(default_factory=list)
    evictions: list[Eviction] = field(default_factory=list)
    pending: dict[str, Pending] = field(default_factory=dict)  # by group key
    fair_share: dict[str, dict[str, float]] = field(default_factory=dict)  # project -> {pool: fair share GPUs}

    def bound(self, pod: str) -> Bind | None:
        return next((b for b in self.binds if b.pod == pod), None)

    def bound_nodes(self) -> dict[str, str]:
        return {b.pod: b.node for b in self.binds}

    def evicted(self) -> set[str]:
        return {e.pod for e in self.evictions}
