"""The controller waits for its own creates and deletes to show in its caches before it plans again."""

from __future__ import annotations

from berth.controllers.expectations import Expectations

KEY = ("TrainingWorkload", "ns", "w")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_workload_waits_until_its_created_pods_are_seen():
    clock = Clock()
    expectations = Expectations(clock=clock, ttl=30)
    assert expectations.wait_left(KEY) == 0
    expectations.expect(KEY, creates=["w-0-0", "w-1-0"])
    assert expectations.wait_left(KEY) == 30
    expectations.observed(KEY, "w-0-0", exists=True)
    assert expectations.wait_left(KEY) > 0  # one still unseen
    expectations.observed(KEY, "w-1-0", exists=True)
    assert expectations.wait_left(KEY) == 0


def test_deletes_are_met_when_the_pod_is_gone_and_refusals_expect_nothing():
    expectations = Expectations(clock=Clock())
    expectations.expect(KEY, creates=["w-0-1"], deletes=["w-0-0"])
    expectations.observed(KEY, "w-0-0", exists=True)  # an update of a pod we deleted: not yet gone
    assert expectations.wait_left(KEY) > 0
    expectations.observed(KEY, "w-0-0", exists=False)
    expectations.failed(KEY, "w-0-1")  # AlreadyExists: no event will come for it
    assert expectations.wait_left(KEY) == 0


def test_an_expectation_never_met_expires():
    clock = Clock()
    expectations = Expectations(clock=clock, ttl=30)
    expectations.expect(KEY, creates=["lost"])
    clock.now += 31
    assert expectations.wait_left(KEY) == 0
    expectations.observed(KEY, "lost", exists=True)  # late news of a forgotten expectation is harmless
    assert expectations.wait_left(KEY) == 0
