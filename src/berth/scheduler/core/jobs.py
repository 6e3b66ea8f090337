"""Jobs (pod groups as the core works on them) and the order in which actions visit them.

A `Job` is one PodGroup with its pods, its project and the facts the actions ask again and again (priority,
preemptibility, kind, node pools in preference order). Its pods are placed all together or not at all: at
least `min_member` of them must be placed, counting those already running (a gang), and a running gang is
always in one node pool.

Order (`JobQueue`), the same for every action and recomputed after every job: the most deprived department,
then its most deprived project (allocated / fair share, over the resources kept), then within the project the
highest priority (inference 125 > build 100 > build-preemptible 75 > train 50), then the earliest submitted,
then the name, so that equal snapshots give equal orders. A job that cannot be placed does not block the jobs
behind it. Choosing the project is a scan over the projects with jobs left: cheap for tens of projects.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from berth.scheduler.core.filters import FilterSpec
from berth.scheduler.core.state import ClusterState, PodInfo


class Job:
    __slots__ = (
        "department",
        "evicted",
        "key",
        "kind",
        "min_member",
        "name",
        "pods",
        "pools",
        "preemptible",
        "priority",
        "priority_class",
        "problem",
        "project",
        "specs",
        "started",
        "submitted",
        "tried",
    )

    def __init__(self, key: str, project: str, department: str, priority: int, priority_class: str,
                 preemptible: bool, kind: str, submitted: float, min_member: int) -> None:
        self.key = key
        self.name = key
        self.project = project
        self.department = department
        self.priority = priority
        self.priority_class = priority_class
        self.preemptible = preemptible
        self.kind = kind
        self.submitted = submitted
        self.min_member = min_member
        self.pods: list[PodInfo] = []
        self.specs: dict[str, FilterSpec] = {}  # pod key -> its static filter
        self.pools: list[str] = []
        self.problem: tuple[str, str] | None = None  # (reason, message) when it can never be placed as it is
        self.evicted = False  # a victim this cycle: its pods are leaving, not to be placed again now
        self.started: float | None = None  # earliest start of its running pods
        self.tried: dict[str, list[object]] = {}  # pool -> why each action failed there (see `reasons`)

    def pending(self, state: ClusterState) -> list[PodInfo]:
        placements = state.placements
        return [p for p in self.pods if p.key not in placements]

    def running(self, state: ClusterState) -> list[PodInfo]:
        placements = state.placements
        return [p for p in self.pods if p.key in placements]

    def gang(self, state: ClusterState) -> list[PodInfo]:
        """The waiting pods that must be placed together now, biggest first."""
        return placement_order(self.pending(state))[: self.needed(state)]

    def needed(self, state: ClusterState) -> int:
        """Pods that must be placed together now for the gang to reach min_member (at least 1 if any wait)."""
        placed = sum(1 for p in self.pods if p.key in state.placements)
        return max(self.min_member - placed, 1 if placed < len(self.pods) else 0)


def placement_order(pods: list[PodInfo]) -> list[PodInfo]:
    """Biggest first, so that a gang's large pods get the nodes with room and small ones fill in."""
    return sorted(pods, key=lambda p: (-p.shape.gpus, -p.shape.milli, -p.shape.gmem, -p.shape.cpu, -p.shape.mem,
                                       p.key))


class JobQueue:
    """Jobs with pods waiting, handed out one at a time in the cycle's order (see the module docstring)."""

    def __init__(self, jobs: list[Job], project_key: Callable[[str, str], tuple]) -> None:
        by_project: dict[tuple[str, str], list[Job]] = {}
        for job in jobs:
            by_project.setdefault((job.department, job.project), []).append(job)
        self._queues = {
            k: deque(sorted(v, key=lambda j: (-j.priority, j.submitted, j.key))) for k, v in by_project.items()
        }
        self._project_key = project_key

    def __iter__(self) -> Iterator[Job]:
        queues = self._queues
        while queues:
            best = None
            best_key = None
            for (dept, project), queue in queues.items():
                head = queue[0]
                key = (*self._project_key(dept, project), -head.priority, head.submitted, project)
                if best_key is None or key < best_key:
                    best, best_key = (dept, project), key
            queue = queues[best]
            job = queue.popleft()
            if not queue:
                del queues[best]
            yield job
