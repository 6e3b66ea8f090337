"""When a preempted workload ends instead of waiting again: the pure verdict of `berth.controllers.preemption`."""

from __future__ import annotations

from berth.controllers.preemption import ended


def workload(spec: dict, preemptions: int | None = None) -> dict:
    status = {} if preemptions is None else {"preemptions": preemptions}
    return {"kind": "TrainingWorkload", "metadata": {"name": "t"}, "spec": spec, "status": status}


MARKED = {"metadata": {"name": "t-0-0"}, "status": {"phase": "Running", "reason": "Preempted"}}
RUNNING = {"metadata": {"name": "t-0-0"}, "status": {"phase": "Running"}}


def test_a_workload_never_preempted_goes_on():
    assert ended(workload({"terminateAfterPreemption": {"value": True}, "preemptionLimit": {"value": 1}}),
                 [RUNNING]) is None


def test_terminate_after_preemption_ends_it_on_the_first_preemption():
    reason, message = ended(workload({"terminateAfterPreemption": {"value": True}}, 1), [])
    assert reason == "Preempted" and "terminateAfterPreemption" in message


def test_a_pod_marked_preempted_counts_before_its_count_arrives():
    assert ended(workload({"terminateAfterPreemption": {"value": True}}), [MARKED])[0] == "Preempted"


def test_without_either_setting_a_preempted_workload_waits_again():
    assert ended(workload({"terminateAfterPreemption": {"value": False}}, 5), [MARKED]) is None


def test_the_preemption_limit_ends_it_once_reached():
    spec = {"preemptionLimit": {"value": 2}}
    assert ended(workload(spec, 1), []) is None
    reason, message = ended(workload(spec, 2), [])
    assert reason == "PreemptionLimitReached" and message.startswith("preempted 2 times, which reaches its "
                                                                      "preemptionLimit (2)")
