"""The workload phase machine: every transition it allows happens for its reason, and whatever the pods
do, the phases shown only move along its arrows (docs/controllers.md draws them)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.controllers.phase import ALLOWED, TERMINAL, advance, allowed, derive
from berth.controllers.plan import Plan

NOW = 1767225600.0


def workload(phase: str | None = None, deleting: bool = False) -> dict:
    meta = {"name": "w", "namespace": "ns", "generation": 1}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"kind": "TrainingWorkload", "metadata": meta, "spec": {}, "status": {"phase": phase} if phase else {}}


def pod(state: str, name: str = "w-0-0") -> dict:
    """A pod as the API shows it: pending (unplaced), placed, running, succeeded, failed."""
    spec = {} if state == "pending" else {"nodeName": "node-1"}
    phase = {"pending": "Pending", "placed": "Pending", "running": "Running", "succeeded": "Succeeded",
             "failed": "Failed"}[state]
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}


def crash_looping() -> dict:
    """A running pod whose container keeps failing and waits to be restarted."""
    running = pod("running")
    running["status"]["containerStatuses"] = [{"name": "main", "restartCount": 3, "state": {"waiting": {
        "reason": "CrashLoopBackOff"}}}]
    return running


def shown(old: str | None, pods: list[dict], plan: Plan | None = None, deleting: bool = False) -> str:
    return derive(workload(old, deleting), plan or Plan(), pods, None, now=NOW)["phase"]


# Each allowed transition, and a situation that makes it.
CASES = {
    ("Creating", "Pending"): ("Creating", [pod("pending")], None),
    ("Creating", "Initializing"): ("Creating", [pod("placed")], None),
    ("Creating", "Running"): ("Creating", [pod("running")], None),
    ("Pending", "Initializing"): ("Pending", [pod("placed")], None),
    ("Pending", "Running"): ("Pending", [pod("running")], None),
    ("Initializing", "Running"): ("Initializing", [pod("running")], None),
    ("Running", "Degraded"): ("Running", [pod("running"), pod("pending", "w-1-0")], Plan(desired_pods=2)),
    ("Creating", "Degraded"): ("Creating", [crash_looping()], None),
    ("Pending", "Degraded"): ("Pending", [crash_looping()], None),
    ("Initializing", "Degraded"): ("Initializing", [crash_looping()], None),
    ("Degraded", "Running"): ("Degraded", [pod("running"), pod("running", "w-1-0")], Plan(desired_pods=2)),
    ("Running", "Completed"): ("Running", [pod("succeeded")], Plan(phase="Completed", reason="Completed")),
    ("Running", "Failed"): ("Running", [pod("failed")], Plan(phase="Failed", reason="BackoffLimitExceeded")),
    ("Running", "TimedOut"): ("Running", [pod("running")], Plan(phase="TimedOut", reason="TimeLimitReached")),
    ("Pending", "Failed"): ("Pending", [], Plan(phase="Failed", reason="InvalidSpec")),
    ("Running", "Stopped"): ("Running", [pod("running")], Plan(phase="Stopped", reason="Suspended")),
    ("Pending", "Stopped"): ("Pending", [pod("pending")], Plan(phase="Stopped", reason="Suspended")),
    ("Stopped", "Initializing"): ("Stopped", [], None),
}


@pytest.mark.parametrize("old, new", sorted(CASES))
def test_each_transition_happens_for_its_reason(old, new):
    before, pods, plan = CASES[(old, new)]
    assert (old, new) in ALLOWED
    assert shown(before, pods, plan) == new


@pytest.mark.parametrize("old", ["Creating", "Pending", "Running", "Completed", "Failed", "Stopped"])
def test_any_phase_goes_to_deleting_and_deleting_is_final(old):
    assert shown(old, [pod("running")], deleting=True) == "Deleting"
    assert shown("Deleting", [pod("running")]) == "Deleting"


@pytest.mark.parametrize("old, pods, expected", [
    ("Running", [pod("placed")], "Degraded"),  # a pod finished and its successor starts: not Initializing again
    ("Running", [pod("pending")], "Degraded"),  # preempted and waiting: not Pending again
    ("Running", [], "Degraded"),  # between a pod and the next: not Creating again
    ("Initializing", [pod("pending")], "Initializing"),
    ("Pending", [], "Pending"),
    ("Completed", [pod("running")], "Completed"),
    ("Failed", [pod("running")], "Failed"),
])
def test_a_phase_never_moves_back(old, pods, expected):
    assert shown(old, pods) == expected


def test_a_gang_whose_pods_start_one_by_one_is_initializing_not_degraded():
    pods = [pod("running"), pod("placed", "w-1-0"), pod("placed", "w-2-0")]
    status = derive(workload("Pending"), Plan(desired_pods=3), pods, None, now=NOW)
    assert (status["phase"], status["message"]) == ("Initializing", "1 of 3 pods running")


def test_a_degraded_workload_says_how_many_pods_run_and_why_the_others_do_not():
    status = derive(workload("Running"), Plan(waiting=("BackOff", "pod w-0-0 failed; the next attempt starts in 9 s")),
                    [pod("failed")], None, now=NOW)
    assert (status["phase"], status["reason"]) == ("Degraded", "BackOff")
    assert status["message"] == "0 of 1 pods running: pod w-0-0 failed; the next attempt starts in 9 s"


def test_the_running_condition_is_true_only_while_a_pod_runs():
    """A training that ran and lost its only pod (preempted, waiting to be placed again) is Degraded, and its
    Running condition says it does not run; a Degraded workload with pods running still runs."""
    def condition(status: dict) -> str:
        return next(c["status"] for c in status["conditions"] if c["type"] == "Running")

    waiting = derive(workload("Running"), Plan(desired_pods=1), [pod("pending")], None, now=NOW)
    assert (waiting["phase"], condition(waiting)) == ("Degraded", "False")
    some = derive(workload("Running"), Plan(desired_pods=2), [pod("running"), pod("pending", "w-1-0")], None, now=NOW)
    assert (some["phase"], condition(some)) == ("Degraded", "True")


def test_an_ended_workload_keeps_its_words_when_suspended_afterwards():
    ended = workload("Completed")
    ended["status"].update(reason="Completed", message="the pod succeeded")
    status = derive(ended, Plan(phase="Stopped", reason="Suspended", message="suspended"), [], None, now=NOW)
    assert (status["phase"], status["reason"], status["message"]) == ("Completed", "Completed", "the pod succeeded")


states = st.sampled_from(["pending", "placed", "running", "succeeded", "failed"])
observations = st.lists(st.tuples(st.lists(states, max_size=3), st.integers(0, 3),
                                  st.sampled_from(["", "", "", "Completed", "Failed", "Stopped", "TimedOut"])),
                        min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(observations=observations, deleting_at=st.integers(0, 40))
def test_whatever_the_pods_do_phases_move_only_along_the_arrows(observations, deleting_at):
    phase: str | None = None
    for step, (states_now, desired, decided) in enumerate(observations):
        pods = [pod(s, f"w-{i}-0") for i, s in enumerate(states_now)]
        plan = Plan(desired_pods=desired, phase=decided, reason=decided)
        new = derive(workload(phase, deleting=step >= deleting_at), plan, pods, None, now=NOW)["phase"]
        assert allowed(phase, new), f"{phase} -> {new}"
        if phase in TERMINAL:
            assert new in (phase, "Deleting")
        phase = new


def test_advance_holds_or_degrades_instead_of_going_back():
    assert advance("Running", "Pending") == "Degraded"
    assert advance("Stopped", "Pending") == "Initializing"
    assert advance("Initializing", "Creating") == "Initializing"
    assert advance(None, "Pending") == "Pending"


def situation(old: str, new: str) -> tuple[list[dict], Plan | None, bool]:
    """Pods and a plan that make a workload in `old` show `new`."""
    if (old, new) in CASES:
        return CASES[(old, new)][1], CASES[(old, new)][2], False
    if new == "Deleting":
        return [pod("running")], None, True
    if new in (*TERMINAL, "Stopped"):  # decided by the plan, from wherever the workload is
        return [pod("running")], Plan(phase=new, reason=new), False
    raise AssertionError(f"no situation makes {old} -> {new}: add one to CASES")


@pytest.mark.parametrize("old, new", sorted(ALLOWED))
def test_every_allowed_transition_is_made_by_some_situation(old, new):
    pods, plan, deleting = situation(old, new)
    assert shown(old, pods, plan, deleting) == new
