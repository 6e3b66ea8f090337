"""Which policy applies (Run:ai notes, section 3.1: the project's, else the global one, no merging) and how
messages name it."""

from __future__ import annotations

from berth.policy import describe, select
from berth.policy.lookup import project_of, reference
from tests.policy.helpers import policy, run

GLOBAL = policy({"gpu": {"rules": {"max": "5"}, "value": "1"}}, name="global-limits", namespace="runai")
PROJECT = policy({"gpu": {"rules": {"max": "8"}, "value": "2"}}, name="team-a-limits")


def test_the_project_policy_wins_over_the_global_one_without_merging():
    assert select([PROJECT], [GLOBAL]) is PROJECT
    # No merge: the global max of 5 does not hold where the project allows 8.
    assert run({"gpu": {"value": "6"}}, select([PROJECT], [GLOBAL])).allowed


def test_the_global_policy_holds_where_the_project_has_none():
    assert select([], [GLOBAL]) is GLOBAL
    assert select([], []) is None


def test_a_policy_being_deleted_no_longer_applies():
    leaving = policy({}, name="leaving")
    leaving["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert select([leaving], [GLOBAL]) is GLOBAL
    assert select([leaving], []) is None


def test_of_two_policies_in_a_namespace_the_first_by_name_applies_every_time():
    b, a = policy({}, name="b"), policy({}, name="a")
    assert select([b, a], []) is a
    assert select([a, b], []) is a


def test_how_messages_name_a_policy():
    assert describe(PROJECT) == 'TrainingPolicy "team-a-limits" in project team-a'
    assert describe(GLOBAL) == 'TrainingPolicy "global-limits" in namespace runai (global)'
    assert describe(policy({}, kind="InferencePolicy", name="p", namespace="research")) == (
        'InferencePolicy "p" in project research')
    assert reference(GLOBAL) == "runai/global-limits"
    assert project_of("runai-team-a") == "team-a" and project_of("runai") == "runai"


def test_a_global_policys_message():
    assert [str(v) for v in run({"gpu": {"value": "6"}}, GLOBAL).violations] == [
        'spec.gpu: must be no greater than 5 (TrainingPolicy "global-limits" in namespace runai (global))']
