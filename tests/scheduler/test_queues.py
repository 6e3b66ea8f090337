"""Projects as queues (issue H): project priority, maxAllowed, minimum runtime, and the time-based fair share
over a simulated day on a virtual clock. Pure core: snapshots in, decisions out."""

from __future__ import annotations

from berth.scheduler.core import Cluster, CycleConfig, Snapshot, run_cycle
from berth.scheduler.core.timeshare import UsageHistory, holdings, normalized, record
from tests.scheduler.helpers import evicted_groups, gpus_bound_by_project, reason, waiting

HOUR = 3600.0


def two_projects(*, hi: int = 200, lo: int = 100, deserved: float = 2) -> Cluster:
    c = Cluster()
    c.nodes(2, gpus=4)  # 8 GPUs: 4 deserved, 4 over quota
    c.project("hi", gpu=deserved, priority=hi)
    c.project("lo", gpu=deserved, priority=lo)
    return c


def test_over_quota_gpus_go_to_the_higher_priority_project_first():
    c = two_projects()
    for i in range(8):
        c.job(f"lo{i}", "lo")
        c.job(f"hi{i}", "hi")
    d = run_cycle(c.build())
    assert d.fair_share == {"hi": {"default": 6.0}, "lo": {"default": 2.0}}
    assert gpus_bound_by_project(d) == {"hi": 6, "lo": 2}
    assert ("over-quota GPUs go to projects of higher priority first: hi (priority 200); lo has priority 100"
            in waiting(d, "lo7"))


def test_equal_priorities_split_over_quota_by_quota_as_before():
    c = two_projects(hi=100, lo=100)
    for i in range(8):
        c.job(f"lo{i}", "lo")
        c.job(f"hi{i}", "hi")
    d = run_cycle(c.build())
    assert gpus_bound_by_project(d) == {"hi": 4, "lo": 4}
    assert "priority" not in waiting(d, "lo7")


def test_a_lower_priority_project_reclaims_its_quota_but_not_beyond():
    c = two_projects()
    for i in range(8):
        c.job(f"hi{i}", "hi", running_on=f"node-{i // 4}")
    for i in range(4):
        c.job(f"lo{i}", "lo")
    d = run_cycle(c.build())
    assert gpus_bound_by_project(d) == {"lo": 2}  # its deserved quota, taken back from hi's over-quota work
    assert len(d.evictions) == 2 and evicted_groups(d) <= {f"hi{i}" for i in range(8)}
    assert reason(d, "lo3") == "NotEnoughGPUs"
    assert "project lo is at its fair share of 2 GPUs" in waiting(d, "lo3")
    assert "hi (priority 200)" in waiting(d, "lo3")


def test_a_higher_priority_project_reclaims_all_the_over_quota_gpus():
    c = two_projects()
    for i in range(8):
        c.job(f"lo{i}", "lo", running_on=f"node-{i // 4}")
    for i in range(8):
        c.job(f"hi{i}", "hi")
    d = run_cycle(c.build())
    assert gpus_bound_by_project(d) == {"hi": 6}
    assert len(d.evictions) == 6  # lo keeps exactly its deserved 2


def test_the_higher_priority_project_is_served_first_within_fair_shares():
    c = Cluster()
    c.nodes(1, gpus=1)
    c.project("lo", gpu=1, priority=100)
    c.project("hi", gpu=1, priority=300)
    c.job("lo0", "lo", submitted=0)
    c.job("hi0", "hi", submitted=5)  # later, but of the higher-priority project
    d = run_cycle(c.build())
    assert gpus_bound_by_project(d) == {"hi": 1}


def test_department_priority_orders_departments_like_projects():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.department("research", priority=50)
    c.department("prod", priority=150)
    c.project("r", gpu=1, department="research")
    c.project("p", gpu=1, department="prod")
    for i in range(8):
        c.job(f"r{i}", "r")
        c.job(f"p{i}", "p")
    d = run_cycle(c.build())
    assert gpus_bound_by_project(d) == {"p": 7, "r": 1}


def test_max_allowed_minus_one_is_no_limit():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=1, max_gpu=-1)
    for i in range(8):
        c.job(f"a{i}", "a")
    assert gpus_bound_by_project(run_cycle(c.build())) == {"a": 8}


def test_max_allowed_caps_a_project_and_the_rest_goes_to_the_others():
    c = Cluster()
    c.nodes(2, gpus=4)
    c.project("a", gpu=1, max_gpu=3, priority=300)  # even the highest priority stops at its limit
    c.project("b", gpu=1)
    for i in range(8):
        c.job(f"a{i}", "a")
        c.job(f"b{i}", "b")
    d = run_cycle(c.build())
    assert d.fair_share == {"a": {"default": 3.0}, "b": {"default": 5.0}}
    assert gpus_bound_by_project(d) == {"a": 3, "b": 5}
    assert reason(d, "a7") == "OverLimit"
    assert waiting(d, "a7").startswith("project a may use at most 3 GPUs (maxAllowed) and uses 3 GPUs")


def test_cpu_and_memory_quotas_are_millicores_and_mib():
    c = Cluster()
    c.nodes(1, gpus=0, cpu=8000, memory=32768)
    c.project("a", cpu=2500, memory=4096, pools=None)
    c.project("b", cpu=1000, memory=1024)
    # Non-preemptible (build) work only uses deserved quota: 2.5 cores and 4 GiB for a.
    for i in range(4):
        c.job(f"a{i}", "a", gpus=0, cpu=1000, memory=1024, priority="build")
    d = run_cycle(c.build())
    assert sum(1 for b in d.binds if b.group.startswith("runai-a/")) == 2
    assert waiting(d, "a3") == ("project a uses 2 CPU cores of its deserved 2.5 CPU cores and this workload needs "
                                "1 CPU core; interactive workloads cannot use over-quota CPU")


def min_runtime_snapshot(**project) -> Snapshot:
    c = Cluster()
    c.nodes(1, gpus=4)
    c.project("a", gpu=2)
    c.project("b", gpu=2, **project)
    for i in range(4):
        c.job(f"b{i}", "b", running_on="node-0", started=0)
    c.job("a0", "a")
    c.job("a1", "a")
    return c.build()


def test_a_projects_reclaim_min_runtime_protects_its_young_jobs_then_lets_them_go():
    young = run_cycle(min_runtime_snapshot(reclaim_min_runtime=600), CycleConfig(now=300))
    assert not young.evictions and not young.binds
    assert ("4 GPUs of project b are protected by a minimum runtime before reclaim of 10 min (the first may be "
            "reclaimed in 5 min)") in waiting(young, "a1")
    old = run_cycle(min_runtime_snapshot(reclaim_min_runtime=600), CycleConfig(now=700))
    assert len(old.evictions) == 2 and gpus_bound_by_project(old) == {"a": 2}


def test_a_projects_own_min_runtime_wins_over_the_cluster_default():
    # The cluster protects for an hour; project b says its jobs may go after a minute.
    d = run_cycle(min_runtime_snapshot(reclaim_min_runtime=60), CycleConfig(now=300, reclaim_min_runtime=HOUR))
    assert len(d.evictions) == 2
    # Without a project setting, the cluster's default holds.
    d = run_cycle(min_runtime_snapshot(), CycleConfig(now=300, reclaim_min_runtime=HOUR))
    assert not d.evictions and "minimum runtime before reclaim of 1 h" in waiting(d, "a1")


def test_a_projects_preempt_min_runtime_protects_its_young_training_from_its_notebook():
    def snapshot() -> Snapshot:
        c = Cluster()
        c.nodes(1, gpus=1)
        c.project("a", gpu=1, preempt_min_runtime=120)
        c.job("t", "a", running_on="node-0", started=0)
        c.job("nb", "a", priority="build")
        return c.build()

    young = run_cycle(snapshot(), CycleConfig(now=60))
    assert not young.evictions
    assert ("the lower-priority workloads of project a it could preempt have run less than its minimum runtime "
            "before preemption (2 min); the first may be preempted in 1 min") in waiting(young, "nb")
    assert evicted_groups(run_cycle(snapshot(), CycleConfig(now=130))) == {"t"}


# --- time-based fair share over a simulated day ---------------------------------------------------------------


def test_usage_is_normalized_to_the_clusters_capacity_and_decays_by_half_life():
    history = UsageHistory(bucket_s=600)
    record(history, 0, {"a": [8, 0, 0]}, [10, 0, 0])  # a holds 8 of 10 GPUs for 3 hours
    record(history, 3 * HOUR, {"a": [0, 0, 0], "b": [2, 0, 0]}, [10, 0, 0])
    record(history, 10 * HOUR, {}, [10, 0, 0])  # then b holds 2 for 7 hours
    plain = normalized(history, 10 * HOUR, window_s=10 * HOUR)
    assert round(plain["a"][0], 6) == 0.24 and round(plain["b"][0], 6) == 0.14  # KAI's 24 GPU-hours of 100
    decayed = normalized(history, 10 * HOUR, window_s=10 * HOUR, half_life_s=HOUR)
    assert decayed["a"][0] < 0.05 < decayed["b"][0]  # a's use is hours old, b's recent
    assert normalized(history, 10 * HOUR, window_s=6 * HOUR)["a"][0] == 0  # out of the window


class Day:
    """A cluster driven through a day on a virtual clock: every step runs a cycle at `now`, applies its binds and
    evictions to the snapshot as a runner would, and records what each project then holds."""

    def __init__(self, time_based: bool) -> None:
        self.cluster = Cluster()
        self.cluster.nodes(2, gpus=4)
        self.cluster.project("a", gpu=2)
        self.cluster.project("b", gpu=2)
        self.snapshot = self.cluster.build()
        self.snapshot.usage = self.history = UsageHistory(bucket_s=600, keep_s=24 * HOUR)
        self.time_based = time_based
        self.gpu_hours: dict[str, dict[str, float]] = {"morning": {}, "afternoon": {}}
        self.last = None

    def submit(self, project: str, n: int, now: float) -> None:
        for i in range(n):
            self.cluster.job(f"{project}-{int(now)}-{i}", project, submitted=now)

    def finish(self, project: str) -> None:
        self.snapshot.pods = [p for p in self.snapshot.pods if not (p.node and p.namespace == f"runai-{project}")]

    def cycle(self, now: float):
        config = CycleConfig(now=now, time_based=self.time_based, usage_window=24 * HOUR, usage_half_life=4 * HOUR)
        decisions = run_cycle(self.snapshot, config)
        pods = {p.key: p for p in self.snapshot.pods}
        for eviction in decisions.evictions:
            pod = pods[eviction.pod]
            pod.node, pod.devices, pod.started = eviction.moved_to, [], None
        for bind in decisions.binds:
            pod = pods[bind.pod]
            pod.node, pod.devices, pod.started = bind.node, list(bind.devices), now
        held, capacity = holdings(self.snapshot)
        if self.last is not None:
            period = "morning" if now <= 13 * HOUR else "afternoon"
            for project in ("a", "b"):
                used = self.held.get(project, [0])[0] * (now - self.last) / HOUR
                self.gpu_hours[period][project] = self.gpu_hours[period].get(project, 0.0) + used
        self.held, self.last = held, now
        record(self.history, now, held, capacity)
        return decisions

    def holding(self) -> dict[str, float]:
        return {p: self.held.get(p, [0])[0] for p in ("a", "b")}


def run_day(time_based: bool, a_stops_at_noon: bool = True) -> tuple[Day, dict]:
    """Team a trains on every GPU from 06:00 to 12:00 while team b is away; at 13:00 both queue more work than
    the cluster holds, until midnight."""
    day = Day(time_based)
    seen = {}
    day.submit("a", 8, 6 * HOUR)
    for step in range(6 * 6, 24 * 6 + 1):  # every 10 minutes from 06:00 to 24:00
        now = step * 600.0
        if now == 12 * HOUR and a_stops_at_noon:
            day.finish("a")
        if now == 13 * HOUR:
            day.submit("a", 8, now)
            day.submit("b", 8, now)
        decisions = day.cycle(now)
        if now == 13 * HOUR:
            seen["13:00"] = (day.holding(), decisions)
    return day, seen


def test_time_based_fair_share_over_a_day_gives_the_afternoon_to_the_team_that_had_none():
    day, seen = run_day(time_based=True)
    held, decisions = seen["13:00"]
    # The morning's usage lowers a's share of the idle GPUs: b gets more of them, not an even 4 and 4.
    assert held["b"] > held["a"] and held["a"] + held["b"] == 8
    assert decisions.fair_share["b"]["default"] > 4 > decisions.fair_share["a"]["default"] >= 2
    message = next(p.message for k, p in decisions.pending.items() if k.startswith("runai-a/"))
    assert "(time-based fair share: its recent usage" in message and "lowers it from 4 GPUs)" in message
    # Over the afternoon b gets more GPU-hours than a (evenly split without it), and the day comes out more even.
    plain, plain_seen = run_day(time_based=False)
    assert plain_seen["13:00"][0] == {"a": 4, "b": 4}
    afternoon, plain_afternoon = day.gpu_hours["afternoon"], plain.gpu_hours["afternoon"]
    assert plain_afternoon["a"] == plain_afternoon["b"]
    assert afternoon["b"] >= afternoon["a"] + 10, afternoon
    total = {p: day.gpu_hours["morning"].get(p, 0) + afternoon[p] for p in "ab"}
    plain_total = {p: plain.gpu_hours["morning"].get(p, 0) + plain_afternoon[p] for p in "ab"}
    assert abs(total["a"] - total["b"]) < abs(plain_total["a"] - plain_total["b"]) - 10
    # As the morning fades (half-life 4 h) and b's own use builds up, the shares come back to even by night.
    assert day.holding() == {"a": 4, "b": 4}


def test_time_based_fair_share_makes_reclaim_take_more_from_the_project_that_used_more():
    # a's morning trainings are still running at 13:00: b reclaims, and more than the even 4 it would get.
    _, seen = run_day(time_based=True, a_stops_at_noon=False)
    held, decisions = seen["13:00"]
    assert held["b"] > 4 and len(decisions.evictions) == held["b"]
    assert {e.action for e in decisions.evictions} == {"reclaim"}
    _, plain = run_day(time_based=False, a_stops_at_noon=False)
    assert plain["13:00"][0] == {"a": 4, "b": 4}
