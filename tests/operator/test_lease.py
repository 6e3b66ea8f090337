"""The leader election's decisions (`berth.operator.lease`): who may take the Lease, and what they write."""

from __future__ import annotations

from datetime import datetime, timezone

from berth.operator import lease
from berth.operator.lease import Timing

NOW = datetime(2026, 12, 5, 4, 0, 0, 123456, tzinfo=timezone.utc)


def held_by(who: str, duration: int = 10, transitions: int = 3) -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "berth-operator", "namespace": "runai", "resourceVersion": "7"},
            "spec": {"holderIdentity": who, "leaseDurationSeconds": duration, "acquireTime": "2026-12-05T03:00:00.000000Z",
                     "renewTime": "2026-12-05T03:59:58.000000Z", "leaseTransitions": transitions}}


def test_a_lease_no_one_holds_or_that_i_hold_is_mine_to_write():
    assert lease.free(None, "a", 0)
    assert lease.free({"spec": {}}, "a", 0)
    assert lease.free(held_by("a"), "a", 0)


def test_another_holder_keeps_the_lease_until_its_record_has_stood_unchanged_for_its_duration():
    assert not lease.free(held_by("b", duration=10), "a", 9.9)
    assert not lease.free(held_by("b", duration=10), "a", 10.0)
    assert lease.free(held_by("b", duration=10), "a", 10.1)


def test_a_change_of_holder_renewal_or_transitions_is_a_new_record():
    first = held_by("b")
    renewed = held_by("b")
    renewed["spec"]["renewTime"] = "2026-12-05T04:00:00.000000Z"
    assert lease.record(first) != lease.record(renewed)
    assert lease.record(first) == lease.record(held_by("b"))


def test_taking_a_lease_counts_a_transition_and_stamps_the_acquire_time():
    taken = lease.claimed(held_by("b", transitions=3), "a", NOW, Timing(), "runai", "berth-operator")
    assert taken["spec"]["holderIdentity"] == "a"
    assert taken["spec"]["leaseTransitions"] == 4
    assert taken["spec"]["acquireTime"] == taken["spec"]["renewTime"] == "2026-12-05T04:00:00.123456Z"
    assert taken["metadata"]["resourceVersion"] == "7"  # replaced at the version read: a race is a 409


def test_renewing_keeps_the_acquire_time_and_the_transitions():
    renewed = lease.claimed(held_by("a", transitions=3), "a", NOW, Timing(), "runai", "berth-operator")
    assert renewed["spec"]["acquireTime"] == "2026-12-05T03:00:00.000000Z"
    assert renewed["spec"]["leaseTransitions"] == 3
    assert renewed["spec"]["renewTime"] == "2026-12-05T04:00:00.123456Z"


def test_the_first_lease_has_no_transition_and_says_its_duration():
    first = lease.claimed(None, "a", NOW, Timing(duration_s=15, renew_deadline_s=10), "runai", "berth-operator")
    assert first["metadata"] == {"name": "berth-operator", "namespace": "runai"}
    assert first["spec"]["leaseTransitions"] == 0 and first["spec"]["leaseDurationSeconds"] == 15


def test_a_released_lease_is_free_to_anyone_at_once():
    released = lease.released(held_by("a"), NOW)
    assert lease.holder(released) == ""
    assert lease.free(released, "b", 0)
    assert released["spec"]["leaseDurationSeconds"] == 1


def test_timings_that_could_let_two_replicas_act_are_refused_naming_the_option():
    assert Timing().problems() == []
    assert any("--lease-duration must be longer than --lease-renew-deadline" in p
               for p in Timing(duration_s=5, renew_deadline_s=7).problems())
    assert any("--lease-renew-deadline must be longer than --lease-retry" in p
               for p in Timing(renew_deadline_s=2, retry_s=2).problems())
