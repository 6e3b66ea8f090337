"""Failed pods are replaced only after the back-off: whatever fails when, no workload gets pods faster.

A pure simulation of the workload controller's loop (the plans of each kind, on a virtual clock, one
second a step, every create and delete observed at once), driven by hypothesis: each pod fails some
seconds after it is created, or never. The invariants are the ones a user can count on:
- a pod that replaces a failed one is created no sooner than the back-off after the last failure
  (10 s, doubling with every failure, at most 6 minutes);
- a training never makes more pods than `completions + backoffLimit + 1`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.controllers import inference, interactive, training
from berth.controllers.plan import INDEX, meta

EPOCH = 1767225600.0  # 2026-01-01T00:00:00Z
STEPS = 1500


def stamp(t: float) -> str:
    return datetime.fromtimestamp(EPOCH + t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make(name: str, index: int, **_: object) -> dict:
    return {"metadata": {"name": name, "labels": {INDEX: str(index)}}, "spec": {}, "status": {"phase": "Pending"}}


def job_back_off(failures: int) -> float:
    """The pause the Kubernetes Job controller makes after `failures` failed pods: 10 s doubling, at most 6 min."""
    return min(10.0 * 2 ** (failures - 1), 360.0)


class World:
    """The pods of one workload as the API would hold them, and when each was made and failed."""

    def __init__(self, lifetimes: list[int | None]) -> None:
        self.lifetimes = list(lifetimes)  # seconds each new pod lives before failing; None: runs until done
        self.pods: dict[str, dict] = {}
        self.created: list[tuple[float, dict]] = []  # every pod ever made, with when
        self.failures: list[tuple[float, float]] = []  # when each failure happened, and its pod was made
        self.fails_at: dict[str, float | None] = {}
        self.made_at: dict[str, float] = {}
        self.failed_at: dict[int, float] = {}  # id of a created pod -> when it failed
        self.status: dict = {}

    def create(self, pod: dict, now: float) -> None:
        pod = {**pod, "metadata": {**pod["metadata"], "creationTimestamp": stamp(now)},
               "status": {"phase": "Running", "containerStatuses": [{"name": "main", "state": {"running": {}}}]}}
        life = self.lifetimes.pop(0) if self.lifetimes else None
        self.pods[meta(pod)["name"]] = pod
        self.created.append((now, pod))
        self.fails_at[meta(pod)["name"]] = None if life is None else now + life
        self.made_at[meta(pod)["name"]] = now

    def tick(self, now: float) -> None:
        for name, when in self.fails_at.items():
            if when is not None and when <= now and name in self.pods and self.pods[name]["status"]["phase"] == "Running":
                self.pods[name]["status"] = {"phase": "Failed", "containerStatuses": [{"name": "main", "state": {
                    "terminated": {"exitCode": 3, "reason": "Error", "finishedAt": stamp(when)}}}]}
                self.failures.append((when, self.made_at[name]))
                self.failed_at[id(self.pods[name])] = when

    def run(self, plan_of) -> None:  # noqa: ANN001
        for now in range(STEPS):
            self.tick(now)
            plan = plan_of(sorted(self.pods.values(), key=lambda p: meta(p)["name"]), EPOCH + now)
            self.status.update(plan.status_extra)
            for name in plan.delete:
                self.pods.pop(name, None)
            if plan.phase in ("Failed", "Completed"):
                return
            for pod in plan.create:
                assert meta(pod)["name"] not in self.pods, f"{meta(pod)['name']} made twice"
                self.create(pod, now)

    def check_back_off(self, replaces) -> None:  # noqa: ANN001
        """Every pod that `replaces` a failed one came no sooner than the back-off allows."""
        for when, pod in self.created:
            if not replaces(pod):
                continue
            before = [f for f, made in self.failures if f <= when and made < when]
            assert before, f"{meta(pod)['name']} replaced nothing"
            assert when >= max(before) + job_back_off(len(before)) - 1, (  # timestamps are whole seconds
                f"{meta(pod)['name']} at {when}s, {len(before)} failures, the last at {max(before)}s")


lifetimes = st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=120)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(lifetimes=lifetimes, completions=st.integers(1, 4), parallelism=st.integers(1, 4), limit=st.integers(0, 8))
def test_a_training_retries_failed_pods_only_after_the_back_off_and_within_its_limit(lifetimes, completions,
                                                                                     parallelism, limit):
    spec = {"completions": {"value": completions}, "parallelism": {"value": parallelism},
            "backoffLimit": {"value": limit}}
    workload = {"kind": "TrainingWorkload", "metadata": {"name": "t", "namespace": "ns"}, "spec": spec}
    world = World(lifetimes)
    world.run(lambda pods, now: training.plan(workload, pods, make, now=now))
    world.check_back_off(lambda pod: not meta(pod)["name"].endswith("-0"))  # attempt > 0 retries its index
    assert len(world.created) <= completions + limit + 1


@settings(max_examples=60, deadline=None)
@given(lifetimes=lifetimes)
def test_an_interactive_workload_replaces_a_failed_pod_only_after_the_back_off(lifetimes):
    workload = {"kind": "InteractiveWorkload", "metadata": {"name": "i", "namespace": "ns"}, "spec": {}}
    world = World(lifetimes)
    world.run(lambda pods, now: interactive.plan(workload, pods, make, time_limit=None, now=now))
    world.check_back_off(lambda pod: meta(pod)["name"] != "i-0-0")
    # Whatever the failures, at most one pod per back-off period: never a storm.
    assert len(world.created) <= 1 + len(world.failures)


@settings(max_examples=60, deadline=None)
@given(lifetimes=lifetimes, low=st.integers(1, 3))
def test_an_inference_workload_remakes_a_failed_replica_only_after_the_back_off(lifetimes, low):
    workload = {"kind": "InferenceWorkload", "metadata": {"name": "m", "namespace": "ns"},
                "spec": {"minScale": {"value": low}, "maxScale": {"value": low}}}
    world = World(lifetimes)

    def plan_of(pods: list[dict], now: float):  # noqa: ANN202
        current = {**workload, "status": dict(world.status)}
        return inference.plan(current, pods, make, now=now)

    world.run(plan_of)
    # Each replica made again comes no sooner than the back-off after the failure of the one it replaces,
    # counting every failure of the workload until then.
    previous: dict[str, dict] = {}
    for when, pod in world.created:
        name = meta(pod)["name"]
        if name in previous:
            ended = world.failed_at[id(previous[name])]
            count = sum(1 for f, _ in world.failures if f <= ended)
            assert when >= ended + job_back_off(count) - 1, f"{name} again at {when}s; failure {count} at {ended}s"
        previous[name] = pod
