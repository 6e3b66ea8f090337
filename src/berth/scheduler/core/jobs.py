"""Jobs (pod groups as the core works on them) and the order in which actions visit them.

A `Job` is one PodGroup with its pods, its project and the facts the actions ask again and again (priority,
preemptibility, kind, node pools in preference order). Its pods are placed all together or not at all: at
least `min_member` of them must be placed, counting those already running (a gang), and a running gang is
always in one node pool.

Order (`JobQueue`), the same for every action and recomputed after every job: the most deprived department,
then its most deprived project (allocated / fair share, over the resources kept; as in KAI-Scheduler's queue
order, those within their fair share come first, and among them, and among those above it, the higher
project priority first: see `Session.project_key`), then within the project the
highest priority (inference 125 > build 100 > build-preemptible 75 > train 50), then the earliest submitted,
then the name, so that equal snapshots give equal orders. A job that cannot be placed does not block the jobs
behind it.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator

from berth.scheduler.core.filters import FilterSpec
from berth.scheduler.core.snapshot import DEFAULT_QUEUE_PRIORITY
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
        "queue_priority",
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
        self.queue_priority = DEFAULT_QUEUE_PRIORITY  # its project's priority

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
    """Jobs with pods waiting, handed out one at a time in the cycle's order (see the module docstring).

    Two levels of heaps, departments and each department's projects, each entry under the key it had when
    pushed; the top entry's key is computed again before it is served and, if it changed, it goes back in.
    Serving a job changes only its project's and its department's keys. Allocation only raises keys (more
    allocated), so a stored key is never above the real one and the top is truly the most deprived; evictions
    lower them, so after reclaim a victim project may be served a little late, which only delays work of a
    project above its fair share.
    """

    def __init__(self, jobs: list[Job], department_key: Callable[[str], object],
                 project_key: Callable[[str], object]) -> None:
        self._queues: dict[str, deque[Job]] = {}
        self._members: dict[str, list[str]] = {}
        for job in sorted(jobs, key=lambda j: (-j.priority, j.submitted, j.key)):
            if job.project not in self._queues:
                self._queues[job.project] = deque()
                self._members.setdefault(job.department, []).append(job.project)
            self._queues[job.project].append(job)
        self._department_key = department_key
        self._project_key = project_key

    def _dkey(self, department: str) -> tuple:
        return (self._department_key(department), department)

    def _pkey(self, project: str) -> tuple:
        head = self._queues[project][0]
        return (self._project_key(project), -head.priority, head.submitted, project)

    def __iter__(self) -> Iterator[Job]:
        inner = {d: [(self._pkey(p), p) for p in ps] for d, ps in self._members.items()}
        for heap in inner.values():
            heapq.heapify(heap)
        top = [(self._dkey(d), d) for d in inner]
        heapq.heapify(top)
        while top:
            key, department = heapq.heappop(top)
            now = self._dkey(department)
            if now != key:
                heapq.heappush(top, (now, department))
                continue
            projects = inner[department]
            project = _pop_current(projects, self._pkey)
            queue = self._queues[project]
            yield queue.popleft()
            if queue:
                heapq.heappush(projects, (self._pkey(project), project))
            if projects:
                heapq.heappush(top, (self._dkey(department), department))


def _pop_current(heap: list, key: Callable[[str], tuple]) -> str:
    """The entry whose stored key is still its key and the smallest (stale ones go back in, updated)."""
    while True:
        stored, name = heapq.heappop(heap)
        now = key(name)
        if now == stored:
            return name
        heapq.heappush(heap, (now, name))
